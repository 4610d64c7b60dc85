// Package ctxsleep waits for a duration or for a context to end, for the
// retry and polling loops of the module's packages.
package ctxsleep

import (
	"context"
	"time"
)

// Sleep waits for d and returns nil, or returns the cause of ctx
// (context.Cause) if ctx ends first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
