package gahp

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"a b", `a\ b`},
		{`back\slash`, `back\\slash`},
		{"cr\rlf\n", "cr\\\rlf\\\n"},
		{"tab\t", "tab\\\t"},
		{"FROM INSTANCE", `FROM\ INSTANCE`},
		{"E_HTTP_RESPONSE_NOT_200 (401)", `E_HTTP_RESPONSE_NOT_200\ (401)`},
		{"üñí côdé", `üñí\ côdé`},
	} {
		if got := Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTokenize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", []string{""}},
		{"RESULTS", []string{"RESULTS"}},
		{"EC2_VM_STOP 7 http://x/ ak sk i-1", []string{"EC2_VM_STOP", "7", "http://x/", "ak", "sk", "i-1"}},
		// Two separators make an empty token; nothing collapses.
		{"a  b", []string{"a", "", "b"}},
		{"a ", []string{"a", ""}},
		{" a", []string{"", "a"}},
		{"a\tb", []string{"a", "b"}},
		{"a\rb", []string{"a", "b"}},
		// Escapes.
		{`FROM\ INSTANCE x`, []string{"FROM INSTANCE", "x"}},
		{`a\\b`, []string{`a\b`}},
		{"a\\\nb", []string{"a\nb"}},
		{"a\\\rb", []string{"a\rb"}},
		{`\q`, []string{"q"}},
		// An escaped byte at the end is kept (HTCondor drops it); a lone backslash is not.
		{`a\ `, []string{"a "}},
		{`a\`, []string{"a"}},
		{`\`, []string{""}},
		{`x \`, []string{"x", ""}},
		{`E_HTTP_RESPONSE_NOT_200\ (401) msg`, []string{"E_HTTP_RESPONSE_NOT_200 (401)", "msg"}},
	} {
		if got := Tokenize(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLineRoundTrip(t *testing.T) {
	t.Parallel()
	for _, fields := range [][]string{
		{"1", "0"},
		{"12", "0", "i-1", "running", "", "key", "NULL"},
		{"3", "1", "E_HTTP_RESPONSE_NOT_200 (400)", "InvalidInstanceID.NotFound: The instance ID 'i-9' does not exist\nsecond line\r"},
		{"", ""},
		{" ", "\\", "\t"},
	} {
		line := Line(fields...)
		lr := NewLineReader(strings.NewReader(line), MaxRequestLine)
		raw, err := lr.ReadLine()
		if err != nil {
			t.Fatalf("ReadLine(%q): %v", line, err)
		}
		if got := Tokenize(string(raw)); !reflect.DeepEqual(got, fields) {
			t.Errorf("round trip of %q via %q = %q", fields, line, got)
		}
	}
}

func TestAppendResult(t *testing.T) {
	t.Parallel()
	got := string(AppendResult(nil, 42, "1", "E_HTTP_RESPONSE_NOT_200 (401)", "AuthFailure: bad key"))
	want := "42 1 E_HTTP_RESPONSE_NOT_200\\ (401) AuthFailure:\\ bad\\ key\n"
	if got != want {
		t.Errorf("AppendResult = %q, want %q", got, want)
	}
	if got, want := string(AppendResult(nil, 5, "0", "", "x")), "5 0  x\n"; got != want {
		t.Errorf("AppendResult with an empty field = %q, want %q", got, want)
	}
}

func TestIsNull(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{"": true, "NULL": true, "null": true, "Null": true, "NULLx": false, "x": false} {
		if IsNull(s) != want {
			t.Errorf("IsNull(%q) = %v", s, !want)
		}
	}
	if OrNull("") != "NULL" || OrNull("x") != "x" {
		t.Error("OrNull")
	}
}

func TestLineReader(t *testing.T) {
	t.Parallel()
	in := "A 1\r\nB\\\r\n2\nC\\\n3\n\r\n" + strings.Repeat("x", 40) + "\nD\rE\nlast"
	lr := NewLineReader(strings.NewReader(in), 32)
	var got []string
	var errs []error
	for {
		line, err := lr.ReadLine()
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, ErrLineTooLong) {
				continue
			}
			break
		}
		got = append(got, string(line))
	}
	want := []string{"A 1", "B\\\r", "2", "C\\\n3", "", "DE"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
	if len(errs) != 2 || !errors.Is(errs[0], ErrLineTooLong) || !errors.Is(errs[1], io.ErrUnexpectedEOF) {
		t.Errorf("errors = %v, want [too long, unexpected EOF]", errs)
	}
	if _, err := NewLineReader(bytes.NewReader(nil), 10).ReadLine(); !errors.Is(err, io.EOF) {
		t.Errorf("empty input: %v, want io.EOF", err)
	}
}

// FuzzTokenizeRoundTrip: any list of arguments, written as a line and read back, is the
// same list (the property both sides of the protocol rely on).
func FuzzTokenizeRoundTrip(f *testing.F) {
	f.Add("EC2_VM_START", "FROM INSTANCE", "a\\b", "")
	f.Add("", "\n", "\r\n", "\t")
	f.Add("NULL", "x y z", "\\", " ")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		fields := []string{a, b, c, d}
		line := Line(fields...)
		lr := NewLineReader(strings.NewReader(line), len(line)+1)
		raw, err := lr.ReadLine()
		if err != nil {
			t.Fatalf("ReadLine(%q): %v", line, err)
		}
		if got := Tokenize(string(raw)); !reflect.DeepEqual(got, fields) {
			t.Fatalf("round trip of %q via %q = %q", fields, line, got)
		}
		if _, err := lr.ReadLine(); !errors.Is(err, io.EOF) {
			t.Fatalf("after the line: %v, want io.EOF", err)
		}
	})
}

// FuzzTokenize: any bytes tokenize without panicking, and re-escaping the tokens gives a
// line that tokenizes to the same tokens (tokenizing is a fixed point after one pass).
func FuzzTokenize(f *testing.F) {
	f.Add("EC2_VM_STOP 2 http://127.0.0.1:1/ ak sk i-1")
	f.Add(`a\ b\\  c\`)
	f.Add("\\\n\\\r\t ")
	f.Fuzz(func(t *testing.T, s string) {
		toks := Tokenize(s)
		if len(toks) == 0 {
			t.Fatalf("Tokenize(%q) returned no token", s)
		}
		line := Line(toks...)
		again := Tokenize(line[:len(line)-1])
		if !reflect.DeepEqual(again, toks) {
			t.Fatalf("Tokenize(%q) = %q, but its re-escaped line %q gives %q", s, toks, line, again)
		}
	})
}
