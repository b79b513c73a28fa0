package faults

import (
	"maps"
	"strings"
	"sync"
)

// ActionStats counts one action's calls. Calls counts requests that reached Before;
// Throttled, Faults and Dropped count the faults injected into them; Errors counts every
// error answer the server recorded, by code (injected faults included).
type ActionStats struct {
	Calls     int64            `json:"calls"`
	Throttled int64            `json:"throttled"`
	Faults    int64            `json:"faults"`
	Dropped   int64            `json:"dropped"`
	Errors    map[string]int64 `json:"errors,omitempty"`
}

// maxStatsActions bounds the distinct action names counted. Names come from clients, so
// a client sending random Action values must not grow the table without bound; beyond the
// bound (far above EC2's few hundred actions) names count under OtherAction.
const maxStatsActions = 1000

// OtherAction is the stats entry for action names beyond maxStatsActions.
const OtherAction = "(other)"

// statsTable is the counters, under their own lock so counting never waits on a
// throttling decision.
type statsTable struct {
	mu      sync.Mutex
	actions map[string]*ActionStats
}

func (t *statsTable) add(action string, f func(*ActionStats)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.actions == nil {
		t.actions = map[string]*ActionStats{}
	}
	s := t.actions[action]
	if s == nil {
		if len(t.actions) >= maxStatsActions {
			action = OtherAction
			s = t.actions[action]
		}
		if s == nil {
			s = &ActionStats{}
			t.actions[action] = s
		}
	}
	f(s)
}

// Record counts the answer the server sent for action: "ok" (or "") counts nothing more
// than the call, "error:<Code>" counts one <Code> in Errors, and any other outcome counts
// under its own name in Errors, so nothing recorded is lost.
func (in *Injector) Record(action, outcome string) {
	if outcome == "ok" || outcome == "" {
		return
	}
	code := strings.TrimPrefix(outcome, "error:")
	in.stats.add(action, func(s *ActionStats) {
		if s.Errors == nil {
			s.Errors = map[string]int64{}
		}
		s.Errors[code]++
	})
}

// Stats gives a copy of the counters, by action.
func (in *Injector) Stats() map[string]ActionStats {
	t := &in.stats
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]ActionStats, len(t.actions))
	for a, s := range t.actions {
		c := *s
		c.Errors = maps.Clone(s.Errors)
		out[a] = c
	}
	return out
}

// ResetStats sets every counter back to zero.
func (in *Injector) ResetStats() {
	t := &in.stats
	t.mu.Lock()
	defer t.mu.Unlock()
	t.actions = nil
}
