package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// setting is one `NAME = value` line of config.hcl, its value as text (numbers in decimal,
// lists joined with commas) so that the file and the environment share one parser per kind.
type setting struct {
	name  string // the knob's name, upper-cased as the table spells it
	value string
	line  int
}

// maxSuggestDistance is how many single-letter edits apart an unknown name and a knob may
// be for "did you mean": enough for a typo or a dropped letter, not for a different knob.
const maxSuggestDistance = 3

// maxKnobNameLen is about the longest knob name, which bounds the names worth comparing.
const maxKnobNameLen = len(knobMaxSubmitEC2)

// parseFile reads config.hcl's flat attributes. Names are HTCondor's and, like
// HTCondor's, case-insensitive. Every mistake (syntax, a block, an unknown or repeated
// name, a value that is not a constant) is reported, each as "FILE:LINE: ...".
func parseFile(src []byte, filename string) ([]setting, error) {
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diagError(diags, filename)
	}
	body, ok := file.Body.(*hclsyntax.Body)
	if !ok {
		return nil, fmt.Errorf("%s: not a native HCL file", filename)
	}
	known := map[string]spec{}
	for _, s := range specs() {
		known[s.Name] = s
	}
	type fileErr struct {
		byte int
		msg  string
	}
	var errs []fileErr
	at := func(r hcl.Range, format string, args ...any) {
		errs = append(errs, fileErr{r.Start.Byte, fmt.Sprintf("%s:%d: ", filename, r.Start.Line) + fmt.Sprintf(format, args...)})
	}
	for _, b := range body.Blocks {
		at(b.TypeRange, "%s { ... }: config.hcl holds only NAME = value lines, not blocks", printable(b.Type))
	}
	attrs := make([]*hclsyntax.Attribute, 0, len(body.Attributes))
	for _, a := range body.Attributes {
		attrs = append(attrs, a)
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].NameRange.Start.Byte < attrs[j].NameRange.Start.Byte })
	var out []setting
	seen := map[string]int{}
	for _, a := range attrs {
		name := strings.ToUpper(a.Name)
		sp, ok := known[name]
		switch {
		case !ok:
			at(a.NameRange, "unknown knob %s%s", printable(a.Name), suggest(name))
			continue
		case sp.envOnly:
			at(a.NameRange, "%s can only be set in the environment: it says where config.hcl is", sp.Name)
			continue
		case seen[name] != 0:
			at(a.NameRange, "%s is set twice (also on line %d)", sp.Name, seen[name])
			continue
		}
		seen[name] = a.NameRange.Start.Line
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			at(a.NameRange, "%s: %s", sp.Name, diagText(diags))
			continue
		}
		text, err := valueText(v, sp.Kind)
		if err != nil {
			at(a.NameRange, "%s: %v", sp.Name, err)
			continue
		}
		out = append(out, setting{name: sp.Name, value: text, line: a.NameRange.Start.Line})
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].byte < errs[j].byte })
		lines := make([]string, len(errs))
		for i, e := range errs {
			lines[i] = e.msg
		}
		return nil, fmt.Errorf("%s", strings.Join(lines, "\n"))
	}
	return out, nil
}

// valueText turns a constant HCL value into the text the knob's parser reads: a string as
// it is, a number in decimal, and for a list knob a list of strings joined with commas.
func valueText(v cty.Value, kind string) (string, error) {
	if v.IsNull() {
		return "", fmt.Errorf("null is not a value; leave the line out for the default")
	}
	if !v.IsWhollyKnown() {
		return "", fmt.Errorf("the value is not a constant")
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString(), nil
	case t == cty.Number:
		return v.AsBigFloat().Text('g', -1), nil
	case t == cty.Bool && kind == kindBool:
		return strconv.FormatBool(v.True()), nil
	case t == cty.Bool:
		return "", fmt.Errorf("%v is a bool; want a %s", v.True(), kindNoun(kind))
	case (t.IsTupleType() || t.IsListType()) && kind == kindList:
		var items []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() || e.Type() != cty.String {
				return "", fmt.Errorf("a list of %s holds only strings", kindNoun(kind))
			}
			items = append(items, e.AsString())
		}
		return strings.Join(items, ","), nil
	default:
		return "", fmt.Errorf("a %s is not a %s", t.FriendlyName(), kindNoun(kind))
	}
}

// printable is name as written when it is plain ASCII, else quoted, so that an error
// about a garbled name stays on one readable line.
func printable(name string) string {
	for _, c := range []byte(name) {
		if c < ' ' || c > '~' {
			return strconv.Quote(name)
		}
	}
	return name
}

// kindNoun is how an error names a kind of value.
func kindNoun(kind string) string {
	switch kind {
	case kindDuration:
		return "duration (seconds or a string like \"90s\")"
	case kindMillis:
		return "duration (milliseconds or a string like \"100ms\")"
	case kindInt:
		return "whole number"
	case kindFloat:
		return "number"
	case kindList:
		return "names"
	case kindBool:
		return "true or false"
	default:
		return "string"
	}
}

// diagError turns HCL's syntax diagnostics into one error, a line each, in the
// FILE:LINE:COL form compilers use.
func diagError(diags hcl.Diagnostics, filename string) error {
	var lines []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := diagText(hcl.Diagnostics{d})
		if d.Subject != nil {
			msg = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, msg)
		} else {
			msg = filename + ": " + msg
		}
		lines = append(lines, msg)
	}
	return fmt.Errorf("%s", strings.Join(lines, "\n"))
}

// diagText is the first error diagnostic's summary and detail.
func diagText(diags hcl.Diagnostics) string {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		if d.Detail == "" {
			return d.Summary
		}
		return d.Summary + ": " + strings.TrimSuffix(d.Detail, ".")
	}
	return "invalid value"
}

// suggest is " (did you mean KNOB?)" for the knob nearest an unknown name, or "".
func suggest(name string) string {
	if k, ok := strings.CutPrefix(name, envPrefix); ok {
		for _, s := range specs() {
			if s.Name == k {
				return fmt.Sprintf(" (did you mean %s? the %s prefix is for the environment)", k, envPrefix)
			}
		}
	}
	if len(name) > 2*maxKnobNameLen {
		return "" // too far from every knob, and distance is quadratic
	}
	best, bestD := "", maxSuggestDistance+1
	for _, s := range specs() {
		// A short name is near every other short name: allow an edit per 4 letters.
		if d := distance(name, s.Name); d < bestD && d <= max(1, len(s.Name)/4) {
			best, bestD = s.Name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// distance is the Levenshtein distance between a and b, in bytes (knob names are ASCII).
func distance(a, b string) int {
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
