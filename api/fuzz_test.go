package api

import (
	"encoding/json"
	"fmt"
	"testing"
)

// FuzzParseJobID: a job id either parses to a cluster >= 1 (and a proc >= 0 when
// given) that prints back to the same text, or is refused; it never panics.
func FuzzParseJobID(f *testing.F) {
	for _, s := range []string{"12", "12.0", "1.999", "0", "-1", "1.", ".1", "1.2.3", "a", "", "9223372036854775807.1", "01.02"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, p, err := parseJobID(s)
		if err != nil {
			return
		}
		if c < 1 || p < -1 {
			t.Fatalf("%q parsed to %d.%d", s, c, p)
		}
		back := fmt.Sprint(c)
		if p >= 0 {
			back = fmt.Sprintf("%d.%d", c, p)
		}
		if c2, p2, err := parseJobID(back); err != nil || c2 != c || p2 != p {
			t.Fatalf("%q -> %q does not parse back: %d.%d %v", s, back, c2, p2, err)
		}
	})
}

// FuzzAppendJSONString: the streamed query reply's string encoding decodes to what
// encoding/json's own encoding decodes to, for any bytes.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\\", "\x00\x7f", "ü", "\xff\xfe", "\u2028", "x\ny"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		b, _ := json.Marshal(s)
		json.Unmarshal(b, &want)
		if got != want {
			t.Fatalf("%q: got %q, want %q", s, got, want)
		}
	})
}
