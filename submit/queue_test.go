package submit

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestQueueForms runs every queue form. Each job's ec2_user_data is set to show the
// per-job variables, and the cluster.proc of each job is recorded.
func TestQueueForms(t *testing.T) {
	files := map[string]string{
		"rows.txt":      "a1, b1\n\n  a2 b2 with spaces  \na3\n",
		"items/x.dat":   "",
		"items/y.dat":   "",
		"items/z.txt":   "",
		"items/sub/q":   "",
		"items/sub2/q2": "",
	}
	tests := []struct {
		name  string
		lines string
		want  []string // "cluster.proc EC2UserData"
	}{
		{"queue", "ec2_user_data = $(Step)\nqueue\n", []string{"1.0 0"}},
		{"queue N", "ec2_user_data = $(Step)\nqueue 3\n", []string{"1.0 0", "1.1 1", "1.2 2"}},
		{"QUEUE in capitals", "ec2_user_data = x\nQUEUE 2\n", []string{"1.0 x", "1.1 x"}},
		{"queue count expression", "ec2_user_data = x\nqueue 1 + 1\n", []string{"1.0 x", "1.1 x"}},
		{"queue 0 then queue", "ec2_user_data = $(Process)\nqueue 0\nqueue\n", []string{"1.0 0"}},
		{"in with parentheses", "ec2_user_data = $(Zone)\nqueue Zone in (us-east-1a, us-east-1b)\n", []string{"1.0 us-east-1a", "1.1 us-east-1b"}},
		{"in without parentheses", "ec2_user_data = $(Item)\nqueue in a b, c\n", []string{"1.0 a", "1.1 b", "1.2 c"}},
		{"in, no space before (", "ec2_user_data = $(Item)\nqueue in(a,b)\n", []string{"1.0 a", "1.1 b"}},
		{"in across lines", "ec2_user_data = $(Item)\nqueue in (a\n  b, c\n# a comment\n d\n)\n", []string{"1.0 a", "1.1 b", "1.2 c", "1.3 d"}},
		{"in across lines, ( alone", "ec2_user_data = $(Item)\nqueue in (\na\nb\n)\n", []string{"1.0 a", "1.1 b"}},
		{"count times items", "ec2_user_data = $(Item)$(Step)$(ItemIndex)\nqueue 3 in (A, B)\n",
			[]string{"1.0 A00", "1.1 A10", "1.2 A20", "1.3 B01", "1.4 B11", "1.5 B21"}},
		{"from file", "ec2_user_data = $(X)|$(Y)\nqueue X,Y from rows.txt\n", []string{"1.0 a1|b1", "1.1 a2|b2 with spaces", "1.2 a3|"}},
		{"from file, one variable takes the row", "ec2_user_data = $(X)\nqueue X from rows.txt\n", []string{"1.0 a1, b1", "1.1 a2 b2 with spaces", "1.2 a3"}},
		{"from file, Item", "ec2_user_data = $(Item)\nqueue from rows.txt\n", []string{"1.0 a1, b1", "1.1 a2 b2 with spaces", "1.2 a3"}},
		{"from inline rows", "ec2_user_data = $(A)-$(B)\nqueue A, B from (\n  1 one\n# skipped\n  2, two\n)\n", []string{"1.0 1-one", "1.1 2-two"}},
		{"from one-line list is one row", "ec2_user_data = $(A)-$(B)\nqueue A B from (x y)\n", []string{"1.0 x-y"}},
		{"from with unit separator", "ec2_user_data = $(A)|$(B)\nqueue A,B from (\n a, b\x1fc d, e\n)\n", []string{"1.0 a, b|c d, e"}},
		{"from with count", "ec2_user_data = $(A)$(Step)\nqueue 2 A from (\nx\ny\n)\n", []string{"1.0 x0", "1.1 x1", "1.2 y0", "1.3 y1"}},
		{"matching", "ec2_user_data = $(Item)\nqueue matching items/*.dat\n", []string{"1.0 items/x.dat", "1.1 items/y.dat"}},
		{"matching several globs", "ec2_user_data = $(F)\nqueue F matching (items/*.txt items/*.dat items/x.dat)\n", []string{"1.0 items/z.txt", "1.1 items/x.dat", "1.2 items/y.dat"}},
		{"matching files", "ec2_user_data = $(Item)\nqueue matching files items/*\n", []string{"1.0 items/x.dat", "1.1 items/y.dat", "1.2 items/z.txt"}},
		{"matching dirs", "ec2_user_data = $(Item)\nqueue matching dirs items/*\n", []string{"1.0 items/sub", "1.1 items/sub2"}},
		{"slice", "ec2_user_data = $(Item)\nqueue in [1:] (a, b, c)\n", []string{"1.0 b", "1.1 c"}},
		{"slice with step", "ec2_user_data = $(Item)$(Row)\nqueue in [::2] (a, b, c, d, e)\n", []string{"1.0 a0", "1.1 c2", "1.2 e4"}},
		{"negative slice", "ec2_user_data = $(Item)\nqueue in [-2:] (a, b, c)\n", []string{"1.0 b", "1.1 c"}},
		{"slice of a file", "ec2_user_data = $(X)\nqueue X from [:1] rows.txt\n", []string{"1.0 a1, b1"}},
		{"several queue statements, one cluster", "ec2_user_data = $(Process)$(Step)$(Item)\nqueue 2\nqueue in (a)\nec2_user_data = last$(Process)\nqueue\n",
			[]string{"1.0 00", "1.1 11", "1.2 20a", "1.3 last3"}},
		{"a new executable starts a new cluster", "ec2_user_data = $(Cluster).$(Process)\nqueue 2\nexecutable = other\nqueue\nexecutable = third\nqueue\n",
			[]string{"1.0 1.0", "1.1 1.1", "2.0 2.0", "3.0 3.0"}},
		{"the same executable keeps the cluster", "ec2_user_data = $(Process)\nqueue\nexecutable = ec2-test\nqueue\n", []string{"1.0 0", "1.1 1"}},
		{"executable per item is one cluster", "executable = job-$(Item)\nec2_user_data = $(Cluster)\nqueue in (a, b)\n", []string{"1.0 1", "1.1 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			for name, data := range files {
				writeFile(t, filepath.Join(fx.dir, name), data)
			}
			sub, err := fx.submitText(base + tt.lines)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range sub.Clusters {
				for _, ad := range c.Jobs {
					got = append(got, attr(ad, "ClusterId")+"."+attr(ad, "ProcId")+" "+str(ad, "EC2UserData"))
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("jobs:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestQueueWarnings(t *testing.T) {
	tests := []struct {
		name  string
		lines string
		jobs  int
		warn  string
	}{
		{"only empty queue statements", "queue 0\n", 0, `"job.sub" has only empty "queue" commands -- no jobs queued`},
		{"lines after the last queue", "queue\nec2_instance_type = m1.large\n", 1, "the line 'ec2_instance_type = m1.large' was unused by condor_submit. Is it a typo?"},
		{"glob that matches nothing", "queue matching *.nothing\n", 0, `queue matching "*.nothing" matched nothing`},
		{"keypair and keypair file", "ec2_keypair = mine\nec2_keypair_file = k.pem\nqueue\n", 1, "ignoring ec2_keypair_file"},
		{"iam arn and name", "ec2_iam_profile_arn = arn:aws:iam::1:instance-profile/p\nec2_iam_profile_name = p\nqueue\n", 1, "ignoring ec2_iam_profile_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			sub, err := fx.submitText(base + tt.lines)
			if err != nil {
				t.Fatal(err)
			}
			if sub.NumJobs() != tt.jobs {
				t.Errorf("%d jobs, want %d", sub.NumJobs(), tt.jobs)
			}
			if !strings.Contains(strings.Join(sub.Warnings, "\n"), tt.warn) {
				t.Errorf("warnings %q do not contain %q", sub.Warnings, tt.warn)
			}
		})
	}
}

// TestParseQueueArgs checks the queue statement parser on its own.
func TestParseQueueArgs(t *testing.T) {
	tests := []struct {
		args  string
		lines []string
		want  queueArgs
		err   string
	}{
		{args: "", want: queueArgs{count: 1}},
		{args: "5", want: queueArgs{count: 5}},
		{args: "2*3", want: queueArgs{count: 6}},
		{args: "0", want: queueArgs{count: 0}},
		{args: "X in (a, b)", want: queueArgs{count: 1, vars: []string{"X"}, mode: foreachIn, items: []string{"a", "b"}}},
		{args: "3 X,Y from rows.txt", want: queueArgs{count: 3, vars: []string{"X", "Y"}, mode: foreachFrom, file: "rows.txt"}},
		{args: "X1 Y_2 from f", want: queueArgs{count: 1, vars: []string{"X1", "Y_2"}, mode: foreachFrom, file: "f"}},
		{args: "2 in (", lines: []string{"a b", "c"}, want: queueArgs{count: 2, mode: foreachIn, items: []string{"a", "b", "c"}}},
		{args: "FROM (", lines: []string{"a b", "c"}, want: queueArgs{count: 1, mode: foreachFrom, items: []string{"a b", "c"}}},
		{args: "f matching files *.dat", want: queueArgs{count: 1, vars: []string{"f"}, mode: foreachMatchingFiles, items: []string{"*.dat"}}},
		{args: "matching any *.dat", want: queueArgs{count: 1, mode: foreachMatching, items: []string{"*.dat"}}},
		{args: "-1", err: "out of range"},
		{args: "2147483647", err: "out of range"},
		{args: "many", err: "Invalid Queue count"},
		{args: "1.5", err: "not an integer"},
		{args: "\"3\"", err: "not an integer"},
		{args: "x in", err: "Invalid Queue count"},
		{args: "in files (a)", err: "Queue keyword conflict"},
		{args: "from dirs f", err: "Queue keyword conflict"},
		{args: "in [a:b] (x)", err: "Invalid [::]"},
		{args: "in [::0] (x)", err: "step must be positive"},
		{args: "in [1:2] [3:4] (x)", err: "two slices"},
		{args: "X from", err: "Invalid Queue count"}, // a keyword needs something after it, as in HTCondor
		{args: "X from [1:2]", err: "needs a file name"},
		{args: "X from ()", want: queueArgs{count: 1, vars: []string{"X"}, mode: foreachFrom}},
		{args: "X from ls *.dat |", err: "not supported"},
		{args: "1X in (a)", want: queueArgs{count: 1, vars: []string{"X"}, mode: foreachIn, items: []string{"a"}}}, // HTCondor: VAR1 but not 1VAR
		{args: ".x in (a)", err: "Invalid queue variable"},
		{args: "3", lines: []string{"a"}, err: "item lines follow"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			got, err := parseQueueArgs(tt.args, tt.lines)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.slice = nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestSplitRow(t *testing.T) {
	tests := []struct {
		row  string
		n    int
		want []string
	}{
		{"a b c", 1, []string{"a b c"}},
		{"a b c", 2, []string{"a", "b c"}},
		{"a,b,c", 3, []string{"a", "b", "c"}},
		{"a, b ,c d", 3, []string{"a", "b", "c d"}},
		{"a,,c", 3, []string{"a", "", "c"}},
		{"a", 3, []string{"a", "", ""}},
		{" a\x1f b, c \x1fd ", 3, []string{"a", "b, c", "d"}},
	}
	for _, tt := range tests {
		if got := splitRow(tt.row, tt.n); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitRow(%q, %d) = %q, want %q", tt.row, tt.n, got, tt.want)
		}
	}
}

func TestMaxJobs(t *testing.T) {
	fx := newFixture(t)
	f, err := Parse("job.sub", strings.NewReader(base+"queue 5\nqueue 6\n"))
	if err != nil {
		t.Fatal(err)
	}
	opts := fx.options()
	opts.MaxJobs = 10
	if _, err := f.Jobs(opts); err == nil || !strings.Contains(err.Error(), "exceed the limit of 10") {
		t.Fatalf("error %v, want the job limit", err)
	}
	if _, err := f.Jobs(Options{Dir: fx.dir, MaxJobs: 11}); err != nil {
		t.Fatalf("11 jobs under a limit of 11: %v", err)
	}
}
