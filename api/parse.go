package api

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/ec2grid/ec2grid/classad"
	"github.com/ec2grid/ec2grid/jobs"
)

// lineCacheMax bounds the parsed lines one parser remembers. The ads of a cluster
// repeat most of their lines (the same Cmd, GridResource, PeriodicHold...), and the
// first ads fill the cache with those; lines unique to one job (ProcId, a per-job key
// file) would only grow it, so past the bound nothing new is remembered.
const lineCacheMax = 1 << 16

// parseWorkersMin is the number of ads from which a submit is parsed on all CPUs.
const parseWorkersMin = 2048

// lineParser parses long-form ads, parsing each distinct line once: an ad is mostly
// lines other ads of its cluster share, and a parsed expression is immutable, so ads can
// share it (the store's copies share expressions the same way). It also keeps the last
// ad it parsed in full as a template: an ad whose lines are the template's but for a few
// values is built as a copy of the template with those few set, which costs a fraction
// of building it binding by binding. Together they make parsing a 100,000-job cluster
// several times faster and the queue smaller in memory. A lineParser is not safe for
// concurrent use.
type lineParser struct {
	cache map[string]parsedLine
	// slots, when set, binds the attributes the queue will stamp on every ad (with
	// placeholder values) before an ad becomes the template, so that stamping copies of
	// it replaces bindings in place rather than growing every ad.
	slots func(*classad.ClassAd)
	// keepAll binds protected attributes too: the client reading the daemon's replies
	// wants every attribute; the server reading a submit leaves those out.
	keepAll bool

	tmpl       *classad.ClassAd // nil until an ad without repeated names was parsed in full
	tmplReq    jobRequest
	tmplLines  []string
	tmplParsed []parsedLine
	diffs      []int // scratch: positions where an ad differs from the template
	diffLines  []parsedLine
}

// parsedLine is one "Name = expr" line, parsed; expr is nil for a blank or comment line.
// A line binding an attribute the queue owns (ProtectedAttrs) is not bound in the ad:
// protected is set, and for JobStatus and HoldReason the requested values are kept in
// the request, since submit's hold = true asks for a held job with them.
type parsedLine struct {
	name      string
	expr      classad.Expr
	protected bool
	req       jobRequest
}

// jobRequest is what a submitted ad asks of the queue through attributes it does not
// get to set: to be held (JobStatus = 5), with this HoldReason.
type jobRequest struct {
	setStatus, setReason bool
	held                 bool
	holdReason           string
}

// merge applies the request of a later line over r.
func (r jobRequest) merge(o jobRequest) jobRequest {
	if o.setStatus {
		r.setStatus, r.held = true, o.held
	}
	if o.setReason {
		r.setReason, r.holdReason = true, o.holdReason
	}
	return r
}

// parsedAd is a submitted ad without the attributes the queue owns, and what it asked.
type parsedAd struct {
	ad  *classad.ClassAd
	req jobRequest
}

func newLineParser(slots func(*classad.ClassAd)) *lineParser {
	return &lineParser{cache: map[string]parsedLine{}, slots: slots}
}

// parse reads one ad, as classad.ParseLong does, leaving out protected attributes.
func (p *lineParser) parse(text string) (parsedAd, error) {
	if p.tmpl != nil {
		if pa, ok := p.fromTemplate(text); ok {
			return pa, nil
		}
	}
	var lines []string
	var parsed []parsedLine
	ad := classad.New()
	var req jobRequest
	attrs := 0
	whole := text
	for lineNo := 1; len(text) > 0; lineNo++ {
		var line string
		line, text = nextLine(text)
		if strings.HasSuffix(line, "\r") {
			// A second "\r": the line parser would trim it where ParseLong does not.
			return p.parseWhole(whole)
		}
		pl, err := p.parseLine(line)
		if err != nil {
			var lfe *classad.LongFormError
			if errors.As(err, &lfe) {
				lfe.Line = lineNo
			}
			return parsedAd{}, err
		}
		lines = append(lines, line)
		parsed = append(parsed, pl)
		req = req.merge(pl.req)
		if pl.expr != nil && (!pl.protected || p.keepAll) {
			ad.Set(pl.name, pl.expr)
			attrs++
		}
	}
	// An ad that binds a name twice cannot be a template: which line wins would depend
	// on where the differences are.
	template := ad.Len() == attrs && p.singleRequestLines(parsed)
	if p.slots != nil {
		p.slots(ad)
	}
	if template {
		p.tmpl, p.tmplReq, p.tmplLines, p.tmplParsed = ad.Copy(), req, lines, parsed
	}
	return parsedAd{ad: ad, req: req}, nil
}

// parseWhole parses an unusual ad with classad.ParseLong itself, then leaves out the
// protected attributes as the line path does.
func (p *lineParser) parseWhole(text string) (parsedAd, error) {
	ad, err := classad.ParseLong(text)
	if err != nil {
		return parsedAd{}, err
	}
	var req jobRequest
	if p.keepAll {
		return parsedAd{ad: ad}, nil
	}
	if _, ok := ad.Lookup(jobs.AttrJobStatus); ok {
		st, _ := ad.EvalAttr(jobs.AttrJobStatus).IntValue()
		req.setStatus, req.held = true, st == jobs.StatusHeld
	}
	if _, ok := ad.Lookup(jobs.AttrHoldReason); ok {
		req.setReason = true
		req.holdReason, _ = ad.EvalAttr(jobs.AttrHoldReason).StringValue()
	}
	for _, name := range ad.Names() {
		if isProtected(name) {
			ad.Delete(name)
		}
	}
	if p.slots != nil {
		p.slots(ad)
	}
	return parsedAd{ad: ad, req: req}, nil
}

// singleRequestLines says whether JobStatus and HoldReason appear at most once each, so
// a difference in one of them decides the request alone.
func (p *lineParser) singleRequestLines(parsed []parsedLine) bool {
	status, reason := 0, 0
	for _, pl := range parsed {
		if pl.req.setStatus {
			status++
		}
		if pl.req.setReason {
			reason++
		}
	}
	return status <= 1 && reason <= 1
}

// fromTemplate builds the ad of text from the template, if text has the template's
// lines with the same names in the same order (values may differ).
func (p *lineParser) fromTemplate(text string) (parsedAd, bool) {
	p.diffs, p.diffLines = p.diffs[:0], p.diffLines[:0]
	k := 0
	for ; len(text) > 0; k++ {
		var line string
		line, text = nextLine(text)
		if k >= len(p.tmplLines) {
			return parsedAd{}, false
		}
		if line == p.tmplLines[k] {
			continue
		}
		pl, err := p.parseLine(line)
		if err != nil || pl.expr == nil || p.tmplParsed[k].expr == nil || pl.name != p.tmplParsed[k].name {
			return parsedAd{}, false
		}
		p.diffs = append(p.diffs, k)
		p.diffLines = append(p.diffLines, pl)
	}
	if k != len(p.tmplLines) {
		return parsedAd{}, false
	}
	ad := p.tmpl.Copy()
	req := p.tmplReq
	for _, pl := range p.diffLines {
		if pl.protected && !p.keepAll {
			req = req.merge(pl.req)
			continue
		}
		ad.Set(pl.name, pl.expr)
	}
	return parsedAd{ad: ad, req: req}, true
}

// parseLine parses one line through the cache.
func (p *lineParser) parseLine(line string) (parsedLine, error) {
	if pl, ok := p.cache[line]; ok {
		return pl, nil
	}
	// Lines unique to one job are mostly "Name = <integer>" (ProcId): parsed here,
	// without the general parser, and not cached, as they will not come again.
	if name, n, ok := intLine(line); ok {
		return parsedLine{name: name, expr: classad.Literal(classad.Int(n)), protected: isProtected(name)}, nil
	}
	// And "Name = "text"" (a per-job key file, a per-job argument).
	if name, text, ok := stringLine(line); ok {
		return parsedLine{name: name, expr: classad.Literal(classad.String(text)), protected: isProtected(name)}, nil
	}
	one, err := classad.ParseLong(line)
	if err != nil {
		return parsedLine{}, err
	}
	var pl parsedLine
	if names := one.Names(); len(names) == 1 {
		pl.name = names[0]
		pl.expr, _ = one.Lookup(pl.name)
		pl.protected = isProtected(pl.name)
		switch {
		case strings.EqualFold(pl.name, jobs.AttrJobStatus):
			st, _ := one.EvalAttr(pl.name).IntValue()
			pl.req.setStatus, pl.req.held = true, st == jobs.StatusHeld
		case strings.EqualFold(pl.name, jobs.AttrHoldReason):
			pl.req.setReason = true
			pl.req.holdReason, _ = one.EvalAttr(pl.name).StringValue()
		}
	}
	if len(p.cache) < lineCacheMax {
		p.cache[line] = pl
	}
	return pl, nil
}

// intLine recognises "Name = 123" (a plain name, a non-negative decimal integer without
// leading zeros, single spaces around "=" as long form prints them), which the general
// parser would read as an integer literal.
func intLine(line string) (string, int64, bool) {
	name, num, ok := strings.Cut(line, " = ")
	if !ok || name == "" || num == "" || len(num) > 18 || len(num) > 1 && num[0] == '0' || !validAttrName(name) {
		return "", 0, false
	}
	var n int64
	for i := 0; i < len(num); i++ {
		c := num[i]
		if c < '0' || c > '9' {
			return "", 0, false
		}
		n = n*10 + int64(c-'0')
	}
	// JobStatus decides a request, and keywords are not names: the general path.
	switch strings.ToLower(name) {
	case "jobstatus", "true", "false", "undefined", "error", "is", "isnt", "parent", "my", "target":
		return "", 0, false
	}
	return name, n, true
}

// stringLine recognises "Name = "text"" (a plain name, single spaces around "=" as long
// form prints them, text of printable ASCII without quotes or backslashes, so that it
// needs no unescaping), which the general parser would read as a string literal. Names
// that decide a request (HoldReason) take the general path.
func stringLine(line string) (string, string, bool) {
	name, lit, ok := strings.Cut(line, " = ")
	if !ok || name == "" || len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' || !validAttrName(name) {
		return "", "", false
	}
	text := lit[1 : len(lit)-1]
	for i := 0; i < len(text); i++ {
		if c := text[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "", "", false
		}
	}
	switch strings.ToLower(name) {
	case "holdreason", "jobstatus", "true", "false", "undefined", "error", "is", "isnt", "parent", "my", "target":
		return "", "", false
	}
	return name, text, true
}

// nextLine splits the first line (without its "\n" or "\r\n") off text.
func nextLine(text string) (line, rest string) {
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		line, rest = text[:i], text[i+1:]
	} else {
		line = text
	}
	return strings.TrimSuffix(line, "\r"), rest
}

// parsedCluster is one cluster of a submit, parsed: its jobs and, when the request sent
// the cluster's common attributes once (SubmitRequest.Common), those (ad nil otherwise).
// The jobs' ads then hold only their own attributes, and their requests are already
// merged over the common one.
type parsedCluster struct {
	common parsedAd
	jobs   []parsedAd
}

// parseClusters parses every ad of a submit, on all CPUs when there are many (each
// worker with its own line cache). common is SubmitRequest.Common (nil, or one entry per
// cluster); slots binds placeholders on whole ads (commonSlots on a common ad, jobSlots
// on a job's own attributes).
func parseClusters(texts [][]string, common []string, slots, commonSlots, jobSlots func(*classad.ClassAd)) ([]parsedCluster, error) {
	out := make([]parsedCluster, len(texts))
	total := 0
	for c, ads := range texts {
		out[c].jobs = make([]parsedAd, len(ads))
		total += len(ads)
		if c < len(common) && common[c] != "" {
			pa, err := newLineParser(commonSlots).parse(common[c])
			if err != nil {
				return nil, &adError{cluster: c, job: -1, err: err}
			}
			out[c].common = pa
		}
	}
	workers := runtime.GOMAXPROCS(0)
	if total < parseWorkersMin {
		workers = 1
	}
	// Worker w parses the ads whose overall index is w modulo workers: each sees a
	// sample of every cluster, so each cache learns the common lines early.
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			whole, own := newLineParser(slots), newLineParser(jobSlots)
			i := 0
			for c, ads := range texts {
				p, base := whole, out[c].common
				if base.ad != nil {
					p = own
				}
				for j, text := range ads {
					i++
					if (i-1)%workers != w {
						continue
					}
					pa, err := p.parse(text)
					if err != nil {
						errs[w] = &adError{cluster: c, job: j, err: err}
						return
					}
					if base.ad != nil {
						pa.req = base.req.merge(pa.req)
					}
					out[c].jobs[j] = pa
				}
			}
		}()
	}
	wg.Wait()
	var first *adError
	for _, err := range errs {
		var ae *adError
		if errors.As(err, &ae) && (first == nil || ae.before(first)) {
			first = ae
		}
	}
	if first != nil {
		return nil, first
	}
	return out, nil
}

// adError is a submitted ad that does not parse: cluster (0-based in the request) and
// job (its ProcId to be; -1 for the cluster's common attributes).
type adError struct {
	cluster, job int
	err          error
}

func (e *adError) Error() string {
	if e.job < 0 {
		return fmt.Sprintf("cluster %d, common attributes: %v", e.cluster+1, e.err)
	}
	return fmt.Sprintf("cluster %d, job %d: %v", e.cluster+1, e.job, e.err)
}

func (e *adError) Unwrap() error { return e.err }

// before orders errors by position, so the reported one does not depend on scheduling.
func (e *adError) before(o *adError) bool {
	return e.cluster < o.cluster || e.cluster == o.cluster && e.job < o.job
}
