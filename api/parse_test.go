package api

import (
	"strings"
	"testing"

	"github.com/ec2grid/ec2grid/classad"
)

// checkLikeParseLong parses texts in order with one lineParser (so later ones go through
// its cache and template) and checks each against classad.ParseLong.
func checkLikeParseLong(t *testing.T, texts []string) {
	t.Helper()
	p := newLineParser(nil)
	p.keepAll = true
	for i, text := range texts {
		want, werr := classad.ParseLong(text)
		got, gerr := p.parse(text)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("ad %d %q: ParseLong error %v, lineParser error %v", i, text, werr, gerr)
		}
		if werr != nil {
			if werr.Error() != gerr.Error() {
				t.Errorf("ad %d: error %q, ParseLong says %q", i, gerr, werr)
			}
			continue
		}
		if got.ad.MarshalLong() != want.MarshalLong() {
			t.Errorf("ad %d %q:\ngot  %s\nwant %s", i, text, got.ad.MarshalLong(), want.MarshalLong())
		}
	}
}

func TestLineParserLikeParseLong(t *testing.T) {
	base := "Cmd = \"x\"\nProcId = 0\nPeriodicHold = (JobStatus == 2) && (time() - EnteredCurrentStatus > 3600)\nJobStatus = 1\n"
	for _, tc := range []struct {
		name  string
		texts []string
	}{
		{"identical", []string{base, base, base}},
		{"one value differs", []string{base, strings.Replace(base, "ProcId = 0", "ProcId = 1", 1), strings.Replace(base, `"x"`, `"y"`, 1)}},
		{"extra line", []string{base, base + "Extra = 1\n"}},
		{"missing line", []string{base, strings.Replace(base, "JobStatus = 1\n", "", 1)}},
		{"renamed line", []string{base, strings.Replace(base, "ProcId = 0", "ProcIdX = 0", 1)}},
		{"case of a name", []string{base, strings.Replace(base, "Cmd =", "cmd =", 1)}},
		{"repeated name", []string{base + "Cmd = \"z\"\n", base + "Cmd = \"w\"\n", strings.Replace(base, `"x"`, `"q"`, 1) + "Cmd = \"w\"\n"}},
		{"comments and blank lines", []string{"# c\n" + base + "\n", "# d\n" + base + "\n", base}},
		{"crlf", []string{strings.ReplaceAll(base, "\n", "\r\n"), base}},
		{"integers", []string{"A = 0\nB = 007\nC = -5\nD = 123456789012345678901\nE = 12\n", "A = 1\nB = 008\nC = -6\nD = 9\nE = 13\n", "true = 1\n"}},
		{"bad line later", []string{base, base + "Bad = = 1\n", base}},
		{"quoted name", []string{"'a b' = 1\nC = 2\n", "'a b' = 2\nC = 2\n"}},
		{"strings", []string{"A = \"x\"\nB = \"\"\nH = \"h\"\n", "A = \"/k/1.pem\"\nB = \"a\\\\b\"\nH = \"i\"\n",
			"A = \"é\"\nB = \"tab\there\"\nH = \"\\\"q\"\n", "true = \"x\"\nA = \"x\" \nB = \"x\"y\"\n", "A = \"unterminated\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkLikeParseLong(t, tc.texts) })
	}
}

func TestLineParserDropsProtected(t *testing.T) {
	p := newLineParser(stampSlots)
	for _, tc := range []struct {
		text       string
		held       bool
		holdReason string
	}{
		{"Cmd = \"x\"\nOwner = \"root\"\nJobStatus = 1\nGridJobId = \"ec2 a b\"\n", false, ""},
		{"Cmd = \"x\"\nOwner = \"mallory\"\nJobStatus = 5\nGridJobId = \"ec2 a c\"\n", true, ""},
		{"Cmd = \"x\"\nOwner = \"root\"\nJobStatus = 5\nHoldReason = \"mine\"\n", true, "mine"},
		{"Cmd = \"y\"\nOwner = \"root\"\nJobStatus = 1\nGridJobId = \"ec2 a b\"\n", false, ""},
	} {
		pa, err := p.parse(tc.text)
		if err != nil {
			t.Fatal(err)
		}
		if pa.req.held != tc.held || pa.req.holdReason != tc.holdReason {
			t.Errorf("%q: request %+v, want held %v reason %q", tc.text, pa.req, tc.held, tc.holdReason)
		}
		for _, name := range []string{"GridJobId", "HoldReason"} {
			if _, ok := pa.ad.Lookup(name); ok {
				t.Errorf("%q: %s kept", tc.text, name)
			}
		}
		if v := pa.ad.EvalAttr("Owner"); !v.IsUndefined() {
			t.Errorf("%q: Owner = %v, want the undefined slot stamp fills", tc.text, v)
		}
	}
}

// FuzzLineParser: a lineParser reads any sequence of ads as classad.ParseLong does.
func FuzzLineParser(f *testing.F) {
	f.Add("A = 1\nB = \"x\"\n", "A = 2\nB = \"x\"\n", "A = 1\n")
	f.Add("A = 1\nA = 2\n", "A = 3\nA = 2\n", "# x\n\nA = 1")
	f.Add("X = a + b\n", "X = a +\n", "'q r' = 0\nY = 00\n")
	f.Add("K = \"/k/1.pem\"\n", "K = \"a\\\\b\"\nHoldReason = \"r\"\n", "K = \"\"\"\n")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		checkLikeParseLong(t, []string{a, b, c, a})
	})
}
