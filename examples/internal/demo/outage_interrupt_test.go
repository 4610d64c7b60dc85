package demo

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestThroughOutageWaitsOutInFlight: a call that the cloud still works on
// (payflow.ErrInFlight) is made again, as one it did not answer, until it
// has an outcome.
func TestThroughOutageWaitsOutInFlight(t *testing.T) {
	answers := []error{payflow.ErrInFlight, payflow.ErrUnavailable, nil}
	calls := 0
	err := ThroughOutage(t.Context(), func() error {
		calls++
		return answers[calls-1]
	})
	require.NoError(t, err)
	assert.Equal(t, 3, calls)
}

// TestInterruptedNamesCauseOnce: the error of a run whose context ended
// names the cause of the end once: added where the error lacks it, kept
// as it is where it holds it.
func TestInterruptedNamesCauseOnce(t *testing.T) {
	signal := errors.New("interrupt signal received")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(signal)
	held := fmt.Errorf("demo: no payment: %w", signal)
	assert.Equal(t, held, Interrupted(ctx, held))
	err := Interrupted(ctx, payflow.ErrUnavailable)
	require.ErrorIs(t, err, signal)
	assert.EqualError(t, err, payflow.ErrUnavailable.Error()+" (interrupt signal received)")
}
