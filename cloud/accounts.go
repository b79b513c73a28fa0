package cloud

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// The demo account's files: StateDir/credentials/demo/{AccessKeyID,SecretAccessKey}, the
// form HTCondor's ec2_access_key_id and ec2_secret_access_key point at (it reads the first
// line and trims it).
const (
	demoAccountName   = "demo"
	credentialsDir    = "credentials"
	accessKeyIDFile   = "AccessKeyID"
	secretKeyFile     = "SecretAccessKey"
	credentialsLock   = ".lock"
	accessKeyIDPrefix = "AKIA" // what AWS long-term access keys start with; tools check it
	accessKeyIDLen    = 20     // AWS access key ids are 20 characters
	secretKeyLen      = 40     // AWS secret keys are 40 characters
)

const (
	keyIDAlphabet  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// EnsureDemoAccount returns the account "demo" of the cloud whose state is in stateDir,
// creating it on first use with a random AKIA… key id and a 40-character secret, written
// (mode 0600, one key per file with a trailing newline, directories 0700) as
// stateDir/credentials/demo/AccessKeyID and stateDir/credentials/demo/SecretAccessKey.
// Concurrent callers agree on one account. Its OwnerID is derived from the key id.
func EnsureDemoAccount(stateDir string) (Account, error) {
	dir := filepath.Join(stateDir, credentialsDir, demoAccountName)
	// StateDir itself gets its own mode first: created as a side effect of the
	// credentials' 0700 directories it would keep instance users out of their own
	// directories under StateDir/instances.
	if err := os.MkdirAll(stateDir, stateRootMode); err != nil {
		return Account{}, fmt.Errorf("demo account: %w", err)
	}
	if err := os.MkdirAll(dir, stateDirMode); err != nil {
		return Account{}, fmt.Errorf("demo account: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, credentialsLock), os.O_CREATE|os.O_RDWR, stateFileMode)
	if err != nil {
		return Account{}, fmt.Errorf("demo account: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return Account{}, fmt.Errorf("demo account: lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	id, idErr := readKeyFile(filepath.Join(dir, accessKeyIDFile))
	secret, secretErr := readKeyFile(filepath.Join(dir, secretKeyFile))
	if idErr == nil && secretErr == nil {
		return demoAccount(id, secret), nil
	}
	for _, err := range []error{idErr, secretErr} {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Account{}, fmt.Errorf("demo account: %w", err)
		}
	}
	id = accessKeyIDPrefix + randomString(keyIDAlphabet, accessKeyIDLen-len(accessKeyIDPrefix))
	secret = randomString(secretAlphabet, secretKeyLen)
	// The secret goes first: a crash between the two writes leaves no key id, so the next
	// call makes a fresh pair instead of pairing a key id with a lost secret.
	if err := writeKeyFile(filepath.Join(dir, secretKeyFile), secret); err != nil {
		return Account{}, fmt.Errorf("demo account: %w", err)
	}
	if err := writeKeyFile(filepath.Join(dir, accessKeyIDFile), id); err != nil {
		return Account{}, fmt.Errorf("demo account: %w", err)
	}
	return demoAccount(id, secret), nil
}

func demoAccount(id, secret string) Account {
	return Account{Name: demoAccountName, AccessKeyID: id, SecretAccessKey: secret, OwnerID: ownerIDFor("demo:" + id)}
}

// readKeyFile reads a key file as HTCondor does: its first line, trimmed.
func readKeyFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return "", fmt.Errorf("%s: %w", path, fs.ErrNotExist)
	}
	return line, nil
}

// writeKeyFile writes a key atomically (temporary file, fsync, rename), mode 0600.
func writeKeyFile(path, key string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(stateFileMode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(key + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// randomString draws n characters of alphabet (whose length divides 256, so the draw is
// unbiased) from crypto/rand.
func randomString(alphabet string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
