package classad

// SharedBindings returns a new, unchained ad holding the bindings every one of ads has
// alike: the same name, spelt the same, bound to the same expression (SameExpr). It is
// the cluster ad of a cluster of job ads, the part condor_submit sends once and a queue
// stores once. Nil or empty ads give an empty ad.
//
// When the ads are chained to one base (as a submit's jobs are to their cluster's
// common attributes), the base's bindings are shared unless an ad shadows one with a
// different expression or deletes it, so only each ad's own bindings and tombstones are
// read: the cost is the ads' differences, not ads × attributes.
func SharedBindings(ads []*ClassAd) *ClassAd {
	if len(ads) == 0 || ads[0] == nil {
		return New()
	}
	first := ads[0]
	type cand struct {
		en   *attrEntry
		own  bool // one of first's own bindings (not inherited from its base)
		gone bool
	}
	var cands []cand
	pos := map[string]int{}
	for i := range first.entries {
		pos[first.entries[i].key] = len(cands)
		cands = append(cands, cand{en: &first.entries[i], own: true})
	}
	if first.base != nil {
		first.base.each(func(en *attrEntry) {
			if _, ok := pos[en.key]; !ok && !first.isHidden(en.key) {
				pos[en.key] = len(cands)
				cands = append(cands, cand{en: en})
			}
		})
	}
	drop := func(key string) {
		if i, ok := pos[key]; ok {
			cands[i].gone = true
		}
	}
	for _, ad := range ads[1:] {
		if ad == nil {
			return New()
		}
		if ad.base != nil && ad.base == first.base {
			// What both inherit is alike unless ad shadows or deletes it.
			for i := range ad.entries {
				en := &ad.entries[i]
				if j, ok := pos[en.key]; ok && !sameBinding(cands[j].en, en) {
					cands[j].gone = true
				}
			}
			for _, k := range ad.hidden {
				drop(k)
			}
			// first's own bindings: ad may inherit or lack them.
			for j := range cands {
				if c := &cands[j]; c.own && !c.gone {
					if en, ok := ad.lookupKey(c.en.key, c.en.hash); !ok || !sameBinding(c.en, en) {
						c.gone = true
					}
				}
			}
			continue
		}
		for j := range cands {
			if c := &cands[j]; !c.gone {
				if en, ok := ad.lookupKey(c.en.key, c.en.hash); !ok || !sameBinding(c.en, en) {
					c.gone = true
				}
			}
		}
	}
	out := &ClassAd{}
	for _, c := range cands {
		if !c.gone {
			out.entries = append(out.entries, *c.en)
		}
	}
	if len(out.entries) > 0 {
		out.reindex()
	}
	return out
}

// sameBinding reports whether two bindings of one key are alike: the name spelt the same
// and the same expression.
func sameBinding(a, b *attrEntry) bool {
	return a == b || a.name == b.name && sameExpr(a.expr, b.expr)
}

// ChainedCopies returns ad.ChainedCopy(base) for each of ads. Ads chained to one base
// of their own (a submit's jobs to their common attributes) are copied from their own
// bindings and the few of that base's that base lacks, worked out once, instead of each
// being flattened and compared binding by binding.
func ChainedCopies(ads []*ClassAd, base *ClassAd) []*ClassAd {
	out := make([]*ClassAd, len(ads))
	var from *ClassAd      // the base of the ads the extras were worked out for
	var extra []*attrEntry // from's merged bindings that base does not have alike
	for i, ad := range ads {
		if ad == nil || ad.base == nil || ad.base == base {
			out[i] = ad.ChainedCopy(base)
			continue
		}
		if ad.base != from {
			from, extra = ad.base, extra[:0]
			from.each(func(en *attrEntry) {
				if ben, ok := base.lookupKey(en.key, en.hash); !ok || !sameBinding(ben, en) {
					extra = append(extra, en)
				}
			})
		}
		cp := &ClassAd{entries: make([]attrEntry, 0, len(ad.entries)+len(extra))}
		for j := range ad.entries {
			en := &ad.entries[j]
			if ben, ok := base.lookupKey(en.key, en.hash); ok && sameBinding(ben, en) {
				continue
			}
			cp.entries = append(cp.entries, *en)
		}
		for _, en := range extra {
			if ad.find(en.key, en.hash) < 0 && !ad.isHidden(en.key) {
				cp.entries = append(cp.entries, *en)
			}
		}
		if len(cp.entries) > 0 {
			cp.reindex()
		}
		cp.ChainTo(base)
		out[i] = cp
	}
	return out
}
