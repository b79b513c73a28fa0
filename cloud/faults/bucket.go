package faults

import "time"

// tokenEpsilon absorbs float rounding in refills, so that, say, ten refills of a tenth of
// a token make a whole token as arithmetic says they should.
const tokenEpsilon = 1e-9

// tokenBucket is one account's bucket for one class. It refills on demand from the time
// it is given, so it needs no goroutine and follows a fake clock in tests. Not safe for
// concurrent use: the Injector's lock guards it.
type tokenBucket struct {
	rate   float64 // tokens per second, > 0
	burst  float64 // capacity, >= 1
	tokens float64
	last   time.Time // when tokens was last brought up to date
}

// newTokenBucket gives a full bucket, as a client that has been quiet has its whole burst.
func newTokenBucket(b Bucket, now time.Time) *tokenBucket {
	return &tokenBucket{rate: b.Rate, burst: float64(b.Burst), tokens: float64(b.Burst), last: now}
}

// refill brings the tokens up to date at now. A clock that steps back refills nothing
// (and keeps last), so a stepped clock never hands out extra tokens.
func (b *tokenBucket) refill(now time.Time) {
	if !now.After(b.last) {
		return
	}
	b.tokens = min(b.burst, b.tokens+b.rate*now.Sub(b.last).Seconds())
	b.last = now
}

// take takes one token at now, reporting false (and taking nothing) if the bucket is
// empty.
func (b *tokenBucket) take(now time.Time) bool {
	b.refill(now)
	if b.tokens < 1-tokenEpsilon {
		return false
	}
	b.tokens = max(0, b.tokens-1)
	return true
}

// full reports whether the bucket is full at now, when it behaves as a new one would and
// can be forgotten.
func (b *tokenBucket) full(now time.Time) bool {
	b.refill(now)
	return b.tokens >= b.burst-tokenEpsilon
}
