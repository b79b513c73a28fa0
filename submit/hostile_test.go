//go:build unix

package submit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// generous bounds a wait on something that must not block (a FIFO opened by mistake);
// it is never an assertion about speed.
const generous = 30 * time.Second

// submitNoHang is submitText with a bound: a check that opens a FIFO blocks forever, and
// the test must then fail rather than hang.
func (fx *fixture) submitNoHang(t *testing.T, src string) (*Submission, error) {
	t.Helper()
	type result struct {
		sub *Submission
		err error
	}
	done := make(chan result, 1)
	go func() {
		sub, err := fx.submitText(src)
		done <- result{sub, err}
	}()
	select {
	case r := <-done:
		return r.sub, r.err
	case <-time.After(generous):
		t.Fatalf("submit blocked for %v (on a FIFO?)", generous)
		return nil, nil
	}
}

// TestLongLines: a line over maxLineBytes, however it is made up, is an error naming its
// line, and the message does not repeat the line.
func TestLongLines(t *testing.T) {
	huge := strings.Repeat("x", 10<<20) // 10 MB
	continued := strings.Repeat(strings.Repeat("y", 100<<10)+"\\\n", 100) + "y\n"
	tests := []struct {
		name string
		src  string
		line int
		msg  string
	}{
		{"10 MB value", base + "ec2_user_data = " + huge + "\nqueue\n", 7, "line is longer than 1048576 bytes"},
		{"10 MB comment", base + "# " + huge + "\nqueue\n", 7, "line is longer than 1048576 bytes"},
		{"10 MB without a newline", base + "+Big = " + huge, 7, "line is longer than 1048576 bytes"},
		{"10 MB in 100 continued lines", base + "ec2_user_data = " + continued + "queue\n", 7, "continued with \\ is longer than 1048576 bytes"},
		{"10 MB here-document", base + "ec2_user_data @=end\n" + strings.Repeat(strings.Repeat("z", 1000)+"\n", 10_000) + "@end\nqueue\n", 7, "@=end is longer than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("job.sub", strings.NewReader(tt.src))
			if err == nil {
				t.Fatal("no error")
			}
			se := asError(t, err)
			if se.File != "job.sub" || se.Line != tt.line || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("got %q (line %d), want line %d and %q", err, se.Line, tt.line, tt.msg)
			}
			if len(err.Error()) > 300 {
				t.Errorf("the message repeats the line: %d bytes", len(err.Error()))
			}
		})
	}
}

// TestLineLimitBoundary: a line of exactly maxLineBytes is accepted, one byte more is not.
func TestLineLimitBoundary(t *testing.T) {
	// The line is the file's last: with no ending, at the end of the file.
	for _, ending := range []string{"\n", "\r\n", ""} {
		at := "#" + strings.Repeat("c", maxLineBytes-1)
		if _, err := Parse("job.sub", strings.NewReader(base+"queue\n"+at+ending)); err != nil {
			t.Errorf("line of %d bytes ending %q: %v", maxLineBytes, ending, err)
		}
		if _, err := Parse("job.sub", strings.NewReader(base+"queue\n"+at+"c"+ending)); err == nil || asError(t, err).Line != 8 {
			t.Errorf("line of %d bytes ending %q: %v, want an error on line 8", maxLineBytes+1, ending, err)
		}
	}
}

// TestHugeUserDataFile: a 100 MB user-data file is refused by its size, naming the file,
// the line and the key; it is not read (the file is sparse, and reading it whole would
// show in the test's memory, but the size in the message comes from the file system).
func TestHugeUserDataFile(t *testing.T) {
	fx := newFixture(t)
	p := filepath.Join(fx.dir, "huge")
	writeFile(t, p, "")
	if err := os.Truncate(p, 100<<20); err != nil {
		t.Fatal(err)
	}
	_, err := fx.submitText(base + "ec2_user_data_file = huge\nqueue\n")
	if err == nil {
		t.Fatal("no error")
	}
	se := asError(t, err)
	want := fmt.Sprintf("the user data is %d bytes", 100<<20)
	if se.Key != "ec2_user_data_file" || se.Line != 7 || !strings.Contains(se.Msg, want) || !strings.Contains(se.Msg, "at most 16384") {
		t.Errorf("got %v, want line 7, ec2_user_data_file, %q, at most 16384", err, want)
	}
}

// TestNotRegularFiles: a key file, user-data file or item file that is a directory or a
// FIFO is refused at once (a FIFO is never opened for reading, which would block), and a
// key-pair file path that exists as one is refused too.
func TestNotRegularFiles(t *testing.T) {
	tests := []struct {
		name  string
		lines string // %s is the odd path
		key   string
		line  int
	}{
		{"access key", "ec2_access_key_id = %s\nqueue\n", "ec2_access_key_id", 7},
		{"secret key", "ec2_secret_access_key = %s\nqueue\n", "ec2_secret_access_key", 7},
		{"aws secret key file", "ec2_secret_access_key =\naws_secret_access_key_file = %s\nqueue\n", "aws_secret_access_key_file", 8},
		{"user data file", "ec2_user_data_file = %s\nqueue\n", "ec2_user_data_file", 7},
		{"key pair file", "ec2_keypair_file = %s\nqueue\n", "ec2_keypair_file", 7},
		{"item file", "queue a from %s\n", "queue", 7},
	}
	kinds := []struct {
		name string
		make func(string) error
		what string
	}{
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }, "is a directory"},
		{"FIFO", func(p string) error { return syscall.Mkfifo(p, 0o600) }, "named pipe"},
	}
	for _, kind := range kinds {
		for _, tt := range tests {
			t.Run(kind.name+"/"+tt.name, func(t *testing.T) {
				fx := newFixture(t)
				odd := filepath.Join(fx.dir, "odd")
				if err := kind.make(odd); err != nil {
					t.Fatal(err)
				}
				sub, err := fx.submitNoHang(t, base+fmt.Sprintf(tt.lines, "odd"))
				if err == nil {
					t.Fatalf("no error; %d jobs", sub.NumJobs())
				}
				se := asError(t, err)
				if se.Key != tt.key || se.Line != tt.line || !strings.Contains(err.Error(), kind.what) || !strings.Contains(err.Error(), odd) {
					t.Errorf("got %v, want line %d, key %s, %q and the path", err, tt.line, tt.key, kind.what)
				}
			})
		}
	}
}

// TestWritableKeyFiles: a key file its group or others may write gets a warning naming the
// file, the line and the key, or is refused with RefuseWritableKeyFiles; the key itself
// appears in neither.
func TestWritableKeyFiles(t *testing.T) {
	tests := []struct {
		file string
		mode os.FileMode
		key  string
		warn bool
	}{
		{"AccessKeyID", 0o600, "", false},
		{"AccessKeyID", 0o644, "", false},
		{"AccessKeyID", 0o666, "ec2_access_key_id", true},
		{"SecretAccessKey", 0o602, "ec2_secret_access_key", true},
		{"SecretAccessKey", 0o620, "ec2_secret_access_key", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %04o", tt.file, tt.mode), func(t *testing.T) {
			fx := newFixture(t)
			p := filepath.Join(fx.dir, tt.file)
			writeFile(t, p, "MARKER-SECRET-1234\n")
			if err := os.Chmod(p, tt.mode); err != nil {
				t.Fatal(err)
			}
			src := base + "queue\n"
			sub, err := fx.submitText(src)
			if err != nil {
				t.Fatal(err)
			}
			warned := strings.Join(sub.Warnings, "\n")
			if tt.warn != strings.Contains(warned, "is writable by others") {
				t.Fatalf("warnings %q; want a writable-by-others warning: %v", warned, tt.warn)
			}
			if tt.warn && (!strings.Contains(warned, p) || !strings.Contains(warned, tt.key) || !strings.Contains(warned, fmt.Sprintf("mode %04o", tt.mode))) {
				t.Errorf("warning %q does not name the file, the key and the mode", warned)
			}

			opts := fx.options()
			opts.RefuseWritableKeyFiles = true
			f, err := Parse("job.sub", strings.NewReader(src))
			if err != nil {
				t.Fatal(err)
			}
			sub, err = f.Jobs(opts)
			if !tt.warn {
				if err != nil {
					t.Fatalf("refused a safe key file: %v", err)
				}
				return
			}
			if err == nil || sub != nil {
				t.Fatalf("RefuseWritableKeyFiles: got %v, %v; want an error and no jobs", sub, err)
			}
			se := asError(t, err)
			if se.Key != tt.key || !strings.Contains(se.Msg, "writable by others") || !strings.Contains(se.Msg, RefuseWritableKeyFilesKnob) {
				t.Errorf("got %v", err)
			}
			if strings.Contains(err.Error()+warned, "MARKER-SECRET") {
				t.Error("the key file's contents appear in a message")
			}
		})
	}
}
