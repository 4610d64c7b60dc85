package payflow

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestSecondsOfLifetimes: a lifetime is a ledger timeout of whole seconds
// rounded up, at least one (a lifetime of zero or below times a hold of
// one second) and at most 2^32-1, the longest that the ledger keeps,
// which every longer lifetime is, up to the longest Duration.
func TestSecondsOfLifetimes(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		ceil int64
		want uint32
	}{
		{math.MinInt64, -9223372036, 1},
		{-time.Second, -1, 1},
		{-1, 0, 1},
		{0, 0, 1},
		{1, 1, 1},
		{time.Second, 1, 1},
		{time.Second + 1, 2, 2},
		{MaxHoldTTL, 1<<32 - 1, 1<<32 - 1},
		{MaxHoldTTL + 1, 1 << 32, 1<<32 - 1},
		{math.MaxInt64, 9223372037, 1<<32 - 1},
	} {
		assert.Equal(t, c.ceil, ceilSeconds(c.d), "ceilSeconds(%v)", c.d)
		assert.Equal(t, c.want, seconds(c.d), "seconds(%v)", c.d)
	}
}
