package submit

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ec2grid/ec2grid/classad"
)

// DefaultMaxJobs is how many jobs one submission may queue when Options.MaxJobs is not
// set. A typo such as "queue 1000000" would otherwise build a million ads in memory
// before anyone could stop it; HTCondor's -maxjobs plays the same role.
const DefaultMaxJobs = 100_000

// Job status and universe codes HTCondor uses (condor_includes/proc.h, condor_universe.h)
// and the hold code for "hold = true" (condor_holdcodes.h).
const (
	statusIdle           = 1
	statusHeld           = 5
	universeGrid         = 9
	holdSubmittedOnHold  = 15
	holdReasonSubmitHold = "submitted on hold at user's request"
)

// Options are what a submission needs besides the file. Every field that would otherwise
// read the machine (clock, environment, randomness, file system) can be injected, so that
// tests and the daemon get deterministic results.
type Options struct {
	// ClusterID is the id of the first cluster; later clusters (a file whose executable
	// changes between queue statements) take the following ids. 0 means 1, which is
	// what condor_submit -dry-run uses.
	ClusterID int
	// Owner is the submitting user, stored as Owner; empty leaves Owner out, for the
	// schedd to set.
	Owner string
	// ScheddName is the schedd's name, the first part of GlobalJobId; empty means this
	// host's name.
	ScheddName string
	// Now returns the submit time (QDate, EnteredCurrentStatus, $(SUBMIT_TIME)); nil
	// means time.Now.
	Now func() time.Time
	// Getenv looks up $ENV(NAME); nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// Rand drives $RANDOM_INTEGER and $RANDOM_CHOICE; nil means math/rand/v2's source.
	Rand *rand.Rand
	// Dir is the directory condor_submit runs in: the default initialdir, and the base
	// for relative "queue from" files and "queue matching" globs. Empty means the
	// process's working directory.
	Dir string
	// Root, when set, is where the files the submit file names are looked up, as if it
	// were "/": a job path /home/a/key is read from Root/home/a/key. The job ad keeps
	// the path as the job sees it.
	Root string
	// MaxJobs caps the number of jobs; 0 means DefaultMaxJobs.
	MaxJobs int
	// RefuseWritableKeyFiles makes a key file (ec2_access_key_id, ec2_secret_access_key)
	// that its group or other users may write an error; when false it is a warning.
	// condor_submit sets it from the RefuseWritableKeyFilesKnob configuration knob.
	RefuseWritableKeyFiles bool
}

// RefuseWritableKeyFilesKnob is the configuration knob (config.Config's
// SubmitRefuseWritableKeyFiles) condor_submit reads into Options.RefuseWritableKeyFiles;
// messages name it so a user knows what refused the file.
const RefuseWritableKeyFilesKnob = "SUBMIT_REFUSE_WRITABLE_KEY_FILES"

// Submission is the result of running a submit file: the clusters it makes, with every
// job's complete ad, and any warnings for the user.
type Submission struct {
	Clusters []*Cluster
	Warnings []string
}

// NumJobs returns the number of jobs in all clusters.
func (s *Submission) NumJobs() int {
	n := 0
	for _, c := range s.Clusters {
		n += len(c.Jobs)
	}
	return n
}

// Cluster is one cluster's jobs, in ProcId order. Each ad is complete (HTCondor splits
// cluster and proc attributes; a queue can do that itself if it wants to).
type Cluster struct {
	ID   int
	Jobs []*classad.ClassAd
}

// run is the state of one Jobs call.
type run struct {
	f       *File
	opts    Options
	fs      fsys
	now     time.Time
	schedd  string
	getenv  func(string) (string, bool)
	intN    func(int64) int64
	table   macroTable
	sub     *Submission
	cur     *Cluster
	curExe  string
	nextID  int
	total   int
	queued  bool
	pending []*stmt // statements since the last queue statement
	warned  map[string]bool
	// exprs and readable remember, for the jobs still to build, what every job of a
	// cluster usually repeats: the parsed policy expressions (immutable, so the ads
	// share them, which is also what lets the queue and the wire hold them once per
	// cluster) and the check of each key file (one open per file, not per job).
	exprs    map[string]classad.Expr
	readable map[string]readableResult
}

// exprCacheMax bounds run.exprs: expressions that differ per job ($(Process) in a
// policy) would only grow it.
const exprCacheMax = 4096

// readableResult is one fsys.checkReadable answer.
type readableResult struct {
	st  fs.FileInfo
	err error
}

// parseExpr parses src as a ClassAd expression, once per distinct src in a run.
func (r *run) parseExpr(src string) (classad.Expr, error) {
	if e, ok := r.exprs[src]; ok {
		return e, nil
	}
	e, err := classad.ParseExpr(src)
	if err != nil {
		return nil, err
	}
	if len(r.exprs) < exprCacheMax {
		r.exprs[src] = e
	}
	return e, nil
}

// checkReadable is fsys.checkReadable, once per path in a run: the jobs of a submit
// name the same key files, and the answer does not change within a submit.
func (r *run) checkReadable(path string) (fs.FileInfo, error) {
	if res, ok := r.readable[path]; ok {
		return res.st, res.err
	}
	st, err := r.fs.checkReadable(path)
	if len(r.readable) < exprCacheMax {
		r.readable[path] = readableResult{st, err}
	}
	return st, err
}

// Jobs runs the file's statements in order and, at each queue statement, expands the
// macros and builds the job ads. It returns an error, and no jobs, if any job is bad:
// as in HTCondor, a submission is all or nothing. Errors are *Error values naming the
// line and the key.
func (f *File) Jobs(opts Options) (*Submission, error) {
	r, err := newRun(f, opts)
	if err != nil {
		return nil, err
	}
	for i := range f.stmts {
		st := &f.stmts[i]
		switch st.kind {
		case setStmt:
			value := st.value
			if st.del {
				value = ""
			}
			r.table.set(st.key, st.written, value, st.line)
			r.pending = append(r.pending, st)
		case appendStmt:
			old := r.table[strings.ToLower(st.key)].value
			r.table.set(st.key, st.written, joinNonEmpty(old, expandSelf(st.value, strings.ToLower(st.key), old)), st.line)
			r.pending = append(r.pending, st)
		case queueStmt:
			if err := r.queue(st); err != nil {
				return nil, err
			}
			r.pending = r.pending[:0]
		}
	}
	if !r.queued {
		return nil, &Error{File: f.Name, Key: "queue", Msg: fmt.Sprintf("%q doesn't contain any \"queue\" commands -- no jobs queued", f.Name)}
	}
	if r.total == 0 {
		r.warn(fmt.Sprintf("%q has only empty \"queue\" commands -- no jobs queued", f.Name))
	}
	for _, st := range r.pending {
		r.warn(fmt.Sprintf("the line '%s' was unused by condor_submit. Is it a typo?", st.text))
	}
	return r.sub, nil
}

func joinNonEmpty(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	return a + " " + b
}

func newRun(f *File, opts Options) (*run, error) {
	r := &run{f: f, opts: opts, fs: fsys{root: opts.Root}, table: macroTable{}, sub: &Submission{}, warned: map[string]bool{},
		exprs: map[string]classad.Expr{}, readable: map[string]readableResult{}}
	r.nextID = opts.ClusterID
	if r.nextID <= 0 {
		r.nextID = 1
	}
	if opts.Now != nil {
		r.now = opts.Now()
	} else {
		r.now = time.Now()
	}
	r.getenv = opts.Getenv
	if r.getenv == nil {
		r.getenv = os.LookupEnv
	}
	if opts.Rand != nil {
		r.intN = opts.Rand.Int64N
	} else {
		r.intN = rand.Int64N
	}
	if r.opts.Dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("submit %s: find the working directory: %w", f.Name, err)
		}
		r.opts.Dir = wd
	}
	r.opts.Dir = filepath.Clean(r.opts.Dir)
	if r.opts.MaxJobs <= 0 {
		r.opts.MaxJobs = DefaultMaxJobs
	}
	r.schedd = opts.ScheddName
	if r.schedd == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			r.schedd = h
		} else {
			r.schedd = "localhost"
		}
	}
	return r, nil
}

func (r *run) warn(msg string) {
	if !r.warned[msg] {
		r.warned[msg] = true
		r.sub.Warnings = append(r.sub.Warnings, msg)
	}
}

func (r *run) expander(live map[string]string) *expander {
	return &expander{file: r.f.Name, table: r.table, live: live, getenv: r.getenv, intN: r.intN, now: r.now}
}

// queue runs one queue statement.
func (r *run) queue(st *stmt) error {
	r.queued = true
	qa := st.q.parsed
	if qa == nil {
		args, err := r.expander(nil).expand(st.q.args)
		if err != nil {
			return errorf(r.f.Name, st.line, "queue", err, "%v", err)
		}
		if qa, err = parseQueueArgs(args, st.q.lines); err != nil {
			return errorf(r.f.Name, st.line, "queue", err, "%v", err)
		}
	}
	items, err := r.items(qa, st.line)
	if err != nil {
		return err
	}
	var selected []int
	for i := range items {
		if qa.slice.selected(i, len(items)) {
			selected = append(selected, i)
		}
	}
	n := int64(qa.count) * int64(len(selected))
	if int64(r.total)+n > int64(r.opts.MaxJobs) {
		return errorf(r.f.Name, st.line, "queue", nil, "Number of submitted jobs would exceed the limit of %d", r.opts.MaxJobs)
	}
	if n == 0 {
		return nil
	}
	// A new cluster starts when the executable changes between queue statements.
	exe := r.table["executable"].value
	if r.cur == nil || exe != r.curExe {
		r.cur = &Cluster{ID: r.nextID}
		r.nextID++
		r.sub.Clusters = append(r.sub.Clusters, r.cur)
		r.curExe = exe
	}
	for _, idx := range selected {
		for step := 0; step < qa.count; step++ {
			proc := len(r.cur.Jobs)
			live := map[string]string{
				"cluster":   strconv.Itoa(r.cur.ID),
				"clusterid": strconv.Itoa(r.cur.ID),
				"process":   strconv.Itoa(proc),
				"procid":    strconv.Itoa(proc),
				"jobid":     strconv.Itoa(r.cur.ID) + "." + strconv.Itoa(proc),
				"step":      strconv.Itoa(step),
				"row":       strconv.Itoa(idx),
				"itemindex": strconv.Itoa(idx),
				"node":      "",
			}
			if qa.mode != foreachNone {
				if len(qa.vars) == 0 {
					live["item"] = items[idx]
				} else {
					for i, v := range splitRow(items[idx], len(qa.vars)) {
						live[strings.ToLower(qa.vars[i])] = v
					}
				}
			}
			jb := &jobBuilder{r: r, x: r.expander(live), queueLine: st.line, ad: classad.New()}
			if err := jb.build(r.cur.ID, proc); err != nil {
				return err
			}
			r.cur.Jobs = append(r.cur.Jobs, jb.ad)
			r.total++
		}
	}
	return nil
}

// items returns the items of a queue statement (one empty item for plain "queue N").
func (r *run) items(qa *queueArgs, line int) ([]string, error) {
	switch qa.mode {
	case foreachNone:
		return []string{""}, nil
	case foreachIn:
		return qa.items, nil
	case foreachFrom:
		if qa.file == "" {
			return qa.items, nil
		}
		p := absPath(r.opts.Dir, qa.file)
		data, size, err := r.fs.readLimited(p, MaxFileBytes)
		if err != nil {
			return nil, errorf(r.f.Name, line, "queue", err, "Failed to open item file %s (%s)", p, errno(err))
		}
		if size > MaxFileBytes {
			return nil, errorf(r.f.Name, line, "queue", nil, "item file %s is larger than %d bytes", p, MaxFileBytes)
		}
		var rows []string
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				rows = append(rows, l)
			}
		}
		return rows, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, pat := range qa.items {
		matches, err := r.fs.glob(r.opts.Dir, pat, qa.mode)
		if err != nil {
			return nil, errorf(r.f.Name, line, "queue", err, "%v", err)
		}
		if len(matches) == 0 {
			r.warn(fmt.Sprintf("on Line %d of %s: queue matching %q matched nothing", line, r.f.Name, pat))
		}
		for _, m := range matches {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// jobBuilder builds one job's ad.
type jobBuilder struct {
	r         *run
	x         *expander
	ad        *classad.ClassAd
	queueLine int
	iwd       string
}

// param is one submit key's expanded value.
type param struct {
	value string // expanded and trimmed
	key   string // the key as written in the file (or the first candidate when unset)
	line  int    // where it was set (the queue statement's line when unset)
	ok    bool   // set to a non-empty value
}

// param looks up the first of keys that the file sets (HTCondor accepts a submit key and
// the attribute's name for most commands) and expands it. A value that expands to nothing
// counts as unset, as in HTCondor.
func (jb *jobBuilder) param(keys ...string) (param, error) {
	for _, k := range keys {
		d, ok := jb.r.table[strings.ToLower(k)]
		if !ok {
			continue
		}
		v, err := jb.x.expand(d.value)
		if err != nil {
			return param{}, errorf(jb.r.f.Name, d.line, d.written, err, "%v", err)
		}
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		return param{value: v, key: d.written, line: d.line, ok: true}, nil
	}
	return param{key: keys[0], line: jb.queueLine}, nil
}

// fail reports a problem with p's value (or its absence).
func (jb *jobBuilder) fail(p param, err error, format string, args ...any) error {
	return errorf(jb.r.f.Name, p.line, p.key, err, format, args...)
}

func (jb *jobBuilder) build(cluster, proc int) error {
	steps := []func() error{
		jb.setUniverse,
		jb.setGridResource,
		jb.setExecutable,
		jb.setIwd,
		jb.setEC2,
		jb.setLog,
		jb.setStatus,
		jb.setSimple,
		jb.setPolicy,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	jb.setStandard(cluster, proc)
	return jb.setForced()
}

func (jb *jobBuilder) setUniverse() error {
	p, err := jb.param("universe")
	if err != nil {
		return err
	}
	if !p.ok {
		return jb.fail(p, nil, "no universe is set, and HTCondor's default (vanilla) is not run here: ec2grid runs only universe = grid with grid_resource = ec2 <URL>")
	}
	if !strings.EqualFold(p.value, "grid") {
		return jb.fail(p, nil, "universe %q is not supported: ec2grid runs only universe = grid with grid_resource = ec2 <URL>", p.value)
	}
	jb.ad.SetInt("JobUniverse", universeGrid)
	return nil
}

func (jb *jobBuilder) setGridResource() error {
	p, err := jb.param("grid_resource", "GridResource")
	if err != nil {
		return err
	}
	if !p.ok {
		return jb.fail(p, nil, "No resource identifier was found: grid jobs need grid_resource = ec2 <URL>")
	}
	fields := strings.Fields(p.value)
	if !strings.EqualFold(fields[0], "ec2") {
		return jb.fail(p, nil, "grid type %q is not supported: ec2grid runs only grid_resource = ec2 <URL>", fields[0])
	}
	if len(fields) == 1 {
		return jb.fail(p, nil, "EC2 grid jobs require a service URL, as in grid_resource = ec2 https://ec2.us-east-1.amazonaws.com/")
	}
	if len(fields) > 2 {
		return jb.fail(p, nil, "grid_resource = ec2 takes one service URL, not %q", strings.Join(fields[1:], " "))
	}
	u, err := url.Parse(fields[1])
	if err != nil || (!strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) || u.Host == "" {
		return jb.fail(p, err, "%q is not an http:// or https:// service URL", fields[1])
	}
	jb.ad.SetString("GridResource", p.value)
	return nil
}

func (jb *jobBuilder) setExecutable() error {
	p, err := jb.param("executable")
	if err != nil {
		return err
	}
	if !p.ok {
		return jb.fail(p, nil, "No 'executable' parameter was provided (for EC2 jobs it is only a label, but it is required)")
	}
	// For grid jobs the executable is a label (HTCondor's SFR_PSEUDO_EXECUTABLE): it is
	// stored as written and never looked for on disk.
	jb.ad.SetString("Cmd", p.value)
	return nil
}

func (jb *jobBuilder) setIwd() error {
	p, err := jb.param("initialdir", "Iwd", "initial_dir", "job_iwd")
	if err != nil {
		return err
	}
	jb.iwd = jb.r.opts.Dir
	if p.ok {
		jb.iwd = absPath(jb.r.opts.Dir, p.value)
	}
	if err := jb.r.fs.checkDir(jb.iwd); err != nil {
		return jb.fail(p, err, "No such directory: %s", jb.iwd)
	}
	jb.ad.SetString("Iwd", jb.iwd)
	return nil
}

func (jb *jobBuilder) setLog() error {
	p, err := jb.param("log", "UserLog")
	if err != nil || !p.ok {
		return err
	}
	path := absPath(jb.iwd, p.value)
	if err := jb.r.fs.checkCreatable(path); err != nil {
		return jb.fail(p, err, "cannot write the user log %s: %v", path, err)
	}
	jb.ad.SetString("UserLog", path)
	return nil
}

func (jb *jobBuilder) setStatus() error {
	p, err := jb.param("hold")
	if err != nil {
		return err
	}
	hold := false
	if p.ok {
		if hold, err = parseBool(p.value); err != nil {
			return jb.fail(p, err, "%v", err)
		}
	}
	if hold {
		jb.ad.SetInt("JobStatus", statusHeld)
		jb.ad.SetInt("HoldReasonCode", holdSubmittedOnHold)
		jb.ad.SetInt("HoldReasonSubCode", 0)
		jb.ad.SetString("HoldReason", holdReasonSubmitHold)
	} else {
		jb.ad.SetInt("JobStatus", statusIdle)
	}
	jb.ad.SetInt("EnteredCurrentStatus", jb.r.now.Unix())
	return nil
}

// setSimple handles priority and batch_name.
func (jb *jobBuilder) setSimple() error {
	p, err := jb.param("priority", "JobPrio")
	if err != nil {
		return err
	}
	prio := int64(0)
	if p.ok {
		if prio, err = parseInt(p.value); err != nil {
			return jb.fail(p, err, "%v", err)
		}
	}
	jb.ad.SetInt("JobPrio", prio)
	if p, err = jb.param("batch_name", "JobBatchName"); err != nil {
		return err
	}
	if p.ok {
		jb.ad.SetString("JobBatchName", strings.Trim(p.value, `"`))
	}
	return nil
}

// exprKey is a submit command whose value is a ClassAd expression.
type exprKey struct {
	key, attr string
	def       string // default expression when unset; "" means none
}

// exprKeys lists the policy commands (classad-and-submit.md §4.3) with condor_submit's
// defaults, plus the few other expression-valued commands a grid job can use.
func exprKeys() []exprKey {
	return []exprKey{
		{"periodic_hold", "PeriodicHold", "false"},
		{"periodic_hold_reason", "PeriodicHoldReason", ""},
		{"periodic_hold_subcode", "PeriodicHoldSubCode", ""},
		{"periodic_release", "PeriodicRelease", "false"},
		{"periodic_remove", "PeriodicRemove", "false"},
		{"periodic_vacate", "PeriodicVacate", "false"},
		{"on_exit_hold", "OnExitHold", "false"},
		{"on_exit_hold_reason", "OnExitHoldReason", ""},
		{"on_exit_hold_subcode", "OnExitHoldSubCode", ""},
		{"on_exit_remove", "OnExitRemove", "true"},
		{"leave_in_queue", "LeaveJobInQueue", "false"},
		{"timer_remove", "TimerRemove", ""},
		{"allowed_job_duration", "AllowedJobDuration", ""},
		{"allowed_execute_duration", "AllowedExecuteDuration", ""},
	}
}

// isExprKey reports whether key is a submit command whose value is an expression.
func isExprKey(key string) bool {
	for _, k := range exprKeys() {
		if strings.EqualFold(key, k.key) || strings.EqualFold(key, k.attr) {
			return true
		}
	}
	return false
}

func (jb *jobBuilder) setPolicy() error {
	for _, k := range exprKeys() {
		p, err := jb.param(k.key, k.attr)
		if err != nil {
			return err
		}
		src := p.value
		if !p.ok {
			if k.def == "" {
				continue
			}
			src = k.def
		}
		e, err := jb.r.parseExpr(src)
		if err != nil {
			return exprError(jb.r.f.Name, p.line, p.key, src, err)
		}
		jb.ad.Set(k.attr, e)
	}
	return nil
}

// setStandard sets the attributes every job gets (condor_submit's init_base_ad and the
// schedd's NewProc).
func (jb *jobBuilder) setStandard(cluster, proc int) {
	ad, now := jb.ad, jb.r.now.Unix()
	ad.SetString("MyType", "Job")
	ad.SetString("TargetType", "Machine")
	ad.SetInt("ClusterId", int64(cluster))
	ad.SetInt("ProcId", int64(proc))
	ad.SetInt("QDate", now)
	ad.SetString("GlobalJobId", fmt.Sprintf("%s#%d.%d#%d", jb.r.schedd, cluster, proc, now))
	if jb.r.opts.Owner != "" {
		ad.SetString("Owner", jb.r.opts.Owner)
	}
	for _, name := range []string{"RemoteWallClockTime", "RemoteUserCpu", "RemoteSysCpu", "CumulativeRemoteUserCpu", "CumulativeRemoteSysCpu"} {
		ad.SetReal(name, 0)
	}
	for _, name := range []string{"ExitStatus", "NumCkpts", "NumJobStarts", "NumJobCompletions", "NumRestarts", "NumSystemHolds",
		"CommittedTime", "CommittedSlotTime", "CumulativeSlotTime", "TotalSuspensions", "LastSuspensionTime",
		"CumulativeSuspensionTime", "CommittedSuspensionTime"} {
		ad.SetInt(name, 0)
	}
	ad.SetBool("ExitBySignal", false)
}

// setForced applies +Attr / MY.Attr lines last, so they override what submit computed
// (HTCondor's SetForcedAttributes). An empty value (or -Attr) removes the attribute.
func (jb *jobBuilder) setForced() error {
	var keys []string
	for k := range jb.r.table {
		if strings.HasPrefix(k, "my.") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		d := jb.r.table[k]
		attr := d.name[3:]
		v, err := jb.x.expand(d.value)
		if err != nil {
			return errorf(jb.r.f.Name, d.line, d.written, err, "%v", err)
		}
		if v = strings.TrimSpace(v); v == "" {
			jb.ad.Delete(attr)
			continue
		}
		e, err := jb.r.parseExpr(v)
		if err != nil {
			return exprError(jb.r.f.Name, d.line, d.written, v, err)
		}
		jb.ad.Set(attr, e)
	}
	return nil
}

// parseBool reads a submit boolean: true/false, yes/no, t/f, y/n or an integer, and
// otherwise a ClassAd expression that evaluates to one.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "t", "y":
		return true, nil
	case "false", "no", "f", "n":
		return false, nil
	}
	if e, err := classad.ParseExpr(s); err == nil {
		v := (&classad.Context{}).Eval(e)
		if b, ok := v.BoolValue(); ok {
			return b, nil
		}
		if i, ok := v.NumberAsInt(); ok {
			return i != 0, nil
		}
	}
	return false, fmt.Errorf("%q is not a boolean (true or false)", s)
}

// parseInt reads a submit integer: a literal or a ClassAd expression that evaluates to one.
func parseInt(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	if e, err := classad.ParseExpr(s); err == nil {
		if n, ok := (&classad.Context{}).Eval(e).IntValue(); ok {
			return n, nil
		}
	}
	return 0, errors.New(strconv.Quote(s) + " is not an integer")
}
