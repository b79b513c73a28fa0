// Package benchjob is the job the submit benchmarks queue (submit, api, bench/daemon):
// the README's EC2 job, as an HTCondor user writes it, with a per-job key pair file,
// queued n times; and the credential files it names, under a fake root.
package benchjob

import (
	"fmt"
	"os"
	"path/filepath"
)

// Owner and Dir are the submitting user and the directory condor_submit runs in.
const (
	Owner = "alice"
	Dir   = "/home/alice"
)

// keyFiles are the credential files SubmitFile names, relative to the root.
var keyFiles = [...]string{"home/alice/.ec2/AccessKeyID", "home/alice/.ec2/SecretAccessKey"}

// SubmitFile returns the submit file queueing n jobs.
func SubmitFile(n int) string {
	return fmt.Sprintf(`universe              = grid
grid_resource         = ec2 https://ec2.amazonaws.com/
executable            = ec2-test
ec2_access_key_id     = /home/alice/.ec2/AccessKeyID
ec2_secret_access_key = /home/alice/.ec2/SecretAccessKey
ec2_ami_id            = ami-0123456789abcdef0
ec2_instance_type     = m5.large
ec2_user_data         = Hello EC2!
ec2_keypair_file      = /home/alice/.ec2/ec2-test-$(Process).pem
periodic_hold         = (JobStatus == 2) && (time() - EnteredCurrentStatus > 3600)
queue %d
`, n)
}

// WriteKeyFiles writes the credential files SubmitFile names under root (submit's
// Options.Root), mode 0600 in 0700 directories, so that condor_submit's checks pass.
func WriteKeyFiles(root string) error {
	for _, p := range keyFiles {
		path := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("benchjob: %w", err)
		}
		if err := os.WriteFile(path, []byte("x\n"), 0o600); err != nil {
			return fmt.Errorf("benchjob: %w", err)
		}
	}
	return nil
}
