package classad

import (
	"hash/maphash"
	"math"
	"sort"
	"strings"
	"sync/atomic"
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
//
// An ad may be chained to a base ad (ChainTo), as HTCondor's schedd chains each job's ad
// to its cluster's: the ad then reads as the merge of its own bindings over the base's.
// Its guarantee: every exported read (lookups, evaluation, Len, Names, printing, Copy,
// Update) sees that merged view, where an own binding shadows the base's and a base
// attribute deleted in the ad (a tombstone) reads as absent; writes change only the ad's
// own bindings, never the base. The base is shared, typically by thousands of ads, so it
// must not be changed while anything is chained to it; a chained ad costs only its own
// bindings.
type ClassAd struct {
	entries []attrEntry
	index   []int32  // 0 = empty slot, otherwise position in entries + 1; len is 0 or a power of two
	parent  *ClassAd // enclosing ad, for nested ads being evaluated

	base     *ClassAd // the ad misses fall back to; nil when not chained
	hidden   []string // interned keys of base attributes deleted here (tombstones)
	shadowed int      // own bindings whose key the base binds too (for Len)

	// asBase caches the merged view's bindings in Names' order once the ad serves as a
	// base: a chained ad then prints by merging its few own bindings into it instead of
	// sorting the whole merged view. Any change to the ad drops it. Atomic, because
	// the ads chained to a base read it concurrently.
	asBase atomic.Pointer[[]*attrEntry]
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

// lookupKey returns the binding of a lower-case key in the merged view: the ad's own
// bindings, then (unless a tombstone hides it) the base's.
func (ad *ClassAd) lookupKey(key string, h uint64) (*attrEntry, bool) {
	if i := ad.find(key, h); i >= 0 {
		return &ad.entries[i], true
	}
	if ad == nil || ad.base == nil {
		return nil, false
	}
	// Kept out of the hit path above, so an unchained ad pays one nil check on a miss.
	return ad.lookupBase(key, h)
}

func (ad *ClassAd) lookupBase(key string, h uint64) (*attrEntry, bool) {
	if ad.isHidden(key) {
		return nil, false
	}
	return ad.base.lookupKey(key, h)
}

// has reports whether the merged view binds key.
func (ad *ClassAd) has(key string, h uint64) bool {
	if ad.find(key, h) >= 0 {
		return true
	}
	if ad == nil || ad.base == nil {
		return false
	}
	_, ok := ad.lookupBase(key, h)
	return ok
}

// isHidden reports whether key (interned or not) has a tombstone here. Tombstones are
// few (attributes a job removed from its cluster's), so a scan beats an index.
func (ad *ClassAd) isHidden(key string) bool {
	for _, k := range ad.hidden {
		if k == key {
			return true
		}
	}
	return false
}

// unhide removes key's tombstone, if any.
func (ad *ClassAd) unhide(key string) bool {
	for i, k := range ad.hidden {
		if k == key {
			last := len(ad.hidden) - 1
			ad.hidden[i] = ad.hidden[last]
			ad.hidden = ad.hidden[:last]
			if len(ad.hidden) == 0 {
				ad.hidden = nil
			}
			return true
		}
	}
	return false
}

// ChainTo makes base the ad's base: lookups that miss the ad's own bindings fall back
// to it (see ClassAd). Own bindings stay and shadow the base's; earlier tombstones are
// dropped. base must not change while the ad is chained to it; it may itself be chained.
// ChainTo(nil) unchains the ad, leaving only its own bindings. Chaining an ad to itself
// or into a loop panics: that is a programming error, not bad input.
func (ad *ClassAd) ChainTo(base *ClassAd) {
	for b := base; b != nil; b = b.base {
		if b == ad {
			panic("classad: ChainTo would make a loop of bases")
		}
	}
	ad.dropAsBase()
	ad.base, ad.hidden, ad.shadowed = base, nil, 0
	if base == nil {
		return
	}
	for i := range ad.entries {
		if base.has(ad.entries[i].key, ad.entries[i].hash) {
			ad.shadowed++
		}
	}
}

// Chained returns the ad's base, or nil when it is not chained.
func (ad *ClassAd) Chained() *ClassAd {
	if ad == nil {
		return nil
	}
	return ad.base
}

// Own returns a new, unchained ad holding only the ad's own bindings: what it adds to
// or changes in its base (without the tombstones; see Hidden).
func (ad *ClassAd) Own() *ClassAd {
	if ad == nil {
		return New()
	}
	return &ClassAd{
		entries: append([]attrEntry(nil), ad.entries...),
		index:   append([]int32(nil), ad.index...),
	}
}

// Hidden returns the names (lower case) of the base attributes deleted in the ad — its
// tombstones — sorted; nil when there are none.
func (ad *ClassAd) Hidden() []string {
	if ad == nil || len(ad.hidden) == 0 {
		return nil
	}
	out := append([]string(nil), ad.hidden...)
	sort.Strings(out)
	return out
}

// Flatten returns a new, unchained ad with the merged view's bindings: independent of
// the base, for storing or sending on its own.
func (ad *ClassAd) Flatten() *ClassAd {
	if ad == nil {
		return New()
	}
	if ad.base == nil {
		return ad.Copy()
	}
	out := &ClassAd{entries: make([]attrEntry, 0, ad.Len())}
	ad.each(func(en *attrEntry) { out.entries = append(out.entries, *en) })
	out.reindex()
	return out
}

// ChainedCopy returns a copy of ad chained to base that holds as its own bindings only
// what base does not already have: a binding is dropped when base binds the same name,
// spelt the same, to the same expression (the same parsed Expr, or one that prints the
// same). The copy reads as ad.Flatten() chained to base would — attributes only base
// binds are inherited — at the cost of what differs: the way a cluster's jobs share
// their common attributes. base must not change while the copy is chained to it.
func (ad *ClassAd) ChainedCopy(base *ClassAd) *ClassAd {
	src := ad
	if ad.Chained() != nil {
		src = ad.Flatten()
	}
	if src == nil {
		src = New()
	}
	// Mark what to keep first, so the copy's slice is allocated once at its final size.
	var buf [32]int32
	keep := buf[:0]
	for i := range src.entries {
		en := &src.entries[i]
		if ben, ok := base.lookupKey(en.key, en.hash); ok && ben.name == en.name && sameExpr(ben.expr, en.expr) {
			continue
		}
		keep = append(keep, int32(i))
	}
	out := &ClassAd{entries: make([]attrEntry, len(keep))}
	for j, i := range keep {
		out.entries[j] = src.entries[i]
	}
	if len(out.entries) > 0 {
		out.reindex()
	}
	out.ChainTo(base)
	return out
}

// sameExpr reports whether a and b are the same expression: the same node, or nodes
// that print the same (and so parse back alike).
func sameExpr(a, b Expr) bool { return SameExpr(a, b) }

// SameExpr reports whether a and b are the same expression: the same node, or the same
// text. Literals are compared by value without building text (the common case when a
// queue compares the stamped per-job constants of a cluster's ads); a false answer for
// two literals that print alike (a real that is -0 or NaN) only costs sharing.
func SameExpr(a, b Expr) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	if la, ok := a.(*literal); ok {
		lb, ok := b.(*literal)
		if !ok || la.v.kind != lb.v.kind {
			return false
		}
		switch la.v.kind {
		case StringKind:
			return la.v.s == lb.v.s
		case IntKind, BoolKind:
			return la.v.i == lb.v.i
		case RealKind:
			return math.Float64bits(la.v.f) == math.Float64bits(lb.v.f)
		}
	}
	return Unparse(a) == Unparse(b)
}

// each calls fn for every binding of the merged view, own bindings first, in no
// particular order.
func (ad *ClassAd) each(fn func(*attrEntry)) {
	if ad == nil {
		return
	}
	for i := range ad.entries {
		fn(&ad.entries[i])
	}
	if ad.base == nil {
		return
	}
	ad.base.each(func(en *attrEntry) {
		if ad.find(en.key, en.hash) < 0 && !ad.isHidden(en.key) {
			fn(en)
		}
	})
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
	ad.dropAsBase()
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
	if ad.base != nil && !ad.unhide(key) {
		// Shadowing a base binding keeps the base's spelling, as replacing an own one
		// does; after a Delete the name is set anew, as in an unchained ad.
		if ben, ok := ad.base.lookupKey(key, h); ok {
			en.name = ben.name
			ad.shadowed++
		}
	} else if ad.base != nil {
		ad.shadowed++ // was hidden, so the base binds it
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

// Delete removes name; it reports whether it was bound. In a chained ad, deleting an
// attribute the base binds leaves a tombstone, so it reads as absent here while the base
// keeps it.
func (ad *ClassAd) Delete(name string) bool {
	if ad == nil {
		return false
	}
	key := strings.ToLower(name)
	h := hashKey(key)
	i := ad.find(key, h)
	inBase := false
	if ad.base != nil && !ad.isHidden(key) {
		_, inBase = ad.base.lookupKey(key, h)
	}
	if i < 0 && !inBase {
		return false
	}
	ad.dropAsBase()
	if i >= 0 {
		last := len(ad.entries) - 1
		ad.entries[i] = ad.entries[last]
		ad.entries[last] = attrEntry{}
		ad.entries = ad.entries[:last]
		ad.reindex()
	}
	if inBase {
		if i >= 0 {
			ad.shadowed--
		}
		ad.hidden = append(ad.hidden, internKey(key))
	}
	return true
}

// Len returns the number of attributes (of the merged view, when chained).
func (ad *ClassAd) Len() int {
	if ad == nil {
		return 0
	}
	if ad.base == nil {
		return len(ad.entries)
	}
	return len(ad.entries) + ad.base.Len() - ad.shadowed - len(ad.hidden)
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
	sortEntries(out)
	if ad.base == nil {
		return out
	}
	// Merge the own bindings into the base's (sorted once, cached), skipping what they
	// shadow and what tombstones hide.
	base := ad.base.sortedAsBase()
	merged := make([]*attrEntry, 0, ad.Len())
	i := 0
	for _, ben := range base {
		if ad.find(ben.key, ben.hash) >= 0 || ad.isHidden(ben.key) {
			continue
		}
		for i < len(out) && entryLess(out[i], ben) {
			merged = append(merged, out[i])
			i++
		}
		merged = append(merged, ben)
	}
	return append(merged, out[i:]...)
}

// sortedAsBase is sorted, cached for an ad that ads are chained to (see asBase). The
// result is shared and must not be changed.
func (ad *ClassAd) sortedAsBase() []*attrEntry {
	if p := ad.asBase.Load(); p != nil {
		return *p
	}
	s := ad.sorted()
	ad.asBase.Store(&s)
	return s
}

// dropAsBase forgets the cached order before a change. Loading first keeps the common
// case (an ad never used as a base) to a plain read.
func (ad *ClassAd) dropAsBase() {
	if ad.asBase.Load() != nil {
		ad.asBase.Store(nil)
	}
}

func sortEntries(es []*attrEntry) {
	sort.Slice(es, func(i, j int) bool { return entryLess(es[i], es[j]) })
}

// entryLess is Names' order: case-insensitive, then byte order to make it total.
func entryLess(a, b *attrEntry) bool {
	if c := compareFold(a.name, b.name); c != 0 {
		return c < 0
	}
	return a.name < b.name
}

// Copy returns a copy of ad that can be changed independently. Expressions are shared;
// they are immutable. A chained ad's copy is chained to the same base (which nobody
// changes), so copying costs only the own bindings; Flatten makes a standalone ad.
func (ad *ClassAd) Copy() *ClassAd {
	return &ClassAd{
		entries:  append([]attrEntry(nil), ad.entries...),
		index:    append([]int32(nil), ad.index...),
		base:     ad.base,
		hidden:   append([]string(nil), ad.hidden...),
		shadowed: ad.shadowed,
	}
}

// Update copies every attribute of other (its merged view, when chained) into ad,
// replacing bindings of the same names.
func (ad *ClassAd) Update(other *ClassAd) {
	if other.base == nil {
		for i := range other.entries {
			ad.Set(other.entries[i].name, other.entries[i].expr)
		}
		return
	}
	other.each(func(en *attrEntry) { ad.Set(en.name, en.expr) })
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
