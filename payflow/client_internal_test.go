package payflow

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClientBackoff: the pause doubles from MinBackoff up to MaxBackoff
// and stays there, also when doubling a long MinBackoff would overflow a
// time.Duration (2^54+1 ns shifted by 10 wraps to 1024 ns).
func TestClientBackoff(t *testing.T) {
	c, err := NewClient("https://platform.invalid", ClientOptions{MinBackoff: 1e6, MaxBackoff: 1e9})
	require.NoError(t, err)
	for attempt, want := range map[int]int64{1: 1e6, 2: 2e6, 10: 512e6, 11: 1e9, 100: 1e9} {
		assert.EqualValues(t, want, c.backoff(attempt), attempt)
	}
	const long = 1<<54 + 1
	c, err = NewClient("https://platform.invalid", ClientOptions{MinBackoff: long, MaxBackoff: long})
	require.NoError(t, err)
	for attempt := 1; attempt <= 64; attempt++ {
		assert.EqualValues(t, long, c.backoff(attempt), attempt)
	}
	// Up to the longest duration: doubling 2^62+1 ns would wrap to a
	// negative one, and doubling 1 ns 63 times too.
	for _, minBackoff := range []time.Duration{1, 1<<62 + 1, math.MaxInt64} {
		c, err = NewClient("https://platform.invalid", ClientOptions{MinBackoff: minBackoff, MaxBackoff: math.MaxInt64})
		require.NoError(t, err)
		prev := time.Duration(0)
		for attempt := 1; attempt <= 128; attempt++ {
			d := c.backoff(attempt)
			require.GreaterOrEqual(t, d, max(prev, minBackoff), "%v attempt %d", minBackoff, attempt)
			prev = d
		}
		assert.EqualValues(t, math.MaxInt64, prev, minBackoff)
	}
	c, err = NewClient("https://platform.invalid", ClientOptions{MinBackoff: 1, MaxBackoff: math.MaxInt64})
	require.NoError(t, err)
	assert.EqualValues(t, 1<<62, c.backoff(63))
}

// TestClientBackoffDefaults: a MinBackoff longer than DefaultMaxBackoff,
// MaxBackoff unset, makes the longest pause MinBackoff, and a MaxBackoff
// shorter than DefaultMinBackoff, MinBackoff unset, makes the shortest
// pause MaxBackoff, as ClientOptions says: neither default is taken past
// the bound given.
func TestClientBackoffDefaults(t *testing.T) {
	long := 2 * DefaultMaxBackoff
	c, err := NewClient("https://platform.invalid", ClientOptions{MinBackoff: long})
	require.NoError(t, err)
	assert.Equal(t, long, c.opts.MaxBackoff)
	for _, attempt := range []int{1, 2, 10} {
		assert.Equal(t, long, c.backoff(attempt), attempt)
	}
	short := DefaultMinBackoff / 5
	c, err = NewClient("https://platform.invalid", ClientOptions{MaxBackoff: short})
	require.NoError(t, err)
	assert.Equal(t, short, c.opts.MinBackoff)
	for _, attempt := range []int{1, 2, 10} {
		assert.Equal(t, short, c.backoff(attempt), attempt)
	}
	c, err = NewClient("https://platform.invalid", ClientOptions{})
	require.NoError(t, err)
	assert.Equal(t, DefaultMinBackoff, c.opts.MinBackoff)
	assert.Equal(t, DefaultMaxBackoff, c.opts.MaxBackoff)
}
