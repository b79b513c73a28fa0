package main

import (
	"strconv"
	"strings"
	"testing"
)

func TestFirstQueueLine(t *testing.T) {
	tests := []struct {
		src  string
		want int
	}{
		{"executable = x\nqueue\n", 2},
		{"# queue\n\nexecutable = x\n  QUEUE 3\nqueue\n", 4},
		{"queued = 1\nqueue_x = 2\n", 0},
		{"a = 1 \\\nqueue\nqueue 2\n", 3},    // the continuation joins "queue" to a's value
		{"a @=end\nqueue\n@end\nqueue\n", 4}, // a multi-line value is not a statement
		{"a = 1\n\tqueue\tfrom x.txt\n", 2},
		{"", 0},
	}
	for _, tt := range tests {
		if got := firstQueueLine(tt.src); got != tt.want {
			t.Errorf("firstQueueLine(%q) = %d, want %d", tt.src, got, tt.want)
		}
	}
}

func TestCompose(t *testing.T) {
	src := "a = 1\nb = 2\nqueue\nc = 3\n"
	c, err := compose(src, &extras{vars: []string{"v=1"}, appends: []string{"x = 1", "y = 2"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "v=1\na = 1\nb = 2\nx = 1\ny = 2\nqueue\nc = 3\n"; c.text != want {
		t.Errorf("text %q, want %q", c.text, want)
	}
	for line, want := range map[int]string{1: varsSource + ":1", 2: "f:1", 3: "f:2", 4: appendSource + ":1", 5: appendSource + ":2", 6: "f:3", 7: "f:4"} {
		if f, l := c.locate("f", line); f+":"+strconv.Itoa(l) != want {
			t.Errorf("locate(%d) = %s:%d, want %s", line, f, l, want)
		}
	}
	c, err = compose("a = 1", &extras{queue: "2", hasQ: true})
	if err != nil || c.text != "a = 1\nqueue 2\n" {
		t.Errorf("-queue: %q, %v", c.text, err)
	}
	if f, l := c.locate("f", 2); f != queueSource || l != 1 {
		t.Errorf("the -queue line locates to %s:%d", f, l)
	}
	if _, err := compose(src, &extras{queue: "2", hasQ: true}); err != errQueueConflict {
		t.Errorf("-queue with a queue statement: %v", err)
	}
	for _, bad := range []string{`a = 1 \`, "a @=end", "a = 1\nqueue"} {
		if _, err := compose(src, &extras{appends: []string{bad}}); err == nil {
			t.Errorf("-append %q was accepted", bad)
		}
	}
}

// FuzzCompose: whatever the file and the added lines, every line of the composed text
// that came from the file maps back to the same text at its own line number, and the
// added lines sit before the file's first queue statement.
func FuzzCompose(f *testing.F) {
	f.Add("executable = x\nqueue\n", "y = 1", "")
	f.Add("a @=end\nqueue\n@end\nqueue 2\nz = 1\n", "b = 2", "v=1")
	f.Add("a = 1 \\\n queue\n# c\nqueue\r\n", "queue", "")
	f.Add("", "x", "y=2")
	f.Fuzz(func(t *testing.T, src, app, v string) {
		x := &extras{appends: []string{app}, vars: []string{v}}
		c, err := compose(src, x)
		if err != nil {
			if oneLine(app) == nil && oneLine(v) == nil {
				t.Fatal(err)
			}
			return
		}
		orig := strings.Split(src, "\n")
		// Every composed line ends in a newline; the empty piece after the last is no line.
		composed := strings.Split(strings.TrimSuffix(c.text, "\n"), "\n")
		for i, text := range composed {
			file, line := c.locate("f", i+1)
			switch file {
			case "f":
				if line < 1 || line > len(orig) || orig[line-1] != text {
					t.Fatalf("composed line %d %q maps to file line %d", i+1, text, line)
				}
			case appendSource:
				if text != app {
					t.Fatalf("composed line %d %q maps to -append line %d", i+1, text, line)
				}
			case varsSource:
				if text != v {
					t.Fatalf("composed line %d %q maps to NAME=value %d", i+1, text, line)
				}
			}
		}
		if q := firstQueueLine(src); q > 0 {
			if got := firstQueueLine(c.text); got != q+c.vars+c.appends && !isQueue(strings.TrimSpace(app)) && !isQueue(strings.TrimSpace(v)) {
				t.Fatalf("first queue statement at composed line %d, want %d", got, q+c.vars+c.appends)
			}
		}
	})
}
