package submit

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The file checks condor_submit makes: key files must be readable now (the gridmanager
// reads them later, and a typo found at submit time costs nothing), the key-pair file's
// directory must be writable (the gridmanager writes the private key there), and user data
// is read to check EC2's size limit. All paths go through fsys.host, so Options.Root can
// stand in for "/".

// fsys resolves job paths (absolute, as they appear in the job ad) to the paths read on
// this machine.
type fsys struct{ root string }

func (f fsys) host(p string) string {
	if f.root == "" {
		return p
	}
	return filepath.Join(f.root, p)
}

// absPath resolves p against dir (the job's initial directory) the way HTCondor's
// full_path does, and cleans it.
func absPath(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// errIsDir reports a path that names a directory where a file is needed.
var errIsDir = errors.New("is a directory")

// notRegular describes what a path that is not a regular file is, for messages: a FIFO or
// a device must be refused before it is opened, since opening or reading one can block
// forever or never end.
func notRegular(m fs.FileMode) error {
	switch {
	case m.IsDir():
		return errIsDir
	case m&fs.ModeNamedPipe != 0:
		return errors.New("is a named pipe (FIFO), not a regular file")
	case m&fs.ModeSocket != 0:
		return errors.New("is a socket, not a regular file")
	case m&fs.ModeDevice != 0:
		return errors.New("is a device, not a regular file")
	}
	return errors.New("is not a regular file")
}

// open opens p for reading if it is a regular file. It looks before it opens (a FIFO's
// open blocks until someone writes to it), opens without blocking in case p was replaced
// in between, and checks again what it opened.
func (f fsys) open(p string) (*os.File, fs.FileInfo, error) {
	st, err := os.Stat(f.host(p))
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, &fs.PathError{Op: "open", Path: p, Err: notRegular(st.Mode())}
	}
	h, err := os.OpenFile(f.host(p), os.O_RDONLY|openNoBlock, 0)
	if err != nil {
		return nil, nil, err
	}
	if st, err = h.Stat(); err != nil || !st.Mode().IsRegular() {
		h.Close()
		if err == nil {
			err = &fs.PathError{Op: "open", Path: p, Err: notRegular(st.Mode())}
		}
		return nil, nil, err
	}
	return h, st, nil
}

// checkReadable checks that p is a regular file this process can open, and returns what
// it found, for the permission checks.
func (f fsys) checkReadable(p string) (fs.FileInfo, error) {
	h, st, err := f.open(p)
	if err != nil {
		return nil, err
	}
	h.Close()
	return st, nil
}

// readLimited reads the regular file p if it holds at most max bytes. Otherwise it returns
// no data and the file's size (more than max), having read at most max+1 bytes: a 100 MB
// file is refused, not loaded.
func (f fsys) readLimited(p string, max int64) (data []byte, size int64, err error) {
	h, st, err := f.open(p)
	if err != nil {
		return nil, 0, err
	}
	defer h.Close()
	if st.Size() > max {
		return nil, st.Size(), nil
	}
	// The file may have grown since the Stat: the limit is kept while reading too.
	data, err = io.ReadAll(io.LimitReader(h, max+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", p, err)
	}
	if int64(len(data)) > max {
		return nil, int64(len(data)), nil
	}
	return data, int64(len(data)), nil
}

// othersMayWrite is the permission bits that let users other than the owner change a file
// (group and world write), the bits ssh's StrictModes refuses on a private key.
const othersMayWrite fs.FileMode = 0o022

// checkDir reports whether dir exists and is a directory.
func (f fsys) checkDir(dir string) error {
	st, err := os.Stat(f.host(dir))
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// checkCreatable checks that a file p could be created: its directory exists and this
// process may write there, and p itself is not a directory. Nothing is created, so
// -dry-run leaves no trace.
func (f fsys) checkCreatable(p string) error {
	// The gridmanager replaces whatever is there; something other than a regular file
	// (a directory, a FIFO) is surely a mistake in the path.
	if st, err := os.Stat(f.host(p)); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s %v", p, notRegular(st.Mode()))
	}
	dir := filepath.Dir(p)
	if err := f.checkDir(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("directory %s does not exist", dir)
		}
		return err
	}
	if err := canWrite(f.host(dir)); err != nil {
		return fmt.Errorf("directory %s is not writable: %s", dir, errno(err))
	}
	return nil
}

// glob expands one "queue matching" pattern relative to dir. Matches are returned as
// written: relative when the pattern is, sorted, filtered by mode.
func (f fsys) glob(dir, pattern string, mode foreachMode) ([]string, error) {
	base := f.host(dir)
	pat := filepath.Join(base, pattern)
	if filepath.IsAbs(pattern) {
		pat = f.host(filepath.Clean(pattern))
	}
	matches, err := filepath.Glob(pat)
	if err != nil {
		return nil, fmt.Errorf("bad pattern %q: %w", pattern, err)
	}
	var out []string
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil {
			continue
		}
		if (mode == foreachMatchingFiles && st.IsDir()) || (mode == foreachMatchingDirs && !st.IsDir()) {
			continue
		}
		name := m
		if filepath.IsAbs(pattern) {
			if f.root != "" {
				if rel, err := filepath.Rel(f.root, m); err == nil {
					name = "/" + rel
				}
			}
		} else if rel, err := filepath.Rel(base, m); err == nil && !strings.HasPrefix(rel, "..") {
			name = rel
		}
		out = append(out, filepath.ToSlash(name))
	}
	return out, nil
}
