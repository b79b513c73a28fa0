//go:build race

package interop

// raceEnabled is whether this test binary runs under the race detector; the cloud it
// drives is then built with -race as well.
const raceEnabled = true
