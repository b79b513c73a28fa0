package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the daemon's whole configuration after defaults, $EC2GRID_HOME/config.hcl and
// EC2GRID_<NAME> environment variables (the environment wins over the file). Every field
// is checked and filled after Load: paths are absolute, durations and counts in range.
type Config struct {
	Home     string // EC2GRID_HOME
	File     string // Home/config.hcl, whether or not it exists
	Socket   string // EC2GRID_SOCKET
	SpoolDir string // SPOOL
	LogDir   string // LOG
	LogLevel string // EC2GRID_LOG_LEVEL: debug, info, warn or error

	QueueSuperUsers []string // QUEUE_SUPER_USERS

	ProbeInterval           time.Duration // GRIDMANAGER_JOB_PROBE_INTERVAL_EC2, else GRIDMANAGER_JOB_PROBE_INTERVAL
	ResourcePingInterval    time.Duration // GRIDMANAGER_RESOURCE_PROBE_INTERVAL
	MaxSubmittedPerResource int           // GRIDMANAGER_MAX_SUBMITTED_JOBS_PER_RESOURCE_EC2, else ..._PER_RESOURCE, else 1000
	MaxPendingRequests      int           // GRIDMANAGER_MAX_PENDING_REQUESTS
	GahpTimeout             time.Duration // GRIDMANAGER_GAHP_CALL_TIMEOUT
	GahpResponseTimeout     time.Duration // GRIDMANAGER_GAHP_RESPONSE_TIMEOUT
	EmptyResourceDelay      time.Duration // GRIDMANAGER_EMPTY_RESOURCE_DELAY
	ResourceTimeout         time.Duration // EC2_RESOURCE_TIMEOUT; 0: a cloud that is down never holds its jobs

	PeriodicExprInterval    time.Duration // PERIODIC_EXPR_INTERVAL; 0: periodic expressions are not evaluated
	MaxPeriodicExprInterval time.Duration // MAX_PERIODIC_EXPR_INTERVAL
	PeriodicExprTimeslice   float64       // PERIODIC_EXPR_TIMESLICE, in (0, 1]

	EC2Gahp          string        // EC2_GAHP: an executable's absolute path, or "" when none was found (jobs are held 39/6)
	EC2GahpRateLimit time.Duration // EC2_GAHP_RATE_LIMIT: least spacing between requests; 0: none
	EC2GahpLog       string        // EC2_GAHP_LOG
	EC2GahpDebug     string        // EC2_GAHP_DEBUG

	ConsistencyPasses int           // EC2_RECOVERY_STATUS_PASSES
	ConsistencyWindow time.Duration // EC2_RECOVERY_MIN_WAIT
	PurgeGrace        time.Duration // EC2_PURGE_GRACE
	OrphanGrace       time.Duration // EC2_ORPHAN_GRACE

	// SubmitRefuseWritableKeyFiles is SUBMIT_REFUSE_WRITABLE_KEY_FILES, read by
	// condor_submit (submit.Options.RefuseWritableKeyFiles), not by the daemon.
	SubmitRefuseWritableKeyFiles bool
}

// configFileName is the file read from EC2GRID_HOME.
const configFileName = "config.hcl"

// maxConfigSize bounds the file read into memory: the whole table fits in a few kilobytes,
// so anything near this is a wrong file (a log, a disk image), not a configuration.
const maxConfigSize = 1 << 20

// GahpEnv is the environment, beyond the daemon's own, that passes the ec2_gahp knobs to an
// ec2_gahp child: it reads them as EC2GRID_EC2_GAHP_<KNOB> (cmd/ec2_gahp), which is each
// knob's own environment form, so one spelling works for the daemon and the gahp.
func (c *Config) GahpEnv() []string {
	return []string{
		EnvName(knobEC2RateLimit) + "=" + strconv.FormatInt(c.EC2GahpRateLimit.Milliseconds(), 10),
		EnvName(knobEC2GahpLog) + "=" + c.EC2GahpLog,
		EnvName(knobEC2GahpDebug) + "=" + c.EC2GahpDebug,
	}
}

// loader is the state of one Load: the Config being filled and the values of the generic
// knobs that only apply when their _EC2 form is unset.
type loader struct {
	c         Config
	env       func(string) string
	probe     time.Duration   // GRIDMANAGER_JOB_PROBE_INTERVAL
	maxSubmit int             // GRIDMANAGER_MAX_SUBMITTED_JOBS_PER_RESOURCE
	setNames  map[string]bool // the knobs the file or the environment set
}

// Load resolves the configuration. env looks up an environment variable (os.Getenv in
// production; tests pass a map's lookup); it is also asked for HOME and PATH, to find the
// default EC2GRID_HOME and ec2_gahp. Home/config.hcl is read when it exists; its absence
// means defaults. The error lists every mistake, each naming FILE:LINE: KNOB or the
// environment variable, and what is wrong.
func Load(env func(string) string) (*Config, error) {
	l := &loader{env: env, setNames: map[string]bool{}}
	home, err := l.home()
	if err != nil {
		return nil, err
	}
	l.c.Home = home
	l.c.File = filepath.Join(home, configFileName)
	var settings []setting
	src, err := readFile(l.c.File)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if settings, err = parseFile(src, l.c.File); err != nil {
			return nil, err
		}
	}
	if err := l.apply(settings); err != nil {
		return nil, err
	}
	return &l.c, nil
}

// home is EC2GRID_HOME, absolute, or ~/.ec2grid.
func (l *loader) home() (string, error) {
	v := strings.TrimSpace(l.env(knobHome))
	if v == "" {
		user, err := l.userHome()
		if err != nil {
			return "", fmt.Errorf("%s is not set and %w", knobHome, err)
		}
		return filepath.Join(user, defaultHomeDir), nil
	}
	if strings.ContainsRune(v, 0) {
		return "", fmt.Errorf("%s: %q holds a NUL byte", knobHome, v)
	}
	if rest, ok := strings.CutPrefix(v, "~"); ok && (rest == "" || rest[0] == '/') {
		user, err := l.userHome()
		if err != nil {
			return "", fmt.Errorf("%s: %w", knobHome, err)
		}
		v = user + rest
	}
	abs, err := filepath.Abs(v)
	if err != nil {
		return "", fmt.Errorf("%s: %q: %w", knobHome, v, err)
	}
	return abs, nil
}

// userHome is the user's home directory: HOME from env, else the system's idea of it.
func (l *loader) userHome() (string, error) {
	if h := strings.TrimSpace(l.env("HOME")); h != "" {
		return filepath.Clean(h), nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("the home directory is unknown: %w", err)
	}
	return h, nil
}

// apply sets every knob from the environment, else the file, else its default, and
// derives what depends on others. It collects every mistake rather than stopping at the
// first, so one run shows them all.
func (l *loader) apply(settings []setting) error {
	fromFile := make(map[string]setting, len(settings))
	for _, s := range settings {
		fromFile[s.name] = s
	}
	var errs []string
	for _, sp := range specs() {
		if sp.envOnly {
			continue
		}
		where, v := "", ""
		if ev := strings.TrimSpace(l.env(sp.Env)); ev != "" {
			where, v = sp.Env, ev
		} else if s, ok := fromFile[sp.Name]; ok && strings.TrimSpace(s.value) != "" {
			where, v = fmt.Sprintf("%s:%d: %s", l.c.File, s.line, sp.Name), strings.TrimSpace(s.value)
		}
		if v == "" {
			continue
		}
		l.setNames[sp.Name] = true
		if err := sp.set(l, v); err != nil {
			errs = append(errs, where+": "+err.Error())
		}
	}
	errs = append(errs, l.defaults()...)
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// defaults fills what no setting gave, and checks what depends on more than one knob.
func (l *loader) defaults() []string {
	c := &l.c
	var errs []string
	orString(&c.Socket, filepath.Join(c.Home, defaultSocketName))
	orString(&c.SpoolDir, filepath.Join(c.Home, defaultSpoolName))
	orString(&c.LogDir, filepath.Join(c.Home, defaultLogName))
	orString(&c.EC2GahpLog, filepath.Join(c.LogDir, defaultGahpLogName))
	orString(&c.EC2GahpDebug, defaultGahpDebug)
	orString(&c.LogLevel, defaultLogLevel)
	if len(c.QueueSuperUsers) == 0 {
		c.QueueSuperUsers = []string{defaultSuperUser}
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = cmp(l.probe, defaultProbeInterval)
	}
	if c.MaxSubmittedPerResource == 0 {
		c.MaxSubmittedPerResource = cmp(l.maxSubmit, defaultMaxSubmitted)
	}
	orZero(&c.ResourcePingInterval, defaultResourceProbe)
	orZero(&c.MaxPendingRequests, defaultMaxPending)
	orZero(&c.GahpTimeout, defaultGahpCallTimeout)
	orZero(&c.GahpResponseTimeout, defaultGahpResponse)
	orZero(&c.MaxPeriodicExprInterval, defaultMaxPeriodic)
	orZero(&c.PeriodicExprTimeslice, defaultPeriodicTimeslice)
	orZero(&c.ConsistencyPasses, defaultRecoveryPasses)
	orZero(&c.OrphanGrace, defaultOrphanGrace)
	// These may be set to 0 on purpose, so "unset" is told by the setting's absence.
	l.unlessSet(knobPeriodic, func() { c.PeriodicExprInterval = defaultPeriodicInterval })
	l.unlessSet("GRIDMANAGER_EMPTY_RESOURCE_DELAY", func() { c.EmptyResourceDelay = defaultEmptyResourceDelay })
	l.unlessSet(knobEC2RateLimit, func() { c.EC2GahpRateLimit = defaultGahpRateLimit })
	l.unlessSet("EC2_RECOVERY_MIN_WAIT", func() { c.ConsistencyWindow = defaultRecoveryMinWait })
	l.unlessSet("EC2_PURGE_GRACE", func() { c.PurgeGrace = defaultPurgeGrace })
	if c.EC2Gahp == "" && !l.isSet(knobEC2Gahp) {
		c.EC2Gahp = l.defaultGahp()
	}
	if n := len(c.Socket); n > maxSocketPath {
		errs = append(errs, fmt.Sprintf("%s: the socket path %q is %d bytes, more than the %d a Unix socket allows: set %s to a shorter path",
			knobSocket, c.Socket, n, maxSocketPath, knobSocket))
	}
	return errs
}

// isSet reports whether the file or the environment set the knob called name, for
// defaults that cannot take the zero value as "unset".
func (l *loader) isSet(name string) bool {
	return l.setNames[name]
}

// unlessSet runs fill when the knob called name was not set.
func (l *loader) unlessSet(name string, fill func()) {
	if !l.isSet(name) {
		fill()
	}
}

// cmp is v, or def when v is the zero value.
func cmp[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// orZero sets *v to def when it is the zero value.
func orZero[T comparable](v *T, def T) { *v = cmp(*v, def) }

// orString sets *v to def when it is empty.
func orString(v *string, def string) { orZero(v, def) }

// path makes a path knob's value absolute: "~/" is the user's home directory, and a
// relative path is taken from EC2GRID_HOME, wherever it was written.
func (l *loader) path(v string) (string, error) {
	if strings.ContainsRune(v, 0) {
		return "", fmt.Errorf("%q holds a NUL byte", v)
	}
	if rest, ok := strings.CutPrefix(v, "~"); ok && (rest == "" || rest[0] == '/') {
		user, err := l.userHome()
		if err != nil {
			return "", err
		}
		v = user + rest
	}
	if !filepath.IsAbs(v) {
		v = filepath.Join(l.c.Home, v)
	}
	return filepath.Clean(v), nil
}

// findExecutable resolves EC2_GAHP: a bare name is looked up on PATH, anything else is a
// path (see path); either way it must be an executable file, so a mistake shows at start
// rather than as held jobs.
func (l *loader) findExecutable(v string) (string, error) {
	if !strings.ContainsRune(v, '/') && v != "~" {
		if p := l.lookPath(v); p != "" {
			return p, nil
		}
		return "", fmt.Errorf("%q is not an executable on PATH", v)
	}
	p, err := l.path(v)
	if err != nil {
		return "", err
	}
	if err := checkExecutable(p); err != nil {
		return "", err
	}
	return p, nil
}

// defaultGahp is ec2_gahp beside the running executable (an installation keeps its
// binaries together), else on PATH, else "".
func (l *loader) defaultGahp() string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), defaultGahpName)
		if checkExecutable(p) == nil {
			return p
		}
	}
	return l.lookPath(defaultGahpName)
}

// lookPath is exec.LookPath over env's PATH rather than the process's, so tests control
// it. Relative PATH entries are skipped, as a daemon's working directory is arbitrary.
func (l *loader) lookPath(name string) string {
	for _, dir := range filepath.SplitList(l.env("PATH")) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if checkExecutable(p) == nil {
			return p
		}
	}
	return ""
}

// checkExecutable reports why p is not an executable regular file.
func checkExecutable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("%s: %w", p, errors.Unwrap(err))
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", p)
	}
	if st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}

// readFile reads the config file, which must be a regular file of sensible size.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read config: stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read config: %s is not a regular file", path)
	}
	if st.Size() > maxConfigSize {
		return nil, fmt.Errorf("read config: %s is %d bytes, more than the %d a configuration needs", path, st.Size(), maxConfigSize)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("read config: %s: %w", path, err)
	}
	return b, nil
}
