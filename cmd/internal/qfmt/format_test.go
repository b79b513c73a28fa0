package qfmt

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ec2grid/ec2grid/classad"
)

func TestFormat(t *testing.T) {
	ad, err := classad.ParseAd(`[ ClusterId = 7; ProcId = 1; Owner = "alice"; N = 42; F = 2.5; B = true; S = "hi";
		E = N + 1; L = { 1, 2 } ]`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		fmt, attr, want string
	}{
		{`%d\n`, "N", "42\n"},
		{"%5d|", "N", "   42|"},
		{"%-5d|", "N", "42   |"},
		{"%i", "N", "42"},
		{"%x %X %o", "N", "2a 2A 52"},
		{"%d", "F", "2"},
		{"%d", "B", "1"},
		{"%f", "F", "2.500000"},
		{"%.1f", "N", "42.0"},
		{"%g", "F", "2.5"},
		{"%g", "1234567.0", "1.23457e+06"},
		{"%.3g", "1234567.0", "1.23e+06"},
		{"%x", "-1", "ffffffffffffffff"},
		{"%e", "F", "2.500000e+00"},
		{"%s", "S", "hi"},
		{"%s", "N", "42"},
		{"%v", "S", "hi"},
		{"%V", "S", `"hi"`},
		{"%V", "N", "42"},
		{"%r", "E", "N + 1"},
		{"%d", "E", "43"},
		{"%s", "L", "{ 1,2 }"},
		{"%s", "Missing", "undefined"},
		{"%d", "Missing", "undefined"},
		{"%s", "N * 2", "84"},
		{"%s", "strcat(Owner, \"!\")", "alice!"},
		{"100%%", "N", "100%"},
		{"%s %s", "S", "hi hi"},
		{"tail %", "N", "tail %"},
		{"%q", "N", "%q"},
		{"x: %s\\n", "N +", ""}, // neither an attribute nor an expression: skipped
		{`a\tb\\c\q`, "N", "a\tb\\c\\q"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := Format(&b, []*classad.ClassAd{ad}, []FormatItem{{tt.fmt, tt.attr}}, testNow); err != nil {
			t.Fatal(err)
		}
		if b.String() != tt.want {
			t.Errorf("-format %q %s = %q, want %q", tt.fmt, tt.attr, b.String(), tt.want)
		}
	}
}

func TestAutoFormat(t *testing.T) {
	a1, _ := classad.ParseAd(`[ ClusterId = 7; ProcId = 1; Owner = "alice"; N = 42; E = N + 1 ]`)
	a2, _ := classad.ParseAd(`[ ClusterId = 8; ProcId = 0; Owner = "bob"; N = 3 ]`)
	ads := []*classad.ClassAd{a1, a2}
	tests := []struct {
		opts  string
		attrs []string
		want  string
	}{
		{"", []string{"Owner", "N"}, "alice 42\nbob 3\n"},
		{"", []string{"Missing"}, "undefined\nundefined\n"},
		{"j", []string{"Owner"}, "7.1 alice\n8.0 bob\n"},
		{"jl", []string{"Owner"}, "ID = 7.1 Owner = alice\nID = 8.0 Owner = bob\n"},
		{"V", []string{"Owner", "N"}, "\"alice\" 42\n\"bob\" 3\n"},
		{"r", []string{"E"}, "N + 1\nundefined\n"},
		{"rV", []string{"Owner"}, "\"alice\"\n\"bob\"\n"},
		{"", []string{"E"}, "43\nundefined\n"},
		{"r", []string{"N * 2"}, "N * 2\nN * 2\n"},
		{",", []string{"Owner", "N"}, "alice, 42,\nbob, 3,\n"},
		{"t", []string{"Owner", "N"}, "alice\t42\nbob\t3\n"},
		{"t,", []string{"Owner", "N"}, "alice,\t42,\nbob,\t3,\n"},
		{"n", []string{"Owner", "N"}, "alice\n 42\n\nbob\n 3\n\n"},
		{"g", []string{"Owner", "N"}, "\nalice42\n\nbob3\n"},
		{"lrng", []string{"Owner", "N"}, "\nOwner = \"alice\"\nN = 42\n\n\nOwner = \"bob\"\nN = 3\n\n"},
		{"l", []string{"Owner", "N"}, "Owner = alice N = 42\nOwner = bob N = 3\n"},
		{"h", []string{"Owner", "N"}, "Owner N\nalice 42\nbob   3\n"},
		{"hl", []string{"Owner", "N"}, "Owner N\nalice 42\nbob   3\n"},
		{"jh", []string{"N"}, " ID      N\n   7.1   42\n   8.0   3\n"},
		{"", []string{"N * 2"}, "84\n6\n"},
	}
	for _, tt := range tests {
		af := ParseAutoFormatOptions(tt.opts)
		af.Attrs = tt.attrs
		var b bytes.Buffer
		if err := af.Print(&b, ads, testNow); err != nil {
			t.Fatal(err)
		}
		if b.String() != tt.want {
			t.Errorf("-af:%s %v = %q, want %q", tt.opts, tt.attrs, b.String(), tt.want)
		}
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args       string
		view       View
		constraint string
		err        string
	}{
		{"", ViewBatch, `(Owner == "me")`, ""},
		{"-allusers", ViewBatch, "true", ""},
		{"-nobatch", ViewNoBatch, `(Owner == "me")`, ""},
		{"-nob -l", ViewLong, `(Owner == "me")`, ""},
		{"12", ViewBatch, `(ClusterId == 12)`, ""},
		{"12.3 13", ViewBatch, `(ClusterId == 13 || (ClusterId == 12 && ProcId == 3))`, ""},
		{"bob", ViewBatch, `(Owner == "bob")`, ""},
		{"bob 12", ViewBatch, `(Owner == "bob") && (ClusterId == 12)`, ""},
		{"bob carol", ViewBatch, `(Owner == "bob" || Owner == "carol")`, ""},
		{"-constraint JobStatus==1", ViewBatch, `(Owner == "me") && ((JobStatus == 1))`, ""},
		{"-allusers -const JobStatus==1", ViewBatch, "((JobStatus == 1))", ""},
		{"-run", ViewRun, `(Owner == "me") && (JobStatus == 2 || JobStatus == 6 || JobStatus == 7)`, ""},
		{"-hold -allusers", ViewHold, `(JobStatus == 5)`, ""},
		{"-held", ViewHold, `(Owner == "me") && (JobStatus == 5)`, ""},
		{"-grid", ViewGrid, `(Owner == "me")`, ""},
		{"-totals", ViewTotals, `(Owner == "me")`, ""},
		{"-json", ViewJSON, `(Owner == "me")`, ""},
		{"-af:jh Owner N", ViewAutoFormat, `(Owner == "me")`, ""},
		{"-format %s Owner -format %d N", ViewFormat, `(Owner == "me")`, ""},
		{"-wide -grid", ViewGrid, `(Owner == "me")`, ""},
		{"-limit 5", ViewBatch, `(Owner == "me")`, ""},
		{"-long -af Owner", 0, "", "mutually exclusive"},
		{"-run -hold", 0, "", "-run and -hold/held or -idle are incompatible"},
		{"-constraint", 0, "", "Argument -constraint requires another parameter"},
		{"-constraint ((", 0, "", "Invalid constraint"},
		{"-format %s", 0, "", "Argument -format requires a spec and classad attribute name"},
		{"-af", 0, "", "Argument -af requires at last one attribute parameter"},
		{"-af -long", 0, "", "Argument -af requires at last one attribute parameter"},
		{"-af: (", 0, "", "Parse error"},
		{"-limit x", 0, "", "-limit requires"},
		{"-bogus", 0, "", "unrecognized argument -bogus"},
		{"1.x", 0, "", "Invalid job id"},
		{"1x", 0, "", "Invalid cluster id"},
	}
	for _, tt := range tests {
		q, err := ParseArgs(strings.Fields(tt.args), "me")
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrUsage) || strings.HasPrefix(err.Error(), "usage") {
				t.Errorf("%q: err = %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if q.View != tt.view {
			t.Errorf("%q: view = %d, want %d", tt.args, q.View, tt.view)
		}
		if got := classad.Unparse(q.Constraint()); got != tt.constraint {
			t.Errorf("%q: constraint = %q, want %q", tt.args, got, tt.constraint)
		}
	}
}

// The combined constraint selects jobs as §6.1's matching rule says.
func TestConstraintMatching(t *testing.T) {
	ads := testAds(t)
	tests := []struct {
		args string
		want []string
	}{
		{"", []string{"1.0", "2.0", "2.1", "2.2"}},
		{"-allusers", []string{"1.0", "2.0", "2.1", "2.2", "3.0", "4.0", "5.0", "6.0"}},
		{"2", []string{"2.0", "2.1", "2.2"}},
		{"2.1 3", []string{"2.1", "3.0"}},
		{"bob", []string{"3.0", "4.0", "5.0"}},
		{"bob 3 2", []string{"3.0"}},
		{"-allusers -run", []string{"1.0", "2.2", "6.0"}},
		{"-hold bob", []string{"3.0"}},
		{"-constraint JobPrio>0 -allusers", []string{"3.0"}},
	}
	for _, tt := range tests {
		q, err := ParseArgs(strings.Fields(tt.args), "alice")
		if err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		var got []string
		for _, ad := range ads {
			ctx := classad.Context{My: ad, Now: clock(testNow)}
			if b, ok := ctx.Eval(q.Constraint()).BoolValue(); ok && b {
				got = append(got, JobID(ad))
			}
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%q matched %v, want %v", tt.args, got, tt.want)
		}
	}
}
