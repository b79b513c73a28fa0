package ec2

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeKeyFile writes a private key so that the file either does not exist or holds the
// whole key, readable by its owner only: the key goes to a 0600 temporary file in the same
// directory, is synced, and replaces path by rename; the directory is synced so the rename
// survives a crash.
func writeKeyFile(path, material string) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // created 0600
	if err != nil {
		return fmt.Errorf("create temporary key file: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("chmod key file: %w", err)
	}
	if _, err := f.WriteString(material); err != nil {
		f.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close key file: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename key file: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // best effort: the key is in place either way
		d.Close()
	}
	return nil
}
