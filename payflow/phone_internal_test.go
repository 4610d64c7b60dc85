package payflow

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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
