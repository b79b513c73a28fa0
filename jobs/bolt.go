package jobs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/ec2grid/ec2grid/classad"
)

// The bbolt file, layout version 2:
//
//	meta/
//	    "layout"      -> "2"                      (1 is upgraded on open; refuse others)
//	    "nextcluster" -> uint64 big-endian         (the next ClusterId to hand out)
//	    "queueid"     -> UUID text                 (the queue's identity, made at creation;
//	                                                added on open to files made before it)
//	clusters/
//	    cluster(u64 BE) -> cluster record          (the attributes every job of the
//	                                                cluster shares; deleted with its
//	                                                last job)
//	jobs/
//	    cluster(u64 BE) proc(u64 BE) -> job record (one per queued job, sorted by id)
//	submitkeys/
//	    submit key    -> cluster(u64 BE)          (idempotent SubmitCluster)
//	history/
//	    seq(u64 BE)   -> record                   (append-only; higher seq = newer)
//
// A record (history, and layout 1's jobs) is recordMagic followed by the whole ad in
// condor_q -long form. A cluster record is clusterMagic and the cluster's common
// attributes in long form. A job record is jobMagic, header lines ("!cluster" when the
// job is chained to its cluster's record, then one `!unset "name"` per cluster attribute
// the job removed), and the job's own attributes in long form: a job costs on disk
// what it does in memory, and loading rebuilds the same sharing. Layout 1 had no
// clusters bucket and whole-ad job records, which still load (as jobs with nothing
// shared), so upgrading is only the version stamp. Every transaction is fsync'd
// (bbolt's default, NoSync false).
const (
	layoutVersion    = "2"
	layoutVersion1   = "1"
	recordMagic      = "ec2grid-job 1\n"
	jobMagic         = "ec2grid-job 2\n"
	clusterMagic     = "ec2grid-cluster 1\n"
	headerChained    = "!cluster"
	headerUnset      = "!unset "
	headerLinePrefix = '!'
)

var (
	bucketMeta       = []byte("meta")
	bucketClusters   = []byte("clusters")
	bucketJobs       = []byte("jobs")
	bucketSubmitKeys = []byte("submitkeys")
	bucketHistory    = []byte("history")
	keyLayout        = []byte("layout")
	keyNextCluster   = []byte("nextcluster")
	keyQueueID       = []byte("queueid")
)

// boltOpenTimeout bounds the wait for the file lock: a second daemon on the same home
// must fail with a message rather than hang.
const boltOpenTimeout = 2 * time.Second

// OpenBolt opens (creating it and its directory if needed) the job queue in the bbolt
// file at path, and loads every queued job into memory.
func OpenBolt(path string) (Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("job store %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: boltOpenTimeout})
	if err != nil {
		return nil, fmt.Errorf("job store %s: %w", path, err)
	}
	var queueID string
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketClusters, bucketJobs, bucketSubmitKeys, bucketHistory} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(keyLayout); {
		case v == nil, string(v) == layoutVersion1:
			// Layout 1's records load as they are (see the layout comment); the clusters
			// bucket was made above.
			if err := meta.Put(keyLayout, []byte(layoutVersion)); err != nil {
				return err
			}
		case string(v) != layoutVersion:
			return fmt.Errorf("layout version %q, this program reads %q", v, layoutVersion)
		}
		if v := meta.Get(keyQueueID); v != nil {
			queueID = string(v)
			return nil
		}
		queueID = uuid.NewString()
		return meta.Put(keyQueueID, []byte(queueID))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("job store %s: %w", path, err)
	}
	q, err := newQueue(&boltBackend{db: db}, queueID)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("job store %s: %w", path, err)
	}
	return q, nil
}

type boltBackend struct{ db *bolt.DB }

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func jobKey(id JobID) []byte {
	return binary.BigEndian.AppendUint64(u64(uint64(id.Cluster)), uint64(id.Proc))
}

func encodeRecord(ad *classad.ClassAd) []byte {
	return []byte(recordMagic + ad.MarshalLong())
}

// errBadRecord says a stored record is not one this program wrote.
var errBadRecord = errors.New("bad job record")

func decodeRecord(b []byte) (*classad.ClassAd, error) {
	s := string(b)
	if !strings.HasPrefix(s, recordMagic) {
		return nil, fmt.Errorf("%w: no header", errBadRecord)
	}
	ad, err := classad.ParseLong(s[len(recordMagic):])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadRecord, err)
	}
	return ad, nil
}

func encodeCluster(base *classad.ClassAd) []byte {
	return []byte(clusterMagic + base.MarshalLong())
}

func decodeCluster(b []byte) (*classad.ClassAd, error) {
	s := string(b)
	if !strings.HasPrefix(s, clusterMagic) {
		return nil, fmt.Errorf("%w: no cluster header", errBadRecord)
	}
	ad, err := classad.ParseLong(s[len(clusterMagic):])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadRecord, err)
	}
	return ad, nil
}

// encodeJob writes a queued job: its own attributes and tombstones when it is chained
// to its cluster's ad, otherwise the whole ad.
func encodeJob(ad *classad.ClassAd) []byte {
	if ad.Chained() == nil {
		return []byte(jobMagic + ad.MarshalLong())
	}
	var b strings.Builder
	b.WriteString(jobMagic)
	b.WriteString(headerChained)
	b.WriteByte('\n')
	for _, name := range ad.Hidden() {
		b.WriteString(headerUnset)
		b.WriteString(strconv.Quote(name))
		b.WriteByte('\n')
	}
	b.WriteString(ad.Own().MarshalLong())
	return []byte(b.String())
}

// decodeJob reads a job record of either layout; base is its cluster's ad (nil when the
// cluster has no record).
func decodeJob(b []byte, base *classad.ClassAd) (*classad.ClassAd, error) {
	s := string(b)
	if strings.HasPrefix(s, recordMagic) {
		return decodeRecord(b)
	}
	if !strings.HasPrefix(s, jobMagic) {
		return nil, fmt.Errorf("%w: no header", errBadRecord)
	}
	s = s[len(jobMagic):]
	chained := false
	var hidden []string
	for len(s) > 0 && s[0] == headerLinePrefix {
		line, rest, ok := strings.Cut(s, "\n")
		if !ok {
			return nil, fmt.Errorf("%w: header line %q has no end", errBadRecord, line)
		}
		s = rest
		switch {
		case line == headerChained && !chained && hidden == nil:
			chained = true
		case strings.HasPrefix(line, headerUnset) && chained:
			name, err := strconv.Unquote(line[len(headerUnset):])
			if err != nil {
				return nil, fmt.Errorf("%w: header line %q: %w", errBadRecord, line, err)
			}
			hidden = append(hidden, name)
		default:
			return nil, fmt.Errorf("%w: unexpected header line %q", errBadRecord, line)
		}
	}
	ad, err := classad.ParseLong(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadRecord, err)
	}
	if !chained {
		return ad, nil
	}
	if base == nil {
		return nil, fmt.Errorf("%w: chained to a cluster that has no record", errBadRecord)
	}
	ad.ChainTo(base)
	for _, name := range hidden {
		if !ad.Delete(name) {
			return nil, fmt.Errorf("%w: unsets %q, which the cluster does not have", errBadRecord, name)
		}
	}
	return ad, nil
}

func (b *boltBackend) load() ([]*classad.ClassAd, int64, map[string]int64, error) {
	var ads []*classad.ClassAd
	next := int64(1)
	keys := map[string]int64{}
	err := b.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyNextCluster); len(v) == 8 {
			next = int64(binary.BigEndian.Uint64(v))
		}
		bases := map[uint64]*classad.ClassAd{}
		err := tx.Bucket(bucketClusters).ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("cluster key %x: %w: not 8 bytes", k, errBadRecord)
			}
			base, err := decodeCluster(v)
			if err != nil {
				return fmt.Errorf("cluster %d: %w", binary.BigEndian.Uint64(k), err)
			}
			bases[binary.BigEndian.Uint64(k)] = base
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
			var base *classad.ClassAd
			if len(k) == 16 {
				base = bases[binary.BigEndian.Uint64(k)]
			}
			ad, err := decodeJob(v, base)
			if err != nil {
				return fmt.Errorf("job key %x: %w", k, err)
			}
			ads = append(ads, ad)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketSubmitKeys).ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				keys[string(k)] = int64(binary.BigEndian.Uint64(v))
			}
			return nil
		})
	})
	if err != nil {
		return nil, 0, nil, fmt.Errorf("load: %w", err)
	}
	return ads, next, keys, nil
}

func (b *boltBackend) submit(key string, cluster int64, base *classad.ClassAd, jobs []*classad.ClassAd) error {
	recs := make([][]byte, len(jobs))
	for i, j := range jobs {
		recs[i] = encodeJob(j)
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		if base != nil {
			if err := tx.Bucket(bucketClusters).Put(u64(uint64(cluster)), encodeCluster(base)); err != nil {
				return err
			}
		}
		bj := tx.Bucket(bucketJobs)
		// Keys ascend, so bbolt can fill pages completely.
		bj.FillPercent = 1.0
		for i, j := range jobs {
			if err := bj.Put(jobKey(ID(j)), recs[i]); err != nil {
				return err
			}
		}
		if key != "" {
			if err := tx.Bucket(bucketSubmitKeys).Put([]byte(key), u64(uint64(cluster))); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyNextCluster, u64(uint64(cluster+1)))
	})
}

func (b *boltBackend) flush(put []*classad.ClassAd, removed []*classad.ClassAd) error {
	recs := make([][]byte, len(put))
	for i, j := range put {
		recs[i] = encodeJob(j)
	}
	hist := make([][]byte, len(removed))
	for i, ad := range removed {
		hist[i] = encodeRecord(ad)
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		bj := tx.Bucket(bucketJobs)
		for i, j := range put {
			if err := bj.Put(jobKey(ID(j)), recs[i]); err != nil {
				return err
			}
		}
		h := tx.Bucket(bucketHistory)
		// Sequences ascend, so history pages fill completely.
		h.FillPercent = 1.0
		clusters := map[int64]struct{}{}
		for i, ad := range removed {
			id := ID(ad)
			if err := bj.Delete(jobKey(id)); err != nil {
				return err
			}
			clusters[id.Cluster] = struct{}{}
			seq, err := h.NextSequence()
			if err != nil {
				return err
			}
			if err := h.Put(u64(seq), hist[i]); err != nil {
				return err
			}
		}
		for c := range clusters {
			if err := dropClusterIfEmpty(tx, c); err != nil {
				return err
			}
		}
		return nil
	})
}

// dropClusterIfEmpty deletes the cluster's record once none of its jobs is queued.
func dropClusterIfEmpty(tx *bolt.Tx, cluster int64) error {
	prefix := u64(uint64(cluster))
	if k, _ := tx.Bucket(bucketJobs).Cursor().Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
		return nil
	}
	return tx.Bucket(bucketClusters).Delete(prefix)
}

func (b *boltBackend) history(ctx context.Context, constraint classad.Expr, limit int) ([]*classad.ClassAd, error) {
	var out []*classad.ClassAd
	err := b.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketHistory).Cursor()
		n := 0
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if limit > 0 && len(out) >= limit {
				return nil
			}
			if n++; n%queryCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			ad, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("history key %x: %w", k, err)
			}
			if constraint == nil || ad.Eval(constraint).IsTrue() {
				out = append(out, ad)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return out, nil
}

func (b *boltBackend) close() error { return b.db.Close() }
