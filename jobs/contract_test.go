package jobs

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ec2grid/ec2grid/classad"
)

// waitLimit bounds every wait for an event; generous, it only stops a hung test.
const waitLimit = 10 * time.Second

func TestMemoryStore(t *testing.T) {
	storeContract(t, func(t *testing.T) Store { return NewMemory() })
}

func TestBoltStore(t *testing.T) {
	storeContract(t, func(t *testing.T) Store {
		s, err := OpenBolt(filepath.Join(t.TempDir(), "spool", "jobs.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func newJobs(n int, owner string) []*classad.ClassAd {
	ads := make([]*classad.ClassAd, n)
	for i := range ads {
		ad := classad.New()
		ad.SetString(AttrOwner, owner)
		ad.SetInt(AttrJobStatus, StatusIdle)
		ad.SetString("Cmd", "/bin/true")
		ad.SetInt("Index", int64(i))
		ads[i] = ad
	}
	return ads
}

func mustSubmit(t *testing.T, s Store, key string, ads []*classad.ClassAd) int64 {
	t.Helper()
	c, err := s.SubmitCluster(context.Background(), key, ads)
	if err != nil {
		t.Fatalf("SubmitCluster: %v", err)
	}
	return c
}

func nextEvent(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("event channel closed")
		}
		return ev
	case <-time.After(waitLimit):
		t.Fatal("no event")
	}
	return Event{}
}

// storeContract is what every Store implementation must do.
func storeContract(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	open := func(t *testing.T) Store {
		s := newStore(t)
		t.Cleanup(func() { s.Close() })
		return s
	}

	t.Run("SubmitGet", func(t *testing.T) {
		s := open(t)
		n, err := s.NextClusterID(ctx)
		if err != nil || n != 1 {
			t.Fatalf("NextClusterID = %d, %v", n, err)
		}
		in := newJobs(3, "alice")
		c := mustSubmit(t, s, "", in)
		if c != 1 {
			t.Errorf("cluster = %d, want 1", c)
		}
		if _, ok := in[0].Lookup(AttrClusterID); ok {
			t.Error("SubmitCluster changed the caller's ad")
		}
		for p := int64(0); p < 3; p++ {
			ad, err := s.Get(ctx, JobID{c, p})
			if err != nil {
				t.Fatal(err)
			}
			if ID(ad) != (JobID{c, p}) || Owner(ad) != "alice" {
				t.Errorf("job %d.%d = %s", c, p, ad)
			}
		}
		if _, err := s.Get(ctx, JobID{c, 3}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get missing: %v", err)
		}
		if c2 := mustSubmit(t, s, "", newJobs(1, "bob")); c2 != 2 {
			t.Errorf("second cluster = %d", c2)
		}
		if n, _ := s.NextClusterID(ctx); n != 3 {
			t.Errorf("NextClusterID = %d, want 3", n)
		}
	})

	t.Run("EmptyAndNil", func(t *testing.T) {
		s := open(t)
		if _, err := s.SubmitCluster(ctx, "", nil); !errors.Is(err, ErrEmpty) {
			t.Errorf("empty: %v", err)
		}
		ads := newJobs(3, "a")
		ads[2] = nil
		if _, err := s.SubmitCluster(ctx, "", ads); !errors.Is(err, ErrBadCluster) {
			t.Errorf("nil job: %v", err)
		}
		// All or nothing: nothing of the refused cluster is queued.
		if got, _ := s.Query(ctx, nil); len(got) != 0 {
			t.Errorf("%d jobs queued after refused submits", len(got))
		}
	})

	t.Run("SubmitKeyIdempotent", func(t *testing.T) {
		s := open(t)
		c1 := mustSubmit(t, s, "client-token-1", newJobs(2, "a"))
		c2 := mustSubmit(t, s, "client-token-1", newJobs(2, "a"))
		if c1 != c2 {
			t.Errorf("retry made cluster %d, first was %d", c2, c1)
		}
		if got, _ := s.Query(ctx, nil); len(got) != 2 {
			t.Errorf("%d jobs after a retried submit, want 2", len(got))
		}
		if c3 := mustSubmit(t, s, "client-token-2", newJobs(1, "a")); c3 == c1 {
			t.Error("a new key reused a cluster")
		}
	})

	t.Run("SubmitKeyCluster", func(t *testing.T) {
		s := open(t)
		if _, ok, err := s.SubmitKeyCluster(ctx, "k1"); ok || err != nil {
			t.Errorf("unused key: ok=%v err=%v", ok, err)
		}
		mustSubmit(t, s, "", newJobs(1, "a"))
		c := mustSubmit(t, s, "k1", newJobs(2, "a"))
		if got, ok, err := s.SubmitKeyCluster(ctx, "k1"); !ok || err != nil || got != c {
			t.Errorf("SubmitKeyCluster(k1) = %d, %v, %v; want %d", got, ok, err, c)
		}
		if _, ok, _ := s.SubmitKeyCluster(ctx, ""); ok {
			t.Error("the empty key names a cluster")
		}
	})

	t.Run("QueueID", func(t *testing.T) {
		s, s2 := open(t), open(t)
		id, err := s.QueueID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := uuid.Parse(id); err != nil {
			t.Errorf("QueueID %q is not a UUID: %v", id, err)
		}
		if again, _ := s.QueueID(ctx); again != id {
			t.Errorf("QueueID changed: %q then %q", id, again)
		}
		if other, _ := s2.QueueID(ctx); other == id {
			t.Errorf("two stores share the queue id %q", id)
		}
	})

	t.Run("UpdateQuery", func(t *testing.T) {
		s := open(t)
		c := mustSubmit(t, s, "", newJobs(10, "alice"))
		mustSubmit(t, s, "", newJobs(5, "bob"))
		id := JobID{c, 4}
		ad, _ := s.Get(ctx, id)
		cs, err := Hold(ad, "via condor_hold", HoldUserRequest, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Update(ctx, id, cs, Batched); err != nil {
			t.Fatal(err)
		}
		if err := s.Update(ctx, JobID{c, 5}, []Change{SetString(AttrGridJobID, "ec2 x i-5"), Unset("Cmd")}, Durable); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx, id)
		if Status(got) != StatusHeld || HoldReasonCode(got) != 1 {
			t.Errorf("after hold: %s", got)
		}
		got, _ = s.Get(ctx, JobID{c, 5})
		if GridJobID(got) != "ec2 x i-5" {
			t.Errorf("GridJobId = %q", GridJobID(got))
		}
		if _, ok := got.Lookup("Cmd"); ok {
			t.Error("Cmd not deleted")
		}
		for _, tc := range []struct {
			constraint string
			want       int
		}{
			{`Owner == "alice"`, 10},
			{`Owner == "bob"`, 5},
			{`JobStatus == 5`, 1},
			{`Owner == "alice" && Index >= 8`, 2},
			{`GridJobId =!= undefined`, 1},
			{`true`, 15},
			{`nosuch`, 0},
		} {
			res, err := s.Query(ctx, classad.MustParseExpr(tc.constraint))
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != tc.want {
				t.Errorf("Query(%s) = %d jobs, want %d", tc.constraint, len(res), tc.want)
			}
			for i := 1; i < len(res); i++ {
				a, b := ID(res[i-1]), ID(res[i])
				if a.Cluster > b.Cluster || a.Cluster == b.Cluster && a.Proc >= b.Proc {
					t.Errorf("Query not ordered: %v before %v", a, b)
				}
			}
		}
		all, _ := s.Query(ctx, nil)
		if len(all) != 15 {
			t.Errorf("Query(nil) = %d", len(all))
		}
		// QueryShared: the same jobs in the same order, without copies.
		for _, c := range []string{`Owner == "alice" && Index >= 3`, `JobStatus == 5`, `true`} {
			e := classad.MustParseExpr(c)
			want, _ := s.Query(ctx, e)
			got, err := s.QueryShared(ctx, e)
			if err != nil || len(got) != len(want) {
				t.Fatalf("QueryShared(%s) = %d jobs, %v; Query gives %d", c, len(got), err, len(want))
			}
			for i := range got {
				if got[i].MarshalLong() != want[i].MarshalLong() {
					t.Errorf("QueryShared(%s)[%d] = %s, Query gives %s", c, i, got[i], want[i])
				}
			}
		}
		shared, _ := s.QueryShared(ctx, classad.MustParseExpr(`ProcId == 0`))
		before := shared[0].MarshalLong()
		if err := s.Update(ctx, ID(shared[0]), []Change{SetString("Later", "x")}, Batched); err != nil {
			t.Fatal(err)
		}
		if shared[0].MarshalLong() != before {
			t.Error("an update changed an ad QueryShared handed out")
		}
		// Results are copies.
		all[0].SetString(AttrOwner, "mallory")
		if again, _ := s.Get(ctx, ID(all[0])); Owner(again) == "mallory" {
			t.Error("Query result aliases the stored job")
		}
		if err := s.Update(ctx, JobID{99, 0}, nil, Batched); !errors.Is(err, ErrNotFound) {
			t.Errorf("update missing: %v", err)
		}
		if err := s.Update(ctx, id, []Change{SetInt(AttrClusterID, 7)}, Batched); err == nil {
			t.Error("changing ClusterId accepted")
		}
	})

	t.Run("DeleteHistory", func(t *testing.T) {
		s := open(t)
		c := mustSubmit(t, s, "", newJobs(5, "alice"))
		for p := int64(0); p < 5; p++ {
			if err := s.Update(ctx, JobID{c, p}, []Change{SetInt("Done", p)}, Batched); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, JobID{c, p}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Delete(ctx, JobID{c, 0}); !errors.Is(err, ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
		if _, err := s.Get(ctx, JobID{c, 0}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get deleted: %v", err)
		}
		h, err := s.History(ctx, nil, 0)
		if err != nil || len(h) != 5 {
			t.Fatalf("History = %d, %v", len(h), err)
		}
		for i, ad := range h {
			if ProcID(ad) != int64(4-i) {
				t.Errorf("history[%d] is proc %d; want newest first", i, ProcID(ad))
			}
			if d, _ := ad.EvalAttr("Done").IntValue(); d != ProcID(ad) {
				t.Errorf("history lost an update: %s", ad)
			}
		}
		h, _ = s.History(ctx, classad.MustParseExpr(`ProcId < 3`), 2)
		if len(h) != 2 || ProcID(h[0]) != 2 || ProcID(h[1]) != 1 {
			t.Errorf("History(ProcId < 3, 2) = %v", h)
		}
	})

	t.Run("Subscribe", func(t *testing.T) {
		s := open(t)
		sctx, cancel := context.WithCancel(ctx)
		ch := s.Subscribe(sctx)
		c := mustSubmit(t, s, "", newJobs(2, "a"))
		for p := int64(0); p < 2; p++ {
			if ev := nextEvent(t, ch); ev != (Event{Kind: JobAdded, ID: JobID{c, p}, Status: StatusIdle}) {
				t.Errorf("event %+v", ev)
			}
		}
		s.Update(ctx, JobID{c, 0}, []Change{SetString("Other", "x")}, Batched)
		s.Update(ctx, JobID{c, 0}, []Change{SetInt(AttrJobStatus, StatusRunning)}, Batched)
		if ev := nextEvent(t, ch); ev != (Event{Kind: StatusChanged, ID: JobID{c, 0}, Status: StatusRunning}) {
			t.Errorf("event %+v", ev)
		}
		s.Delete(ctx, JobID{c, 1})
		if ev := nextEvent(t, ch); ev != (Event{Kind: JobDeleted, ID: JobID{c, 1}, Status: StatusIdle}) {
			t.Errorf("event %+v", ev)
		}
		cancel()
		for range ch {
		}
	})

	t.Run("SlowSubscriberResync", func(t *testing.T) {
		s := open(t)
		ch := s.Subscribe(ctx)
		// Nobody reads while more events than the buffer holds are sent: the writer
		// must not block.
		done := make(chan struct{})
		go func() {
			defer close(done)
			mustSubmit(t, s, "", newJobs(SubscriberBuffer+10, "a"))
			mustSubmit(t, s, "", newJobs(1, "a"))
		}()
		select {
		case <-done:
		case <-time.After(waitLimit):
			t.Fatal("submit blocked on a slow subscriber")
		}
		n := 0
		for n < SubscriberBuffer {
			if ev := nextEvent(t, ch); ev.Kind != JobAdded {
				t.Fatalf("event %d = %+v", n, ev)
			}
			n++
		}
		mustSubmit(t, s, "", newJobs(1, "a"))
		if ev := nextEvent(t, ch); ev.Kind != Resync {
			t.Errorf("after overflow got %+v, want Resync", ev)
		}
		if ev := nextEvent(t, ch); ev.Kind != JobAdded || ev.ID.Cluster != 3 {
			t.Errorf("after Resync got %+v", ev)
		}
	})

	t.Run("UpdateIf", func(t *testing.T) {
		s := open(t)
		c := mustSubmit(t, s, "", newJobs(1, "a"))
		id := JobID{c, 0}
		ch := s.Subscribe(ctx)
		if err := s.UpdateIf(ctx, id, StatusIdle, []Change{SetInt(AttrJobStatus, StatusRunning)}, Durable); err != nil {
			t.Fatalf("UpdateIf from the status there: %v", err)
		}
		if ev := nextEvent(t, ch); ev.Kind != StatusChanged || ev.ID != id || ev.Status != StatusRunning {
			t.Errorf("event %+v", ev)
		}
		// The status the caller read is gone: nothing changes, the error says what is there.
		err := s.UpdateIf(ctx, id, StatusIdle, []Change{SetInt(AttrJobStatus, StatusHeld), SetInt("Stale", 1)}, Batched)
		if !errors.Is(err, ErrStatusChanged) {
			t.Fatalf("UpdateIf from a stale status: %v", err)
		}
		if msg := err.Error(); !strings.Contains(msg, id.String()) || !strings.Contains(msg, "JobStatus is 2") {
			t.Errorf("error %q does not name the job and the status found", msg)
		}
		ad, _ := s.Get(ctx, id)
		if Status(ad) != StatusRunning {
			t.Errorf("JobStatus = %d after a refused UpdateIf", Status(ad))
		}
		if _, ok := ad.Lookup("Stale"); ok {
			t.Errorf("a refused UpdateIf applied part of its changes: %s", ad)
		}
		select {
		case ev := <-ch:
			t.Errorf("event %+v for a refused UpdateIf", ev)
		default:
		}
		// Changes that leave JobStatus alone are conditional too.
		if err := s.UpdateIf(ctx, id, StatusRunning, []Change{SetString("GridJobStatus", "running")}, Batched); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateIf(ctx, id, StatusIdle, []Change{SetString("GridJobStatus", "x")}, Batched); !errors.Is(err, ErrStatusChanged) {
			t.Errorf("attribute-only UpdateIf from a stale status: %v", err)
		}
		if ad, _ := s.Get(ctx, id); ad.EvalAttr("GridJobStatus").String() != `"running"` {
			t.Errorf("GridJobStatus = %s", ad.EvalAttr("GridJobStatus"))
		}
		if err := s.UpdateIf(ctx, JobID{c, 9}, StatusIdle, nil, Batched); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateIf of a missing job: %v", err)
		}
		if err := s.UpdateIf(ctx, id, StatusRunning, []Change{SetInt(AttrProcID, 3)}, Batched); err == nil {
			t.Error("UpdateIf changed ProcId")
		}
	})

	t.Run("UpdateIfRace", func(t *testing.T) {
		// Many goroutines race to move the same jobs out of the status they all read:
		// exactly one wins each job, and its changes are the ones kept. Then JobStatus
		// is used as a counter, each goroutine incrementing it by compare-and-swap: no
		// increment may be lost or doubled.
		s := open(t)
		const jobs, racers, increments = 20, 16, 25
		c := mustSubmit(t, s, "", newJobs(jobs, "a"))
		var wg sync.WaitGroup
		wins := make([][]int, jobs)
		var mu sync.Mutex
		errs := make(chan error, jobs*racers)
		for r := 0; r < racers; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for p := 0; p < jobs; p++ {
					d := Batched
					if (r+p)%3 == 0 {
						d = Durable
					}
					err := s.UpdateIf(ctx, JobID{c, int64(p)}, StatusIdle,
						[]Change{SetInt(AttrJobStatus, StatusRemoved), SetInt("Winner", int64(r))}, d)
					switch {
					case err == nil:
						mu.Lock()
						wins[p] = append(wins[p], r)
						mu.Unlock()
					case !errors.Is(err, ErrStatusChanged):
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for p, w := range wins {
			if len(w) != 1 {
				t.Errorf("job %d: %d winners %v, want exactly 1", p, len(w), w)
				continue
			}
			ad, _ := s.Get(ctx, JobID{c, int64(p)})
			if v, _ := ad.EvalAttr("Winner").IntValue(); Status(ad) != StatusRemoved || v != int64(w[0]) {
				t.Errorf("job %d: JobStatus %d, Winner %d; the winner was %d", p, Status(ad), v, w[0])
			}
		}

		id := JobID{c, 0}
		const start = 100
		if err := s.Update(ctx, id, []Change{SetInt(AttrJobStatus, start)}, Batched); err != nil {
			t.Fatal(err)
		}
		var incs sync.WaitGroup
		counts := make(chan int, racers)
		for r := 0; r < racers; r++ {
			incs.Add(1)
			go func() {
				defer incs.Done()
				lost := 0
				for done := 0; done < increments; {
					ad, err := s.Get(ctx, id)
					if err != nil {
						t.Error(err)
						return
					}
					st := Status(ad)
					err = s.UpdateIf(ctx, id, st, []Change{SetInt(AttrJobStatus, st+1)}, Batched)
					switch {
					case err == nil:
						done++
					case errors.Is(err, ErrStatusChanged):
						lost++
					default:
						t.Error(err)
						return
					}
				}
				counts <- lost
			}()
		}
		incs.Wait()
		close(counts)
		ad, _ := s.Get(ctx, id)
		if got, want := Status(ad), int64(start+racers*increments); got != want {
			t.Errorf("counter = %d after %d compare-and-swap increments from %d, want %d", got, racers*increments, start, want)
		}
		lost := 0
		for n := range counts {
			lost += n
		}
		t.Logf("%d increments refused for a stale read", lost)
	})

	t.Run("ConcurrentDeletes", func(t *testing.T) {
		// Deletes from many goroutines share commits; a reader of the queue and then the
		// history meanwhile never finds a job in neither, nor twice in the history.
		s := open(t)
		const n, deleters = 300, 16
		c := mustSubmit(t, s, "", newJobs(n, "a"))
		ids := make(chan JobID, n)
		for p := int64(0); p < n; p++ {
			ids <- JobID{c, p}
		}
		close(ids)
		stop := make(chan struct{})
		readerDone := make(chan struct{})
		go func() {
			defer close(readerDone)
			for {
				select {
				case <-stop:
					return
				default:
				}
				queued, err := s.Query(ctx, nil)
				if err != nil {
					t.Error(err)
					return
				}
				hist, err := s.History(ctx, nil, 0)
				if err != nil {
					t.Error(err)
					return
				}
				seen := map[JobID]int{}
				for _, ad := range hist {
					seen[ID(ad)]++
				}
				for id, k := range seen {
					if k > 1 {
						t.Errorf("job %s is %d times in the history", id, k)
						return
					}
				}
				for _, ad := range queued {
					seen[ID(ad)]++
				}
				for p := int64(0); p < n; p++ {
					if seen[JobID{c, p}] == 0 {
						t.Errorf("job %d.%d is neither queued nor in the history", c, p)
						return
					}
				}
			}
		}()
		var wg sync.WaitGroup
		for range deleters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range ids {
					if err := s.Delete(ctx, id); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		<-readerDone
		if q, _ := s.Query(ctx, nil); len(q) != 0 {
			t.Errorf("%d jobs still queued", len(q))
		}
		hist, err := s.History(ctx, nil, 0)
		if err != nil || len(hist) != n {
			t.Fatalf("History = %d jobs, %v; want %d", len(hist), err, n)
		}
		if h, _ := s.History(ctx, nil, 7); len(h) != 7 {
			t.Errorf("History limit 7 gave %d", len(h))
		}
	})

	t.Run("ConcurrentUpdates", func(t *testing.T) {
		s := open(t)
		const jobs, writers, rounds = 20, 8, 25
		c := mustSubmit(t, s, "", newJobs(jobs, "a"))
		var wg sync.WaitGroup
		errs := make(chan error, writers*rounds*2)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := 0; r < rounds; r++ {
					id := JobID{c, int64((w + r) % jobs)}
					d := Batched
					if r%5 == 0 {
						d = Durable
					}
					if err := s.Update(ctx, id, []Change{SetInt(fmt.Sprintf("W%d", w), int64(r))}, d); err != nil {
						errs <- err
					}
					if _, err := s.Query(ctx, classad.MustParseExpr(`JobStatus == 1`)); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// Every writer's last write to each job it touched is there.
		for w := 0; w < writers; w++ {
			last := map[int64]int64{}
			for r := 0; r < rounds; r++ {
				last[int64((w+r)%jobs)] = int64(r)
			}
			for p, r := range last {
				ad, _ := s.Get(ctx, JobID{c, p})
				if v, _ := ad.EvalAttr(fmt.Sprintf("W%d", w)).IntValue(); v != r {
					t.Errorf("job %d: W%d = %d, want %d", p, w, v, r)
				}
			}
		}
	})

	t.Run("ClusterSharing", func(t *testing.T) {
		s := open(t)
		ads := newJobs(4, "alice") // Owner, JobStatus and Cmd common; Index differs
		for i, ad := range ads {
			ad.SetExpr("Requirements", `Owner == "alice"`) // separate parses, same text
			ad.SetString("GlobalJobId", fmt.Sprintf("q#%d", i))
		}
		c := mustSubmit(t, s, "", ads)
		// What each job reads, built without chaining: the reference.
		want := make([]*classad.ClassAd, 4)
		for i, ad := range ads {
			want[i] = ad.Copy()
			want[i].SetInt(AttrClusterID, c)
			want[i].SetInt(AttrProcID, int64(i))
		}
		check := func(step string) {
			t.Helper()
			for i := range want {
				got, err := s.Get(ctx, JobID{c, int64(i)})
				if err != nil {
					t.Fatal(err)
				}
				if got.MarshalLong() != want[i].MarshalLong() {
					t.Errorf("%s: job %d.%d:\n%s\nwant:\n%s", step, c, i, got.MarshalLong(), want[i].MarshalLong())
				}
			}
			all, _ := s.Query(ctx, classad.MustParseExpr(fmt.Sprintf("ClusterId == %d", c)))
			shared, _ := s.QueryShared(ctx, classad.MustParseExpr(fmt.Sprintf("ClusterId == %d", c)))
			if classad.MarshalLongAds(all) != classad.MarshalLongAds(want) || classad.MarshalLongAds(shared) != classad.MarshalLongAds(want) {
				t.Errorf("%s: Query or QueryShared differ from Get", step)
			}
		}
		check("after submit")
		// The jobs share one cluster ad and hold only what differs from it.
		shared, _ := s.QueryShared(ctx, classad.MustParseExpr(fmt.Sprintf("ClusterId == %d", c)))
		base := shared[0].Chained()
		if base == nil {
			t.Fatal("job not chained to a cluster ad")
		}
		for _, ad := range shared {
			if ad.Chained() != base {
				t.Errorf("job %v has another cluster ad", ID(ad))
			}
			if got := ad.Own().Names(); fmt.Sprint(got) != "[GlobalJobId Index ProcId]" {
				t.Errorf("job %v holds %v itself", ID(ad), got)
			}
		}
		// An update of a cluster attribute shadows it in that job only.
		if err := s.Update(ctx, JobID{c, 1}, []Change{SetInt(AttrJobStatus, StatusHeld), SetString("Cmd", "/bin/false")}, Batched); err != nil {
			t.Fatal(err)
		}
		want[1].SetInt(AttrJobStatus, StatusHeld)
		want[1].SetString("Cmd", "/bin/false")
		check("after shadowing in job 1")
		if res, _ := s.Query(ctx, classad.MustParseExpr(`JobStatus == 5`)); len(res) != 1 || ID(res[0]) != (JobID{c, 1}) {
			t.Errorf("JobStatus == 5 matches %d jobs", len(res))
		}
		// An Unset of a cluster attribute hides it in that job only, and setting it again
		// brings it back.
		if err := s.Update(ctx, JobID{c, 2}, []Change{Unset("Cmd"), Unset("requirements")}, Durable); err != nil {
			t.Fatal(err)
		}
		want[2].Delete("Cmd")
		want[2].Delete("Requirements")
		check("after unsetting in job 2")
		if res, _ := s.Query(ctx, classad.MustParseExpr(`Cmd =?= undefined`)); len(res) != 1 || ID(res[0]) != (JobID{c, 2}) {
			t.Errorf("Cmd =?= undefined matches %d jobs", len(res))
		}
		if err := s.Update(ctx, JobID{c, 2}, []Change{SetString("CMD", "/bin/echo")}, Batched); err != nil {
			t.Fatal(err)
		}
		want[2].SetString("CMD", "/bin/echo")
		check("after setting it again in job 2")
		// A changed copy from Get or Query changes nothing stored.
		got, _ := s.Get(ctx, JobID{c, 3})
		got.SetString(AttrOwner, "mallory")
		got.Delete("Cmd")
		all, _ := s.Query(ctx, nil)
		for _, ad := range all {
			ad.SetString(AttrOwner, "mallory")
		}
		check("after changing copies")
		// The history keeps the whole ad.
		if err := s.Delete(ctx, JobID{c, 1}); err != nil {
			t.Fatal(err)
		}
		h, _ := s.History(ctx, classad.MustParseExpr(fmt.Sprintf("ClusterId == %d", c)), 0)
		if len(h) != 1 || h[0].MarshalLong() != want[1].MarshalLong() {
			t.Errorf("history: %v\nwant:\n%s", h, want[1].MarshalLong())
		}
		want = append(want[:1], want[2:]...)
		for i := range want {
			if err := s.Delete(ctx, ID(want[i])); err != nil {
				t.Fatal(err)
			}
		}
		if h, _ := s.History(ctx, nil, 0); len(h) != 4 || h[0].MarshalLong() != want[2].MarshalLong() {
			t.Errorf("history after deleting the cluster: %d ads", len(h))
		}
	})

	t.Run("Closed", func(t *testing.T) {
		s := newStore(t)
		ch := s.Subscribe(ctx)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, ok := <-ch; ok {
			t.Error("subscription open after Close")
		}
		if _, err := s.SubmitCluster(ctx, "", newJobs(1, "a")); !errors.Is(err, ErrClosed) {
			t.Errorf("submit after close: %v", err)
		}
		if err := s.Update(ctx, JobID{1, 0}, nil, Durable); !errors.Is(err, ErrClosed) {
			t.Errorf("update after close: %v", err)
		}
		if err := s.UpdateIf(ctx, JobID{1, 0}, StatusIdle, nil, Durable); !errors.Is(err, ErrClosed) {
			t.Errorf("UpdateIf after close: %v", err)
		}
		if err := s.Delete(ctx, JobID{1, 0}); !errors.Is(err, ErrClosed) {
			t.Errorf("Delete after close: %v", err)
		}
		if _, err := s.QueryShared(ctx, nil); !errors.Is(err, ErrClosed) {
			t.Errorf("QueryShared after close: %v", err)
		}
		if _, err := s.QueueID(ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("QueueID after close: %v", err)
		}
	})
}

func TestBoltReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "jobs.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	qid, err := s.QueueID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c1 := mustSubmit(t, s, "key-1", newJobs(3, "alice"))
	c2 := mustSubmit(t, s, "", newJobs(2, "bob"))
	ad, _ := s.Get(ctx, JobID{c1, 1})
	cs, _ := Hold(ad, "h", HoldUserRequest, 0, 5)
	cs = append(cs, SetString("EC2KeyPairFile", "/k"))
	if err := s.Update(ctx, JobID{c1, 1}, cs, Durable); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, JobID{c1, 2}, []Change{SetString("Batched", "yes")}, Batched); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, JobID{c2, 0}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all, _ := s.Query(ctx, nil)
	if len(all) != 4 {
		t.Fatalf("%d jobs after reopen, want 4", len(all))
	}
	got, _ := s.Get(ctx, JobID{c1, 1})
	if Status(got) != StatusHeld || got.EvalAttr("EC2KeyPairFile").String() != `"/k"` {
		t.Errorf("durable update lost: %s", got)
	}
	if nested, ok := got.EvalAttr(AttrNumHoldsByReason).ClassAdValue(); !ok || nested.EvalAttr("UserRequest").String() != "1" {
		t.Errorf("NumHoldsByReason lost: %s", got)
	}
	if got, _ := s.Get(ctx, JobID{c1, 2}); got.EvalAttr("Batched").String() != `"yes"` {
		t.Errorf("batched update lost over a clean close: %s", got)
	}
	if h, _ := s.History(ctx, nil, 0); len(h) != 1 || ID(h[0]) != (JobID{c2, 0}) {
		t.Errorf("history after reopen: %v", h)
	}
	if n, _ := s.NextClusterID(ctx); n != c2+1 {
		t.Errorf("NextClusterID = %d, want %d", n, c2+1)
	}
	if c := mustSubmit(t, s, "key-1", newJobs(3, "alice")); c != c1 {
		t.Errorf("submit key forgotten over reopen: %d", c)
	}
	if got, _ := s.QueueID(ctx); got != qid {
		t.Errorf("QueueID after reopen = %q, want %q", got, qid)
	}
}

// A durable update is on disk when Update returns, even if the process dies then: the
// copy of the file taken before Close must hold it.
func TestBoltDurableWithoutClose(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "jobs.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := mustSubmit(t, s, "", newJobs(2, "a"))
	if err := s.Update(ctx, JobID{c, 1}, []Change{SetString("EC2InstanceName", "i-123")}, Durable); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, "snap.db")
	copyFile(t, path, snap)
	s2, err := OpenBolt(snap)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err := s2.Get(ctx, JobID{c, 1})
	if err != nil || got.EvalAttr("EC2InstanceName").String() != `"i-123"` {
		t.Errorf("durable update not on disk: %v %v", got, err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}

	// So is a Delete, though it shares the group commit: the job is out of the queue
	// and in the history of a copy taken the moment it returns.
	if err := s.Delete(ctx, JobID{c, 0}); err != nil {
		t.Fatal(err)
	}
	copyFile(t, path, snap)
	s3, err := OpenBolt(snap)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if _, err := s3.Get(ctx, JobID{c, 0}); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted job still queued on disk: %v", err)
	}
	if h, err := s3.History(ctx, nil, 0); err != nil || len(h) != 1 || ID(h[0]) != (JobID{c, 0}) {
		t.Errorf("history on disk after Delete returned: %v %v", h, err)
	}
}

func TestBoltLayoutVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	setLayout(t, path, "99")
	if _, err := OpenBolt(path); err == nil {
		t.Error("opened a file of another layout")
	}
}
