package cloud

import (
	"bytes"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Key pair limits and sizes, EC2's.
const (
	maxKeyName = 255
	// createdKeyBits is the size of the RSA keys CreateKeyPair makes, as EC2 makes them.
	createdKeyBits = 2048
	// minImportBits and maxImportBits bound imported RSA keys: EC2 takes 1024 to 4096,
	// and refusing huge moduli keeps a hostile import cheap.
	minImportBits = 1024
	maxImportBits = 4096
	keyTypeRSA    = "rsa"
	keyTypeEd     = "ed25519"
)

func init() {
	register("CreateKeyPair", createKeyPair)
	register("ImportKeyPair", importKeyPair)
	register("DeleteKeyPair", deleteKeyPair)
	register("DescribeKeyPairs", describeKeyPairs)
	registerKind(resourceKind{prefix: "key-", typ: "key-pair",
		exists: func(s *Server, owner, id string) bool { return s.keyByID(owner, id) != nil },
		notFound: func(id string) *apiError {
			return clientError("InvalidKeyPair.NotFound", "The key pair ID '%s' does not exist", id)
		},
	})
}

// keyByID finds an owner's key pair by id; the caller holds mu or writeMu.
func (s *Server) keyByID(owner, id string) *keyPair {
	if o := s.mem.ownerOrNil(owner); o != nil {
		for _, kp := range o.keys {
			if kp.ID == id {
				return kp
			}
		}
	}
	return nil
}

// checkKeyName applies EC2's key name rules: present, printable ASCII, at most 255.
func checkKeyName(name string) *apiError {
	if name == "" {
		return errMissingParameter("KeyName")
	}
	if len(name) > maxKeyName {
		return clientError("InvalidParameterValue", "Value (%s) for parameter keyName is invalid. Length exceeds maximum of %d.", truncate(name), maxKeyName)
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] > 0x7e {
			return clientError("InvalidParameterValue", "Value (%s) for parameter keyName is invalid. Character sets beyond ASCII are not supported.", truncate(name))
		}
	}
	return nil
}

// colonHex writes a digest as EC2 shows key fingerprints: lower-case hex pairs joined by colons.
func colonHex(sum []byte) string {
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02x", c)
	}
	return b.String()
}

// sshString and sshMPInt append SSH wire-format fields (RFC 4251 §5).
func sshString(b []byte, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func sshMPInt(b []byte, n *big.Int) []byte {
	v := n.Bytes()
	if len(v) > 0 && v[0]&0x80 != 0 {
		v = append([]byte{0}, v...)
	}
	return sshString(b, v)
}

// rsaOpenSSH gives the OpenSSH public key line of an RSA key.
func rsaOpenSSH(pub *rsa.PublicKey, comment string) string {
	blob := sshString(nil, []byte("ssh-rsa"))
	blob = sshMPInt(blob, big.NewInt(int64(pub.E)))
	blob = sshMPInt(blob, pub.N)
	return "ssh-rsa " + base64.StdEncoding.EncodeToString(blob) + " " + comment
}

// tagSpecs reads TagSpecification.N for one resource type.
func tagSpecs(p params, resourceType string) ([]tag, *apiError) {
	var out []tag
	for _, n := range p.indexes("TagSpecification") {
		typ := p.get(sub("TagSpecification", n, "ResourceType"))
		if typ != resourceType {
			return nil, clientError("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", truncate(typ))
		}
		tags, aerr := parseTags(p, sub("TagSpecification", n, "Tag"), true)
		if aerr != nil {
			return nil, aerr
		}
		out = mergeTags(out, tags)
	}
	return out, checkTagCount(out)
}

// addKey stores a new key pair (and its tags), failing on a duplicate name.
func (s *Server) addKey(owner string, kp *keyPair, tags []tag) error {
	return s.mutate(func(tx *bolt.Tx) (func(), error) {
		if o := s.mem.ownerOrNil(owner); o != nil && o.keys[kp.Name] != nil {
			return nil, clientError("InvalidKeyPair.Duplicate", "The keypair '%s' already exists.", kp.Name)
		}
		if err := putJSON(tx.Bucket(bucketKeyPairs), ownerKey(owner, kp.Name), kp); err != nil {
			return nil, err
		}
		if err := putTags(tx, owner, kp.ID, tags); err != nil {
			return nil, err
		}
		return func() {
			o := s.mem.owner(owner)
			o.keys[kp.Name] = kp
			if len(tags) > 0 {
				o.tags[kp.ID] = tags
			}
		}, nil
	})
}

// createKeyPair makes a 2048-bit RSA key, as EC2 does: the private half is answered
// once (PEM, PKCS#1) and never kept; the fingerprint is the SHA-1 of the private key in
// PKCS#8 DER.
func createKeyPair(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	name := p.get("KeyName")
	if aerr := checkKeyName(name); aerr != nil {
		return aerr
	}
	if t := p.get("KeyType"); t != "" && t != keyTypeRSA {
		return clientError("InvalidParameterValue", "Key type '%s' is not supported by this cloud; use rsa.", truncate(t))
	}
	if f := p.get("KeyFormat"); f != "" && f != "pem" {
		return clientError("InvalidParameterValue", "Key format '%s' is not supported by this cloud; use pem.", truncate(f))
	}
	tags, aerr := tagSpecs(p, "key-pair")
	if aerr != nil {
		return aerr
	}
	s.mu.RLock()
	dup := s.mem.ownerOrNil(rq.owner()) != nil && s.mem.owners[rq.owner()].keys[name] != nil
	s.mu.RUnlock()
	if dup { // answer early; addKey checks again under the write lock
		return clientError("InvalidKeyPair.Duplicate", "The keypair '%s' already exists.", name)
	}
	key, err := rsa.GenerateKey(rand.Reader, createdKeyBits)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("marshal key: %w", err)
	}
	sum := sha1.Sum(pkcs8)
	kp := &keyPair{ID: newID("key-"), Name: name, Fingerprint: colonHex(sum[:]), Type: keyTypeRSA,
		PublicKey: rsaOpenSSH(&key.PublicKey, name), Created: rq.now}
	if err := s.addKey(rq.owner(), kp, tags); err != nil {
		return err
	}
	material := strings.TrimSuffix(string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})), "\n")
	w.text("keyName", kp.Name)
	w.text("keyFingerprint", kp.Fingerprint)
	w.text("keyMaterial", material)
	w.text("keyPairId", kp.ID)
	if len(tags) > 0 {
		writeTagSet(w, tags)
	}
	return nil
}

// importKeyPair stores a client's public key (PublicKeyMaterial: base64 of an OpenSSH
// public key line, an RFC 4716 SSH2 key or a PEM public key). The fingerprint of an RSA
// key is the MD5 of its DER (PKIX) public key, of an ed25519 key the base64 SHA-256 of
// its SSH blob, as EC2 computes them.
func importKeyPair(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	name := p.get("KeyName")
	if aerr := checkKeyName(name); aerr != nil {
		return aerr
	}
	raw := p.get("PublicKeyMaterial")
	if raw == "" {
		return errMissingParameter("PublicKeyMaterial")
	}
	tags, aerr := tagSpecs(p, "key-pair")
	if aerr != nil {
		return aerr
	}
	material, ok := decodeUserData(raw)
	if !ok || !looksLikePublicKey(material) {
		material = []byte(raw) // some clients send the key itself, not its base64
	}
	typ, blob, err := parsePublicKey(material)
	if err != nil {
		return clientError("InvalidKey.Format", "Key is not in valid OpenSSH public key format")
	}
	kp := &keyPair{ID: newID("key-"), Name: name, Type: typ, Created: rq.now}
	switch typ {
	case keyTypeRSA:
		pub, err := parseRSABlob(blob)
		if err != nil {
			return clientError("InvalidKey.Format", "Key is not in valid OpenSSH public key format")
		}
		if bits := pub.N.BitLen(); bits < minImportBits || bits > maxImportBits {
			return clientError("InvalidKey.Format", "RSA keys of %d bits are not supported (use %d to %d)", bits, minImportBits, maxImportBits)
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return clientError("InvalidKey.Format", "Key is not in valid OpenSSH public key format")
		}
		sum := md5.Sum(der)
		kp.Fingerprint = colonHex(sum[:])
		kp.PublicKey = "ssh-rsa " + base64.StdEncoding.EncodeToString(blob) + " " + name
	case keyTypeEd:
		sum := sha256.Sum256(blob)
		kp.Fingerprint = base64.StdEncoding.EncodeToString(sum[:])
		kp.PublicKey = "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob) + " " + name
	}
	if err := s.addKey(rq.owner(), kp, tags); err != nil {
		return err
	}
	w.text("keyName", kp.Name)
	w.text("keyFingerprint", kp.Fingerprint)
	w.text("keyPairId", kp.ID)
	if len(tags) > 0 {
		writeTagSet(w, tags)
	}
	return nil
}

func looksLikePublicKey(b []byte) bool {
	t := bytes.TrimSpace(b)
	return bytes.HasPrefix(t, []byte("ssh-")) || bytes.HasPrefix(t, []byte("----"))
}

var errKeyFormat = errors.New("not a supported public key")

// parsePublicKey reads a public key in OpenSSH, RFC 4716 or PEM form and gives its type
// and SSH wire blob.
func parsePublicKey(material []byte) (typ string, blob []byte, err error) {
	text := strings.TrimSpace(string(material))
	switch {
	case strings.HasPrefix(text, "---- BEGIN SSH2 PUBLIC KEY ----"):
		var b64 strings.Builder
		lines := strings.Split(text, "\n")
		for i := 1; i < len(lines); i++ {
			l := strings.TrimSpace(lines[i])
			switch {
			case strings.HasPrefix(l, "---- END SSH2 PUBLIC KEY ----"):
				i = len(lines)
			case strings.Contains(l, ":"): // a header
			case strings.HasSuffix(l, "\\"): // a continued header
				i++
			default:
				b64.WriteString(l)
			}
		}
		blob, err = base64.StdEncoding.DecodeString(b64.String())
	case strings.HasPrefix(text, "-----BEGIN"):
		block, _ := pem.Decode([]byte(text))
		if block == nil {
			return "", nil, errKeyFormat
		}
		var pub any
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		default:
			return "", nil, errKeyFormat
		}
		if err != nil {
			return "", nil, err
		}
		switch k := pub.(type) {
		case *rsa.PublicKey:
			blob = sshMPInt(sshMPInt(sshString(nil, []byte("ssh-rsa")), big.NewInt(int64(k.E))), k.N)
		case ed25519.PublicKey:
			blob = sshString(sshString(nil, []byte("ssh-ed25519")), k)
		default:
			return "", nil, errKeyFormat
		}
	default:
		fields := strings.Fields(text)
		if len(fields) < 2 {
			return "", nil, errKeyFormat
		}
		blob, err = base64.StdEncoding.DecodeString(fields[1])
		if err == nil {
			if name, _, ok := readSSHString(blob); !ok || string(name) != fields[0] {
				err = errKeyFormat
			}
		}
	}
	if err != nil {
		return "", nil, errKeyFormat
	}
	name, rest, ok := readSSHString(blob)
	if !ok {
		return "", nil, errKeyFormat
	}
	switch string(name) {
	case "ssh-rsa":
		return keyTypeRSA, blob, nil
	case "ssh-ed25519":
		key, rest, ok := readSSHString(rest)
		if !ok || len(key) != ed25519.PublicKeySize || len(rest) != 0 {
			return "", nil, errKeyFormat
		}
		return keyTypeEd, blob, nil
	}
	return "", nil, errKeyFormat
}

func readSSHString(b []byte) (s, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, false
	}
	return b[4 : 4+n], b[4+n:], true
}

// parseRSABlob reads an ssh-rsa wire blob: name, e, n.
func parseRSABlob(blob []byte) (*rsa.PublicKey, error) {
	_, rest, _ := readSSHString(blob)
	e, rest, ok := readSSHString(rest)
	if !ok {
		return nil, errKeyFormat
	}
	n, rest, ok := readSSHString(rest)
	if !ok || len(rest) != 0 || len(e) == 0 || len(e) > 4 || len(n) == 0 || n[0]&0x80 != 0 {
		return nil, errKeyFormat
	}
	ev := new(big.Int).SetBytes(e)
	if ev.Int64() < 3 || ev.Int64()%2 == 0 {
		return nil, errKeyFormat
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ev.Int64())}, nil
}

// deleteKeyPair deletes by name or id; deleting a key that does not exist succeeds, as
// on EC2. Instances launched with the key keep it.
func deleteKeyPair(s *Server, rq *request, w *xmlWriter) error {
	name, id := rq.params.get("KeyName"), rq.params.get("KeyPairId")
	if name == "" && id == "" {
		return errMissingParameter("KeyName")
	}
	owner := rq.owner()
	err := s.mutate(func(tx *bolt.Tx) (func(), error) {
		o := s.mem.ownerOrNil(owner)
		if o == nil {
			return nil, nil
		}
		kp := o.keys[name]
		if id != "" {
			kp = s.keyByID(owner, id)
			if kp != nil && name != "" && kp.Name != name {
				kp = nil
			}
		}
		if kp == nil {
			return nil, nil
		}
		if err := tx.Bucket(bucketKeyPairs).Delete(ownerKey(owner, kp.Name)); err != nil {
			return nil, err
		}
		if err := putTags(tx, owner, kp.ID, nil); err != nil {
			return nil, err
		}
		return func() {
			delete(o.keys, kp.Name)
			delete(o.tags, kp.ID)
		}, nil
	})
	if err != nil {
		return err
	}
	// Only <return>: the Debian botocore model (1.29) has no DeleteKeyPair output, and
	// its strict check refuses anything else; newer models' keyPairId is optional.
	w.bool("return", true)
	return nil
}

// describeKeyPairs lists key pairs by name, id and filter, sorted by name.
func describeKeyPairs(s *Server, rq *request, w *xmlWriter) error {
	p := rq.params
	names, ids := unique(p.list("KeyName")), unique(p.list("KeyPairId"))
	fs, aerr := p.filters()
	if aerr != nil {
		return aerr
	}
	for _, f := range fs {
		switch {
		case f.name == "key-name", f.name == "key-pair-id", f.name == "fingerprint", f.name == "key-type",
			f.name == "tag-key", f.name == "tag-value":
		case strings.HasPrefix(f.name, "tag:") && len(f.name) > 4:
		default:
			return errUnknownFilter(f.name)
		}
	}
	withPublic, aerr := p.boolean("IncludePublicKey")
	if aerr != nil {
		return aerr
	}
	type row struct {
		kp   keyPair
		tags []tag
	}
	var rows []row
	s.mu.RLock()
	o := s.mem.ownerOrNil(rq.owner())
	var missing []string
	var picked []*keyPair
	switch {
	case len(names) > 0 || len(ids) > 0:
		for _, n := range names {
			if o == nil || o.keys[n] == nil {
				missing = append(missing, n)
			} else {
				picked = append(picked, o.keys[n])
			}
		}
		for _, id := range ids {
			if kp := s.keyByID(rq.owner(), id); kp == nil {
				missing = append(missing, id)
			} else if !slices.Contains(picked, kp) {
				picked = append(picked, kp)
			}
		}
	case o != nil:
		for _, kp := range o.keys {
			picked = append(picked, kp)
		}
	}
	for _, kp := range picked {
		var tags []tag
		if o != nil {
			tags = o.tags[kp.ID]
		}
		rows = append(rows, row{*kp, tags})
	}
	s.mu.RUnlock()
	if len(missing) > 0 {
		if len(missing) == 1 {
			return clientError("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", truncate(missing[0]))
		}
		return clientError("InvalidKeyPair.NotFound", "The key pairs '%s' do not exist", truncate(strings.Join(missing, ", ")))
	}
	slices.SortFunc(rows, func(a, b row) int { return strings.Compare(a.kp.Name, b.kp.Name) })

	w.open("keySet")
	for _, r := range rows {
		ok := true
		for _, f := range fs {
			switch f.name {
			case "key-name":
				ok = matchAny(f.values, r.kp.Name)
			case "key-pair-id":
				ok = matchAny(f.values, r.kp.ID)
			case "fingerprint":
				ok = matchAny(f.values, r.kp.Fingerprint)
			case "key-type":
				ok = matchAny(f.values, r.kp.Type)
			case "tag-key":
				ok = slices.ContainsFunc(r.tags, func(t tag) bool { return matchAny(f.values, t.Key) })
			case "tag-value":
				ok = slices.ContainsFunc(r.tags, func(t tag) bool { return matchAny(f.values, t.Value) })
			default:
				v, has := tagValue(r.tags, f.name[4:])
				ok = has && matchAny(f.values, v)
			}
			if !ok {
				break
			}
		}
		if !ok {
			continue
		}
		w.open("item")
		w.text("keyPairId", r.kp.ID)
		w.text("keyName", r.kp.Name)
		w.text("keyFingerprint", r.kp.Fingerprint)
		w.text("keyType", r.kp.Type)
		writeTagSet(w, r.tags)
		if withPublic {
			w.text("publicKey", r.kp.PublicKey)
		}
		w.time("createTime", r.kp.Created)
		w.close("item")
	}
	w.close("keySet")
	return nil
}
