// Package submit turns HTCondor submit files into job ClassAds: the line language, lazy macro
// expansion, every queue form, and the ec2_* commands of the grid universe.
package submit
