package cloud

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// maxListIndex bounds the N of a Name.N parameter. EC2 numbers lists from 1 (HTCondor's
// gahp from 0 for SecurityGroup and Tag); no real list comes near this, and the bound
// keeps a hostile Name.99999999999 from meaning anything.
const maxListIndex = 1_000_000

// params are one request's parameters, from the query string and the form body together.
type params url.Values

// get gives the first value of name, "" if absent.
func (p params) get(name string) string {
	if v := p[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// has reports whether name was sent at all (even empty).
func (p params) has(name string) bool {
	_, ok := p[name]
	return ok
}

// indexes gives, in ascending order, every N for which some parameter prefix.N or
// prefix.N.<anything> was sent.
func (p params) indexes(prefix string) []int {
	var out []int
	for k := range p {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok || len(rest) < 2 || rest[0] != '.' {
			continue
		}
		rest = rest[1:]
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			rest = rest[:i]
		}
		n, ok := listIndex(rest)
		if ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// listIndex parses the N of Name.N: decimal digits only, at most maxListIndex.
func listIndex(s string) (int, bool) {
	if s == "" || len(s) > 7 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n <= maxListIndex
}

// list gives the values of prefix.1, prefix.2, … in index order. Clients that send a
// one-element list without its index (boto 2's InstanceType=) are served too: a bare
// prefix counts as the first element.
func (p params) list(prefix string) []string {
	var out []string
	if p.has(prefix) {
		out = append(out, p.get(prefix))
	}
	for _, n := range p.indexes(prefix) {
		key := prefix + "." + strconv.Itoa(n)
		if p.has(key) {
			out = append(out, p.get(key))
		}
	}
	return out
}

// sub gives the key of a member of list element n: sub("Tag", 1, "Key") = "Tag.1.Key".
func sub(prefix string, n int, member string) string {
	return prefix + "." + strconv.Itoa(n) + "." + member
}

// integer parses an optional integer parameter; ok=false when absent.
func (p params) integer(name string) (v int, ok bool, err *apiError) {
	if !p.has(name) {
		return 0, false, nil
	}
	s := p.get(name)
	n, perr := strconv.Atoi(strings.TrimSpace(s))
	if perr != nil {
		return 0, true, errInvalidValue(name, s)
	}
	return n, true, nil
}

// boolean parses an optional boolean parameter (EC2 accepts true/false in any case).
func (p params) boolean(name string) (bool, *apiError) {
	if !p.has(name) {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(p.get(name))) {
	case "true":
		return true, nil
	case "false", "":
		return false, nil
	}
	return false, errInvalidValue(name, p.get(name))
}

// filter is one Filter.N: a name and the values any of which may match.
type filter struct {
	name   string
	values []string
}

// filters parses Filter.N.Name / Filter.N.Value.M. A filter without a name is an error,
// as on EC2; one without values matches nothing.
func (p params) filters() ([]filter, *apiError) {
	var out []filter
	for _, n := range p.indexes("Filter") {
		name := p.get(sub("Filter", n, "Name"))
		if name == "" {
			return nil, errMissingParameter(sub("Filter", n, "Name"))
		}
		out = append(out, filter{name: name, values: p.list(sub("Filter", n, "Value"))})
	}
	return out, nil
}

// matchAny reports whether v matches any of the patterns, EC2-style: * matches any run
// of characters, ? any one, and a backslash escapes the next character.
func matchAny(patterns []string, v string) bool {
	for _, pat := range patterns {
		if globMatch(pat, v) {
			return true
		}
	}
	return false
}

// globMatch matches s against pat (see matchAny), character by character, in time
// O(len(pat)·len(s)) at worst with the usual single-backtrack-point algorithm, so hostile
// patterns cannot blow up.
func globMatch(pattern, str string) bool {
	if !strings.ContainsAny(pattern, `*?\`) {
		return pattern == str
	}
	pat, s := []rune(pattern), []rune(str)
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pat) {
			switch c := pat[p]; {
			case c == '*':
				starP, starI = p, i
				p++
				continue
			case c == '?':
				p++
				i++
				continue
			case c == '\\' && p+1 < len(pat):
				if pat[p+1] == s[i] {
					p += 2
					i++
					continue
				}
			default:
				if c == s[i] {
					p++
					i++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starI++
		i = starI
		p = starP + 1
	}
	for p < len(pat) && pat[p] == '*' {
		p++
	}
	return p == len(pat)
}

// unique drops repeats, keeping first occurrences in order.
func unique(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := list[:0]
	for _, v := range list {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// page reads MaxResults and NextToken the way EC2's paginated Describe calls do:
// MaxResults must lie in [lo, hi] and cannot be combined with an explicit id list (named
// setName in EC2's message); NextToken is an opaque position from a previous page. With no
// MaxResults, maxResults is 0 (everything).
func (p params) page(setName string, withIDs bool, lo, hi int) (maxResults int, after uint64, err *apiError) {
	maxResults, hasMax, err := p.integer("MaxResults")
	if err != nil {
		return 0, 0, err
	}
	if hasMax && withIDs {
		return 0, 0, errCombination("The parameter %s cannot be used with the parameter maxResults", setName)
	}
	if hasMax && (maxResults < lo || maxResults > hi) {
		return 0, 0, clientError("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", maxResults, lo, hi)
	}
	if !hasMax {
		maxResults = 0
	}
	if tok := p.get("NextToken"); tok != "" {
		seq, ok := decodePageToken(tok)
		if !ok {
			return 0, 0, clientError("InvalidPaginationToken", "The specified pagination token is not valid or is expired.")
		}
		after = seq
	}
	return maxResults, after, nil
}
