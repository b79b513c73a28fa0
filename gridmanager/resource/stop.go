package resource

import (
	"context"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/gahp"
	"github.com/ec2grid/ec2grid/gahp/ec2"
)

// stopBatcher gathers Stop calls into EC2_VM_STOP calls without a fixed wait: when no stop
// is in flight the first goes out at once; the ones that arrive meanwhile wait for it and
// then go out together. Its guarantee: each Stop gets the answer for its own id.
type stopBatcher struct {
	r *Resource

	mu       sync.Mutex
	queue    []*stopReq
	inFlight bool
}

type stopReq struct {
	ctx  context.Context
	id   string
	done chan stopResult // buffered: the batcher never waits for a caller
}

type stopResult struct {
	res []string
	err error
}

// Stop terminates one instance with EC2_VM_STOP, batched with the other stops waiting
// (see stopBatcher). If the cloud refuses a call for several ids, each id is sent again on
// its own so every caller gets its own answer (one unknown id must not fail the others);
// a failure that says nothing about the ids (transport, a server fault) is every caller's
// answer, as a hundred single calls to a cloud that cannot be reached would only fail a
// hundred times. It returns the result fields for this id, as Call does.
func (r *Resource) Stop(ctx context.Context, instanceID string) ([]string, error) {
	if instanceID == "" {
		return nil, fmt.Errorf("resource %s: stop: no instance id", r.key.URL)
	}
	req := &stopReq{ctx: ctx, id: instanceID, done: make(chan stopResult, 1)}
	b := &r.stops
	b.mu.Lock()
	b.queue = append(b.queue, req)
	start := !b.inFlight
	b.inFlight = true
	b.mu.Unlock()
	if start {
		go b.loop()
	}
	select {
	case out := <-req.done:
		return out.res, out.err
	case <-ctx.Done():
		return nil, fmt.Errorf("resource %s: stop %s: %w", r.key.URL, instanceID, ctx.Err())
	}
}

// take removes up to maxStopBatch waiting requests whose callers still wait, or reports
// that none is left (and the loop ends).
func (b *stopBatcher) take() []*stopReq {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*stopReq
	ids := map[string]bool{}
	rest := b.queue[:0]
	for _, q := range b.queue {
		switch {
		case q.ctx.Err() != nil:
			// The caller has gone: nothing to send for it.
		case ids[q.id] || len(ids) < maxStopBatch:
			ids[q.id] = true
			out = append(out, q)
		default:
			rest = append(rest, q)
		}
	}
	clear(b.queue[len(rest):])
	b.queue = rest
	if len(out) == 0 {
		b.inFlight = false
	}
	return out
}

func (b *stopBatcher) loop() {
	for {
		reqs := b.take()
		if len(reqs) == 0 {
			return
		}
		b.send(reqs)
	}
}

// send makes one EC2_VM_STOP for reqs' ids, and falls back to one call per id if a call
// for several fails.
func (b *stopBatcher) send(reqs []*stopReq) {
	r := b.r
	var ids []string
	byID := map[string][]*stopReq{}
	for _, q := range reqs {
		if byID[q.id] == nil {
			ids = append(ids, q.id)
		}
		byID[q.id] = append(byID[q.id], q)
	}
	answer := func(id string, res []string, err error) {
		for _, q := range byID[id] {
			q.done <- stopResult{res, err}
		}
	}
	res, err := r.Call(r.base, Medium, ec2.CmdStop, ids...)
	if len(ids) == 1 || err != nil || len(res) == 0 || res[0] == gahp.ResultSuccess || transportCode(res) {
		for _, id := range ids {
			answer(id, res, err)
		}
		r.ProbeSoon()
		return
	}
	r.log.Info("batched stop failed; stopping each instance on its own", zap.Int("instances", len(ids)), zap.Strings("result", res), zap.Error(err))
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			res, err := r.Call(r.base, Medium, ec2.CmdStop, id)
			answer(id, res, err)
		})
	}
	wg.Wait()
	r.ProbeSoon()
}
