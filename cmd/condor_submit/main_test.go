package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ec2grid/ec2grid/classad"
)

// article is the submit file of the Condor article; the key files are in the test's
// directory.
const article = `universe = grid
grid_resource = ec2 https://ec2.amazonaws.com/
ec2_access_key_id = %s
ec2_secret_access_key = %s
ec2_ami_id = ami-60bd4609
ec2_instance_type = m1.small
ec2_user_data = Hello $(executable)!
executable = EC2_Instance-$(ec2_ami_id)
log = $(executable).$(cluster).log
ec2_keypair_file = $(executable).$(cluster).pem
queue
`

// setup writes the key files and the article's submit file into a new directory and
// makes it the working directory (condor_submit resolves relative paths against it).
func setup(t *testing.T) (dir, subFile string) {
	t.Helper()
	dir = t.TempDir()
	for _, name := range []string{"AccessKeyID", "SecretAccessKey"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("key\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	subFile = filepath.Join(dir, "ec2.sub")
	src := fmt.Sprintf(article, filepath.Join(dir, "AccessKeyID"), filepath.Join(dir, "SecretAccessKey"))
	if err := os.WriteFile(subFile, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	return dir, subFile
}

// parseDryRun reads Attr=value ads separated by blank lines.
func parseDryRun(t *testing.T, text string) []*classad.ClassAd {
	t.Helper()
	var ads []*classad.ClassAd
	for _, block := range strings.Split(strings.TrimSpace(text), "\n\n") {
		ad := classad.New()
		for _, line := range strings.Split(block, "\n") {
			name, value, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("line %q is not Attr=value", line)
			}
			if err := ad.SetExpr(name, value); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
		}
		ads = append(ads, ad)
	}
	return ads
}

func str(t *testing.T, ad *classad.ClassAd, name string) string {
	t.Helper()
	s, ok := ad.EvalAttr(name).StringValue()
	if !ok {
		t.Fatalf("%s is not a string in %s", name, ad)
	}
	return s
}

func TestRun(t *testing.T) {
	dir, subFile := setup(t)
	src, _ := os.ReadFile(subFile)
	tests := []struct {
		name    string
		args    []string
		stdin   string
		code    int
		stdout  string // prefix of stdout
		stderr  string // substring of stderr
		outFile bool   // the ads went to dir/out.ads
	}{
		{name: "dry-run to stdout", args: []string{"-dry-run", "-", subFile}, stdout: "Dry-Run job(s).\n1 job(s) dry-run to cluster 1.\n\nClusterId=1\n"},
		{name: "dry-run to a file", args: []string{"-dry-run", "out.ads", subFile}, stdout: "Dry-Run job(s).\n1 job(s) dry-run to cluster 1.\n", outFile: true},
		{name: "submit file on stdin", args: []string{"-dry-run", "-"}, stdin: string(src), stdout: "Dry-Run job(s).\n1 job(s) dry-run to cluster 1.\n\n"},
		{name: "submit file - on stdin", args: []string{"-dry-run", "-", "-"}, stdin: string(src), stdout: "Dry-Run job(s).\n"},
		{name: "several jobs", args: []string{"-dry-run", "-"}, stdin: strings.Replace(string(src), "queue", "queue 3", 1), stdout: "Dry-Run job(s)...\n3 job(s) dry-run to cluster 1.\n"},
		{name: "two clusters", args: []string{"-dry-run", "-"}, stdin: string(src) + "executable = other\nqueue 2\n",
			stdout: "Dry-Run job(s)...\n1 job(s) dry-run to cluster 1.\n2 job(s) dry-run to cluster 2.\n"},
		{name: "warning", args: []string{"-dry-run", "-"}, stdin: string(src) + "ec2_instance_type = m1.large\n",
			stdout: "Dry-Run job(s).\n", stderr: "WARNING: the line 'ec2_instance_type = m1.large' was unused by condor_submit. Is it a typo?"},
		{name: "no jobs", args: []string{"-dry-run", "-"}, stdin: strings.Replace(string(src), "queue", "queue 0", 1), stdout: "Dry-Run job(s)\n", stderr: "only empty"},
		{name: "error names file, line and key", args: []string{"-dry-run", "-", subFile}, code: 1},
		{name: "bad submit file", args: []string{"-dry-run", "-"}, stdin: strings.Replace(string(src), "ec2_ami_id = ami-60bd4609\n", "", 1), code: 1,
			stderr: "\nERROR: on Line 10 of <stdin>: ec2_ami_id: EC2 jobs require a \"ec2_ami_id\" parameter\n"},
		{name: "missing submit file", args: []string{"-dry-run", "-", "nowhere.sub"}, code: 1, stderr: "ERROR: Failed to open command file (nowhere.sub) (no such file or directory)"},
		{name: "-dry-run without OUT", args: []string{"-dry-run"}, code: 1, stderr: "needs an output file"},
		{name: "unknown option", args: []string{"-spool", subFile}, code: 1, stderr: "unknown or unsupported option -spool"},
		{name: "two files", args: []string{"-dry-run", "-", subFile, subFile}, code: 1, stderr: "only one submit file"},
		{name: "help", args: []string{"-help"}, stdout: "usage: condor_submit [options] [NAME=value ...] [FILE] [-queue ARGS]"},
		{name: "unwritable OUT", args: []string{"-dry-run", filepath.Join(dir, "no", "such", "dir"), subFile}, code: 1, stderr: "cannot write the dry-run output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "error names file, line and key" {
				bad := filepath.Join(dir, "bad.sub")
				os.WriteFile(bad, []byte("universe = vanilla\nexecutable = x\nqueue\n"), 0o644)
				tt.args = []string{"-dry-run", "-", bad}
				tt.stderr = "ERROR: on Line 1 of " + bad + ": universe: universe \"vanilla\" is not supported"
			}
			os.Remove(filepath.Join(dir, "out.ads"))
			var stdout, stderr bytes.Buffer
			code := run(tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), tt.stdout) {
				t.Errorf("stdout:\n%s\nwant prefix:\n%s", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.stderr)
			}
			if tt.code != 0 && stdout.Len() != 0 {
				t.Errorf("stdout on failure: %q", stdout.String())
			}
			data, err := os.ReadFile(filepath.Join(dir, "out.ads"))
			if tt.outFile {
				if err != nil {
					t.Fatal(err)
				}
				if ads := parseDryRun(t, string(data)); len(ads) != 1 {
					t.Errorf("%d ads in out.ads", len(ads))
				}
			} else if err == nil {
				t.Errorf("out.ads was written")
			}
		})
	}
}

// TestAdFormat checks the Attr=value form: no spaces around '=', old-syntax values,
// attributes sorted case-insensitively, one blank line between ads and none at the end.
func TestAdFormat(t *testing.T) {
	_, subFile := setup(t)
	src, _ := os.ReadFile(subFile)
	in := strings.Replace(string(src), "queue", "+lower = \"a\"\n+Upper = 1 + 2\nperiodic_hold = (JobStatus == 2) && (time() - EnteredCurrentStatus > 3600)\nqueue 2", 1)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-dry-run", "-"}, strings.NewReader(in), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	_, body, _ := strings.Cut(stdout.String(), "\n\n")
	if strings.HasSuffix(body, "\n\n") {
		t.Errorf("output ends with a blank line")
	}
	blocks := strings.Split(strings.TrimSuffix(body, "\n"), "\n\n")
	if len(blocks) != 2 {
		t.Fatalf("%d ads, want 2", len(blocks))
	}
	lines := strings.Split(blocks[0], "\n")
	for i := 1; i < len(lines); i++ {
		a, _, _ := strings.Cut(lines[i-1], "=")
		b, _, _ := strings.Cut(lines[i], "=")
		if strings.ToLower(a) >= strings.ToLower(b) {
			t.Errorf("%s before %s: not sorted case-insensitively", a, b)
		}
	}
	for _, want := range []string{"lower=\"a\"", "Upper=1 + 2", "PeriodicHold=(JobStatus == 2) && (time() - EnteredCurrentStatus > 3600)", "ProcId=0", "JobUniverse=9"} {
		if !strings.Contains(blocks[0]+"\n", want+"\n") {
			t.Errorf("first ad has no line %q:\n%s", want, blocks[0])
		}
	}
	if !strings.Contains(blocks[1], "ProcId=1\n") {
		t.Errorf("second ad is not proc 1:\n%s", blocks[1])
	}
}

// TestBinary builds the real command and runs the article's submit file through it, as a
// user would.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "condor_submit")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir, subFile := setup(t)
	cmd := exec.Command(bin, "-dry-run", "-", subFile)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr.String())
	}
	summary, ads, ok := strings.Cut(stdout.String(), "\n\n")
	if !ok || summary != "Dry-Run job(s).\n1 job(s) dry-run to cluster 1." {
		t.Fatalf("stdout:\n%s", stdout.String())
	}
	parsed := parseDryRun(t, ads)
	if len(parsed) != 1 {
		t.Fatalf("%d ads, want 1", len(parsed))
	}
	ad := parsed[0]
	want := map[string]string{
		"GridResource":    "ec2 https://ec2.amazonaws.com/",
		"EC2AmiID":        "ami-60bd4609",
		"EC2InstanceType": "m1.small",
		"EC2UserData":     "Hello EC2_Instance-ami-60bd4609!",
		"Cmd":             "EC2_Instance-ami-60bd4609",
		"EC2KeyPairFile":  filepath.Join(dir, "EC2_Instance-ami-60bd4609.1.pem"),
		"UserLog":         filepath.Join(dir, "EC2_Instance-ami-60bd4609.1.log"),
	}
	for name, w := range want {
		if got := str(t, ad, name); got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
	for name, w := range map[string]int64{"ClusterId": 1, "ProcId": 0, "JobStatus": 1, "JobUniverse": 9} {
		if got, _ := ad.EvalAttr(name).IntValue(); got != w {
			t.Errorf("%s = %d, want %d", name, got, w)
		}
	}

	// A bad file: exit status 1, the error on stderr, nothing on stdout.
	bad := filepath.Join(dir, "bad.sub")
	os.WriteFile(bad, []byte("universe = grid\ngrid_resource = ec2\nexecutable = x\nqueue\n"), 0o644)
	cmd = exec.Command(bin, "-dry-run", "-", bad)
	cmd.Dir = dir
	stdout.Reset()
	stderr.Reset()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("bad file: %v, want exit status 1", err)
	}
	if want := "ERROR: on Line 2 of " + bad + ": grid_resource: EC2 grid jobs require a service URL"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q does not contain %q", stderr.String(), want)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout on failure: %q", stdout.String())
	}
}
