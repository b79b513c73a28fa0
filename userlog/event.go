package userlog

import "time"

// Event numbers of the events this package knows by type. Every other number is read and
// written as a GenericEvent. The numbers are HTCondor's ULogEventNumber values.
const (
	EventSubmit              = 0  // ULOG_SUBMIT, written by condor_submit / the schedd
	EventExecute             = 1  // ULOG_EXECUTE
	EventEvicted             = 4  // ULOG_JOB_EVICTED
	EventTerminated          = 5  // ULOG_JOB_TERMINATED
	EventAborted             = 9  // ULOG_JOB_ABORTED (condor_rm)
	EventHeld                = 12 // ULOG_JOB_HELD
	EventReleased            = 13 // ULOG_JOB_RELEASED
	EventGridResourceUp      = 25 // ULOG_GRID_RESOURCE_UP
	EventGridResourceDown    = 26 // ULOG_GRID_RESOURCE_DOWN
	EventGridSubmit          = 27 // ULOG_GRID_SUBMIT
	EventRemoteStatusUnknown = 29 // ULOG_JOB_STATUS_UNKNOWN
	EventRemoteStatusKnown   = 30 // ULOG_JOB_STATUS_KNOWN
)

// MaxEventNumber is the largest event number the text format can carry: the header prints
// it as exactly three digits, and HTCondor's reader rejects any other width.
const MaxEventNumber = 999

// Header is what every event's first line carries: the job id and the event time.
//
// The text log keeps whole seconds (milliseconds with FormatOptions.SubSecond), so a Time
// with a finer fraction does not come back equal from a Reader.
type Header struct {
	Cluster, Proc, Subproc int
	Time                   time.Time
}

// EventHeader returns the header; every event type embeds Header and so has this method.
func (h Header) EventHeader() Header { return h }

// Event is one user log event. The concrete types are the structs of this package (the
// Reader returns pointers to them); the unexported method keeps the set closed, and
// GenericEvent stands for every event number without a type of its own.
type Event interface {
	EventNumber() int
	EventHeader() Header
	// appendBody appends the event text that follows the header, up to (not including)
	// the "..." line.
	appendBody(b []byte) []byte
	// jsonFields adds the event's own attributes to its JSON form.
	jsonFields(o *jsonObject)
}

// SubmitEvent (000) records a job's submission.
type SubmitEvent struct {
	Header
	SubmitHost string // the schedd's sinful string, e.g. <127.0.0.1:36163?addrs=...>
	// LogNotes and UserNotes are the optional indented lines after the first. HTCondor
	// writes UserNotes only as the second line, so it is kept only when LogNotes is set.
	LogNotes, UserNotes string
	// Warnings is the text of the optional "WARNING: Committed job submission into the
	// queue with the following warning(s): " line.
	Warnings string
}

// ExecuteEvent (001) records that a job began running. For grid jobs the host is the
// job's GridResource string, e.g. "ec2 https://ec2.us-east-1.amazonaws.com/".
type ExecuteEvent struct {
	Header
	ExecuteHost string
	SlotName    string // optional "\tSlotName: " line
}

// CPUUsage is one of HTCondor's rusage lines ("Usr 0 00:00:00, Sys 0 00:00:00"), in
// whole seconds.
type CPUUsage struct {
	User, Sys time.Duration
}

// Resource is one row of the "Partitionable Resources" table that ends 004 and 005
// events. The cells are kept as the text HTCondor prints (ClassAd values: integers, reals
// with two decimals, ...), so any log reads back byte for byte; an empty cell is a value
// the job ad did not have. FormatQuantity turns a number into a cell.
type Resource struct {
	Name      string // Cpus, Disk, Memory, Gpus, ...
	Usage     string // <Name>Usage: peak (or average) use
	Request   string // Request<Name>
	Allocated string // <Name> as provisioned by the slot
	Assigned  string // Assigned<Name>, for non-fungible resources such as GPUs
}

// EvictedEvent (004) records that a job left its execute host without finishing. The
// gridmanager writes it when a held or reset EC2 job had been submitted.
type EvictedEvent struct {
	Header
	ReasonCode, ReasonSubCode int // printed on the first line when ReasonCode != 0
	Checkpointed              bool
	TerminatedAndRequeued     bool
	// TerminatedNormally, ReturnValue, TerminatedBySignal and CoreFile are written only
	// when TerminatedAndRequeued is set.
	TerminatedNormally            bool
	ReturnValue                   int
	TerminatedBySignal            int
	CoreFile                      string
	RunRemoteUsage, RunLocalUsage CPUUsage
	SentBytes, ReceivedBytes      int64
	Reason                        string
	Resources                     []Resource
}

// TerminatedEvent (005) records that a job finished. The full usage body is always written,
// as HTCondor does, and the Partitionable Resources table when Resources is not empty.
type TerminatedEvent struct {
	Header
	TerminatedNormally bool
	ReturnValue        int    // exit code when TerminatedNormally
	TerminatedBySignal int    // signal number otherwise
	CoreFile           string // only for abnormal termination; "" means no core file
	RunRemoteUsage     CPUUsage
	RunLocalUsage      CPUUsage
	TotalRemoteUsage   CPUUsage
	TotalLocalUsage    CPUUsage
	SentBytes          int64 // Run Bytes Sent By Job
	ReceivedBytes      int64 // Run Bytes Received By Job
	TotalSentBytes     int64
	TotalReceivedBytes int64
	Resources          []Resource
}

// AbortedEvent (009) records that a job was removed, e.g. "via condor_rm (by user alice)".
type AbortedEvent struct {
	Header
	Reason string
}

// HeldEvent (012) records that a job was held, with HTCondor's HoldReasonCode and
// HoldReasonSubCode. An empty Reason is written as "Reason unspecified" and reads back empty.
type HeldEvent struct {
	Header
	Reason        string
	Code, Subcode int
}

// ReleasedEvent (013) records condor_release.
type ReleasedEvent struct {
	Header
	Reason string
}

// GridResourceUpEvent (025) records that a grid resource answers again. An empty
// GridResource is written as HTCondor writes it, "UNKNOWN".
type GridResourceUpEvent struct {
	Header
	GridResource string
}

// GridResourceDownEvent (026) records that a grid resource stopped answering.
type GridResourceDownEvent struct {
	Header
	GridResource string
}

// GridSubmitEvent (027) records that the grid manager started the job on the resource:
// for EC2, after RunInstances succeeded, with the instance id in GridJobID. Empty fields
// are written as "UNKNOWN", as HTCondor does.
type GridSubmitEvent struct {
	Header
	GridResource string // e.g. "ec2 https://ec2.us-east-1.amazonaws.com/"
	GridJobID    string // e.g. "ec2 https://ec2.../ <client token> i-0123456789abcdef0"
}

// RemoteStatusUnknownEvent (029) records that the grid manager lost track of the job's
// remote status (the resource stopped answering probes).
type RemoteStatusUnknownEvent struct{ Header }

// RemoteStatusKnownEvent (030) records that the remote status is known again.
type RemoteStatusKnownEvent struct{ Header }

// GenericEvent is any event number without a type of its own. Lines holds the event's
// text verbatim: Lines[0] is the rest of the header line, the others are the body lines up
// to the "..." line, without their line ends.
type GenericEvent struct {
	Header
	Number int
	Lines  []string
}

func (SubmitEvent) EventNumber() int              { return EventSubmit }
func (ExecuteEvent) EventNumber() int             { return EventExecute }
func (EvictedEvent) EventNumber() int             { return EventEvicted }
func (TerminatedEvent) EventNumber() int          { return EventTerminated }
func (AbortedEvent) EventNumber() int             { return EventAborted }
func (HeldEvent) EventNumber() int                { return EventHeld }
func (ReleasedEvent) EventNumber() int            { return EventReleased }
func (GridResourceUpEvent) EventNumber() int      { return EventGridResourceUp }
func (GridResourceDownEvent) EventNumber() int    { return EventGridResourceDown }
func (GridSubmitEvent) EventNumber() int          { return EventGridSubmit }
func (RemoteStatusUnknownEvent) EventNumber() int { return EventRemoteStatusUnknown }
func (RemoteStatusKnownEvent) EventNumber() int   { return EventRemoteStatusKnown }
func (e GenericEvent) EventNumber() int           { return e.Number }

// typed reports whether an event number has a struct of its own in this package.
func typed(n int) bool {
	switch n {
	case EventSubmit, EventExecute, EventEvicted, EventTerminated, EventAborted, EventHeld,
		EventReleased, EventGridResourceUp, EventGridResourceDown, EventGridSubmit,
		EventRemoteStatusUnknown, EventRemoteStatusKnown:
		return true
	}
	return false
}

// myTypeName is the MyType HTCondor gives an event in its ClassAd (and JSON) form
// (ULogEvent::toClassAd). HTCondor has no case for 029 and 030 there, so they, like every
// number it does not know, are "FutureEvent".
func myTypeName(n int) string {
	switch n {
	case 0:
		return "SubmitEvent"
	case 1:
		return "ExecuteEvent"
	case 2:
		return "ExecutableErrorEvent"
	case 3:
		return "CheckpointedEvent"
	case 4:
		return "JobEvictedEvent"
	case 5:
		return "JobTerminatedEvent"
	case 6:
		return "JobImageSizeEvent"
	case 7:
		return "ShadowExceptionEvent"
	case 8:
		return "GenericEvent"
	case 9:
		return "JobAbortedEvent"
	case 10:
		return "JobSuspendedEvent"
	case 11:
		return "JobUnsuspendedEvent"
	case 12:
		return "JobHeldEvent"
	case 13:
		return "JobReleaseEvent" // sic, as HTCondor spells it
	case 14:
		return "NodeExecuteEvent"
	case 15:
		return "NodeTerminatedEvent"
	case 16:
		return "PostScriptTerminatedEvent"
	case 21:
		return "RemoteErrorEvent"
	case 22:
		return "JobDisconnectedEvent"
	case 23:
		return "JobReconnectedEvent"
	case 24:
		return "JobReconnectFailedEvent"
	case 25:
		return "GridResourceUpEvent"
	case 26:
		return "GridResourceDownEvent"
	case 27:
		return "GridSubmitEvent"
	case 28:
		return "JobAdInformationEvent"
	case 33:
		return "AttributeUpdateEvent"
	case 35:
		return "ClusterSubmitEvent"
	case 36:
		return "ClusterRemoveEvent"
	case 37:
		return "FactoryPausedEvent"
	case 38:
		return "FactoryResumedEvent"
	case 40:
		return "FileTransferEvent"
	case 41:
		return "ReserveSpaceEvent"
	case 42:
		return "ReleaseSpaceEvent"
	case 43:
		return "FileCompleteEvent"
	case 44:
		return "FileUsedEvent"
	case 45:
		return "FileRemovedEvent"
	case 46:
		return "DataflowJobSkippedEvent"
	case 47:
		return "CommonFilesEvent"
	}
	return "FutureEvent"
}
