package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// noFile, as a test's file content, means config.hcl does not exist.
const noFile = "\x00none"

// testEnv is the environment every test starts from: a fresh EC2GRID_HOME, a HOME of its
// own, and an empty PATH so that no ec2_gahp is found unless a test puts one there.
func testEnv(t *testing.T) (home string, env map[string]string) {
	t.Helper()
	home = filepath.Join(t.TempDir(), "h")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	return home, map[string]string{knobHome: home, "HOME": "/home/tester", "PATH": ""}
}

// load writes file as home's config.hcl (unless it is noFile) and runs Load over env.
func load(t *testing.T, home, file string, env map[string]string) (*Config, error) {
	t.Helper()
	if file != noFile {
		if err := os.WriteFile(filepath.Join(home, configFileName), []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Load(func(k string) string { return env[k] })
}

// defaultsFor is the Config Load must return for home with nothing set.
func defaultsFor(home string) Config {
	return Config{
		Home:                    home,
		File:                    filepath.Join(home, "config.hcl"),
		Socket:                  filepath.Join(home, "daemon.sock"),
		SpoolDir:                filepath.Join(home, "spool"),
		LogDir:                  filepath.Join(home, "log"),
		LogLevel:                "info",
		QueueSuperUsers:         []string{"root"},
		ProbeInterval:           60 * time.Second,
		ResourcePingInterval:    300 * time.Second,
		MaxSubmittedPerResource: 1000,
		MaxPendingRequests:      50,
		GahpTimeout:             600 * time.Second,
		GahpResponseTimeout:     20 * time.Second,
		EmptyResourceDelay:      300 * time.Second,
		ResourceTimeout:         0,
		PeriodicExprInterval:    60 * time.Second,
		MaxPeriodicExprInterval: 1200 * time.Second,
		PeriodicExprTimeslice:   0.01,
		EC2Gahp:                 "",
		EC2GahpRateLimit:        100 * time.Millisecond,
		EC2GahpLog:              filepath.Join(home, "log", "EC2GahpLog"),
		EC2GahpDebug:            "D_PID",
		ConsistencyPasses:       2,
		ConsistencyWindow:       30 * time.Second,
		PurgeGrace:              5 * time.Minute,
		OrphanGrace:             10 * time.Minute,
	}
}

func TestDefaults(t *testing.T) {
	for _, file := range []string{noFile, "", "# only a comment\n"} {
		home, env := testEnv(t)
		got, err := load(t, home, file, env)
		if err != nil {
			t.Fatalf("file %q: %v", file, err)
		}
		if want := defaultsFor(home); !reflect.DeepEqual(*got, want) {
			t.Errorf("file %q:\n got %+v\nwant %+v", file, *got, want)
		}
	}
}

// TestDefaultTexts checks the table against the code: setting a knob to the text its
// Default column shows changes nothing. Defaults derived from other knobs are skipped.
func TestDefaultTexts(t *testing.T) {
	checked := 0
	for _, k := range Knobs() {
		if strings.ContainsAny(k.Default, "$ ,") || k.Name == knobHome || k.Name == knobProbeEC2 {
			continue
		}
		if k.Name == knobMaxSubmit {
			// Its default (1000) is also EC2's, but setting it changes EC2's limit
			// through the _EC2 form's fallback; TestFileAndEnvironment covers it.
			continue
		}
		home, env := testEnv(t)
		env[k.Env] = k.Default
		got, err := load(t, home, noFile, env)
		if err != nil {
			t.Errorf("%s=%q: %v", k.Env, k.Default, err)
			continue
		}
		if want := defaultsFor(home); !reflect.DeepEqual(*got, want) {
			t.Errorf("%s=%q:\n got %+v\nwant %+v", k.Env, k.Default, *got, want)
		}
		checked++
	}
	if checked < 15 {
		t.Fatalf("only %d defaults checked", checked)
	}
}

func TestKnobTable(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Knobs() {
		if seen[k.Name] {
			t.Errorf("%s twice", k.Name)
		}
		seen[k.Name] = true
		if k.Name != strings.ToUpper(k.Name) || k.Doc == "" || k.Default == "" {
			t.Errorf("%+v: want an upper-case name, a default and a doc line", k)
		}
		if want := "EC2GRID_" + strings.TrimPrefix(k.Name, "EC2GRID_"); k.Env != want {
			t.Errorf("%s: env %s, want %s", k.Name, k.Env, want)
		}
		switch k.Kind {
		case kindDuration, kindMillis, kindInt, kindFloat, kindBool, kindString, kindPath, kindList:
		default:
			t.Errorf("%s: kind %q", k.Name, k.Kind)
		}
	}
}

func TestFileAndEnvironment(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		want func(c *Config, home string)
	}{
		{"seconds as a number", "GRIDMANAGER_JOB_PROBE_INTERVAL = 5\n", nil,
			func(c *Config, _ string) { c.ProbeInterval = 5 * time.Second }},
		{"seconds as a string", `GRIDMANAGER_JOB_PROBE_INTERVAL = "5"`, nil,
			func(c *Config, _ string) { c.ProbeInterval = 5 * time.Second }},
		{"fractional seconds", "PERIODIC_EXPR_INTERVAL = 0.5", nil,
			func(c *Config, _ string) { c.PeriodicExprInterval = 500 * time.Millisecond }},
		{"Go duration", `GRIDMANAGER_RESOURCE_PROBE_INTERVAL = "1m30s"`, nil,
			func(c *Config, _ string) { c.ResourcePingInterval = 90 * time.Second }},
		{"names are case-insensitive", "gridmanager_job_probe_interval = 7", nil,
			func(c *Config, _ string) { c.ProbeInterval = 7 * time.Second }},
		{"periodic evaluation off", "PERIODIC_EXPR_INTERVAL = 0", nil,
			func(c *Config, _ string) { c.PeriodicExprInterval = 0 }},
		{"an empty value is the default", `GRIDMANAGER_MAX_PENDING_REQUESTS = ""`, nil,
			func(*Config, string) {}},
		{"environment only", noFile, map[string]string{"EC2GRID_GRIDMANAGER_JOB_PROBE_INTERVAL": "5"},
			func(c *Config, _ string) { c.ProbeInterval = 5 * time.Second }},
		{"environment over file", "GRIDMANAGER_JOB_PROBE_INTERVAL = 5\nGRIDMANAGER_MAX_PENDING_REQUESTS = 9",
			map[string]string{"EC2GRID_GRIDMANAGER_JOB_PROBE_INTERVAL": "6"},
			func(c *Config, _ string) { c.ProbeInterval = 6 * time.Second; c.MaxPendingRequests = 9 }},
		{"environment over a bad file value", `PERIODIC_EXPR_INTERVAL = "soon"`,
			map[string]string{"EC2GRID_PERIODIC_EXPR_INTERVAL": "30"},
			func(c *Config, _ string) { c.PeriodicExprInterval = 30 * time.Second }},
		{"empty environment value leaves the file's", "GRIDMANAGER_MAX_PENDING_REQUESTS = 9",
			map[string]string{"EC2GRID_GRIDMANAGER_MAX_PENDING_REQUESTS": " "},
			func(c *Config, _ string) { c.MaxPendingRequests = 9 }},
		{"_EC2 probe over generic", "GRIDMANAGER_JOB_PROBE_INTERVAL = 5\nGRIDMANAGER_JOB_PROBE_INTERVAL_EC2 = 8", nil,
			func(c *Config, _ string) { c.ProbeInterval = 8 * time.Second }},
		{"_EC2 probe in the file over generic in the environment", "GRIDMANAGER_JOB_PROBE_INTERVAL_EC2 = 8",
			map[string]string{"EC2GRID_GRIDMANAGER_JOB_PROBE_INTERVAL": "5"},
			func(c *Config, _ string) { c.ProbeInterval = 8 * time.Second }},
		{"_EC2 submit limit over generic", "GRIDMANAGER_MAX_SUBMITTED_JOBS_PER_RESOURCE = 500",
			map[string]string{"EC2GRID_GRIDMANAGER_MAX_SUBMITTED_JOBS_PER_RESOURCE_EC2": "30"},
			func(c *Config, _ string) { c.MaxSubmittedPerResource = 30 }},
		{"generic submit limit alone", "GRIDMANAGER_MAX_SUBMITTED_JOBS_PER_RESOURCE = 500", nil,
			func(c *Config, _ string) { c.MaxSubmittedPerResource = 500 }},
		{"rate limit: bare number is milliseconds", "EC2_GAHP_RATE_LIMIT = 250", nil,
			func(c *Config, _ string) { c.EC2GahpRateLimit = 250 * time.Millisecond }},
		{"rate limit 0: no spacing", "EC2_GAHP_RATE_LIMIT = 0", nil,
			func(c *Config, _ string) { c.EC2GahpRateLimit = 0 }},
		{"rate limit as a Go duration", `EC2_GAHP_RATE_LIMIT = "1s"`, nil,
			func(c *Config, _ string) { c.EC2GahpRateLimit = time.Second }},
		{"resource timeout", "EC2_RESOURCE_TIMEOUT = 60", nil,
			func(c *Config, _ string) { c.ResourceTimeout = time.Minute }},
		{"resource timeout -1 is never", "EC2_RESOURCE_TIMEOUT = -1", nil,
			func(c *Config, _ string) { c.ResourceTimeout = 0 }},
		{"super users as an HCL list", `QUEUE_SUPER_USERS = ["root", "alice"]`, nil,
			func(c *Config, _ string) { c.QueueSuperUsers = []string{"root", "alice"} }},
		{"super users as HTCondor's string", `QUEUE_SUPER_USERS = "root, alice bob"`, nil,
			func(c *Config, _ string) { c.QueueSuperUsers = []string{"root", "alice", "bob"} }},
		{"super users from the environment", noFile, map[string]string{"EC2GRID_QUEUE_SUPER_USERS": "carol"},
			func(c *Config, _ string) { c.QueueSuperUsers = []string{"carol"} }},
		{"log level", `EC2GRID_LOG_LEVEL = "DEBUG"`, nil,
			func(c *Config, _ string) { c.LogLevel = "debug" }},
		{"timeslice", "PERIODIC_EXPR_TIMESLICE = 0.5", nil,
			func(c *Config, _ string) { c.PeriodicExprTimeslice = 0.5 }},
		{"recovery knobs", "EC2_RECOVERY_STATUS_PASSES = 3\nEC2_RECOVERY_MIN_WAIT = 0\nEC2_PURGE_GRACE = \"10m\"\nEC2_ORPHAN_GRACE = 3600", nil,
			func(c *Config, _ string) {
				c.ConsistencyPasses, c.ConsistencyWindow, c.PurgeGrace, c.OrphanGrace = 3, 0, 10*time.Minute, time.Hour
			}},
		{"refuse writable key files: HCL true", "SUBMIT_REFUSE_WRITABLE_KEY_FILES = true", nil,
			func(c *Config, _ string) { c.SubmitRefuseWritableKeyFiles = true }},
		{"refuse writable key files: a string, any case", `SUBMIT_REFUSE_WRITABLE_KEY_FILES = "TRUE"`, nil,
			func(c *Config, _ string) { c.SubmitRefuseWritableKeyFiles = true }},
		{"refuse writable key files: environment over file", "SUBMIT_REFUSE_WRITABLE_KEY_FILES = true",
			map[string]string{"EC2GRID_SUBMIT_REFUSE_WRITABLE_KEY_FILES": "f"},
			func(c *Config, _ string) { c.SubmitRefuseWritableKeyFiles = false }},
		{"relative paths are under EC2GRID_HOME", "LOG = \"logs\"\nSPOOL = \"/var/spool/x\"", nil,
			func(c *Config, home string) {
				c.LogDir = filepath.Join(home, "logs")
				c.EC2GahpLog = filepath.Join(home, "logs", "EC2GahpLog")
				c.SpoolDir = "/var/spool/x"
			}},
		{"~ is the user's home", `EC2_GAHP_LOG = "~/gahp.log"`, map[string]string{"EC2GRID_EC2GRID_SOCKET": "ignored", "EC2GRID_SOCKET": "/run/x.sock"},
			func(c *Config, _ string) { c.EC2GahpLog = "/home/tester/gahp.log"; c.Socket = "/run/x.sock" }},
		{"gahp debug", `EC2_GAHP_DEBUG = "D_FULLDEBUG"`, nil,
			func(c *Config, _ string) { c.EC2GahpDebug = "D_FULLDEBUG" }},
		{"other timeouts", "GRIDMANAGER_GAHP_CALL_TIMEOUT = 30\nGRIDMANAGER_GAHP_RESPONSE_TIMEOUT = 2\nGRIDMANAGER_EMPTY_RESOURCE_DELAY = 0\nMAX_PERIODIC_EXPR_INTERVAL = 100", nil,
			func(c *Config, _ string) {
				c.GahpTimeout, c.GahpResponseTimeout, c.EmptyResourceDelay, c.MaxPeriodicExprInterval = 30*time.Second, 2*time.Second, 0, 100*time.Second
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home, env := testEnv(t)
			for k, v := range tt.env {
				env[k] = v
			}
			got, err := load(t, home, tt.file, env)
			if err != nil {
				t.Fatal(err)
			}
			want := defaultsFor(home)
			tt.want(&want, home)
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("\n got %+v\nwant %+v", *got, want)
			}
		})
	}
}

// TestBadValues checks each mistake's whole message: where (FILE:LINE: KNOB, or the
// environment variable) and what is wrong.
func TestBadValues(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		want string // "FILE:" stands for the config file's path and a colon
	}{
		{"not a duration", `GRIDMANAGER_JOB_PROBE_INTERVAL = "soon"`, nil,
			`FILE:1: GRIDMANAGER_JOB_PROBE_INTERVAL: "soon" is not a duration: want seconds ("60") or a Go duration ("90s", "5m")`},
		{"not a duration in the environment", noFile, map[string]string{"EC2GRID_GRIDMANAGER_JOB_PROBE_INTERVAL": "soon"},
			`EC2GRID_GRIDMANAGER_JOB_PROBE_INTERVAL: "soon" is not a duration: want seconds ("60") or a Go duration ("90s", "5m")`},
		{"zero probe interval", "\n\nGRIDMANAGER_JOB_PROBE_INTERVAL_EC2 = 0", nil,
			`FILE:3: GRIDMANAGER_JOB_PROBE_INTERVAL_EC2: "0": must be more than 0`},
		{"negative duration", `EC2_PURGE_GRACE = "-5m"`, nil,
			`FILE:1: EC2_PURGE_GRACE: "-5m" is negative`},
		{"duration out of range", "EC2_ORPHAN_GRACE = 1e300", nil,
			`FILE:1: EC2_ORPHAN_GRACE: "1e+300" is out of range`},
		{"Inf is not a duration", noFile, map[string]string{"EC2GRID_EC2_PURGE_GRACE": "Inf"},
			`EC2GRID_EC2_PURGE_GRACE: "Inf" is not a duration: want seconds ("60") or a Go duration ("90s", "5m")`},
		{"rate limit not a duration", `EC2_GAHP_RATE_LIMIT = "fast"`, nil,
			`FILE:1: EC2_GAHP_RATE_LIMIT: "fast" is not a duration: want milliseconds ("100") or a Go duration ("90s", "5m")`},
		{"negative rate limit", "EC2_GAHP_RATE_LIMIT = -1", nil,
			`FILE:1: EC2_GAHP_RATE_LIMIT: "-1" is negative`},
		{"rate limit below a millisecond", `EC2_GAHP_RATE_LIMIT = "500us"`, nil,
			`FILE:1: EC2_GAHP_RATE_LIMIT: "500us" is less than the millisecond ec2_gahp counts in`},
		{"not a bool", "SUBMIT_REFUSE_WRITABLE_KEY_FILES = 1", nil,
			`FILE:1: SUBMIT_REFUSE_WRITABLE_KEY_FILES: "1" is not true or false`},
		{"not a bool in the environment", noFile, map[string]string{"EC2GRID_SUBMIT_REFUSE_WRITABLE_KEY_FILES": "yes"},
			`EC2GRID_SUBMIT_REFUSE_WRITABLE_KEY_FILES: "yes" is not true or false`},
		{"a bool where a number goes", "GRIDMANAGER_MAX_PENDING_REQUESTS = true", nil,
			`FILE:1: GRIDMANAGER_MAX_PENDING_REQUESTS: true is a bool; want a whole number`},
		{"not a whole number", "GRIDMANAGER_MAX_PENDING_REQUESTS = 2.5", nil,
			`FILE:1: GRIDMANAGER_MAX_PENDING_REQUESTS: "2.5" is not a whole number`},
		{"HTCondor's per-host list", `GRIDMANAGER_MAX_SUBMITTED_JOBS_PER_RESOURCE = "100, ec2.example.com, 5"`, nil,
			`FILE:1: GRIDMANAGER_MAX_SUBMITTED_JOBS_PER_RESOURCE: "100, ec2.example.com, 5" is not a whole number (HTCondor's per-host list "N, host, N" is not supported)`},
		{"int below its least", noFile, map[string]string{"EC2GRID_EC2_RECOVERY_STATUS_PASSES": "0"},
			`EC2GRID_EC2_RECOVERY_STATUS_PASSES: "0": must be at least 1`},
		{"timeslice above 1", "PERIODIC_EXPR_TIMESLICE = 2", nil,
			`FILE:1: PERIODIC_EXPR_TIMESLICE: "2" is not a fraction above 0 and at most 1`},
		{"timeslice not a number", `PERIODIC_EXPR_TIMESLICE = "a bit"`, nil,
			`FILE:1: PERIODIC_EXPR_TIMESLICE: "a bit" is not a number`},
		{"log level", `EC2GRID_LOG_LEVEL = "loud"`, nil,
			`FILE:1: EC2GRID_LOG_LEVEL: "loud" is not one of debug, info, warn, error`},
		{"empty user list", `QUEUE_SUPER_USERS = ","`, nil,
			`FILE:1: QUEUE_SUPER_USERS: "," names no one`},
		{"list of numbers", `QUEUE_SUPER_USERS = [1]`, nil,
			`FILE:1: QUEUE_SUPER_USERS: a list of names holds only strings`},
		{"list for a duration", `PERIODIC_EXPR_INTERVAL = [60]`, nil,
			`FILE:1: PERIODIC_EXPR_INTERVAL: a tuple is not a duration (seconds or a string like "90s")`},
		{"bool", `GRIDMANAGER_MAX_PENDING_REQUESTS = true`, nil,
			`FILE:1: GRIDMANAGER_MAX_PENDING_REQUESTS: true is a bool; want a whole number`},
		{"null", `EC2_GAHP_DEBUG = null`, nil,
			`FILE:1: EC2_GAHP_DEBUG: null is not a value; leave the line out for the default`},
		{"a variable", `PERIODIC_EXPR_INTERVAL = minute`, nil,
			`FILE:1: PERIODIC_EXPR_INTERVAL: Variables not allowed: Variables may not be used here`},
		{"unknown knob, near one", "\nGRIDMANAGER_JOB_PROBE_INTERVL = 5", nil,
			`FILE:2: unknown knob GRIDMANAGER_JOB_PROBE_INTERVL (did you mean GRIDMANAGER_JOB_PROBE_INTERVAL?)`},
		{"unknown knob, near none", "WHATEVER = 5", nil,
			`FILE:1: unknown knob WHATEVER`},
		{"environment form in the file", "EC2GRID_PERIODIC_EXPR_INTERVAL = 5", nil,
			`FILE:1: unknown knob EC2GRID_PERIODIC_EXPR_INTERVAL (did you mean PERIODIC_EXPR_INTERVAL? the EC2GRID_ prefix is for the environment)`},
		{"home in the file", `EC2GRID_HOME = "/x"`, nil,
			`FILE:1: EC2GRID_HOME can only be set in the environment: it says where config.hcl is`},
		{"set twice, in two cases", "PERIODIC_EXPR_INTERVAL = 5\nperiodic_expr_interval = 6", nil,
			`FILE:2: PERIODIC_EXPR_INTERVAL is set twice (also on line 1)`},
		{"a block", "ec2 {\n  x = 1\n}", nil,
			`FILE:1: ec2 { ... }: config.hcl holds only NAME = value lines, not blocks`},
		{"syntax", "PERIODIC_EXPR_INTERVAL = = 5", nil,
			`FILE:1:26: Invalid expression: Expected the start of an expression, but found an invalid expression token`},
		{"several, in file order", "A_B = 1\nGRIDMANAGER_MAX_PENDING_REQUESTS = 0\nb {}\n", nil,
			"FILE:1: unknown knob A_B\nFILE:3: b { ... }: config.hcl holds only NAME = value lines, not blocks"},
		{"several values", "EC2_PURGE_GRACE = -1\nGRIDMANAGER_MAX_PENDING_REQUESTS = 0", map[string]string{"EC2GRID_LOG_LEVEL": "loud"},
			"EC2GRID_LOG_LEVEL: \"loud\" is not one of debug, info, warn, error\nFILE:2: GRIDMANAGER_MAX_PENDING_REQUESTS: \"0\": must be at least 1\nFILE:1: EC2_PURGE_GRACE: \"-1\" is negative"},
		{"gahp not on PATH", `EC2_GAHP = "no_such_gahp"`, nil,
			`FILE:1: EC2_GAHP: "no_such_gahp" is not an executable on PATH`},
		{"gahp missing", `EC2_GAHP = "/no/such/gahp"`, nil,
			`FILE:1: EC2_GAHP: /no/such/gahp: no such file or directory`},
		{"gahp a directory", `EC2_GAHP = "/"`, nil,
			`FILE:1: EC2_GAHP: / is not a regular file`},
		{"NUL in a path", noFile, map[string]string{"EC2GRID_SPOOL": "a\x00b"},
			`EC2GRID_SPOOL: "a\x00b" holds a NUL byte`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home, env := testEnv(t)
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := load(t, home, tt.file, env)
			want := strings.ReplaceAll(tt.want, "FILE:", filepath.Join(home, "config.hcl")+":")
			if err == nil || err.Error() != want {
				t.Errorf("error\n got %v\nwant %s", err, want)
			}
		})
	}
}

func TestGahpDiscovery(t *testing.T) {
	bin := t.TempDir()
	gahp := filepath.Join(bin, "ec2_gahp")
	if err := os.WriteFile(gahp, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(bin, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file string
		env        map[string]string
		want       string
		wantErr    string
	}{
		{"found on PATH", noFile, map[string]string{"PATH": "relative:" + bin}, gahp, ""},
		{"none found", noFile, nil, "", ""},
		{"a name on PATH", `EC2_GAHP = "ec2_gahp"`, map[string]string{"PATH": bin}, gahp, ""},
		{"an absolute path", noFile, map[string]string{"EC2GRID_EC2_GAHP": gahp}, gahp, ""},
		{"not executable", noFile, map[string]string{"EC2GRID_EC2_GAHP": plain}, "", "EC2GRID_EC2_GAHP: " + plain + " is not executable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home, env := testEnv(t)
			for k, v := range tt.env {
				env[k] = v
			}
			c, err := load(t, home, tt.file, env)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.EC2Gahp != tt.want {
				t.Errorf("EC2Gahp %q, want %q", c.EC2Gahp, tt.want)
			}
		})
	}
}

func TestHome(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HOME": "/home/u"}, "/home/u/.ec2grid"},
		{map[string]string{"HOME": "/home/u", knobHome: "~/g"}, "/home/u/g"},
		{map[string]string{"HOME": "/home/u", knobHome: "/srv/g/"}, "/srv/g"},
	}
	for _, tt := range tests {
		c, err := Load(func(k string) string { return tt.env[k] })
		if err != nil {
			t.Fatalf("%v: %v", tt.env, err)
		}
		if c.Home != tt.want || c.Socket != filepath.Join(tt.want, "daemon.sock") {
			t.Errorf("%v: home %q socket %q, want home %q", tt.env, c.Home, c.Socket, tt.want)
		}
	}
}

func TestSocketTooLong(t *testing.T) {
	long := "/" + strings.Repeat("d", 100)
	_, err := Load(func(k string) string { return map[string]string{knobHome: long}[k] })
	want := `EC2GRID_SOCKET: the socket path "` + long + `/daemon.sock" is 113 bytes, more than the 107 a Unix socket allows: set EC2GRID_SOCKET to a shorter path`
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant %s", err, want)
	}
	c, err := Load(func(k string) string { return map[string]string{knobHome: long, "EC2GRID_SOCKET": "/tmp/s"}[k] })
	if err != nil || c.Socket != "/tmp/s" {
		t.Fatalf("with EC2GRID_SOCKET: %v, %v", c, err)
	}
}

func TestUnreadableFile(t *testing.T) {
	home, env := testEnv(t)
	if err := os.Mkdir(filepath.Join(home, configFileName), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Load(func(k string) string { return env[k] })
	want := "read config: " + filepath.Join(home, configFileName) + " is not a regular file"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
}

func TestGahpEnv(t *testing.T) {
	c := &Config{EC2GahpRateLimit: 250 * time.Millisecond, EC2GahpLog: "/l/g", EC2GahpDebug: "D_ALL"}
	want := []string{"EC2GRID_EC2_GAHP_RATE_LIMIT=250", "EC2GRID_EC2_GAHP_LOG=/l/g", "EC2GRID_EC2_GAHP_DEBUG=D_ALL"}
	if got := c.GahpEnv(); !reflect.DeepEqual(got, want) {
		t.Errorf("GahpEnv %q, want %q", got, want)
	}
}
