package qfmt

// tableAttrs are every attribute the table views (batch, -nobatch, -run, -hold, -grid,
// -totals and condor_history's table) read. One list for all of them: it is short, and
// a view that reads an attribute missing from its projection would print wrong columns
// without any error, which a per-view list invites.
var tableAttrs = []string{
	"ClusterId", "ProcId", "Owner", "JobStatus", "ServerTime",
	"QDate", "JobBatchName", "JobPrio", "JobUniverse",
	"Cmd", "Args", "Arguments", "JobDescription",
	"RemoteWallClockTime", "ShadowBday", "MemoryUsage", "ImageSize", "RemoteHost",
	"EnteredCurrentStatus", "HoldReason", "HoldReasonCode", "HoldReasonSubCode",
	"GridResource", "GridJobId", "GridJobStatus", "EC2RemoteVirtualMachineName",
	"CompletionDate",
}

// Projection is the attributes a query for view v must return: the table views' columns,
// or nil (every attribute) for -long, -json, -af and -format, which print attributes the
// user names and evaluate expressions that may refer to any other attribute of the ad.
func Projection(v View) []string {
	switch v {
	case ViewLong, ViewJSON, ViewAutoFormat, ViewFormat:
		return nil
	}
	return append([]string(nil), tableAttrs...)
}
