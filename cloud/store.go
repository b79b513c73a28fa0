package cloud

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The state file, StateDir/cloud.db (bbolt). Every value is JSON. The tree:
//
//	meta/
//	    schema            -> "1"            (schemaVersion; a newer file is refused)
//	instances/
//	    <seq, 8 bytes BE> -> instance        (launch order: appends stay at the tree's end)
//	keypairs/
//	    <owner>\x00<name> -> keyPair
//	tags/
//	    <owner>\x00<id>   -> []tag           (every tagged resource of every kind)
//	tokens/
//	    <owner>\x00<token> -> clientToken    (honoured RunInstances ClientTokens)
//
// Other files of this package add their own top-level buckets (spot, addresses, volumes…)
// through registerResource; the schema version covers only the buckets above.
const schemaVersion = "1"

var (
	bucketMeta      = []byte("meta")
	bucketInstances = []byte("instances")
	bucketKeyPairs  = []byte("keypairs")
	bucketTags      = []byte("tags")
	bucketTokens    = []byte("tokens")
	keySchema       = []byte("schema")
)

// Store tuning.
const (
	// openTimeout bounds the wait for bbolt's file lock: a second cloud on the same
	// StateDir must fail, not hang.
	openTimeout = 5 * time.Second
	// instancesFill is the fill percent for the instances bucket: keys only ever grow, so
	// packed pages keep 100,000 instances at about half the pages of bbolt's 50% default,
	// with room for a record to grow when its state changes.
	instancesFill = 0.9
	// stateDirMode and stateFileMode keep the state (user data, tokens) private.
	stateDirMode  = 0o700
	stateFileMode = 0o600
	// stateRootMode is StateDir's own mode when the cloud creates it: searchable but not
	// listable, so an instance process running as an unprivileged user can reach its own
	// directory under StateDir/instances and nothing else.
	stateRootMode = 0o711
)

// store is the bbolt file. Every change is one Update: bbolt fsyncs before it returns,
// so a change the server has answered is on disk.
type store struct {
	db *bolt.DB
}

func openStore(dir string) (*store, error) {
	if err := os.MkdirAll(dir, stateRootMode); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	path := filepath.Join(dir, "cloud.db")
	db, err := bolt.Open(path, stateFileMode, &bolt.Options{Timeout: openTimeout, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketInstances, bucketKeyPairs, bucketTags, bucketTokens} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(keySchema); {
		case v == nil:
			return meta.Put(keySchema, []byte(schemaVersion))
		case string(v) != schemaVersion:
			return fmt.Errorf("state schema %q, this cloud reads %q", v, schemaVersion)
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	return &store{db: db}, nil
}

func (st *store) close() error { return st.db.Close() }

// seqKey is the instances-bucket key of a Seq.
func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// ownerKey is the key of a per-account record: owner ids are digits, so \x00 cannot
// occur in them and the split is unambiguous whatever the name holds.
func ownerKey(owner, name string) []byte {
	return append(append([]byte(owner), 0), name...)
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// putInstances writes instance records in tx.
func putInstances(tx *bolt.Tx, list ...*instance) error {
	b := tx.Bucket(bucketInstances)
	b.FillPercent = instancesFill
	for _, in := range list {
		if err := putJSON(b, seqKey(in.Seq), in); err != nil {
			return fmt.Errorf("store instance %s: %w", in.ID, err)
		}
	}
	return nil
}

// putTags writes a resource's tags (deleting the record when there are none).
func putTags(tx *bolt.Tx, owner, id string, tags []tag) error {
	b := tx.Bucket(bucketTags)
	if len(tags) == 0 {
		return b.Delete(ownerKey(owner, id))
	}
	return putJSON(b, ownerKey(owner, id), tags)
}

// load reads the whole state into a fresh memory.
func (st *store) load() (memory, error) {
	m := newMemory()
	err := st.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketInstances).ForEach(func(k, v []byte) error {
			in := new(instance)
			if err := json.Unmarshal(v, in); err != nil {
				return fmt.Errorf("instance record %x: %w", k, err)
			}
			if len(k) != 8 || binary.BigEndian.Uint64(k) != in.Seq {
				return fmt.Errorf("instance record %x: key and seq %d disagree", k, in.Seq)
			}
			m.insert(in)
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketKeyPairs).ForEach(func(k, v []byte) error {
			owner, _, ok := splitOwnerKey(k)
			kp := new(keyPair)
			if err := json.Unmarshal(v, kp); err != nil || !ok {
				return fmt.Errorf("key pair record %q: bad record (%v)", k, err)
			}
			m.owner(owner).keys[kp.Name] = kp
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketTags).ForEach(func(k, v []byte) error {
			owner, id, ok := splitOwnerKey(k)
			var tags []tag
			if err := json.Unmarshal(v, &tags); err != nil || !ok {
				return fmt.Errorf("tags record %q: bad record (%v)", k, err)
			}
			m.owner(owner).tags[id] = tags
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
			owner, _, ok := splitOwnerKey(k)
			ct := new(clientToken)
			if err := json.Unmarshal(v, ct); err != nil || !ok {
				return fmt.Errorf("client token record %q: bad record (%v)", k, err)
			}
			m.owner(owner).tokens[ct.Token] = ct
			return nil
		})
	})
	if err != nil {
		return memory{}, fmt.Errorf("load state: %w", err)
	}
	return m, nil
}

func splitOwnerKey(k []byte) (owner, name string, ok bool) {
	for i, c := range k {
		if c == 0 {
			return string(k[:i]), string(k[i+1:]), true
		}
	}
	return "", "", false
}
