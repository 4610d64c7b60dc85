package payflow

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClientBackoff: the pause doubles from MinBackoff up to MaxBackoff
// and stays there, also when doubling a long MinBackoff would overflow a
// time.Duration (2^54+1 ns shifted by 10 wraps to 1024 ns).
func TestClientBackoff(t *testing.T) {
	c, err := NewClient("http://platform.invalid", ClientOptions{MinBackoff: 1e6, MaxBackoff: 1e9})
	require.NoError(t, err)
	for attempt, want := range map[int]int64{1: 1e6, 2: 2e6, 10: 512e6, 11: 1e9, 100: 1e9} {
		assert.EqualValues(t, want, c.backoff(attempt), attempt)
	}
	const long = 1<<54 + 1
	c, err = NewClient("http://platform.invalid", ClientOptions{MinBackoff: long, MaxBackoff: long})
	require.NoError(t, err)
	for attempt := 1; attempt <= 64; attempt++ {
		assert.EqualValues(t, long, c.backoff(attempt), attempt)
	}
}
