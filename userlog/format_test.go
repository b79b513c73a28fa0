package userlog

import (
	"strings"
	"testing"
	"time"
)

// est is a fixed zone so the fixtures do not depend on the machine's time zone.
var est = time.FixedZone("EST", -5*3600)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, est)
	if err != nil {
		panic(err)
	}
	return t
}

func job(c, p int, when string) Header { return Header{Cluster: c, Proc: p, Time: at(when)} }

// TestFormatFixtures compares Format's bytes with logs HTCondor wrote: the job measured in
// htcondor-measured.md, the EC2 log in the Condor article (seeds/002), and HTCondor's
// formatUsageAd layout (rows keep the trailing blank that C's "%s\n" leaves; published
// samples often lose it to editors).
func TestFormatFixtures(t *testing.T) {
	t.Parallel()
	const measuredRes = "ec2 http://ec2.us-east-1.localhost:5055/"
	zero := FormatOptions{Location: est}
	legacy := FormatOptions{Location: est, Legacy: true}
	tests := []struct {
		name string
		ev   Event
		opts FormatOptions
		want string
	}{
		{"000 measured", &SubmitEvent{Header: job(1, 0, "2026-11-23 12:50:11"),
			SubmitHost: "<127.0.0.1:36163?addrs=127.0.0.1-36163&alias=vm>"}, zero,
			"000 (001.000.000) 2026-11-23 12:50:11 Job submitted from host: <127.0.0.1:36163?addrs=127.0.0.1-36163&alias=vm>\n...\n"},
		{"027 measured", &GridSubmitEvent{Header: job(1, 0, "2026-11-23 12:50:19"), GridResource: measuredRes,
			GridJobID: measuredRes + " 4a5d3840-40dc-4203-afc0-f4e980ddd696 i-621d4cf62692ac985"}, zero,
			"027 (001.000.000) 2026-11-23 12:50:19 Job submitted to grid resource\n" +
				"    GridResource: ec2 http://ec2.us-east-1.localhost:5055/\n" +
				"    GridJobId: ec2 http://ec2.us-east-1.localhost:5055/ 4a5d3840-40dc-4203-afc0-f4e980ddd696 i-621d4cf62692ac985\n...\n"},
		{"001 measured", &ExecuteEvent{Header: job(1, 0, "2026-11-23 12:51:19"), ExecuteHost: measuredRes}, zero,
			"001 (001.000.000) 2026-11-23 12:51:19 Job executing on host: ec2 http://ec2.us-east-1.localhost:5055/\n...\n"},
		{"009 measured", &AbortedEvent{Header: job(1, 0, "2026-11-23 12:52:19"), Reason: "via condor_rm (by user htcu)"}, zero,
			"009 (001.000.000) 2026-11-23 12:52:19 Job was aborted.\n\tvia condor_rm (by user htcu)\n...\n"},
		{"005 article, legacy date", &TerminatedEvent{Header: job(1710, 0, "2011-10-30 21:14:40"), TerminatedNormally: true}, legacy,
			"005 (1710.000.000) 10/30 21:14:40 Job terminated.\n" +
				"\t(1) Normal termination (return value 0)\n" +
				"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Remote Usage\n" +
				"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage\n" +
				"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Total Remote Usage\n" +
				"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Total Local Usage\n" +
				"\t0  -  Run Bytes Sent By Job\n" +
				"\t0  -  Run Bytes Received By Job\n" +
				"\t0  -  Total Bytes Sent By Job\n" +
				"\t0  -  Total Bytes Received By Job\n...\n"},
		{"001 article", &ExecuteEvent{Header: job(1713, 0, "2011-10-30 21:33:39"), ExecuteHost: "ec2 https://ec2.amazonaws.com/"}, legacy,
			"001 (1713.000.000) 10/30 21:33:39 Job executing on host: ec2 https://ec2.amazonaws.com/\n...\n"},
		{"012 article", &HeldEvent{Header: job(1713, 0, "2011-10-30 21:37:54"),
			Reason: "The job attribute PeriodicHold expression '( time() - ShadowBday ) >= 60' evaluated to TRUE", Code: 3}, legacy,
			"012 (1713.000.000) 10/30 21:37:54 Job was held.\n" +
				"\tThe job attribute PeriodicHold expression '( time() - ShadowBday ) >= 60' evaluated to TRUE\n" +
				"\tCode 3 Subcode 0\n...\n"},
		{"012 no reason", &HeldEvent{Header: job(2, 0, "2026-01-02 03:04:05"), Code: 40, Subcode: 12}, zero,
			"012 (002.000.000) 2026-01-02 03:04:05 Job was held.\n\tReason unspecified\n\tCode 40 Subcode 12\n...\n"},
		{"013", &ReleasedEvent{Header: job(2, 0, "2026-01-02 03:04:05"), Reason: "via condor_release (by user alice)"}, zero,
			"013 (002.000.000) 2026-01-02 03:04:05 Job was released.\n\tvia condor_release (by user alice)\n...\n"},
		{"004 grid", &EvictedEvent{Header: job(3, 1, "2026-01-02 03:04:05")}, zero,
			"004 (003.001.000) 2026-01-02 03:04:05 Job was evicted.\n" +
				"\t(0) CPU times\n" +
				"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Remote Usage\n" +
				"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage\n" +
				"\t0  -  Run Bytes Sent By Job\n" +
				"\t0  -  Run Bytes Received By Job\n...\n"},
		{"025", &GridResourceUpEvent{Header: job(7, 0, "2026-01-02 03:04:05"), GridResource: "ec2 https://ec2.amazonaws.com/"}, zero,
			"025 (007.000.000) 2026-01-02 03:04:05 Grid Resource Back Up\n    GridResource: ec2 https://ec2.amazonaws.com/\n...\n"},
		{"026 empty resource", &GridResourceDownEvent{Header: job(7, 0, "2026-01-02 03:04:05")}, zero,
			"026 (007.000.000) 2026-01-02 03:04:05 Detected Down Grid Resource\n    GridResource: UNKNOWN\n...\n"},
		{"029", &RemoteStatusUnknownEvent{Header: job(7, 0, "2026-01-02 03:04:05")}, zero,
			"029 (007.000.000) 2026-01-02 03:04:05 The job's remote status is unknown\n...\n"},
		{"030 wide ids", &RemoteStatusKnownEvent{Header: Header{Cluster: 12345, Proc: 1000, Subproc: 7, Time: at("2026-01-02 03:04:05")}}, zero,
			"030 (12345.1000.007) 2026-01-02 03:04:05 The job's remote status is known again\n...\n"},
		{"UTC", &RemoteStatusKnownEvent{Header: job(7, 0, "2026-01-02 23:04:05")}, FormatOptions{UTC: true},
			"030 (007.000.000) 2026-01-03 04:04:05Z The job's remote status is known again\n...\n"},
		{"sub-second", &RemoteStatusKnownEvent{Header: Header{Time: at("2026-01-02 23:04:05").Add(1234567 * time.Microsecond)}},
			FormatOptions{Location: est, SubSecond: true},
			"030 (000.000.000) 2026-01-02 23:04:06.234 The job's remote status is known again\n...\n"},
		{"005 resources", &TerminatedEvent{Header: job(32, 0, "2026-08-18 15:18:33"), TerminatedNormally: true,
			SentBytes: 56, ReceivedBytes: 7059, TotalSentBytes: 56, TotalReceivedBytes: 7059,
			Resources: []Resource{
				{Name: "Memory", Usage: "0", Request: "1", Allocated: "1900"},
				{Name: "Cpus", Request: "1", Allocated: "1"},
				{Name: "Disk", Usage: "15", Request: "7", Allocated: "17605109"},
			}}, zero,
			"005 (032.000.000) 2026-08-18 15:18:33 Job terminated.\n" +
				"\t(1) Normal termination (return value 0)\n" +
				"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Remote Usage\n" +
				"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage\n" +
				"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Total Remote Usage\n" +
				"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Total Local Usage\n" +
				"\t56  -  Run Bytes Sent By Job\n" +
				"\t7059  -  Run Bytes Received By Job\n" +
				"\t56  -  Total Bytes Sent By Job\n" +
				"\t7059  -  Total Bytes Received By Job\n" +
				"\tPartitionable Resources :    Usage  Request Allocated \n" +
				"\t   Cpus                 :                 1         1 \n" +
				"\t   Disk (KB)            :       15        7  17605109 \n" +
				"\t   Memory (MB)          :        0        1      1900 \n...\n"},
		{"005 abnormal, decimals, no allocation", &TerminatedEvent{Header: job(4, 2, "2026-08-18 15:18:33"),
			TerminatedBySignal: 9, CoreFile: "/tmp/core.1234",
			RunRemoteUsage:   CPUUsage{User: 90061 * time.Second, Sys: 59 * time.Second},
			TotalRemoteUsage: CPUUsage{User: 90061 * time.Second, Sys: 59 * time.Second},
			Resources: []Resource{
				{Name: "Cpus", Usage: "0.25", Request: "1"},
				{Name: "Memory", Usage: "3", Request: "2048"},
			}}, zero,
			"005 (004.002.000) 2026-08-18 15:18:33 Job terminated.\n" +
				"\t(0) Abnormal termination (signal 9)\n" +
				"\t(1) Corefile in: /tmp/core.1234\n" +
				"\t\tUsr 1 01:01:01, Sys 0 00:00:59  -  Run Remote Usage\n" +
				"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage\n" +
				"\t\tUsr 1 01:01:01, Sys 0 00:00:59  -  Total Remote Usage\n" +
				"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Total Local Usage\n" +
				"\t0  -  Run Bytes Sent By Job\n" +
				"\t0  -  Run Bytes Received By Job\n" +
				"\t0  -  Total Bytes Sent By Job\n" +
				"\t0  -  Total Bytes Received By Job\n" +
				"\tPartitionable Resources :    Usage  Request           \n" +
				"\t   Cpus                 :     0.25        1           \n" +
				"\t   Memory (MB)          :     3        2048           \n...\n"},
		{"004 requeued with reason", &EvictedEvent{Header: job(5, 0, "2026-01-02 03:04:05"), ReasonCode: 21, ReasonSubCode: 2,
			TerminatedAndRequeued: true, TerminatedNormally: true, ReturnValue: 3, SentBytes: 10, ReceivedBytes: 20,
			Reason: "requeued by on_exit_remove"}, zero,
			"004 (005.000.000) 2026-01-02 03:04:05 Job was evicted. Code 21 Subcode 2\n" +
				"\t(0) Job terminated and was requeued\n" +
				"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Remote Usage\n" +
				"\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage\n" +
				"\t10  -  Run Bytes Sent By Job\n" +
				"\t20  -  Run Bytes Received By Job\n" +
				"\t(1) Normal termination (return value 3)\n" +
				"\trequeued by on_exit_remove\n...\n"},
		{"generic", &GenericEvent{Header: job(6, 0, "2026-01-02 03:04:05"), Number: 28,
			Lines: []string{"Job ad information event triggered.", "JobStatus = 2", "  indented = true"}}, zero,
			"028 (006.000.000) 2026-01-02 03:04:05 Job ad information event triggered.\nJobStatus = 2\n  indented = true\n...\n"},
		{"newlines in a reason cannot end the event", &AbortedEvent{Header: job(1, 0, "2026-01-02 03:04:05"),
			Reason: "a\n...\n000 (9.0.0) forged"}, zero,
			"009 (001.000.000) 2026-01-02 03:04:05 Job was aborted.\n\ta|...|000 (9.0.0) forged\n...\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Format(tt.ev, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Format:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestFormatErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{"nil", nil, "nil event"},
		{"number too big", &GenericEvent{Number: 1000, Lines: []string{"x"}}, "outside 0..999"},
		{"negative number", &GenericEvent{Number: -1, Lines: []string{"x"}}, "outside 0..999"},
		{"typed number", &GenericEvent{Number: 5, Lines: []string{"Job terminated."}}, "type of its own"},
		{"sync line in body", &GenericEvent{Number: 42, Lines: []string{"x", "..."}}, "would end the event"},
		{"year", &SubmitEvent{Header: Header{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}, "four digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Format(tt.ev, FormatOptions{UTC: true})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Format error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestFormatQuantity(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{0: "0", 1: "1", 2048: "2048", 0.25: "0.25", 1.005: "1.00", 1.5e9: "1500000000", -1.5: "-1"} {
		if got := FormatQuantity(in); got != want {
			t.Errorf("FormatQuantity(%v) = %q, want %q", in, got, want)
		}
	}
}
