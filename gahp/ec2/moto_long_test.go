//go:build long

package ec2

import (
	"testing"

	"github.com/ec2grid/ec2grid/gahp"
	"github.com/ec2grid/ec2grid/gahp/ec2/ec2test"
)

// TestMotoPages: moto pages DescribeInstances at 100 reservations. HTCondor's gahp read the
// first page only, and 21 of 121 jobs were declared finished with their instances running
// (htcondor-measured.md). All 130 come back here.
func TestMotoPages(t *testing.T) {
	t.Parallel()
	url := ec2test.Moto(t)
	r := newRig(t, url, fastOptions())
	want := map[string]bool{}
	for range 130 {
		want[r.must(CmdStart, startArgs("ami-12c6146b", gahp.Null, gahp.Null)...)[0]] = true
	}
	res := r.must(CmdStatusAll)
	if len(res) != 130*8 {
		t.Fatalf("STATUS_ALL returned %d instances, want 130", len(res)/8)
	}
	for i := 0; i < len(res); i += 8 {
		delete(want, res[i])
	}
	if len(want) != 0 {
		t.Errorf("instances missing: %v", want)
	}
}
