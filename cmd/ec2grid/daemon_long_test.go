//go:build long

package main

// longTests: built with the long tag, the crash test runs crashSubmitsLong.
const longTests = true

// crashSubmitsLong is the crash test's submit count under `make test-long`.
const crashSubmitsLong = 10000
