// Package e2e holds the end-to-end tests of the queue commands: they build the real
// binaries, start `ec2grid daemon` in a temporary home, and run condor_submit, condor_q,
// condor_hold, condor_release, condor_qedit, condor_rm and condor_history against it as
// child processes over the real socket, as a user would.
package e2e
