package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/jobs"
)

// target is one job an act or edit will touch, or an explicit id's refusal.
type target struct {
	id     jobs.JobID
	label  string // the id as reported: "C.P", or the request's "C" for a refusal
	result string // "" = to act on; else StatusNotFound or StatusForbidden
	err    string
}

// selectTargets expands explicit ids and a selector constraint to jobs. An explicit id
// of a job the caller may not touch is reported forbidden; jobs a selector matches that
// the caller may not touch are skipped silently, as HTCondor's tools act only on jobs
// they may touch. Each job appears once, explicit ids first, then by id.
func (s *Server) selectTargets(ctx context.Context, peer Peer, ids []string, selector classad.Expr, verb string) ([]target, error) {
	var out []target
	seen := map[jobs.JobID]bool{}
	add := func(ad *classad.ClassAd, explicit bool) {
		id := jobs.ID(ad)
		if seen[id] {
			return
		}
		seen[id] = true
		switch {
		case s.mayTouch(peer, jobs.Owner(ad)):
			out = append(out, target{id: id, label: id.String()})
		case explicit:
			out = append(out, target{id: id, label: id.String(), result: StatusForbidden,
				err: fmt.Sprintf("Permission denied to %s job %s", verb, id)})
		}
	}
	for _, text := range ids {
		c, p, err := parseJobID(text)
		if err != nil {
			return nil, err
		}
		if p >= 0 {
			ad, err := s.cfg.Store.Get(ctx, jobs.JobID{Cluster: c, Proc: p})
			if errors.Is(err, jobs.ErrNotFound) {
				out = append(out, target{label: text, result: StatusNotFound, err: fmt.Sprintf("Job %s not found", text)})
				continue
			}
			if err != nil {
				return nil, err
			}
			add(ad, true)
			continue
		}
		ads, err := s.cfg.Store.QueryShared(ctx, classad.MustParseExpr(fmt.Sprintf("ClusterId == %d", c)))
		if err != nil {
			return nil, err
		}
		if len(ads) == 0 {
			out = append(out, target{label: text, result: StatusNotFound, err: fmt.Sprintf("Cluster %s not found", text)})
		}
		for _, ad := range ads {
			add(ad, true)
		}
	}
	if selector != nil {
		ads, err := s.cfg.Store.QueryShared(ctx, selector)
		if err != nil {
			return nil, err
		}
		for _, ad := range ads {
			add(ad, false)
		}
	}
	return out, nil
}

// actVerbs are the verbs of HTCondor's "Permission denied to <verb> job" messages and
// the tools of the default reasons.
func actVerb(action string) (verb, tool string) {
	switch action {
	case ActionHold:
		return "hold", "condor_hold"
	case ActionRelease:
		return "release", "condor_release"
	default:
		return "remove", "condor_rm"
	}
}

func (s *Server) act(w http.ResponseWriter, r *http.Request, peer Peer) {
	var req ActRequest
	if !decode(w, r, PathAct, MaxRequestBody, &req) {
		return
	}
	switch req.Action {
	case ActionHold, ActionRelease, ActionRemove, ActionRemoveX:
	default:
		writeError(w, http.StatusBadRequest, CodeBadRequest,
			fmt.Sprintf("act: unknown action %q (want hold, release, remove or removex)", req.Action), 0)
		return
	}
	if len(req.IDs) == 0 && len(req.Users) == 0 && strings.TrimSpace(req.Constraint) == "" && !req.All {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "act: no jobs named (give ids, users, a constraint or all)", 0)
		return
	}
	if req.All && (len(req.IDs) > 0 || len(req.Users) > 0 || strings.TrimSpace(req.Constraint) != "") {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "act: all cannot be combined with ids, users or a constraint", 0)
		return
	}
	selector, err := s.selector(req.Users, req.Constraint, req.All)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "act: "+err.Error(), 0)
		return
	}
	verb, tool := actVerb(req.Action)
	reason := req.Reason
	if strings.TrimSpace(reason) == "" {
		reason = "via " + tool
	}
	// HTCondor appends the acting user to every reason, given or default (§4.4).
	reason += " (by user " + peer.User + ")"

	ctx := r.Context()
	s.actMu.Lock()
	defer s.actMu.Unlock()
	targets, err := s.selectTargets(ctx, peer, req.IDs, selector, verb)
	if err != nil {
		if errors.Is(err, errBadJobID) {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "act: "+err.Error(), 0)
			return
		}
		s.storeError(w, "act", err)
		return
	}
	now := s.now().Unix()
	results := make([]ActResult, len(targets))
	var mu sync.Mutex
	var events []logEvent
	matched := s.forEach(ctx, targets, results, func(ctx context.Context, t target) (string, string) {
		// The changes are computed from the status read and committed only while the job
		// still has it (UpdateIf): a grid manager write landing in between (JobStatus 2,
		// its own hold, a completion) is never overwritten; the job is read and the
		// action decided again.
		for attempt := 1; ; attempt++ {
			st, msg, ad, err := s.actOnce(ctx, t, req, reason, now)
			if errors.Is(err, jobs.ErrStatusChanged) && attempt < actAttempts {
				continue
			}
			if err != nil {
				return StatusBadStatus, err.Error()
			}
			if st == StatusDone && req.Action == ActionRelease {
				if p := userLogPath(ad); p != "" {
					mu.Lock()
					events = append(events, logEvent{path: p, ev: releaseEvent(t.id, reason, now)})
					mu.Unlock()
				}
			}
			return st, msg
		}
	})
	sortEventsByJob(events)
	s.writeEvents(context.WithoutCancel(ctx), events)
	s.log.Info("act", zap.String("action", req.Action), zap.String("user", peer.User), zap.Int("matched", matched))
	writeJSON(w, &ActResponse{Results: results, Matched: matched})
}

// actAttempts bounds how often one job's hold, release or remove is decided again after
// its status changed under it: only the grid manager's few writes per job can race with
// it, so a handful of attempts settle it, and a bound keeps a bug from spinning.
const actAttempts = 8

// actOnce reads the job and applies the action from the status read; err wraps
// jobs.ErrStatusChanged when that status changed before the commit (nothing changed).
// ad is the job as read.
func (s *Server) actOnce(ctx context.Context, t target, req ActRequest, reason string, now int64) (string, string, *classad.ClassAd, error) {
	ad, err := s.cfg.Store.Get(ctx, t.id)
	if errors.Is(err, jobs.ErrNotFound) {
		return StatusNotFound, fmt.Sprintf("Job %s not found", t.id), nil, nil
	}
	if err != nil {
		return "", "", nil, err
	}
	var cs []jobs.Change
	switch req.Action {
	case ActionHold:
		cs, err = jobs.Hold(ad, reason, jobs.HoldUserRequest, req.HoldSubCode, now)
	case ActionRelease:
		cs, err = jobs.Release(ad, reason, now)
	case ActionRemove:
		if jobs.Status(ad) == jobs.StatusRemoved {
			return StatusBadStatus, fmt.Sprintf("Job %s already marked for removal", t.id), ad, nil
		}
		cs, err = jobs.Remove(ad, reason, now)
	case ActionRemoveX:
		// X is left only by Delete (or a hold): nothing the grid manager writes races with
		// it in a way Delete could overwrite.
		if jobs.Status(ad) != jobs.StatusRemoved {
			return StatusBadStatus, fmt.Sprintf("Job %s is not marked for removal (condor_rm -forcex removes only jobs in X)", t.id), ad, nil
		}
		if err := s.cfg.Store.Delete(ctx, t.id); err != nil {
			return "", "", ad, err
		}
		return StatusDone, "", ad, nil
	}
	if err != nil {
		return StatusBadStatus, fmt.Sprintf("Job %s %v", t.id, err), ad, nil
	}
	if err := s.cfg.Store.UpdateIf(ctx, t.id, jobs.Status(ad), cs, jobs.Durable); err != nil {
		if errors.Is(err, jobs.ErrNotFound) {
			return StatusNotFound, fmt.Sprintf("Job %s not found", t.id), ad, nil
		}
		return "", "", ad, err
	}
	return StatusDone, "", ad, nil
}

// selector builds the expression for users, constraint and all; nil when none is given.
// Users and the constraint are alternatives (ORed), as HTCondor's tools OR their targets.
func (s *Server) selector(users []string, constraint string, all bool) (classad.Expr, error) {
	if all {
		return classad.MustParseExpr("true"), nil
	}
	if _, err := parseConstraint("constraint", constraint); err != nil {
		return nil, err
	}
	var parts []string
	for _, u := range users {
		if strings.TrimSpace(u) == "" {
			return nil, errors.New("an empty user name")
		}
		parts = append(parts, "Owner == "+stringLit(u))
	}
	if strings.TrimSpace(constraint) != "" {
		parts = append(parts, "("+constraint+")")
	}
	if len(parts) == 0 {
		return nil, nil
	}
	return classad.ParseExpr(strings.Join(parts, " || "))
}

// forEach runs do on every target still to act on, actConcurrency at a time, and fills
// results in target order. It returns how many targets the caller may touch.
func (s *Server) forEach(ctx context.Context, targets []target, results []ActResult, do func(context.Context, target) (status, msg string)) int {
	sem := make(chan struct{}, actConcurrency)
	var wg sync.WaitGroup
	matched := 0
	for i, t := range targets {
		results[i] = ActResult{ID: t.label, Status: t.result, Error: t.err}
		if t.result != "" {
			continue
		}
		matched++
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			st, msg := do(ctx, t)
			results[i].Status, results[i].Error = st, msg
		}()
	}
	wg.Wait()
	return matched
}

// sortEventsByJob orders events by job id, so a log reads in job order whatever order
// the concurrent updates finished in.
func sortEventsByJob(events []logEvent) {
	less := func(a, b logEvent) int {
		ha, hb := a.ev.EventHeader(), b.ev.EventHeader()
		if ha.Cluster != hb.Cluster {
			return ha.Cluster - hb.Cluster
		}
		return ha.Proc - hb.Proc
	}
	slices.SortFunc(events, less)
}

func (s *Server) edit(w http.ResponseWriter, r *http.Request, peer Peer) {
	var req EditRequest
	if !decode(w, r, PathEdit, MaxRequestBody, &req) {
		return
	}
	attr := strings.TrimSpace(req.Attr)
	if attr == "" {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "edit: no attribute named", 0)
		return
	}
	if !validAttrName(attr) {
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("edit: %q is not an attribute name", attr), 0)
		return
	}
	if isProtected(attr) {
		writeError(w, http.StatusForbidden, CodeForbidden,
			fmt.Sprintf("edit: attribute %s belongs to the queue and cannot be changed with condor_qedit", attr), 0)
		return
	}
	value, err := classad.ParseExpr(req.Value)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest,
			fmt.Sprintf("edit: the value for %s, %q, is not a ClassAd expression: %v", attr, req.Value, err), 0)
		return
	}
	if len(req.IDs) == 0 && strings.TrimSpace(req.Constraint) == "" {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "edit: no jobs named (give ids or a constraint)", 0)
		return
	}
	selector, err := s.selector(nil, req.Constraint, false)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "edit: "+err.Error(), 0)
		return
	}
	ctx := r.Context()
	s.actMu.Lock()
	defer s.actMu.Unlock()
	targets, err := s.selectTargets(ctx, peer, req.IDs, selector, "edit")
	if err != nil {
		if errors.Is(err, errBadJobID) {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "edit: "+err.Error(), 0)
			return
		}
		s.storeError(w, "edit", err)
		return
	}
	results := make([]ActResult, len(targets))
	change := []jobs.Change{{Name: attr, Expr: value}}
	n := s.forEach(ctx, targets, results, func(ctx context.Context, t target) (string, string) {
		err := s.cfg.Store.Update(ctx, t.id, change, jobs.Durable)
		switch {
		case errors.Is(err, jobs.ErrNotFound):
			return StatusNotFound, fmt.Sprintf("Job %s not found", t.id)
		case err != nil:
			return StatusBadStatus, err.Error()
		}
		return StatusDone, ""
	})
	s.log.Info("edit", zap.String("attr", attr), zap.String("user", peer.User), zap.Int("matched", n))
	writeJSON(w, &EditResponse{Results: results})
}

// validAttrName says whether name is a plain ClassAd attribute name.
func validAttrName(name string) bool {
	for i, c := range name {
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
