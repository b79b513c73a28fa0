package benchjob

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSubmitFileAndKeyFiles(t *testing.T) {
	if f := SubmitFile(7); !strings.HasSuffix(f, "queue 7\n") || !strings.Contains(f, "ec2_keypair_file") {
		t.Errorf("SubmitFile(7) = %q", f)
	}
	root := t.TempDir()
	if err := WriteKeyFiles(root); err != nil {
		t.Fatal(err)
	}
	for _, p := range keyFiles {
		st, err := os.Stat(filepath.Join(root, p))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v", p, err, st.Mode())
		}
		if !strings.Contains(SubmitFile(1), "/"+p) {
			t.Errorf("the submit file does not name %s", p)
		}
	}
}
