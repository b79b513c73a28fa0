// Package policy evaluates a job's periodic_hold / periodic_remove / periodic_release and
// on_exit policy in HTCondor's order and with HTCondor's reasons.
//
// It decides and never acts: Periodic and OnExit read the job ad (they do not change it)
// and return a Decision, which the grid manager carries out (hold, remove, release,
// complete, requeue). The rules are UserPolicy::AnalyzePolicy's
// (src/condor_utils/user_job_policy.cpp) as the gridmanager calls it
// (BaseJob::EvalPeriodicJobExpr and EvalOnExitJobExpr); docs/policy.md lists them.
package policy
