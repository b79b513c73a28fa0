package jobs

import (
	"testing"

	"github.com/ec2grid/ec2grid/classad"
)

// FuzzDecodeRecord: a stored record never panics the loader, and what decodes
// re-encodes to a record that decodes to the same ad.
func FuzzDecodeRecord(f *testing.F) {
	ad := classad.New()
	ad.SetInt(AttrClusterID, 3)
	ad.SetString(AttrOwner, "alice \"q\"\n")
	ad.SetExpr("NumHoldsByReason", "[ UserRequest = 2; JobPolicy = 1 ]")
	ad.SetExpr("PeriodicHold", "time() - EnteredCurrentStatus > 60")
	f.Add(encodeRecord(ad))
	f.Add([]byte(recordMagic))
	f.Add([]byte("ec2grid-job 2\nA = 1\n"))
	f.Add([]byte(recordMagic + "A = \n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ad, err := decodeRecord(b)
		if err != nil {
			return
		}
		again, err := decodeRecord(encodeRecord(ad))
		if err != nil {
			t.Fatalf("re-decoding %q: %v", encodeRecord(ad), err)
		}
		// The first encoding may normalise the text (a unary minus on a literal, "- 0",
		// prints as "-0", which reads back as the literal 0); from then on a record
		// must be stable.
		third, err := decodeRecord(encodeRecord(again))
		if err != nil {
			t.Fatalf("re-decoding %q: %v", encodeRecord(again), err)
		}
		if third.MarshalLong() != again.MarshalLong() {
			t.Fatalf("round trip changed the ad:\n%s\n%s", again.MarshalLong(), third.MarshalLong())
		}
		if len(again.Names()) != len(ad.Names()) {
			t.Fatalf("round trip changed the attributes: %q -> %q", ad.Names(), again.Names())
		}
	})
}

// FuzzDecodeJob: a stored job record never panics the loader, and what decodes (over a
// cluster ad) re-encodes to a record that decodes to the same ad.
func FuzzDecodeJob(f *testing.F) {
	base := classad.New()
	base.SetString(AttrOwner, "alice")
	base.SetString("Cmd", "/bin/true")
	base.SetExpr("PeriodicHold", "time() - EnteredCurrentStatus > 60")
	job := classad.New()
	job.SetInt(AttrProcID, 3)
	job.SetString("odd name", "x")
	job.ChainTo(base)
	job.Delete("Cmd")
	f.Add(encodeJob(job))
	f.Add(encodeJob(job.Flatten()))
	f.Add([]byte(jobMagic + "!cluster\n!unset \"a\\nb\"\nA = 1\n"))
	f.Add([]byte(recordMagic + "A = 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ad, err := decodeJob(b, base)
		if err != nil {
			return
		}
		again, err := decodeJob(encodeJob(ad), base)
		if err != nil {
			t.Fatalf("re-decoding %q: %v", encodeJob(ad), err)
		}
		// As in FuzzDecodeRecord, the first encoding may normalise the text.
		third, err := decodeJob(encodeJob(again), base)
		if err != nil {
			t.Fatalf("re-decoding %q: %v", encodeJob(again), err)
		}
		if third.MarshalLong() != again.MarshalLong() {
			t.Fatalf("round trip changed the ad:\n%s\n%s", again.MarshalLong(), third.MarshalLong())
		}
		if again.Len() != ad.Len() || (again.Chained() == nil) != (ad.Chained() == nil) {
			t.Fatalf("round trip changed the attributes: %q -> %q", ad.Names(), again.Names())
		}
	})
}
