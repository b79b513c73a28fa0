// Package qfmt prints job ads exactly as HTCondor's condor_q and condor_history print
// them (batch and -nobatch tables, -run, -hold, -grid, -totals, -long, -json, -af and
// -format), and parses condor_q's restrictions and options into one constraint.
package qfmt

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/ec2grid/ec2grid/classad"
)

// JobStatus codes (§4.1), the ones the views count.
const (
	statusIdle      = 1
	statusRunning   = 2
	statusRemoved   = 3
	statusCompleted = 4
	statusHeld      = 5
	statusXferOut   = 6
	statusSuspended = 7
)

// Column widths of condor_q's jobDefault_PrintFormat; the table lines up only if every
// row uses the same ones.
const (
	ownerWidth     = 14
	submittedWidth = 11
	runTimeWidth   = 12
	// batchCountWidth is the width of the DONE/RUN/IDLE/HOLD/TOTAL columns.
	batchCountWidth = 6
	// batchNameWidth is BATCH_NAME's minimum width ("ID: 1234" plus room).
	batchNameWidth = 12
)

// bannerTimeLayout is how the `-- Schedd:` banner prints the query time (mm/dd/yy).
const bannerTimeLayout = "01/02/06 15:04:05"

// Options carries what a view needs besides the ads. The zero value prints with the
// current time in UTC and no banner or per-user totals.
type Options struct {
	// Now is the schedd's "now" (ServerTime), used for RUN_TIME; zero means time.Now.
	Now time.Time
	// Loc is the local time zone for SUBMITTED and HELD_SINCE; nil means UTC.
	Loc *time.Location
	// Schedd labels the `-- Schedd: ...` banner, e.g. "alice@host : <unix:/x/daemon.sock>";
	// empty prints no banner.
	Schedd string
	// User is the querying user, named in "Total for USER:" and used for its counts.
	User string
	// UserTotals and AllTotals are the schedd-wide counts for the "Total for USER" and
	// "Total for all users" lines; nil omits the line.
	UserTotals *Counts
	AllTotals  *Counts
	// Wide is -wide: columns HTCondor cuts to fit 80 columns are printed whole.
	Wide bool
}

func (o *Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

func (o *Options) loc() *time.Location {
	if o.Loc == nil {
		return time.UTC
	}
	return o.Loc
}

// Counts is the per-status tally behind a totals line.
type Counts struct {
	Jobs, Completed, Removed, Idle, Running, Held, Suspended int
}

// Count tallies ads by JobStatus as condor_q's totals lines do.
func Count(ads []*classad.ClassAd) Counts {
	var c Counts
	for _, ad := range ads {
		c.Jobs++
		switch intAttr(ad, "JobStatus") {
		case statusCompleted:
			c.Completed++
		case statusRemoved:
			c.Removed++
		case statusIdle:
			c.Idle++
		case statusRunning, statusXferOut:
			c.Running++
		case statusHeld:
			c.Held++
		case statusSuspended:
			c.Suspended++
		}
	}
	return c
}

// String is the classic totals text "N jobs; C completed, ...".
func (c Counts) String() string {
	return fmt.Sprintf("%d jobs; %d completed, %d removed, %d idle, %d running, %d held, %d suspended",
		c.Jobs, c.Completed, c.Removed, c.Idle, c.Running, c.Held, c.Suspended)
}

// StatusLetter is condor_q's ST column for a JobStatus code (§4.1); unknown codes print "?".
func StatusLetter(status int64) string {
	const letters = "?IRXCH>SFBP"
	if status < 1 || status >= int64(len(letters)) {
		return "?"
	}
	return letters[status : status+1]
}

func intAttr(ad *classad.ClassAd, name string) int64 {
	i, _ := ad.EvalAttr(name).NumberAsInt()
	return i
}

func strAttr(ad *classad.ClassAd, name string) string {
	s, _ := ad.EvalAttr(name).StringValue()
	return s
}

// JobID is "cluster.proc".
func JobID(ad *classad.ClassAd) string {
	return fmt.Sprintf("%d.%d", intAttr(ad, "ClusterId"), intAttr(ad, "ProcId"))
}

// idCol is the ID column: `%4d.` then `%-3d`.
func idCol(ad *classad.ClassAd) string {
	return fmt.Sprintf("%4d.%-3d", intAttr(ad, "ClusterId"), intAttr(ad, "ProcId"))
}

// shortDate is condor_q's `%2d/%-2d %02d:%02d` for an epoch time in loc.
func shortDate(epoch int64, loc *time.Location) string {
	t := time.Unix(epoch, 0).In(loc)
	return fmt.Sprintf("%2d/%-2d %02d:%02d", int(t.Month()), t.Day(), t.Hour(), t.Minute())
}

// RunTime is condor_q's RUN_TIME in seconds (job_time() in queue.cpp): the
// RemoteWallClockTime of past runs plus the current run while running or suspended,
// measured to the ad's ServerTime when the schedd added one, else to now.
func RunTime(ad *classad.ClassAd, now time.Time) int64 {
	f, _ := ad.EvalAttr("RemoteWallClockTime").NumberAsReal()
	t := int64(f)
	switch intAttr(ad, "JobStatus") {
	case statusRunning, statusXferOut, statusSuspended:
		if bday := intAttr(ad, "ShadowBday"); bday != 0 {
			server, ok := ad.EvalAttr("ServerTime").NumberAsInt()
			if !ok {
				server = now.Unix()
			}
			t += server - bday
		}
	}
	return t
}

// stColumn is the ST column: the status letter and a space, or " >" while
// transferring output (render_job_status_char).
func stColumn(ad *classad.ClassAd) string {
	status := intAttr(ad, "JobStatus")
	if status == statusXferOut {
		return " >"
	}
	return StatusLetter(status) + " "
}

// formatDuration is `%3d+%02d:%02d:%02d` (days+hh:mm:ss).
func formatDuration(secs int64) string {
	if secs < 0 {
		secs = 0
	}
	return fmt.Sprintf("%3d+%02d:%02d:%02d", secs/86400, secs/3600%24, secs/60%60, secs%60)
}

// command is the CMD column: the basename of Cmd plus the arguments, or
// (JobDescription) when the submit file named one.
func command(ad *classad.ClassAd) string {
	if d := strAttr(ad, "JobDescription"); d != "" {
		return "(" + d + ")"
	}
	cmd := path.Base(strAttr(ad, "Cmd"))
	if strAttr(ad, "Cmd") == "" {
		cmd = ""
	}
	args := strAttr(ad, "Args")
	if args == "" {
		args = strAttr(ad, "Arguments")
	}
	if args != "" {
		return cmd + " " + args
	}
	return cmd
}

// size is the SIZE column in MB: MemoryUsage, else ImageSize (KiB) / 1024.
func size(ad *classad.ClassAd) string {
	if f, ok := ad.EvalAttr("MemoryUsage").NumberAsReal(); ok {
		return fmt.Sprintf("%4.1f", f)
	}
	if f, ok := ad.EvalAttr("ImageSize").NumberAsReal(); ok {
		return fmt.Sprintf("%4.1f", f/1024)
	}
	return "    " // neither attribute: render_memory_usage prints nothing

}

// WriteBanner writes the `-- Schedd:` banner that precedes the tables (blank lines
// first, as condor_q prints them); nothing when opts.Schedd is empty.
func WriteBanner(w io.Writer, opts Options) error {
	if opts.Schedd == "" {
		return nil
	}
	_, err := fmt.Fprintf(w, "\n\n-- Schedd: %s @ %s\n", opts.Schedd, opts.now().In(opts.loc()).Format(bannerTimeLayout))
	return err
}

// writeFooter writes the totals as print_full_footer does: a blank line (except for
// -totals), the standard summary, whose lines but the last end in the space that
// separated them from the next "\nTotal for" item, and one more newline.
func writeFooter(b *strings.Builder, ads []*classad.ClassAd, opts Options, blankFirst bool) {
	if blankFirst {
		b.WriteByte('\n')
	}
	fmt.Fprintf(b, "Total for query: %s", Count(ads))
	if opts.UserTotals != nil {
		fmt.Fprintf(b, " \nTotal for %s: %s", opts.User, *opts.UserTotals)
	}
	if opts.AllTotals != nil {
		fmt.Fprintf(b, " \nTotal for all users: %s", *opts.AllTotals)
	}
	b.WriteString("\n\n")
}

// NoBatch prints the -nobatch table with its totals lines.
func NoBatch(w io.Writer, ads []*classad.ClassAd, opts Options) error {
	var b strings.Builder
	b.WriteString(" ID      OWNER            SUBMITTED     RUN_TIME ST PRI SIZE CMD\n")
	for _, ad := range ads {
		fmt.Fprintf(&b, "%s %-*s %*s %*s %s %-3d %s %s\n", idCol(ad),
			ownerWidth, strAttr(ad, "Owner"),
			submittedWidth, shortDate(intAttr(ad, "QDate"), opts.loc()),
			runTimeWidth, formatDuration(RunTime(ad, opts.now())),
			stColumn(ad), intAttr(ad, "JobPrio"),
			size(ad), command(ad))
	}
	writeFooter(&b, ads, opts, true)
	return writeAll(w, opts, b.String())
}

func writeAll(w io.Writer, opts Options, s string) error {
	if err := WriteBanner(w, opts); err != nil {
		return fmt.Errorf("qfmt: banner: %w", err)
	}
	if _, err := io.WriteString(w, s); err != nil {
		return fmt.Errorf("qfmt: write: %w", err)
	}
	return nil
}

// Run prints the -run table (running, transferring and suspended jobs); no totals.
func Run(w io.Writer, ads []*classad.ClassAd, opts Options) error {
	var b strings.Builder
	b.WriteString(" ID      OWNER            SUBMITTED     RUN_TIME HOST(S)\n")
	for _, ad := range ads {
		line := fmt.Sprintf("%s %-*s %*s %*s %s", idCol(ad),
			ownerWidth, strAttr(ad, "Owner"),
			submittedWidth, shortDate(intAttr(ad, "QDate"), opts.loc()),
			runTimeWidth, formatDuration(RunTime(ad, opts.now())), remoteHost(ad))
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	return writeAll(w, opts, b.String())
}

// remoteHost is HOST(S) (render_remote_host in HTCondor): for a grid-universe job the
// EC2 instance's host name, else the whole GridResource; for others RemoteHost.
func remoteHost(ad *classad.ClassAd) string {
	if intAttr(ad, "JobUniverse") == gridUniverse {
		if h := strAttr(ad, "EC2RemoteVirtualMachineName"); h != "" {
			return h
		}
		return strAttr(ad, "GridResource")
	}
	return strAttr(ad, "RemoteHost")
}

// Hold prints the -hold table with its totals lines.
func Hold(w io.Writer, ads []*classad.ClassAd, opts Options) error {
	var b strings.Builder
	b.WriteString(" ID      OWNER           HELD_SINCE CODE/SUB HOLD_REASON\n")
	for _, ad := range ads {
		code := fmt.Sprintf("%d/%d", intAttr(ad, "HoldReasonCode"), intAttr(ad, "HoldReasonSubCode"))
		fmt.Fprintf(&b, "%s %-*s %*s %-8s %s\n", idCol(ad),
			ownerWidth, strAttr(ad, "Owner"),
			submittedWidth, shortDate(intAttr(ad, "EnteredCurrentStatus"), opts.loc()),
			code, strAttr(ad, "HoldReason"))
	}
	writeFooter(&b, ads, opts, true)
	return writeAll(w, opts, b.String())
}

// gridUniverse is JobUniverse for grid jobs (§4.3).
const gridUniverse = 9

// gridResourceWidth is where HTCondor's local_render_grid_resource cuts the
// "GRID->MANAGER    HOST" text (1+6+1+8+1+18+1) unless -wide.
const gridResourceWidth = 36

// gridResourceMinWidth is that column's printed width (WIDTH -27 in jobGrid_PrintFormat):
// shorter text is padded to it, longer text pushes GRID_JOB_ID right.
const gridResourceMinWidth = 27

// gridResourceCol renders "GRID->MANAGER    HOST" as render_grid_resource does: for
// ec2 "ec2 HOST" with HOST the instance's name (else the endpoint's host), for other
// types "TYPE->MANAGER HOST".
func gridResourceCol(ad *classad.ClassAd) (string, bool) {
	str, ok := ad.EvalAttr("GridResource").StringValue()
	if !ok {
		return "", false
	}
	typ, rest := "globus", str
	if i := strings.IndexByte(str, ' '); i >= 0 {
		typ, rest = str[:i], str[i+1:]
	}
	mgr := "[?]"
	url := rest
	if i := strings.IndexByte(rest, ' '); i >= 0 {
		mgr, url = rest[i+1:], rest[:i]
	} else if i := strings.Index(rest, "jobmanager-"); i >= 0 {
		mgr, url = rest[i+len("jobmanager-"):], rest[:i]
	}
	if i := strings.Index(url, "://"); i >= 0 {
		url = url[i+3:]
	}
	host := url
	if i := strings.IndexAny(url, ":/"); i >= 0 {
		host = url[:i]
	}
	if typ == "ec2" {
		if h := strAttr(ad, "EC2RemoteVirtualMachineName"); h != "" {
			host = h
		}
		return typ + " " + host, true
	}
	return typ + "->" + strings.ReplaceAll(mgr, " ", "/") + " " + host, true
}

// gridJobID is GRID_JOB_ID (render_grid_job_id): the last word of GridJobId, from the
// path after any "scheme://host" (for EC2, the instance id).
func gridJobID(ad *classad.ClassAd) string {
	str := strAttr(ad, "GridJobId")
	s := str[strings.LastIndexByte(str, ' ')+1:]
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
		if j := strings.IndexByte(s, '/'); j >= 0 {
			return s[j:]
		}
		return ""
	}
	return s
}

// gridStatus is STATUS: GridJobStatus as given, or an integer GridJobStatus as a
// JobStatus name (render_grid_status).
func gridStatus(ad *classad.ClassAd) string {
	v := ad.EvalAttr("GridJobStatus")
	if s, ok := v.StringValue(); ok {
		return s
	}
	n, ok := v.IntValue()
	if !ok {
		return ""
	}
	names := map[int64]string{statusIdle: "IDLE", statusRunning: "RUNNING", statusCompleted: "COMPLETED",
		statusHeld: "HELD", statusSuspended: "SUSPENDED", statusRemoved: "REMOVED", statusXferOut: "XFER_OUT",
		8: "FAILED", 9: "BLOCKED"}
	if s, ok := names[n]; ok {
		return s
	}
	return fmt.Sprint(n)
}

// Grid prints the -grid table: grid status, "TYPE->MANAGER HOST" (for EC2 "ec2" and
// the instance's host name), and the grid job id (the instance id for EC2). Like
// HTCondor's jobGrid_PrintFormat (SUMMARY NONE) it has no totals.
func Grid(w io.Writer, ads []*classad.ClassAd, opts Options) error {
	var b strings.Builder
	fmt.Fprintf(&b, " ID      %-*s %-10s %-*s %s\n", ownerWidth, "OWNER", "STATUS", gridResourceMinWidth, "GRID->MANAGER    HOST", "GRID_JOB_ID")
	for _, ad := range ads {
		res, _ := gridResourceCol(ad)
		if !opts.Wide && len(res) > gridResourceWidth {
			res = res[:gridResourceWidth]
		}
		line := fmt.Sprintf("%s %-*s %-10s %-*s %s", idCol(ad), ownerWidth, strAttr(ad, "Owner"), gridStatus(ad), gridResourceMinWidth, res, gridJobID(ad))
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	return writeAll(w, opts, b.String())
}

// Totals prints only the totals lines (-totals): no header, and no blank line before them.
func Totals(w io.Writer, ads []*classad.ClassAd, opts Options) error {
	var b strings.Builder
	writeFooter(&b, ads, opts, false)
	return writeAll(w, opts, b.String())
}

// batch is one row of the batch view: an owner's jobs sharing a JobBatchName, or
// (without one) a cluster.
type batch struct {
	owner, name                  string
	qdate                        int64
	done, run, idle, hold, total int
	ids                          []string
	firstCluster, lastCluster    int64
}

// Batch prints the default batch view with its totals lines. The HOLD column appears
// only when some job is held; `_` stands for zero.
func Batch(w io.Writer, ads []*classad.ClassAd, opts Options) error {
	var rows []*batch
	index := map[string]*batch{}
	anyHeld := false
	for _, ad := range ads {
		owner := strAttr(ad, "Owner")
		cluster := intAttr(ad, "ClusterId")
		name := strAttr(ad, "JobBatchName")
		if name == "" {
			name = fmt.Sprintf("ID: %d", cluster)
		}
		key := owner + "\x00" + name
		r := index[key]
		if r == nil {
			r = &batch{owner: owner, name: name, qdate: intAttr(ad, "QDate"), firstCluster: cluster}
			index[key] = r
			rows = append(rows, r)
		}
		r.lastCluster = cluster
		r.total++
		r.ids = append(r.ids, JobID(ad))
		switch intAttr(ad, "JobStatus") {
		case statusCompleted, statusRemoved:
			r.done++
		case statusRunning, statusXferOut, statusSuspended:
			r.run++
		case statusIdle:
			r.idle++
		case statusHeld:
			r.hold++
			anyHeld = true
		}
	}
	ownerW, nameW := len("OWNER"), batchNameWidth
	for _, r := range rows {
		ownerW = max(ownerW, len(r.owner))
		nameW = max(nameW, len(r.name))
	}
	var b strings.Builder
	// RUN's heading carries a trailing space ("  RUN "), as in HTCondor's print formats,
	// so the headings read "DONE   RUN    IDLE".
	cols := []string{"DONE", "RUN ", "IDLE"}
	if anyHeld {
		cols = append(cols, "HOLD")
	}
	cols = append(cols, "TOTAL")
	fmt.Fprintf(&b, "%-*s %-*s %*s", ownerW, "OWNER", nameW, "BATCH_NAME", submittedWidth, "SUBMITTED")
	for _, c := range cols {
		fmt.Fprintf(&b, " %*s", batchCountWidth, c)
	}
	b.WriteString(" JOB_IDS\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-*s %-*s %*s", ownerW, r.owner, nameW, r.name, submittedWidth, shortDate(r.qdate, opts.loc()))
		counts := []int{r.done, r.run, r.idle}
		if anyHeld {
			counts = append(counts, r.hold)
		}
		counts = append(counts, r.total)
		for _, n := range counts {
			s := "_"
			if n != 0 {
				s = fmt.Sprint(n)
			}
			fmt.Fprintf(&b, " %*s", batchCountWidth, s)
		}
		fmt.Fprintf(&b, " %s\n", jobIDRange(r))
	}
	writeFooter(&b, ads, opts, true)
	return writeAll(w, opts, b.String())
}

// jobIDRange is JOB_IDS: "12.0" for one job, "12.0-9" for procs of one cluster, and
// "12.0 ... 14.3" (first and last) across clusters.
func jobIDRange(r *batch) string {
	if len(r.ids) == 1 {
		return r.ids[0]
	}
	ids := append([]string(nil), r.ids...)
	sort.SliceStable(ids, func(i, j int) bool { return lessID(ids[i], ids[j]) })
	first, last := ids[0], ids[len(ids)-1]
	if r.firstCluster == r.lastCluster {
		return first + "-" + last[strings.IndexByte(last, '.')+1:]
	}
	return first + " ... " + last
}

func lessID(a, b string) bool {
	var ac, ap, bc, bp int64
	fmt.Sscanf(a, "%d.%d", &ac, &ap)
	fmt.Sscanf(b, "%d.%d", &bc, &bp)
	if ac != bc {
		return ac < bc
	}
	return ap < bp
}

// Long prints ads in -long form (§3.1): sorted `Attr = value` lines, a blank line after
// each ad, no banner and no totals.
func Long(w io.Writer, ads []*classad.ClassAd) error {
	if _, err := io.WriteString(w, classad.MarshalLongAds(ads)); err != nil {
		return fmt.Errorf("qfmt: -long: %w", err)
	}
	return nil
}

// JSON prints ads in -json form (§3.2); nothing for zero ads.
func JSON(w io.Writer, ads []*classad.ClassAd) error {
	if len(ads) == 0 {
		return nil
	}
	if _, err := io.WriteString(w, classad.MarshalJSONAds(ads)); err != nil {
		return fmt.Errorf("qfmt: -json: %w", err)
	}
	return nil
}

// History prints condor_history's default table (short_header / displayJobShort in
// HTCondor's history_utils.h): ID, OWNER, SUBMITTED, RUN_TIME (RemoteWallClockTime),
// ST, COMPLETED (CompletionDate, "???" while unset) and CMD. There is no banner and no
// totals line.
func History(w io.Writer, ads []*classad.ClassAd, opts Options) error {
	var b strings.Builder
	fmt.Fprintf(&b, " %-7s %-14s %11s %12s %-2s %11s %s\n", "ID", "OWNER", "SUBMITTED", "RUN_TIME", "ST", "COMPLETED", "CMD")
	for _, ad := range ads {
		wall, _ := ad.EvalAttr("RemoteWallClockTime").NumberAsReal()
		completed := "???"
		if c := intAttr(ad, "CompletionDate"); c > 0 {
			completed = shortDate(c, opts.loc())
		}
		fmt.Fprintf(&b, "%s %-*s %*s %*s %-2s %*s %s\n", idCol(ad),
			ownerWidth, strAttr(ad, "Owner"),
			submittedWidth, shortDate(intAttr(ad, "QDate"), opts.loc()),
			runTimeWidth, formatDuration(int64(wall)),
			StatusLetter(intAttr(ad, "JobStatus")),
			submittedWidth, completed, command(ad))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("qfmt: history: %w", err)
	}
	return nil
}
