// Package testbin is the one harness of the tests and drivers that build the real
// ec2grid binaries and run them as child processes: it builds a set of commands once per
// test binary, starts and stops children (`ec2grid cloud`, `ec2grid daemon`, the
// condor_* commands) and waits for them to be ready, so e2e/, cmd/..., bench/chaos and
// cloud/interop start, wait for and stop the binaries the same careful way.
//
// It lives in the module's top-level internal/ rather than in cmd/internal/e2e because
// its callers are outside cmd/ (e2e/, bench/chaos, cloud/interop), which Go's internal
// rule keeps from importing anything under cmd/internal/. It does not import "testing":
// bench/chaos is a program, not a test, and a test's helpers take the small TB interface
// that *testing.T satisfies.
package testbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// Module is the import path the commands are built from: Module + "/cmd/" + name.
const Module = "github.com/ec2grid/ec2grid"

// TB is the part of testing.TB the helpers use, so this package does not import
// "testing" (bench/chaos is a program).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// GoTool is the go command to build with: the one on PATH (the toolchain `go test` ran
// from), else the one in the running toolchain's GOROOT.
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// Set is a set of commands built with one `go build` into a temporary directory, at most
// once per process however many tests ask: the directory and the error of the first
// build are every later caller's. Main removes the directory when the tests end.
type Set struct {
	// Prefix names the temporary directory (os.MkdirTemp's pattern).
	Prefix string
	// Commands are the names under cmd/ to build.
	Commands []string
	// Race builds them with the race detector.
	Race bool
	// OnFirstUse builds when a test first asks (Dir) instead of before the tests in Main,
	// so a run that selects tests needing no binary, or -short, does not pay for it.
	OnFirstUse bool

	once sync.Once
	dir  string
	err  error
}

// Dir builds the set on first use and returns its directory.
func (s *Set) Dir() (string, error) {
	s.once.Do(func() { s.dir, s.err = build(s.Prefix, s.Race, s.Commands) })
	return s.dir, s.err
}

// Must is Dir for a test: a build failure fails it.
func (s *Set) Must(t TB) string {
	t.Helper()
	dir, err := s.Dir()
	if err != nil {
		t.Fatalf("%v", err)
	}
	return dir
}

// Path is the built command name (built on first use; a failure fails the test).
func (s *Set) Path(t TB, name string) string {
	t.Helper()
	return filepath.Join(s.Must(t), name)
}

// remove deletes the set's directory if it was built.
func (s *Set) remove() {
	s.once.Do(func() { s.err = errors.New("testbin: set used after the tests ended") })
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// build runs one `go build -o dir/ [-race] Module/cmd/c...` into a fresh directory.
func build(prefix string, race bool, commands []string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", fmt.Errorf("build %v: %w", commands, err)
	}
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	if race {
		args = append(args, "-race")
	}
	for _, c := range commands {
		args = append(args, Module+"/cmd/"+c)
	}
	if out, err := exec.Command(GoTool(), args...).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go build %v: %w\n%s", commands, err, out)
	}
	return dir, nil
}

// Runner is what Main runs: *testing.M.
type Runner interface{ Run() int }

// Main is a TestMain: it builds every set not built on first use (on failure it says so
// and exits 1 before any test runs), runs the tests, removes the sets' directories and
// exits with the tests' status.
func Main(m Runner, sets ...*Set) {
	os.Exit(mainCode(m, sets...))
}

func mainCode(m Runner, sets ...*Set) int {
	defer func() {
		for _, s := range sets {
			s.remove()
		}
	}()
	for _, s := range sets {
		if s.OnFirstUse {
			continue
		}
		if _, err := s.Dir(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}
