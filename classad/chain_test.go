package classad

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// clusterBase is a cluster ad: what every job of a cluster shares.
func clusterBase(t testing.TB) *ClassAd {
	t.Helper()
	base, err := ParseLong(`Owner = "alice"
Cmd = "/bin/true"
RequestCpus = 1
JobStatus = 1
Limit = 100
Over = Used > Limit
Peer = TARGET.Owner
Mine = MY.Limit + 1
Rank = ProcId * 10
`)
	if err != nil {
		t.Fatal(err)
	}
	return base
}

// chainedJob is a proc ad over base: its own ProcId and Used.
func chainedJob(t testing.TB, base *ClassAd, proc int64) *ClassAd {
	t.Helper()
	ad := New()
	ad.SetInt("ProcId", proc)
	ad.SetInt("Used", 50)
	ad.ChainTo(base)
	return ad
}

// flatJob is chainedJob's merged view built without chaining, the reference.
func flatJob(t testing.TB, proc int64) *ClassAd {
	t.Helper()
	ad := clusterBase(t)
	ad.SetInt("ProcId", proc)
	ad.SetInt("Used", 50)
	return ad
}

func TestChainLookupAndEval(t *testing.T) {
	base := clusterBase(t)
	ad := chainedJob(t, base, 3)
	target := New()
	target.SetString("Owner", "bob")
	target.SetInt("Limit", 7)
	ctx := Context{My: ad, Target: target, Now: func() time.Time { return time.Unix(1_700_000_000, 0) }}
	for _, tc := range []struct {
		expr string
		want string
	}{
		{`Owner`, `"alice"`},      // base binding
		{`ProcId`, `3`},           // own binding
		{`Rank`, `30`},            // base expression referring to an own attribute
		{`Over`, `false`},         // base expression over base and own attributes
		{`MY.Owner`, `"alice"`},   // MY. scope reaches the base
		{`MY.Mine`, `101`},        // MY. inside a base expression
		{`TARGET.Owner`, `"bob"`}, // TARGET. scope
		{`Peer`, `"bob"`},         // TARGET. inside a base expression
		{`TARGET.Limit + Limit`, `107`},
		{`Missing`, `undefined`},
		{`isUndefined(NoSuch) && RequestCpus == 1`, `true`},
		{`unparse(Over)`, `"Used > Limit"`},
	} {
		if got := ctx.Eval(MustParseExpr(tc.expr)).String(); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.expr, got, tc.want)
		}
	}
	// Matchmaking from the other side: names inside TARGET (the chained ad) fall back
	// to its base and its MY is the chained ad.
	rev := Context{My: target, Target: ad}
	if got := rev.Eval(MustParseExpr(`TARGET.Rank + TARGET.Mine`)).String(); got != "131" {
		t.Errorf("TARGET.Rank + TARGET.Mine from the other side = %s, want 131", got)
	}
	if got := ad.EvalAttr("rank").String(); got != "30" {
		t.Errorf("EvalAttr(rank) = %s, want 30", got)
	}
	if e, ok := ad.Lookup("OWNER"); !ok || Unparse(e) != `"alice"` {
		t.Errorf("Lookup(OWNER) = %v, %v", e, ok)
	}
	if n, ok := ad.Name("requestcpus"); !ok || n != "RequestCpus" {
		t.Errorf("Name(requestcpus) = %q, %v", n, ok)
	}
	if ad.Chained() != base {
		t.Error("Chained() is not the base")
	}
	if base.Chained() != nil {
		t.Error("an unchained ad reports a base")
	}
}

// TestChainOps applies the same changes to a chained ad and to a flat one: every read
// of the whole ad must agree, and the base must never change.
func TestChainOps(t *testing.T) {
	type op struct {
		del  bool
		name string
		expr string
	}
	set := func(n, e string) op { return op{name: n, expr: e} }
	del := func(n string) op { return op{del: true, name: n} }
	for _, tc := range []struct {
		name string
		ops  []op
	}{
		{"nothing", nil},
		{"shadow a base attribute", []op{set("JobStatus", "2")}},
		{"shadow in another case", []op{set("jobstatus", "2")}},
		{"shadow twice", []op{set("JobStatus", "2"), set("JOBSTATUS", "5")}},
		{"add a new attribute", []op{set("GlobalJobId", `"q#1.3"`)}},
		{"delete a base attribute", []op{del("Cmd")}},
		{"delete in another case", []op{del("CMD")}},
		{"delete an own attribute", []op{del("Used")}},
		{"delete a shadowing attribute", []op{set("Owner", `"bob"`), del("owner")}},
		{"delete then set again", []op{del("Owner"), set("OWNER", `"carol"`)}},
		{"delete twice", []op{del("Limit"), del("Limit")}},
		{"delete what nobody binds", []op{del("NoSuch")}},
		{"delete, set, delete", []op{del("Rank"), set("Rank", "1"), del("Rank")}},
		{"expression over a deleted attribute", []op{del("Limit"), set("Used", "Limit")}},
		{"many", []op{set("A", "1"), del("Cmd"), set("Cmd", `"x"`), del("RequestCpus"),
			set("JobStatus", "3"), del("Used"), set("Used", "101"), del("a")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := clusterBase(t)
			baseText := base.MarshalLong()
			ad := chainedJob(t, base, 3)
			flat := flatJob(t, 3)
			for _, o := range tc.ops {
				if o.del {
					if got, want := ad.Delete(o.name), flat.Delete(o.name); got != want {
						t.Fatalf("Delete(%s) = %v, flat says %v", o.name, got, want)
					}
					continue
				}
				e := MustParseExpr(o.expr)
				ad.Set(o.name, e)
				flat.Set(o.name, e)
			}
			compareAds(t, ad, flat)
			if base.MarshalLong() != baseText {
				t.Errorf("base changed:\n%s", base.MarshalLong())
			}
			// Copy stays chained, Flatten does not; both read the same.
			cp, fl := ad.Copy(), ad.Flatten()
			if cp.Chained() != base {
				t.Error("Copy lost the base")
			}
			if fl.Chained() != nil {
				t.Error("Flatten kept a base")
			}
			compareAds(t, cp, flat)
			compareAds(t, fl, flat)
			// Rebuilding from Own and Hidden over the base gives the same ad.
			re := ad.Own()
			if re.Chained() != nil {
				t.Error("Own is chained")
			}
			re.ChainTo(base)
			for _, h := range ad.Hidden() {
				if !re.Delete(h) {
					t.Errorf("hidden %s is not in the base", h)
				}
			}
			compareAds(t, re, flat)
			// Update from the chained ad into an empty one copies the merged view.
			up := New()
			up.Update(ad)
			compareAds(t, up, flat)
		})
	}
}

// compareAds checks every whole-ad read of got against want.
func compareAds(t *testing.T, got, want *ClassAd) {
	t.Helper()
	if g, w := got.Len(), want.Len(); g != w {
		t.Errorf("Len = %d, want %d", g, w)
	}
	if g, w := got.Names(), want.Names(); !slices.Equal(g, w) {
		t.Errorf("Names = %v, want %v", g, w)
	}
	if g, w := got.MarshalLong(), want.MarshalLong(); g != w {
		t.Errorf("MarshalLong:\n%s\nwant:\n%s", g, w)
	}
	var gb, wb strings.Builder
	if err := got.WriteLong(&gb); err != nil {
		t.Fatal(err)
	}
	if err := want.WriteLong(&wb); err != nil {
		t.Fatal(err)
	}
	if gb.String() != wb.String() {
		t.Errorf("WriteLong differs")
	}
	if g, w := got.String(), want.String(); g != w {
		t.Errorf("String = %s, want %s", g, w)
	}
	gj, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("MarshalJSON = %s, want %s", gj, wj)
	}
	for _, n := range append(want.Names(), "NoSuch", "Cmd", "Owner", "Limit", "Used") {
		ge, gok := got.Lookup(n)
		we, wok := want.Lookup(n)
		if gok != wok || (gok && Unparse(ge) != Unparse(we)) {
			t.Errorf("Lookup(%s) = %v %v, want %v %v", n, ge, gok, we, wok)
		}
		gn, _ := got.Name(n)
		wn, _ := want.Name(n)
		if gn != wn {
			t.Errorf("Name(%s) = %q, want %q", n, gn, wn)
		}
		if g, w := got.EvalAttr(n).String(), want.EvalAttr(n).String(); g != w {
			t.Errorf("EvalAttr(%s) = %s, want %s", n, g, w)
		}
	}
	if g, w := AdValue(got).String(), AdValue(want).String(); g != w {
		t.Errorf("as a value: %s, want %s", g, w)
	}
	if g := (&Context{My: got}).Eval(MustParseExpr("size(MY)")); g.String() != fmt.Sprint(want.Len()) {
		t.Errorf("size(MY) = %s, want %d", g, want.Len())
	}
}

func TestChainCopyIndependence(t *testing.T) {
	base := clusterBase(t)
	ad := chainedJob(t, base, 1)
	cp := ad.Copy()
	fl := ad.Flatten()
	cp.SetInt("JobStatus", 4)
	cp.Delete("Cmd")
	fl.SetInt("JobStatus", 5)
	fl.Delete("Owner")
	ad.SetInt("Used", 7)
	if got := ad.EvalAttr("JobStatus").String(); got != "1" {
		t.Errorf("the original's JobStatus = %s after changing copies", got)
	}
	if _, ok := ad.Lookup("Cmd"); !ok {
		t.Error("deleting from the copy hid Cmd in the original")
	}
	if _, ok := ad.Lookup("Owner"); !ok {
		t.Error("deleting from the flattened ad hid Owner in the original")
	}
	if got := cp.EvalAttr("Used").String(); got != "50" {
		t.Errorf("the copy's Used = %s after changing the original", got)
	}
	if got := fl.EvalAttr("Used").String(); got != "50" {
		t.Errorf("the flattened ad's Used = %s after changing the original", got)
	}
	if _, ok := fl.Lookup("Cmd"); !ok {
		t.Error("the flattened ad lost Cmd")
	}
	if got := base.EvalAttr("JobStatus").String(); got != "1" {
		t.Errorf("the base's JobStatus = %s", got)
	}
	if got := ad.Hidden(); got != nil {
		t.Errorf("the original's Hidden = %v", got)
	}
	if got := cp.Hidden(); !slices.Equal(got, []string{"cmd"}) {
		t.Errorf("the copy's Hidden = %v", got)
	}
}

func TestChainToChanges(t *testing.T) {
	base := clusterBase(t)
	ad := New()
	ad.SetInt("JobStatus", 2) // shadows once chained
	ad.SetInt("ProcId", 0)
	ad.ChainTo(base)
	if got, want := ad.Len(), base.Len()+1; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
	ad.Delete("Cmd")
	ad.ChainTo(base) // rechaining drops tombstones
	if _, ok := ad.Lookup("Cmd"); !ok {
		t.Error("rechaining kept a tombstone")
	}
	ad.ChainTo(nil)
	if got := ad.Len(); got != 2 {
		t.Errorf("unchained Len = %d, want 2", got)
	}
	if _, ok := ad.Lookup("Owner"); ok {
		t.Error("an unchained ad still reads its old base")
	}
	// A base may itself be chained; tombstones at each level hide what lies below.
	mid := New()
	mid.SetString("Cmd", "/bin/false")
	mid.ChainTo(base)
	mid.Delete("Limit")
	top := New()
	top.ChainTo(mid)
	top.Delete("Owner")
	want := clusterBase(t)
	want.SetString("Cmd", "/bin/false")
	want.Delete("Limit")
	want.Delete("Owner")
	compareAds(t, top, want)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a loop of bases did not panic")
			}
		}()
		mid.ChainTo(top)
	}()
}

func TestChainUnchainedUnaffected(t *testing.T) {
	ad := clusterBase(t)
	if ad.Hidden() != nil || ad.Chained() != nil {
		t.Error("an unchained ad has chain state")
	}
	if !ad.Delete("Cmd") || ad.Delete("Cmd") {
		t.Error("Delete on an unchained ad")
	}
	if ad.Hidden() != nil {
		t.Error("an unchained ad keeps tombstones")
	}
	var nilAd *ClassAd
	if nilAd.Delete("x") || nilAd.Len() != 0 || nilAd.Chained() != nil || nilAd.Flatten().Len() != 0 {
		t.Error("nil ad")
	}
}

// FuzzChain applies random sets and deletes to a chained ad and to a flat one, and
// checks that they read the same (the base unchanged).
func FuzzChain(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte{9, 9, 9, 1, 1, 1, 200, 13, 77})
	names := []string{"Owner", "owner", "Cmd", "ProcId", "Used", "New", "NEW", "Limit", "Over"}
	f.Fuzz(func(t *testing.T, ops []byte) {
		base := clusterBase(t)
		baseText := base.MarshalLong()
		ad := chainedJob(t, base, 2)
		flat := flatJob(t, 2)
		for i, b := range ops {
			name := names[int(b>>1)%len(names)]
			if b&1 == 1 {
				if ad.Delete(name) != flat.Delete(name) {
					t.Fatalf("Delete(%s) disagrees", name)
				}
				continue
			}
			ad.SetInt(name, int64(i))
			flat.SetInt(name, int64(i))
		}
		if g, w := ad.MarshalLong(), flat.MarshalLong(); g != w {
			t.Fatalf("chained:\n%s\nflat:\n%s", g, w)
		}
		if ad.Len() != flat.Len() {
			t.Fatalf("Len %d, flat %d", ad.Len(), flat.Len())
		}
		if g := ad.Flatten().MarshalLong(); g != flat.MarshalLong() {
			t.Fatalf("Flatten:\n%s", g)
		}
		if base.MarshalLong() != baseText {
			t.Fatal("base changed")
		}
	})
}

func TestChainedCopy(t *testing.T) {
	base := clusterBase(t)
	for _, tc := range []struct {
		name string
		ad   func() *ClassAd // the job, built separately from base (no shared nodes)
		own  []string        // the copy's own bindings
	}{
		{"differs only in own attributes", func() *ClassAd { return flatJob(t, 4) }, []string{"ProcId", "Used"}},
		{"a changed base attribute", func() *ClassAd {
			ad := flatJob(t, 4)
			ad.SetInt("Limit", 5)
			return ad
		}, []string{"Limit", "ProcId", "Used"}},
		{"same value, another kind", func() *ClassAd {
			ad := flatJob(t, 4)
			ad.SetReal("RequestCpus", 1)
			return ad
		}, []string{"ProcId", "RequestCpus", "Used"}},
		{"another spelling", func() *ClassAd {
			ad := flatJob(t, 4)
			ad.Delete("Owner")
			ad.SetString("OWNER", "alice")
			return ad
		}, []string{"OWNER", "ProcId", "Used"}},
		{"a chained ad", func() *ClassAd { return chainedJob(t, clusterBase(t), 4) }, []string{"ProcId", "Used"}},
		{"identical to the base", func() *ClassAd { return clusterBase(t) }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ad := tc.ad()
			want := ad.Flatten()
			cp := ad.ChainedCopy(base)
			if cp.Chained() != base {
				t.Fatal("the copy is not chained to base")
			}
			compareAds(t, cp, want)
			if got := cp.Own().Names(); !slices.Equal(got, tc.own) {
				t.Errorf("own bindings %v, want %v", got, tc.own)
			}
			cp.SetInt("Limit", 9)
			if got := ad.EvalAttr("Limit").String(); got != want.EvalAttr("Limit").String() {
				t.Errorf("changing the copy changed the original's Limit to %s", got)
			}
		})
	}
	// Attributes only the base binds are inherited, as ChainTo does.
	small := New()
	small.SetInt("ProcId", 1)
	cp := small.ChainedCopy(base)
	if got, want := cp.Len(), base.Len()+1; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
}

// Many ads chained to one base print concurrently (the base's cached order is filled by
// whichever gets there first), and a base changed once nothing is chained to it prints
// its new bindings.
func TestChainConcurrentPrinting(t *testing.T) {
	base := clusterBase(t)
	want := flatJob(t, 0).MarshalLong()
	done := make(chan string)
	for g := 0; g < 8; g++ {
		go func() {
			ad := chainedJob(t, base, 0)
			var got string
			for i := 0; i < 50; i++ {
				got = ad.Copy().MarshalLong()
			}
			done <- got
		}()
	}
	for g := 0; g < 8; g++ {
		if got := <-done; got != want {
			t.Errorf("concurrent print:\n%s\nwant:\n%s", got, want)
		}
	}
	ref := flatJob(t, 0)
	for _, change := range []func(*ClassAd){
		func(ad *ClassAd) { ad.SetInt("Zeta", 1) },
		func(ad *ClassAd) { ad.Delete("Cmd") },
		func(ad *ClassAd) { ad.ChainTo(New()) },
	} {
		change(base)
		change(ref)
		compareAds(t, chainedJob(t, base, 0), ref)
	}
}

// TestSameExpr: the same node or the same text; literals compared by value.
func TestSameExpr(t *testing.T) {
	x := MustParseExpr("a + 1")
	for _, tc := range []struct {
		name string
		a, b Expr
		want bool
	}{
		{"same node", x, x, true},
		{"same text", x, MustParseExpr("a+1"), true},
		{"other text", x, MustParseExpr("a + 2"), false},
		{"equal strings", Literal(String("x")), Literal(String("x")), true},
		{"other strings", Literal(String("x")), Literal(String("y")), false},
		{"equal ints", Literal(Int(7)), Literal(Int(7)), true},
		{"int and real", Literal(Int(7)), Literal(Real(7)), false},
		{"equal reals", Literal(Real(0.5)), Literal(Real(0.5)), true},
		{"other bools", Literal(Bool(true)), Literal(Bool(false)), false},
		{"nil and literal", nil, Literal(Int(1)), false},
		{"literal and expression", Literal(Int(1)), MustParseExpr("1 + 0"), false},
	} {
		if got := SameExpr(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: SameExpr = %v, want %v", tc.name, got, tc.want)
		}
	}
}
