//go:build !long

package jobs

// crashSubmits is how many acknowledged submits the crash test waits for before the kill.
const crashSubmits = 1000
