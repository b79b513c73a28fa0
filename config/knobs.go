package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Knob describes one setting: its HTCondor-style name, the environment variable that sets
// it, its default as text, a one-line meaning and the kind of value it takes. The table
// (Knobs) is the single list the loader, the documentation test and docs/configuration.md
// agree on.
type Knob struct {
	Name    string // the name in config.hcl, HTCondor's where HTCondor has one
	Env     string // the environment variable: EC2GRID_<Name>, or Name itself when it already starts with EC2GRID_
	Default string // the default, as text
	Doc     string // what it means, one line
	Kind    string // "duration", "milliseconds", "int", "float", "bool", "string", "path" or "list"
}

// Kinds of value. A duration is a bare number of seconds (HTCondor's way) or a Go duration
// ("90s", "5m"); milliseconds is the same with bare numbers read as milliseconds, for
// EC2_GAHP_RATE_LIMIT, which HTCondor gives in milliseconds.
const (
	kindDuration = "duration"
	kindMillis   = "milliseconds"
	kindInt      = "int"
	kindFloat    = "float"
	kindBool     = "bool"
	kindString   = "string"
	kindPath     = "path"
	kindList     = "list"
)

// envPrefix marks the environment form of a knob, as _CONDOR_ does for HTCondor.
const envPrefix = "EC2GRID_"

// Knob names used by the loader's own logic (resolution order, derived defaults).
const (
	knobHome           = "EC2GRID_HOME"
	knobSocket         = "EC2GRID_SOCKET"
	knobSpool          = "SPOOL"
	knobLog            = "LOG"
	knobProbeEC2       = "GRIDMANAGER_JOB_PROBE_INTERVAL_EC2"
	knobProbe          = "GRIDMANAGER_JOB_PROBE_INTERVAL"
	knobMaxSubmitEC2   = "GRIDMANAGER_MAX_SUBMITTED_JOBS_PER_RESOURCE_EC2"
	knobMaxSubmit      = "GRIDMANAGER_MAX_SUBMITTED_JOBS_PER_RESOURCE"
	knobEC2Gahp        = "EC2_GAHP"
	knobEC2GahpLog     = "EC2_GAHP_LOG"
	knobEC2RateLimit   = "EC2_GAHP_RATE_LIMIT"
	knobEC2GahpDebug   = "EC2_GAHP_DEBUG"
	knobPeriodic       = "PERIODIC_EXPR_INTERVAL"
	knobPeriodicMax    = "MAX_PERIODIC_EXPR_INTERVAL"
	knobResourceTimout = "EC2_RESOURCE_TIMEOUT"
	// knobRefuseWritableKeys is submit.RefuseWritableKeyFilesKnob; config does not import
	// submit, and TestRefuseWritableKeyFilesKnob keeps the two spellings equal.
	knobRefuseWritableKeys = "SUBMIT_REFUSE_WRITABLE_KEY_FILES"
)

// Defaults that are values (the rest are derived from EC2GRID_HOME or the executable).
// Each is HTCondor's (htcondor-ec2.md §7) unless its knob is ec2grid's own.
const (
	defaultHomeDir            = ".ec2grid"    // under the user's home directory, like ~/.condor
	defaultSocketName         = "daemon.sock" // in EC2GRID_HOME
	defaultSpoolName          = "spool"       // in EC2GRID_HOME
	defaultLogName            = "log"         // in EC2GRID_HOME
	defaultGahpLogName        = "EC2GahpLog"  // in LOG; HTCondor's is /tmp/EC2GahpLog.$(USERNAME)
	defaultGahpName           = "ec2_gahp"
	defaultGahpDebug          = "D_PID"
	defaultLogLevel           = "info"
	defaultSuperUser          = "root"
	defaultProbeInterval      = 60 * time.Second
	defaultResourceProbe      = 300 * time.Second
	defaultMaxSubmitted       = 1000
	defaultMaxPending         = 50
	defaultGahpCallTimeout    = 600 * time.Second // the EC2 code's; the manual says 300 (§10.14)
	defaultGahpResponse       = 20 * time.Second
	defaultEmptyResourceDelay = 300 * time.Second
	defaultPeriodicInterval   = 60 * time.Second
	defaultMaxPeriodic        = 1200 * time.Second
	defaultPeriodicTimeslice  = 0.01
	defaultGahpRateLimit      = 100 * time.Millisecond
	defaultRecoveryPasses     = 2
	defaultRecoveryMinWait    = 30 * time.Second
	defaultPurgeGrace         = 5 * time.Minute
	defaultOrphanGrace        = 10 * time.Minute
)

// maxSocketPath is the longest Unix socket path Linux accepts: sun_path holds 108 bytes
// including the terminating NUL. A longer EC2GRID_HOME needs EC2GRID_SOCKET.
const maxSocketPath = 107

// logLevels are the levels zap logs at that EC2GRID_LOG_LEVEL may name.
func logLevels() []string { return []string{"debug", "info", "warn", "error"} }

// spec is a knob and how to apply a value of it. set receives the value trimmed and
// non-empty (an empty value means "use the default", as an empty HTCondor knob does) and
// returns what is wrong with it, without the knob's name or position: the loader adds those.
type spec struct {
	Knob
	envOnly bool // the knob locates the file, so the file cannot set it
	set     func(l *loader, v string) error
}

// EnvName is the environment variable that sets the knob called name.
func EnvName(name string) string {
	if strings.HasPrefix(name, envPrefix) {
		return name
	}
	return envPrefix + name
}

// Knobs is the table of every knob, in the order docs/configuration.md lists them.
func Knobs() []Knob {
	specs := specs()
	out := make([]Knob, len(specs))
	for i, s := range specs {
		out[i] = s.Knob
	}
	return out
}

// knob builds a spec's Knob.
func knob(name, kind, def, doc string) Knob {
	return Knob{Name: name, Env: EnvName(name), Default: def, Doc: doc, Kind: kind}
}

// specs is the knob table. A function, not a variable, so that nothing can change it.
func specs() []spec {
	return []spec{
		{Knob: knob(knobHome, kindPath, "~/.ec2grid",
			"the daemon's directory: config.hcl, the socket, spool and logs (environment only: it locates config.hcl)"),
			envOnly: true, set: func(l *loader, v string) error { return nil }}, // resolved before the file is read
		{Knob: knob(knobSocket, kindPath, "$EC2GRID_HOME/daemon.sock",
			"the daemon's Unix socket, for a home whose path is too long for one (107 bytes at most)"),
			set: pathSetter(func(l *loader) *string { return &l.c.Socket })},
		{Knob: knob(knobSpool, kindPath, "$EC2GRID_HOME/spool",
			"the job queue's directory (jobs.db, history)"),
			set: pathSetter(func(l *loader) *string { return &l.c.SpoolDir })},
		{Knob: knob(knobLog, kindPath, "$EC2GRID_HOME/log",
			"the directory of the daemon's logs"),
			set: pathSetter(func(l *loader) *string { return &l.c.LogDir })},
		{Knob: knob("EC2GRID_LOG_LEVEL", kindString, defaultLogLevel,
			"the daemon's log level: debug, info, warn or error"),
			set: func(l *loader, v string) error {
				v = strings.ToLower(v)
				for _, lvl := range logLevels() {
					if v == lvl {
						l.c.LogLevel = v
						return nil
					}
				}
				return fmt.Errorf("%q is not one of %s", v, strings.Join(logLevels(), ", "))
			}},
		{Knob: knob("QUEUE_SUPER_USERS", kindList, defaultSuperUser,
			"users who may hold, release, remove and edit anyone's jobs, separated by commas or spaces"),
			set: func(l *loader, v string) error {
				users, err := parseList(v)
				l.c.QueueSuperUsers = users
				return err
			}},
		{Knob: knob(knobProbeEC2, kindDuration, knobProbe,
			"how often the grid manager asks the cloud for the status of all its instances"),
			set: durationSetter(1, func(l *loader) *time.Duration { return &l.c.ProbeInterval })},
		{Knob: knob(knobProbe, kindDuration, "60s",
			"the probe interval of every grid type, used when the _EC2 form is not set"),
			set: durationSetter(1, func(l *loader) *time.Duration { return &l.probe })},
		{Knob: knob("GRIDMANAGER_RESOURCE_PROBE_INTERVAL", kindDuration, "300s",
			"how often a cloud that is down is pinged to see whether it is back"),
			set: durationSetter(1, func(l *loader) *time.Duration { return &l.c.ResourcePingInterval })},
		{Knob: knob(knobMaxSubmitEC2, kindInt, knobMaxSubmit+", else 1000",
			"the most instances one cloud account runs for jobs at once; further jobs wait idle"),
			set: intSetter(1, func(l *loader) *int { return &l.c.MaxSubmittedPerResource })},
		{Knob: knob(knobMaxSubmit, kindInt, "1000",
			"the per-resource limit of every grid type, used for EC2 when the _EC2 form is not set"),
			set: intSetter(1, func(l *loader) *int { return &l.maxSubmit })},
		{Knob: knob("GRIDMANAGER_MAX_PENDING_REQUESTS", kindInt, strconv.Itoa(defaultMaxPending),
			"the most commands in flight to one ec2_gahp; the rest queue, status first, starts last"),
			set: intSetter(1, func(l *loader) *int { return &l.c.MaxPendingRequests })},
		{Knob: knob("GRIDMANAGER_GAHP_CALL_TIMEOUT", kindDuration, "600s",
			"how long one ec2_gahp command may take before it fails with \"CMD timed out\""),
			set: durationSetter(1, func(l *loader) *time.Duration { return &l.c.GahpTimeout })},
		{Knob: knob("GRIDMANAGER_GAHP_RESPONSE_TIMEOUT", kindDuration, "20s",
			"how long ec2_gahp may take to answer one protocol line before it is deemed hung"),
			set: durationSetter(1, func(l *loader) *time.Duration { return &l.c.GahpResponseTimeout })},
		{Knob: knob("GRIDMANAGER_EMPTY_RESOURCE_DELAY", kindDuration, "300s",
			"how long a cloud account's state is kept after its last job leaves"),
			set: durationSetter(0, func(l *loader) *time.Duration { return &l.c.EmptyResourceDelay })},
		{Knob: knob(knobResourceTimout, kindDuration, "-1",
			"how long a cloud may be down before its jobs are held (code 41, subcode 22); 0 or less: never"),
			set: func(l *loader, v string) error {
				d, err := parseDuration(v, time.Second)
				l.c.ResourceTimeout = max(d, 0)
				return err
			}},
		{Knob: knob(knobPeriodic, kindDuration, "60s",
			"how often periodic_hold, periodic_remove and periodic_release are evaluated; 0: never"),
			set: durationSetter(0, func(l *loader) *time.Duration { return &l.c.PeriodicExprInterval })},
		{Knob: knob(knobPeriodicMax, kindDuration, "1200s",
			"the longest the periodic evaluation may be put off when it takes much time"),
			set: durationSetter(1, func(l *loader) *time.Duration { return &l.c.MaxPeriodicExprInterval })},
		{Knob: knob("PERIODIC_EXPR_TIMESLICE", kindFloat, "0.01",
			"the fraction of time the periodic evaluation may use; the interval grows to keep to it"),
			set: func(l *loader, v string) error {
				f, err := parseFloat(v)
				if err == nil && !(f > 0 && f <= 1) {
					err = fmt.Errorf("%q is not a fraction above 0 and at most 1", v)
				}
				l.c.PeriodicExprTimeslice = f
				return err
			}},
		{Knob: knob(knobEC2Gahp, kindPath, "ec2_gahp beside the ec2grid executable, else on PATH",
			"the EC2 GAHP server the grid manager starts; none found: EC2 jobs are held (code 39, subcode 6)"),
			set: func(l *loader, v string) error {
				p, err := l.findExecutable(v)
				l.c.EC2Gahp = p
				return err
			}},
		{Knob: knob(knobEC2RateLimit, kindMillis, "100ms",
			"the least spacing between ec2_gahp's requests to one endpoint, in milliseconds; 0: none"),
			set: func(l *loader, v string) error {
				d, err := parseDuration(v, time.Millisecond)
				switch {
				case err != nil:
				case d < 0:
					err = fmt.Errorf("%q is negative", v)
				case d > 0 && d < time.Millisecond:
					// ec2_gahp counts whole milliseconds, and 0 would mean no spacing at all.
					err = fmt.Errorf("%q is less than the millisecond ec2_gahp counts in", v)
				}
				l.c.EC2GahpRateLimit = d
				return err
			}},
		{Knob: knob(knobEC2GahpLog, kindPath, "$LOG/EC2GahpLog",
			"ec2_gahp's log file"),
			set: pathSetter(func(l *loader) *string { return &l.c.EC2GahpLog })},
		{Knob: knob(knobEC2GahpDebug, kindString, defaultGahpDebug,
			"ec2_gahp's HTCondor debug flags (its -d); D_FULLDEBUG logs every call"),
			set: func(l *loader, v string) error { l.c.EC2GahpDebug = v; return nil }},
		{Knob: knob("EC2_RECOVERY_STATUS_PASSES", kindInt, strconv.Itoa(defaultRecoveryPasses),
			"status probes that must not list a started instance before the start is retried on a cloud without ClientToken"),
			set: intSetter(1, func(l *loader) *int { return &l.c.ConsistencyPasses })},
		{Knob: knob("EC2_RECOVERY_MIN_WAIT", kindDuration, "30s",
			"the least time after a start before it is retried on a cloud without ClientToken"),
			set: durationSetter(0, func(l *loader) *time.Duration { return &l.c.ConsistencyWindow })},
		{Knob: knob("EC2_PURGE_GRACE", kindDuration, "5m",
			"an instance missing from DescribeInstances this soon after its start has not ended (HTCondor's bug §10.6)"),
			set: durationSetter(0, func(l *loader) *time.Duration { return &l.c.PurgeGrace })},
		{Knob: knob("EC2_ORPHAN_GRACE", kindDuration, "10m",
			"the age at which an instance tagged with this queue's id that no job owns is terminated"),
			set: durationSetter(1, func(l *loader) *time.Duration { return &l.c.OrphanGrace })},
		{Knob: knob(knobRefuseWritableKeys, kindBool, "false",
			"condor_submit refuses, instead of warning about, a key file its group or other users may write"),
			set: func(l *loader, v string) error {
				b, err := parseBool(v)
				l.c.SubmitRefuseWritableKeyFiles = b
				return err
			}},
	}
}

// durationSetter sets a duration field that must be at least min (0 or 1 nanosecond: "not
// negative" or "more than zero").
func durationSetter(min time.Duration, field func(*loader) *time.Duration) func(*loader, string) error {
	return func(l *loader, v string) error {
		d, err := parseDuration(v, time.Second)
		if err != nil {
			return err
		}
		if d < min {
			if min > 0 {
				return fmt.Errorf("%q: must be more than 0", v)
			}
			return fmt.Errorf("%q is negative", v)
		}
		*field(l) = d
		return nil
	}
}

// intSetter sets an int field that must be at least min.
func intSetter(min int, field func(*loader) *int) func(*loader, string) error {
	return func(l *loader, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			if strings.Contains(v, ",") {
				return fmt.Errorf("%q is not a whole number (HTCondor's per-host list \"N, host, N\" is not supported)", v)
			}
			return fmt.Errorf("%q is not a whole number", v)
		}
		if n < min {
			return fmt.Errorf("%q: must be at least %d", v, min)
		}
		*field(l) = n
		return nil
	}
}

// pathSetter sets a path field; see loader.path.
func pathSetter(field func(*loader) *string) func(*loader, string) error {
	return func(l *loader, v string) error {
		p, err := l.path(v)
		*field(l) = p
		return err
	}
}

// parseDuration reads a duration: a bare number is that many units (seconds for HTCondor's
// interval knobs, milliseconds for its RATE_LIMIT), anything else a Go duration.
func parseDuration(v string, unit time.Duration) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil && looksNumeric(v) {
		if math.IsNaN(f) || math.Abs(f*float64(unit)) >= math.MaxInt64 {
			return 0, fmt.Errorf("%q is out of range", v)
		}
		return time.Duration(f * float64(unit)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		bare := "seconds (\"60\")"
		if unit == time.Millisecond {
			bare = "milliseconds (\"100\")"
		}
		return 0, fmt.Errorf("%q is not a duration: want %s or a Go duration (\"90s\", \"5m\")", v, bare)
	}
	return d, nil
}

// looksNumeric reports whether v is a plain decimal number: ParseFloat also takes "Inf",
// "NaN" and hex floats, none of which is a sensible knob value.
func looksNumeric(v string) bool {
	for _, c := range v {
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return false
		}
	}
	return true
}

// parseFloat reads a finite decimal number.
func parseFloat(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !looksNumeric(v) || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%q is not a number", v)
	}
	return f, nil
}

// parseBool reads a truth value as HTCondor's knobs take it: true or false, in any case,
// or their first letters (an HCL true or false arrives as the word).
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "t":
		return true, nil
	case "false", "f":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", v)
}

// parseList splits a list of names at commas and white space, as HTCondor's StringList
// does.
func parseList(v string) ([]string, error) {
	items := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	for _, it := range items {
		if strings.ContainsFunc(it, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("%q holds a control character", it)
		}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%q names no one", v)
	}
	return items, nil
}
