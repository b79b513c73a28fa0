package cloud

import (
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
)

func TestCreateKeyPair(t *testing.T) {
	tc := newTestCloud(t)
	r := tc.ok("CreateKeyPair", "KeyName", "gahp-key")
	block, rest := pem.Decode([]byte(r.root.get("keyMaterial")))
	if block == nil || block.Type != "RSA PRIVATE KEY" || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("keyMaterial is not one PEM RSA key: %s", r.body)
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil || key.N.BitLen() != 2048 {
		t.Fatalf("key: %v", err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	sum := sha1.Sum(pkcs8)
	if got, want := r.root.get("keyFingerprint"), colonHex(sum[:]); got != want || len(got) != 59 {
		t.Errorf("fingerprint %q, want %q (SHA-1 of the PKCS#8 DER)", got, want)
	}
	if r.root.get("keyName") != "gahp-key" || !strings.HasPrefix(r.root.get("keyPairId"), "key-") {
		t.Errorf("answer: %s", r.body)
	}
	tc.fails(http.StatusBadRequest, "InvalidKeyPair.Duplicate", "CreateKeyPair", "KeyName", "gahp-key")
	tc.fails(http.StatusBadRequest, "MissingParameter", "CreateKeyPair")
	tc.fails(http.StatusBadRequest, "InvalidParameterValue", "CreateKeyPair", "KeyName", strings.Repeat("k", 256))
	tc.fails(http.StatusBadRequest, "InvalidParameterValue", "CreateKeyPair", "KeyName", "clé")
	tc.fails(http.StatusBadRequest, "InvalidParameterValue", "CreateKeyPair", "KeyName", "e", "KeyType", "ed25519")

	// The public half is what describe shows and instances launched with it are told.
	d := tc.ok("DescribeKeyPairs", "KeyName.1", "gahp-key", "IncludePublicKey", "true")
	want := rsaOpenSSH(&key.PublicKey, "gahp-key")
	if got := d.root.get("keySet/item/publicKey"); got != want {
		t.Errorf("publicKey %q, want %q", got, want)
	}
	id := tc.run(1, "KeyName", "gahp-key")[0]
	src := imdsSource{tc.s}
	if in, ok := src.Instance(id); !ok || in.OpenSSHKey != want || in.KeyName != "gahp-key" {
		t.Errorf("metadata key: %+v", in)
	}
}

func TestImportKeyPair(t *testing.T) {
	tc := newTestCloud(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	md5sum := md5.Sum(der)
	rsaFP := colonHex(md5sum[:])
	line := rsaOpenSSH(&rsaKey.PublicKey, "me@host")
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edBlob := sshString(sshString(nil, []byte("ssh-ed25519")), edPub)
	edSum := sha256.Sum256(edBlob)
	edLine := "ssh-ed25519 " + base64.StdEncoding.EncodeToString(edBlob) + " me@host"

	blob := strings.Fields(line)[1]
	ssh2 := "---- BEGIN SSH2 PUBLIC KEY ----\nComment: \"me@host\"\n" + blob[:60] + "\n" + blob[60:] + "\n---- END SSH2 PUBLIC KEY ----\n"
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))

	for _, c := range []struct {
		name, material, fingerprint, typ string
	}{
		{"openssh rsa", b64(line), rsaFP, "rsa"},
		{"openssh rsa, not base64", line, rsaFP, "rsa"},
		{"rfc4716", b64(ssh2), rsaFP, "rsa"},
		{"pem", b64(pemKey), rsaFP, "rsa"},
		{"ed25519", b64(edLine), base64.StdEncoding.EncodeToString(edSum[:]), "ed25519"},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := strings.ReplaceAll(c.name, " ", "-")
			r := tc.ok("ImportKeyPair", "KeyName", name, "PublicKeyMaterial", c.material)
			if got := r.root.get("keyFingerprint"); got != c.fingerprint {
				t.Errorf("fingerprint %q, want %q", got, c.fingerprint)
			}
			d := tc.ok("DescribeKeyPairs", "KeyName.1", name)
			if d.root.get("keySet/item/keyFingerprint") != c.fingerprint || d.root.get("keySet/item/keyType") != c.typ {
				t.Errorf("describe: %s", d.body)
			}
		})
	}
	for _, bad := range []string{b64("ssh-rsa AAAA"), b64("not a key"), "%%%", b64("ssh-rsa " + base64.StdEncoding.EncodeToString(edBlob))} {
		tc.fails(http.StatusBadRequest, "InvalidKey.Format", "ImportKeyPair", "KeyName", "bad", "PublicKeyMaterial", bad)
	}
	tc.fails(http.StatusBadRequest, "MissingParameter", "ImportKeyPair", "KeyName", "bad")
	tc.fails(http.StatusBadRequest, "InvalidKeyPair.Duplicate", "ImportKeyPair", "KeyName", "pem", "PublicKeyMaterial", b64(line))
}

func TestDescribeAndDeleteKeyPairs(t *testing.T) {
	tc := newTestCloud(t)
	for _, n := range []string{"b", "a", "c"} {
		tc.ok("CreateKeyPair", "KeyName", n, "TagSpecification.1.ResourceType", "key-pair",
			"TagSpecification.1.Tag.1.Key", "team", "TagSpecification.1.Tag.1.Value", "team-"+n)
	}
	names := func(r *response) []string { return r.root.texts("keySet/item/keyName") }
	if got := names(tc.ok("DescribeKeyPairs")); strings.Join(got, ",") != "a,b,c" {
		t.Errorf("all keys: %q", got)
	}
	if got := names(tc.ok("DescribeKeyPairs", "KeyName.1", "c", "KeyName.2", "a")); strings.Join(got, ",") != "a,c" {
		t.Errorf("by name: %q", got)
	}
	if got := names(tc.ok("DescribeKeyPairs", "Filter.1.Name", "key-name", "Filter.1.Value.1", "[ab]", "Filter.1.Value.2", "b")); strings.Join(got, ",") != "b" {
		t.Errorf("by filter: %q", got)
	}
	if got := names(tc.ok("DescribeKeyPairs", "Filter.1.Name", "tag:team", "Filter.1.Value.1", "team-c")); strings.Join(got, ",") != "c" {
		t.Errorf("by tag: %q", got)
	}
	keyID := tc.ok("DescribeKeyPairs", "KeyName.1", "a").root.get("keySet/item/keyPairId")
	if got := names(tc.ok("DescribeKeyPairs", "KeyPairId.1", keyID)); strings.Join(got, ",") != "a" {
		t.Errorf("by id: %q", got)
	}
	if r := tc.ok("DescribeKeyPairs", "KeyName.1", "a"); r.root.get("keySet/item/tagSet/item/value") != "team-a" {
		t.Errorf("tags: %s", r.body)
	}
	r := tc.fails(http.StatusBadRequest, "InvalidKeyPair.NotFound", "DescribeKeyPairs", "KeyName.1", "a", "KeyName.2", "zz")
	if msg := r.root.get("Errors/Error/Message"); msg != "The key pair 'zz' does not exist" {
		t.Errorf("message %q", msg)
	}
	tc.fails(http.StatusBadRequest, "InvalidParameterValue", "DescribeKeyPairs", "Filter.1.Name", "colour", "Filter.1.Value.1", "x")

	tc.ok("DeleteKeyPair", "KeyName", "a")
	tc.ok("DeleteKeyPair", "KeyName", "a") // again: still fine, as on EC2
	tc.ok("DeleteKeyPair", "KeyName", "never-was")
	tc.fails(http.StatusBadRequest, "MissingParameter", "DeleteKeyPair")
	bID := tc.ok("DescribeKeyPairs", "KeyName.1", "b").root.get("keySet/item/keyPairId")
	tc.ok("DeleteKeyPair", "KeyPairId", bID)
	if got := names(tc.ok("DescribeKeyPairs")); strings.Join(got, ",") != "c" {
		t.Errorf("after deletes: %q", got)
	}
	if r := tc.ok("DescribeTags", "Filter.1.Name", "resource-type", "Filter.1.Value.1", "key-pair"); len(r.root.all("tagSet/item")) != 1 {
		t.Errorf("deleted keys' tags remain: %s", r.body)
	}
	tc.fails(http.StatusBadRequest, "InvalidKeyPair.NotFound", "DescribeKeyPairs", "KeyName.1", "a")
	// The key name is free again.
	tc.ok("CreateKeyPair", "KeyName", "a")
}
