// Package jobs holds the job model and the durable job queue behind one store interface.
package jobs
