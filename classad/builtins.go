package classad

import "strings"

// builtins maps lower-case function names to their implementations. It is filled once
// by init (it cannot be a plain initialised variable: eval() parses, and parsing looks
// functions up here) and only read afterwards.
var builtins map[string]builtinFunc

func init() {
	builtins = make(map[string]builtinFunc)
	registerBuiltins(builtins)
}

// lookupBuiltin returns the function named name (any case), or nil if there is none.
func lookupBuiltin(name string) builtinFunc { return builtins[strings.ToLower(name)] }
