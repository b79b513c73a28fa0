// Package e2e tests the whole system end to end: it builds the real binaries, starts
// `ec2grid cloud` (the local EC2-compatible cloud) and `ec2grid daemon` (the queue with
// its grid manager, which runs ec2_gahp) in temporary directories, and drives jobs with
// condor_submit, condor_q, condor_rm, condor_hold, condor_release and condor_wait as child
// processes, as a user would. What happened at the cloud is checked from the cloud's own
// records (DescribeInstances, DescribeKeyPairs, DescribeSpotInstanceRequests through the
// AWS SDK, and the call counts of /_admin/stats), never from the daemon's word alone.
//
// The package holds only tests; `go test ./e2e` runs them all, each test with its own cloud
// and daemon, in parallel.
package e2e
