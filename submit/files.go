package submit

import (
	"errors"
	"fmt"
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

// checkReadable opens p for reading and refuses directories.
func (f fsys) checkReadable(p string) error {
	h, err := os.Open(f.host(p))
	if err != nil {
		return err
	}
	defer h.Close()
	st, err := h.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return &fs.PathError{Op: "open", Path: p, Err: errIsDir}
	}
	return nil
}

// readFile reads p.
func (f fsys) readFile(p string) ([]byte, error) {
	return os.ReadFile(f.host(p))
}

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
	if st, err := os.Stat(f.host(p)); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a directory", p)
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
