//go:build !long

package main

// longTests: built without the long tag, the crash test runs crashSubmits.
const longTests = false

// crashSubmitsLong is used only with the long tag.
const crashSubmitsLong = crashSubmits
