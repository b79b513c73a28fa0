// Package gridmanager drives each grid job's life: start, probe, terminate, recover after a
// crash, and periodic policy, batching cloud calls per resource.
package gridmanager
