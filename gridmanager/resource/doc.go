// Package resource runs everything ec2grid keeps per cloud resource (one service URL and
// set of credentials, for one owner): its one job is to own that resource's ec2_gahp child
// and to be the only way the grid manager talks to it.
//
// A Resource starts the child and checks its handshake, restarts it with backoff when it
// dies (re-issuing idempotent commands that were in flight and reporting starts as
// ErrLost), pings the cloud with EC2_VM_SERVER_TYPE to tell up from down and to learn the
// server type, probes every instance with one EC2_VM_STATUS_ALL per probe interval (and
// EC2_VM_STATUS_ALL_SPOT while spot jobs exist), batches terminations into as few
// EC2_VM_STOP calls as the cloud allows, holds the submit slots, and caps the commands in
// flight by priority, as HTCondor's EC2Resource and GahpServer do
// (../shared/reference/htcondor-ec2.md §1.4, §3.4, §4). It knows nothing of jobs: only GAHP
// commands, their results, and snapshots of what the cloud holds. See
// docs/gridmanager-resource.md.
package resource
