// Package ctxsleep waits for a duration or for a context to end, for the
// retry and polling loops of the module's packages.
package ctxsleep

import (
	"context"
	"time"
)

// Sleep waits for d and returns nil, or returns the cause of ctx
// (context.Cause) if ctx ends first. A ctx that has ended already ends
// Sleep at once with its cause, however short d is, zero or negative
// included.
func Sleep(ctx context.Context, d time.Duration) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
