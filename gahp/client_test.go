package gahp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// pair runs a Server and a Client connected by pipes.
func pair(t *testing.T, opts ServerOptions, copts ClientOptions) *Client {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	if opts.Version == "" {
		opts.Version = testVersion
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewServer(opts).Serve(ctx, inR, outW)
		outW.Close()
	}()
	t.Cleanup(func() {
		cancel()
		inW.Close()
		<-done
	})
	cctx, ccancel := context.WithTimeout(context.Background(), generous)
	defer ccancel()
	c, err := NewClient(cctx, outR, inW, copts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientCalls(t *testing.T) {
	t.Parallel()
	c := pair(t, ServerOptions{Commands: testCommands(nil), Statistics: func() []string { return []string{"0", "0", "0", "0"} }}, ClientOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), generous)
	defer cancel()
	if c.Version() != testVersion {
		t.Errorf("Version = %q", c.Version())
	}
	if !c.Supports("echo") || !c.Supports(CmdAsyncModeOn) || c.Supports("EC2_VM_START") {
		t.Errorf("Commands = %q", c.Commands())
	}
	got, err := c.Call(ctx, "ECHO", "a b", "", "NULL", "x\ny\\")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"0", "a b", "", "NULL", "x\ny\\"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ECHO = %q, want %q", got, want)
	}
	stats, err := c.Statistics(ctx)
	if err != nil || len(stats) != 4 {
		t.Errorf("Statistics = %q, %v", stats, err)
	}
	var rej *RejectedError
	if _, err := c.Call(ctx, "NOSUCH"); !errors.As(err, &rej) || rej.Reply[0] != "E" {
		t.Errorf("unknown command: %v, want a RejectedError with E", err)
	}
	if r, err := c.Call(ctx, "PANIC"); err != nil || r[0] != ResultFailure || r[1] != "E_INTERNAL" {
		t.Errorf("PANIC = %q, %v", r, err)
	}
	if err := c.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(generous):
		t.Error("server output did not end after QUIT")
	}
	if _, err := c.Call(ctx, "ECHO"); !errors.Is(err, ErrClosed) {
		t.Errorf("Call after close: %v, want ErrClosed", err)
	}
}

// TestClientConcurrent: many callers at once each get their own result.
func TestClientConcurrent(t *testing.T) {
	t.Parallel()
	c := pair(t, ServerOptions{Commands: testCommands(nil), Workers: 8}, ClientOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), generous)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i := range 1000 {
		wg.Go(func() {
			want := fmt.Sprintf("v%d", i)
			got, err := c.Call(ctx, "ECHO", want)
			if err != nil {
				errs <- err
				return
			}
			if len(got) != 2 || got[1] != want {
				errs <- fmt.Errorf("call %d got %q", i, got)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestClientPollsWithoutAsync: a server that never sends R (async off) is still polled.
func TestClientPollsWithoutAsync(t *testing.T) {
	t.Parallel()
	c := pair(t, ServerOptions{Commands: testCommands(nil)}, ClientOptions{PollInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), generous)
	defer cancel()
	if r, err := c.Command(ctx, CmdAsyncModeOff); err != nil || r[0] != "S" {
		t.Fatalf("ASYNC_MODE_OFF = %q, %v", r, err)
	}
	if r, err := c.Call(ctx, "ECHO", "x"); err != nil || r[1] != "x" {
		t.Errorf("ECHO = %q, %v", r, err)
	}
}

func TestClientBanner(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), generous)
	defer cancel()
	if _, err := NewClient(ctx, strings.NewReader("hello there\n"), io.Discard, ClientOptions{}); err == nil || !strings.Contains(err.Error(), "hello there") {
		t.Errorf("garbage banner: %v, want an error quoting the line", err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	r, w := io.Pipe()
	defer w.Close()
	if _, err := NewClient(short, r, io.Discard, ClientOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("silent server: %v, want a deadline error", err)
	}
}
