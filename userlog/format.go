package userlog

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SyncLine ends every event in the text log (HTCondor's SynchDelimiter). A reader knows an
// event is complete only when it has seen this line.
const SyncLine = "...\n"

// FormatOptions choose how event times are printed, like HTCondor's user log format
// options (DEFAULT_USERLOG_FORMAT_OPTIONS). The zero value is HTCondor's default, ISO_DATE
// in local time.
type FormatOptions struct {
	// Location is the time zone of printed times when UTC is false; nil means time.Local.
	Location *time.Location
	// UTC prints times in UTC with a trailing "Z" (format option UTC).
	UTC bool
	// SubSecond appends milliseconds, ".mmm" (format option SUB_SECOND).
	SubSecond bool
	// Legacy prints "MM/DD HH:MM:SS", the pre-8.8 date without a year (format option
	// LEGACY). A reader has to guess the year of such a date.
	Legacy bool
}

// Format returns an event's exact text, from its header line through the "..." line,
// byte for byte as HTCondor writes it.
//
// Text fields cannot hold line breaks: every "\n" in them is written as "|", as HTCondor
// does for hold and remove reasons, so a field can never end an event early or forge
// another. Format fails for a GenericEvent whose number is outside 0..999 or has a type of
// its own, or whose lines would end the event early, and for a year outside 0..9999.
func Format(e Event, opts FormatOptions) ([]byte, error) {
	if e == nil {
		return nil, errors.New("userlog: format: nil event")
	}
	return appendEvent(nil, e, e.EventHeader(), opts)
}

// appendEvent appends the text of e with header h (the Writer fills in a missing time).
func appendEvent(b []byte, e Event, h Header, opts FormatOptions) ([]byte, error) {
	n := e.EventNumber()
	if err := checkEvent(e, h); err != nil {
		return b, fmt.Errorf("userlog: format event %03d: %w", n, err)
	}
	b = fmt.Appendf(b, "%03d (%03d.%03d.%03d) ", n, h.Cluster, h.Proc, h.Subproc)
	b = appendTime(b, h.Time, opts)
	b = append(b, ' ')
	b = e.appendBody(b)
	return append(b, SyncLine...), nil
}

// checkEvent rejects what the text format cannot carry so that it reads back the same.
func checkEvent(e Event, h Header) error {
	n := e.EventNumber()
	if n < 0 || n > MaxEventNumber {
		return fmt.Errorf("event number %d is outside 0..%d", n, MaxEventNumber)
	}
	if g, ok := asGeneric(e); ok {
		if typed(g.Number) {
			return fmt.Errorf("event %03d has a type of its own; a GenericEvent would not read back as one", n)
		}
		for i, l := range g.Lines {
			if i > 0 && (l == "..." || l == "...\r") {
				return fmt.Errorf("line %d of the event is %q, which would end the event", i, l)
			}
		}
	}
	if y := h.Time.Year(); y < 0 || y > 9999 {
		return fmt.Errorf("year %d cannot be written as four digits", y)
	}
	return nil
}

func asGeneric(e Event) (GenericEvent, bool) {
	switch g := e.(type) {
	case GenericEvent:
		return g, true
	case *GenericEvent:
		return *g, true
	}
	return GenericEvent{}, false
}

// appendTime prints t as formatHeader does in HTCondor's condor_event.cpp.
func appendTime(b []byte, t time.Time, opts FormatOptions) []byte {
	if opts.UTC {
		t = t.UTC()
	} else {
		t = t.In(location(opts.Location))
	}
	if opts.Legacy {
		b = fmt.Appendf(b, "%02d/%02d %02d:%02d:%02d", int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second())
	} else {
		b = fmt.Appendf(b, "%04d-%02d-%02d %02d:%02d:%02d", t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second())
	}
	if opts.SubSecond {
		b = fmt.Appendf(b, ".%03d", t.Nanosecond()/int(time.Millisecond))
	}
	if opts.UTC {
		b = append(b, 'Z')
	}
	return b
}

func location(l *time.Location) *time.Location {
	if l == nil {
		return time.Local
	}
	return l
}

// oneLine makes a field safe for a single line of the log: HTCondor's set_reason_member
// turns line feeds into '|'.
func oneLine(s string) string {
	if strings.IndexByte(s, '\n') < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\n", "|")
}

// orUnknown is what HTCondor prints for an empty GridResource or GridJobId.
func orUnknown(s string) string {
	if s == "" {
		return "UNKNOWN"
	}
	return oneLine(s)
}

func (e SubmitEvent) appendBody(b []byte) []byte {
	b = append(b, "Job submitted from host: "...)
	b = append(b, oneLine(e.SubmitHost)...)
	b = append(b, '\n')
	if e.LogNotes != "" {
		b = append(b, "    "...)
		b = append(b, oneLine(e.LogNotes)...)
		b = append(b, '\n')
		// HTCondor prints the user notes even without log notes, but then reads them
		// back as log notes; writing them only after log notes keeps the value stable.
		if e.UserNotes != "" {
			b = append(b, "    "...)
			b = append(b, oneLine(e.UserNotes)...)
			b = append(b, '\n')
		}
	}
	if e.Warnings != "" {
		b = append(b, "    "+submitWarningPrefix...)
		b = append(b, oneLine(e.Warnings)...)
		b = append(b, '\n')
	}
	return b
}

const submitWarningPrefix = "WARNING: Committed job submission into the queue with the following warning(s): "

func (e ExecuteEvent) appendBody(b []byte) []byte {
	b = append(b, "Job executing on host: "...)
	b = append(b, oneLine(e.ExecuteHost)...)
	b = append(b, '\n')
	if e.SlotName != "" {
		b = append(b, "\tSlotName: "...)
		b = append(b, oneLine(e.SlotName)...)
		b = append(b, '\n')
	}
	return b
}

// appendUsage prints one rusage line's numbers the way ULogEvent::formatRusage does,
// including its leading tab.
func appendUsage(b []byte, u CPUUsage) []byte {
	b = append(b, "\tUsr "...)
	b = appendDHMS(b, int64(u.User/time.Second))
	b = append(b, ", Sys "...)
	return appendDHMS(b, int64(u.Sys/time.Second))
}

// appendDHMS prints seconds as "D HH:MM:SS" with C's truncating division, as HTCondor does.
func appendDHMS(b []byte, secs int64) []byte {
	days := secs / 86400
	secs %= 86400
	hours := secs / 3600
	secs %= 3600
	mins := secs / 60
	secs %= 60
	return fmt.Appendf(b, "%d %02d:%02d:%02d", days, hours, mins, secs)
}

func appendBytesLine(b []byte, n int64, what string) []byte {
	b = append(b, '\t')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, "  -  "...)
	b = append(b, what...)
	return append(b, '\n')
}

// appendTermination prints the "(1) Normal termination" / "(0) Abnormal termination" line
// and, for abnormal ends, the core file line.
func appendTermination(b []byte, normal bool, ret, sig int, core string) []byte {
	if normal {
		return fmt.Appendf(b, "\t(1) Normal termination (return value %d)\n", ret)
	}
	b = fmt.Appendf(b, "\t(0) Abnormal termination (signal %d)\n", sig)
	if core != "" {
		return fmt.Appendf(b, "\t(1) Corefile in: %s\n", oneLine(core))
	}
	return append(b, "\t(0) No core file\n"...)
}

func (e EvictedEvent) appendBody(b []byte) []byte {
	if e.ReasonCode != 0 {
		b = fmt.Appendf(b, "Job was evicted. Code %d Subcode %d\n", e.ReasonCode, e.ReasonSubCode)
	} else {
		b = append(b, "Job was evicted.\n"...)
	}
	switch {
	case e.TerminatedAndRequeued:
		b = append(b, "\t(0) Job terminated and was requeued\n"...)
	case e.Checkpointed:
		b = append(b, "\t(1) Job was checkpointed.\n"...)
	default:
		b = append(b, "\t(0) CPU times\n"...)
	}
	b = append(appendUsage(append(b, '\t'), e.RunRemoteUsage), "  -  Run Remote Usage\n"...)
	b = append(appendUsage(append(b, '\t'), e.RunLocalUsage), "  -  Run Local Usage\n"...)
	b = appendBytesLine(b, e.SentBytes, "Run Bytes Sent By Job")
	b = appendBytesLine(b, e.ReceivedBytes, "Run Bytes Received By Job")
	if e.TerminatedAndRequeued {
		b = appendTermination(b, e.TerminatedNormally, e.ReturnValue, e.TerminatedBySignal, e.CoreFile)
	}
	if e.Reason != "" {
		if e.TerminatedAndRequeued {
			b = append(b, '\t')
		} else {
			b = append(b, "\tReason: "...)
		}
		b = append(b, oneLine(e.Reason)...)
		b = append(b, '\n')
	}
	return appendResources(b, e.Resources)
}

func (e TerminatedEvent) appendBody(b []byte) []byte {
	b = append(b, "Job terminated.\n"...)
	core := e.CoreFile
	if e.TerminatedNormally {
		core = ""
	}
	b = appendTermination(b, e.TerminatedNormally, e.ReturnValue, e.TerminatedBySignal, core)
	b = append(appendUsage(append(b, '\t'), e.RunRemoteUsage), "  -  Run Remote Usage\n"...)
	b = append(appendUsage(append(b, '\t'), e.RunLocalUsage), "  -  Run Local Usage\n"...)
	b = append(appendUsage(append(b, '\t'), e.TotalRemoteUsage), "  -  Total Remote Usage\n"...)
	b = append(appendUsage(append(b, '\t'), e.TotalLocalUsage), "  -  Total Local Usage\n"...)
	b = appendBytesLine(b, e.SentBytes, "Run Bytes Sent By Job")
	b = appendBytesLine(b, e.ReceivedBytes, "Run Bytes Received By Job")
	b = appendBytesLine(b, e.TotalSentBytes, "Total Bytes Sent By Job")
	b = appendBytesLine(b, e.TotalReceivedBytes, "Total Bytes Received By Job")
	return appendResources(b, e.Resources)
}

func (e AbortedEvent) appendBody(b []byte) []byte {
	b = append(b, "Job was aborted.\n"...)
	if e.Reason != "" {
		b = append(b, '\t')
		b = append(b, oneLine(e.Reason)...)
		b = append(b, '\n')
	}
	return b
}

func (e HeldEvent) appendBody(b []byte) []byte {
	b = append(b, "Job was held.\n"...)
	if e.Reason != "" {
		b = append(b, '\t')
		b = append(b, oneLine(e.Reason)...)
		b = append(b, '\n')
	} else {
		b = append(b, "\tReason unspecified\n"...)
	}
	return fmt.Appendf(b, "\tCode %d Subcode %d\n", e.Code, e.Subcode)
}

func (e ReleasedEvent) appendBody(b []byte) []byte {
	b = append(b, "Job was released.\n"...)
	if e.Reason != "" {
		b = append(b, '\t')
		b = append(b, oneLine(e.Reason)...)
		b = append(b, '\n')
	}
	return b
}

func (e GridResourceUpEvent) appendBody(b []byte) []byte {
	b = append(b, "Grid Resource Back Up\n    GridResource: "...)
	b = append(b, orUnknown(e.GridResource)...)
	return append(b, '\n')
}

func (e GridResourceDownEvent) appendBody(b []byte) []byte {
	b = append(b, "Detected Down Grid Resource\n    GridResource: "...)
	b = append(b, orUnknown(e.GridResource)...)
	return append(b, '\n')
}

func (e GridSubmitEvent) appendBody(b []byte) []byte {
	b = append(b, "Job submitted to grid resource\n    GridResource: "...)
	b = append(b, orUnknown(e.GridResource)...)
	b = append(b, "\n    GridJobId: "...)
	b = append(b, orUnknown(e.GridJobID)...)
	return append(b, '\n')
}

func (RemoteStatusUnknownEvent) appendBody(b []byte) []byte {
	return append(b, "The job's remote status is unknown\n"...)
}

func (RemoteStatusKnownEvent) appendBody(b []byte) []byte {
	return append(b, "The job's remote status is known again\n"...)
}

func (e GenericEvent) appendBody(b []byte) []byte {
	if len(e.Lines) == 0 {
		return append(b, '\n')
	}
	for _, l := range e.Lines {
		b = append(b, oneLine(l)...)
		b = append(b, '\n')
	}
	return b
}

// FormatQuantity writes a number as a Resource cell the way HTCondor's formatUsageAd
// does: two decimals when it has a fractional part, an integer otherwise.
func FormatQuantity(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	if _, frac := math.Modf(v); frac > 0 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(math.Trunc(v), 'f', 0, 64)
}

// Table layout constants from HTCondor's formatUsageAd.
const (
	resNameMinWidth   = len("Memory (MB)") + 1 // sizeof() in C, so the NUL counts
	resLabelExtra     = 8                      // the label column is the name width + 8
	resValueMinWidth  = 8                      // Usage and Request columns
	resAllocMinWidth  = len("Allocated")
	intPadForDecimals = "   " // integers in a column with decimals line up with ".00"
)

// resourceName makes a resource name parse back as itself: the reader takes the first word
// of a row, up to a blank or ':'.
func resourceName(s string) string {
	s = strings.TrimLeft(s, "\t ")
	if !strings.ContainsAny(s, " :\n") {
		return s
	}
	b := []byte(s) // byte by byte: names need not be valid UTF-8
	for i, c := range b {
		if c == ' ' || c == ':' || c == '\n' {
			b[i] = '_'
		}
	}
	return string(b)
}

// sortResources orders rows by name ignoring case, as HTCondor's usage map does.
func sortResources(rows []Resource) {
	sort.SliceStable(rows, func(i, j int) bool { return strings.ToLower(rows[i].Name) < strings.ToLower(rows[j].Name) })
}

func isBareInteger(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// hasDecimals tells a cell HTCondor printed with "%.2f" (a real with a fractional part).
func hasDecimals(s string) bool {
	if strings.IndexByte(s, '.') < 0 {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// resourceLabel adds the unit HTCondor prints after some resource names.
func resourceLabel(name string) string {
	switch name {
	case "Memory", "GpusMemory":
		return name + " (MB)"
	case "Disk":
		return name + " (KB)"
	case "Gpus":
		return name + " (Average)"
	case "TimeExecute", "TimeSlotBusy":
		return name + " (s)"
	}
	return name
}

// appendResources prints the Partitionable Resources table as HTCondor's formatUsageAd
// does: rows sorted by name ignoring case, right-aligned value columns at least 8 wide,
// integers padded to line up with decimals, trailing blanks included.
func appendResources(b []byte, res []Resource) []byte {
	rows := make([]Resource, 0, len(res))
	for _, r := range res {
		r.Name = resourceName(r.Name)
		if r.Name == "" {
			continue
		}
		r.Usage, r.Request, r.Allocated, r.Assigned = oneLine(r.Usage), oneLine(r.Request), oneLine(r.Allocated), oneLine(r.Assigned)
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return b
	}
	sortResources(rows)

	var useDec, reqDec, allocDec, assignedDec bool
	for _, r := range rows {
		useDec = useDec || hasDecimals(r.Usage)
		reqDec = reqDec || hasDecimals(r.Request)
		allocDec = allocDec || hasDecimals(r.Allocated)
		assignedDec = assignedDec || hasDecimals(r.Assigned)
	}
	pad := func(s string, dec bool) string {
		if dec && isBareInteger(s) {
			return s + intPadForDecimals
		}
		return s
	}
	wName, wUse, wReq, wAlloc, wAssigned := resNameMinWidth, resValueMinWidth, resValueMinWidth, 0, 0
	for i := range rows {
		r := &rows[i]
		r.Usage, r.Request, r.Allocated, r.Assigned = pad(r.Usage, useDec), pad(r.Request, reqDec), pad(r.Allocated, allocDec), pad(r.Assigned, assignedDec)
		wName = max(wName, len(r.Name))
		wUse = max(wUse, len(r.Usage))
		wReq = max(wReq, len(r.Request))
		wAlloc = max(wAlloc, len(r.Allocated))
		wAssigned = max(wAssigned, len(r.Assigned))
	}
	allocHead, assignedHead := "", ""
	if wAlloc > 0 {
		allocHead = "Allocated"
	}
	if wAssigned > 0 {
		assignedHead = "Assigned"
	}
	wAllocCol := max(wAlloc, resAllocMinWidth)
	b = append(b, "\tPartitionable Resources : "...)
	b = padLeft(b, "Usage", wUse)
	b = padLeft(append(b, ' '), "Request", wReq)
	b = padLeft(append(b, ' '), allocHead, wAllocCol)
	b = append(append(b, ' '), assignedHead...)
	b = append(b, '\n')
	for _, r := range rows {
		b = append(b, "\t   "...)
		b = padRight(b, resourceLabel(r.Name), wName+resLabelExtra)
		b = append(b, " : "...)
		b = padLeft(b, r.Usage, wUse)
		b = padLeft(append(b, ' '), r.Request, wReq)
		b = padLeft(append(b, ' '), r.Allocated, wAllocCol)
		b = append(append(b, ' '), r.Assigned...)
		b = append(b, '\n')
	}
	return b
}

// padLeft and padRight pad to a width in bytes, as C's printf does (Go's fmt counts runes).
func padLeft(b []byte, s string, w int) []byte {
	for i := len(s); i < w; i++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}

func padRight(b []byte, s string, w int) []byte {
	b = append(b, s...)
	for i := len(s); i < w; i++ {
		b = append(b, ' ')
	}
	return b
}
