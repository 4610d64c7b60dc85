//go:build race

package payflow

// raceEnabled: the race detector drops sync.Pool entries at random, so
// allocation counts vary from run to run.
const raceEnabled = true
