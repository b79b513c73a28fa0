// Package policy evaluates a job's periodic_hold / periodic_remove / periodic_release and
// on_exit policy in HTCondor's order and with HTCondor's reasons.
package policy
