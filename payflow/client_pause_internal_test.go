package payflow

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClientPauseHeedsRetryAfter: the pause before a retry, on the fake
// clock of a synctest bubble, is a Retry-After longer than the backoff,
// up to MaxBackoff, and otherwise the backoff with its jitter: from half
// of it to all of it.
func TestClientPauseHeedsRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := NewClient("https://platform.invalid", ClientOptions{MinBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second})
		require.NoError(t, err)
		pause := func(retryAfter time.Duration) time.Duration {
			start := time.Now()
			require.NoError(t, c.pause(context.Background(), 1, retryAfter))
			return time.Since(start)
		}
		assert.Equal(t, 3*time.Second, pause(3*time.Second))
		assert.Equal(t, 10*time.Second, pause(time.Minute), "up to MaxBackoff")
		d := pause(0)
		assert.GreaterOrEqual(t, d, 50*time.Millisecond)
		assert.LessOrEqual(t, d, 100*time.Millisecond)
	})
}

// TestClientPauseJitters: pauses before the same retry differ, each
// from half of the backoff to all of it, so that phones that failed
// together do not all come back at once.
func TestClientPauseJitters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := NewClient("https://platform.invalid", ClientOptions{MinBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second})
		require.NoError(t, err)
		seen := map[time.Duration]bool{}
		for range 64 {
			start := time.Now()
			require.NoError(t, c.pause(context.Background(), 1, 0))
			d := time.Since(start)
			require.GreaterOrEqual(t, d, 50*time.Millisecond)
			require.LessOrEqual(t, d, 100*time.Millisecond)
			seen[d] = true
		}
		assert.Greater(t, len(seen), 1, "64 pauses of one length")
	})
}

// TestClientBackoffOfAnOddMaximum: the pause doubles while it stays at
// most MaxBackoff, also when MaxBackoff is odd: from 2 ns up to 5 ns, the
// second pause is 4 ns and the third 5 ns.
func TestClientBackoffOfAnOddMaximum(t *testing.T) {
	c, err := NewClient("https://platform.invalid", ClientOptions{MinBackoff: 2, MaxBackoff: 5})
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{2, 4, 5, 5}, []time.Duration{c.backoff(1), c.backoff(2), c.backoff(3), c.backoff(4)})
}
