package gridmanager

import (
	"testing"
)

// TestTransitionTable walks the table: every state has a function and a row, every move
// names a real state, every state is reachable from stInit, and stGone (leaving the queue)
// is reachable from every state, so no job can be trapped.
func TestTransitionTable(t *testing.T) {
	for s := state(0); s < numStates; s++ {
		if stateFuncs[s] == nil {
			t.Errorf("%s has no state function", s)
		}
		if _, ok := transitions[s]; !ok {
			t.Errorf("%s has no row in the table", s)
		}
		if stateNames[s] == "" {
			t.Errorf("state %d has no name", s)
		}
		for _, to := range transitions[s] {
			if to >= numStates {
				t.Errorf("%s → %d: no such state", s, to)
			}
			if to == s {
				t.Errorf("%s → itself: waiting is not a transition", s)
			}
		}
	}
	reach := func(from state) map[state]bool {
		seen := map[state]bool{from: true}
		queue := []state{from}
		for len(queue) > 0 {
			s := queue[0]
			queue = queue[1:]
			for _, to := range transitions[s] {
				if !seen[to] {
					seen[to] = true
					queue = append(queue, to)
				}
			}
		}
		return seen
	}
	fromInit := reach(stInit)
	for s := state(0); s < numStates; s++ {
		if !fromInit[s] {
			t.Errorf("%s is unreachable from init", s)
		}
		if !reach(s)[stGone] {
			t.Errorf("no way out of %s to gone", s)
		}
		if s != stGone && s != stHold && !allowed(s, stHold) {
			t.Errorf("%s cannot be held", s)
		}
	}
	if len(transitions[stGone]) != 0 {
		t.Error("gone is not terminal")
	}
}

// TestStateFuncsMoveOnlyByTheTable: in strict mode step panics on a move outside the
// table; drive a job through a whole life that way.
func TestStateFuncsMoveOnlyByTheTable(t *testing.T) {
	h := newHarness(t, openstack)
	j := h.load(`EC2KeyPairFile = "`+h.dir+`/k.pem"`, `EC2TagNames = "Name"`, `EC2TagName = "x"`)
	h.cloud.runAll()
	h.pass()
	h.cloud.set(j.instanceID, "terminated", "Client.InstanceInitiatedShutdown")
	h.pass()
	if j.state != stGone {
		t.Errorf("state %s", j.state)
	}
	if s := h.m.Stats(); s.Illegal != 0 || s.Starts != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestStateString(t *testing.T) {
	if stStartVM.String() != "start-vm" || state(200).String() != "state(?)" {
		t.Error(stStartVM.String(), state(200).String())
	}
}
