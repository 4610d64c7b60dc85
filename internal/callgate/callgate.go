// Package callgate counts the calls under way of something that Close
// ends, so that Close can wait for them: a call enters the Gate while it
// is open and leaves it at its end; Close marks it closed, refusing the
// calls that come after, and Wait waits for those that entered. A call
// that finds the Gate closed, or meets Close as it enters, is refused at
// once, without waiting for the calls under way.
//
// The count is a sync.WaitGroup, not a lock held for reading, so that a
// Wait for a call under way is seen by testing/synctest as durably
// blocked: a test in a bubble can tell that Close waits.
package callgate

import (
	"sync"
	"sync/atomic"
)

// Gate counts the calls under way. Its zero value is open, with no call
// under way. It is safe for concurrent use.
type Gate struct {
	// Entering, when set, runs in Enter once it has found the Gate open,
	// before it takes the Gate's lock: for tests of a Close called then.
	// Set it before the first Enter, and do not change it.
	Entering func()

	mu     sync.Mutex // held by Enter where it counts a call, and by Close where it marks the Gate closed
	closed atomic.Bool
	calls  sync.WaitGroup
}

// Enter counts a call and reports true while the Gate is open; the call
// then calls Leave at its end. It reports false, counting nothing, once
// Close has been called: when it finds the Gate closed as it begins, or
// under its lock, so that every call Wait does not count is refused.
func (g *Gate) Enter() bool {
	if g.closed.Load() {
		return false
	}
	if g.Entering != nil {
		g.Entering()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed.Load() {
		return false
	}
	g.calls.Add(1)
	return true
}

// Leave ends a call that Enter counted.
func (g *Gate) Leave() { g.calls.Done() }

// Close marks the Gate closed and reports whether it was open: true for
// the first Close only.
func (g *Gate) Close() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.closed.Swap(true)
}

// Wait waits until every call that Enter counted has left. Called after
// Close, it waits for the calls under way then, and no other is counted.
func (g *Gate) Wait() { g.calls.Wait() }
