package sqlstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt  int
		jitter   float64
		min, max time.Duration
	}{
		{0, 0, 500 * time.Microsecond, 500 * time.Microsecond},
		{0, 0.999, 500 * time.Microsecond, time.Millisecond},
		{1, 0, time.Millisecond, time.Millisecond},
		{3, 0, 4 * time.Millisecond, 4 * time.Millisecond},
		{7, 0, 50 * time.Millisecond, 50 * time.Millisecond},
		{100, 0, 50 * time.Millisecond, 50 * time.Millisecond},
		{100, 0.999, 50 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		got := Backoff(tt.attempt, tt.jitter)
		assert.GreaterOrEqual(t, got, tt.min, "attempt %d jitter %v", tt.attempt, tt.jitter)
		assert.LessOrEqual(t, got, tt.max, "attempt %d jitter %v", tt.attempt, tt.jitter)
	}
}
