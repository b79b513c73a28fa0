// Command condor_release releases held jobs in the ec2grid queue,
// as HTCondor's condor_release does: the same arguments (cluster, cluster.proc, user,
// -constraint, -all, -reason), messages and exit status. The implementation is shared
// with condor_rm, condor_hold and condor_release in cmd/internal/cli; see docs/condor_rm.md.
package main

import (
	"os"

	"github.com/ec2grid/ec2grid/cmd/internal/cli"
)

func main() {
	os.Exit(cli.RunAct("condor_release", os.Args[1:], cli.OSEnv()))
}
