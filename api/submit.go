package api

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/jobs"
)

// AttrSubmitLogPending marks, on proc 0 of a cluster, that the cluster's submit events
// (000) may not all be in their user logs yet. It is committed with the cluster and
// deleted once the events are written; a daemon that starts and finds it writes the
// missing events (Server.RecoverSubmitEvents).
const AttrSubmitLogPending = "EC2GridSubmitLogPending"

// The hold a submit file's hold = true asks for (reference §4.2; the reason is the text
// condor_submit -dry-run prints).
const (
	holdCodeSubmittedOnHold = 15
	holdReasonSubmitted     = "submitted on hold at user's request"
)

func (s *Server) submit(w http.ResponseWriter, r *http.Request, peer Peer) {
	start := time.Now()
	var req SubmitRequest
	fast := func(b []byte) bool {
		var ok bool
		req, ok = fastSubmitRequest(b)
		return ok
	}
	if !decodeWith(w, r, PathSubmit, MaxSubmitBody, &req, fast) {
		return
	}
	decoded := time.Now()
	if len(req.Clusters) == 0 {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "submit: no clusters in the request", 0)
		return
	}
	for i, c := range req.Clusters {
		if len(c) == 0 {
			writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("submit: cluster %d of the request has no jobs", i+1), 0)
			return
		}
	}
	if len(req.Common) > 0 && len(req.Common) != len(req.Clusters) {
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("submit: %d common entries for %d clusters (one per cluster, or none)", len(req.Common), len(req.Clusters)), 0)
		return
	}
	if req.ExpectCluster < 0 {
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("submit: expect_cluster %d is negative", req.ExpectCluster), 0)
		return
	}
	parsedClusters, err := parseClusters(req.Clusters, req.Common, stampSlots, nil, jobStampSlots)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "submit: "+err.Error(), 0)
		return
	}
	req.Clusters, req.Common = nil, nil // the text is parsed; let the collector have it
	parsed := time.Now()

	ctx := r.Context()
	now := s.now().Unix()
	var out SubmitResponse
	var made []madeCluster
	s.submitMu.Lock()
	for i, pc := range parsedClusters {
		key := ""
		if req.SubmitKey != "" {
			key = req.SubmitKey + "/" + strconv.Itoa(i)
			c, ok, err := s.cfg.Store.SubmitKeyCluster(ctx, key)
			if err != nil {
				s.submitMu.Unlock()
				s.storeError(w, "submit", err)
				return
			}
			if ok {
				// A retry: this cluster was committed by an earlier attempt.
				out.Clusters = append(out.Clusters, SubmittedCluster{Cluster: c, Procs: len(pc.jobs)})
				continue
			}
		}
		next, err := s.cfg.Store.NextClusterID(ctx)
		if err != nil {
			s.submitMu.Unlock()
			s.storeError(w, "submit", err)
			return
		}
		if req.ExpectCluster != 0 && next != req.ExpectCluster+int64(i) {
			s.submitMu.Unlock()
			// Nothing new was committed by this request (clusters are consecutive, and
			// the first new one is this one), so the client rebuilds every cluster for
			// the id that makes this one land on next.
			writeError(w, http.StatusConflict, CodeConflict,
				fmt.Sprintf("submit: the ads were built for cluster %d, but the next cluster is %d (another submit came first); rebuild them and retry",
					req.ExpectCluster+int64(i), next), next-int64(i))
			return
		}
		ads, pending := s.stamp(pc, peer, next, now)
		c, err := s.cfg.Store.SubmitCluster(ctx, key, ads)
		if err != nil {
			s.submitMu.Unlock()
			s.log.Error("submit failed", zap.String("user", peer.User), zap.Int("clusters_committed", len(made)), zap.Error(err))
			s.storeError(w, fmt.Sprintf("submit cluster %d of %d (the %d before it are committed; retry with the same submit key)", i+1, len(parsedClusters), len(made)), err)
			s.writeSubmitEvents(context.WithoutCancel(ctx), made)
			return
		}
		if c != next {
			// Only this server submits, under submitMu; a different id means another
			// writer shares the store, and GlobalJobId carries the wrong cluster.
			s.log.Error("cluster id moved during submit", zap.Int64("expected", next), zap.Int64("got", c))
		}
		made = append(made, madeCluster{cluster: c, ads: ads, pending: pending})
		out.Clusters = append(out.Clusters, SubmittedCluster{Cluster: c, Procs: len(ads)})
	}
	s.submitMu.Unlock()
	if len(made) > 0 {
		n := 0
		for _, m := range made {
			n += len(m.ads)
		}
		s.log.Info("submitted", zap.String("user", peer.User), zap.Int64("first_cluster", made[0].cluster),
			zap.Int("clusters", len(made)), zap.Int("jobs", n), zap.Duration("read", decoded.Sub(start)),
			zap.Duration("parse", parsed.Sub(decoded)), zap.Duration("commit", time.Since(parsed)))
		if s.cfg.AfterSubmitCommit != nil {
			s.cfg.AfterSubmitCommit()
		}
	}
	// The events follow the commit, so a job is never in a log but not in the queue; a
	// crash between the two leaves AttrSubmitLogPending for the next start. They are
	// written even if the caller has gone away.
	s.writeSubmitEvents(context.WithoutCancel(ctx), made)
	writeJSON(w, &out)
	if jobsIn(made) >= releaseMemoryJobs {
		// After the handler has returned (route does it), when its ads are garbage.
		s.wantRelease.Store(true)
	}
}

// releaseMemoryJobs is the submit size after which the server hands the memory the
// submit used back to the system. A submit of a large cluster briefly holds its text
// several times over (the body, the decoded strings, the parsed ads the store then
// copies, the store's records); the Go runtime keeps freed memory for reuse and returns
// it only slowly, so without this a daemon that took one 100,000-job submit would stay
// at twice its resident size for minutes.
const releaseMemoryJobs = 10_000

// releaseMemory runs a collection and returns free memory to the system, in the
// background (the reply is already sent) and one at a time.
func (s *Server) releaseMemory() {
	if !s.releasing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.releasing.Store(false)
		debug.FreeOSMemory()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		s.log.Info("memory after a large submit", zap.Uint64("heap_inuse_mib", m.HeapInuse>>20),
			zap.Uint64("heap_released_mib", m.HeapReleased>>20), zap.Uint64("sys_mib", m.Sys>>20))
	}()
}

// jobsIn counts the jobs of committed clusters.
func jobsIn(made []madeCluster) int {
	n := 0
	for _, m := range made {
		n += len(m.ads)
	}
	return n
}

// madeCluster is a cluster committed by one submit, for its user log events.
type madeCluster struct {
	cluster int64
	ads     []*classad.ClassAd // as submitted (without ClusterId/ProcId)
	pending bool               // carries AttrSubmitLogPending
}

// stamp sets what the queue owns on a cluster's ads before its commit (the parser left
// out every protected attribute the ads named): the caller's identity (so a forged Owner
// is gone), the times, GlobalJobId and the initial status. A cluster sent with common
// attributes has those stamped once, on its common ad, which its jobs are then chained
// to; each job gets only its GlobalJobId, and its status where it differs. It returns
// the ads and whether the cluster needs submit events (some job has a UserLog), in which
// case proc 0 carries AttrSubmitLogPending.
func (s *Server) stamp(pc parsedCluster, peer Peer, cluster, now int64) ([]*classad.ClassAd, bool) {
	st := stamps{
		owner: classad.Literal(classad.String(peer.User)),
		user:  classad.Literal(classad.String(peer.User + "@" + s.host)),
		now:   classad.Literal(classad.Int(now)),
		idle:  classad.Literal(classad.Int(jobs.StatusIdle)),
	}
	common := pc.common.ad
	if common != nil {
		st.shared(common)
		st.status(common, pc.common.req)
	}
	prefix := s.host + "#" + strconv.FormatInt(cluster, 10) + "."
	suffix := "#" + strconv.FormatInt(now, 10)
	logged := false
	ads := make([]*classad.ClassAd, len(pc.jobs))
	for proc, pa := range pc.jobs {
		ad := pa.ad
		if common != nil {
			ad.ChainTo(common)
			if pa.req.held != pc.common.req.held || pa.req.held && pa.req.holdReason != pc.common.req.holdReason {
				st.status(ad, pa.req)
			}
		} else {
			st.shared(ad)
			st.status(ad, pa.req)
		}
		ad.SetString("GlobalJobId", prefix+strconv.Itoa(proc)+suffix)
		if !logged && userLogPath(ad) != "" {
			logged = true
		}
		ads[proc] = ad
	}
	if logged {
		ads[0].SetBool(AttrSubmitLogPending, true)
	}
	return ads, logged
}

// stamps are the values stamp sets, made once per cluster so that its ads share them.
type stamps struct {
	owner, user, now, idle classad.Expr
}

// shared sets what every job of a submit gets alike.
func (st stamps) shared(ad *classad.ClassAd) {
	ad.Set(jobs.AttrOwner, st.owner)
	ad.Set("User", st.user)
	ad.Set("QDate", st.now)
	ad.Set(jobs.AttrEnteredCurrentStatus, st.now)
}

// status sets the initial status req asks for: idle, or held with its reason (a job
// that is idle where its common ad is held drops the common hold attributes).
func (st stamps) status(ad *classad.ClassAd, req jobRequest) {
	if !req.held {
		ad.Set(jobs.AttrJobStatus, st.idle)
		if ad.Chained() != nil {
			for _, name := range []string{jobs.AttrHoldReason, jobs.AttrHoldReasonCode, jobs.AttrHoldReasonSubCode} {
				ad.Delete(name)
			}
		}
		return
	}
	reason := req.holdReason
	if reason == "" {
		reason = holdReasonSubmitted
	}
	ad.SetInt(jobs.AttrJobStatus, jobs.StatusHeld)
	ad.SetString(jobs.AttrHoldReason, reason)
	ad.SetInt(jobs.AttrHoldReasonCode, holdCodeSubmittedOnHold)
	ad.SetInt(jobs.AttrHoldReasonSubCode, 0)
}

// stampSlots binds, with placeholders, the attributes stamp sets on every whole ad.
func stampSlots(ad *classad.ClassAd) {
	for _, name := range []string{jobs.AttrOwner, "User", "QDate", jobs.AttrEnteredCurrentStatus, "GlobalJobId", jobs.AttrJobStatus} {
		ad.SetValue(name, classad.Undefined())
	}
}

// jobStampSlots binds, with a placeholder, what stamp sets on the own attributes of a
// job sent with its cluster's common ones.
func jobStampSlots(ad *classad.ClassAd) {
	ad.SetValue("GlobalJobId", classad.Undefined())
}

// submitTime is the event time of a job's 000 event: its QDate.
func submitTime(ad *classad.ClassAd) time.Time {
	q, _ := ad.EvalAttr("QDate").IntValue()
	return time.Unix(q, 0)
}
