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
