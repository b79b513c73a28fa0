package gridmanager

import (
	"errors"
	"testing"
)

func TestParseGridJobID(t *testing.T) {
	cases := []struct {
		in   string
		want GridJobID
		err  bool
	}{
		{in: "ec2 https://x/ tok", want: GridJobID{URL: "https://x/", Token: "tok"}},
		{in: "ec2 https://x/ tok i-1", want: GridJobID{URL: "https://x/", Token: "tok", InstanceID: "i-1"}},
		{in: "EC2  https://x/\ttok  i-1 ", want: GridJobID{URL: "https://x/", Token: "tok", InstanceID: "i-1"}},
		{in: "", err: true},
		{in: "ec2", err: true},
		{in: "ec2 https://x/", err: true},
		{in: "gt2 https://x/ tok", err: true},
		{in: "ec2 a b c d", err: true},
	}
	for _, c := range cases {
		got, err := ParseGridJobID(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseGridJobID(%q) = %+v, %v", c.in, got, err)
		}
		if err == nil {
			if back, err := ParseGridJobID(got.String()); err != nil || back != got {
				t.Errorf("%q: round trip %+v, %v", c.in, back, err)
			}
		}
	}
}

func TestParseGridResource(t *testing.T) {
	cases := []struct {
		in   string
		url  string
		hold hold
	}{
		{in: "ec2 https://x/", url: "https://x/"},
		{in: "", hold: holdNoGridResource},
		{in: "batch pbs", hold: holdNotEC2},
		{in: "ec2", hold: holdNoURL},
	}
	for _, c := range cases {
		url, err := ParseGridResource(c.in)
		var h hold
		errors.As(err, &h)
		if url != c.url || h != c.hold {
			t.Errorf("ParseGridResource(%q) = %q, %v", c.in, url, err)
		}
	}
}

// FuzzParseGridJobID: whatever parses prints back to text that parses to the same id,
// and every part is one non-empty word.
func FuzzParseGridJobID(f *testing.F) {
	for _, s := range []string{"ec2 https://x/ tok", "ec2 https://x/ tok i-1", "ec2", " EC2 a b c ", "ec2 a b c d", "ec2\u00a0a b c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGridJobID(s)
		if err != nil {
			return
		}
		if g.URL == "" || g.Token == "" {
			t.Fatalf("%q parsed to empty parts %+v", s, g)
		}
		back, err := ParseGridJobID(g.String())
		if err != nil || back != g {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, g, g.String(), back, err)
		}
	})
}
