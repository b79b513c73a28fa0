package submit

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
)

// Error is a problem with a submit file. It names the file, the line and the submit key
// so that a user can find the mistake without reading the whole file; condor_submit prints
// it after "ERROR: ", which gives HTCondor's form
//
//	ERROR: on Line 7 of job.sub: ec2_ami_id: EC2 jobs require a "ec2_ami_id" parameter
//
// with the key added (HTCondor leaves it out, and users then guess which line is meant).
type Error struct {
	File string // the submit file's name as given to Parse ("-" or "<stdin>" for stdin)
	Line int    // 1-based; 0 when the problem is not tied to one line
	Key  string // the submit key (or "queue", "if", ...) the problem is about
	Msg  string // what is wrong, in HTCondor's words where HTCondor has some
	Err  error  // the underlying error (a file system error, a ClassAd parse error), if any
}

func (e *Error) Error() string {
	where := "in " + e.File
	if e.Line > 0 {
		where = "on Line " + strconv.Itoa(e.Line) + " of " + e.File
	}
	if e.Key == "" {
		return where + ": " + e.Msg
	}
	return where + ": " + e.Key + ": " + e.Msg
}

// Unwrap returns the underlying error, so errors.Is(err, fs.ErrNotExist) works.
func (e *Error) Unwrap() error { return e.Err }

// errno returns the operating system's text for a file error ("no such file or
// directory"), the part HTCondor prints in parentheses after the path.
func errno(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// maxQuoted is how much of a user's text an error message repeats: enough to recognise
// the line, not so much that one bad 10 MB line floods the terminal.
const maxQuoted = 120

// quote returns s quoted for a message, shortened to maxQuoted bytes.
func quote(s string) string {
	if len(s) > maxQuoted {
		return strconv.Quote(s[:maxQuoted]) + "..."
	}
	return strconv.Quote(s)
}

// errorf builds an *Error; a nil-safe helper so call sites stay one line.
func errorf(file string, line int, key string, err error, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...), Err: err}
}
