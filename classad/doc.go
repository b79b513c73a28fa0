// Package classad implements HTCondor's ClassAd language in its "old" syntax (the one
// submit files, -constraint arguments and condor_q -long use): lexing, parsing, three-valued
// evaluation with HTCondor's operator semantics, the built-in functions, ClassAd records,
// and printing in condor_q's -long and -json forms. Where HTCondor's manual and its code
// disagree, this package follows the code.
package classad
