package gridmanager

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/jobs"
	"github.com/ec2grid/ec2grid/userlog"
)

// logKind names a user log event the grid manager writes (htcondor-ec2.md §6).
type logKind uint8

const (
	logGridSubmit    logKind = iota + 1 // 027
	logExecute                          // 001
	logTerminated                       // 005
	logAborted                          // 009
	logHeld                             // 012
	logReleased                         // 013 (a policy release; condor_release's is the tool's)
	logEvicted                          // 004
	logResourceUp                       // 025
	logResourceDown                     // 026
	logStatusUnknown                    // 029
	logStatusKnown                      // 030
)

// writeLog writes events to the job's user log (UserLog, relative to Iwd), built from the
// job's ad as it is now. A job without a log writes nothing; a failure is logged, never
// fatal (HTCondor's gridmanager goes on too).
func (m *Manager) writeLog(ctx context.Context, id jobs.JobID, kinds ...logKind) {
	ad, err := m.store.Get(ctx, id)
	if err != nil {
		m.log.Warn("user log: read job", zap.Stringer("job", id), zap.Error(err))
		return
	}
	path := str(ad, attrUserLog)
	if path == "" {
		return
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(str(ad, attrIwd), path)
	}
	err = m.logSync.write(path, func() error {
		w, err := userlog.Open(path, userlog.WriterOptions{Now: m.opts.Now, NoSync: true})
		if err != nil {
			return err
		}
		defer w.Close()
		for _, k := range kinds {
			if err := w.Write(ctx, event(ad, k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		m.log.Warn("user log", zap.Stringer("job", id), zap.String("path", path), zap.Error(err))
	}
}

// logSyncer group-commits user logs: each event is written at once (without fsync) and
// the writer then waits until an fsync begun after its write has finished, so jobs that
// share one log (a cluster's) share fsyncs instead of queueing for one each. A writer
// returns only when its events are on disk, as HTCondor's fsync per event promises.
type logSyncer struct {
	mu     sync.Mutex
	byPath map[string]*pathSync
}

type pathSync struct {
	refs            int
	written, synced uint64     // under logSyncer.mu
	syncMu          sync.Mutex // one fsync at a time per file
}

func (s *logSyncer) write(path string, do func() error) error {
	s.mu.Lock()
	if s.byPath == nil {
		s.byPath = map[string]*pathSync{}
	}
	ps := s.byPath[path]
	if ps == nil {
		ps = &pathSync{}
		s.byPath[path] = ps
	}
	ps.refs++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if ps.refs--; ps.refs == 0 {
			delete(s.byPath, path)
		}
		s.mu.Unlock()
	}()
	if err := do(); err != nil {
		return err
	}
	s.mu.Lock()
	ps.written++
	seq := ps.written
	s.mu.Unlock()
	ps.syncMu.Lock()
	defer ps.syncMu.Unlock()
	s.mu.Lock()
	done, target := ps.synced >= seq, ps.written
	s.mu.Unlock()
	if done {
		return nil // an fsync begun after this write covered it
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open for fsync: %w", err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	s.mu.Lock()
	ps.synced = target
	s.mu.Unlock()
	return nil
}

func str(ad *classad.ClassAd, name string) string { s, _ := ad.EvalAttr(name).StringValue(); return s }

func num(ad *classad.ClassAd, name string) int {
	i, _ := ad.EvalAttr(name).NumberAsInt()
	return int(i)
}

// event builds one event from the ad.
func event(ad *classad.ClassAd, k logKind) userlog.Event {
	id := jobs.ID(ad)
	h := userlog.Header{Cluster: int(id.Cluster), Proc: int(id.Proc)}
	gr := jobs.GridResource(ad)
	switch k {
	case logGridSubmit:
		return &userlog.GridSubmitEvent{Header: h, GridResource: gr, GridJobID: jobs.GridJobID(ad)}
	case logExecute:
		return &userlog.ExecuteEvent{Header: h, ExecuteHost: gr}
	case logTerminated:
		return &userlog.TerminatedEvent{Header: h, TerminatedNormally: true, Resources: usage(ad)}
	case logAborted:
		return &userlog.AbortedEvent{Header: h, Reason: str(ad, jobs.AttrRemoveReason)}
	case logHeld:
		return &userlog.HeldEvent{Header: h, Reason: str(ad, jobs.AttrHoldReason),
			Code: num(ad, jobs.AttrHoldReasonCode), Subcode: num(ad, jobs.AttrHoldReasonSubCode)}
	case logReleased:
		return &userlog.ReleasedEvent{Header: h, Reason: str(ad, jobs.AttrReleaseReason)}
	case logEvicted:
		return &userlog.EvictedEvent{Header: h}
	case logResourceUp:
		return &userlog.GridResourceUpEvent{Header: h, GridResource: gr}
	case logResourceDown:
		return &userlog.GridResourceDownEvent{Header: h, GridResource: gr}
	case logStatusUnknown:
		return &userlog.RemoteStatusUnknownEvent{Header: h}
	}
	return &userlog.RemoteStatusKnownEvent{Header: h}
}

// usage is 005's Partitionable Resources table from Request<Name>, <Name>Usage and
// <Name> (setEventUsageAd over Cpus, Disk, Memory); empty when the ad has none.
func usage(ad *classad.ClassAd) []userlog.Resource {
	var rows []userlog.Resource
	for _, n := range []string{"Cpus", "Disk", "Memory"} {
		req := ad.EvalAttr("Request" + n)
		if req.IsUndefined() || req.IsError() {
			continue
		}
		row := userlog.Resource{Name: n, Request: req.String()}
		if u := ad.EvalAttr(n + "Usage"); !u.IsUndefined() && !u.IsError() {
			row.Usage = u.String()
		}
		if a := ad.EvalAttr(n); !a.IsUndefined() && !a.IsError() {
			row.Allocated = a.String()
		}
		rows = append(rows, row)
	}
	return rows
}
