package submit

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/ec2grid/ec2grid/classad"
)

// foreachMode is how a queue statement gets its items.
type foreachMode uint8

const (
	foreachNone          foreachMode = iota // queue [N]
	foreachIn                               // queue [N] [vars] in items
	foreachFrom                             // queue [N] [vars] from file | ( rows )
	foreachMatching                         // queue [N] [var] matching globs (files and directories)
	foreachMatchingFiles                    // ... matching files globs
	foreachMatchingDirs                     // ... matching dirs globs
)

// queueSpec is a queue statement as written.
type queueSpec struct {
	args   string     // the text after "queue", unexpanded
	lines  []string   // the lines of a ( ... ) item list that spans lines
	parsed *queueArgs // set at parse time when args has no macros
}

// queueArgs is a parsed queue statement.
type queueArgs struct {
	count int
	vars  []string // loop variable names; empty means Item
	mode  foreachMode
	slice *slice
	items []string // in and matching: items (globs for matching); from ( ... ): rows
	file  string   // from <file>
}

// parseQueueArgs parses the (expanded) arguments of a queue statement and the lines of a
// multi-line item list, following HTCondor's SubmitForeachArgs::parse_queue_args: find the
// in/from/matching keyword, read qualifiers and the item list after it, then walk back from
// it over the loop variable names; whatever precedes them is the count expression.
func parseQueueArgs(args string, lines []string) (*queueArgs, error) {
	qa := &queueArgs{count: 1}
	args = strings.TrimSpace(args)
	if args == "" {
		if len(lines) > 0 {
			return nil, errors.New("item lines follow a queue statement without in, from or matching")
		}
		return qa, nil
	}
	syn, err := scanQueue(args)
	if err != nil {
		return nil, err
	}
	countText := args
	if syn.mode != foreachNone {
		qa.mode, qa.slice = syn.mode, syn.slice
		list := syn.list
		switch {
		case strings.HasPrefix(list, "(") && strings.HasSuffix(list, ")") && len(list) >= 2 && len(lines) == 0:
			inner := strings.TrimSpace(list[1 : len(list)-1])
			if qa.mode == foreachFrom {
				// HTCondor reads a one-line "from ( ... )" as a single row.
				if inner != "" {
					qa.items = []string{inner}
				}
			} else {
				qa.items = splitItems(inner)
			}
		case strings.HasPrefix(list, "("):
			first := strings.TrimSpace(list[1:])
			all := lines
			if first != "" {
				all = append([]string{first}, lines...)
			}
			for _, l := range all {
				if qa.mode == foreachFrom {
					if l = strings.TrimSpace(l); l != "" {
						qa.items = append(qa.items, l)
					}
				} else {
					qa.items = append(qa.items, splitItems(l)...)
				}
			}
		case qa.mode == foreachFrom:
			if list == "" {
				return nil, errors.New("queue ... from needs a file name or a ( ... ) list of rows")
			}
			if strings.HasSuffix(list, "|") {
				return nil, errors.New("queue ... from a command (|) is not supported by ec2grid: write the command's output to a file and queue from that")
			}
			qa.file = list
		default:
			qa.items = splitItems(list)
		}
		if len(lines) > 0 && !strings.HasPrefix(list, "(") {
			return nil, errors.New("item lines follow a queue statement whose list does not start with (")
		}
		before := strings.TrimRight(args[:syn.kwStart], " \t")
		vs := varsStart(before)
		for _, v := range splitItems(before[vs:]) {
			if !isVarName(v) {
				return nil, errors.New("Invalid queue variable name " + quote(v))
			}
			qa.vars = append(qa.vars, v)
		}
		countText = strings.TrimSpace(before[:vs])
	} else if len(lines) > 0 {
		return nil, errors.New("item lines follow a queue statement without in, from or matching")
	}
	if countText != "" {
		n, err := queueCount(countText)
		if err != nil {
			return nil, err
		}
		qa.count = n
	}
	return qa, nil
}

// queueCount evaluates the count expression of a queue statement.
func queueCount(text string) (int, error) {
	e, err := classad.ParseExpr(text)
	if err != nil {
		return 0, errors.New("Invalid Queue count expression " + quote(text))
	}
	v := (&classad.Context{}).Eval(e)
	n, ok := v.IntValue()
	if !ok {
		return 0, errors.New("Invalid Queue count expression " + quote(text) + " (it is not an integer)")
	}
	if n < 0 || n >= math.MaxInt32 {
		return 0, errors.New("Queue count out of range: " + strconv.FormatInt(n, 10))
	}
	return int(n), nil
}

// queueSyntax is the structure of a queue statement's arguments around its keyword.
type queueSyntax struct {
	mode    foreachMode
	kwStart int // offset of the in/from/matching keyword
	slice   *slice
	list    string // what follows the keyword and its qualifiers, trimmed
}

// scanQueue finds the in/from/matching keyword and the qualifiers after it. A keyword
// counts only when whitespace or '(' follows it, as in HTCondor's queue_token_scan.
func scanQueue(args string) (queueSyntax, error) {
	var syn queueSyntax
	i := 0
scan:
	for i < len(args) {
		if isSpace(args[i]) || args[i] == '(' {
			i++
			continue
		}
		start := i
		for i < len(args) && !isSpace(args[i]) && args[i] != '(' {
			i++
		}
		if i >= len(args) {
			break // an unterminated last token is never a keyword
		}
		switch strings.ToLower(args[start:i]) {
		case "in":
			syn.mode = foreachIn
		case "from":
			syn.mode = foreachFrom
		case "matching":
			syn.mode = foreachMatching
		default:
			continue
		}
		syn.kwStart = start
		break scan
	}
	if syn.mode == foreachNone {
		return syn, nil
	}
	p := i
	for {
		for p < len(args) && isSpace(args[p]) {
			p++
		}
		if p >= len(args) || args[p] == '(' {
			break
		}
		q := p
		for q < len(args) && !isSpace(args[q]) && args[q] != '(' {
			q++
		}
		tok := args[p:q]
		switch strings.ToLower(tok) {
		case "files", "dirs", "any":
			if syn.mode != foreachMatching {
				return syn, errors.New("Queue keyword conflict: " + tok + " qualifies only matching")
			}
			switch strings.ToLower(tok) {
			case "files":
				syn.mode = foreachMatchingFiles
			case "dirs":
				syn.mode = foreachMatchingDirs
			}
			p = q
			continue
		}
		if strings.HasPrefix(tok, "[") {
			if syn.slice != nil {
				return syn, errors.New("Queue keyword conflict: two slices")
			}
			s, err := parseSlice(tok)
			if err != nil {
				return syn, err
			}
			syn.slice = s
			p = q
			continue
		}
		break
	}
	syn.list = strings.TrimSpace(args[p:])
	return syn, nil
}

// needsMoreLines reports whether a queue statement opens a ( ... ) item list that it does
// not close on the same line, so the following lines up to one starting with ) are items.
func needsMoreLines(args string) bool {
	syn, err := scanQueue(args)
	if err != nil || syn.mode == foreachNone {
		return false
	}
	return strings.HasPrefix(syn.list, "(") && !strings.HasSuffix(syn.list, ")")
}

// varsStart walks back from the end of the text before the keyword over what can be loop
// variable names (letters, digits after a letter, '_', '.', ',' and spaces) and returns
// where they start. This is HTCondor's rule, so "queue 3 X,Y from f" has count 3.
func varsStart(before string) int {
	start := len(before)
	pt := len(before)
	for pt > 0 {
		c := before[pt-1]
		if isDigit(c) {
			q := pt - 1
			for q > 0 && isDigit(before[q-1]) {
				q--
			}
			if q == 0 || !(isAlpha(before[q-1]) || before[q-1] == '_') {
				break
			}
			pt = q
			continue
		}
		if isSpace(c) || isAlpha(c) || c == ',' || c == '_' || c == '.' {
			pt--
			start = pt
			continue
		}
		break
	}
	// Leading spaces belong to neither part.
	for start < len(before) && isSpace(before[start]) {
		start++
	}
	return start
}

func isVarName(s string) bool {
	if s == "" || !(isAlpha(s[0]) || s[0] == '_') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isAlpha(s[i]) && !isDigit(s[i]) && s[i] != '_' && s[i] != '.' {
			return false
		}
	}
	return true
}

// splitItems splits an item list on commas and whitespace, dropping empty items.
func splitItems(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' || r == '\n' })
}

// splitRow splits one row of a "from" list into n values. Fields are separated by a comma
// and/or whitespace, and the last variable takes the rest of the row. A row containing the
// ASCII unit separator (0x1F) is split on that alone, as HTCondor does, so values may then
// contain commas and spaces.
func splitRow(row string, n int) []string {
	vals := make([]string, n)
	row = strings.TrimSpace(row)
	if n <= 1 {
		if n == 1 {
			vals[0] = row
		}
		return vals
	}
	if strings.Contains(row, "\x1f") {
		parts := strings.SplitN(row, "\x1f", n)
		for i, p := range parts {
			vals[i] = strings.TrimSpace(p)
		}
		return vals
	}
	rest := row
	for i := 0; i < n-1; i++ {
		end := strings.IndexAny(rest, ", \t")
		if end < 0 {
			vals[i], rest = rest, ""
			continue
		}
		vals[i] = rest[:end]
		rest = strings.TrimLeft(rest[end:], " \t")
		rest = strings.TrimPrefix(rest, ",")
		rest = strings.TrimLeft(rest, " \t")
	}
	vals[n-1] = strings.TrimSpace(rest)
	return vals
}

// slice is a Python-style [start:end:step] selection of items.
type slice struct {
	start, end, step int
	hasStart, hasEnd bool
}

// parseSlice parses "[start:end:step]"; each part is optional, a negative start or end
// counts from the end, and the step must be positive (HTCondor does not implement
// negative steps either).
func parseSlice(tok string) (*slice, error) {
	bad := errors.New("Invalid [::] statement " + quote(tok))
	if !strings.HasPrefix(tok, "[") || !strings.HasSuffix(tok, "]") {
		return nil, bad
	}
	parts := strings.Split(tok[1:len(tok)-1], ":")
	if len(parts) > 3 {
		return nil, bad
	}
	s := &slice{step: 1}
	for i, p := range parts {
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, bad
		}
		switch i {
		case 0:
			s.start, s.hasStart = n, true
		case 1:
			s.end, s.hasEnd = n, true
		case 2:
			if n <= 0 {
				return nil, errors.New("Invalid [::] statement " + quote(tok) + ": the step must be positive")
			}
			s.step = n
		}
	}
	return s, nil
}

// selected reports whether item i of n is in the slice.
func (s *slice) selected(i, n int) bool {
	if s == nil {
		return true
	}
	lo, hi := 0, n
	if s.hasStart {
		lo = s.start
		if lo < 0 {
			lo += n
		}
	}
	if s.hasEnd {
		hi = s.end
		if hi < 0 {
			hi += n
		}
	}
	if lo < 0 {
		lo = 0
	}
	return i >= lo && i < hi && (i-lo)%s.step == 0
}
