package classad

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fnNow is the fixed clock of the function tests: 2023-11-14 22:13:20 UTC.
var fnNow = time.Unix(1_700_000_000, 0)

// fnContext is the context the function table runs in: a fixed clock, a seeded random
// source and an ad with a few attributes for unparse() and eval().
func fnContext() Context {
	return Context{My: fnAd(), Now: func() time.Time { return fnNow }, Rand: rand.New(rand.NewPCG(7, 8))}
}

// fnAd is shared by every test context; evaluation does not change it. It is built on
// first use, not during package initialisation: expressions parsed before init() has
// filled the function table would hold unresolved (ERROR) calls.
var fnAd = sync.OnceValue(func() *ClassAd {
	my := New()
	for name, src := range map[string]string{
		"A":      "1 + 2",
		"S":      `"str"`,
		"U":      "undefined",
		"Nested": "[ inner = x + 1; x = 5 ]",
		"SelfEv": `eval("SelfEv")`,
	} {
		my.Set(name, MustParseExpr(src))
	}
	return my
})

// functionTests maps an expression to its value as Value.String prints it.
var functionTests = []struct{ expr, want string }{
	// time
	{`time()`, `1700000000`},
	{`TIME()`, `1700000000`},
	{`time(1)`, `error`},

	// ifThenElse: exactly three arguments, lazy
	{`ifThenElse(true, 1, 2)`, `1`},
	{`IfThenElse(0, 1, 2)`, `2`},
	{`ifThenElse(0.5, "a", "b")`, `"a"`},
	{`ifThenElse(0.0, "a", "b")`, `"b"`},
	{`ifThenElse(undefined, 1, 2)`, `undefined`},
	{`ifThenElse(U, 1, 2)`, `undefined`},
	{`ifThenElse(error, 1, 2)`, `error`},
	{`ifThenElse("x", 1, 2)`, `error`},
	{`ifThenElse({1}, 1, 2)`, `error`},
	{`ifThenElse([a = 1], 1, 2)`, `error`},
	{`ifThenElse(true, 1, 1/0)`, `1`},
	{`ifThenElse(false, 1/0, 2)`, `2`},
	{`ifThenElse(true, undefined, 2)`, `undefined`},
	{`ifThenElse(true, 1)`, `error`},
	{`ifThenElse(true, 1, 2, 3)`, `error`},

	// type tests: exactly one argument, never UNDEFINED
	{`isUndefined(undefined)`, `true`},
	{`isUndefined(U)`, `true`},
	{`isUndefined(NoSuchAttr)`, `true`},
	{`isUndefined(1)`, `false`},
	{`isUndefined(error)`, `false`},
	{`isUndefined()`, `error`},
	{`isUndefined(1, 2)`, `error`},
	{`isError(error)`, `true`},
	{`isError(1/0)`, `true`},
	{`isError(undefined)`, `false`},
	{`isError()`, `error`},
	{`isString("a")`, `true`},
	{`isString(1)`, `false`},
	{`isString(undefined)`, `false`},
	{`isInteger(1)`, `true`},
	{`isInteger(true)`, `false`},
	{`isInteger(1.0)`, `false`},
	{`isReal(1.0)`, `true`},
	{`isReal(1)`, `false`},
	{`isBoolean(true)`, `true`},
	{`isBoolean(1)`, `false`},
	{`isBoolean(0)`, `false`},
	{`isBoolean(undefined)`, `false`},
	{`isList({})`, `true`},
	{`isList("a")`, `false`},
	{`isClassAd([a = 1])`, `true`},
	{`isClassAd({})`, `false`},
	{`isAbstime(1)`, `false`},
	{`isReltime(1)`, `false`},
	{`isInteger()`, `error`},

	// strcat: string() conversion (new syntax), UNDEFINED/ERROR: the first one wins
	{`strcat()`, `""`},
	{`strcat("a", "b")`, `"ab"`},
	{`strcat("a", 1, 2.5, true)`, `"a12.500000000000000E+00true"`},
	{`strcat("x", {1, "a"})`, `"x{ 1,\"a\" }"`},
	{`strcat("a", undefined)`, `undefined`},
	{`strcat("a", U, "b")`, `undefined`},
	{`strcat("a", error)`, `error`},
	{`strcat(undefined, error)`, `undefined`},
	{`strcat(error, undefined)`, `error`},

	// join
	{`join()`, `""`},
	{`join(", ", "a", "b")`, `"a, b"`},
	{`join(", ", {"a", 1})`, `"a, 1"`},
	{`join({"a", "b"})`, `"ab"`},
	{`join("-", {})`, `""`},
	{`join("-")`, `""`},
	{`join("-", "a")`, `"a"`},
	{`join(1, 2, 3)`, `"213"`},
	{`join("-", 1.5, true)`, `"1.500000000000000E+00-true"`},
	{`join("-", "a", undefined, "b")`, `"a-b"`},
	{`join("-", undefined, "a")`, `"a"`},
	{`join("-", {undefined, "a", undefined})`, `"a"`},
	{`join("-", "a", error)`, `error`},
	{`join("-", {"a", error})`, `error`},
	{`join(undefined, "a")`, `undefined`},
	{`join(error, {"a"})`, `error`},

	// substr: Perl-like, on bytes
	{`substr("abcdef", 2)`, `"cdef"`},
	{`substr("abcdef", -2)`, `"ef"`},
	{`substr("abcdef", 1, 3)`, `"bcd"`},
	{`substr("abcdef", 0, -2)`, `"abcd"`},
	{`substr("abcdef", 6)`, `""`},
	{`substr("abcdef", 10)`, `""`},
	{`substr("abcdef", -10)`, `"abcdef"`},
	{`substr("abcdef", -10, 3)`, `"abc"`},
	{`substr("abcdef", 2, 0)`, `""`},
	{`substr("abcdef", 2, 100)`, `"cdef"`},
	{`substr("abcdef", -3, -1)`, `"de"`},
	{`substr("abcdef", 1, -10)`, `""`},
	{`substr("abcdef", 10, -1)`, `""`},
	{`substr("abc", 1, 9223372036854775807)`, `"bc"`},
	{`substr("abc", 9223372036854775807, 9223372036854775807)`, `""`},
	{`substr("abc", -9223372036854775807, 9223372036854775807)`, `"abc"`},
	{`substr("abc", -9223372036854775807, -9223372036854775807)`, `""`},
	{`substr("", 0)`, `""`},
	{`substr(123, 0)`, `error`},
	{`substr("abc", 1.0)`, `error`},
	{`substr("abc", true)`, `error`},
	{`substr("abc", 1, "2")`, `error`},
	{`substr("abc", undefined)`, `undefined`},
	{`substr(undefined, 1)`, `undefined`},
	{`substr("abc", 0, undefined)`, `undefined`},
	{`substr(error, undefined)`, `undefined`},
	{`substr(error, 0)`, `error`},
	{`substr("abc")`, `error`},
	{`substr("abc", 1, 2, 3)`, `error`},

	// size
	{`size("abc")`, `3`},
	{`size("")`, `0`},
	{`size({1, 2})`, `2`},
	{`size({})`, `0`},
	{`size([a = 1; b = 2])`, `2`},
	{`size(undefined)`, `undefined`},
	{`size(1)`, `error`},
	{`size(true)`, `error`},
	{`size(error)`, `error`},
	{`size()`, `error`},
	{`size("a", "b")`, `error`},

	// toUpper / toLower: ASCII; non-strings through string()
	{`toUpper("abC1")`, `"ABC1"`},
	{`toLower("ABc")`, `"abc"`},
	{`toUpper(1.5)`, `"1.500000000000000E+00"`},
	{`toLower(true)`, `"true"`},
	{`toUpper({"a"})`, `"{ \"A\" }"`},
	{`toUpper("é")`, `"é"`},
	{`toUpper(undefined)`, `undefined`},
	{`toLower(error)`, `error`},
	{`toUpper()`, `error`},
	{`toLower("a", "b")`, `error`},

	// strcmp / stricmp
	{`strcmp("a", "b")`, `-1`},
	{`strcmp("b", "a")`, `1`},
	{`strcmp("a", "a")`, `0`},
	{`strcmp("A", "a")`, `-1`},
	{`stricmp("A", "a")`, `0`},
	{`stricmp("a", "B")`, `-1`},
	{`strcmp(1, "1")`, `0`},
	{`strcmp(undefined, "a")`, `error`},
	{`stricmp("a", error)`, `error`},
	{`strcmp("a")`, `error`},

	// regexp: unanchored, options i m s x
	{`regexp("^ami-[0-9a-f]+$", "ami-0abc")`, `true`},
	{`regexp("b", "abc")`, `true`},
	{`regexp("^b", "abc")`, `false`},
	{`regexp("A", "abc")`, `false`},
	{`regexp("A", "abc", "i")`, `true`},
	{`regexp("A", "abc", "I")`, `false`},
	{"regexp(\"a.c\", \"a\nc\")", `false`},
	{"regexp(\"a.c\", \"a\nc\", \"s\")", `true`},
	{"regexp(\"^b$\", \"a\nb\")", `false`},
	{"regexp(\"^b$\", \"a\nb\", \"m\")", `true`},
	{`regexp("a b # comment", "ab", "x")`, `true`},
	{`regexp("[ ]", " ", "x")`, `true`},
	{`regexp("a\ b", "a b", "x")`, `true`},
	{`regexp("(", "x")`, `error`},
	{`regexp("(a)\1", "aa")`, `error`},
	{`regexp("a", "a", "zq")`, `true`},
	{`regexp(1, "x")`, `error`},
	{`regexp("a", 1)`, `error`},
	{`regexp("a", undefined)`, `undefined`},
	{`regexp(undefined, error)`, `error`},
	{`regexp("a", "a", 1)`, `error`},
	{`regexp("a", "a", undefined)`, `undefined`},
	{`regexp("a")`, `error`},
	{`regexp("a", "a", "i", "x")`, `error`},

	// regexps, replace, replaceAll
	{`regexps("([a-z]+)@([a-z]+)", "user@host", "\2:\1")`, `"host:user"`},
	{`regexps("b", "abc", "X")`, `"X"`},
	{`regexps("b", "abc", "X", "f")`, `"aXc"`},
	{`regexps("b+", "abbcb", "X", "fg")`, `"aXcX"`},
	{`regexps("b+", "abbcb", "X", "g")`, `"XX"`},
	{`regexps("z", "abc", "X")`, `""`},
	{`regexps("z", "abc", "X", "f")`, `"abc"`},
	{`regexps("(a)|(b)", "b", "[\2]")`, `"[b]"`},
	{`regexps("(a)|(b)", "b", "[\1]")`, `"[]"`},
	{`regexps("(a)|(b)", "a", "\2")`, `error`},
	{`regexps("a", "a", "\9")`, `error`},
	{`regexps("a", "a", "\x")`, `"\x"`},
	{`regexps("a", "a", "\0\0")`, `"aa"`},
	{`regexps("(", "a", "b")`, `error`},
	{`regexps("a")`, `error`},
	{`regexps(undefined, "a", "b")`, `undefined`},
	{`regexps("a", "a", undefined)`, `undefined`},
	{`regexps(error, undefined, "b")`, `error`},
	{`regexps("a", "a", 1)`, `error`},
	{`regexps("a", "a", "b", 1)`, `error`},
	{`replace("o", "foo", "0")`, `"f0o"`},
	{`replaceAll("o", "foo", "0")`, `"f00"`},
	{`replaceall("O", "foo", "0", "i")`, `"f00"`},
	{`replace("z", "foo", "0")`, `"foo"`},
	{`replaceall("x*", "ab", "-")`, `"-a-b-"`},

	// regexpMember
	{`regexpMember("^a", {"ba", "ab"})`, `true`},
	{`regexpMember("^a", {"b"})`, `false`},
	{`regexpMember("^a", {})`, `false`},
	{`regexpMember("^a", {"b", undefined})`, `undefined`},
	{`regexpMember("^a", {undefined, "ab"})`, `true`},
	{`regexpMember("^a", {1})`, `error`},
	{`regexpMember("^a", "ab")`, `error`},
	{`regexpMember("(", {"a"})`, `error`},
	{`regexpMember("A", {"a"}, "i")`, `true`},
	{`regexpMember("A", undefined)`, `undefined`},
	{`regexpMember("A")`, `error`},

	// stringListMember / IMember / SubsetMatch
	{`stringListMember("b", "a, b,c")`, `true`},
	{`stringListMember("B", "a,b")`, `false`},
	{`stringListIMember("B", "a,b")`, `true`},
	{`stringListMember("b", "a;b", ";")`, `true`},
	{`stringListMember("b", "a b")`, `true`},
	{"stringListMember(\"b\", \"a\tb\")", `true`},
	{`stringListMember("", "a,,b")`, `false`},
	{`stringListMember(undefined, "a,b")`, `false`},
	{`stringListMember("a", undefined)`, `false`},
	{`stringListMember(undefined, undefined)`, `undefined`},
	{`stringListMember("a", "a b", undefined)`, `true`},
	{`stringListMember(1, "1")`, `error`},
	{`stringListMember(error, "a")`, `error`},
	{`stringListMember("a", "a", 1)`, `error`},
	{`stringListMember("a")`, `error`},
	{`stringListMember("a", "a", ",", "x")`, `error`},
	{`stringListSubsetMatch("a,b", "b,c,a")`, `true`},
	{`stringListSubsetMatch("a,d", "a,b")`, `false`},
	{`stringListSubsetMatch("", "a")`, `true`},
	{`stringListISubsetMatch("A", "a")`, `true`},

	// stringListSize / Sum / Avg / Min / Max
	{`stringListSize("a, b ,c")`, `3`},
	{`stringListSize("")`, `0`},
	{`stringListSize("a;b", ";")`, `2`},
	{`stringListSize(undefined)`, `error`},
	{`stringListSize(1)`, `error`},
	{`stringListSize()`, `error`},
	{`stringListSum("1,2,3")`, `6`},
	{`stringListSum("1,2.5")`, `3.5`},
	{`stringListSum("1e2")`, `100.0`},
	{`stringListSum("")`, `0.0`},
	{`stringListSum("a")`, `error`},
	{`stringListSum("1;2", ";")`, `3`},
	{`stringListAvg("1,2")`, `1`},
	{`stringListAvg("1.0,2")`, `1.5`},
	{`stringListAvg("")`, `0.0`},
	{`stringListMin("3,1,2")`, `1`},
	{`stringListMax("3,1,2")`, `3`},
	{`stringListMax("1.5,2")`, `2.0`},
	{`stringListMax("-1,-2")`, `0`},
	{`stringListMin("")`, `undefined`},
	{`stringListMax(undefined)`, `error`},

	// stringListsIntersect / stringList_regexpMember
	{`stringListsIntersect("a,b", "b,c")`, `true`},
	{`stringListsIntersect("a", "b")`, `false`},
	{`stringListsIntersect("a;b", "b", ";")`, `true`},
	{`stringListsIntersect(undefined, "a")`, `undefined`},
	{`stringListsIntersect("a", 1)`, `error`},
	{`stringList_regexpMember("^a", "b, ab")`, `true`},
	{`stringList_regexpMember("^a", "b,c")`, `false`},
	{`stringList_regexpMember("^a", "")`, `undefined`},
	{`stringList_regexpMember("A", "a", ",", "I")`, `true`},
	{`stringList_regexpMember("(", "a")`, `error`},
	{`stringList_regexpMember("a", undefined)`, `error`},

	// member / identicalMember
	{`member(1, {1.0, 2})`, `true`},
	{`member("A", {"a"})`, `true`},
	{`member(3, {1, 2})`, `false`},
	{`member(1, {"a", 1})`, `true`},
	{`member(1, {})`, `false`},
	{`member(undefined, {1})`, `undefined`},
	{`member(1, undefined)`, `undefined`},
	{`member(1, 2)`, `error`},
	{`member({1}, {{1}})`, `error`},
	{`member([a = 1], {1})`, `error`},
	{`member(error, {1})`, `error`},
	{`member(1)`, `error`},
	{`identicalMember("A", {"a"})`, `false`},
	{`identicalMember("a", {"a"})`, `true`},
	{`identicalMember(1, {1.0})`, `false`},
	{`identicalMember(undefined, {undefined})`, `true`},
	{`identicalMember(undefined, {1})`, `false`},
	{`identicalMember(error, {error})`, `true`},
	{`identicalMember(1, undefined)`, `undefined`},

	// int
	{`int(3)`, `3`},
	{`int(3.9)`, `3`},
	{`int(-3.9)`, `-3`},
	{`int(true)`, `1`},
	{`int("3.9")`, `3`},
	{`int("12abc")`, `12`},
	{`int(" 7")`, `7`},
	{`int("-5")`, `-5`},
	{`int("1e3")`, `1000`},
	{`int("0x10")`, `16`},
	{`int("0x")`, `0`},
	{`int("2K")`, `2048`},
	{`int("1.5K")`, `1024`},
	{`int("3b")`, `3`},
	{`int("inf")`, `9223372036854775807`},
	{`int(1e300)`, `9223372036854775807`},
	{`int("abc")`, `error`},
	{`int("")`, `error`},
	{`int(undefined)`, `undefined`},
	{`int(error)`, `error`},
	{`int({1})`, `error`},
	{`int([a = 1])`, `error`},
	{`int()`, `error`},

	// real
	{`real(3)`, `3.0`},
	{`real("3.5")`, `3.5`},
	{`real("1.5K")`, `1536.0`},
	{`real(".5")`, `0.5`},
	{`real("5.")`, `5.0`},
	{`real("1e")`, `1.0`},
	{`real("0x1p4")`, `16.0`},
	{`real("nan")`, `real("NaN")`},
	{`real("-Infinity")`, `real("-INF")`},
	{`real("1e400")`, `real("INF")`},
	{`real(true)`, `1.0`},
	{`real("abc")`, `error`},
	{`real("+")`, `error`},
	{`real("-.")`, `error`},
	{`real(undefined)`, `undefined`},
	{`real(error)`, `error`},
	{`real(1, 2)`, `error`},

	// string
	{`string(1.5)`, `"1.500000000000000E+00"`},
	{`string(3)`, `"3"`},
	{`string("x")`, `"x"`},
	{`string(true)`, `"true"`},
	{`string({1, 2})`, `"{ 1,2 }"`},
	{`string([a = 1])`, `"[ a = 1 ]"`},
	{`string(undefined)`, `undefined`},
	{`string(error)`, `error`},
	{`string()`, `error`},

	// bool
	{`bool(1)`, `true`},
	{`bool(0)`, `false`},
	{`bool(0.0)`, `false`},
	{`bool(2.5)`, `true`},
	{`bool(true)`, `true`},
	{`bool("TRUE")`, `true`},
	{`bool("false")`, `false`},
	{`bool("yes")`, `undefined`},
	{`bool(undefined)`, `undefined`},
	{`bool(error)`, `error`},
	{`bool({})`, `error`},
	{`bool()`, `error`},

	// floor / ceiling / ceil / round: integers out; UNDEFINED is ERROR
	{`floor(3.7)`, `3`},
	{`floor(-3.2)`, `-4`},
	{`floor(5)`, `5`},
	{`floor("3.7")`, `3`},
	{`floor(true)`, `1`},
	{`floor(undefined)`, `error`},
	{`floor(error)`, `error`},
	{`floor("x")`, `error`},
	{`floor()`, `error`},
	{`ceiling(3.2)`, `4`},
	{`ceil(3.2)`, `4`},
	{`CEILING(-3.7)`, `-3`},
	{`ceiling(undefined)`, `error`},
	{`round(2.5)`, `2`},
	{`round(3.5)`, `4`},
	{`round(-2.5)`, `-2`},
	{`round(2.4)`, `2`},
	{`round(7)`, `7`},
	{`round(1e300)`, `9223372036854775807`},
	{`round(undefined)`, `error`},
	{`round(1, 2)`, `error`},

	// pow
	{`pow(2, 10)`, `1024`},
	{`pow(2, -1)`, `0.5`},
	{`pow(2.0, 3)`, `8.0`},
	{`pow(0, 0)`, `1`},
	{`pow(-2, 3)`, `-7`}, // HTCondor's (long long)(pow(b, e) + 0.5)
	{`pow(4, 0.5)`, `2.0`},
	{`pow("2", 2)`, `4.0`},
	{`pow(undefined, 2)`, `error`},
	{`pow(2, "x")`, `error`},
	{`pow(2)`, `error`},

	// quantize
	{`quantize(5, 4)`, `8`},
	{`quantize(8, 4)`, `8`},
	{`quantize(5, 2.5)`, `5.0`},
	{`quantize(5.5, 2)`, `6.0`},
	{`quantize(3, {1, 4, 8})`, `4`},
	{`quantize(2.2, {1, 4.5})`, `4.5`},
	{`quantize(10, {1, 4, 8})`, `16`},
	{`quantize(10, {})`, `10`},
	{`quantize(5, 0)`, `5`},
	{`quantize(5, 0.0)`, `5`},
	{`quantize(-5, 4)`, `0`},
	{`quantize(undefined, 1)`, `error`},
	{`quantize(5, "a")`, `error`},
	{`quantize(5, {"a"})`, `error`},
	{`quantize(5)`, `error`},

	// random: only the fixed and the error cases here; TestRandom checks the rest
	{`random(1)`, `0`},
	{`random(0)`, `error`},
	{`random(-1)`, `error`},
	{`random(0.0)`, `error`},
	{`random(-1.5)`, `error`},
	{`random(real("INF"))`, `error`},
	{`random(real("NaN"))`, `error`},
	{`random("a")`, `error`},
	{`random(true)`, `error`},
	{`random(undefined)`, `error`},
	{`random(1, 2)`, `error`},

	// interval
	{`interval(67)`, `"1:07"`},
	{`interval(0)`, `"0"`},
	{`interval(59)`, `"59"`},
	{`interval(3600)`, `"1:00:00"`},
	{`interval(90061)`, `"1+01:01:01"`},
	{`interval(-67)`, `"-1:07"`},
	{`interval(-90061)`, `"-1+01:01:01"`},
	{`interval(67.9)`, `"1:07"`},
	{`interval("67")`, `"1:07"`},
	{`interval(true)`, `"1"`},
	{`interval(9223372036854775807)`, `"106751991167300+15:30:07"`},
	{`interval(undefined)`, `error`},
	{`interval("x")`, `error`},
	{`interval({})`, `error`},
	{`interval()`, `error`},

	// formatTime: zone-independent cases only; TestFormatTime does the rest
	{`formatTime(0, "%s")`, `"0"`},
	{`formatTime(0, "100%%")`, `"100%"`},
	{`formatTime(0, "%Q")`, `"%Q"`},
	{`formatTime(0, "abc%")`, `"abc%"`},
	{`formatTime(0, "no conversions")`, `"no conversions"`},
	{`formatTime(0, "")`, `""`},
	{`formatTime(1700000000.9, "%s")`, `"1700000000"`},
	{`formatTime(undefined)`, `error`},
	{`formatTime("x")`, `error`},
	{`formatTime(0, 1)`, `error`},
	{`formatTime(0, undefined)`, `error`},
	{`formatTime(1, "%s", 3)`, `error`},

	// split
	{`split("a b c")`, `{ "a","b","c" }`},
	{`split("a, b,c")`, `{ "a","b","c" }`},
	{`split("  a   b  ")`, `{ "a","b" }`},
	{`split("a,,b")`, `{ "a","","b" }`},
	{`split(",a")`, `{ "a" }`},
	{`split("")`, `{  }`},
	{`split("a;b", ";")`, `{ "a","b" }`},
	{`split("a;b", "")`, `{ "a;b" }`},
	{`split(1)`, `error`},
	{`split(undefined)`, `error`},
	{`split("a", 1)`, `error`},
	{`split()`, `error`},

	// splitUserName / splitSlotName
	{`splitUserName("user@domain")`, `{ "user","domain" }`},
	{`splitUserName("user")`, `{ "user","" }`},
	{`splitUserName("a@b@c")`, `{ "a","b@c" }`},
	{`splitUserName("")`, `{ "","" }`},
	{`splitUserName(undefined)`, `error`},
	{`splitUserName(1)`, `error`},
	{`splitUserName()`, `error`},
	{`splitSlotName("slot1@host")`, `{ "slot1","host" }`},
	{`splitSlotName("host")`, `{ "","host" }`},

	// sum / avg
	{`sum({1, 2, 3})`, `6`},
	{`sum({1, 2.5})`, `3.5`},
	{`sum({})`, `0`},
	{`sum({1, undefined, 2})`, `3`},
	{`sum({1.0, real("INF")})`, `error`},
	{`sum(undefined)`, `undefined`},
	{`sum(1)`, `error`},
	{`sum({1, "a"})`, `error`},
	{`sum({true})`, `error`},
	{`sum()`, `error`},
	{`avg({1, 2})`, `1.5`},
	{`avg({2})`, `2.0`},
	{`avg({2, undefined, 4})`, `3.0`},
	{`avg({})`, `0`},
	{`avg({"x"})`, `error`},

	// min / max: one list; the winner unchanged; UNDEFINED skipped
	{`max({3, 2.5})`, `3`},
	{`min({3, 2.5})`, `2.5`},
	{`min({2, 2.0})`, `2`},
	{`max({1, undefined, 7})`, `7`},
	{`max({})`, `undefined`},
	{`max({undefined})`, `undefined`},
	{`min(undefined)`, `undefined`},
	{`max({1, "a"})`, `error`},
	{`max({1, true})`, `error`},
	{`max(1, 2)`, `error`},
	{`max(1)`, `error`},
	{`min()`, `error`},

	// anyCompare / allCompare
	{`anyCompare("<", {1, 5}, 3)`, `true`},
	{`allCompare("<", {1, 5}, 3)`, `false`},
	{`allCompare("<", {1, 2}, 3)`, `true`},
	{`anyCompare("==", {"A"}, "a")`, `true`},
	{`anyCompare("is", {"A"}, "a")`, `false`},
	{`anyCompare("is", {"a"}, "a")`, `true`},
	{`allCompare("isnt", {1}, 1.0)`, `true`},
	{`anyCompare(">=", {1, 2}, 2)`, `true`},
	{`anyCompare("!=", {1, 1}, 1)`, `false`},
	{`anyCompare("==", {undefined, 1}, 1)`, `false`},
	{`allCompare("==", {1, undefined}, 1)`, `false`},
	{`anyCompare("==", {"a"}, 1)`, `error`},
	{`anyCompare("~", {1}, 1)`, `error`},
	{`anyCompare(1, {1}, 1)`, `error`},
	{`anyCompare(undefined, {1}, 1)`, `undefined`},
	{`anyCompare("==", undefined, 1)`, `undefined`},
	{`anyCompare("==", 1, 1)`, `error`},
	{`anyCompare("==", {1})`, `error`},
	{`allCompare("==", {}, 1)`, `true`},
	{`anyCompare("==", {}, 1)`, `false`},

	// unparse: the attribute's expression text, unevaluated
	{`unparse(A)`, `"1 + 2"`},
	{`unparse(a)`, `"1 + 2"`},
	{`unparse(S)`, `"\"str\""`},
	{`unparse(Nested)`, `"[ inner = x + 1; x = 5 ]"`},
	{`unparse(Missing)`, `""`},
	{`unparse(.A)`, `""`},
	{`[ q = unparse(A) ].q`, `"1 + 2"`},
	{`[ A = 7; q = unparse(A) ].q`, `"7"`},
	{`unparse(MY.A)`, `error`},
	{`unparse((A))`, `error`},
	{`unparse(1)`, `error`},
	{`unparse(A, S)`, `error`},
	{`unparse()`, `error`},

	// eval: parse and evaluate a string in the current scope
	{`eval("1 + 2")`, `3`},
	{`eval("A * 2")`, `6`},
	{`eval(strcat("S", ""))`, `"str"`},
	{`eval(3)`, `3`},
	{`eval(1.5)`, `1.5`},
	{`eval("eval(\"2\")")`, `2`},
	{`[ x = 10; q = eval("x + 1") ].q`, `11`},
	{`eval("1 +")`, `error`},
	{`eval("")`, `error`},
	{`eval(undefined)`, `error`},
	{`eval(error)`, `error`},
	{`eval()`, `error`},
	{`SelfEv`, `undefined`},

	// debug: the identity
	{`debug(1 + 2)`, `3`},
	{`debug(undefined)`, `undefined`},
	{`debug()`, `error`},
	{`debug(1, 2)`, `error`},

	// unknown functions are ERROR, not a parse error
	{`noSuchFunction(1)`, `error`},
}

func TestFunctions(t *testing.T) {
	for _, tc := range functionTests {
		e, err := ParseExpr(tc.expr)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", tc.expr, err)
			continue
		}
		c := fnContext()
		if got := c.Eval(e).String(); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.expr, got, tc.want)
		}
	}
}

// TestRequiredFunctions checks that every function policy expressions may use is
// registered, under any spelling of its name.
func TestRequiredFunctions(t *testing.T) {
	names := []string{
		"time", "ifThenElse", "isUndefined", "isError", "isString", "isInteger", "isReal",
		"isBoolean", "isList", "isClassAd", "strcat", "substr", "size", "toUpper", "toLower",
		"regexp", "regexps", "stringListMember", "stringListIMember", "stringListSize",
		"member", "identicalMember", "int", "real", "string", "bool", "floor", "ceiling",
		"ceil", "round", "pow", "random", "interval", "formatTime", "join", "split", "sum",
		"avg", "min", "max", "splitUserName", "unparse", "eval", "strcmp", "stricmp",
		"debug", "replace", "replaceAll", "regexpMember", "stringListSum", "stringListAvg",
		"stringListMin", "stringListMax", "quantize", "anyCompare", "allCompare",
	}
	for _, n := range names {
		for _, spelling := range []string{n, strings.ToUpper(n), strings.ToLower(n)} {
			if lookupBuiltin(spelling) == nil {
				t.Errorf("function %s is not registered", spelling)
			}
		}
	}
}

// TestRandom checks random()'s ranges and types, and that it draws from the context's
// source (so a seeded context is reproducible).
func TestRandom(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want func(r *rand.Rand) Value
	}{
		{`random()`, func(r *rand.Rand) Value { return Real(r.Float64()) }},
		{`random(10)`, func(r *rand.Rand) Value { return Int(r.Int64N(10)) }},
		{`random(2.5)`, func(r *rand.Rand) Value { return Real(2.5 * r.Float64()) }},
		{`random(9223372036854775807)`, func(r *rand.Rand) Value { return Int(r.Int64N(math.MaxInt64)) }},
	} {
		e := MustParseExpr(tc.expr)
		c := fnContext()
		ref := rand.New(rand.NewPCG(7, 8))
		for i := 0; i < 200; i++ {
			got, want := c.Eval(e), tc.want(ref)
			if got.String() != want.String() {
				t.Fatalf("%s draw %d = %s, want %s", tc.expr, i, got, want)
			}
		}
	}
	// Ranges, with the default (unseeded) source.
	c := Context{}
	for i := 0; i < 1000; i++ {
		if f, ok := c.Eval(MustParseExpr(`random()`)).RealValue(); !ok || f < 0 || f >= 1 {
			t.Fatalf("random() = %v, %v", f, ok)
		}
		if n, ok := c.Eval(MustParseExpr(`random(3)`)).IntValue(); !ok || n < 0 || n >= 3 {
			t.Fatalf("random(3) = %v, %v", n, ok)
		}
		if f, ok := c.Eval(MustParseExpr(`random(0.5)`)).RealValue(); !ok || f < 0 || f >= 0.5 {
			t.Fatalf("random(0.5) = %v, %v", f, ok)
		}
	}
}

// TestFormatTime compares formatTime with Go's own formatting of the same instant in the
// local time zone, so it passes whatever TZ the tests run under.
func TestFormatTime(t *testing.T) {
	unix := func(v int64) time.Time { return time.Unix(v, 0).In(time.Local) }
	cases := []struct {
		expr string
		want string
	}{
		{`formatTime()`, unix(fnNow.Unix()).Format("Mon Jan _2 15:04:05 2006")},
		{`formatTime(1700000000)`, unix(1700000000).Format("Mon Jan _2 15:04:05 2006")},
		{`formatTime(1700000000, "%c")`, unix(1700000000).Format("Mon Jan _2 15:04:05 2006")},
		{`formatTime(1700000000.75, "%c")`, unix(1700000000).Format("Mon Jan _2 15:04:05 2006")},
		{`formatTime(1700000000, "%Y-%m-%d %H:%M:%S")`, unix(1700000000).Format("2006-01-02 15:04:05")},
		{`formatTime(1700000000, "%a %A %b %B %h")`, unix(1700000000).Format("Mon Monday Jan January Jan")},
		{`formatTime(1700000000, "%d %e %j %y %I %p %M %S")`, unix(1700000000).Format("02 _2 002 06 03 PM 04 05")},
		{`formatTime(1700000000, "%D|%F|%T|%R|%r|%x|%X")`, unix(1700000000).Format("01/02/06|2006-01-02|15:04:05|15:04|03:04:05 PM|01/02/06|15:04:05")},
		{`formatTime(1700000000, "%Z %z")`, unix(1700000000).Format("MST -0700")},
		{`formatTime(1700000000, "%n%t%%")`, "\n\t%"},
		{`formatTime(1700000000, "%s")`, "1700000000"},
		{`formatTime(-1, "%s")`, "-1"},
	}
	// 2024-01-01 12:00 UTC is a Monday, and noon keeps the date in any zone within 12h.
	const monday = 1704110400
	if lt := unix(monday); lt.Day() == 1 {
		cases = append(cases,
			struct{ expr, want string }{`formatTime(1704110400, "%U %W %V %G %g %C %u %w %j")`, "00 01 01 2024 24 20 1 1 001"},
			struct{ expr, want string }{`formatTime(1704110400, "%-d|%_m|%0e|%^a|%Ey|%Od")`, "1| 1|01|MON|24|01"},
			struct{ expr, want string }{`formatTime(1704110400, "%k|%l|%P")`, padHour(lt.Hour(), lt.Format("3"), lt.Format("pm"))},
		)
	}
	for _, tc := range cases {
		c := fnContext()
		got := c.Eval(MustParseExpr(tc.expr))
		if s, ok := got.StringValue(); !ok || s != tc.want {
			t.Errorf("%s = %s, want %q", tc.expr, got, tc.want)
		}
	}
	// A result longer than HTCondor's 1024-byte strftime buffer fails, giving "".
	long := `formatTime(0, "` + strings.Repeat("%c", 100) + `")`
	if got := fnContextEval(long); got.String() != `""` {
		t.Errorf("overlong formatTime = %s, want \"\"", got)
	}
}

func padHour(h int, h12, ampm string) string {
	pad := func(s string) string {
		if len(s) < 2 {
			return " " + s
		}
		return s
	}
	return pad(strconv.Itoa(h)) + "|" + pad(h12) + "|" + ampm
}

func fnContextEval(src string) Value {
	c := fnContext()
	return c.Eval(MustParseExpr(src))
}

// TestEvalDepth checks that eval() nested through attributes ends in ERROR, not a stack
// overflow.
func TestEvalDepth(t *testing.T) {
	ad := New()
	const n = 3 * maxEvalDepth
	for i := 0; i < n; i++ {
		ad.Set("E"+strconv.Itoa(i), MustParseExpr(`eval("E`+strconv.Itoa(i+1)+`")`))
	}
	ad.SetInt("E"+strconv.Itoa(n), 1)
	if got := ad.EvalAttr("E0"); !got.IsError() {
		t.Fatalf("deep eval chain = %s, want error", got)
	}
	if got := ad.EvalAttr("E" + strconv.Itoa(n-10)); got.String() != "1" {
		t.Fatalf("short eval chain = %s, want 1", got)
	}
}

// TestStrtod checks the C-like number prefix parser behind int() and real().
func TestStrtod(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		n    int
	}{
		{"12abc", 12, 2}, {"  -3.5e2x", -350, 8}, {"1e", 1, 1}, {"1e+", 1, 1},
		{".5", 0.5, 2}, {"5.", 5, 2}, {"0x1A", 26, 4}, {"0x1.8p1", 3, 7}, {"0xg", 0, 1},
		{"-0x", 0, 2}, {"inf", math.Inf(1), 3}, {"-Infinity!", math.Inf(-1), 9},
		{"nan(abc)x", math.NaN(), 8}, {"nan(", math.NaN(), 3}, {"", 0, 0}, {"abc", 0, 0},
		{"-", 0, 0}, {".", 0, 0}, {" \t\n", 0, 0}, {"1e999", math.Inf(1), 5},
		{"1e-999", 0, 6},
	} {
		f, n := strtod(tc.in)
		same := f == tc.want || (math.IsNaN(f) && math.IsNaN(tc.want))
		if !same || n != tc.n {
			t.Errorf("strtod(%q) = %v, %d; want %v, %d", tc.in, f, n, tc.want, tc.n)
		}
	}
}

// TestFunctionsNeverPanic calls every built-in with many combinations of awkward
// arguments. Any panic fails the test; results are not checked.
func TestFunctionsNeverPanic(t *testing.T) {
	args := []string{
		`undefined`, `error`, `true`, `0`, `-1`, `1`, `9223372036854775807`,
		`-9223372036854775807`, `2.5`, `-1e308`, `real("NaN")`, `real("INF")`, `""`,
		`"abc"`, `"%c%Y"`, `"(["`, `"a@b"`, `"1,2,x"`, `"\1\9"`, `{}`, `{ 1,"a",undefined }`,
		`[ a = 1 ]`, `A`, `Missing`,
	}
	r := rand.New(rand.NewPCG(1, 1))
	for name := range builtins {
		call := func(as ...string) {
			src := name + "(" + strings.Join(as, ",") + ")"
			e, err := ParseExpr(src)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("%s panicked: %v", src, p)
				}
			}()
			c := fnContext()
			_ = c.Eval(e).String()
		}
		call()
		for _, a := range args {
			call(a)
			for _, b := range args {
				call(a, b)
			}
		}
		for i := 0; i < 100; i++ {
			pick := func() string { return args[r.IntN(len(args))] }
			call(pick(), pick(), pick())
			call(pick(), pick(), pick(), pick())
		}
	}
}

// FuzzFunctions calls a built-in chosen by the fuzzer with up to four arguments of
// arbitrary text (each parsed as an expression, or used as a string when it does not
// parse). It checks that no function panics and that results are deterministic.
func FuzzFunctions(f *testing.F) {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	slices.Sort(names)
	f.Add(uint8(0), uint8(2), `"abc"`, `-2`, `3`, ``)
	f.Add(uint8(1), uint8(3), `"(a)(b)"`, `"ab"`, `"\2\1"`, `"fg"`)
	f.Add(uint8(2), uint8(2), `9223372036854775807`, `{ 1, undefined, "x" }`, `[ a = 1 ]`, `"%c%j%%"`)
	f.Fuzz(func(t *testing.T, which, n uint8, a, b, c, d string) {
		name := names[int(which)%len(names)]
		args := make([]Expr, 0, 4)
		for _, src := range []string{a, b, c, d}[:int(n)%5] {
			e, err := ParseExpr(src)
			if err != nil {
				e = Literal(String(src))
			}
			args = append(args, e)
		}
		call := &callExpr{name: name, args: args, fn: lookupBuiltin(name)}
		c1, c2 := fnContext(), fnContext()
		v1, v2 := c1.Eval(call), c2.Eval(call)
		if v1.String() != v2.String() && !(v1.kind == RealKind && math.IsNaN(v1.f)) {
			t.Fatalf("%s: %s then %s", Unparse(call), v1, v2)
		}
	})
}
