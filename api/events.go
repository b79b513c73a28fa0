package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/jobs"
	"github.com/ec2grid/ec2grid/userlog"
)

// AttrUserLog is the job attribute naming the job's user log (submit's log).
const AttrUserLog = "UserLog"

// userLogPath returns the job's user log, or "" when it has none or it is not absolute
// (condor_submit makes it absolute; a relative path would name a file in the daemon's
// working directory, not the user's).
func userLogPath(ad *classad.ClassAd) string {
	p, _ := ad.EvalAttr(AttrUserLog).StringValue()
	if p == "" || !filepath.IsAbs(p) {
		return ""
	}
	return p
}

// logEvent is one event bound for one user log.
type logEvent struct {
	path string
	ev   userlog.Event
}

// writeEvents appends events to their user logs, in order per log. A log is opened once
// per call and only its last event is fsync'd: an fsync covers everything written to the
// file before it, so a cluster of 100,000 jobs sharing one log costs one fsync, not
// 100,000. Failures are logged, never returned: the change the events record is
// already committed, and a request must not fail after its commit.
func (s *Server) writeEvents(ctx context.Context, events []logEvent) {
	byPath := map[string][]userlog.Event{}
	var order []string
	for _, e := range events {
		if _, ok := byPath[e.path]; !ok {
			order = append(order, e.path)
		}
		byPath[e.path] = append(byPath[e.path], e.ev)
	}
	for _, path := range order {
		if err := s.writeLog(ctx, path, byPath[path]); err != nil {
			s.log.Warn("user log write failed", zap.String("log", path), zap.Int("events", len(byPath[path])), zap.Error(err))
		}
	}
}

// writeLog appends evs to the log at path, fsyncing after the last.
func (s *Server) writeLog(ctx context.Context, path string, evs []userlog.Event) error {
	opts := s.cfg.UserLog
	if len(evs) > 1 && !opts.NoSync {
		fast := opts
		fast.NoSync = true
		w, err := userlog.Open(path, fast)
		if err != nil {
			return err
		}
		for _, ev := range evs[:len(evs)-1] {
			if err := w.Write(ctx, ev); err != nil {
				w.Close()
				return fmt.Errorf("event %03d for job %d.%d: %w", ev.EventNumber(), ev.EventHeader().Cluster, ev.EventHeader().Proc, err)
			}
		}
		if err := w.Close(); err != nil {
			return err
		}
		evs = evs[len(evs)-1:]
	}
	w, err := userlog.Open(path, opts)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if err := w.Write(ctx, ev); err != nil {
			w.Close()
			return fmt.Errorf("event %03d for job %d.%d: %w", ev.EventNumber(), ev.EventHeader().Cluster, ev.EventHeader().Proc, err)
		}
	}
	return w.Close()
}

// submitHost is the 000 event's "submitted from host" text: HTCondor writes the schedd's
// sinful string; this daemon has a Unix socket instead of an address, so it names that.
func (s *Server) submitHost() string { return "<unix:" + s.cfg.Socket + ">" }

// submitEvent is the 000 event of one job.
func (s *Server) submitEvent(cluster, proc int64, ad *classad.ClassAd) userlog.Event {
	return &userlog.SubmitEvent{
		Header:     userlog.Header{Cluster: int(cluster), Proc: int(proc), Time: submitTime(ad)},
		SubmitHost: s.submitHost(),
	}
}

// writeSubmitEvents writes the 000 events of freshly committed clusters, then clears
// their AttrSubmitLogPending marks and tells SubmitLogged.
func (s *Server) writeSubmitEvents(ctx context.Context, made []madeCluster) {
	if s.cfg.SubmitLogged != nil && len(made) > 0 {
		defer func() {
			clusters := make([]int64, len(made))
			for i, m := range made {
				clusters[i] = m.cluster
			}
			s.cfg.SubmitLogged(clusters)
		}()
	}
	var events []logEvent
	for _, m := range made {
		for proc, ad := range m.ads {
			if p := userLogPath(ad); p != "" {
				events = append(events, logEvent{path: p, ev: s.submitEvent(m.cluster, int64(proc), ad)})
			}
		}
	}
	if len(events) == 0 {
		return
	}
	s.writeEvents(ctx, events)
	for _, m := range made {
		if m.pending {
			s.clearPending(ctx, m.cluster)
		}
	}
}

// clearPending deletes AttrSubmitLogPending from proc 0 of cluster. Batched suffices: if
// a crash loses it, the next start finds the events already in the logs and writes none.
func (s *Server) clearPending(ctx context.Context, cluster int64) {
	id := jobs.JobID{Cluster: cluster, Proc: 0}
	if err := s.cfg.Store.Update(ctx, id, []jobs.Change{jobs.Unset(AttrSubmitLogPending)}, jobs.Batched); err != nil && !errors.Is(err, jobs.ErrNotFound) {
		s.log.Warn("clear submit-log mark", zap.Stringer("job", id), zap.Error(err))
	}
}

// RecoverSubmitEvents writes the 000 events a crash kept from being written: for every
// cluster still marked AttrSubmitLogPending, each queued job with a user log gets its
// event unless the log already holds a 000 event for that job at its QDate. The daemon
// calls it once at start, before serving. So each job's submit event is written once,
// even across a SIGKILL between the commit and the write (a machine crash can still lose
// events written without fsync, as with any user log).
func (s *Server) RecoverSubmitEvents(ctx context.Context) error {
	marked, err := s.cfg.Store.Query(ctx, classad.MustParseExpr(AttrSubmitLogPending+" =?= true"))
	if err != nil {
		return fmt.Errorf("find clusters with unwritten submit events: %w", err)
	}
	for _, m := range marked {
		cluster := jobs.ClusterID(m)
		procs, err := s.cfg.Store.Query(ctx, classad.MustParseExpr(fmt.Sprintf("ClusterId == %d", cluster)))
		if err != nil {
			return fmt.Errorf("jobs of cluster %d: %w", cluster, err)
		}
		seen := map[string]map[jobs.JobID]int64{} // log -> job -> time of its 000 event
		var events []logEvent
		for _, ad := range procs {
			p := userLogPath(ad)
			if p == "" {
				continue
			}
			if _, ok := seen[p]; !ok {
				seen[p] = submitEventsIn(p, cluster, userlog.ReaderOptions{Location: s.cfg.UserLog.Location})
			}
			id := jobs.ID(ad)
			if t, ok := seen[p][id]; ok && t == submitTime(ad).Unix() {
				continue
			}
			events = append(events, logEvent{path: p, ev: s.submitEvent(id.Cluster, id.Proc, ad)})
		}
		s.writeEvents(ctx, events)
		s.clearPending(ctx, cluster)
		s.log.Info("recovered submit events", zap.Int64("cluster", cluster), zap.Int("written", len(events)))
	}
	return nil
}

// submitEventsIn reads the 000 events of cluster in the log at path: job -> event time.
// An unreadable log gives none, so every event is written (at least once beats never).
func submitEventsIn(path string, cluster int64, opts userlog.ReaderOptions) map[jobs.JobID]int64 {
	found := map[jobs.JobID]int64{}
	f, err := os.Open(path)
	if err != nil {
		return found
	}
	defer f.Close()
	r := userlog.NewReader(f, opts)
	for {
		ev, err := r.Next()
		var perr *userlog.ParseError
		switch {
		case err == nil:
		case errors.As(err, &perr):
			continue
		case errors.Is(err, userlog.ErrNoEvent), errors.Is(err, io.EOF):
			return found
		default:
			return found
		}
		if ev.EventNumber() != userlog.EventSubmit {
			continue
		}
		h := ev.EventHeader()
		if int64(h.Cluster) == cluster {
			found[jobs.JobID{Cluster: cluster, Proc: int64(h.Proc)}] = h.Time.Unix()
		}
	}
}

// releaseEvent is the 013 event of a released job.
func releaseEvent(id jobs.JobID, reason string, now int64) userlog.Event {
	return &userlog.ReleasedEvent{
		Header: userlog.Header{Cluster: int(id.Cluster), Proc: int(id.Proc), Time: unixTime(now)},
		Reason: reason,
	}
}
