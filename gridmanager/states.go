package gridmanager

// state is a job's place in the EC2 job state machine (htcondor-ec2.md §3.2-§3.6; names
// as HTCondor's GM_* states, plus stAttach, stParked and stGone).
type state uint8

const (
	stInit            state = iota // GM_INIT: wait for the resource's first ping, then recover from the ad
	stSaveClientToken              // GM_SAVE_CLIENT_TOKEN: commit token (and keypair name) durably
	stCreateKeyPair                // GM_CREATE_KEY_PAIR
	stReplaceKeyPair               // ours: destroy a keypair whose private key was lost, then create it again
	stStartVM                      // GM_START_VM: EC2_VM_START with the committed token
	stSaveInstanceID               // GM_SAVE_INSTANCE_ID: commit the instance id durably, 027
	stSubmitted                    // GM_SUBMITTED: wait for status passes
	stProbe                        // GM_PROBE_JOB: act on a changed remote status
	stAttach                       // tags, elastic IP, volumes once running (HTCondor's associate_n_attach, checked)
	stDoneSave                     // GM_DONE_SAVE: completion, on_exit policy
	stCancel                       // GM_CANCEL: EC2_VM_STOP
	stCancelCheck                  // GM_CANCEL_CHECK: wait for a pass to show it gone
	stClearRequest                 // GM_CLEAR_REQUEST: forget GridJobId so a release starts afresh
	stDelete                       // GM_DELETE: keypair, key file, 005/009, leave the queue
	stHold                         // GM_HOLD
	stSeekInstanceID               // GM_SEEK_INSTANCE_ID: find a possibly started instance
	stSpotStart                    // GM_SPOT_START
	stSpotSubmitted                // GM_SPOT_SUBMITTED
	stSpotQuery                    // GM_SPOT_QUERY
	stSpotCheck                    // GM_SPOT_CHECK: find a possibly made spot request
	stSpotCancel                   // GM_SPOT_CANCEL
	stSpotCancelCheck              // GM_SPOT_CANCEL_CHECK
	stParked                       // held, nothing remote to watch: wait for release or remove
	stGone                         // left the queue; the manager forgets the job
	numStates
)

var stateNames = [numStates]string{
	"init", "save-client-token", "create-keypair", "replace-keypair", "start-vm", "save-instance-id",
	"submitted", "probe", "attach", "done-save", "cancel", "cancel-check", "clear-request",
	"delete", "hold", "seek-instance-id", "spot-start", "spot-submitted", "spot-query",
	"spot-check", "spot-cancel", "spot-cancel-check", "parked", "gone",
}

func (s state) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "state(?)"
}

// stateFunc runs one state. It returns the next state; returning its own state means
// "wait": the job is stepped again on its op's result, a status pass, a queue event or
// its wake time.
type stateFunc func(m *Manager, j *job) state

// stateFuncs is set in init to break the reference cycle through the state functions.
var stateFuncs [numStates]stateFunc

func init() {
	stateFuncs = [numStates]stateFunc{
		stInit: stateInit, stSaveClientToken: stateSaveClientToken,
		stCreateKeyPair: stateCreateKeyPair, stReplaceKeyPair: stateReplaceKeyPair,
		stStartVM: stateStartVM, stSaveInstanceID: stateSaveInstanceID, stSubmitted: stateSubmitted,
		stProbe: stateProbe, stAttach: stateAttach, stDoneSave: stateDoneSave,
		stCancel: stateCancel, stCancelCheck: stateCancelCheck,
		stClearRequest: stateClearRequest, stDelete: stateDelete, stHold: stateHold,
		stSeekInstanceID: stateSeekInstanceID, stSpotStart: stateSpotStart,
		stSpotSubmitted: stateSpotSubmitted, stSpotQuery: stateSpotQuery,
		stSpotCheck: stateSpotCheck, stSpotCancel: stateSpotCancel,
		stSpotCancelCheck: stateSpotCancelCheck, stParked: stateParked, stGone: stateGone,
	}
}

// leaveStates are where a job may go when it has to let go of whatever it has at the
// cloud (afterGone, abandon, postCancel).
var leaveStates = []state{stCancel, stSpotCancel, stSeekInstanceID, stSpotCheck, stClearRequest, stDelete, stDoneSave}

// transitions lists every allowed move. step checks each move against it, and the tests
// walk it. stHold is reachable from every state (a hold may come from anywhere).
var transitions = map[state][]state{
	stInit:            {stHold, stDelete, stParked, stSaveClientToken, stCreateKeyPair, stSubmitted, stSpotSubmitted, stSpotCheck, stSeekInstanceID, stStartVM, stClearRequest, stCancel, stSpotCancel},
	stSaveClientToken: {stHold, stCreateKeyPair, stStartVM, stSpotStart, stDelete, stClearRequest},
	stCreateKeyPair:   {stHold, stStartVM, stSpotStart, stDelete, stClearRequest, stSeekInstanceID, stSpotCheck, stReplaceKeyPair},
	stReplaceKeyPair:  {stHold, stCreateKeyPair, stDelete, stClearRequest},
	stStartVM:         {stHold, stSaveInstanceID, stSeekInstanceID, stDelete, stClearRequest},
	stSaveInstanceID:  {stHold, stSubmitted},
	stSubmitted:       {stHold, stProbe, stCancel},
	stProbe:           {stHold, stSubmitted, stAttach, stDoneSave, stCancel},
	stAttach:          {stHold, stSubmitted, stCancel},
	stDoneSave:        {stHold, stDelete, stClearRequest, stCancel},
	stCancel:          {stHold, stCancelCheck, stDoneSave, stDelete, stClearRequest},
	stCancelCheck:     {stHold, stCancel, stDoneSave, stDelete, stClearRequest},
	stClearRequest:    {stHold, stDelete, stCancel},
	stDelete:          {stHold, stGone, stParked, stInit},
	stHold:            append([]state{stParked}, leaveStates...),
	stSeekInstanceID:  {stHold, stSaveInstanceID, stCreateKeyPair, stStartVM, stDelete, stClearRequest},
	stSpotStart:       {stHold, stSpotSubmitted, stSpotCheck, stDelete, stClearRequest},
	stSpotSubmitted:   {stHold, stSpotQuery, stSpotCancel},
	stSpotQuery:       {stHold, stSpotSubmitted, stSaveInstanceID},
	stSpotCheck:       {stHold, stSpotSubmitted, stCreateKeyPair, stSpotStart, stDelete, stClearRequest},
	stSpotCancel:      {stHold, stSpotCancelCheck},
	stSpotCancelCheck: {stHold, stSpotCancel, stSaveInstanceID, stDelete, stClearRequest},
	stParked:          {stHold, stInit, stDelete, stCancel, stSpotCancel, stSeekInstanceID, stSpotCheck, stClearRequest, stDoneSave},
	stGone:            {},
}

// allowed reports whether from → to is in the table.
func allowed(from, to state) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}
