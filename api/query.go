package api

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ec2grid/ec2grid/classad"
)

// queryChunk is how many ads one worker renders before handing them to the writer: big
// enough that the hand-off is noise, small enough that the first bytes leave early and
// the rendered text in flight stays a few MiB.
const queryChunk = 1024

// queryWriteBuffer is the reply's write buffer: large writes keep the socket busy with
// few system calls.
const queryWriteBuffer = 256 << 10

func unixTime(sec int64) time.Time { return time.Unix(sec, 0) }

// errBadJobID says a job id is not "C" or "C.P".
var errBadJobID = errors.New("bad job id")

// parseJobID parses "C" (proc < 0 then) or "C.P".
func parseJobID(s string) (cluster, proc int64, err error) {
	c, p, hasProc := strings.Cut(s, ".")
	cluster, err = strconv.ParseInt(c, 10, 64)
	if err != nil || cluster < 1 {
		return 0, 0, fmt.Errorf("%w %q: want CLUSTER or CLUSTER.PROC", errBadJobID, s)
	}
	if !hasProc {
		return cluster, -1, nil
	}
	proc, err = strconv.ParseInt(p, 10, 64)
	if err != nil || proc < 0 {
		return 0, 0, fmt.Errorf("%w %q: want CLUSTER or CLUSTER.PROC", errBadJobID, s)
	}
	return cluster, proc, nil
}

// idsExpr returns the ClassAd text matching any of ids ("" when ids is empty).
func idsExpr(ids []string) (string, error) {
	var parts []string
	for _, id := range ids {
		c, p, err := parseJobID(id)
		if err != nil {
			return "", err
		}
		if p < 0 {
			parts = append(parts, fmt.Sprintf("ClusterId == %d", c))
		} else {
			parts = append(parts, fmt.Sprintf("(ClusterId == %d && ProcId == %d)", c, p))
		}
	}
	return strings.Join(parts, " || "), nil
}

// stringLit returns s as a ClassAd string literal.
func stringLit(s string) string { return classad.Unparse(classad.Literal(classad.String(s))) }

// andExprs joins the non-empty parts with &&, each parenthesized; "" when none.
func andExprs(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, "("+p+")")
		}
	}
	return strings.Join(out, " && ")
}

// parseConstraint parses text (what says which request field it is); nil for "".
func parseConstraint(what, text string) (classad.Expr, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	e, err := classad.ParseExpr(text)
	if err != nil {
		return nil, fmt.Errorf("%s %q is not a ClassAd expression: %v", what, text, err)
	}
	return e, nil
}

func (s *Server) query(w http.ResponseWriter, r *http.Request, _ Peer) {
	var req QueryRequest
	if !decode(w, r, PathQuery, MaxRequestBody, &req) {
		return
	}
	if _, err := parseConstraint("constraint", req.Constraint); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "query: "+err.Error(), 0)
		return
	}
	ids, err := idsExpr(req.IDs)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "query: "+err.Error(), 0)
		return
	}
	owner := ""
	if req.Owner != "" {
		owner = "Owner == " + stringLit(req.Owner)
	}
	if req.Limit < 0 {
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("query: limit %d is negative", req.Limit), 0)
		return
	}
	var constraint classad.Expr
	if text := andExprs(strings.TrimSpace(req.Constraint), ids, owner); text != "" {
		if constraint, err = classad.ParseExpr(text); err != nil {
			writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("query: constraint %q: %v", text, err), 0)
			return
		}
	}
	var ads []*classad.ClassAd
	if req.History {
		ads, err = s.cfg.Store.History(r.Context(), constraint, req.Limit)
	} else {
		// The store's own ads, not copies: the reply only reads them.
		ads, err = s.cfg.Store.QueryShared(r.Context(), constraint)
		if err == nil && req.Limit > 0 && len(ads) > req.Limit {
			ads = ads[:req.Limit]
		}
	}
	if err != nil {
		s.storeError(w, "query", err)
		return
	}
	// HTCondor adds ServerTime, the schedd's now, to every ad a queue query returns
	// (condor_q's RUN_TIME uses it); history ads do not get it.
	serverTime := ""
	if !req.History {
		serverTime = "ServerTime = " + strconv.FormatInt(s.now().Unix(), 10) + "\n"
	}
	s.streamAds(w, ads, projection(req.Projection), serverTime)
}

// projection returns the attributes to keep, with ClusterId and ProcId, in lower case
// (a lower-case name is looked up without converting it) and sorted, so projected ads
// print in the order whole ones do; nil for all.
func projection(attrs []string) []string {
	if len(attrs) == 0 {
		return nil
	}
	seen := map[string]bool{"clusterid": true, "procid": true}
	out := []string{"clusterid", "procid"}
	for _, a := range attrs {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" || seen[a] {
			continue
		}
		seen[a] = true
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// streamAds writes {"ads":[...]} with each ad rendered in long form, rendering on all
// CPUs in chunks while earlier chunks are written, so a reply of 100,000 ads neither
// waits for all of them nor holds all their text at once.
func (s *Server) streamAds(w http.ResponseWriter, ads []*classad.ClassAd, proj []string, extra string) {
	w.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriterSize(w, queryWriteBuffer)
	bw.WriteString(`{"ads":[`)
	nchunks := (len(ads) + queryChunk - 1) / queryChunk
	workers := min(runtime.GOMAXPROCS(0), nchunks)
	results := make([]chan []byte, nchunks)
	for i := range results {
		results[i] = make(chan []byte, 1)
	}
	next := make(chan int)
	done := make(chan struct{})
	defer close(done)
	for range workers {
		go func() {
			for i := range next {
				lo, hi := i*queryChunk, min((i+1)*queryChunk, len(ads))
				var b []byte
				for j := lo; j < hi; j++ {
					if j > 0 {
						b = append(b, ',')
					}
					b = appendJSONString(b, renderAd(ads[j], proj, extra))
				}
				results[i] <- b
			}
		}()
	}
	// slots bounds the chunks rendered but not yet written, and so the text in flight.
	slots := make(chan struct{}, 2*workers)
	go func() {
		defer close(next)
		for i := range nchunks {
			select {
			case slots <- struct{}{}:
			case <-done:
				return
			}
			select {
			case next <- i:
			case <-done:
				return
			}
		}
	}()
	for i := range nchunks {
		b := <-results[i]
		<-slots
		if _, err := bw.Write(b); err != nil {
			break // the caller went away; done stops the hand-out, workers finish their chunk
		}
	}
	bw.WriteString("]}\n")
	bw.Flush()
}

// renderAd returns ad in long form, only the projected attributes when proj is set, with
// extra appended.
func renderAd(ad *classad.ClassAd, proj []string, extra string) string {
	if proj == nil {
		return ad.MarshalLong() + extra
	}
	var b strings.Builder
	for _, lower := range proj {
		e, ok := ad.Lookup(lower)
		if !ok {
			continue
		}
		name, _ := ad.Name(lower)
		b.WriteString(name)
		b.WriteString(" = ")
		b.WriteString(classad.Unparse(e))
		b.WriteByte('\n')
	}
	b.WriteString(extra)
	return b.String()
}

// appendJSONString appends s as a JSON string. Only what JSON requires is escaped; text
// that is not UTF-8 becomes U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\t':
				b = append(b, '\\', 't')
			case '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
