package config

import (
	"strings"
	"testing"
)

// FuzzParseFile feeds arbitrary bytes to the config.hcl parser and the value checks behind
// it: neither may panic, every error line must say where (the file, or for the socket's
// length the knob), and whatever parses must name only knobs the file may set.
func FuzzParseFile(f *testing.F) {
	for _, seed := range []string{
		"",
		"GRIDMANAGER_JOB_PROBE_INTERVAL = 5\n",
		"gridmanager_job_probe_interval_ec2 = \"90s\"\nPERIODIC_EXPR_INTERVAL = 0.5\n",
		"QUEUE_SUPER_USERS = [\"root\", \"alice\"]\nEC2_GAHP_RATE_LIMIT = 250\n",
		"QUEUE_SUPER_USERS = \"root, alice\"\nEC2GRID_LOG_LEVEL = \"debug\"\n",
		"EC2_RESOURCE_TIMEOUT = -1\nPERIODIC_EXPR_TIMESLICE = 0.01\n",
		"LOG = \"logs\"\nSPOOL = \"~/spool\"\nEC2GRID_SOCKET = \"/tmp/s\"\n",
		"EC2_GAHP = \"/bin/true\"\n",
		"ec2 {\n x = 1\n}\n",
		"A = ${b}\n",
		"GRIDMANAGER_MAX_PENDING_REQUESTS = 1e300\n",
		"PERIODIC_EXPR_INTERVAL = 5\nperiodic_expr_interval = 6\n",
		"EC2GRID_HOME = \"/x\"\n",
		"X = \"\\u0000\"\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		const name = "config.hcl"
		settings, err := parseFile(src, name)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, name+":") {
					t.Fatalf("error line %q does not say where", line)
				}
			}
			return
		}
		known := map[string]spec{}
		for _, s := range specs() {
			known[s.Name] = s
		}
		for _, s := range settings {
			sp, ok := known[s.name]
			if !ok || sp.envOnly || s.line < 1 {
				t.Fatalf("setting %+v: unknown, environment-only or without a line", s)
			}
		}
		l := &loader{env: func(string) string { return "" }, setNames: map[string]bool{}}
		l.c.Home, l.c.File = "/nonexistent-ec2grid-home", name
		if err := l.apply(settings); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, name+":") && !strings.HasPrefix(line, knobSocket+":") {
					t.Fatalf("error line %q does not say where", line)
				}
			}
		}
	})
}
