package submit

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ec2grid/ec2grid/classad"
)

// testNow is the fixed submit time of every test.
var testNow = time.Date(2026, 11, 23, 12, 50, 11, 0, time.UTC)

// fixture is a directory with the two key files every EC2 job needs.
type fixture struct {
	dir string
	env map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"AccessKeyID", "SecretAccessKey"} {
		writeFile(t, filepath.Join(dir, name), "secret\n")
	}
	return &fixture{dir: dir, env: map[string]string{"HOME": "/home/alice", "EMPTY": ""}}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// base is a minimal valid EC2 job, without a queue statement.
const base = `universe = grid
grid_resource = ec2 https://ec2.us-east-1.amazonaws.com/
executable = ec2-test
ec2_access_key_id = AccessKeyID
ec2_secret_access_key = SecretAccessKey
ec2_ami_id = ami-0123456789abcdef0
`

func (fx *fixture) options() Options {
	return Options{
		ClusterID:  1,
		Owner:      "alice",
		ScheddName: "submit.example.com",
		Now:        func() time.Time { return testNow },
		Getenv: func(k string) (string, bool) {
			v, ok := fx.env[k]
			return v, ok
		},
		Rand: rand.New(rand.NewPCG(1, 2)),
		Dir:  fx.dir,
	}
}

// submitText parses src and builds its jobs with the fixture's options.
func (fx *fixture) submitText(src string) (*Submission, error) {
	f, err := Parse("job.sub", strings.NewReader(src))
	if err != nil {
		return nil, err
	}
	return f.Jobs(fx.options())
}

// jobs is submitText for sources that must succeed; it returns every job in order.
func (fx *fixture) jobs(t *testing.T, src string) []*classad.ClassAd {
	t.Helper()
	sub, err := fx.submitText(src)
	if err != nil {
		t.Fatalf("submit: %v\nsource:\n%s", err, src)
	}
	var ads []*classad.ClassAd
	for _, c := range sub.Clusters {
		ads = append(ads, c.Jobs...)
	}
	return ads
}

// attr returns an attribute's old-syntax text, or "<unset>".
func attr(ad *classad.ClassAd, name string) string {
	e, ok := ad.Lookup(name)
	if !ok {
		return "<unset>"
	}
	return classad.Unparse(e)
}

// str returns a string attribute's value, or "<unset>" / "<not a string>".
func str(ad *classad.ClassAd, name string) string {
	e, ok := ad.Lookup(name)
	if !ok {
		return "<unset>"
	}
	v, ok := classad.IsLiteral(e)
	if !ok {
		return "<not a literal>"
	}
	s, ok := v.StringValue()
	if !ok {
		return "<not a string>"
	}
	return s
}

// asError returns err as *Error or fails the test.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *submit.Error", err, err)
	}
	return se
}
