package classad

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// sharedReference is SharedBindings by its definition: ads[0]'s merged bindings that
// every other ad binds with the same spelling to the same expression.
func sharedReference(ads []*ClassAd) []string {
	var out []string
	flat := make([]*ClassAd, len(ads))
	for i, ad := range ads {
		flat[i] = ad.Flatten()
	}
	for i := range flat[0].entries {
		en := &flat[0].entries[i]
		alike := true
		for _, o := range flat[1:] {
			if j := o.find(en.key, en.hash); j < 0 || !sameBinding(en, &o.entries[j]) {
				alike = false
				break
			}
		}
		if alike {
			out = append(out, en.name+" = "+Unparse(en.expr))
		}
	}
	slices.Sort(out)
	return out
}

func bindings(ad *ClassAd) []string {
	var out []string
	ad.each(func(en *attrEntry) { out = append(out, en.name+" = "+Unparse(en.expr)) })
	slices.Sort(out)
	return out
}

// randomCluster builds n job ads the ways a queue meets them: flat ads built one by one
// (no shared nodes), or ads chained to a common base with their differences own, some
// shadowing the base with another value or spelling, some deleting a base attribute.
func randomCluster(t *testing.T, r *rand.Rand, n int) []*ClassAd {
	t.Helper()
	common := clusterBase(t)
	ads := make([]*ClassAd, n)
	chained := r.IntN(3) > 0
	for i := range ads {
		var ad *ClassAd
		if chained {
			ad = New()
			ad.ChainTo(common)
		} else {
			ad = clusterBase(t)
		}
		ad.SetInt("ProcId", int64(i))
		for range r.IntN(4) {
			switch r.IntN(6) {
			case 0:
				ad.SetInt("Limit", int64(r.IntN(2)*100)) // 100 is the base's value
			case 1:
				ad.Delete("Cmd")
			case 2:
				ad.Delete("Owner")
				ad.SetString("OWNER", "alice") // another spelling
			case 3:
				ad.SetString("Extra", "x") // not in the base
			case 4:
				if err := ad.SetExpr("Over", "Used > Limit"); err != nil { // a new node, same text
					t.Fatal(err)
				}
			case 5:
				ad.SetReal("RequestCpus", 1) // same value, another kind
			}
		}
		ads[i] = ad
	}
	return ads
}

func TestSharedBindingsAndChainedCopies(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for round := range 500 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			ads := randomCluster(t, r, 1+r.IntN(6))
			shared := SharedBindings(ads)
			if shared.Chained() != nil {
				t.Fatal("SharedBindings returned a chained ad")
			}
			if got, want := bindings(shared), sharedReference(ads); !slices.Equal(got, want) {
				t.Fatalf("SharedBindings:\n got %q\nwant %q", got, want)
			}
			base := shared.Copy()
			base.SetInt("ClusterId", 7)
			copies := ChainedCopies(ads, base)
			for i, ad := range ads {
				want := ad.ChainedCopy(base)
				cp := copies[i]
				if cp.Chained() != base {
					t.Fatalf("copy %d is not chained to base", i)
				}
				if got, want := bindings(cp), bindings(want); !slices.Equal(got, want) {
					t.Fatalf("ChainedCopies[%d] reads\n %q\nChainedCopy reads\n %q", i, got, want)
				}
				if got, want := bindings(cp.Own()), bindings(want.Own()); !slices.Equal(got, want) {
					t.Fatalf("ChainedCopies[%d] owns %q, ChainedCopy owns %q", i, got, want)
				}
			}
		})
	}
}

func TestSharedBindingsEdges(t *testing.T) {
	if got := SharedBindings(nil).Len(); got != 0 {
		t.Errorf("SharedBindings(nil) has %d bindings", got)
	}
	one := clusterBase(t)
	if got, want := bindings(SharedBindings([]*ClassAd{one})), bindings(one); !slices.Equal(got, want) {
		t.Errorf("one ad: %q, want %q", got, want)
	}
	if got := SharedBindings([]*ClassAd{one, nil}).Len(); got != 0 {
		t.Errorf("with a nil ad: %d bindings", got)
	}
}
