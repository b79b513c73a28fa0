package resource

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/gahp/ec2"
)

// askPing asks the pinger for a ping (at most one ask waits).
func (r *Resource) askPing() {
	select {
	case r.pingAsk <- struct{}{}:
	default:
	}
}

// pingNewChild asks for a ping at once: a new child always pings first, to learn (again)
// whether the cloud is up and its server type.
func (r *Resource) pingNewChild() {
	r.mu.Lock()
	r.newChild = true
	r.mu.Unlock()
	r.askPing()
}

// pinger sends EC2_VM_SERVER_TYPE when a child starts, when asked after transport errors
// (no more often than minPingSpacing, and not at all while down: the retry does that),
// and every PingInterval while down.
func (r *Resource) pinger(ctx context.Context) {
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.pingAsk:
			r.mu.Lock()
			fresh := r.newChild
			r.newChild = false
			h, last := r.health, r.lastPing
			r.mu.Unlock()
			if !fresh {
				if !h.Up && !h.Since.IsZero() {
					continue // down: the retry timer pings
				}
				// Up: space pings out, as HTCondor's probeDelay does.
				if !sleep(ctx, minPingSpacing-time.Since(last)) {
					return
				}
			}
		case <-retry:
		}
		r.ping(ctx)
		if ctx.Err() != nil {
			return
		}
		retry = nil
		if !r.Health().Up {
			retry = time.After(r.opts.PingInterval)
		}
	}
}

// ping sends one EC2_VM_SERVER_TYPE and records what it says:
//   - success: up, with the server type;
//   - an HTTP 401 (the code holds "(401)"): up, with AuthFailure for hold 37/9;
//   - another 4xx: up (the cloud answered; the command's own error is the job's business);
//   - anything else (transport failure, timeout, 5xx, an empty code): down.
//
// HTCondor leaves a ping that fails with a non-401 code undecided (§10.10); here every
// answer decides.
func (r *Resource) ping(ctx context.Context) {
	r.mu.Lock()
	r.lastPing = time.Now()
	r.mu.Unlock()
	res, err := r.Call(ctx, High, ec2.CmdServerType)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, ErrStopped) {
			r.log.Warn("ping failed", zap.Error(err))
		}
		return
	}
	st, err := parseServerType(res)
	var ce *CallError
	switch {
	case err == nil:
		r.setHealth(func(h *Health) { h.Up, h.ServerType, h.AuthFailure = true, st, "" })
	case errors.As(err, &ce) && strings.Contains(ce.Code, "(401)"):
		msg := fmt.Sprintf("(%s): '%s'", ce.Code, errorText(ce.Message))
		r.log.Warn("resource authentication failed", zap.String("code", ce.Code))
		r.setHealth(func(h *Health) { h.Up, h.AuthFailure = true, msg })
	case errors.As(err, &ce) && strings.Contains(ce.Code, "(4"):
		r.log.Warn("ping refused; the resource answers, so it counts as up", zap.String("code", ce.Code), zap.String("message", truncate(ce.Message)))
		r.setHealth(func(h *Health) { h.Up, h.AuthFailure = true, "" })
	default:
		r.log.Warn("ping failed: resource down", zap.Error(err))
		r.setHealth(func(h *Health) { h.Up = false })
	}
}

// errorText renders CR and LF as HTCondor's getErrorString does (\r, \n), so the text
// fits on one line of a hold reason.
func errorText(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

// setHealth applies change and tells the listener if anything changed (and on the first
// answer, so the job layer learns the server type). Coming up asks for an early probe, so
// jobs learn their instances' states without waiting a whole probe interval.
func (r *Resource) setHealth(change func(*Health)) {
	// notifyMu keeps the news in the order of the changes (the pinger and Run both report).
	r.notifyMu.Lock()
	defer r.notifyMu.Unlock()
	r.mu.Lock()
	old := r.health
	h := old
	change(&h)
	if h.Up != old.Up || old.Since.IsZero() {
		h.Since = r.opts.Now()
	}
	r.health = h
	r.mu.Unlock()
	if h == old {
		return
	}
	if h.Up != old.Up {
		r.log.Info("resource health changed", zap.Bool("up", h.Up), zap.String("server_type", h.ServerType))
	}
	if h.Up && !old.Up {
		r.ProbeSoon()
	}
	if r.l != nil {
		r.l.Health(r.key, h)
	}
}

// jittered returns d spread by ±probeJitter.
func jittered(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 + probeJitter*(2*rand.Float64()-1)))
}

// prober runs a probe pass every jittered ProbeInterval, and EarlyProbeDelay after a
// ProbeSoon (asks made until that pass starts share it). Passes are skipped while the
// resource is not known to be up.
func (r *Resource) prober(ctx context.Context) {
	periodic := time.NewTimer(jittered(r.opts.ProbeInterval))
	defer periodic.Stop()
	var early <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.probeAsk:
			if early == nil {
				early = time.After(r.opts.EarlyProbeDelay)
			}
			continue
		case <-early:
		case <-periodic.C:
		}
		early = nil
		if r.Health().Up {
			r.probe(ctx)
		}
		periodic.Reset(jittered(r.opts.ProbeInterval))
	}
}

// probe makes one pass: EC2_VM_STATUS_ALL, then EC2_VM_STATUS_ALL_SPOT while spot jobs
// exist, and hands a complete pass to the listener.
func (r *Resource) probe(ctx context.Context) {
	started := r.opts.Now()
	res, err := r.Call(ctx, High, ec2.CmdStatusAll)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("probe failed", zap.Error(err))
		}
		return
	}
	insts, err := parseStatusAll(res)
	if err != nil {
		r.log.Error("probe failed", zap.Error(err))
		return
	}
	snap := Snapshot{Started: started, Instances: insts}
	r.mu.Lock()
	spot := r.spotJobs > 0
	r.mu.Unlock()
	if spot {
		if res, err := r.Call(ctx, High, ec2.CmdStatusAllSpot); err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("spot probe failed", zap.Error(err))
		} else if sp, err := parseStatusAllSpot(res); err != nil {
			r.log.Error("spot probe failed", zap.Error(err))
		} else {
			snap.Spot, snap.SpotQueried = sp, true
		}
	}
	if r.l != nil {
		r.l.Snapshot(r.key, snap)
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
