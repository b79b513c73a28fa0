package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/ec2grid/ec2grid/submit"
)

// extras are the submit lines condor_submit's command line adds to a submit file:
// NAME=value arguments (read as if at the top of the file), -append lines (just before
// the first queue statement) and -queue (the queue statement, for a file without one).
type extras struct {
	vars    []string
	appends []string
	queue   string // -queue's arguments; "" = none
	hasQ    bool
}

func (x *extras) empty() bool { return len(x.vars) == 0 && len(x.appends) == 0 && !x.hasQ }

// The names composed errors give for lines that came from the command line.
const (
	varsSource   = "the command line's NAME=value arguments"
	appendSource = "the -append arguments"
	queueSource  = "the -queue argument"
)

// errQueueConflict is HTCondor's refusal of -queue for a file that has its own queue
// statement.
var errQueueConflict = errors.New("-queue argument conflicts with queue statement in submit file")

// composed is a submit file with the command line's lines put in, and the map from its
// lines back to where each came from, so errors name the user's file and line.
type composed struct {
	text string
	// vars, before, added: line counts of the NAME=value lines, of the file's lines before
	// its first queue statement, and of the -append and -queue lines put there.
	vars, before, appends, queue int
}

// compose puts x into src. The file's first queue statement is found the way the submit
// package reads lines (comments, blank lines, backslash continuations, "key @=TAG"
// multi-line values), so a "queue" inside a multi-line value is not mistaken for one.
func compose(src string, x *extras) (*composed, error) {
	lines := strings.SplitAfter(src, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for _, l := range append(append([]string(nil), x.vars...), x.appends...) {
		if err := oneLine(l); err != nil {
			return nil, err
		}
	}
	q := firstQueueLine(src) // 1-based; 0 = none
	if q > 0 && x.hasQ {
		return nil, errQueueConflict
	}
	cut := len(lines)
	if q > 0 {
		cut = q - 1
	}
	var b strings.Builder
	for _, v := range x.vars {
		b.WriteString(v + "\n")
	}
	for _, l := range lines[:cut] {
		b.WriteString(l)
	}
	if cut > 0 && !strings.HasSuffix(lines[cut-1], "\n") {
		b.WriteString("\n")
	}
	for _, a := range x.appends {
		b.WriteString(a + "\n")
	}
	c := &composed{vars: len(x.vars), before: cut, appends: len(x.appends)}
	if x.hasQ {
		b.WriteString("queue " + x.queue + "\n")
		c.queue = 1
	}
	for _, l := range lines[cut:] {
		b.WriteString(l)
	}
	c.text = b.String()
	return c, nil
}

// oneLine refuses a command-line submit line that would run on into the file's next
// lines: HTCondor reads each -append and NAME=value argument as one whole line.
func oneLine(l string) error {
	if strings.ContainsAny(l, "\r\n") {
		return fmt.Errorf("the submit command %q given on the command line holds a line break", l)
	}
	if strings.HasSuffix(strings.TrimRight(l, " \t"), `\`) {
		return fmt.Errorf("the submit command %q given on the command line ends in a backslash, which would continue it onto the file's next line", l)
	}
	if eq := strings.IndexByte(l, '='); eq > 0 && strings.HasSuffix(strings.TrimSpace(l[:eq]), "@") {
		return fmt.Errorf("the submit command %q given on the command line starts a multi-line value (@=), which needs lines of its own", l)
	}
	return nil
}

// locate maps a line of the composed text to its source and line there.
func (c *composed) locate(file string, line int) (string, int) {
	switch {
	case line <= 0:
		return file, line
	case line <= c.vars:
		return varsSource, line
	case line <= c.vars+c.before:
		return file, line - c.vars
	case line <= c.vars+c.before+c.appends:
		return appendSource, line - c.vars - c.before
	case line <= c.vars+c.before+c.appends+c.queue:
		return queueSource, 1
	}
	return file, line - c.vars - c.appends - c.queue
}

// fixError rewrites a *submit.Error's file and line to the user's.
func (c *composed) fixError(file string, err error) error {
	var se *submit.Error
	if c == nil || !errors.As(err, &se) || se.File != file {
		return err
	}
	fixed := *se
	fixed.File, fixed.Line = c.locate(file, se.Line)
	return &fixed
}

// firstQueueLine returns the physical line number of src's first queue statement, or 0.
func firstQueueLine(src string) int {
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	n, first := 0, 0
	var logical strings.Builder
	hereTag := ""
	for sc.Scan() {
		n++
		s := strings.TrimSuffix(sc.Text(), "\r")
		if hereTag != "" {
			if strings.TrimSpace(s) == "@"+hereTag {
				hereTag = ""
			}
			continue
		}
		trimmed := strings.TrimSpace(s)
		if strings.HasPrefix(trimmed, "#") || first == 0 && trimmed == "" {
			continue
		}
		if first == 0 {
			first = n
		}
		body := strings.TrimRight(s, " \t")
		if strings.HasSuffix(body, `\`) {
			logical.WriteString(body[:len(body)-1])
			continue
		}
		logical.WriteString(s)
		text := strings.TrimSpace(logical.String())
		line := first
		logical.Reset()
		first = 0
		if isQueue(text) {
			return line
		}
		if eq := strings.IndexByte(text, '='); eq > 0 && strings.HasSuffix(strings.TrimSpace(text[:eq]), "@") {
			hereTag = strings.TrimSpace(text[eq+1:])
		}
	}
	return 0
}

// isQueue reports whether a logical line is a queue statement: the keyword, any case,
// then whitespace or the end of the line.
func isQueue(text string) bool {
	if len(text) < 5 || !strings.EqualFold(text[:5], "queue") {
		return false
	}
	return len(text) == 5 || text[5] == ' ' || text[5] == '\t'
}

// appendIsQueue reports whether an -append line is a queue statement, which HTCondor
// turns into -queue, and returns its arguments.
func appendIsQueue(line string) (string, bool) {
	t := strings.TrimSpace(line)
	if !isQueue(t) {
		return "", false
	}
	return strings.TrimSpace(t[5:]), true
}
