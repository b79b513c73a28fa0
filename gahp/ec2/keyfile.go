package ec2

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
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

// openRegular opens path for reading if it is a regular file. It looks before it opens,
// since opening a FIFO blocks until someone writes to it (and a command would hang with its
// worker), opens without blocking in case path was replaced in between, and checks again
// what it opened.
func openRegular(path string) (*os.File, fs.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, notRegularError(path, st.Mode())
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	if st, err = f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = notRegularError(path, st.Mode())
		}
		return nil, nil, err
	}
	return f, st, nil
}

// notRegularError says what path is instead of a regular file.
func notRegularError(path string, m fs.FileMode) error {
	what := "not a regular file"
	switch {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeDevice != 0:
		what = "a device"
	}
	return fmt.Errorf("%s is %s, not a regular file", path, what)
}
