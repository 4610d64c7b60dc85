//go:build race

package record

// raceEnabled: the race detector drops sync.Pool entries at random, so
// allocation counts vary from run to run.
const raceEnabled = true
