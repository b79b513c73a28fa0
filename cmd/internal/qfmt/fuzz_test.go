package qfmt

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ec2grid/ec2grid/classad"
)

// FuzzFormat: any -format string and attribute text prints without panicking, and
// text without a % or backslash prints as itself.
func FuzzFormat(f *testing.F) {
	for _, s := range []string{`Instance name: %s\n`, "%5.2f", "%-10d|", "%V %r %v", "%%", "%", "%99999999999d", `\`, "%.d", "%c"} {
		f.Add(s, "EC2InstanceName")
	}
	f.Add("%s", "N +")
	f.Add("%d", "strcat(\"a\", N)")
	ads := testAds(f)
	f.Fuzz(func(t *testing.T, format, attr string) {
		var b bytes.Buffer
		if err := Format(&b, ads[:1], []FormatItem{{format, attr}}, testNow); err != nil {
			t.Fatal(err)
		}
		if !strings.ContainsAny(format, `%\`) && b.Len() > 0 && b.String() != format {
			t.Errorf("plain text %q printed as %q", format, b.String())
		}
	})
}

// FuzzParseArgs: any command line either fails with ErrUsage or yields a query whose
// constraint parses and evaluates on a job without panicking.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{"", "-allusers", "12.3 bob -nobatch", "-constraint\x00JobStatus==1", "-af:jh\x00Owner\x00N",
		"-format\x00%s\\n\x00Owner", "-run\x00-hold", "-limit\x005", "-const\x00a // c", "-long\x00-json"} {
		f.Add(s)
	}
	ads := testAds(f)
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		if line == "" {
			args = nil
		}
		q, err := ParseArgs(args, "alice")
		if err != nil {
			return
		}
		e := q.Constraint()
		if _, isLit := classad.IsLiteral(e); !isLit {
			if _, perr := classad.ParseExpr(classad.Unparse(e)); perr != nil {
				t.Errorf("constraint %q does not reparse: %v", classad.Unparse(e), perr)
			}
		}
		ctx := classad.Context{My: ads[0], Now: clock(testNow)}
		ctx.Eval(e)
	})
}
