package submit

import (
	"strconv"
	"strings"
	"testing"
)

// TestMacros covers every macro form. Each case's lines go after the base job; the
// value of ec2_user_data (EC2UserData) of each job is compared.
func TestMacros(t *testing.T) {
	tests := []struct {
		name  string
		lines string
		want  []string // EC2UserData of each job
		check func(t *testing.T, got []string)
	}{
		{name: "simple", lines: "x = hello\nec2_user_data = $(x)\nqueue\n", want: []string{"hello"}},
		{name: "case-insensitive name", lines: "Greeting = hi\nec2_user_data = $(GREETING) $(greeting)\nqueue\n", want: []string{"hi hi"}},
		{name: "lazy: defined after use", lines: "ec2_user_data = $(x)\nx = later\nqueue\n", want: []string{"later"}},
		{name: "lazy: last definition before queue wins", lines: "ec2_user_data = $(x)\nx = one\nqueue\nx = two\nqueue\n", want: []string{"one", "two"}},
		{name: "chain", lines: "a = $(b)-a\nb = $(c)-b\nc = c\nec2_user_data = $(a)\nqueue\n", want: []string{"c-b-a"}},
		{name: "undefined is empty", lines: "ec2_user_data = [$(nothing)]\nqueue\n", want: []string{"[]"}},
		{name: "default", lines: "ec2_user_data = $(nothing:fallback)\nqueue\n", want: []string{"fallback"}},
		{name: "default unused when set", lines: "x = set\nec2_user_data = $(x:fallback)\nqueue\n", want: []string{"set"}},
		{name: "default used when empty", lines: "x =\nec2_user_data = $(x:fallback)\nqueue\n", want: []string{"fallback"}},
		{name: "default with a macro", lines: "y = why\nec2_user_data = $(x:$(y))\nqueue\n", want: []string{"why"}},
		{name: "Cluster and ClusterId", lines: "ec2_user_data = $(Cluster) $(ClusterId)\nqueue\n", want: []string{"1 1"}},
		{name: "Process and ProcId", lines: "ec2_user_data = $(Process)/$(ProcId)\nqueue 3\n", want: []string{"0/0", "1/1", "2/2"}},
		{name: "JobId", lines: "ec2_user_data = $(JobId)\nqueue 2\n", want: []string{"1.0", "1.1"}},
		{name: "Step", lines: "ec2_user_data = $(Step)\nqueue 3\n", want: []string{"0", "1", "2"}},
		{name: "Item", lines: "ec2_user_data = $(Item)\nqueue in (red, green)\n", want: []string{"red", "green"}},
		{name: "Row and ItemIndex", lines: "ec2_user_data = $(Row)$(ItemIndex)\nqueue in (a, b, c)\n", want: []string{"00", "11", "22"}},
		{name: "self-reference uses the previous value", lines: "x = a\nx = $(x) b\nx = $(x) c\nec2_user_data = $(x)\nqueue\n", want: []string{"a b c"}},
		{name: "self-reference with no previous value", lines: "x = $(x) b\nec2_user_data = $(x)\nqueue\n", want: []string{"b"}},
		{name: "$$ is left for match time", lines: "ec2_user_data = $$(Memory) $$(Cpus:1) $$([Memory*2])\nqueue\n", want: []string{"$$(Memory) $$(Cpus:1) $$([Memory*2])"}},
		{name: "DOLLAR", lines: "ec2_user_data = cost $(DOLLAR)5 $(DOLLAR)(x)\nx = no\nqueue\n", want: []string{"cost $5 $(x)"}},
		{name: "lone dollar", lines: "ec2_user_data = $5 and $\nqueue\n", want: []string{"$5 and $"}},
		{name: "unclosed reference is literal", lines: "ec2_user_data = $(x\nqueue\n", want: []string{"$(x"}},
		{name: "unknown function is literal", lines: "ec2_user_data = $NOSUCH(x)\nqueue\n", want: []string{"$NOSUCH(x)"}},
		{name: "ENV", lines: "ec2_user_data = $ENV(HOME)\nqueue\n", want: []string{"/home/alice"}},
		{name: "ENV unset", lines: "ec2_user_data = [$ENV(NOT_SET)]\nqueue\n", want: []string{"[]"}},
		{name: "ENV default", lines: "ec2_user_data = $ENV(NOT_SET:/tmp) $ENV(EMPTY:dflt) $ENV(HOME:x)\nqueue\n", want: []string{"/tmp dflt /home/alice"}},
		{name: "RANDOM_INTEGER", lines: "ec2_user_data = $RANDOM_INTEGER(10, 20)\nqueue 50\n", check: func(t *testing.T, got []string) {
			seen := map[string]bool{}
			for _, g := range got {
				n, err := strconv.Atoi(g)
				if err != nil || n < 10 || n > 20 {
					t.Errorf("$RANDOM_INTEGER(10, 20) = %q", g)
				}
				seen[g] = true
			}
			if len(seen) < 2 {
				t.Errorf("50 draws gave only %v", seen)
			}
		}},
		{name: "RANDOM_INTEGER with step", lines: "ec2_user_data = $RANDOM_INTEGER(0, 100, 25)\nqueue 20\n", check: func(t *testing.T, got []string) {
			for _, g := range got {
				if n, err := strconv.Atoi(g); err != nil || n%25 != 0 || n < 0 || n > 100 {
					t.Errorf("$RANDOM_INTEGER(0, 100, 25) = %q", g)
				}
			}
		}},
		{name: "RANDOM_CHOICE", lines: "ec2_user_data = $RANDOM_CHOICE(us-east-1a, us-east-1b , us-east-1c)\nqueue 30\n", check: func(t *testing.T, got []string) {
			seen := map[string]bool{}
			for _, g := range got {
				if g != "us-east-1a" && g != "us-east-1b" && g != "us-east-1c" {
					t.Errorf("$RANDOM_CHOICE = %q", g)
				}
				seen[g] = true
			}
			if len(seen) < 2 {
				t.Errorf("30 draws gave only %v", seen)
			}
		}},
		{name: "RANDOM_CHOICE of macros", lines: "a = x\nec2_user_data = $RANDOM_CHOICE($(a),$(a))\nqueue\n", want: []string{"x"}},
		{name: "CHOICE", lines: "ec2_user_data = $CHOICE(Process, a, b, c)\nqueue 3\n", want: []string{"a", "b", "c"}},
		{name: "CHOICE from a list macro", lines: "zones = a, b\nec2_user_data = $CHOICE(1, zones)\nqueue\n", want: []string{"b"}},
		{name: "INT and REAL", lines: "n = 6 * 7\nec2_user_data = $INT(n) $INT(n, %05d) $REAL($(n) / 4.0) $INT($(Process) + 10)\nqueue\n", want: []string{"42 00042 10.5 10"}},
		{name: "STRING and EVAL", lines: "s = strcat(\"a\", \"b\")\nec2_user_data = $STRING(s) $EVAL(1 + 2)\nqueue\n", want: []string{"ab 3"}},
		{name: "SUBSTR", lines: "s = abcdef\nec2_user_data = $SUBSTR(s, 2) $SUBSTR(s, 1, 2) $SUBSTR(s, -2) $SUBSTR(s, 0, -1)\nqueue\n", want: []string{"cdef bc ef abcde"}},
		{name: "BASENAME and DIRNAME", lines: "p = /data/in/file.txt\nec2_user_data = $BASENAME(p) $DIRNAME(p)\nqueue\n", want: []string{"file.txt /data/in"}},
		{name: "predefined", lines: "ec2_user_data = $(SUBMIT_FILE) $(YEAR)-$(MONTH)-$(DAY) $(SUBMIT_TIME)\nqueue\n", want: []string{"job.sub 2026-11-23 " + strconv.FormatInt(testNow.Unix(), 10)}},
		{name: "queue variable wins", lines: "Item = file\nec2_user_data = $(Item)\nqueue in (loop)\n", want: []string{"loop"}},
		{name: "item values are expanded", lines: "base = /data\nec2_user_data = $(Item)\nqueue in ($(base)/a, $(base)/b)\n", want: []string{"/data/a", "/data/b"}},
		{name: "macro in queue count", lines: "n = 2\nec2_user_data = $(Process)\nqueue $(n)\n", want: []string{"0", "1"}},
		{name: "name built from macros", lines: "which = b\nval_b = bee\nec2_user_data = $(val_$(which))\nqueue\n", want: []string{"bee"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			var got []string
			for _, ad := range fx.jobs(t, base+tt.lines) {
				got = append(got, str(ad, "EC2UserData"))
			}
			if tt.check != nil {
				tt.check(t, got)
				return
			}
			if strings.Join(got, "\x00") != strings.Join(tt.want, "\x00") {
				t.Errorf("EC2UserData = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestMacroErrors checks that macros which cannot be expanded are errors, never hangs.
func TestMacroErrors(t *testing.T) {
	tests := []struct {
		name  string
		lines string
		key   string
		line  int // within the whole file; base is 6 lines
		msg   string
	}{
		{"mutual recursion", "a = $(b)\nb = $(a)\nec2_user_data = $(a)\nqueue\n", "ec2_user_data", 9, "macro a refers to itself ($(a) -> $(b) -> $(a))"},
		{"longer cycle", "a = $(b)\nb = $(c)\nc = x$(a)\nec2_instance_type = $(c)\nqueue\n", "ec2_instance_type", 10, "refers to itself"},
		{"cycle through a default", "a = $(nothing:$(a))\nb = $(a)\nec2_user_data = $(b)\nqueue\n", "ec2_user_data", 9, "refers to itself"},
		{"cycle through an item", "ec2_user_data = $(Item)\nqueue in (a$(DOLLAR)(Item))\n", "ec2_user_data", 7, "refers to itself"},
		{"exponential growth", "a0 = " + strings.Repeat("x", 4096) + "\n" + doubling(20) + "ec2_user_data = $(a20)\nqueue\n", "ec2_user_data", 28, "longer than"},
		{"exponential work, empty result", "a0 = $ENV(NOT_SET)\n" + doubling(40) + "ec2_user_data = $(a40)\nqueue\n", "ec2_user_data", 48, "more than 100000 macro references"},
		{"RANDOM_INTEGER backwards", "ec2_user_data = $RANDOM_INTEGER(5, 1)\nqueue\n", "ec2_user_data", 7, "min <= max"},
		{"RANDOM_INTEGER not a number", "ec2_user_data = $RANDOM_INTEGER(a, 1)\nqueue\n", "ec2_user_data", 7, "not an integer"},
		{"RANDOM_CHOICE empty", "ec2_user_data = $RANDOM_CHOICE()\nqueue\n", "ec2_user_data", 7, "at least one"},
		{"CHOICE out of range", "ec2_user_data = $CHOICE(5, a, b)\nqueue\n", "ec2_user_data", 7, "outside"},
		{"INT of text", "ec2_user_data = $INT(\"abc\")\nqueue\n", "ec2_user_data", 7, "not a number"},
		{"file name parts refused", "ec2_user_data = $Fn(x)\nqueue\n", "ec2_user_data", 7, "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			_, err := fx.submitText(base + tt.lines)
			if err == nil {
				t.Fatal("no error")
			}
			se := asError(t, err)
			if se.Key != tt.key || se.Line != tt.line || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("got line %d key %q msg %q; want line %d key %q msg containing %q", se.Line, se.Key, se.Msg, tt.line, tt.key, tt.msg)
			}
		})
	}
}

// doubling defines a1..an, each twice the previous.
func doubling(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString("a" + strconv.Itoa(i) + " = $(a" + strconv.Itoa(i-1) + ")$(a" + strconv.Itoa(i-1) + ")\n")
	}
	return b.String()
}
