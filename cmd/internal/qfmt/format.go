package qfmt

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ec2grid/ec2grid/classad"
)

// maxFormatWidth caps a -format conversion's width and precision: HTCondor's printf
// would allocate whatever is asked, but a typo such as %99999999d must not exhaust memory.
const maxFormatWidth = 4096

// FormatItem is one `-format FMT ATTR` pair.
type FormatItem struct {
	Fmt  string
	Attr string
}

// Format prints ads with -format items: for each ad, each item's format text with its
// one conversion filled from ATTR (an attribute name or an expression). No newline is
// added. An item whose ATTR is not an attribute of the ad and does not parse as an
// expression is skipped silently (§6.1). C escapes (\n, \t, \\, ...) in FMT are
// interpreted, as condor_q does for text passed through a shell.
func Format(w io.Writer, ads []*classad.ClassAd, items []FormatItem, now time.Time) error {
	var b strings.Builder
	for _, ad := range ads {
		for _, it := range items {
			e, ok := ad.Lookup(it.Attr)
			if !ok {
				var err error
				if e, err = classad.ParseExpr(it.Attr); err != nil {
					continue
				}
			}
			ctx := classad.Context{My: ad, Now: clock(now)}
			b.WriteString(Sprintf(Unescape(it.Fmt), ctx.Eval(e), e))
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("qfmt: -format: %w", err)
	}
	return nil
}

func clock(now time.Time) func() time.Time {
	if now.IsZero() {
		return nil
	}
	return func() time.Time { return now }
}

// Unescape interprets the C escapes \n \t \r \a \b \f \v \\ \" \' in s; any other
// backslash is kept as written.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		r, ok := map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', 'a': '\a', 'b': '\b', 'f': '\f', 'v': '\v', '\\': '\\', '"': '"', '\'': '\''}[s[i+1]]
		if !ok {
			b.WriteByte('\\')
			continue
		}
		b.WriteByte(r)
		i++
	}
	return b.String()
}

// Sprintf formats one value with a condor_q -format string: %d %i %x %X %o %c (integer),
// %f %e %E %g %G (real), %s and %v (strings unquoted, other values as printed by
// classad), %V (strings quoted), %r (the expression raw, unevaluated) and %%. Flags,
// width and precision are C's. A numeric conversion of a non-number prints the value as
// %s would; an unknown conversion is printed as written.
func Sprintf(format string, v classad.Value, raw classad.Expr) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("-+ #0", format[j]) >= 0 {
			j++
		}
		flags := format[i+1 : j]
		width, j := digits(format, j)
		prec, hasPrec := "", false
		if j < len(format) && format[j] == '.' {
			hasPrec = true
			prec, j = digits(format, j+1)
		}
		if j == len(format) {
			b.WriteString(format[i:])
			break
		}
		verb := format[j]
		spec := "%" + flags + width
		if hasPrec {
			spec += "." + prec
		}
		b.WriteString(convert(spec, verb, v, raw, format[i:j+1]))
		i = j
	}
	return b.String()
}

// digits reads a run of decimal digits at s[i:], capped at maxFormatWidth.
func digits(s string, i int) (string, int) {
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i {
		return "", j
	}
	n, err := strconv.Atoi(s[i:j])
	if err != nil || n > maxFormatWidth {
		n = maxFormatWidth
	}
	return strconv.Itoa(n), j
}

func convert(spec string, verb byte, v classad.Value, raw classad.Expr, written string) string {
	switch verb {
	case '%':
		return "%"
	case 'd', 'i', 'x', 'X', 'o', 'c':
		n, ok := v.NumberAsInt()
		if !ok {
			return fmt.Sprintf(spec+"s", plain(v))
		}
		switch verb {
		case 'i':
			verb = 'd'
		case 'c':
			return fmt.Sprintf(spec+"c", rune(n))
		case 'x', 'X', 'o':
			// C prints these conversions unsigned: -1 is ffffffffffffffff, not -1.
			return fmt.Sprintf(spec+string(verb), uint64(n))
		}
		return fmt.Sprintf(spec+string(verb), n)
	case 'f', 'e', 'E', 'g', 'G':
		f, ok := v.NumberAsReal()
		if !ok {
			return fmt.Sprintf(spec+"s", plain(v))
		}
		if (verb == 'g' || verb == 'G') && !strings.Contains(spec, ".") {
			// C's %g has precision 6; Go's would print the shortest exact form.
			spec += ".6"
		}
		return fmt.Sprintf(spec+string(verb), f)
	case 's', 'v':
		return fmt.Sprintf(spec+"s", plain(v))
	case 'V':
		return fmt.Sprintf(spec+"s", v.String())
	case 'r':
		s := "undefined"
		if raw != nil {
			s = classad.Unparse(raw)
		}
		return fmt.Sprintf(spec+"s", s)
	}
	return written
}

// plain prints v as -af does: strings without quotes, everything else as classad prints it.
func plain(v classad.Value) string {
	if s, ok := v.StringValue(); ok {
		return s
	}
	return v.String()
}

// AutoFormat is an -af/-autoformat request: the options after the colon and the
// attributes or expressions to print.
type AutoFormat struct {
	JobID    bool // :j prefix each ad with its job id
	Headings bool // :h a heading line, columns aligned
	Labels   bool // :l "Attr = value"
	Quote    bool // :V strings quoted
	Raw      bool // :r unevaluated expressions
	Tabs     bool // :t tab between fields
	Newline  bool // :n newline after each field
	AdGap    bool // :g newline before each ad
	Commas   bool // :, comma between fields
	Attrs    []string
}

// ParseAutoFormatOptions reads the letters after "-af:" (or "-autoformat:"); letters
// HTCondor knows but ec2grid does not use (T, Y) and unknown ones are ignored, as
// HTCondor does.
func ParseAutoFormatOptions(opts string) AutoFormat {
	var af AutoFormat
	for _, c := range opts {
		switch c {
		case 'j':
			af.JobID = true
		case 'h':
			af.Headings = true
		case 'l':
			af.Labels = true
		case 'V':
			af.Quote = true
		case 'r':
			af.Raw = true
		case 't':
			af.Tabs = true
		case 'n':
			af.Newline = true
		case 'g':
			af.AdGap = true
		case ',':
			af.Commas = true
		}
	}
	return af
}

// Validate checks that every attribute is a name or an expression, with HTCondor's message.
func (af AutoFormat) Validate() error {
	if len(af.Attrs) == 0 {
		return fmt.Errorf("Error: -autoformat requires at least one attribute")
	}
	for _, a := range af.Attrs {
		if _, err := classad.ParseExpr(a); err != nil {
			return fmt.Errorf("Error: Parse error of: %s: %w", a, err)
		}
	}
	return nil
}

// field renders one -af field of ad.
func (af AutoFormat) field(ad *classad.ClassAd, attr string, now time.Time) string {
	e, ok := ad.Lookup(attr)
	if af.Raw {
		if ok {
			return classad.Unparse(e)
		}
		pe, err := classad.ParseExpr(attr)
		if err != nil || classad.Unparse(pe) == attr && isIdent(attr) {
			return "undefined"
		}
		return classad.Unparse(pe)
	}
	if !ok {
		var err error
		if e, err = classad.ParseExpr(attr); err != nil {
			return "undefined"
		}
	}
	ctx := classad.Context{My: ad, Now: clock(now)}
	v := ctx.Eval(e)
	if af.Quote {
		return v.String()
	}
	return plain(v)
}

func isIdent(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// Print prints ads as -af does, with the separators HTCondor's parse_autoformat_args
// sets: a column prefix (" ", a tab with :t, nothing with :g) before every value but the
// first, a column suffix ("," with :, and "\n" with :n; :n wins) after every value,
// "\n" before each ad with :g, and "\n" after each ad. Strings print unquoted (quoted with
// :V), missing attributes as "undefined", unevaluated expressions with :r. :h prints a
// heading line and pads each column but the last to its widest entry; :l (ignored with
// :h) labels each value "Attr = ". :j puts the job id first: "12.0", or "%4d.%-3d" under
// the heading " ID".
func (af AutoFormat) Print(w io.Writer, ads []*classad.ClassAd, now time.Time) error {
	colPre, colSuffix, rowPre := " ", "", ""
	if af.Tabs {
		colPre = "\t"
	}
	if af.AdGap {
		colPre, rowPre = "", "\n"
	}
	if af.Commas {
		colSuffix = ","
	}
	if af.Newline {
		colSuffix = "\n"
	}
	labels := af.Labels && !af.Headings
	names := af.Attrs
	if af.JobID {
		names = append([]string{"ID"}, names...)
		if af.Headings {
			names[0] = " ID"
		}
	}
	rows := make([][]string, 0, len(ads))
	for _, ad := range ads {
		row := make([]string, 0, len(names))
		if af.JobID {
			id := JobID(ad)
			if af.Headings {
				id = idCol(ad)
			}
			row = append(row, id)
		}
		for _, a := range af.Attrs {
			row = append(row, af.field(ad, a, now))
		}
		if labels {
			for i := range row {
				row[i] = names[i] + " = " + row[i]
			}
		}
		rows = append(rows, row)
	}
	var widths []int
	if af.Headings {
		widths = make([]int, len(names))
		for i, n := range names {
			widths[i] = len(n)
		}
		for _, r := range rows {
			for i, f := range r {
				widths[i] = max(widths[i], len(f))
			}
		}
	}
	var b strings.Builder
	writeRow := func(r []string, pre string) {
		b.WriteString(pre)
		for i, f := range r {
			if i > 0 {
				b.WriteString(colPre)
			}
			if widths != nil && i < len(r)-1 {
				f = fmt.Sprintf("%-*s", widths[i], f)
			}
			b.WriteString(f)
			b.WriteString(colSuffix)
		}
		b.WriteByte('\n')
	}
	if af.Headings {
		writeRow(names, "")
	}
	for _, r := range rows {
		writeRow(r, rowPre)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("qfmt: -af: %w", err)
	}
	return nil
}
