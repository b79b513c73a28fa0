package submit

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fuzzSeeds returns submit files that reach every part of the parser and the job builder.
func fuzzSeeds() []string {
	return []string{
		article,
		base + "queue\n",
		base + "ec2_user_data = $(Item) $(Step) $(Row) $ENV(HOME) $RANDOM_INTEGER(1,9) $RANDOM_CHOICE(a,b) $(x:def) $$(y) $(DOLLAR)\nqueue 2 in (a, b)\n",
		base + "a = $(b)\nb = $(a)\nec2_user_data = $(a)\nqueue\n",
		base + "queue X, Y from (\n1 2\n3, 4\n)\n",
		base + "queue in [1::2] (\na b\nc\n)\n",
		base + "queue matching files *.sub\nqueue F matching dirs *\n",
		base + "+Attr = 1 + $(n)\nMY.B = \"x\"\n-Cmd =\nec2_user_data @=end\ntext\n@end\nqueue $(n:2)\n",
		base + "ec2_tag_names = A\nec2_tag_A = 1\nec2_parameter_X = y\nec2_iam_profile_name = p\nhold = true\nqueue\n",
		"queue\nuniverse = vanilla\n",
		"x = \\\n  continued \\\n# comment\n end\nif true\n",
		base + "ec2_user_data = $INT($(Process) * 2, %03d) $SUBSTR(x, -2) $CHOICE(0, a) $BASENAME(/a/b)\nqueue\n",
	}
}

// FuzzParse feeds arbitrary submit files to Parse and Jobs. Neither may panic or hang,
// and every error about the file must be an *Error.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	root := f.TempDir()
	for _, name := range []string{"AccessKeyID", "SecretAccessKey"} { // keys for the seeds
		if err := os.WriteFile(filepath.Join(root, name), []byte("k"), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		file, err := Parse("fuzz.sub", strings.NewReader(src))
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Parse error %v is %T, not *Error", err, err)
			}
			return
		}
		sub, err := file.Jobs(Options{
			Owner:      "fuzz",
			Now:        func() time.Time { return testNow },
			Getenv:     func(string) (string, bool) { return "v", true },
			Rand:       rand.New(rand.NewPCG(1, 2)),
			Dir:        "/",
			Root:       root,
			MaxJobs:    20,
			ScheddName: "fuzz",
		})
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Jobs error %v is %T, not *Error", err, err)
			}
			return
		}
		if sub.NumJobs() > 20 {
			t.Fatalf("%d jobs despite MaxJobs 20", sub.NumJobs())
		}
	})
}

// FuzzQueueArgs feeds arbitrary queue statements to the queue parser.
func FuzzQueueArgs(f *testing.F) {
	for _, s := range []string{"", "3", "X in (a, b)", "3 X,Y from [1:2:3] rows.txt", "f matching files *.dat", "in (", "2 A from (", "[::", "x in [-1:] a b"} {
		f.Add(s, "a b\nc")
	}
	f.Fuzz(func(t *testing.T, args, lines string) {
		var ls []string
		if needsMoreLines(args) {
			ls = strings.Split(lines, "\n")
		}
		qa, err := parseQueueArgs(args, ls)
		if err != nil {
			return
		}
		if qa.count < 0 {
			t.Fatalf("negative count %d", qa.count)
		}
		for _, v := range qa.vars {
			if !isVarName(v) {
				t.Fatalf("bad variable name %q", v)
			}
		}
		for i := range qa.items {
			qa.slice.selected(i, len(qa.items))
		}
	})
}
