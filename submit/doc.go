// Package submit turns HTCondor submit files into job ClassAds: the line language, lazy macro
// expansion, every queue form, and the ec2_* commands of the grid universe.
//
// Parse reads a file and checks what can be checked before macros are expanded; File.Jobs
// runs its statements in order and builds every job's complete ad at each queue statement,
// with the clock, environment, randomness and file system taken from Options so results
// are deterministic. Only universe = grid with grid_resource = ec2 <URL> is accepted.
// Errors are *Error values naming the file, the line and the submit key. docs/submit.md
// lists the commands, the attributes they set and where ec2grid differs from HTCondor.
package submit
