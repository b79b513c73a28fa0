package interop

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// script is the path of a testdata script.
func script(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The parts of the scenario every client runs, each a separate script run so a failure
// names its part.
func scenarioParts() []string { return []string{"instances", "keypairs", "spot"} }

// TestBoto3 runs the scenario with Debian's boto3 (python3-boto3, botocore 1.29).
func TestBoto3(t *testing.T) {
	t.Parallel()
	needPython(t, debianPython, "boto3", "python3-boto3")
	c := startCloud(t, "aws")
	for _, part := range scenarioParts() {
		t.Run(part, func(t *testing.T) {
			c.runClient(t, debianPython, script(t, "boto3_scenario.py"), part)
		})
	}
}

// TestBoto2 runs the scenario with Debian's boto 2.49 (python3-boto), which sends API
// version 2014-10-01 and, pointed at an IP address, signs SigV4 with the scope 0/127;
// the sigv2 part signs with Signature Version 2.
func TestBoto2(t *testing.T) {
	t.Parallel()
	needPython(t, debianPython, "boto", "python3-boto")
	c := startCloud(t, "aws")
	for _, part := range append(scenarioParts(), "sigv2") {
		t.Run(part, func(t *testing.T) {
			c.runClient(t, debianPython, script(t, "boto2_scenario.py"), part)
		})
	}
	if ex, ok := c.rec.last("DescribeInstances"); ok && ex.Version != "2014-10-01" {
		t.Errorf("boto 2 sent Version %q; the test expects 2014-10-01, so the validator checks the echo of an old version", ex.Version)
	}
	// The point of running boto 2 unmodified: at an IP address it signs with the scope
	// region "0", service "127", and the cloud must verify with that scope.
	var v4, v2 int
	for _, ex := range c.rec.exchanges() {
		switch {
		case strings.Contains(ex.auth, "/0/127/aws4_request"):
			v4++
		case ex.auth == "" && ex.Action != "":
			v2++
		}
	}
	if v4 == 0 || v2 == 0 {
		t.Errorf("boto 2 sent %d requests signed v4 with the scope 0/127 and %d signed v2; want some of each", v4, v2)
	}
}

// TestAWSCLI runs the scenario with Debian's AWS CLI v2 (/usr/bin/aws).
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	if _, err := filepath.EvalSymlinks(debianAWS); err != nil {
		missing(t, "the AWS CLI "+debianAWS+" (Debian awscli)", err)
	}
	c := startCloud(t, "aws")
	for _, part := range scenarioParts() {
		t.Run(part, func(t *testing.T) {
			c.runClient(t, "/bin/bash", script(t, "awscli_scenario.sh"), part)
		})
	}
}

// TestNimbusExample runs the EC2 parts of the Nimbus client notes' boto 2 examples, with
// only the changes the script lists, against the nimbus flavor.
func TestNimbusExample(t *testing.T) {
	t.Parallel()
	needPython(t, debianPython, "boto", "python3-boto")
	c := startCloud(t, "nimbus")
	out := c.runClient(t, debianPython, script(t, "nimbus_example.py"))
	if !strings.Contains(out, "instance is pending") {
		t.Errorf("the full example's poll loop never saw pending:\n%s", out)
	}
	m := regexp.MustCompile(`(?m)^Nr\. of Requests: (\d+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no 'Nr. of Requests' line:\n%s", out)
	}
	// One request from the first spot example, ten from the second (EC2 makes one spot
	// request per instance asked for).
	if n, _ := strconv.Atoi(m[1]); n != 11 {
		t.Errorf("Nr. of Requests: %d, want 11", n)
	}
	if !regexp.MustCompile(`(?m)^Id: sir-\S+ State: (open|active)$`).MatchString(out) {
		t.Errorf("no 'Id: sir-... State: open|active' line:\n%s", out)
	}
	if !strings.Contains(out, "CHECK requests=21 cancelled=cancelled") {
		t.Errorf("want 21 spot requests and the cancelled one cancelled:\n%s", out)
	}
	if strings.Contains(out, "CHECK history=0") {
		t.Errorf("the spot price history is empty:\n%s", out)
	}
}
