package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestDocsListEveryKnob checks that docs/configuration.md's knob table lists exactly
// Knobs(), in order, each with its environment variable, kind, default and meaning.
func TestDocsListEveryKnob(t *testing.T) {
	page, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, line := range strings.Split(string(page), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		if len(cells) != 5 {
			continue // another table's row
		}
		got = append(got, cells)
	}
	var want [][]string
	for _, k := range Knobs() {
		want = append(want, []string{k.Name, k.Env, k.Kind, k.Default, strings.ReplaceAll(k.Doc, "|", "\\|")})
	}
	if !reflect.DeepEqual(got, want) {
		for i := 0; i < max(len(got), len(want)); i++ {
			var g, w []string
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("row %d:\n page %q\ntable %q", i, g, w)
			}
		}
	}
}

// TestDocsExampleLoads checks that the page's example config.hcl is one Load accepts.
func TestDocsExampleLoads(t *testing.T) {
	page, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(page), "```hcl\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no ```hcl example on the page")
	}
	home, env := testEnv(t)
	c, err := load(t, home, example, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.ProbeInterval.Seconds() != 5 || c.MaxSubmittedPerResource != 100 || c.LogLevel != "debug" {
		t.Errorf("example not applied: %+v", c)
	}
}
