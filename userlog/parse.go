package userlog

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// This file turns the text of one complete event (header line through the line before
// "...") into a typed Event. It is as strict as HTCondor's reader (condor_event.cpp) where
// that reader fails, and as lenient where it is lenient: optional lines may be missing, and
// lines after the parts it knows are ignored.

// ParseError describes a malformed event: where it starts, the line at fault, and what was
// wrong. The Reader has already moved past the event when it returns one.
type ParseError struct {
	Offset int64  // byte offset of the start of the event (or stray text) in the stream
	Line   int    // 1-based line number of the line at fault
	Msg    string // what was wrong
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("userlog: line %d (event at byte %d): %s", e.Line, e.Offset, e.Msg)
}

// header is a parsed first line.
type header struct {
	num  int
	h    Header
	rest string // the text after the date and its space: the first line of the body
}

// isHeaderLine tells whether a line starts like an event header: three digits, a blank and
// "(". Such a line always starts an event, even a malformed one.
func isHeaderLine(l string) bool {
	return len(l) >= 5 && isDigit(l[0]) && isDigit(l[1]) && isDigit(l[2]) && l[3] == ' ' && l[4] == '('
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseHeader reads "NNN (C.P.S) DATE TIME body...". Dates are ISO ("2026-11-23
// 12:50:11", also with a 'T'), optionally with a fraction and a 'Z', or legacy ("11/23
// 12:50:11"), whose year is the current one in loc, as HTCondor guesses.
func parseHeader(l string, loc *time.Location, now func() time.Time) (header, string) {
	var hd header
	if !isHeaderLine(l) {
		return hd, "the event does not start with a header line (\"NNN (cluster.proc.subproc) date time\")"
	}
	hd.num = int(l[0]-'0')*100 + int(l[1]-'0')*10 + int(l[2]-'0')
	p := l[5:]
	var ids [3]int
	for i := range ids {
		n, rest, ok := scanInt(p)
		if !ok {
			return hd, "bad job id in the header"
		}
		ids[i] = int(n)
		want := byte('.')
		if i == 2 {
			want = ')'
		}
		if rest == "" || rest[0] != want {
			return hd, "bad job id in the header"
		}
		p = rest[1:]
	}
	hd.h.Cluster, hd.h.Proc, hd.h.Subproc = ids[0], ids[1], ids[2]
	if p == "" || p[0] != ' ' {
		return hd, "no date in the header"
	}
	p = p[1:]
	t, rest, msg := parseDate(p, loc, now)
	if msg != "" {
		return hd, msg
	}
	hd.h.Time = t
	switch {
	case rest == "":
	case rest[0] == ' ':
		rest = rest[1:]
	default:
		return hd, fmt.Sprintf("unexpected %q after the time in the header", rest[:1])
	}
	hd.rest = rest
	return hd, ""
}

// fixed reads exactly n digits.
func fixed(s string, n int) (int, bool) {
	if len(s) < n {
		return 0, false
	}
	v := 0
	for i := 0; i < n; i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}

func parseDate(p string, loc *time.Location, now func() time.Time) (time.Time, string, string) {
	var year, month, day int
	var ok bool
	if len(p) >= 3 && p[2] == '/' { // legacy MM/DD
		m, ok1 := fixed(p, 2)
		d, ok2 := fixed(p[3:], 2)
		if !ok1 || !ok2 || len(p) < 6 || p[5] != ' ' {
			return time.Time{}, "", "bad date in the header"
		}
		month, day = m, d
		year = now().In(loc).Year()
		p = p[6:]
	} else {
		if year, ok = fixed(p, 4); !ok || len(p) < 11 || p[4] != '-' || p[7] != '-' || (p[10] != ' ' && p[10] != 'T') {
			return time.Time{}, "", "bad date in the header"
		}
		month, ok = fixed(p[5:], 2)
		if !ok {
			return time.Time{}, "", "bad date in the header"
		}
		day, ok = fixed(p[8:], 2)
		if !ok {
			return time.Time{}, "", "bad date in the header"
		}
		p = p[11:]
	}
	hour, ok1 := fixed(p, 2)
	minute, ok2 := fixed(p[min(3, len(p)):], 2)
	sec, ok3 := fixed(p[min(6, len(p)):], 2)
	if !ok1 || !ok2 || !ok3 || p[2] != ':' || p[5] != ':' {
		return time.Time{}, "", "bad time in the header"
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, "", "date or time out of range in the header"
	}
	p = p[8:]
	ms := 0
	if p != "" && p[0] == '.' {
		i := 1
		for i < len(p) && isDigit(p[i]) {
			if i <= 3 { // keep milliseconds, the precision HTCondor writes
				ms = ms*10 + int(p[i]-'0')
			}
			i++
		}
		if i == 1 {
			return time.Time{}, "", "bad fraction of a second in the header"
		}
		for j := i; j <= 3; j++ {
			ms *= 10
		}
		p = p[i:]
	}
	if p != "" && p[0] == 'Z' {
		loc = time.UTC
		p = p[1:]
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, ms*int(time.Millisecond), loc)
	return t, p, ""
}

// scanInt reads an optionally signed decimal after optional blanks, like C's %d.
func scanInt(s string) (int64, string, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	j := i
	if j < len(s) && (s[j] == '-' || s[j] == '+') {
		j++
	}
	k := j
	for k < len(s) && isDigit(s[k]) {
		k++
	}
	if k == j {
		return 0, s, false
	}
	v, err := strconv.ParseInt(s[i:k], 10, 64)
	if err != nil {
		return 0, s, false
	}
	return v, s[k:], true
}

// scanf matches s against a pattern the way C's sscanf does, for the few forms HTCondor's
// reader uses: a blank or tab in the pattern matches any run of blanks (even none), "%d"
// reads a signed decimal, and any other byte must match itself. It returns the numbers.
func scanf(s, pattern string) ([]int64, bool) {
	var out []int64
	for pattern != "" {
		switch c := pattern[0]; {
		case c == ' ' || c == '\t':
			s = strings.TrimLeft(s, " \t")
			pattern = pattern[1:]
		case strings.HasPrefix(pattern, "%d"):
			v, rest, ok := scanInt(s)
			if !ok {
				return nil, false
			}
			out = append(out, v)
			s, pattern = rest, pattern[2:]
		default:
			if s == "" || s[0] != c {
				return nil, false
			}
			s, pattern = s[1:], pattern[1:]
		}
	}
	return out, true
}

// body walks the lines of one event after its header line.
type body struct {
	lines []string // lines[0] is the rest of the header line
	i     int      // next line to read
	line0 int      // line number of lines[0]
	off   int64
}

// next returns the next line, or false at the end of the event.
func (b *body) next() (string, bool) {
	if b.i >= len(b.lines) {
		return "", false
	}
	b.i++
	return b.lines[b.i-1], true
}

// peek returns the next line without consuming it.
func (b *body) peek() (string, bool) {
	if b.i >= len(b.lines) {
		return "", false
	}
	return b.lines[b.i], true
}

// errf reports a problem with the line last read (or the first, before any).
func (b *body) errf(format string, args ...any) *ParseError {
	i := max(b.i-1, 0)
	return &ParseError{Offset: b.off, Line: b.line0 + i, Msg: fmt.Sprintf(format, args...)}
}

// need reads a line that must be there.
func (b *body) need(what string) (string, *ParseError) {
	l, ok := b.next()
	if !ok {
		b.i = len(b.lines) + 1 // point the error at the "..." line
		return "", b.errf("the event ends before %s", what)
	}
	return l, nil
}

// parseEvent parses the lines of one complete event (without the "..." line).
func parseEvent(lines []string, line0 int, off int64, loc *time.Location, now func() time.Time) (Event, error) {
	hd, msg := parseHeader(lines[0], loc, now)
	if msg != "" {
		return nil, &ParseError{Offset: off, Line: line0, Msg: msg}
	}
	bl := append([]string{hd.rest}, lines[1:]...)
	b := &body{lines: bl, line0: line0, off: off}
	h := hd.h
	var e Event
	var perr *ParseError
	switch hd.num {
	case EventSubmit:
		e, perr = parseSubmit(h, b)
	case EventExecute:
		e, perr = parseExecute(h, b)
	case EventEvicted:
		e, perr = parseEvicted(h, b)
	case EventTerminated:
		e, perr = parseTerminated(h, b)
	case EventAborted:
		e, perr = parseReason(b, "Job was aborted", func(r string) Event { return &AbortedEvent{Header: h, Reason: r} })
	case EventHeld:
		e, perr = parseHeld(h, b)
	case EventReleased:
		e, perr = parseReason(b, "Job was released.", func(r string) Event { return &ReleasedEvent{Header: h, Reason: r} })
	case EventGridResourceUp:
		e, perr = parseGridResource(b, "Grid Resource Back Up", func(r string) Event { return &GridResourceUpEvent{Header: h, GridResource: r} })
	case EventGridResourceDown:
		e, perr = parseGridResource(b, "Detected Down Grid Resource", func(r string) Event { return &GridResourceDownEvent{Header: h, GridResource: r} })
	case EventGridSubmit:
		e, perr = parseGridSubmit(h, b)
	case EventRemoteStatusUnknown:
		if perr = b.first("The job's remote status is unknown"); perr == nil {
			e = &RemoteStatusUnknownEvent{Header: h}
		}
	case EventRemoteStatusKnown:
		if perr = b.first("The job's remote status is known again"); perr == nil {
			e = &RemoteStatusKnownEvent{Header: h}
		}
	default:
		e = &GenericEvent{Header: h, Number: hd.num, Lines: bl}
	}
	if perr != nil {
		return nil, perr
	}
	return e, nil
}

// firstRest checks the first body line (the rest of the header line) starts with the
// event's fixed text, and returns what follows it.
func (b *body) firstRest(prefix string) (string, *ParseError) {
	l, _ := b.next()
	if !strings.HasPrefix(l, prefix) {
		return "", b.errf("expected %q after the header, found %q", prefix, clip(l))
	}
	return l[len(prefix):], nil
}

// first is firstRest for events that need nothing after the fixed text.
func (b *body) first(prefix string) *ParseError {
	_, err := b.firstRest(prefix)
	return err
}

// clip shortens text quoted in an error message.
func clip(s string) string {
	const maxQuoted = 60 // enough to recognise a line, short enough for one log line
	if len(s) > maxQuoted {
		return s[:maxQuoted] + "..."
	}
	return s
}

func parseSubmit(h Header, b *body) (Event, *ParseError) {
	host, err := b.firstRest("Job submitted from host:")
	if err != nil {
		return nil, err
	}
	e := &SubmitEvent{Header: h, SubmitHost: strings.TrimPrefix(host, " ")}
	// HTCondor trims the note lines; the first two that are not warnings are the log
	// notes and the user notes. Blank lines are skipped so the value reads back the same.
	var notes []string
	for {
		l, ok := b.next()
		if !ok {
			break
		}
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, submitWarningPrefix):
			e.Warnings = l[len(submitWarningPrefix):]
		case l != "":
			notes = append(notes, l)
		}
	}
	if len(notes) > 0 {
		e.LogNotes = notes[0]
	}
	if len(notes) > 1 {
		e.UserNotes = notes[1]
	}
	return e, nil
}

func parseExecute(h Header, b *body) (Event, *ParseError) {
	host, err := b.firstRest("Job executing on host:")
	if err != nil {
		return nil, err
	}
	e := &ExecuteEvent{Header: h, ExecuteHost: strings.TrimPrefix(host, " ")}
	if l, ok := b.next(); ok && strings.HasPrefix(l, "\tSlotName:") {
		e.SlotName = trimSlotName(l[len("\tSlotName:"):])
	}
	return e, nil // other property lines are ignored, as HTCondor's reader keeps them aside
}

// trimSlotName strips blanks and quotes, as HTCondor's trim and trim_quotes do, until
// neither is left at either end (so the name reads back the same after it is written).
func trimSlotName(s string) string {
	for {
		t := strings.TrimSpace(strings.Trim(strings.TrimSpace(s), `"`))
		if t == s {
			return s
		}
		s = t
	}
}

// parseReason reads events whose body is a fixed line and an optional trimmed reason line
// (009 aborted, 013 released).
func parseReason(b *body, prefix string, mk func(string) Event) (Event, *ParseError) {
	if err := b.first(prefix); err != nil {
		return nil, err
	}
	l, _ := b.next()
	return mk(strings.TrimSpace(l)), nil
}

func parseHeld(h Header, b *body) (Event, *ParseError) {
	if err := b.first("Job was held."); err != nil {
		return nil, err
	}
	e := &HeldEvent{Header: h}
	l, ok := b.next()
	if !ok {
		return e, nil
	}
	if r := strings.TrimSpace(l); r != "Reason unspecified" {
		e.Reason = r
	}
	if l, ok = b.next(); ok {
		if v, ok := scanf(l, "\tCode %d Subcode %d"); ok {
			e.Code, e.Subcode = int(v[0]), int(v[1])
		}
	}
	return e, nil
}

func parseGridResource(b *body, prefix string, mk func(string) Event) (Event, *ParseError) {
	if err := b.first(prefix); err != nil {
		return nil, err
	}
	r, err := b.value("    GridResource: ")
	if err != nil {
		return nil, err
	}
	return mk(known(r)), nil
}

// value reads a required "<prefix><value>" line, as read_line_value does.
func (b *body) value(prefix string) (string, *ParseError) {
	l, err := b.need(strings.TrimSpace(prefix) + " line")
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(l, prefix) {
		return "", b.errf("expected %q, found %q", prefix, clip(l))
	}
	return l[len(prefix):], nil
}

func parseGridSubmit(h Header, b *body) (Event, *ParseError) {
	if err := b.first("Job submitted to grid resource"); err != nil {
		return nil, err
	}
	r, err := b.value("    GridResource: ")
	if err != nil {
		return nil, err
	}
	id, err := b.value("    GridJobId: ")
	if err != nil {
		return nil, err
	}
	return &GridSubmitEvent{Header: h, GridResource: known(r), GridJobID: known(id)}, nil
}

// known undoes orUnknown: HTCondor writes an empty GridResource or GridJobId as "UNKNOWN".
func known(s string) string {
	if s == "UNKNOWN" {
		return ""
	}
	return s
}

// maxUsageSeconds keeps a parsed rusage within time.Duration.
const maxUsageSeconds = math.MaxInt64 / int64(time.Second)

// usage reads a required rusage line ("\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  ..."); like
// HTCondor, it does not check the label after the numbers.
func (b *body) usage(what string) (CPUUsage, *ParseError) {
	l, err := b.need("the " + what + " line")
	if err != nil {
		return CPUUsage{}, err
	}
	v, ok := scanf(l, "\tUsr %d %d:%d:%d, Sys %d %d:%d:%d")
	if !ok {
		return CPUUsage{}, b.errf("expected the %s line (\"Usr D HH:MM:SS, Sys D HH:MM:SS\"), found %q", what, clip(l))
	}
	var secs [2]int64
	for k := range secs {
		d, hh, mm, ss := v[4*k], v[4*k+1], v[4*k+2], v[4*k+3]
		const limit = 1 << 31 // HTCondor reads each field as a C int
		if abs(d) >= limit || abs(hh) >= limit || abs(mm) >= limit || abs(ss) >= limit {
			return CPUUsage{}, b.errf("%s out of range", what)
		}
		secs[k] = d*86400 + hh*3600 + mm*60 + ss
		if abs(secs[k]) > maxUsageSeconds {
			return CPUUsage{}, b.errf("%s out of range", what)
		}
	}
	return CPUUsage{User: time.Duration(secs[0]) * time.Second, Sys: time.Duration(secs[1]) * time.Second}, nil
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// bytesLine reads "\t<n>  -  <Run|Total> Bytes <Sent|Received> By Job". It returns ok=false
// for a line of another shape.
func bytesLine(l string) (n int64, run, sent, ok bool) {
	f := strings.Fields(l)
	if len(f) != 7 || f[1] != "-" || f[3] != "Bytes" || f[5] != "By" || f[6] != "Job" {
		return 0, false, false, false
	}
	switch f[2] {
	case "Run":
		run = true
	case "Total":
	default:
		return 0, false, false, false
	}
	switch f[4] {
	case "Sent":
		sent = true
	case "Received":
	default:
		return 0, false, false, false
	}
	// HTCondor prints a double with "%.0f"; read it the same way and keep whole bytes.
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil || math.IsNaN(v) || v >= 1<<63 || v < -(1<<63) {
		return 0, false, false, false
	}
	return int64(v), run, sent, true
}

// termination reads the "(1) Normal termination (return value N)" or "(0) Abnormal
// termination (signal N)" line and, after an abnormal one, the core file line.
func (b *body) termination(normal *bool, ret, sig *int, core *string) *ParseError {
	l, err := b.need("the termination line")
	if err != nil {
		return err
	}
	t := strings.TrimSpace(l)
	if v, ok := scanf(t, "(1) Normal termination (return value %d"); ok {
		*normal, *ret = true, int(v[0])
		return nil
	}
	v, ok := scanf(t, "(0) Abnormal termination (signal %d")
	if !ok {
		return b.errf("expected \"(1) Normal termination (return value N)\" or \"(0) Abnormal termination (signal N)\", found %q", clip(l))
	}
	*normal, *sig = false, int(v[0])
	l, err = b.need("the core file line")
	if err != nil {
		return err
	}
	t = strings.TrimSpace(l)
	switch {
	case strings.HasPrefix(t, "(1) Corefile in: "):
		*core = t[len("(1) Corefile in: "):]
	case strings.HasPrefix(t, "(0)"):
	default:
		return b.errf("expected \"(0) No core file\" or \"(1) Corefile in: PATH\", found %q", clip(l))
	}
	return nil
}

func parseTerminated(h Header, b *body) (Event, *ParseError) {
	if err := b.first("Job terminated."); err != nil {
		return nil, err
	}
	e := &TerminatedEvent{Header: h}
	if err := b.termination(&e.TerminatedNormally, &e.ReturnValue, &e.TerminatedBySignal, &e.CoreFile); err != nil {
		return nil, err
	}
	var err *ParseError
	for _, u := range []struct {
		p    *CPUUsage
		what string
	}{
		{&e.RunRemoteUsage, "Run Remote Usage"}, {&e.RunLocalUsage, "Run Local Usage"},
		{&e.TotalRemoteUsage, "Total Remote Usage"}, {&e.TotalLocalUsage, "Total Local Usage"},
	} {
		if *u.p, err = b.usage(u.what); err != nil {
			return nil, err
		}
	}
	// Byte counts in any order, then the resource table; anything else ends the body.
	for {
		l, ok := b.peek()
		if !ok {
			break
		}
		if n, run, sent, ok := bytesLine(l); ok {
			b.next()
			switch {
			case run && sent:
				e.SentBytes = n
			case run:
				e.ReceivedBytes = n
			case sent:
				e.TotalSentBytes = n
			default:
				e.TotalReceivedBytes = n
			}
			continue
		}
		if isResourceHeader(l) {
			e.Resources = b.resources()
		}
		break
	}
	return e, nil
}

func parseEvicted(h Header, b *body) (Event, *ParseError) {
	rest, err := b.firstRest("Job was evicted.")
	if err != nil {
		return nil, err
	}
	e := &EvictedEvent{Header: h}
	if v, ok := scanf(rest, " Code %d Subcode %d"); ok && v[0] != 0 {
		// The codes are written only when the code is set, so a subcode alone is dropped.
		e.ReasonCode, e.ReasonSubCode = int(v[0]), int(v[1])
	}
	l, err := b.need("the \"(0) CPU times\" line")
	if err != nil {
		return nil, err
	}
	v, ok := scanf(l, "\t(%d)")
	if !ok {
		return nil, b.errf("expected \"(0) CPU times\", \"(1) Job was checkpointed.\" or \"(0) Job terminated and was requeued\", found %q", clip(l))
	}
	_, text, _ := strings.Cut(l, ")")
	if strings.HasPrefix(strings.TrimSpace(text), "Job terminated and was requeued") {
		e.TerminatedAndRequeued = true
	} else {
		e.Checkpointed = v[0] != 0
	}
	if e.RunRemoteUsage, err = b.usage("Run Remote Usage"); err != nil {
		return nil, err
	}
	if e.RunLocalUsage, err = b.usage("Run Local Usage"); err != nil {
		return nil, err
	}
	// As in HTCondor, the byte counts are optional (older logs) and end the body if absent.
	l, ok = b.next()
	n, run, sent, ok := bytesLine(l)
	if !ok || !run || !sent {
		return e, nil
	}
	e.SentBytes = n
	l, ok = b.next()
	n, run, sent, ok = bytesLine(l)
	if !ok || !run || sent {
		return e, nil
	}
	e.ReceivedBytes = n
	if e.TerminatedAndRequeued {
		if err := b.termination(&e.TerminatedNormally, &e.ReturnValue, &e.TerminatedBySignal, &e.CoreFile); err != nil {
			return nil, err
		}
	}
	if l, ok = b.peek(); ok && !isResourceHeader(l) {
		b.next()
		if !e.TerminatedAndRequeued && strings.HasPrefix(l, "\tReason: ") {
			e.Reason = l[len("\tReason: "):]
		} else {
			e.Reason = strings.TrimSpace(l)
		}
	}
	if l, ok = b.peek(); ok && isResourceHeader(l) {
		e.Resources = b.resources()
	}
	return e, nil
}

// isResourceHeader recognises the table header as HTCondor's reader does ("\tPartitionable "
// or "\tResources"), whatever the indent, so a reason line can never be written back as one.
func isResourceHeader(l string) bool {
	l = strings.TrimLeft(l, " \t")
	return strings.HasPrefix(l, "Partitionable ") || strings.HasPrefix(l, "Resources")
}

// resources reads the Partitionable Resources table. Like HTCondor's UsageLineParser it
// takes the column edges from the header ("Usage", "Request", "Allocated", "Assigned")
// and cuts every row at them, so cells may hold any text; the table ends at a line
// without ':'.
func (b *body) resources() []Resource {
	head, _ := b.next()
	_, tbl, _ := strings.Cut(head, ":")
	// The right edges of the Usage and Request words, one past them (the column gap).
	p := 0
	word := func() int {
		for p < len(tbl) && tbl[p] == ' ' {
			p++
		}
		for p < len(tbl) && tbl[p] != ' ' {
			p++
		}
		return p + 1
	}
	ixUse := word()
	ixReq := word()
	ixAlloc, ixAssigned := -1, -1
	if i := strings.Index(tbl[min(p, len(tbl)):], "Allocated"); i >= 0 {
		ixAlloc = min(p, len(tbl)) + i + len("Allocated")
	}
	if i := strings.Index(tbl[min(p, len(tbl)):], "Assigned"); i >= 0 {
		ixAssigned = min(p, len(tbl)) + i
	}
	cell := func(s string, from, to int) string {
		from, to = min(max(from, 0), len(s)), min(max(to, 0), len(s))
		if from >= to {
			return ""
		}
		return strings.TrimSpace(s[from:to])
	}
	var out []Resource
	for {
		l, ok := b.peek()
		if !ok || strings.IndexByte(l, ':') < 0 {
			break
		}
		b.next()
		name := strings.TrimLeft(l, "\t ")
		end := strings.IndexAny(name, " :")
		row := name[end:]
		name = name[:end]
		_, row, _ = strings.Cut(row, ":")
		if name == "" {
			continue
		}
		r := Resource{Name: name, Usage: cell(row, 0, ixUse), Request: cell(row, ixUse, ixReq)}
		if ixAlloc >= 0 {
			r.Allocated = cell(row, ixReq, ixAlloc)
		}
		if ixAssigned >= 0 {
			r.Assigned = cell(row, ixAssigned, len(row))
		}
		out = append(out, r)
	}
	// Rows come sorted from HTCondor; sorting here too keeps a value read from an
	// edited log stable when it is written again.
	sortResources(out)
	return out
}
