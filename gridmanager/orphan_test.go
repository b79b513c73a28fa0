package gridmanager

import (
	"testing"
	"time"
)

// sweep runs one orphan sweep to its end.
func (h *harness) sweep() {
	h.t.Helper()
	rs := h.m.resources[h.cloud.key]
	rs.nextSweep = timeZero
	h.m.maybeSweep(rs, h.clock.Now())
	if !rs.sweeping {
		h.t.Fatal("no sweep started")
	}
	h.m.onOrphans(<-h.m.orphanOut)
	h.m.inflight.Wait()
}

func (h *harness) instance(id, queue, token string) {
	h.cloud.mu.Lock()
	defer h.cloud.mu.Unlock()
	in := h.cloud.addLocked(id, []string{"ami", "NULL", "", "", "", "", "", "", token})
	in.queue, in.State = queue, "running"
}

func TestOrphanSweep(t *testing.T) {
	h := newHarness(t, amazon)
	h.cloud.filters = true
	h.m.opts.OrphanGrace = time.Minute
	j := h.load()
	h.instance("i-orphan", "q-1", "lost-token")
	h.instance("i-untagged", "", "t2")
	h.instance("i-other-queue", "q-2", "t3")
	h.sweep()
	if h.cloud.count("EC2_VM_STOP") != 0 {
		t.Fatal("stopped at first sight")
	}
	h.clock.add(30 * time.Second)
	h.sweep()
	if h.cloud.count("EC2_VM_STOP") != 0 {
		t.Fatal("stopped within the grace")
	}
	h.clock.add(31 * time.Second)
	h.sweep()
	stops := h.cloud.count("EC2_VM_STOP")
	if stops != 1 || h.cloud.lastCall("EC2_VM_STOP").Args[0] != "i-orphan" {
		t.Fatalf("%d stops, last %q", stops, h.cloud.lastCall("EC2_VM_STOP").Args)
	}
	if h.m.Stats().Orphans != 1 {
		t.Errorf("stats %+v", h.m.Stats())
	}
	for _, id := range []string{j.instanceID, "i-untagged", "i-other-queue"} {
		if st := h.cloud.insts[id].State; st == "terminated" {
			t.Errorf("%s terminated", id)
		}
	}
	// The filter check (a random queue id) ran once: the first sweep made two listings.
	if n := h.cloud.count("EC2_VM_STATUS_ALL"); n != 4 {
		t.Errorf("%d listings for three sweeps", n)
	}
}

// A cloud that ignores the tag filter would list every instance as this queue's: the
// sweep notices on its check and never stops anything there.
func TestOrphanSweepFilterIgnored(t *testing.T) {
	h := newHarness(t, amazon)
	h.m.opts.OrphanGrace = time.Minute
	h.load()
	h.instance("i-other", "q-2", "t3")
	h.sweep()
	h.clock.add(2 * time.Minute)
	rs := h.m.resources[h.cloud.key]
	rs.nextSweep = timeZero
	h.m.maybeSweep(rs, h.clock.Now())
	if rs.sweeping || h.cloud.count("EC2_VM_STOP") != 0 || rs.filterOK != -1 {
		t.Errorf("sweeping %v stops %d filterOK %d", rs.sweeping, h.cloud.count("EC2_VM_STOP"), rs.filterOK)
	}
}

// A job whose start answer was lost owns its instance through the client token, even
// before the id is known.
func TestOrphanOwnedByToken(t *testing.T) {
	h := newHarness(t, amazon)
	h.cloud.filters = true
	h.m.opts.OrphanGrace = time.Minute
	j := h.load(gid("tok-lost"), `JobStatus = 5`, `HoldReasonCode = 1`)
	if j.state != stSeekInstanceID {
		t.Fatalf("state %s", j.state)
	}
	h.instance("i-mine", "q-1", "tok-lost")
	h.sweep()
	h.clock.add(2 * time.Minute)
	h.sweep()
	if h.cloud.count("EC2_VM_STOP") != 0 {
		t.Error("stopped a job's own instance")
	}
}
