package classad

import (
	"hash/maphash"
	"sort"
	"strings"
	"unique"
)

// internKey returns the canonical lower-case form of an attribute name. Every ad and every
// parsed reference shares one copy of each key's bytes, so lookups across many ads hit
// the same cache lines and compare keys by pointer.
func internKey(name string) string {
	return unique.Make(strings.ToLower(name)).Value()
}

// keySeed seeds the attribute-name hash. It is fixed for the life of the process (set
// once at start-up, never changed), so hashes computed at parse time stay valid.
var keySeed = maphash.MakeSeed()

func hashKey(key string) uint64 { return maphash.String(keySeed, key) }

// ClassAd is a record of named, unevaluated expressions. Names are case-insensitive for
// lookup and keep the case they were first set with for printing. Expressions are stored
// as parsed and evaluated on demand. A ClassAd is not safe for concurrent mutation;
// concurrent evaluation of an ad nobody is changing is safe.
//
// Storage is a dense slice of bindings plus a small open-addressing index of positions
// in it, rather than a Go map: a map of 60 names is several levels deep, and with 100,000
// ads in a queue each level is a cache miss; here a lookup touches the index and one
// binding. References parsed from text carry their key's hash, computed once.
type ClassAd struct {
	entries []attrEntry
	index   []int32  // 0 = empty slot, otherwise position in entries + 1; len is 0 or a power of two
	parent  *ClassAd // enclosing ad, for nested ads being evaluated
}

// attrEntry is one binding. A literal's value is also kept inline so that evaluating the
// common case (a constant attribute) reads nothing beyond the binding itself.
type attrEntry struct {
	key   string // interned lower-case name
	hash  uint64
	name  string // as first set, for printing
	expr  Expr
	isLit bool
	lit   Value
}

// New returns an empty ClassAd.
func New() *ClassAd { return &ClassAd{} }

// find returns the position of key (interned or not, lower case) with hash h, or -1.
func (ad *ClassAd) find(key string, h uint64) int {
	if ad == nil || len(ad.index) == 0 {
		return -1
	}
	mask := uint64(len(ad.index) - 1)
	for j := h & mask; ; j = (j + 1) & mask {
		x := ad.index[j]
		if x == 0 {
			return -1
		}
		if en := &ad.entries[x-1]; en.hash == h && en.key == key {
			return int(x - 1)
		}
	}
}

// lookupKey returns the binding of a lower-case key.
func (ad *ClassAd) lookupKey(key string, h uint64) (*attrEntry, bool) {
	i := ad.find(key, h)
	if i < 0 {
		return nil, false
	}
	return &ad.entries[i], true
}

// reindex rebuilds the index with room for at least twice the bindings (load <= 1/2 keeps
// probe sequences short).
func (ad *ClassAd) reindex() {
	n := 8
	for n < 2*len(ad.entries) {
		n <<= 1
	}
	if len(ad.index) == n {
		clear(ad.index)
	} else {
		ad.index = make([]int32, n)
	}
	for i := range ad.entries {
		ad.insertIndex(i)
	}
}

func (ad *ClassAd) insertIndex(i int) {
	mask := uint64(len(ad.index) - 1)
	j := ad.entries[i].hash & mask
	for ad.index[j] != 0 {
		j = (j + 1) & mask
	}
	ad.index[j] = int32(i + 1)
}

// Set binds name to e, replacing any earlier binding of the same name in any case. The
// case the name was first set with is kept for printing.
func (ad *ClassAd) Set(name string, e Expr) {
	key := internKey(name)
	h := hashKey(key)
	en := attrEntry{key: key, hash: h, name: name, expr: e}
	if l, ok := e.(*literal); ok {
		en.isLit, en.lit = true, l.v
	}
	if i := ad.find(key, h); i >= 0 {
		en.name = ad.entries[i].name
		ad.entries[i] = en
		return
	}
	ad.entries = append(ad.entries, en)
	if 2*len(ad.entries) > len(ad.index) {
		ad.reindex()
	} else {
		ad.insertIndex(len(ad.entries) - 1)
	}
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

// lookupName finds the binding of name, in any case.
func (ad *ClassAd) lookupName(name string) (*attrEntry, bool) {
	key := strings.ToLower(name)
	return ad.lookupKey(key, hashKey(key))
}

// Lookup returns the expression bound to name (any case) in this ad itself.
func (ad *ClassAd) Lookup(name string) (Expr, bool) {
	if en, ok := ad.lookupName(name); ok {
		return en.expr, true
	}
	return nil, false
}

// Name returns the stored spelling of name, and whether it is bound.
func (ad *ClassAd) Name(name string) (string, bool) {
	if en, ok := ad.lookupName(name); ok {
		return en.name, true
	}
	return "", false
}

// Delete removes name; it reports whether it was bound.
func (ad *ClassAd) Delete(name string) bool {
	key := strings.ToLower(name)
	i := ad.find(key, hashKey(key))
	if i < 0 {
		return false
	}
	last := len(ad.entries) - 1
	ad.entries[i] = ad.entries[last]
	ad.entries[last] = attrEntry{}
	ad.entries = ad.entries[:last]
	ad.reindex()
	return true
}

// Len returns the number of attributes.
func (ad *ClassAd) Len() int {
	if ad == nil {
		return 0
	}
	return len(ad.entries)
}

// Names returns the attribute names sorted case-insensitively (condor_q -long's order).
func (ad *ClassAd) Names() []string {
	sorted := ad.sorted()
	if sorted == nil {
		return nil
	}
	names := make([]string, len(sorted))
	for i, en := range sorted {
		names[i] = en.name
	}
	return names
}

// sorted returns the bindings in Names' order, for the printers: they need each name's
// expression, which looking the names up again would hash (and lower-case) once more.
func (ad *ClassAd) sorted() []*attrEntry {
	if ad == nil {
		return nil
	}
	out := make([]*attrEntry, len(ad.entries))
	for i := range ad.entries {
		out[i] = &ad.entries[i]
	}
	sort.Slice(out, func(i, j int) bool {
		if c := compareFold(out[i].name, out[j].name); c != 0 {
			return c < 0
		}
		return out[i].name < out[j].name
	})
	return out
}

// Copy returns a copy of ad that can be changed independently. Expressions are shared;
// they are immutable.
func (ad *ClassAd) Copy() *ClassAd {
	return &ClassAd{
		entries: append([]attrEntry(nil), ad.entries...),
		index:   append([]int32(nil), ad.index...),
	}
}

// Update copies every attribute of other into ad, replacing bindings of the same names.
func (ad *ClassAd) Update(other *ClassAd) {
	for i := range other.entries {
		ad.Set(other.entries[i].name, other.entries[i].expr)
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
	entries := ad.sorted()
	if len(entries) == 0 {
		b.WriteString("[  ]")
		return
	}
	b.WriteString("[ ")
	for i, en := range entries {
		if i > 0 {
			b.WriteString("; ")
		}
		writeNameSyn(b, en.name, syn)
		b.WriteString(" = ")
		en.expr.write(b, syn)
	}
	b.WriteString(" ]")
}
