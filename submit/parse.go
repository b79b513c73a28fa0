package submit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ec2grid/ec2grid/classad"
)

// MaxFileBytes caps how much of a submit file Parse reads, and of a "queue from" file.
// Submit files are written by people; 16 MiB is far beyond any real one and stops
// `condor_submit /dev/zero` (or a fuzzer) from exhausting memory before a line is even
// looked at. condor_submit bounds its own read of the file (for -append) by it too.
const MaxFileBytes = 16 << 20

// maxLineBytes caps one line of a submit file: a physical line, a logical line (continuations
// joined) and a multi-line @= value alike. The longest real value is inline user data, at
// most 16 KiB (EC2's limit); a queue statement's item list spans many lines. One MiB is far
// beyond both, and stops a runaway line (a binary file, a generated 10 MB value) at a
// clear error naming its line, before it is held in memory whole.
const maxLineBytes = 1 << 20

// File is a parsed submit file: its statements in order, with values still unexpanded.
// Macros are expanded lazily, when Jobs runs each queue statement, because that is when
// HTCondor expands them: the last definition before a queue statement wins, and $(Process)
// and $(Item) only have values then. A File is immutable and safe for concurrent Jobs calls.
type File struct {
	// Name is the file name used in messages and in $(SUBMIT_FILE).
	Name  string
	stmts []stmt
}

type stmtKind uint8

const (
	setStmt    stmtKind = iota // key = value (and key @=TAG ... @TAG)
	appendStmt                 // key += value
	queueStmt                  // queue ...
)

// stmt is one statement of the file.
type stmt struct {
	kind    stmtKind
	line    int
	key     string // "MY.Attr" for +Attr and -Attr; as written otherwise
	written string // the key exactly as written, for messages
	value   string
	del     bool   // -Attr: remove Attr from the job ad
	text    string // the line as written, for the "unused line" warning
	q       *queueSpec
}

// Parse reads a submit file. It checks everything that can be checked before macros are
// expanded: line syntax, key names, queue statement syntax, and ClassAd expressions that
// contain no macros. Other errors (a missing ec2_ami_id, an unreadable key file) need
// the expanded values and are reported by Jobs. Errors are *Error values.
func Parse(name string, r io.Reader) (*File, error) {
	lr := &lineReader{r: bufio.NewReader(io.LimitReader(r, MaxFileBytes+1)), name: name}
	f := &File{Name: name}
	for {
		text, line, ok := lr.logical()
		if !ok {
			break
		}
		st, err := parseStatement(lr, text, line)
		if err != nil {
			return nil, err
		}
		f.stmts = append(f.stmts, st)
	}
	if lr.err != nil {
		return nil, lr.err
	}
	return f, nil
}

// lineReader yields the logical lines of a submit file: comment and blank lines skipped,
// lines ending in a backslash joined to the next.
type lineReader struct {
	r     *bufio.Reader
	name  string
	n     int // physical lines read so far
	bytes int
	eof   bool
	err   error
}

// physical returns the next physical line without its line ending. A line longer than
// maxLineBytes is an error naming it; at most maxLineBytes of it is ever held.
func (lr *lineReader) physical() (string, bool) {
	if lr.eof || lr.err != nil {
		return "", false
	}
	var line []byte
	var err error
	for {
		var chunk []byte
		chunk, err = lr.r.ReadSlice('\n')
		lr.bytes += len(chunk)
		if lr.bytes > MaxFileBytes {
			lr.err = errorf(lr.name, lr.n+1, "", nil, "submit file is larger than %d bytes", MaxFileBytes)
			return "", false
		}
		if len(line)+len(chunk) > maxLineBytes+len("\r\n") {
			lr.err = errorf(lr.name, lr.n+1, "", nil, "line is longer than %d bytes", maxLineBytes)
			return "", false
		}
		line = append(line, chunk...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			break
		}
	}
	s := string(line)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			lr.err = fmt.Errorf("read submit file %s: %w", lr.name, err)
			return "", false
		}
		lr.eof = true
		if s == "" {
			return "", false
		}
	}
	lr.n++
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	if len(s) > maxLineBytes {
		lr.err = errorf(lr.name, lr.n, "", nil, "line is longer than %d bytes", maxLineBytes)
		return "", false
	}
	return s, true
}

// logical returns the next non-blank, non-comment line with continuations joined, trimmed,
// and the number of its first physical line. A comment line inside a continuation is
// skipped and the continuation carries on, as in HTCondor.
func (lr *lineReader) logical() (string, int, bool) {
	var b strings.Builder
	first := 0
	for {
		s, ok := lr.physical()
		if !ok {
			if first == 0 || lr.err != nil {
				// A read error or an over-long line ends parsing; the half-read
				// statement must not be reported as some other mistake.
				return "", 0, false
			}
			break
		}
		trimmed := strings.TrimSpace(s)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if first == 0 {
			if trimmed == "" {
				continue
			}
			first = lr.n
		}
		body := strings.TrimRight(s, " \t")
		continued := strings.HasSuffix(body, `\`)
		if continued {
			body = body[:len(body)-1]
		} else {
			body = s
		}
		if b.Len()+len(body) > maxLineBytes {
			lr.err = errorf(lr.name, first, "", nil, "the line continued with \\ is longer than %d bytes", maxLineBytes)
			return "", 0, false
		}
		b.WriteString(body)
		if !continued {
			break
		}
	}
	return strings.TrimSpace(b.String()), first, true
}

// refusedKeyword returns why a statement HTCondor's submit language has but ec2grid does
// not implement is refused. Refusing beats misreading such a line as a macro: a file that
// relies on it fails loudly instead of queueing the wrong jobs.
func refusedKeyword(word string) (string, bool) {
	switch strings.ToLower(word) {
	case "if", "elif", "else", "endif":
		return "conditionals (if/elif/else/endif) are not supported by ec2grid's condor_submit; write the submit file without them", true
	case "include":
		return "include is not supported by ec2grid's condor_submit; put the included lines in this file", true
	case "use":
		return "use (configuration templates) is not supported by ec2grid's condor_submit", true
	case "error", "warning":
		return "the " + strings.ToLower(word) + " statement is not supported by ec2grid's condor_submit", true
	}
	return "", false
}

func parseStatement(lr *lineReader, text string, line int) (stmt, error) {
	if args, ok := queueArgsOf(text); ok {
		return parseQueueStatement(lr, text, args, line)
	}
	word := leadingWord(text)
	if msg, ok := refusedKeyword(word); ok {
		rest := strings.TrimSpace(text[len(word):])
		if !isAssignment(rest) {
			return stmt{}, errorf(lr.name, line, strings.ToLower(word), nil, "%s", msg)
		}
	}
	eq := strings.IndexByte(text, '=')
	if eq < 0 {
		if strings.Contains(text, ":") {
			return stmt{}, errorf(lr.name, line, strings.TrimSpace(text[:strings.IndexByte(text, ':')]), nil,
				"'key : value' lines are configuration syntax; a submit file needs 'key = value'")
		}
		return stmt{}, errorf(lr.name, line, word, nil, "Syntax Error, missing : or =")
	}
	keyPart := strings.TrimSpace(text[:eq])
	kind := setStmt
	multi := false
	switch {
	case strings.HasSuffix(keyPart, "+") && len(keyPart) > 1:
		kind = appendStmt
		keyPart = strings.TrimSpace(keyPart[:len(keyPart)-1])
	case strings.HasSuffix(keyPart, "@"):
		multi = true
		keyPart = strings.TrimSpace(keyPart[:len(keyPart)-1])
	}
	st := stmt{kind: kind, line: line, written: keyPart, text: text, value: strings.TrimSpace(text[eq+1:])}
	if !isSubmitKey(keyPart) {
		return stmt{}, errorf(lr.name, line, keyPart, nil, "Illegal Identifier: %s", keyPart)
	}
	st.key = keyPart
	switch {
	case keyPart[0] == '+' || keyPart[0] == '-':
		if !isAttrName(keyPart[1:]) {
			return stmt{}, errorf(lr.name, line, keyPart, nil, "Illegal Identifier: %s is not a ClassAd attribute name", keyPart[1:])
		}
		st.key = "MY." + keyPart[1:]
		st.del = keyPart[0] == '-'
	case hasPrefixFold(keyPart, "MY."):
		if !isAttrName(keyPart[3:]) {
			return stmt{}, errorf(lr.name, line, keyPart, nil, "Illegal Identifier: %s is not a ClassAd attribute name", keyPart[3:])
		}
	}
	if st.del && kind != setStmt {
		return stmt{}, errorf(lr.name, line, keyPart, nil, "-Attr removes an attribute; it cannot be appended to")
	}
	if multi {
		if st.del || kind != setStmt {
			return stmt{}, errorf(lr.name, line, keyPart, nil, "@= cannot be combined with + or -")
		}
		v, err := readHereDoc(lr, st.value, line, keyPart)
		if err != nil {
			return stmt{}, err
		}
		st.value = v
	}
	if err := checkExpr(lr.name, st); err != nil {
		return stmt{}, err
	}
	return st, nil
}

// readHereDoc reads the lines of a "key @=TAG" value up to the line "@TAG".
func readHereDoc(lr *lineReader, tag string, line int, key string) (string, error) {
	if tag == "" || strings.ContainsAny(tag, " \t") {
		return "", errorf(lr.name, line, key, nil, "@= needs a tag without spaces, as in 'key @=end' ... '@end'")
	}
	var lines []string
	size := 0
	for {
		s, ok := lr.physical()
		if !ok {
			if lr.err != nil {
				return "", lr.err
			}
			return "", errorf(lr.name, line, key, nil, "multi-line value @=%s has no closing @%s line", tag, tag)
		}
		if strings.TrimSpace(s) == "@"+tag {
			return strings.Join(lines, "\n"), nil
		}
		size += len(s) + 1
		if size > maxLineBytes {
			return "", errorf(lr.name, line, key, nil, "multi-line value @=%s is longer than %d bytes", tag, maxLineBytes)
		}
		lines = append(lines, s)
	}
}

// checkExpr parses, at parse time, the values that become ClassAd expressions, so that a
// typo is reported with its line before anything else happens. Values with macros are
// checked after expansion, by Jobs.
func checkExpr(file string, st stmt) error {
	if st.del || st.value == "" || strings.Contains(st.value, "$") || st.kind != setStmt {
		return nil
	}
	if !hasPrefixFold(st.key, "MY.") && !isExprKey(st.key) {
		return nil
	}
	if _, err := classad.ParseExpr(st.value); err != nil {
		return exprError(file, st.line, st.written, st.value, err)
	}
	return nil
}

func exprError(file string, line int, key, value string, err error) *Error {
	return errorf(file, line, key, err, "Parse error in expression %s: %v", quote(value), err)
}

// queueArgsOf reports whether text is a queue statement and returns its arguments: the
// keyword is case-insensitive and must be followed by whitespace or the end of the line.
func queueArgsOf(text string) (string, bool) {
	if len(text) < 5 || !strings.EqualFold(text[:5], "queue") {
		return "", false
	}
	if len(text) > 5 && text[5] != ' ' && text[5] != '\t' {
		return "", false
	}
	return strings.TrimSpace(text[5:]), true
}

func parseQueueStatement(lr *lineReader, text, args string, line int) (stmt, error) {
	q := &queueSpec{args: args}
	if needsMoreLines(args) {
		for {
			s, _, ok := lr.logical()
			if !ok {
				if lr.err != nil {
					return stmt{}, lr.err
				}
				return stmt{}, errorf(lr.name, line, "queue", nil, "the item list opened with ( is not closed: a line starting with ) must end it")
			}
			if strings.HasPrefix(s, ")") {
				break
			}
			q.lines = append(q.lines, s)
		}
	}
	if !strings.Contains(args, "$") {
		a, err := parseQueueArgs(args, q.lines)
		if err != nil {
			return stmt{}, errorf(lr.name, line, "queue", err, "%v", err)
		}
		q.parsed = a
	}
	return stmt{kind: queueStmt, line: line, key: "queue", written: "queue", text: text, q: q}, nil
}

// leadingWord returns the run of key characters at the start of s.
func leadingWord(s string) string {
	i := 0
	for i < len(s) && (isAlpha(s[i]) || isDigit(s[i]) || s[i] == '_' || s[i] == '.') {
		i++
	}
	return s[:i]
}

// isAssignment reports whether rest (what follows a keyword) makes the line an
// assignment to a macro of that name instead, such as "use = 3".
func isAssignment(rest string) bool {
	return strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, "+=") || strings.HasPrefix(rest, "@=")
}

// isSubmitKey reports whether k is a legal submit key: alphanumerics, '_' and '.', with an
// optional leading '+' or '-' (HTCondor's rule).
func isSubmitKey(k string) bool {
	if k != "" && (k[0] == '+' || k[0] == '-') {
		k = k[1:]
	}
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !isAlpha(c) && !isDigit(c) && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// isAttrName reports whether s is a plain ClassAd attribute name.
func isAttrName(s string) bool {
	if s == "" || !(isAlpha(s[0]) || s[0] == '_') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isAlpha(s[i]) && !isDigit(s[i]) && s[i] != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
