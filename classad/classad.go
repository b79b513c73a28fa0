package classad

import (
	"sort"
	"strings"
	"unique"
)

// internKey returns the canonical lower-case form of an attribute name. Every ad and every
// parsed reference shares one copy of each key's bytes, so map lookups across many ads hit
// the same cache lines and compare keys by pointer.
func internKey(name string) string {
	return unique.Make(strings.ToLower(name)).Value()
}

// ClassAd is a record of named, unevaluated expressions. Names are case-insensitive for
// lookup and keep the case they were first set with for printing. Expressions are stored
// as parsed and evaluated on demand. A ClassAd is not safe for concurrent mutation;
// concurrent evaluation of an ad nobody is changing is safe.
type ClassAd struct {
	attrs  map[string]attrEntry // key: lower-case name
	parent *ClassAd             // enclosing ad, for nested ads being evaluated
}

// attrEntry is one binding. A literal's value is also kept inline so that evaluating the
// common case (a constant attribute) reads no memory beyond the map slot: with 100,000
// ads in a queue that saves a cache miss per reference.
type attrEntry struct {
	name  string
	expr  Expr
	isLit bool
	lit   Value
}

// New returns an empty ClassAd.
func New() *ClassAd { return &ClassAd{attrs: make(map[string]attrEntry)} }

// Set binds name to e, replacing any earlier binding of the same name in any case. The
// case the name was first set with is kept for printing.
func (ad *ClassAd) Set(name string, e Expr) {
	if ad.attrs == nil {
		ad.attrs = make(map[string]attrEntry)
	}
	key := internKey(name)
	if old, ok := ad.attrs[key]; ok {
		name = old.name
	}
	en := attrEntry{name: name, expr: e}
	if l, ok := e.(*literal); ok {
		en.isLit, en.lit = true, l.v
	}
	ad.attrs[key] = en
}

// SetValue binds name to a literal holding v.
func (ad *ClassAd) SetValue(name string, v Value) { ad.Set(name, Literal(v)) }

// SetInt binds name to an integer literal.
func (ad *ClassAd) SetInt(name string, i int64) { ad.SetValue(name, Int(i)) }

// SetReal binds name to a real literal.
func (ad *ClassAd) SetReal(name string, f float64) { ad.SetValue(name, Real(f)) }

// SetString binds name to a string literal.
func (ad *ClassAd) SetString(name, s string) { ad.SetValue(name, String(s)) }

// SetBool binds name to a boolean literal.
func (ad *ClassAd) SetBool(name string, b bool) { ad.SetValue(name, Bool(b)) }

// SetExpr parses src as an old-syntax expression and binds name to it.
func (ad *ClassAd) SetExpr(name, src string) error {
	e, err := ParseExpr(src)
	if err != nil {
		return err
	}
	ad.Set(name, e)
	return nil
}

// Lookup returns the expression bound to name (any case) in this ad itself.
func (ad *ClassAd) Lookup(name string) (Expr, bool) {
	en, ok := ad.attrs[strings.ToLower(name)]
	return en.expr, ok
}

// Name returns the stored spelling of name, and whether it is bound.
func (ad *ClassAd) Name(name string) (string, bool) {
	en, ok := ad.attrs[strings.ToLower(name)]
	return en.name, ok
}

// Delete removes name; it reports whether it was bound.
func (ad *ClassAd) Delete(name string) bool {
	key := strings.ToLower(name)
	_, ok := ad.attrs[key]
	delete(ad.attrs, key)
	return ok
}

// Len returns the number of attributes.
func (ad *ClassAd) Len() int {
	if ad == nil {
		return 0
	}
	return len(ad.attrs)
}

// Names returns the attribute names sorted case-insensitively (condor_q -long's order).
func (ad *ClassAd) Names() []string {
	names := make([]string, 0, len(ad.attrs))
	for _, en := range ad.attrs {
		names = append(names, en.name)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := strings.ToLower(names[i]), strings.ToLower(names[j])
		if a != b {
			return a < b
		}
		return names[i] < names[j]
	})
	return names
}

// Copy returns a copy of ad that can be changed independently. Expressions are shared;
// they are immutable.
func (ad *ClassAd) Copy() *ClassAd {
	c := &ClassAd{attrs: make(map[string]attrEntry, len(ad.attrs))}
	for k, v := range ad.attrs {
		c.attrs[k] = v
	}
	return c
}

// Update copies every attribute of other into ad, replacing bindings of the same names.
func (ad *ClassAd) Update(other *ClassAd) {
	for _, en := range other.attrs {
		ad.Set(en.name, en.expr)
	}
}

// Eval evaluates e with ad as MY and no TARGET, using the wall clock.
func (ad *ClassAd) Eval(e Expr) Value {
	c := Context{My: ad}
	return c.Eval(e)
}

// EvalAttr evaluates the attribute name of ad (UNDEFINED if it is not bound).
func (ad *ClassAd) EvalAttr(name string) Value {
	c := Context{My: ad}
	return c.EvalAttr(name)
}

// writeInline prints the ad as a nested-ad literal: [ a = 1; b = "x" ].
func (ad *ClassAd) writeInline(b *strings.Builder, syn syntax) {
	if ad == nil {
		b.WriteString("[  ]")
		return
	}
	names := ad.Names()
	if len(names) == 0 {
		b.WriteString("[  ]")
		return
	}
	b.WriteString("[ ")
	for i, n := range names {
		if i > 0 {
			b.WriteString("; ")
		}
		writeName(b, n)
		b.WriteString(" = ")
		ad.attrs[strings.ToLower(n)].expr.write(b, syn)
	}
	b.WriteString(" ]")
}
