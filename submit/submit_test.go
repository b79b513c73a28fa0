package submit

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// The submit file of the Condor article, with the key files in a temporary directory.
const article = `universe = grid
grid_resource = ec2 https://ec2.amazonaws.com/
ec2_access_key_id = %s
ec2_secret_access_key = %s
ec2_ami_id = ami-60bd4609
ec2_instance_type = m1.small
ec2_user_data = Hello $(executable)!
executable = EC2_Instance-$(ec2_ami_id)
log = $(executable).$(cluster).log
ec2_keypair_file = $(executable).$(cluster).pem
queue
`

func TestArticle(t *testing.T) {
	fx := newFixture(t)
	src := fmt.Sprintf(article, filepath.Join(fx.dir, "AccessKeyID"), filepath.Join(fx.dir, "SecretAccessKey"))
	sub, err := fx.submitText(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(sub.Clusters) != 1 || len(sub.Clusters[0].Jobs) != 1 {
		t.Fatalf("got %d clusters, want one cluster of one job", len(sub.Clusters))
	}
	if len(sub.Warnings) != 0 {
		t.Errorf("warnings: %q", sub.Warnings)
	}
	ad := sub.Clusters[0].Jobs[0]
	want := map[string]string{
		"GridResource":         `"ec2 https://ec2.amazonaws.com/"`,
		"EC2AmiID":             `"ami-60bd4609"`,
		"EC2InstanceType":      `"m1.small"`,
		"EC2UserData":          `"Hello EC2_Instance-ami-60bd4609!"`,
		"Cmd":                  `"EC2_Instance-ami-60bd4609"`,
		"EC2AccessKeyId":       fmt.Sprintf("%q", filepath.Join(fx.dir, "AccessKeyID")),
		"EC2SecretAccessKey":   fmt.Sprintf("%q", filepath.Join(fx.dir, "SecretAccessKey")),
		"EC2KeyPairFile":       fmt.Sprintf("%q", filepath.Join(fx.dir, "EC2_Instance-ami-60bd4609.1.pem")),
		"UserLog":              fmt.Sprintf("%q", filepath.Join(fx.dir, "EC2_Instance-ami-60bd4609.1.log")),
		"Iwd":                  fmt.Sprintf("%q", fx.dir),
		"ClusterId":            "1",
		"ProcId":               "0",
		"JobStatus":            "1",
		"JobUniverse":          "9",
		"Owner":                `"alice"`,
		"QDate":                fmt.Sprint(testNow.Unix()),
		"EnteredCurrentStatus": fmt.Sprint(testNow.Unix()),
		"GlobalJobId":          fmt.Sprintf(`"submit.example.com#1.0#%d"`, testNow.Unix()),
		"NumJobStarts":         "0",
		"PeriodicHold":         "false",
		"PeriodicRelease":      "false",
		"PeriodicRemove":       "false",
		"OnExitHold":           "false",
		"OnExitRemove":         "true",
		"EC2TagName":           `"EC2_Instance-ami-60bd4609"`,
		"JobPrio":              "0",
		"MyType":               `"Job"`,
	}
	for name, w := range want {
		if got := attr(ad, name); got != w {
			t.Errorf("%s = %s, want %s", name, got, w)
		}
	}
	for _, name := range []string{"EC2KeyPairFile", "UserLog"} {
		if p := str(ad, name); !filepath.IsAbs(p) {
			t.Errorf("%s = %q is not absolute", name, p)
		}
	}
}

// TestLines covers the line syntax: each case's lines go between the base job and a
// queue statement, and the named attributes must come out as given.
func TestLines(t *testing.T) {
	tests := []struct {
		name  string
		lines string
		want  map[string]string
	}{
		{"comment lines", "# a comment\n   # indented comment\nec2_user_data = x\n", map[string]string{"EC2UserData": `"x"`}},
		{"no trailing comments", "ec2_user_data = x # not a comment\n", map[string]string{"EC2UserData": `"x # not a comment"`}},
		{"blank lines and spaces", "\n\n   ec2_user_data   =    spaced out   \n\n", map[string]string{"EC2UserData": `"spaced out"`}},
		{"continuation", "ec2_user_data = one \\\n two \\\n three\n", map[string]string{"EC2UserData": `"one  two  three"`}},
		{"comment inside continuation", "ec2_user_data = one \\\n# skipped\n two\n", map[string]string{"EC2UserData": `"one  two"`}},
		{"continuation with trailing spaces", "ec2_user_data = one \\   \ntwo\n", map[string]string{"EC2UserData": `"one two"`}},
		{"CRLF line endings", "ec2_user_data = dos\r\nec2_instance_type = m1.small\r\n", map[string]string{"EC2UserData": `"dos"`, "EC2InstanceType": `"m1.small"`}},
		{"keys are case-insensitive", "EC2_User_Data = upper\n", map[string]string{"EC2UserData": `"upper"`}},
		{"attribute name as key", "EC2UserData = by attribute\n", map[string]string{"EC2UserData": `"by attribute"`}},
		{"last definition wins", "ec2_user_data = first\nec2_user_data = second\n", map[string]string{"EC2UserData": `"second"`}},
		{"append", "ec2_user_data = a\nec2_user_data += b\n", map[string]string{"EC2UserData": `"a b"`}},
		{"value with equals signs", "periodic_hold = NumJobStarts == 2\n", map[string]string{"PeriodicHold": "NumJobStarts == 2"}},
		{"+Attr", "+Department = \"physics\"\n+Weight = 2 * 3\n", map[string]string{"Department": `"physics"`, "Weight": "2 * 3"}},
		{"MY.Attr", "MY.Department = \"chemistry\"\n", map[string]string{"Department": `"chemistry"`}},
		{"+Attr overrides computed attributes", "+JobPrio = 7\n", map[string]string{"JobPrio": "7"}},
		{"-Attr removes", "-PeriodicVacate =\n", map[string]string{"PeriodicVacate": "<unset>"}},
		{"empty MY.Attr removes", "MY.PeriodicVacate =\n", map[string]string{"PeriodicVacate": "<unset>"}},
		{"+Attr with a macro", "n = 5\n+Count = $(n) + 1\n", map[string]string{"Count": "5 + 1"}},
		{"multi-line value", "ec2_user_data @=end\n#!/bin/sh\n  echo hi\n@end\n", map[string]string{"EC2UserData": "\"#!/bin/sh\n  echo hi\""}},
		{"queue is not a prefix", "queued = yes\nec2_user_data = $(queued)\n", map[string]string{"EC2UserData": `"yes"`}},
		{"error as a macro name", "error = err.txt\nec2_user_data = $(error)\n", map[string]string{"EC2UserData": `"err.txt"`}},
		{"policy expressions", "periodic_hold = (JobStatus == 2) && (time() - EnteredCurrentStatus > 3600)\nperiodic_remove = NumJobStarts > 3\nperiodic_release = true\non_exit_hold = ExitCode != 0\non_exit_remove = false\n",
			map[string]string{
				"PeriodicHold":    "(JobStatus == 2) && (time() - EnteredCurrentStatus > 3600)",
				"PeriodicRemove":  "NumJobStarts > 3",
				"PeriodicRelease": "true",
				"OnExitHold":      "ExitCode != 0",
				"OnExitRemove":    "false",
			}},
		{"policy by attribute name", "PeriodicHold = NumJobStarts > 1\nperiodic_hold_reason = \"too many\"\nperiodic_hold_subcode = 42\n",
			map[string]string{"PeriodicHold": "NumJobStarts > 1", "PeriodicHoldReason": `"too many"`, "PeriodicHoldSubCode": "42"}},
		{"hold", "hold = true\n", map[string]string{"JobStatus": "5", "HoldReasonCode": "15", "HoldReasonSubCode": "0", "HoldReason": `"submitted on hold at user's request"`}},
		{"hold false", "hold = False\n", map[string]string{"JobStatus": "1", "HoldReasonCode": "<unset>"}},
		{"priority and batch_name", "priority = 10\nbatch_name = nightly\n", map[string]string{"JobPrio": "10", "JobBatchName": `"nightly"`}},
		{"negative priority", "priority = -5\n", map[string]string{"JobPrio": "-5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			ads := fx.jobs(t, base+tt.lines+"queue\n")
			if len(ads) != 1 {
				t.Fatalf("%d jobs, want 1", len(ads))
			}
			for name, want := range tt.want {
				if got := attr(ads[0], name); got != want {
					t.Errorf("%s = %s, want %s", name, got, want)
				}
			}
		})
	}
}

func TestInitialDir(t *testing.T) {
	fx := newFixture(t)
	sub := filepath.Join(fx.dir, "run")
	writeFile(t, filepath.Join(sub, "keys", "a"), "a")
	writeFile(t, filepath.Join(sub, "keys", "s"), "s")
	ads := fx.jobs(t, strings.Replace(base, "AccessKeyID", "keys/a", 1)+"ec2_secret_access_key = keys/s\ninitialdir = run\nlog = job.log\nec2_keypair_file = k.pem\nec2_user_data_file = keys/a\nqueue\n")
	want := map[string]string{
		"Iwd":                sub,
		"EC2AccessKeyId":     filepath.Join(sub, "keys", "a"),
		"EC2SecretAccessKey": filepath.Join(sub, "keys", "s"),
		"UserLog":            filepath.Join(sub, "job.log"),
		"EC2KeyPairFile":     filepath.Join(sub, "k.pem"),
		"EC2UserDataFile":    filepath.Join(sub, "keys", "a"),
	}
	for name, w := range want {
		if got := str(ads[0], name); got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
}

// TestRoot checks that Options.Root stands in for "/" when files are read, while the ad
// keeps the paths the job sees.
func TestRoot(t *testing.T) {
	fx := newFixture(t)
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "home/alice/.ec2/AccessKeyID"), "a")
	writeFile(t, filepath.Join(root, "home/alice/.ec2/SecretAccessKey"), "s")
	src := strings.NewReplacer("= AccessKeyID", "= /home/alice/.ec2/AccessKeyID", "= SecretAccessKey", "= /home/alice/.ec2/SecretAccessKey").Replace(base) +
		"initialdir = /home/alice\nec2_keypair_file = .ec2/k.pem\nqueue\n"
	f, err := Parse("job.sub", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	opts := fx.options()
	opts.Root = root
	sub, err := f.Jobs(opts)
	if err != nil {
		t.Fatal(err)
	}
	ad := sub.Clusters[0].Jobs[0]
	if got := str(ad, "EC2AccessKeyId"); got != "/home/alice/.ec2/AccessKeyID" {
		t.Errorf("EC2AccessKeyId = %q", got)
	}
	if got := str(ad, "EC2KeyPairFile"); got != "/home/alice/.ec2/k.pem" {
		t.Errorf("EC2KeyPairFile = %q", got)
	}
}

// TestDefaultsAreDeterministic checks that two runs with the same options give the same ads.
func TestDefaultsAreDeterministic(t *testing.T) {
	fx := newFixture(t)
	src := base + "ec2_user_data = $RANDOM_INTEGER(1, 1000000) $RANDOM_CHOICE(a,b,c,d,e,f)\nqueue 3\n"
	a, b := fx.jobs(t, src), fx.jobs(t, src)
	for i := range a {
		if a[i].String() != b[i].String() {
			t.Errorf("job %d differs:\n%s\n%s", i, a[i], b[i])
		}
	}
}
