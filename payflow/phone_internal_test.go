package payflow

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRateLimitPause: Select waits the retry time a rate_limited refusal
// gives, at most MaxRateLimitPause, and RateLimitPause when it gives none.
func TestRateLimitPause(t *testing.T) {
	o := PhoneOptions{RateLimitPause: 3 * time.Millisecond, MaxRateLimitPause: 5 * time.Second}
	tests := []struct {
		name string
		err  error
		want time.Duration
	}{
		{"no retry time", fmt.Errorf("%w: busy", ErrRateLimited), 3 * time.Millisecond},
		{"a retry time", &RateLimitedError{Err: ErrRateLimited, RetryAfter: 2 * time.Second}, 2 * time.Second},
		{"a wrapped retry time", fmt.Errorf("pair: %w", &RateLimitedError{Err: ErrRateLimited, RetryAfter: time.Second}), time.Second},
		{"beyond the bound", &RateLimitedError{Err: ErrRateLimited, RetryAfter: time.Hour}, 5 * time.Second},
		{"a zero retry time", &RateLimitedError{Err: ErrRateLimited}, 3 * time.Millisecond},
		{"a negative retry time", &RateLimitedError{Err: ErrRateLimited, RetryAfter: -time.Second}, 3 * time.Millisecond},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, o.rateLimitPause(tt.err), tt.name)
	}
}

// TestPaymentViewHoldExpiryWire: a view's hold expiry crosses the wire
// under key 19 as integer Unix seconds, and is left out when zero
// (PROTOCOL.md §5.3).
func TestPaymentViewHoldExpiryWire(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	enc, err := wireEnc.Marshal(&PaymentView{State: StateHeld, HoldExpiresAt: at})
	require.NoError(t, err)
	var keys map[uint64]any
	require.NoError(t, wireDecodeReply(enc, &keys))
	assert.Equal(t, uint64(at.Unix()), keys[19])
	var got PaymentView
	require.NoError(t, wireDecodeReply(enc, &got))
	assert.True(t, at.Equal(got.HoldExpiresAt), got.HoldExpiresAt)

	enc, err = wireEnc.Marshal(&PaymentView{State: StateCaptured})
	require.NoError(t, err)
	clear(keys)
	require.NoError(t, wireDecodeReply(enc, &keys))
	assert.NotContains(t, keys, uint64(19))
}
