package payflow

import (
	"math"
	"net/http"
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

// TestNewClientHTTPClient: the client's own HTTP client keeps up to 64
// idle connections to the platform and reads a reply's header section of
// up to 64 KiB (ClientOptions.HTTPClient). A given one is copied, its
// transport and timeout kept, and left as it was: an http.Client that the
// app shares goes on following redirects under its own CheckRedirect (or
// net/http's default policy), which refuses no hop to another origin.
func TestNewClientHTTPClient(t *testing.T) {
	c, err := NewClient("https://platform.invalid", ClientOptions{})
	require.NoError(t, err)
	tr, ok := c.hc.Transport.(*http.Transport)
	require.True(t, ok, "%T", c.hc.Transport)
	assert.Equal(t, 64, tr.MaxIdleConnsPerHost)
	assert.EqualValues(t, 64<<10, tr.MaxResponseHeaderBytes)

	from, err := http.NewRequest(http.MethodGet, "https://platform.invalid/v1/info", nil)
	require.NoError(t, err)
	hop, err := http.NewRequest(http.MethodGet, "https://other.invalid/v1/info", nil)
	require.NoError(t, err)
	hop.Header.Set("Authorization", "Bearer tok-1")
	asked := 0
	for _, policy := range []func(*http.Request, []*http.Request) error{
		nil, func(*http.Request, []*http.Request) error { asked++; return nil },
	} {
		given := &http.Client{Transport: &http.Transport{}, Timeout: 7 * time.Second, CheckRedirect: policy}
		c, err := NewClient("https://platform.invalid", ClientOptions{HTTPClient: given})
		require.NoError(t, err)
		assert.NotSame(t, given, c.hc)
		assert.Same(t, given.Transport, c.hc.Transport)
		assert.Equal(t, 7*time.Second, c.hc.Timeout)
		require.ErrorIs(t, c.hc.CheckRedirect(hop, []*http.Request{from}), errOriginRedirect, "the copy's policy")
		if policy == nil {
			assert.Nil(t, given.CheckRedirect, "the given client left as it was")
			continue
		}
		require.NoError(t, given.CheckRedirect(hop, []*http.Request{from}), "the given client's own policy")
		assert.Equal(t, 1, asked, "asked by the given client alone")
	}
}
