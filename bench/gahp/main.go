// Command gahp is the EC2 GAHP benchmark: its one job is to measure how fast one ec2_gahp
// process starts and then stops instances on a cloud with latency, the figure HTCondor's
// ec2_gahp is compared on (one call at a time, 100 ms apart: at most 10 starts/s).
//
//	go run ./bench/gahp [-n 10000] [-latency 50ms] [-workers 32] [-gahp bin/ec2_gahp] [-ec2grid bin/ec2grid] [-fake]
//
// It runs `ec2grid cloud` with --fault-latency (or, with -fake, the in-process ec2test
// endpoint with the same latency), starts ec2_gahp, sends n EC2_VM_START requests at once
// (each with its own client token, as the gridmanager does), waits for every result, then
// sends n EC2_VM_STOP requests the same way. It prints wall time and rate for each phase and
// the gahp's STATISTICS, and fails if any request failed. Build the binaries first
// (make build).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ec2grid/ec2grid/gahp"
	"github.com/ec2grid/ec2grid/gahp/ec2"
	"github.com/ec2grid/ec2grid/gahp/ec2/ec2test"
)

// cloudStartTimeout bounds the wait for the cloud's URL line.
const cloudStartTimeout = 60 * time.Second

// phaseTimeout bounds one phase: far above any plausible run, so a stuck gahp fails the
// benchmark instead of hanging it.
const phaseTimeout = 30 * time.Minute

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench/gahp: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("n", 10_000, "starts, then as many stops")
	latency := flag.Duration("latency", 50*time.Millisecond, "latency the cloud adds to every call")
	workers := flag.Int("workers", gahp.DefaultWorkers, "ec2_gahp -m: requests in flight")
	gahpBin := flag.String("gahp", "bin/ec2_gahp", "the ec2_gahp `binary`")
	cloudBin := flag.String("ec2grid", "bin/ec2grid", "the ec2grid `binary` (its cloud command)")
	fake := flag.Bool("fake", false, "use the in-process ec2test endpoint instead of ec2grid cloud")
	flag.Parse()

	tmp, err := os.MkdirTemp("", "bench-gahp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var url, akFile, skFile, cloudName string
	if *fake {
		f := ec2test.NewServer(ec2test.Options{Latency: *latency})
		defer f.Close()
		url, cloudName = f.URL, "ec2test fake"
		akFile, skFile = filepath.Join(tmp, "ak"), filepath.Join(tmp, "sk")
		os.WriteFile(akFile, []byte("AKIDBENCH\n"), 0o600)
		os.WriteFile(skFile, []byte("benchsecret\n"), 0o600)
	} else {
		var stop func()
		url, stop, err = startCloud(*cloudBin, filepath.Join(tmp, "cloud"), *latency)
		if err != nil {
			return err
		}
		defer stop()
		cloudName = "ec2grid cloud (aws flavor)"
		akFile = filepath.Join(tmp, "cloud", "credentials", "demo", "AccessKeyID")
		skFile = filepath.Join(tmp, "cloud", "credentials", "demo", "SecretAccessKey")
	}

	// Default knobs: the limiter starts at its ceiling and only slows on throttling, which
	// this cloud does not do.
	cmd := exec.Command(*gahpBin, "-m", fmt.Sprint(*workers), "-f", filepath.Join(tmp, "EC2GahpLog"))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start ec2_gahp: %w", err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), cloudStartTimeout)
	c, err := gahp.NewClient(ctx, stdout, stdin, gahp.ClientOptions{})
	cancel()
	if err != nil {
		return err
	}

	fmt.Printf("cloud: %s, latency %v; ec2_gahp -m %d; n = %d\n", cloudName, *latency, *workers, *n)
	prefix := []string{url, akFile, skFile}
	ids := make([]string, *n)
	startWall, err := phase(c, *n, func(i int) (string, []string) {
		token := fmt.Sprintf("bench-%08d-%d", i, time.Now().UnixNano())
		return ec2.CmdStart, append(prefix, "ami-12345678", gahp.Null, gahp.Null, gahp.Null, "m1.small", gahp.Null, gahp.Null,
			gahp.Null, token, gahp.Null, gahp.Null, gahp.Null, "1", gahp.Null, gahp.Null, gahp.Null)
	}, func(i int, res []string) error {
		if len(res) != 2 || res[0] != "0" {
			return fmt.Errorf("start %d: %q", i, res)
		}
		ids[i] = res[1]
		return nil
	})
	if err != nil {
		return err
	}
	report("EC2_VM_START", *n, startWall)
	stopWall, err := phase(c, *n, func(i int) (string, []string) {
		return ec2.CmdStop, append(prefix, ids[i])
	}, func(i int, res []string) error {
		if len(res) != 1 || res[0] != "0" {
			return fmt.Errorf("stop %d: %q", i, res)
		}
		return nil
	})
	if err != nil {
		return err
	}
	report("EC2_VM_STOP", *n, stopWall)
	stats, err := c.Statistics(context.Background())
	if err != nil {
		return err
	}
	fmt.Printf("STATISTICS (requests, distinct, throttled, expired): %s\n", strings.Join(stats, " "))
	return c.Close(context.Background())
}

func report(what string, n int, wall time.Duration) {
	fmt.Printf("%-13s %6d in %8.2f s = %7.1f/s\n", what, n, wall.Seconds(), float64(n)/wall.Seconds())
}

// phase sends n requests without waiting for results, then waits for all of them; its wall
// time runs from the first send to the last result.
func phase(c *gahp.Client, n int, req func(int) (string, []string), check func(int, []string) error) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), phaseTimeout)
	defer cancel()
	start := time.Now()
	chans := make([]<-chan []string, n)
	for i := range n {
		cmd, args := req(i)
		_, ch, err := c.Submit(ctx, cmd, args...)
		if err != nil {
			return 0, err
		}
		chans[i] = ch
	}
	var errs []error
	for i, ch := range chans {
		select {
		case res := <-ch:
			if err := check(i, res); err != nil && len(errs) < 10 {
				errs = append(errs, err)
			}
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return time.Since(start), errors.Join(errs...)
}

// startCloud runs ec2grid cloud on a free loopback port and returns its URL and a stop
// function (SIGTERM to that process, then wait).
func startCloud(bin, state string, latency time.Duration) (string, func(), error) {
	cmd := exec.Command(bin, "cloud", "--listen", "127.0.0.1:0", "--state", state, "--fault-latency", latency.String(),
		"--log-level", "warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start %s: %w", bin, err)
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case url := <-line:
		if !strings.HasPrefix(url, "http") {
			stop()
			return "", nil, fmt.Errorf("ec2grid cloud printed %q", url)
		}
		return url, stop, nil
	case <-time.After(cloudStartTimeout):
		stop()
		return "", nil, fmt.Errorf("ec2grid cloud printed no URL within %v", cloudStartTimeout)
	}
}
