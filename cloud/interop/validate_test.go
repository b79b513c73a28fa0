package interop

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// botocoreModelPath is botocore's EC2 service model as Debian's python3-botocore installs
// it. Every EC2 SDK is generated from this model's upstream; botocore parses responses by
// walking it, so it is the most exact statement of the XML a client will understand.
const botocoreModelPath = "/usr/lib/python3/dist-packages/botocore/data/ec2/2016-11-15/service-2.json"

// ec2Namespace is the namespace of every EC2 response document, followed by the request's
// API version and a slash ("http://ec2.amazonaws.com/doc/2016-11-15/").
const ec2Namespace = "http://ec2.amazonaws.com/doc/"

// maxElementDepth bounds how deep a response may nest. The EC2 model's deepest output is
// about ten levels; anything far beyond is garbage, and the bound keeps the recursive walk
// safe on hostile input (the fuzz target).
const maxElementDepth = 64

// ec2Model is the part of botocore's service model the validator needs.
type ec2Model struct {
	Metadata struct {
		APIVersion string `json:"apiVersion"`
		Protocol   string `json:"protocol"`
	} `json:"metadata"`
	Operations map[string]struct {
		Output *memberRef `json:"output"`
	} `json:"operations"`
	Shapes map[string]*modelShape `json:"shapes"`
}

// modelShape is one shape: a structure (Members), a list (Member), a map (Key, Value) or a
// scalar (string, integer, long, boolean, timestamp, double, float, blob).
type modelShape struct {
	Type      string               `json:"type"`
	Members   map[string]memberRef `json:"members"`
	Member    *memberRef           `json:"member"`
	Key       *memberRef           `json:"key"`
	Value     *memberRef           `json:"value"`
	Enum      []string             `json:"enum"`
	Flattened bool                 `json:"flattened"`
}

// memberRef points at a shape, with the element name it is serialized under.
type memberRef struct {
	Shape        string `json:"shape"`
	LocationName string `json:"locationName"`
	Flattened    bool   `json:"flattened"`
}

// loadModel reads and checks a botocore EC2 model.
func loadModel(path string) (*ec2Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the EC2 model: %w", err)
	}
	var m ec2Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse the EC2 model %s: %w", path, err)
	}
	if m.Metadata.Protocol != "ec2" || len(m.Shapes) == 0 {
		return nil, fmt.Errorf("%s is not botocore's EC2 model (protocol %q, %d shapes)", path, m.Metadata.Protocol, len(m.Shapes))
	}
	for name, s := range m.Shapes {
		for _, ref := range s.refs() {
			if m.Shapes[ref.Shape] == nil {
				return nil, fmt.Errorf("%s: shape %s refers to missing shape %s", path, name, ref.Shape)
			}
		}
	}
	return &m, nil
}

// refs lists the shapes s refers to.
func (s *modelShape) refs() []memberRef {
	var out []memberRef
	for _, r := range s.Members {
		out = append(out, r)
	}
	for _, r := range []*memberRef{s.Member, s.Key, s.Value} {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out
}

// exchange is one EC2 call as the recording proxy saw it.
type exchange struct {
	Action, Version string // from the request's parameters
	Status          int
	Header          http.Header
	Body            []byte
}

// expectations are what a flavor promises beyond the model (htcondor-ec2.md §2.8): AWS
// and OpenStack put <requestId> in success bodies, Nimbus and Eucalyptus do not.
type expectations struct {
	requestID bool
}

// report is the validator's verdict on one response: problems make a client misread it
// (or read nothing, silently); notes are legal but worth a look (a value outside the
// model's enum, which every SDK accepts as a plain string).
type report struct {
	problems []string
	notes    []string
}

func (r *report) problem(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// xmlNode is an element of a response document.
type xmlNode struct {
	name     xml.Name
	attrs    []xml.Attr
	children []*xmlNode
	text     strings.Builder // character data directly inside the element
}

// parseXML reads a whole document into a tree. It refuses more than one root element and
// nesting deeper than maxElementDepth.
func parseXML(body []byte) (*xmlNode, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	var stack []*xmlNode
	var root *xmlNode
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xmlNode{name: t.Name, attrs: t.Attr}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("more than one root element")
				}
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			}
			if len(stack) >= maxElementDepth {
				return nil, fmt.Errorf("elements nest deeper than %d", maxElementDepth)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

// validate checks one response against the model: the document's envelope, its namespace,
// and every element under it, by name, by list item name and by scalar type.
func (m *ec2Model) validate(ex exchange, want expectations) report {
	var r report
	reqID := ex.Header.Get("x-amzn-RequestId")
	if reqID == "" {
		r.problem("no x-amzn-RequestId header (the JS SDK reads the request id only from it)")
	}
	root, err := parseXML(ex.Body)
	if err != nil {
		r.problem("body is not well-formed XML: %v", err)
		return r
	}
	if ex.Status >= 300 {
		m.validateError(root, ex, &r)
		return r
	}
	op, ok := m.Operations[ex.Action]
	if !ok {
		r.problem("action %q is not an operation of the EC2 model", ex.Action)
		return r
	}
	if root.name.Local != ex.Action+"Response" {
		r.problem("root <%s> should be <%sResponse> (a %d answer is parsed as a success)", root.name.Local, ex.Action, ex.Status)
		return r
	}
	checkNamespace(root, ex.Version, &r)
	var payload []*xmlNode
	var requestIDs []*xmlNode
	for _, c := range root.children {
		if c.name.Local == "requestId" {
			requestIDs = append(requestIDs, c)
			continue
		}
		payload = append(payload, c)
	}
	switch {
	case want.requestID && len(requestIDs) == 0:
		r.problem("no <requestId> in the body")
	case want.requestID && len(requestIDs) > 1:
		r.problem("<requestId> appears %d times", len(requestIDs))
	case want.requestID && strings.TrimSpace(requestIDs[0].text.String()) == "":
		r.problem("<requestId> is empty")
	case want.requestID && reqID != "" && strings.TrimSpace(requestIDs[0].text.String()) != reqID:
		r.problem("<requestId> %q differs from the x-amzn-RequestId header %q", requestIDs[0].text.String(), reqID)
	case !want.requestID && len(requestIDs) > 0:
		r.problem("<requestId> in the body, which this flavor's server does not send (HTCondor's server-type ping keys on it)")
	}
	if len(root.children) > 0 && want.requestID && root.children[0].name.Local != "requestId" {
		r.note("<requestId> is not the first element, as EC2 puts it")
	}
	if strings.TrimSpace(root.text.String()) != "" {
		r.problem("/: stray text %q", shorten(root.text.String()))
	}
	if op.Output == nil {
		// An operation without output: EC2 answers <return>true</return>, which botocore
		// ignores; anything else would be lost.
		for _, c := range payload {
			if c.name.Local != "return" {
				r.problem("/%s: %s has no output in the model", c.name.Local, ex.Action)
				continue
			}
			checkScalar(c, "boolean", nil, "/return", &r)
		}
		return r
	}
	out := m.Shapes[op.Output.Shape]
	m.checkMembers(payload, out, op.Output.Shape, "", &r)
	return r
}

// checkNamespace checks the root's namespace against the request's API version.
func checkNamespace(root *xmlNode, version string, r *report) {
	ns := root.name.Space
	switch {
	case ns == "":
		r.problem("root has no namespace; want xmlns=%q", ec2Namespace+version+"/")
	case !strings.Contains(ns, ":"):
		// encoding/xml leaves an undeclared prefix as the Space; ElementTree (botocore)
		// refuses such a document outright.
		r.problem("root's prefix %q is not declared", ns)
	case !namespacePattern.MatchString(ns):
		r.problem("namespace %q is not %s<Version>/ (the trailing slash matters to libcloud)", ns, ec2Namespace)
	case version != "" && ns != ec2Namespace+version+"/":
		r.problem("namespace %q does not echo the request's Version %s", ns, version)
	}
}

// validateError checks an error document: EC2's envelope, which every SDK parses.
func (m *ec2Model) validateError(root *xmlNode, ex exchange, r *report) {
	if ex.Status < 400 {
		r.problem("HTTP %d is neither success nor an error status", ex.Status)
	}
	const envelope = "<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>"
	if root.name.Local != "Response" {
		r.problem("error root <%s> should be %s", root.name.Local, envelope)
		return
	}
	var errorsN, idN int
	for _, c := range root.children {
		switch c.name.Local {
		case "Errors":
			errorsN++
			if len(c.children) == 0 {
				r.problem("<Errors> has no <Error>")
			}
			for _, e := range c.children {
				if e.name.Local != "Error" {
					r.problem("<Errors>/<%s>: want <Error>", e.name.Local)
					continue
				}
				var code, msg int
				for _, f := range e.children {
					switch f.name.Local {
					case "Code":
						code++
						if strings.TrimSpace(f.text.String()) == "" {
							r.problem("<Error>/<Code> is empty")
						}
					case "Message":
						msg++
					default:
						r.problem("<Error>/<%s>: not part of %s", f.name.Local, envelope)
					}
				}
				if code != 1 || msg != 1 {
					r.problem("<Error> has %d <Code> and %d <Message>; want one each", code, msg)
				}
			}
		case "RequestID":
			idN++
			if strings.TrimSpace(c.text.String()) == "" {
				r.problem("<RequestID> is empty")
			}
		case "RequestId", "requestId":
			r.problem("<%s> in an error document: EC2 spells it <RequestID>", c.name.Local)
		default:
			r.problem("<Response>/<%s>: not part of %s", c.name.Local, envelope)
		}
	}
	if errorsN != 1 || idN != 1 {
		r.problem("<Response> has %d <Errors> and %d <RequestID>; want one each", errorsN, idN)
	}
}

// checkMembers checks the elements of a structure of shape s (named shapeName) at where.
func (m *ec2Model) checkMembers(elems []*xmlNode, s *modelShape, shapeName, where string, r *report) {
	byElement := make(map[string]memberRef, len(s.Members))
	for name, ref := range s.Members {
		// botocore's name for a member's element: its locationName, else the member
		// name as written (the EC2 model gives nearly every output member a locationName).
		el := ref.LocationName
		if el == "" {
			el = name
		}
		byElement[el] = ref
	}
	seen := map[string]bool{}
	for _, c := range elems {
		tag := c.name.Local
		path := where + "/" + tag
		ref, ok := byElement[tag]
		if !ok {
			r.problem("%s: not a member of %s (clients drop it silently)%s", path, shapeName, didYouMean(tag, byElement))
			continue
		}
		if seen[tag] {
			r.problem("%s: appears twice in one %s (clients keep only one)", path, shapeName)
		}
		seen[tag] = true
		m.checkValue(c, ref, path, r)
	}
}

// checkValue checks the element c holding a value of ref's shape.
func (m *ec2Model) checkValue(c *xmlNode, ref memberRef, path string, r *report) {
	s := m.Shapes[ref.Shape]
	switch s.Type {
	case "structure":
		if strings.TrimSpace(c.text.String()) != "" {
			r.problem("%s: stray text %q in structure %s", path, shorten(c.text.String()), ref.Shape)
		}
		m.checkMembers(c.children, s, ref.Shape, path, r)
	case "list":
		if s.Flattened || ref.Flattened {
			r.problem("%s: flattened lists are not in the EC2 model; the validator cannot check %s", path, ref.Shape)
			return
		}
		item := s.Member.LocationName
		if item == "" {
			item = "member"
		}
		if strings.TrimSpace(c.text.String()) != "" {
			r.problem("%s: stray text %q in list %s", path, shorten(c.text.String()), ref.Shape)
		}
		for _, it := range c.children {
			if it.name.Local != item {
				r.problem("%s/%s: list items of %s must be <%s> (clients read an empty list)", path, it.name.Local, ref.Shape, item)
				continue
			}
			m.checkValue(it, *s.Member, path+"/"+item, r)
		}
	case "map":
		for _, e := range c.children {
			if e.name.Local != "entry" {
				r.problem("%s/%s: map entries of %s must be <entry>", path, e.name.Local, ref.Shape)
				continue
			}
			keyName, valueName := orDefault(s.Key.LocationName, "key"), orDefault(s.Value.LocationName, "value")
			for _, kv := range e.children {
				switch kv.name.Local {
				case keyName:
					m.checkValue(kv, *s.Key, path+"/entry/"+keyName, r)
				case valueName:
					m.checkValue(kv, *s.Value, path+"/entry/"+valueName, r)
				default:
					r.problem("%s/entry/%s: want <%s> or <%s>", path, kv.name.Local, keyName, valueName)
				}
			}
		}
	default:
		if len(c.children) > 0 {
			r.problem("%s: %s %s holds elements (<%s>...)", path, s.Type, ref.Shape, c.children[0].name.Local)
			return
		}
		checkScalar(c, s.Type, s.Enum, path, r)
	}
}

// namespacePattern is the form of every EC2 namespace.
var namespacePattern = regexp.MustCompile(`^http://ec2\.amazonaws\.com/doc/\d{4}-\d\d-\d\d/$`)

// timestampPattern is ISO 8601 as EC2 writes it: 2024-01-01T00:00:00.000Z, fraction and
// a numeric offset optional.
var timestampPattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$`)

// checkScalar checks the text of a scalar element of the given model type.
func checkScalar(c *xmlNode, typ string, enum []string, path string, r *report) {
	v := strings.TrimSpace(c.text.String())
	switch typ {
	case "integer", "long":
		bits := 32
		if typ == "long" {
			bits = 64
		}
		if _, err := strconv.ParseInt(v, 10, bits); err != nil {
			r.problem("%s: %q is not an %s", path, shorten(v), typ)
		}
	case "boolean":
		if v != "true" && v != "false" {
			r.problem("%s: %q is not a boolean (true or false)", path, shorten(v))
		}
	case "double", "float":
		if f, err := strconv.ParseFloat(v, 64); err != nil || math.IsNaN(f) {
			r.problem("%s: %q is not a %s", path, shorten(v), typ)
		}
	case "timestamp":
		if !timestampPattern.MatchString(v) {
			r.problem("%s: %q is not an ISO 8601 timestamp like 2024-01-01T00:00:00.000Z", path, shorten(v))
		} else if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			r.problem("%s: %q is not a valid time: %v", path, shorten(v), err)
		}
	case "blob":
		if _, err := base64.StdEncoding.DecodeString(v); err != nil {
			r.problem("%s: %q is not base64", path, shorten(v))
		}
	case "string":
		if len(enum) > 0 && v != "" && !containsString(enum, v) {
			r.note("%s: %q is not in the model's enum (SDKs accept it as a string)", path, shorten(v))
		}
	default:
		r.problem("%s: the validator does not know type %q", path, typ)
	}
}

// didYouMean suggests the member whose element name differs from tag only in case or by
// a letter or two, the usual way a response shape goes wrong ("instanceSet").
func didYouMean(tag string, members map[string]memberRef) string {
	best, bestD := "", 3
	for el := range members {
		if strings.EqualFold(el, tag) {
			return fmt.Sprintf("; did you mean <%s>?", el)
		}
		if d := editDistance(el, tag); d < bestD || d == bestD && el < best {
			best, bestD = el, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean <%s>?", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// shorten keeps error messages readable when a value is a whole key or console output.
func shorten(s string) string {
	const maxQuoted = 60
	if len(s) <= maxQuoted {
		return s
	}
	return s[:maxQuoted] + "..."
}
