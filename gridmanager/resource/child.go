package resource

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/ec2grid/ec2grid/gahp"
)

// maxStderrLine bounds one logged line of the child's standard error.
const maxStderrLine = 64 << 10

// child is one running gahp: its pipes and how to end it.
type child struct {
	stdin  io.WriteCloser
	stdout io.ReadCloser
	pid    int
	// kill ends the child at once and closes our ends of its pipes; safe to call twice.
	kill func()
	// exited is closed once the child has exited; err then says how.
	exited <-chan struct{}
	err    func() error
}

// execGahp starts the ec2_gahp binary. Its stdout and stderr are plain pipes we own (not
// exec's), so reading them never races with Wait; stderr lines go to the log.
func (r *Resource) execGahp(ctx context.Context) (*child, error) {
	if r.opts.GahpPath == "" {
		return nil, errors.New("no gahp binary configured (EC2_GAHP)")
	}
	cmd := exec.Command(r.opts.GahpPath, r.opts.GahpArgs...)
	cmd.Env = append(os.Environ(), r.opts.GahpEnv...)
	// The child dies with the daemon: an ec2_gahp orphaned by a SIGKILLed daemon would go
	// on with its commands in flight (a start, a key pair file written) while the
	// restarted daemon has already decided they never happened, which the crash loop saw
	// as a job with two instances and a key file left behind (docs/chaos.md).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if cred, err := ownerCredential(r.key.Owner); err != nil {
		return nil, err
	} else if cred != nil {
		cmd.SysProcAttr.Credential = cred
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("gahp stdin pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("gahp stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("gahp stderr pipe: %w", err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	err = cmd.Start()
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("start %s: %w", r.opts.GahpPath, err)
	}
	pid := cmd.Process.Pid
	go r.logStderr(errR, pid)

	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	var once sync.Once
	return &child{
		stdin:  inW,
		stdout: outR,
		pid:    pid,
		exited: exited,
		err:    func() error { <-exited; return waitErr },
		kill: func() {
			once.Do(func() {
				select {
				case <-exited:
				default:
					cmd.Process.Kill() // by its pid, held by cmd
				}
				inW.Close()
				outR.Close()
			})
		},
	}, nil
}

// ownerCredential returns the credential to run the child as owner: only when this process
// is root and owner is another user; otherwise the child runs as we do.
func ownerCredential(owner string) (*syscall.Credential, error) {
	if owner == "" || os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(owner)
	if err != nil {
		return nil, fmt.Errorf("gahp owner %q: %w", owner, err)
	}
	if u.Uid == "0" {
		return nil, nil
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("gahp owner %q: uid %q: %w", owner, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("gahp owner %q: gid %q: %w", owner, u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (r *Resource) logStderr(rd io.ReadCloser, pid int) {
	defer rd.Close()
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 4096), maxStderrLine)
	for sc.Scan() {
		r.log.Info("gahp stderr", zap.Int("pid", pid), zap.String("line", sc.Text()))
	}
}

// startChild spawns a child and does the handshake: banner, COMMANDS and ASYNC_MODE_ON,
// all within HandshakeTimeout. On failure the child is killed and waited for.
func (r *Resource) startChild(ctx context.Context) (*child, *gahp.Client, error) {
	ch, err := r.spawn(ctx)
	if err != nil {
		return nil, nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, r.opts.HandshakeTimeout)
	defer cancel()
	// A child that exits during the handshake ends it at once rather than at the timeout.
	go func() {
		select {
		case <-ch.exited:
			cancel()
		case <-hctx.Done():
		}
	}()
	cl, err := gahp.NewClient(hctx, ch.stdout, ch.stdin, gahp.ClientOptions{Logger: r.log})
	if err != nil {
		ch.kill()
		werr := ch.err()
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, nil, fmt.Errorf("gahp handshake (pid %d): no banner and COMMANDS within %v: %w", ch.pid, r.opts.HandshakeTimeout, err)
		}
		return nil, nil, fmt.Errorf("gahp handshake (pid %d, exit %v): %w", ch.pid, werr, err)
	}
	return ch, cl, nil
}

// stopChild ends a child politely: QUIT, then the end of its input, then a kill once
// quitGrace has passed.
func (r *Resource) stopChild(ch *child, cl *gahp.Client) {
	qctx, cancel := context.WithTimeout(context.Background(), quitGrace)
	defer cancel()
	if err := cl.Close(qctx); err != nil {
		r.log.Info("gahp QUIT not answered", zap.Int("pid", ch.pid), zap.Error(err))
	}
	ch.stdin.Close()
	select {
	case <-ch.exited:
	case <-qctx.Done():
		r.log.Warn("gahp did not exit after QUIT; killing it", zap.Int("pid", ch.pid))
	}
	ch.kill()
	<-ch.exited
}

// killClient kills the child behind cl if it is still the live one (a hung child).
func (r *Resource) killClient(cl *gahp.Client) {
	r.mu.Lock()
	ch := r.curChild
	live := r.cl == cl
	r.mu.Unlock()
	if live && ch != nil {
		ch.kill()
	}
}

// Run starts the child and keeps one running until ctx ends, with the pinger, the prober
// and the stop batcher; then it stops the child (QUIT, then kill after a grace) and
// returns ctx's error. Run may be called once.
func (r *Resource) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return errors.New("resource: Run called twice")
	}
	r.running = true
	r.mu.Unlock()
	defer r.baseCancel()

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.pinger(ctx) })
	wg.Go(func() { r.prober(ctx) })
	defer func() {
		cancel()
		wg.Wait()
	}()

	backoff := r.backoffMin
	for {
		started := time.Now()
		ch, cl, err := r.startChild(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.log.Error("cannot start the gahp; will retry", zap.String("gahp", r.opts.GahpPath), zap.Error(err), zap.Duration("retry_in", backoff))
			r.setHealth(func(h *Health) { h.Up = false })
		} else {
			r.log.Info("gahp started", zap.Int("pid", ch.pid), zap.String("version", cl.Version()))
			r.mu.Lock()
			r.curChild = ch
			r.mu.Unlock()
			r.publish(cl)
			r.pingNewChild()
			select {
			case <-cl.Done():
			case <-ch.exited:
			case <-ctx.Done():
			}
			r.publish(nil)
			r.mu.Lock()
			r.curChild = nil
			r.mu.Unlock()
			if ctx.Err() != nil {
				r.stopChild(ch, cl)
				return ctx.Err()
			}
			ch.kill()
			<-cl.Done()
			if time.Since(started) >= stableRun {
				backoff = r.backoffMin
			}
			r.log.Error("gahp died; restarting it", zap.Int("pid", ch.pid), zap.NamedError("exit", ch.err()), zap.NamedError("conn", cl.Err()), zap.Duration("restart_in", backoff))
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		backoff = min(2*backoff, restartBackoffMax)
	}
}
