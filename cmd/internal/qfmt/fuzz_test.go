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

// FuzzViews: any ad the classad parser accepts prints in every view without panicking.
func FuzzViews(f *testing.F) {
	f.Add(`[ ClusterId = 1; ProcId = 0; Owner = "a"; JobStatus = 2; ShadowBday = 5; GridResource = "ec2 http://h:1/"; GridJobId = "ec2 x://y/z i-1" ]`)
	f.Add(`[ ClusterId = -1; ProcId = 99999999999; JobStatus = 6; QDate = -5; RemoteWallClockTime = 1e300; GridResource = "x"; GridJobId = "" ]`)
	f.Add(`[ JobBatchName = "b"; JobStatus = "x"; MemoryUsage = "m"; CompletionDate = 9223372036854775807 ]`)
	f.Fuzz(func(t *testing.T, src string) {
		ad, err := classad.ParseAd(src)
		if err != nil {
			return
		}
		ads := []*classad.ClassAd{ad, ad}
		c := Count(ads)
		opts := Options{Now: testNow, Schedd: "s", User: "u", UserTotals: &c, AllTotals: &c}
		var b bytes.Buffer
		for _, view := range []func() error{
			func() error { return Batch(&b, ads, opts) },
			func() error { return NoBatch(&b, ads, opts) },
			func() error { return Run(&b, ads, opts) },
			func() error { return Hold(&b, ads, opts) },
			func() error { return Grid(&b, ads, opts) },
			func() error { return Totals(&b, ads, opts) },
			func() error { return History(&b, ads, opts) },
			func() error {
				return AutoFormat{JobID: true, Headings: true, Attrs: []string{"Owner", "JobStatus"}}.Print(&b, ads, testNow)
			},
		} {
			if err := view(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
