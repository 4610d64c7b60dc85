package ledgertest

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRunStartStaysInRange checks that the clock RunModel sets for each of
// 100 000 runs stays within the ledger's timestamps (UnixNano, up to the
// year 2262) and starts far beyond anything the run before could reach
// (1000 steps of at most 3 s each).
func TestRunStartStaysInRange(t *testing.T) {
	limit := time.Unix(0, math.MaxInt64)
	prev := runStart(1)
	for run := uint64(2); run <= 100_000; run++ {
		start := runStart(run)
		require.True(t, start.Before(limit), "run %d starts at %v", run, start)
		require.Greater(t, start.Sub(prev), 1000*3*time.Second, "run %d", run)
		prev = start
	}
}
