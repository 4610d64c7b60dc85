package payflow_test

import (
	"context"
	"fmt"
)

// errCallerGone is the cause with which the phone tests end their
// contexts. It wraps context.Canceled, as a caller's cause may, and tells
// the cause (context.Cause) from ctx.Err(), which is context.Canceled
// alone.
var errCallerGone = fmt.Errorf("the caller has gone: %w", context.Canceled)

// withCancelCause is context.WithCancel whose cancel ends ctx with
// errCallerGone as its cause.
func withCancelCause(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	return ctx, func() { cancel(errCallerGone) }
}
