package userlog

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// FormatJSON returns an event as one JSON object (without a line end), the form of
// HTCondor's JSON event log: EventTypeNumber, MyType, EventTime ("2026-11-23T12:50:11",
// local time, or UTC with a "Z" when opts.UTC), Cluster, Proc, Subproc, then the event's
// fields under the attribute names HTCondor's ULogEvent::toClassAd uses (SubmitHost,
// ExecuteHost, GridResource, GridJobId, HoldReason, HoldReasonCode, HoldReasonSubCode,
// Reason, TerminatedNormally, ReturnValue, ...). Empty optional strings are left out, as
// HTCondor leaves them out. A GenericEvent carries its first line as EventHead and the
// others as EventPayloadLines.
func FormatJSON(e Event, opts FormatOptions) ([]byte, error) {
	if e == nil {
		return nil, errors.New("userlog: format JSON: nil event")
	}
	return appendJSON(nil, e, e.EventHeader(), opts)
}

// jsonObject builds one JSON object with its keys in the order they are added.
type jsonObject struct{ b []byte }

func (o *jsonObject) key(k string) {
	if len(o.b) == 0 || o.b[len(o.b)-1] != '{' {
		o.b = append(o.b, ',')
	}
	o.b = appendJSONString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *jsonObject) str(k, v string) {
	o.key(k)
	o.b = appendJSONString(o.b, oneLine(v))
}

// optStr adds a string only when it is not empty.
func (o *jsonObject) optStr(k, v string) {
	if v != "" {
		o.str(k, v)
	}
}

func (o *jsonObject) int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

// real adds a number HTCondor holds as a double (byte counts), printed with a decimal
// point so it reads back as a real.
func (o *jsonObject) real(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
	o.b = append(o.b, ".0"...)
}

func (o *jsonObject) bool(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

// cell adds a resource table cell: a number or boolean as such, anything else as a string.
func (o *jsonObject) cell(k, v string) {
	if v == "" {
		return
	}
	o.key(k)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		o.b = strconv.AppendInt(o.b, n, 10) // re-printed: "007" is not JSON
	} else if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		o.b = strconv.AppendFloat(o.b, f, 'g', -1, 64)
	} else if v == "true" || v == "false" {
		o.b = append(o.b, v...)
	} else {
		o.b = appendJSONString(o.b, v)
	}
}

func appendJSON(b []byte, e Event, h Header, opts FormatOptions) ([]byte, error) {
	n := e.EventNumber()
	if err := checkEvent(e, h); err != nil {
		return b, fmt.Errorf("userlog: format event %03d as JSON: %w", n, err)
	}
	o := jsonObject{b: append(b, '{')}
	o.int("EventTypeNumber", int64(n))
	o.str("MyType", myTypeName(n))
	o.str("EventTime", jsonTime(h.Time, opts))
	o.int("Cluster", int64(h.Cluster))
	o.int("Proc", int64(h.Proc))
	o.int("Subproc", int64(h.Subproc))
	e.jsonFields(&o)
	return append(o.b, '}'), nil
}

// jsonTime prints an event time as HTCondor's time_to_iso8601 does for the ClassAd form:
// milliseconds only when there is a fraction, "Z" only for UTC.
func jsonTime(t time.Time, opts FormatOptions) string {
	if opts.UTC {
		t = t.UTC()
	} else {
		t = t.In(location(opts.Location))
	}
	s := t.Format("2006-01-02T15:04:05")
	if ms := t.Nanosecond() / int(time.Millisecond); t.Nanosecond() != 0 {
		s += fmt.Sprintf(".%03d", ms)
	}
	if opts.UTC {
		s += "Z"
	}
	return s
}

func (e SubmitEvent) jsonFields(o *jsonObject) {
	o.optStr("SubmitHost", e.SubmitHost)
	if e.LogNotes != "" {
		o.str("LogNotes", e.LogNotes)
		o.optStr("UserNotes", e.UserNotes)
	}
	o.optStr("Warnings", e.Warnings)
}

func (e ExecuteEvent) jsonFields(o *jsonObject) {
	o.optStr("ExecuteHost", e.ExecuteHost)
	o.optStr("SlotName", e.SlotName)
}

// usageString is HTCondor's rusageToStr: the rusage line without its tab.
func usageString(u CPUUsage) string {
	return string(appendUsage(nil, u)[1:])
}

func (e EvictedEvent) jsonFields(o *jsonObject) {
	o.bool("Checkpointed", e.Checkpointed && !e.TerminatedAndRequeued)
	o.str("RunLocalUsage", usageString(e.RunLocalUsage))
	o.str("RunRemoteUsage", usageString(e.RunRemoteUsage))
	o.real("SentBytes", e.SentBytes)
	o.real("ReceivedBytes", e.ReceivedBytes)
	o.bool("TerminatedAndRequeued", e.TerminatedAndRequeued)
	o.bool("TerminatedNormally", e.TerminatedAndRequeued && e.TerminatedNormally)
	if e.TerminatedAndRequeued {
		if e.TerminatedNormally {
			o.int("ReturnValue", int64(e.ReturnValue))
		} else {
			o.int("TerminatedBySignal", int64(e.TerminatedBySignal))
			o.optStr("CoreFile", e.CoreFile)
		}
	}
	o.optStr("Reason", e.Reason)
	if e.ReasonCode != 0 {
		o.int("ReasonCode", int64(e.ReasonCode))
		if e.ReasonSubCode != 0 {
			o.int("ReasonSubCode", int64(e.ReasonSubCode))
		}
	}
}

func (e TerminatedEvent) jsonFields(o *jsonObject) {
	o.bool("TerminatedNormally", e.TerminatedNormally)
	if e.TerminatedNormally {
		o.int("ReturnValue", int64(e.ReturnValue))
	} else {
		o.int("TerminatedBySignal", int64(e.TerminatedBySignal))
		o.optStr("CoreFile", e.CoreFile)
	}
	o.str("RunLocalUsage", usageString(e.RunLocalUsage))
	o.str("RunRemoteUsage", usageString(e.RunRemoteUsage))
	o.str("TotalLocalUsage", usageString(e.TotalLocalUsage))
	o.str("TotalRemoteUsage", usageString(e.TotalRemoteUsage))
	o.real("SentBytes", e.SentBytes)
	o.real("ReceivedBytes", e.ReceivedBytes)
	o.real("TotalSentBytes", e.TotalSentBytes)
	o.real("TotalReceivedBytes", e.TotalReceivedBytes)
	// HTCondor merges the usage ad into the event ad: Request<Res>, <Res>Usage, <Res> and
	// Assigned<Res>.
	for _, r := range e.Resources {
		name := resourceName(r.Name)
		if name == "" {
			continue
		}
		o.cell("Request"+name, r.Request)
		o.cell(name+"Usage", r.Usage)
		o.cell(name, r.Allocated)
		o.cell("Assigned"+name, r.Assigned)
	}
}

func (e AbortedEvent) jsonFields(o *jsonObject)  { o.optStr("Reason", e.Reason) }
func (e ReleasedEvent) jsonFields(o *jsonObject) { o.optStr("Reason", e.Reason) }

func (e GridResourceUpEvent) jsonFields(o *jsonObject) {
	o.optStr("GridResource", e.GridResource)
}

func (e GridResourceDownEvent) jsonFields(o *jsonObject) {
	o.optStr("GridResource", e.GridResource)
}

func (e GridSubmitEvent) jsonFields(o *jsonObject) {
	o.optStr("GridResource", e.GridResource)
	o.optStr("GridJobId", e.GridJobID)
}

// HTCondor's ads for 029 and 030 carry only the common attributes.
func (RemoteStatusUnknownEvent) jsonFields(*jsonObject) {}
func (RemoteStatusKnownEvent) jsonFields(*jsonObject)   {}

func (e HeldEvent) jsonFields(o *jsonObject) {
	o.optStr("HoldReason", e.Reason)
	o.int("HoldReasonCode", int64(e.Code))
	o.int("HoldReasonSubCode", int64(e.Subcode))
}

func (e GenericEvent) jsonFields(o *jsonObject) {
	head := ""
	if len(e.Lines) > 0 {
		head = e.Lines[0]
	}
	o.str("EventHead", head)
	if len(e.Lines) > 1 {
		o.key("EventPayloadLines")
		o.b = append(o.b, '[')
		for i, l := range e.Lines[1:] {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = appendJSONString(o.b, oneLine(l))
		}
		o.b = append(o.b, ']')
	}
}

// appendJSONString quotes s for JSON. Unlike encoding/json it leaves '<', '>' and '&'
// alone, so sinful strings stay readable; invalid UTF-8 becomes U+FFFD as there.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
