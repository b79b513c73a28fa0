package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestRun(t *testing.T) {
	tests := []struct {
		args     []string
		wantOut  string // whole stdout, if set
		wantLast string // last stdout line, if set
		wantCode int
		wantErr  string // substring of stderr
	}{
		{args: []string{"x = undefined", "false && x"}, wantLast: "false"},
		{args: []string{"x = undefined", "x || true"}, wantLast: "true"},
		{args: []string{"1/0"}, wantLast: "error"},
		{args: []string{`"abc" == "ABC"`}, wantLast: "true"},
		{args: []string{`"abc" =?= "ABC"`}, wantLast: "false"},
		{args: []string{"undefined =?= undefined"}, wantLast: "true"},
		{args: []string{"x = y", "x", "y = 7", "x", "[ x = 6; z = \"foo\"; ]", "x"},
			wantOut: "[ x = y ]\nundefined\n[ x = y; y = 7 ]\n7\n[ x = 6; y = 7; z = \"foo\" ]\n6\n"},
		{args: []string{"x = y", "x", "-quiet", "y = 7", "x"}, wantOut: "[ x = y ]\nundefined\n7\n"},
		{args: []string{"-quiet", "a=2", "a*2", `strcat("foo", "bar")`, "3.5", "{1, 2}"}, wantOut: "4\n\"foobar\"\n3.5\n{ 1,2 }\n"},
		{args: []string{"-quiet", "-1 + 3", "a == 2"}, wantOut: "2\nundefined\n"},
		{args: []string{"1 +* 2"}, wantCode: 1, wantErr: "column 4"},
		{args: []string{"a = (1"}, wantCode: 1, wantErr: "column 7"},
		{args: []string{"-bogus"}, wantCode: 255, wantErr: "unknown option"},
		{args: []string{"-file", "/nonexistent/ad"}, wantCode: 1, wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, &out, &errOut)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.wantCode, errOut.String())
			}
			if tt.wantOut != "" && out.String() != tt.wantOut {
				t.Errorf("stdout %q, want %q", out.String(), tt.wantOut)
			}
			if tt.wantLast != "" && lastLine(out.String()) != tt.wantLast {
				t.Errorf("last line %q, want %q", lastLine(out.String()), tt.wantLast)
			}
			if !strings.Contains(errOut.String(), tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", errOut.String(), tt.wantErr)
			}
		})
	}
}

func TestFileContext(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, "job.ad")
	os.WriteFile(long, []byte("ClusterId = 12\nJobStatus = 2\nOwner = \"alice\"\n\nClusterId = 13\n"), 0o644)
	inline := filepath.Join(dir, "slot.ad")
	os.WriteFile(inline, []byte("[ Memory = 2048; Arch = \"X86_64\" ]\n"), 0o644)
	var out, errOut bytes.Buffer
	code := run([]string{"-quiet", "-file", long, "-target-file", inline,
		"ClusterId", `Owner == "ALICE"`, "TARGET.Memory / 1024", "MY.JobStatus"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if want := "12\ntrue\n2\n2\n"; out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
}

// TestBinary runs the real command, as a user would, for the acceptance cases.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "classad_eval")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"x = undefined", "false && x"}, "false"},
		{[]string{"x = undefined", "x || true"}, "true"},
		{[]string{"1/0"}, "error"},
		{[]string{`"abc" == "ABC"`}, "true"},
		{[]string{`"abc" =?= "ABC"`}, "false"},
		{[]string{"undefined =?= undefined"}, "true"},
	}
	for _, c := range cases {
		out, err := exec.Command(bin, c.args...).Output()
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if got := lastLine(string(out)); got != c.want {
			t.Errorf("%v: last line %q, want %q", c.args, got, c.want)
		}
	}
	cmd := exec.Command(bin, "(1 + ")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("parse error: got %v, want exit status 1", err)
	}
	if !strings.Contains(stderr.String(), "column") {
		t.Errorf("parse error message %q does not name the column", stderr.String())
	}
}
