package gridmanager

import (
	"context"
	"errors"
	"io/fs"
	"strings"

	"go.uber.org/zap"

	"github.com/google/uuid"

	"github.com/ec2grid/ec2grid/gridmanager/resource"
	"github.com/ec2grid/ec2grid/jobs"
)

// holdWith records the hold and moves the job to stHold.
func holdWith(j *job, h hold) state {
	j.ext().hold = &h
	return stHold
}

// canCall says whether commands may go to the job's resource: HTCondor sends none while
// the resource is unknown or down (results_only mode, §3.1).
func (m *Manager) canCall(j *job) bool {
	h := j.rs.health
	return h.Up && !h.Since.IsZero()
}

// waiting reports whether the job's wake time is still ahead (and arms it).
func (m *Manager) waiting(j *job) bool {
	if j.wakeAt.IsZero() || !m.now().Before(j.wakeAt) {
		j.wakeAt = timeZero
		return false
	}
	m.wake(j, j.wakeAt)
	return true
}

// retryLater makes the job wait RetryDelay before its state runs again.
func (m *Manager) retryLater(j *job, s state) state {
	j.wakeAt = m.now().Add(m.opts.RetryDelay)
	m.wake(j, j.wakeAt)
	return s
}

// recoverState picks where a job starts from its ad alone (§3.3 and issue 7's rules).
func (m *Manager) recoverState(j *job) state {
	switch {
	case j.status == jobs.StatusCompleted:
		return stDelete // completion was committed; 005 and the move to history remain
	case j.instanceID != "" && j.remote.state == remoteCancelling && j.status == jobs.StatusIdle:
		// A hold's cancel was under way when a release put the job back (a completion's
		// cancel leaves it running): the instance was stopped for the hold, not ended by
		// the job, so finish the stop and forget the request; the job starts again. As a
		// running instance it would be taken, once terminated, for the job's end.
		return stCancel
	case j.instanceID != "":
		return stSubmitted // probe it; a removed or held job cancels from there
	case j.spotReqID != "":
		return stSpotSubmitted
	case j.token == "":
		if j.gone() {
			return m.abandon(j)
		}
		return stSaveClientToken
	}
	// A token but no id: a start may have been sent.
	j.maybeStarted = true
	switch {
	case j.spot:
		return stSpotCheck
	case j.gone() || !clientTokenWorks(j.tokenServerType()):
		return stSeekInstanceID
	case j.ownKey:
		// The keypair may not exist: the crash may have come before its creation, or
		// after a hold's cleanup destroyed it and a release committed a new token.
		// Creating it again is idempotent (an existing keypair is success).
		return stCreateKeyPair
	}
	return stStartVM // the same token makes the start idempotent
}

// afterGone is where a removed or held job goes to let go of its cloud resources.
func (m *Manager) afterGone(j *job) state {
	switch {
	case j.instanceID != "":
		return stCancel
	case j.spotReqID != "":
		return stSpotCancel
	case j.maybeStarted && j.token != "":
		if j.spot {
			return stSpotCheck
		}
		return stSeekInstanceID
	}
	return m.abandon(j)
}

// abandon: nothing runs at the cloud; forget the request (unless the job leaves the queue
// anyway) and clean up.
func (m *Manager) abandon(j *job) state {
	if j.status == jobs.StatusRemoved || j.status == jobs.StatusCompleted {
		return stDelete
	}
	return stClearRequest
}

// postCancel: the instance is gone.
func (m *Manager) postCancel(j *job) state {
	if j.completion {
		return stDoneSave
	}
	return m.abandon(j)
}

func stateInit(m *Manager, j *job) state {
	if j.setupErr != nil {
		if j.status == jobs.StatusRemoved {
			return stDelete
		}
		return holdWith(j, *j.setupErr)
	}
	if j.gone() && j.token == "" && j.instanceID == "" && j.spotReqID == "" {
		return m.abandon(j) // nothing at the cloud: no need to wait for it
	}
	if j.rs.health.Since.IsZero() {
		return stInit // the first ping decides
	}
	if af := j.rs.health.AuthFailure; af != "" && !j.gone() {
		return holdWith(j, holdAuth(af))
	}
	return m.recoverState(j)
}

func stateSaveClientToken(m *Manager, j *job) state {
	if r := j.take(); r != nil {
		if r.err != nil {
			m.log.Warn("commit client token", zapJob(j), errField(r.err))
			return m.retryLater(j, stSaveClientToken)
		}
		return m.firstStart(j)
	}
	if j.gone() {
		return m.abandon(j)
	}
	st := j.rs.health.ServerType
	if j.rs.health.Since.IsZero() || st == "" {
		return stSaveClientToken
	}
	needKey := j.keyFile != "" || !clientTokenWorks(st)
	if needKey && j.keyPair != "" && !j.ownKey {
		return holdWith(j, holdKeypairType(st))
	}
	token := uuid.NewString()
	changes := []jobs.Change{
		jobs.SetString(jobs.AttrGridJobID, GridJobID{URL: j.rs.key.URL, Token: token}.String()),
		jobs.SetString(attrServerType, st),
	}
	name := j.keyPair
	if needKey && name == "" {
		ad, err := m.store.Get(m.ctx, j.id)
		if err != nil {
			return m.retryLater(j, stSaveClientToken)
		}
		name = m.keyPairName(ad)
		changes = append(changes, jobs.SetString(attrKeyPair, name))
	}
	m.launch(j, m.ops, func(ctx context.Context) *result {
		err := m.store.Update(ctx, j.id, changes, jobs.Durable)
		if err == nil {
			m.opts.Crash("after-token-commit")
		}
		return &result{err: err, apply: func(j *job) {
			if err == nil {
				j.token, j.serverType, j.keyPair = token, st, name
				j.ownKey = j.ownKey || needKey
			}
		}}
	})
	return stSaveClientToken
}

// firstStart is where a job goes once its token is committed.
func (m *Manager) firstStart(j *job) state {
	switch {
	case j.ownKey:
		return stCreateKeyPair
	case j.spot:
		return stSpotStart
	}
	return stStartVM
}

// keyPairExists reports a create's answer saying the keypair is already there (HTCondor's
// three spellings, §3.3).
func keyPairExists(text string) bool {
	return strings.Contains(text, "KeyPairExists") || strings.Contains(text, "Keypair already exists") || strings.Contains(text, "InvalidKeyPair.Duplicate")
}

func stateCreateKeyPair(m *Manager, j *job) state {
	if r := j.take(); r != nil {
		switch {
		case r.keyLost:
			// Made by an earlier create whose gahp died before the key file was in place
			// (or whose file write failed): its private key is gone for good.
			j.tries = 0
			j.ext().keyErr = r.errorString()
			if j.maybeStarted {
				// A restart on a cloud honouring ClientToken comes here without a seek,
				// and a start may have gone out before the crash: it went only after a
				// create answered success, so with the file in place, and the file has
				// since gone (removed by hand, a /tmp cleared at boot). An instance it
				// made holds the old key, and replacing the keypair would leave a key file
				// that opens nothing: seek it first. Not found over the consistency
				// window, maybeStarted is cleared and the create comes back here.
				m.log.Warn("keypair exists but its key file is missing; seeking a possibly started instance before replacing it", zapJob(j), zap.String("keypair", j.keyPair), zap.String("file", j.keyFile))
				if j.spot {
					return stSpotCheck
				}
				return stSeekInstanceID
			}
			m.log.Warn("keypair exists but its key file is missing: its private key was lost; replacing the keypair", zapJob(j), zap.String("keypair", j.keyPair), zap.String("file", j.keyFile))
			if j.x != nil && j.x.keyReplaced > 0 {
				// The last replacement's create found it again: give a cloud slow to
				// forget the destroyed name time before the next.
				return m.retryLater(j, stReplaceKeyPair)
			}
			return stReplaceKeyPair
		case r.ok() || keyPairExists(r.failureText()):
			j.tries = 0
			if j.x != nil {
				j.x.keyReplaced, j.x.keyErr = 0, ""
			}
			if j.spot {
				return stSpotStart
			}
			return stStartVM
		case (r.code() == "NEED_CHECK_SSHKEY" || r.err != nil) && j.tries < maxKeypairTries:
			return m.retryLater(j, stCreateKeyPair)
		}
		j.tries = 0
		return holdWith(j, holdKeypairCreate(r.errorString()))
	}
	if j.gone() {
		if j.maybeStarted {
			return m.afterGone(j)
		}
		return m.abandon(j)
	}
	if m.waiting(j) || !m.canCall(j) {
		return stCreateKeyPair
	}
	j.tries++
	j.keyMaybeCreated = true
	m.launch(j, m.ops, m.createKeyPairOp(j))
	return stCreateKeyPair
}

// createKeyPairOp sends EC2_VM_CREATE_KEYPAIR and, when the answer says the keypair
// exists, looks for the job's key file (in the op: a stat may block on a network file
// system, the loop must not).
func (m *Manager) createKeyPairOp(j *job) func(ctx context.Context) *result {
	cloud, name, keyFile, stat := j.rs.cloud, j.keyPair, j.keyFile, m.opts.StatKeyFile
	file := keyFile
	if file == "" {
		file = "/dev/null" // the key is discarded: nothing to lose
	}
	id := j.id
	return func(ctx context.Context) *result {
		f, err := cloud.Call(ctx, resource.Medium, "EC2_VM_CREATE_KEYPAIR", name, file)
		r := &result{fields: f, err: err}
		if err != nil || r.ok() || keyFile == "" || !keyPairExists(r.failureText()) {
			return r
		}
		switch _, serr := stat(keyFile); {
		case errors.Is(serr, fs.ErrNotExist):
			r.keyLost = true
		case serr != nil:
			// Cannot tell: the file may hold the key, and a replacement would write over
			// it. Go on as before (an existing keypair is success).
			m.log.Warn("keypair exists; cannot check its key file", zap.Stringer("job", id), zap.String("file", keyFile), zap.Error(serr))
		}
		return r
	}
}

// stateReplaceKeyPair (ours, not HTCondor's) destroys a keypair whose private key was
// lost, then goes back to stCreateKeyPair, whose create makes fresh key material and
// writes the key file. EC2_VM_CREATE_KEYPAIR writes the file before it answers, but a gahp
// killed between the cloud's CreateKeyPair and the file's rename leaves the keypair made
// and no file; the create sent again (by the resource after the gahp's restart, or by a
// restarted daemon's recovery) is answered "duplicate", which HTCondor takes for success:
// the job ran, and the user could never log in. No instance holds the lost key: a start
// goes out only after a create answered success, which comes only with the file in place,
// and a job that may have started is sought first (see stateCreateKeyPair). An existing
// key file is never touched. Bounded: after maxKeypairReplacements in a row the job is
// held 40/11.
func stateReplaceKeyPair(m *Manager, j *job) state {
	if r := j.take(); r != nil {
		if r.ok() || strings.Contains(r.failureText(), "InvalidKeyPair.NotFound") {
			return stCreateKeyPair // destroyed (or already gone)
		}
		j.ext().keyErr = r.errorString()
		m.log.Warn("destroy keypair to replace it", zapJob(j), zap.String("keypair", j.keyPair), zap.Strings("result", r.fields), errField(r.err))
		return m.retryLater(j, stReplaceKeyPair)
	}
	if j.gone() {
		return m.abandon(j) // stDelete destroys the keypair (keyMaybeCreated)
	}
	if m.waiting(j) || !m.canCall(j) {
		return stReplaceKeyPair
	}
	x := j.ext()
	if x.keyReplaced >= maxKeypairReplacements {
		last := x.keyErr
		x.keyReplaced, x.keyErr = 0, ""
		return holdWith(j, holdKeypairReplace(j.keyPair, j.keyFile, last))
	}
	x.keyReplaced++
	m.launch(j, m.ops, m.callOp(j.rs.cloud, resource.Medium, "EC2_VM_DESTROY_KEYPAIR", j.keyPair))
	return stReplaceKeyPair
}

func stateStartVM(m *Manager, j *job) state {
	if r := j.take(); r != nil && !r.cancelled() {
		return m.startResult(j, r) // a cancelled slot wait falls through: the job left
	}
	if j.instanceID != "" {
		return stSaveInstanceID // a pass found the instance a lost start made
	}
	if j.gone() {
		m.releaseSlot(j)
		if j.maybeStarted {
			return stSeekInstanceID
		}
		return m.abandon(j)
	}
	if m.waiting(j) || !m.canCall(j) {
		return stStartVM
	}
	m.launchStart(j)
	return stStartVM
}

// codeDeadline is ec2_gahp's code for a call whose retries would pass its deadline.
const codeDeadline = "E_DEADLINE_WOULD_BE_EXCEEDED"

// startResult handles EC2_VM_START's answer.
func (m *Manager) startResult(j *job, r *result) state {
	switch {
	case r.ok() && len(r.fields) >= 2:
		j.instanceID = r.fields[1]
		j.startedAt, j.lastSeen = m.now(), m.now()
		j.starts = 0
		m.stats.starts.Add(1)
		return stSaveInstanceID
	case r.lost():
		j.maybeStarted = true
		j.starts++
		if j.starts >= maxStartTries {
			m.releaseSlot(j)
			return holdWith(j, holdStartUnconfirmed(r.errorString()))
		}
		// Look for it (by token, or keypair name where tokens are ignored) in the early
		// pass; a start goes out again only once passes over the consistency window
		// have not shown it (with the same token, where that makes it idempotent).
		return stSeekInstanceID
	case r.err != nil:
		// No answer, and the resource says the start was never sent (a lost one is
		// ErrLost): safe to try again.
		m.log.Warn("start instance", zapJob(j), errField(r.err))
		m.releaseSlot(j)
		return m.retryLater(j, stStartVM)
	case strings.Contains(r.failureText(), "InstanceLimitExceeded"):
		m.releaseSlot(j) // HTCondor's dead branch (§10.4), alive here
		return m.retryLater(j, stStartVM)
	case r.code() == codeDeadline:
		// The gahp ran out of time retrying (a throttled cloud: AWS's RunInstances
		// bucket under a burst). It retries only what cannot make a second instance, but
		// an earlier attempt may have acted, so this is a lost start: seek, then start
		// again. Not counted toward the unconfirmed-start hold: the cloud answered, it
		// only said "slower" (HTCondor held these 40/12).
		j.maybeStarted = true
		return stSeekInstanceID
	}
	m.releaseSlot(j)
	return holdWith(j, holdStart(r.errorString()))
}

func stateSaveInstanceID(m *Manager, j *job) state {
	if r := j.take(); r != nil {
		if r.err != nil {
			m.log.Warn("commit instance id", zapJob(j), errField(r.err))
			return m.retryLater(j, stSaveInstanceID)
		}
		j.submitLogged = true
		j.rs.cloud.ProbeSoon()
		return stSubmitted
	}
	if m.waiting(j) {
		return stSaveInstanceID
	}
	m.rememberInstance(j)
	gid := j.gridJobID().String()
	changes := []jobs.Change{
		jobs.SetString(jobs.AttrGridJobID, gid),
		jobs.SetString(attrInstanceName, j.instanceID),
		jobs.Unset(attrSpotRequestID),
	}
	if j.remote.state == "" || j.spotReqID != "" {
		j.remote.state = "pending"
		changes = append(changes, jobs.SetString(attrGridJobStatus, "pending"))
	}
	j.spotReqID = ""
	first := !j.submitLogged
	m.launch(j, m.ops, func(ctx context.Context) *result {
		err := m.store.Update(ctx, j.id, changes, jobs.Durable)
		if err == nil && first {
			m.writeLog(ctx, j.id, logGridSubmit)
		}
		return &result{err: err}
	})
	return stSaveInstanceID
}

func stateSubmitted(m *Manager, j *job) state {
	if j.gone() {
		return stCancel
	}
	if j.changed {
		return stProbe
	}
	return stSubmitted
}
