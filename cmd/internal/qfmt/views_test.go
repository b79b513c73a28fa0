package qfmt

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/classad"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// testNow is the fixed schedd clock of every golden file.
var testNow = time.Date(2026, 11, 23, 12, 52, 19, 0, time.UTC)

// testAds is a queue of EC2 jobs in every interesting state.
func testAds(t testing.TB) []*classad.ClassAd {
	t.Helper()
	srcs := []string{
		// running EC2 job with an instance
		`[ ClusterId = 1; ProcId = 0; Owner = "alice"; JobStatus = 2; QDate = 1795438211; JobPrio = 0;
		   Cmd = "EC2_Instance-ami-1e749f67"; JobUniverse = 9; ShadowBday = 1795438279; RemoteWallClockTime = 0.0;
		   GridResource = "ec2 http://ec2.us-east-1.localhost:5055/"; GridJobStatus = "running";
		   GridJobId = "ec2 http://ec2.us-east-1.localhost:5055/ 4a5d3840-40dc-4203-afc0-f4e980ddd696 i-621d4cf62692ac985";
		   EC2InstanceName = "i-621d4cf62692ac985"; EC2RemoteVirtualMachineName = "ec2-54-214-201-67.compute-1.amazonaws.com";
		   EC2KeyPairFile = "/home/alice/EC2_Instance-ami-1e749f67.1.pem"; PeriodicHold = (time() - ShadowBday) >= 60 ]`,
		// idle procs of one cluster
		`[ ClusterId = 2; ProcId = 0; Owner = "alice"; JobStatus = 1; QDate = 1795438600; Cmd = "/usr/bin/sleep"; Args = "60"; ImageSize = 2048 ]`,
		`[ ClusterId = 2; ProcId = 1; Owner = "alice"; JobStatus = 1; QDate = 1795438600; Cmd = "/usr/bin/sleep"; Args = "60"; ImageSize = 2048 ]`,
		`[ ClusterId = 2; ProcId = 2; Owner = "alice"; JobStatus = 2; QDate = 1795438600; Cmd = "/usr/bin/sleep"; Args = "60";
		   ShadowBday = 1795438700; RemoteWallClockTime = 3600.0; MemoryUsage = 12; RemoteHost = "slot1@host" ]`,
		// held
		`[ ClusterId = 3; ProcId = 0; Owner = "bob"; JobStatus = 5; QDate = 1795431600; EnteredCurrentStatus = 1795437600;
		   Cmd = "EC2_Instance"; HoldReasonCode = 3; HoldReasonSubCode = 0; JobPrio = 5;
		   HoldReason = "The job attribute PeriodicHold expression '( time() - ShadowBday ) >= 60' evaluated to TRUE";
		   GridResource = "ec2 https://ec2.amazonaws.com/"; JobBatchName = "nightly" ]`,
		`[ ClusterId = 4; ProcId = 0; Owner = "bob"; JobStatus = 4; QDate = 1795431700; Cmd = "x"; JobBatchName = "nightly";
		   RemoteWallClockTime = 90061.0; JobDescription = "render" ]`,
		`[ ClusterId = 5; ProcId = 0; Owner = "bob"; JobStatus = 3; QDate = 1795431800; Cmd = "y" ]`,
		`[ ClusterId = 6; ProcId = 0; Owner = "carol"; JobStatus = 7; QDate = 1795431900; Cmd = "z"; ShadowBday = 1795432000 ]`,
	}
	ads := make([]*classad.ClassAd, len(srcs))
	for i, s := range srcs {
		ad, err := classad.ParseAd(s)
		if err != nil {
			t.Fatalf("fixture %d: %v", i, err)
		}
		ads[i] = ad
	}
	return ads
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s\n--- got:\n%s\n--- want:\n%s", name, p, got, want)
	}
}

func TestGoldenViews(t *testing.T) {
	ads := testAds(t)
	all := Count(ads)
	alice := Count(ads[:4])
	opts := Options{Now: testNow, Loc: time.UTC, Schedd: "alice@vm : <unix:/home/alice/.ec2grid/daemon.sock>",
		User: "alice", UserTotals: &alice, AllTotals: &all}
	views := []struct {
		name string
		run  func(*bytes.Buffer) error
	}{
		{"batch", func(b *bytes.Buffer) error { return Batch(b, ads, opts) }},
		{"batch_noheld", func(b *bytes.Buffer) error { return Batch(b, ads[:4], opts) }},
		{"batch_empty", func(b *bytes.Buffer) error { return Batch(b, nil, opts) }},
		{"nobatch", func(b *bytes.Buffer) error { return NoBatch(b, ads, opts) }},
		{"nobatch_nobanner", func(b *bytes.Buffer) error { return NoBatch(b, ads[:1], Options{Now: testNow}) }},
		{"run", func(b *bytes.Buffer) error { return Run(b, []*classad.ClassAd{ads[0], ads[3], ads[7]}, opts) }},
		{"hold", func(b *bytes.Buffer) error { return Hold(b, ads[4:5], opts) }},
		{"grid", func(b *bytes.Buffer) error { return Grid(b, []*classad.ClassAd{ads[0], ads[4]}, opts) }},
		{"grid_wide", func(b *bytes.Buffer) error {
			w := opts
			w.Wide = true
			return Grid(b, []*classad.ClassAd{ads[0], ads[4]}, w)
		}},
		{"history", func(b *bytes.Buffer) error {
			done := ads[5].Copy()
			done.SetInt("CompletionDate", testNow.Unix()-60)
			return History(b, []*classad.ClassAd{done, ads[6]}, opts)
		}},
		{"totals", func(b *bytes.Buffer) error { return Totals(b, ads, opts) }},
		{"long", func(b *bytes.Buffer) error { return Long(b, ads[:2]) }},
		{"json", func(b *bytes.Buffer) error { return JSON(b, ads[:2]) }},
		{"article_format", func(b *bytes.Buffer) error {
			return Format(b, ads[:1], []FormatItem{
				{`Instance name: %s\n`, "EC2InstanceName"},
				{`Instance hostname: %s\n`, "EC2RemoteVirtualMachineName"},
				{`Keypair: %s\n`, "EC2KeyPairFile"},
			}, testNow)
		}},
		{"af_h", func(b *bytes.Buffer) error {
			return AutoFormat{JobID: true, Headings: true, Attrs: []string{"Owner", "JobStatus", "Cmd"}}.Print(b, ads, testNow)
		}},
	}
	for _, v := range views {
		t.Run(v.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := v.run(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, v.name, b.Bytes())
		})
	}
}

// The article's -format command prints exactly what htcondor-measured.md shows.
func TestArticleFormat(t *testing.T) {
	var b bytes.Buffer
	if err := Format(&b, testAds(t)[:1], []FormatItem{
		{`Instance name: %s\n`, "EC2InstanceName"},
		{`Instance hostname: %s\n`, "EC2RemoteVirtualMachineName"},
		{`Keypair: %s\n`, "EC2KeyPairFile"},
	}, testNow); err != nil {
		t.Fatal(err)
	}
	want := "Instance name: i-621d4cf62692ac985\n" +
		"Instance hostname: ec2-54-214-201-67.compute-1.amazonaws.com\n" +
		"Keypair: /home/alice/EC2_Instance-ami-1e749f67.1.pem\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestStatusLetterAndRunTime(t *testing.T) {
	for code, want := range map[int64]string{0: "?", 1: "I", 2: "R", 3: "X", 4: "C", 5: "H", 6: ">", 7: "S", 8: "F", 9: "B", 10: "P", 11: "?"} {
		if got := StatusLetter(code); got != want {
			t.Errorf("StatusLetter(%d) = %q, want %q", code, got, want)
		}
	}
	ads := testAds(t)
	tests := []struct {
		ad   *classad.ClassAd
		want int64
	}{
		{ads[0], testNow.Unix() - 1795438279},
		{ads[1], 0},
		{ads[3], 3600 + testNow.Unix() - 1795438700},
		{ads[5], 90061},
	}
	withServer := ads[0].Copy()
	withServer.SetInt("ServerTime", 1795438339-28)
	tests = append(tests, struct {
		ad   *classad.ClassAd
		want int64
	}{withServer, 1795438339 - 28 - (testNow.Unix() - 60)})
	for i, tt := range tests {
		if got := RunTime(tt.ad, testNow); got != tt.want {
			t.Errorf("%d: RunTime = %d, want %d", i, got, tt.want)
		}
	}
	if got := formatDuration(90061); got != "  1+01:01:01" {
		t.Errorf("formatDuration = %q", got)
	}
}

func TestGridColumns(t *testing.T) {
	tests := []struct {
		ad              string
		resource, jobID string
	}{
		{`[ GridResource = "ec2 https://ec2.amazonaws.com/"; GridJobId = "ec2 https://ec2.amazonaws.com/ tok i-0abc" ]`, "ec2 ec2.amazonaws.com", "i-0abc"},
		{`[ GridResource = "ec2 http://127.0.0.1:5055/"; EC2RemoteVirtualMachineName = "h.example" ]`, "ec2 h.example", ""},
		{`[ GridResource = "condor schedd.example collector.example" ]`, "condor->collector.example schedd.example", ""},
		{`[ GridResource = "batch slurm" ]`, "batch->[?] slurm", ""},
		{`[ GridResource = "arc https://ce.example:443/arex"; GridJobId = "arc https://ce.example:443/arex/jobs/42" ]`, "arc->[?] ce.example", "/arex/jobs/42"},
	}
	for _, tt := range tests {
		ad, err := classad.ParseAd(tt.ad)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := gridResourceCol(ad); got != tt.resource {
			t.Errorf("%s: resource = %q, want %q", tt.ad, got, tt.resource)
		}
		if got := gridJobID(ad); got != tt.jobID {
			t.Errorf("%s: job id = %q, want %q", tt.ad, got, tt.jobID)
		}
	}
}

// The Condor article's condor_q -run output (seed 002), reproduced line for line.
func TestArticleRun(t *testing.T) {
	qdate := time.Date(2011, 10, 18, 13, 50, 0, 0, time.UTC)
	now := qdate.Add(time.Minute)
	var ads []*classad.ClassAd
	for _, j := range []struct {
		proc int64
		host string
	}{{0, "slot1@eeyore.local"}, {10, "slot3@SHADOW_STARTD@eeyore.local"}} {
		ad := classad.New()
		ad.SetInt("ClusterId", 1)
		ad.SetInt("ProcId", j.proc)
		ad.SetString("Owner", "matt")
		ad.SetInt("QDate", qdate.Unix())
		ad.SetInt("JobStatus", 2)
		ad.SetInt("ShadowBday", now.Unix()-16)
		ad.SetString("RemoteHost", j.host)
		ads = append(ads, ad)
	}
	var b bytes.Buffer
	if err := Run(&b, ads, Options{Now: now, Loc: time.UTC}); err != nil {
		t.Fatal(err)
	}
	want := " ID      OWNER            SUBMITTED     RUN_TIME HOST(S)\n" +
		"   1.0   matt           10/18 13:50   0+00:00:16 slot1@eeyore.local\n" +
		"   1.10  matt           10/18 13:50   0+00:00:16 slot3@SHADOW_STARTD@eeyore.local\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestProjectionCoversTables: every table view prints the same text from ads cut to
// Projection(view) as from the whole ads, so no column reads an attribute the query
// did not ask for.
func TestProjectionCoversTables(t *testing.T) {
	ads := testAds(t)
	for _, ad := range ads {
		ad.SetInt("ServerTime", testNow.Unix())
	}
	opts := Options{Now: testNow, Loc: time.UTC}
	views := map[View]func(io.Writer, []*classad.ClassAd, Options) error{
		ViewBatch: Batch, ViewNoBatch: NoBatch, ViewRun: Run, ViewHold: Hold, ViewGrid: Grid, ViewTotals: Totals,
		ViewLong: History, // History has no view of its own: run it under a spare key
	}
	for v, print := range views {
		proj := Projection(ViewBatch)
		if v != ViewLong {
			proj = Projection(v)
		}
		cut := make([]*classad.ClassAd, len(ads))
		for i, ad := range ads {
			cut[i] = classad.New()
			for _, name := range proj {
				if e, ok := ad.Lookup(name); ok {
					cut[i].Set(name, e)
				}
			}
		}
		var whole, part bytes.Buffer
		if err := print(&whole, ads, opts); err != nil {
			t.Fatal(err)
		}
		if err := print(&part, cut, opts); err != nil {
			t.Fatal(err)
		}
		if whole.String() != part.String() {
			t.Errorf("view %d reads attributes outside Projection:\n--- whole ads:\n%s\n--- projected:\n%s", v, whole.String(), part.String())
		}
	}
	for _, v := range []View{ViewLong, ViewJSON, ViewAutoFormat, ViewFormat} {
		if p := Projection(v); p != nil {
			t.Errorf("Projection(%d) = %v, want nil (all attributes)", v, p)
		}
	}
}
