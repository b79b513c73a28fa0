package jobs

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/ec2grid/ec2grid/classad"
)

// queueText is every queued job in long form, in id order.
func queueText(t *testing.T, s Store) string {
	t.Helper()
	all, err := s.Query(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return classad.MarshalLongAds(all)
}

// checkSharing checks that the jobs of each cluster share one cluster ad.
func checkSharing(t *testing.T, s Store) {
	t.Helper()
	shared, err := s.QueryShared(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	bases := map[int64]*classad.ClassAd{}
	for _, ad := range shared {
		id := ID(ad)
		b := ad.Chained()
		if b == nil {
			t.Errorf("job %v is not chained", id)
			continue
		}
		if prev, ok := bases[id.Cluster]; ok && prev != b {
			t.Errorf("job %v has its own copy of the cluster ad", id)
		}
		bases[id.Cluster] = b
	}
}

// boltClusters returns the cluster ids that have a cluster record.
func boltClusters(t *testing.T, path string) []uint64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []uint64
	err = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketClusters).ForEach(func(k, _ []byte) error {
			out = append(out, binary.BigEndian.Uint64(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A restart gives the same ads, sharing their cluster ads again, with the changes made
// to single jobs (shadowed and unset cluster attributes) kept.
func TestBoltRestartSameAds(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "jobs.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	c1 := mustSubmit(t, s, "k1", newJobs(5, "alice"))
	ads := newJobs(3, "bob")
	for i, ad := range ads {
		ad.SetExpr("PeriodicHold", "time() - EnteredCurrentStatus > 60")
		ad.SetExpr("Nested", fmt.Sprintf("[ A = %d; B = \"x\" ]", i%2))
		ad.SetString("odd name", "quoted")
	}
	c2 := mustSubmit(t, s, "", ads)
	c3 := mustSubmit(t, s, "", newJobs(1, "carol"))
	for _, u := range []struct {
		id JobID
		cs []Change
		d  Durability
	}{
		{JobID{c1, 0}, []Change{SetInt(AttrJobStatus, StatusRunning), SetString("EC2InstanceName", "i-1")}, Durable},
		{JobID{c1, 1}, []Change{Unset("Cmd"), Unset(AttrOwner)}, Durable},
		{JobID{c1, 2}, []Change{Unset("Cmd"), SetString("cmd", "/bin/false")}, Batched},
		{JobID{c2, 1}, []Change{Unset("odd name"), Unset("Nested")}, Batched},
		{JobID{c3, 0}, []Change{Unset("Index"), Unset(AttrJobStatus)}, Durable},
	} {
		if err := s.Update(ctx, u.id, u.cs, u.d); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, JobID{c1, 4}); err != nil {
		t.Fatal(err)
	}
	before := queueText(t, s)
	checkSharing(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		s, err = OpenBolt(path)
		if err != nil {
			t.Fatal(err)
		}
		if after := queueText(t, s); after != before {
			t.Fatalf("restart %d changed the queue:\n%s\nbefore:\n%s", round+1, after, before)
		}
		checkSharing(t, s)
		if round == 1 {
			break
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Deleting a cluster's last job deletes its cluster record.
	if err := s.Delete(ctx, JobID{c3, 0}); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.History(ctx, nil, 1); len(h) != 1 || h[0].Chained() != nil || ID(h[0]) != (JobID{c3, 0}) {
		t.Errorf("history record: %v", h)
	} else if _, ok := h[0].Lookup(AttrOwner); !ok {
		t.Errorf("history record lost the cluster's attributes: %s", h[0])
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(boltClusters(t, path)); got != fmt.Sprint([]uint64{uint64(c1), uint64(c2)}) {
		t.Errorf("cluster records %s, want %d and %d", got, c1, c2)
	}
}

// writeLayout1 makes a queue file as layout 1 wrote it: whole-ad job records, no
// clusters bucket.
func writeLayout1(t *testing.T, path string, jobs, hist []*classad.ClassAd, next int64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket(bucketMeta)
		bj, _ := tx.CreateBucket(bucketJobs)
		keys, _ := tx.CreateBucket(bucketSubmitKeys)
		h, _ := tx.CreateBucket(bucketHistory)
		for k, v := range map[string]string{"layout": "1", "queueid": uuid.NewString()} {
			if err := meta.Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		if err := meta.Put(keyNextCluster, u64(uint64(next))); err != nil {
			return err
		}
		for _, ad := range jobs {
			if err := bj.Put(jobKey(ID(ad)), encodeRecord(ad)); err != nil {
				return err
			}
		}
		for i, ad := range hist {
			if err := h.Put(u64(uint64(i+1)), encodeRecord(ad)); err != nil {
				return err
			}
		}
		return keys.Put([]byte("old-key"), u64(1))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A layout 1 file opens: its jobs load whole (nothing shared), keep working, and the
// file is layout 2 from then on.
func TestBoltLayout1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "jobs.db")
	var old []*classad.ClassAd
	for c := int64(1); c <= 2; c++ {
		for i, ad := range newJobs(3, "alice") {
			ad.SetInt(AttrClusterID, c)
			ad.SetInt(AttrProcID, int64(i))
			old = append(old, ad)
		}
	}
	gone := newJobs(1, "zed")[0]
	gone.SetInt(AttrClusterID, 1)
	gone.SetInt(AttrProcID, 3)
	writeLayout1(t, path, old, []*classad.ClassAd{gone}, 3)
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := queueText(t, s), classad.MarshalLongAds(old); got != want {
		t.Fatalf("layout 1 jobs:\n%s\nwant:\n%s", got, want)
	}
	if h, _ := s.History(ctx, nil, 0); len(h) != 1 || h[0].MarshalLong() != gone.MarshalLong() {
		t.Errorf("layout 1 history: %v", h)
	}
	if c, ok, _ := s.SubmitKeyCluster(ctx, "old-key"); !ok || c != 1 {
		t.Errorf("layout 1 submit key: %d %v", c, ok)
	}
	if err := s.Update(ctx, JobID{1, 1}, []Change{Unset("Cmd"), SetInt(AttrJobStatus, StatusHeld)}, Durable); err != nil {
		t.Fatal(err)
	}
	old[1].Delete("Cmd")
	old[1].SetInt(AttrJobStatus, StatusHeld)
	if err := s.Delete(ctx, JobID{2, 0}); err != nil {
		t.Fatal(err)
	}
	old = append(old[:3], old[4:]...)
	c := mustSubmit(t, s, "", newJobs(2, "bob"))
	if c != 3 {
		t.Errorf("new cluster %d, want 3", c)
	}
	want := queueText(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyLayout); string(v) != layoutVersion {
			t.Errorf("layout after open: %q", v)
		}
		return nil
	})
	db.Close()
	s, err = OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := queueText(t, s); got != want {
		t.Fatalf("after reopen:\n%s\nwant:\n%s", got, want)
	}
	all, _ := s.QueryShared(ctx, nil)
	for _, ad := range all {
		if id := ID(ad); (id.Cluster < 3) != (ad.Chained() == nil) {
			t.Errorf("job %v: chained %v", id, ad.Chained() != nil)
		}
	}
	if got := classad.MarshalLongAds(all[:len(old)]); got != classad.MarshalLongAds(old) {
		t.Errorf("old jobs:\n%s\nwant:\n%s", got, classad.MarshalLongAds(old))
	}
}

func TestDecodeJobErrors(t *testing.T) {
	base := classad.New()
	base.SetString("Cmd", "/bin/true")
	for _, tc := range []struct {
		rec  string
		base *classad.ClassAd
	}{
		{"ec2grid-job 3\nA = 1\n", base},
		{jobMagic + "!cluster\n!unset \"Cmd\"\nA = 1\n", nil},   // no cluster record
		{jobMagic + "!cluster\n!unset \"Nope\"\nA = 1\n", base}, // unsets what the cluster lacks
		{jobMagic + "!unset \"Cmd\"\nA = 1\n", base},            // unset without a cluster
		{jobMagic + "!cluster\n!unset Cmd\nA = 1\n", base},      // unquoted
		{jobMagic + "!cluster\n!cluster\nA = 1\n", base},        // twice
		{jobMagic + "!bogus\nA = 1\n", base},                    // unknown header
		{jobMagic + "!cluster", base},                           // header without an end
		{jobMagic + "!cluster\nA = \n", base},                   // bad long form
		{clusterMagic + "A = 1\n", base},                        // a cluster record
	} {
		if ad, err := decodeJob([]byte(tc.rec), tc.base); err == nil {
			t.Errorf("decodeJob(%q) = %s, want an error", tc.rec, ad)
		}
	}
	ad, err := decodeJob([]byte(jobMagic+"!cluster\n!unset \"cmd\"\nProcId = 1\n"), base)
	if err != nil || ad.Len() != 1 || ad.Chained() != base {
		t.Errorf("decodeJob = %v, %v", ad, err)
	}
}
