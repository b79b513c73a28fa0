// Package runner runs an instance's user-data script as a local process: in its own
// directory and process group, as an unprivileged user when the cloud runs as root, with its
// output kept as the instance's console output.
package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const (
	// ConsoleLimit is how much console output is kept: the last 64 KiB, the most EC2's
	// GetConsoleOutput returns.
	ConsoleLimit = 64 << 10

	// ConsoleFile is the file in the instance's directory that holds its console output
	// (stdout and stderr together), at most 2*ConsoleLimit bytes, ending with the newest.
	ConsoleFile = "console.log"

	// ScriptFile is the file in the instance's directory the user-data script is written to
	// and run from.
	ScriptFile = "user-data"

	// DefaultUser is who instance processes run as when the cloud runs as root and the spec
	// names no one: the account Unix systems keep for processes that must own nothing.
	DefaultUser = "nobody"

	// defaultPath is the PATH an instance starts with: the system's ordinary directories,
	// nothing inherited from the cloud's own environment.
	defaultPath = "/usr/local/bin:/usr/bin:/bin"

	// consoleCompactAt is the size at which the console file is cut back to its last
	// ConsoleLimit bytes. Cutting only at twice the limit moves each byte at most once more,
	// instead of rewriting 64 KiB on every write once the limit is reached.
	consoleCompactAt = 2 * ConsoleLimit

	// copyBufSize is the read size from the output pipe: small, because a cloud may run
	// thousands of instances, each with its own copier.
	copyBufSize = 4 << 10

	// drainGrace is how long, after the script and its process group are gone, output is
	// still read from the pipe. Only a process that left the group (setsid) can hold the
	// pipe open longer; its output after that is dropped rather than keep the instance from
	// ever finishing.
	drainGrace = 2 * time.Second

	// textBusyRetries and textBusyBackoff bound the retries of exec when it fails with
	// ETXTBSY: the script was just written, and a fork by another goroutine in that window
	// holds a copy of the write descriptor until its exec (golang.org/issue/22315). The
	// window is microseconds; 20 retries backing off from 10 ms to 100 ms wait under 2 s.
	textBusyRetries = 20
	textBusyBackoff = 10 * time.Millisecond

	// dirParentMode is the mode of parent directories Start creates: searchable by the
	// instance user, so it can reach its own directory, but not listable.
	dirParentMode = 0o711
)

// Spec says what to run for one instance.
type Spec struct {
	InstanceID string
	Script     []byte   // starts with "#!"
	Dir        string   // the instance's own directory (created 0700, owned by the user it runs as)
	Env        []string // extra environment, e.g. AWS_EC2_METADATA_SERVICE_ENDPOINT=...
	User       string   // when running as root: the unprivileged user to run as (default "nobody")
	AllowRoot  bool     // permit running as root (only with --allow-root-instances)
}

// Process is a running (or finished) instance script. It guarantees that once Done is
// closed, the script has exited, every process left in its process group has been sent
// SIGKILL, ExitCode is final, and Console holds all output that was read.
type Process struct {
	id      string
	pid     int
	done    chan struct{}
	exit    int // written before done is closed
	console *console

	// mu orders Kill against the end of the process: once over is set, the process group
	// id may belong to someone else, so Kill must not signal it.
	mu   sync.Mutex
	over bool
}

// Start writes spec.Script into spec.Dir and starts it in its own process group, output to
// Dir/console.log, environment PATH and HOME=Dir plus spec.Env. When the cloud runs as root
// and spec.AllowRoot is false, the script runs as spec.User (default "nobody"), who owns Dir
// and its files; a User that is uid 0 is refused. Not running as root, the script runs as the
// cloud's own user. ctx bounds only starting: the process outlives it (an instance outlives
// the request that launched it); Kill ends it.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.InstanceID, err)
	}
	if !bytes.HasPrefix(spec.Script, []byte("#!")) {
		return nil, fmt.Errorf("start %s: user data is not a script (does not start with #!)", spec.InstanceID)
	}
	if spec.Dir == "" {
		return nil, fmt.Errorf("start %s: no instance directory", spec.InstanceID)
	}
	dir, err := filepath.Abs(spec.Dir)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.InstanceID, err)
	}
	as, err := identity(spec, os.Geteuid())
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.InstanceID, err)
	}
	if err := prepareDir(dir, as); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.InstanceID, err)
	}
	script := filepath.Join(dir, ScriptFile)
	if err := writeScript(script, spec.Script, as); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.InstanceID, err)
	}
	con, err := openConsole(filepath.Join(dir, ConsoleFile), as)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.InstanceID, err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		con.finish()
		return nil, fmt.Errorf("start %s: output pipe: %w", spec.InstanceID, err)
	}
	env := append([]string{"PATH=" + defaultPath, "HOME=" + dir}, spec.Env...)
	cmd, err := startCmd(ctx, script, dir, env, pw, as)
	pw.Close() // the child holds its own copy; ours would keep the pipe from ever ending
	if err != nil {
		pr.Close()
		con.finish()
		return nil, fmt.Errorf("start %s: %w", spec.InstanceID, err)
	}
	p := &Process{id: spec.InstanceID, pid: cmd.Process.Pid, done: make(chan struct{}), exit: -1, console: con}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		con.copyFrom(pr)
	}()
	go p.wait(cmd, pr, copied)
	return p, nil
}

// PID is the script's process id, which is also its process group id.
func (p *Process) PID() int { return p.pid }

// Done is closed when the process has exited (see Process for what else then holds).
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitCode is the script's exit status once Done is closed: 0..255 from exit, 128+n when
// killed by signal n (the shell's convention, so a killed instance is not mistaken for one
// that failed), -1 before Done.
func (p *Process) ExitCode() int {
	select {
	case <-p.done:
		return p.exit
	default:
		return -1
	}
}

// Kill sends SIGKILL to the script's whole process group. It is idempotent, and a no-op
// once the process is over.
func (p *Process) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.over {
		return nil
	}
	if err := killGroup(p.pid); err != nil {
		return fmt.Errorf("kill %s (process group %d): %w", p.id, p.pid, err)
	}
	return nil
}

// Console returns the output so far: at most ConsoleLimit bytes, the last ones.
func (p *Process) Console() ([]byte, error) {
	b, err := p.console.tail()
	if err != nil {
		// b is still what could be kept, say before the disk filled.
		return b, fmt.Errorf("console of %s: %w", p.id, err)
	}
	return b, nil
}

// wait reaps the script, ends what is left of its group, drains its output and closes done.
func (p *Process) wait(cmd *exec.Cmd, pr *os.File, copied <-chan struct{}) {
	_ = cmd.Wait() // the status is in ProcessState; Wait's error only restates it
	p.exit = exitCode(cmd.ProcessState)
	p.mu.Lock()
	// The instance is over when its script exits: whatever the script left running in its
	// group goes with it, so no process outlives the instance the cloud reports terminated.
	_ = killGroup(p.pid) // best effort: an empty group is the usual case
	p.over = true
	p.mu.Unlock()
	timer := time.NewTimer(drainGrace)
	select {
	case <-copied:
	case <-timer.C:
		pr.Close() // unblocks the copier's read
		<-copied
	}
	timer.Stop()
	pr.Close()
	p.console.finish()
	close(p.done)
}

func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// killGroup sends SIGKILL to process group pgid; a group already gone is not an error.
func killGroup(pgid int) error {
	if pgid <= 0 {
		return fmt.Errorf("no process group %d", pgid)
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// Alive reports whether process pid is still running, for recovery after a cloud restart.
// A zombie (exited, not yet reaped) is not running. Like any pid check it cannot tell a
// process from a later one that reused its pid.
func Alive(pid int) bool {
	if pid <= 0 {
		return false // kill(0) and kill(-n) address groups, not a process
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no /proc to ask: kill's answer stands
	}
	state, ok := procState(stat)
	return !ok || state != 'Z' && state != 'X'
}

// procState returns the state letter of a /proc/<pid>/stat line: "pid (comm) S ...". comm
// may itself contain ") ", so the state follows the last ')'.
func procState(stat []byte) (byte, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) || stat[i+1] != ' ' {
		return 0, false
	}
	return stat[i+2], true
}

// runAs is who the script runs as: cred nil means the cloud's own user, and then nothing
// is chowned.
type runAs struct {
	cred *syscall.Credential
	name string
}

// identity decides who runs spec's script, given the cloud's effective uid.
func identity(spec Spec, euid int) (runAs, error) {
	if euid != 0 || spec.AllowRoot {
		return runAs{}, nil
	}
	name := spec.User
	if name == "" {
		name = DefaultUser
	}
	u, err := user.Lookup(name)
	if err != nil {
		return runAs{}, fmt.Errorf("instance user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return runAs{}, fmt.Errorf("instance user %s: %w", name, err)
	}
	if uid == 0 {
		return runAs{}, fmt.Errorf("instance user %s is root; running instances as root needs --allow-root-instances", name)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	// Supplementary groups are set explicitly: an empty list drops the cloud's own (root's)
	// groups, which the child would otherwise keep.
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil && uint32(n) != cred.Gid {
				cred.Groups = append(cred.Groups, uint32(n))
			}
		}
	}
	return runAs{cred: cred, name: name}, nil
}

// prepareDir creates dir 0700 owned by the instance user, and checks that user can reach it.
func prepareDir(dir string, as runAs) error {
	if err := os.MkdirAll(filepath.Dir(dir), dirParentMode); err != nil {
		return fmt.Errorf("instance directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("instance directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("instance directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("instance directory %s is not a directory", dir)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("instance directory: %w", err)
	}
	if as.cred == nil {
		return nil
	}
	if err := os.Lchown(dir, int(as.cred.Uid), int(as.cred.Gid)); err != nil {
		return fmt.Errorf("instance directory: %w", err)
	}
	return reachable(dir, as)
}

// reachable checks, by the owner/group/other bits, that the instance user may search every
// directory above dir: otherwise the script would fail to start with a bare EACCES, far
// from its cause. (ACLs are not consulted; a directory they open is reported anyway.)
func reachable(dir string, as runAs) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("instance directory: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		perm := fi.Mode().Perm()
		var can bool
		switch {
		case st.Uid == as.cred.Uid:
			can = perm&0o100 != 0
		case st.Gid == as.cred.Gid || containsGid(as.cred.Groups, st.Gid):
			can = perm&0o010 != 0
		default:
			can = perm&0o001 != 0
		}
		if !can {
			return fmt.Errorf("instance user %s cannot reach its directory %s: %s is mode %o (make it searchable, e.g. chmod o+x)", as.name, dir, d, perm)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func containsGid(gs []uint32, g uint32) bool {
	for _, x := range gs {
		if x == g {
			return true
		}
	}
	return false
}

// writeScript writes the script afresh. The directory belongs to the instance user, who
// may have left a symlink or hard link at the name: removing it and creating with O_EXCL
// and O_NOFOLLOW means the cloud (perhaps root) writes only a file it just created.
func writeScript(path string, script []byte, as runAs) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("script: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o700)
	if err != nil {
		return fmt.Errorf("script: %w", err)
	}
	err = f.Chmod(0o700) // exactly 0700, whatever the umask
	if err == nil && as.cred != nil {
		err = f.Chown(int(as.cred.Uid), int(as.cred.Gid))
	}
	if err == nil {
		_, err = f.Write(script)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("script: %w", err)
	}
	return nil
}

// startCmd starts the script, retrying while exec reports ETXTBSY (see textBusyRetries).
func startCmd(ctx context.Context, script, dir string, env []string, out *os.File, as runAs) (*exec.Cmd, error) {
	backoff := textBusyBackoff
	for attempt := 0; ; attempt++ {
		cmd := &exec.Cmd{
			Path:   script,
			Args:   []string{script},
			Dir:    dir,
			Env:    env,
			Stdout: out, // an *os.File: the child writes to the pipe itself, no copying goroutine in exec
			Stderr: out,
			SysProcAttr: &syscall.SysProcAttr{
				Setpgid:    true, // its own group, so Kill reaches everything it starts
				Credential: as.cred,
			},
		}
		err := cmd.Start()
		if err == nil {
			return cmd, nil
		}
		if !errors.Is(err, syscall.ETXTBSY) || attempt >= textBusyRetries {
			return nil, fmt.Errorf("exec %s: %w", script, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("exec %s: %w", script, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*textBusyBackoff)
	}
}

// console keeps an instance's output in its console file, bounded: the file is cut back
// to its last ConsoleLimit bytes whenever it reaches consoleCompactAt. Every write and
// read goes through the one descriptor opened at start, never the path, which the
// instance user could swap.
type console struct {
	mu    sync.Mutex
	f     *os.File // nil once finished
	size  int64
	final []byte // the last ConsoleLimit bytes, kept when f is closed
	err   error  // the first write error, reported by tail
}

// openConsole opens (or creates) the console file, keeping earlier output (a restarted
// instance's console continues) unless the name is not a plain file of its own.
func openConsole(path string, as runAs) (*console, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err == nil {
		if st, ok := statOf(f); !ok || !st.Mode().IsRegular() || st.Sys().(*syscall.Stat_t).Nlink != 1 {
			f.Close()
			f, err = nil, os.ErrExist
		}
	}
	if err != nil {
		// A symlink (ELOOP), a hard link or a non-file: replace it with a file of our own.
		if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return nil, fmt.Errorf("console: %w", rerr)
		}
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
	}
	err = f.Chmod(0o600)
	if err == nil && as.cred != nil {
		err = f.Chown(int(as.cred.Uid), int(as.cred.Gid))
	}
	var size int64
	if err == nil {
		size, err = f.Seek(0, io.SeekEnd)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("console: %w", err)
	}
	c := &console{f: f, size: size}
	if size > ConsoleLimit {
		c.mu.Lock()
		err = c.compact()
		c.mu.Unlock()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("console: %w", err)
		}
	}
	return c, nil
}

func statOf(f *os.File) (os.FileInfo, bool) {
	fi, err := f.Stat()
	if err != nil {
		return nil, false
	}
	_, ok := fi.Sys().(*syscall.Stat_t)
	return fi, ok
}

// copyFrom copies r into the console until r ends.
func (c *console) copyFrom(r io.Reader) {
	buf := make([]byte, copyBufSize)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			c.write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

func (c *console) write(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil || c.err != nil {
		return
	}
	n, err := c.f.WriteAt(p, c.size)
	c.size += int64(n)
	if err == nil && c.size >= consoleCompactAt {
		err = c.compact()
	}
	if err != nil {
		c.err = err
	}
}

// compact cuts the file back to its last ConsoleLimit bytes. The caller holds mu.
func (c *console) compact() error {
	keep := make([]byte, ConsoleLimit)
	if _, err := c.f.ReadAt(keep, c.size-ConsoleLimit); err != nil {
		return err
	}
	if _, err := c.f.WriteAt(keep, 0); err != nil {
		return err
	}
	if err := c.f.Truncate(ConsoleLimit); err != nil {
		return err
	}
	c.size = ConsoleLimit
	return nil
}

// tail returns the last ConsoleLimit bytes written.
func (c *console) tail() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return bytes.Clone(c.final), c.err
	}
	n := min(c.size, ConsoleLimit)
	b := make([]byte, n)
	if _, err := c.f.ReadAt(b, c.size-n); err != nil {
		return nil, errors.Join(c.err, err)
	}
	return b, c.err
}

// finish keeps the tail in memory and closes the file: a finished Process holds no
// descriptor, however long the cloud keeps it.
func (c *console) finish() {
	b, err := c.tail()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return
	}
	c.final = b
	if err != nil && c.err == nil {
		c.err = err
	}
	if cerr := c.f.Close(); cerr != nil && c.err == nil {
		c.err = cerr
	}
	c.f = nil
}
