package jobs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/ec2grid/ec2grid/classad"
)

// The bbolt file, layout version 1:
//
//	meta/
//	    "layout"      -> "1"                      (refuse to open any other)
//	    "nextcluster" -> uint64 big-endian         (the next ClusterId to hand out)
//	    "queueid"     -> UUID text                 (the queue's identity, made at creation;
//	                                                added on open to files made before it)
//	jobs/
//	    cluster(u64 BE) proc(u64 BE) -> record     (one per queued job, sorted by id)
//	submitkeys/
//	    submit key    -> cluster(u64 BE)          (idempotent SubmitCluster)
//	history/
//	    seq(u64 BE)   -> record                   (append-only; higher seq = newer)
//
// A record is recordMagic followed by the ad in condor_q -long form. Every transaction
// is fsync'd (bbolt's default, NoSync false).
const (
	layoutVersion = "1"
	recordMagic   = "ec2grid-job 1\n"
)

var (
	bucketMeta       = []byte("meta")
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
		for _, b := range [][]byte{bucketMeta, bucketJobs, bucketSubmitKeys, bucketHistory} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(keyLayout); {
		case v == nil:
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

func (b *boltBackend) load() ([]*classad.ClassAd, int64, map[string]int64, error) {
	var ads []*classad.ClassAd
	next := int64(1)
	keys := map[string]int64{}
	err := b.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyNextCluster); len(v) == 8 {
			next = int64(binary.BigEndian.Uint64(v))
		}
		err := tx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
			ad, err := decodeRecord(v)
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

func (b *boltBackend) submit(key string, cluster int64, jobs []*classad.ClassAd) error {
	recs := make([][]byte, len(jobs))
	for i, j := range jobs {
		recs[i] = encodeRecord(j)
	}
	return b.db.Update(func(tx *bolt.Tx) error {
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

func (b *boltBackend) flush(put []*classad.ClassAd, del []JobID) error {
	recs := make([][]byte, len(put))
	for i, j := range put {
		recs[i] = encodeRecord(j)
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		bj := tx.Bucket(bucketJobs)
		for i, j := range put {
			if err := bj.Put(jobKey(ID(j)), recs[i]); err != nil {
				return err
			}
		}
		for _, id := range del {
			if err := bj.Delete(jobKey(id)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *boltBackend) remove(id JobID, ad *classad.ClassAd) error {
	rec := encodeRecord(ad)
	return b.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketJobs).Delete(jobKey(id)); err != nil {
			return err
		}
		h := tx.Bucket(bucketHistory)
		seq, err := h.NextSequence()
		if err != nil {
			return err
		}
		return h.Put(u64(seq), rec)
	})
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
