package ctxsleep_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/internal/ctxsleep"
)

func TestSleep(t *testing.T) {
	assert.NoError(t, ctxsleep.Sleep(context.Background(), time.Millisecond))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, ctxsleep.Sleep(ctx, time.Hour), context.Canceled)

	why := errors.New("shutting down")
	ctx, cancelCause := context.WithCancelCause(context.Background())
	time.AfterFunc(10*time.Millisecond, func() { cancelCause(why) })
	assert.ErrorIs(t, ctxsleep.Sleep(ctx, time.Hour), why, "the cause of the context")
}

// An ended context ends Sleep however short d is: with d not positive the
// timer has fired too when select looks, and select would pick either.
func TestSleepEndedContextNoWait(t *testing.T) {
	why := errors.New("shutting down")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(why)
	for _, d := range []time.Duration{0, -time.Second, time.Nanosecond} {
		for range 200 {
			if err := ctxsleep.Sleep(ctx, d); !errors.Is(err, why) {
				t.Fatalf("Sleep(ended ctx, %v) = %v, want %v", d, err, why)
			}
		}
	}
}
