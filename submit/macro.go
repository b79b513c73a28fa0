package submit

import (
	"errors"
	"fmt"
	"path"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ec2grid/ec2grid/classad"
)

const (
	// maxExpansion caps the length of one expanded value. Macros that each use another
	// twice double in size per level, so thirty lines could ask for gigabytes; 1 MiB is
	// 64 times EC2's whole user-data limit, far beyond any value a job needs.
	maxExpansion = 1 << 20
	// maxExpandDepth caps nesting ($(a:$(b:$(c:...))) and chains of macros). Cycles are
	// caught exactly by name; this only stops deliberately deep text from recursing long.
	maxExpandDepth = 200
	// maxExpandRefs caps the macro references one value may expand. Macros that each
	// use another twice but expand to nothing never hit maxExpansion, yet thirty lines
	// of them take 2^30 steps; a real value uses a few dozen references.
	maxExpandRefs = 100_000
)

// macroDef is one macro's current definition.
type macroDef struct {
	name    string // as first written
	written string // the key as written in the latest definition (+Attr, not MY.Attr), for messages
	value   string // unexpanded
	line    int
}

// macroTable maps lower-case macro names to their definitions.
type macroTable map[string]macroDef

// set defines name. A reference to name itself inside value is replaced by the previous
// value now (HTCondor's rule, so "args = $(args) -v" appends); every other reference
// stays for later.
func (t macroTable) set(name, written, value string, line int) {
	key := strings.ToLower(name)
	old, had := t[key]
	if strings.Contains(value, "$") {
		value = expandSelf(value, key, old.value)
	}
	if had {
		name = old.name
	}
	t[key] = macroDef{name: name, written: written, value: value, line: line}
}

// expandSelf replaces $(key) and $(key:default) in value with prev (or the default when
// prev is empty).
func expandSelf(value, key, prev string) string {
	pm := &parens{s: value}
	var b strings.Builder
	for i := 0; i < len(value); {
		j := strings.Index(value[i:], "$(")
		if j < 0 {
			b.WriteString(value[i:])
			break
		}
		j += i
		if j > 0 && value[j-1] == '$' {
			b.WriteString(value[i : j+2])
			i = j + 2
			continue
		}
		end := pm.at(j + 1)
		if end < 0 {
			b.WriteString(value[i : j+2])
			i = j + 2
			continue
		}
		name, def, hasDef := strings.Cut(value[j+2:end], ":")
		if !strings.EqualFold(strings.TrimSpace(name), key) {
			b.WriteString(value[i : end+1])
			i = end + 1
			continue
		}
		b.WriteString(value[i:j])
		if prev == "" && hasDef {
			b.WriteString(def)
		} else {
			b.WriteString(prev)
		}
		i = end + 1
	}
	return b.String()
}

// parens finds matching parentheses in a text once, so that a text full of unclosed
// "$(" costs linear time, not a scan to the end for each one.
type parens struct {
	s     string
	match []int // match[i] is the index of the ')' closing the '(' at i, or -1
}

// at returns the index of the ')' matching the '(' at open, or -1.
func (p *parens) at(open int) int {
	if p.match == nil {
		p.match = make([]int, len(p.s))
		var stack []int
		for i := 0; i < len(p.s); i++ {
			switch p.s[i] {
			case '(':
				p.match[i] = -1
				stack = append(stack, i)
			case ')':
				if n := len(stack); n > 0 {
					p.match[stack[n-1]] = i
					stack = stack[:n-1]
				}
			}
		}
	}
	return p.match[open]
}

// expander expands macro references for one job.
type expander struct {
	file   string
	table  macroTable
	live   map[string]string // per-job variables (lower-case): Cluster, Process, Item, ...
	getenv func(string) (string, bool)
	intN   func(n int64) int64 // uniform in [0, n)
	now    time.Time
	stack  []string // macros being expanded, innermost last, for cycle detection
	depth  int
	refs   int // references expanded for the current top-level value
}

// expand returns s with every macro reference expanded.
func (x *expander) expand(s string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	if x.depth == 0 {
		x.refs = 0
	}
	var b strings.Builder
	if err := x.expandInto(&b, s); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (x *expander) expandInto(b *strings.Builder, s string) error {
	x.depth++
	defer func() { x.depth-- }()
	if x.depth > maxExpandDepth {
		return fmt.Errorf("macros are nested more than %d deep", maxExpandDepth)
	}
	pm := &parens{s: s}
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '$')
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		b.WriteString(s[i : i+j])
		i += j
		switch {
		case strings.HasPrefix(s[i:], "$$("):
			// $$(Attr) is a match-time substitution: leave it for whoever fills it in.
			end := pm.at(i + 2)
			if end < 0 {
				b.WriteString("$$")
				i += 2
				continue
			}
			b.WriteString(s[i : end+1])
			i = end + 1
		case strings.HasPrefix(s[i:], "$$"):
			b.WriteString("$$")
			i += 2
		case strings.HasPrefix(s[i:], "$("):
			end := pm.at(i + 1)
			if end < 0 {
				b.WriteByte('$')
				i++
				continue
			}
			if err := x.ref(b, s[i+2:end]); err != nil {
				return err
			}
			i = end + 1
		default:
			k := i + 1
			for k < len(s) && (isAlpha(s[k]) || isDigit(s[k]) || s[k] == '_') {
				k++
			}
			handled := false
			if k > i+1 && k < len(s) && s[k] == '(' {
				if end := pm.at(k); end >= 0 {
					var err error
					handled, err = x.function(b, s[i+1:k], s[k+1:end])
					if err != nil {
						return err
					}
					if handled {
						i = end + 1
					}
				}
			}
			if !handled {
				b.WriteByte('$')
				i++
			}
		}
		if b.Len() > maxExpansion {
			return fmt.Errorf("the expanded value is longer than %d bytes", maxExpansion)
		}
	}
	return nil
}

// ref expands the body of one $(...) reference: "name" or "name:default".
func (x *expander) ref(b *strings.Builder, body string) error {
	if x.refs++; x.refs > maxExpandRefs {
		return fmt.Errorf("the value needs more than %d macro references to expand", maxExpandRefs)
	}
	name, def, hasDef := strings.Cut(body, ":")
	if strings.Contains(name, "$") {
		n, err := x.expand(name)
		if err != nil {
			return err
		}
		name = n
	}
	name = strings.TrimSpace(name)
	key := strings.ToLower(name)
	switch key {
	case "dollar":
		b.WriteByte('$')
		return nil
	case "dollardollar":
		b.WriteString("$$")
		return nil
	}
	val, ok := x.lookup(key)
	if !ok || val == "" {
		if hasDef {
			return x.expandInto(b, def)
		}
		return nil
	}
	for i, s := range x.stack {
		if s == key {
			chain := append(append([]string(nil), x.stack[i:]...), key)
			return fmt.Errorf("macro %s refers to itself (%s)", x.display(key), x.chain(chain))
		}
	}
	x.stack = append(x.stack, key)
	err := x.expandInto(b, val)
	x.stack = x.stack[:len(x.stack)-1]
	return err
}

// display returns a macro's name as written in the file.
func (x *expander) display(key string) string {
	if d, ok := x.table[key]; ok {
		return d.name
	}
	return key
}

func (x *expander) chain(keys []string) string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = "$(" + x.display(k) + ")"
	}
	return strings.Join(names, " -> ")
}

// lookup finds a macro's unexpanded value: per-job variables first, then the file's
// definitions, then the values HTCondor predefines.
func (x *expander) lookup(key string) (string, bool) {
	if v, ok := x.live[key]; ok {
		return v, true
	}
	if d, ok := x.table[key]; ok {
		return d.value, true
	}
	return x.predefined(key)
}

// predefined returns the macros HTCondor sets before reading a submit file.
func (x *expander) predefined(key string) (string, bool) {
	switch key {
	case "submit_file":
		return x.file, true
	case "submit_time":
		return strconv.FormatInt(x.now.Unix(), 10), true
	case "year":
		return fmt.Sprintf("%04d", x.now.Year()), true
	case "month":
		return fmt.Sprintf("%02d", int(x.now.Month())), true
	case "day":
		return fmt.Sprintf("%02d", x.now.Day()), true
	case "arch":
		return condorArch(), true
	case "opsys":
		return condorOpSys(), true
	case "islinux":
		return boolDigit(runtime.GOOS == "linux"), true
	case "iswindows":
		return boolDigit(runtime.GOOS == "windows"), true
	}
	return "", false
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// condorArch and condorOpSys return HTCondor's names for this machine.
func condorArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "X86_64"
	case "386":
		return "INTEL"
	case "arm64":
		return "aarch64"
	}
	return runtime.GOARCH
}

func condorOpSys() string {
	switch runtime.GOOS {
	case "darwin":
		return "OSX"
	case "windows":
		return "WINDOWS"
	}
	return strings.ToUpper(runtime.GOOS)
}

// function expands a function macro such as $ENV(HOME); handled is false for names that
// are not function macros, which HTCondor leaves in the text as they are.
func (x *expander) function(b *strings.Builder, name, body string) (handled bool, err error) {
	switch name {
	case "ENV":
		arg, err := x.expand(body)
		if err != nil {
			return true, err
		}
		v, def, hasDef := strings.Cut(arg, ":")
		val, ok := x.getenv(strings.TrimSpace(v))
		if (!ok || val == "") && hasDef {
			val = def
		}
		b.WriteString(val)
		return true, nil
	case "RANDOM_INTEGER":
		args, err := x.args(body)
		if err != nil {
			return true, err
		}
		v, err := x.randomInteger(args)
		if err != nil {
			return true, err
		}
		b.WriteString(v)
		return true, nil
	case "RANDOM_CHOICE":
		args, err := x.args(body)
		if err != nil {
			return true, err
		}
		if len(args) == 0 {
			return true, errors.New("$RANDOM_CHOICE() needs at least one choice")
		}
		b.WriteString(args[x.intN(int64(len(args)))])
		return true, nil
	case "CHOICE":
		v, err := x.choice(body)
		if err != nil {
			return true, err
		}
		b.WriteString(v)
		return true, nil
	case "INT", "REAL", "STRING", "EVAL":
		v, err := x.convert(name, body)
		if err != nil {
			return true, err
		}
		b.WriteString(v)
		return true, nil
	case "SUBSTR":
		v, err := x.substr(body)
		if err != nil {
			return true, err
		}
		b.WriteString(v)
		return true, nil
	case "BASENAME", "DIRNAME":
		v, err := x.operand(strings.TrimSpace(body))
		if err != nil {
			return true, err
		}
		if name == "BASENAME" {
			b.WriteString(path.Base(v))
		} else {
			b.WriteString(path.Dir(v))
		}
		return true, nil
	}
	if len(name) > 1 && name[0] == 'F' && strings.Trim(name[1:], "fpdnxbqaw") == "" {
		return true, fmt.Errorf("$%s() (file name parts) is not supported by ec2grid; use $BASENAME() or $DIRNAME()", name)
	}
	return false, nil
}

// args expands a function's argument list and splits it on commas.
func (x *expander) args(body string) ([]string, error) {
	s, err := x.expand(body)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts, nil
}

// operand returns the value a conversion function works on: the named macro's expanded
// value when arg is a macro name, otherwise arg itself, expanded.
func (x *expander) operand(arg string) (string, error) {
	if isVarName(arg) {
		return x.expand("$(" + arg + ")")
	}
	return x.expand(arg)
}

func (x *expander) randomInteger(args []string) (string, error) {
	if len(args) < 2 || len(args) > 3 {
		return "", errors.New("$RANDOM_INTEGER() needs min, max and an optional step")
	}
	var n [3]int64
	n[2] = 1
	for i, a := range args {
		v, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			return "", fmt.Errorf("$RANDOM_INTEGER(): %q is not an integer", a)
		}
		n[i] = v
	}
	lo, hi, step := n[0], n[1], n[2]
	if step <= 0 || hi < lo {
		return "", fmt.Errorf("$RANDOM_INTEGER(%s): needs min <= max and a positive step", strings.Join(args, ", "))
	}
	span := (hi-lo)/step + 1
	if span <= 0 { // the range overflowed int64
		return "", fmt.Errorf("$RANDOM_INTEGER(%s): the range is too large", strings.Join(args, ", "))
	}
	return strconv.FormatInt(lo+step*x.intN(span), 10), nil
}

// choice implements $CHOICE(index, a, b, ...) and $CHOICE(index, listMacro).
func (x *expander) choice(body string) (string, error) {
	idxText, rest, ok := strings.Cut(body, ",")
	if !ok {
		return "", errors.New("$CHOICE() needs an index and a list")
	}
	idxVal, err := x.operand(strings.TrimSpace(idxText))
	if err != nil {
		return "", err
	}
	idx, err := strconv.Atoi(strings.TrimSpace(idxVal))
	if err != nil {
		return "", fmt.Errorf("$CHOICE(): index %q is not an integer", idxVal)
	}
	rest = strings.TrimSpace(rest)
	if isVarName(rest) {
		if v, ok := x.lookup(strings.ToLower(rest)); ok {
			if rest, err = x.expand(v); err != nil {
				return "", err
			}
		}
	}
	choices, err := x.args(rest)
	if err != nil {
		return "", err
	}
	if idx < 0 || idx >= len(choices) {
		return "", fmt.Errorf("$CHOICE(): index %d is outside the %d choices", idx, len(choices))
	}
	return choices[idx], nil
}

// convert implements $INT, $REAL, $STRING and $EVAL: the operand is evaluated as a ClassAd
// expression and printed, with an optional printf-style format.
func (x *expander) convert(name, body string) (string, error) {
	arg, format, hasFormat := strings.Cut(body, ",")
	src, err := x.operand(strings.TrimSpace(arg))
	if err != nil {
		return "", err
	}
	format = strings.TrimSpace(format)
	e, err := classad.ParseExpr(src)
	if err != nil {
		return "", fmt.Errorf("$%s(%s): %q is not a ClassAd expression: %w", name, arg, src, err)
	}
	v := (&classad.Context{Now: func() time.Time { return x.now }}).Eval(e)
	switch name {
	case "INT":
		i, ok := v.NumberAsInt()
		if !ok {
			return "", fmt.Errorf("$INT(%s): %q is not a number", arg, src)
		}
		if hasFormat {
			return fmt.Sprintf(format, i), nil
		}
		return strconv.FormatInt(i, 10), nil
	case "REAL":
		f, ok := v.NumberAsReal()
		if !ok {
			return "", fmt.Errorf("$REAL(%s): %q is not a number", arg, src)
		}
		if hasFormat {
			return fmt.Sprintf(format, f), nil
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	}
	s, isString := v.StringValue()
	if !isString {
		s = v.String()
	}
	if hasFormat && name == "STRING" {
		return fmt.Sprintf(format, s), nil
	}
	return s, nil
}

// substr implements $SUBSTR(name, start[, length]); a negative start counts from the end
// and a negative length stops that many characters before the end.
func (x *expander) substr(body string) (string, error) {
	parts := strings.Split(body, ",")
	if len(parts) < 2 || len(parts) > 3 {
		return "", errors.New("$SUBSTR() needs a macro name, a start and an optional length")
	}
	s, err := x.operand(strings.TrimSpace(parts[0]))
	if err != nil {
		return "", err
	}
	start, err := strconv.Atoi(strings.TrimSpace(parts[1]))
	if err != nil {
		return "", fmt.Errorf("$SUBSTR(): start %q is not an integer", parts[1])
	}
	if start < 0 {
		start += len(s)
	}
	start = min(max(start, 0), len(s))
	end := len(s)
	if len(parts) == 3 {
		n, err := strconv.Atoi(strings.TrimSpace(parts[2]))
		if err != nil {
			return "", fmt.Errorf("$SUBSTR(): length %q is not an integer", parts[2])
		}
		if n < 0 {
			end = len(s) + n
		} else if n < len(s)-start {
			end = start + n
		}
	}
	if end <= start {
		return "", nil
	}
	return s[start:end], nil
}
