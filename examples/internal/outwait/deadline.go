package outwait

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// Deadline is a context whose deadline passes when the test says so
// (Pass), or when the context it was made from ends (NewDeadline): its
// Err is then context.DeadlineExceeded, as for a deadline that passed.
// Given to a program, it ends the program's wait (-wait, say), and the
// contexts the program derives from it, at a step of the test rather
// than at a time: those have ended when Pass returns. It holds no
// values. It is safe for concurrent use.
type Deadline struct {
	context.Context // context.Background(): no values, no deadline

	mu     sync.Mutex
	done   chan struct{}
	passed bool
	after  []*func() // to call as it passes (AfterFunc)
}

// NewDeadline returns a Deadline that passes when parent ends, if not
// before.
func NewDeadline(parent context.Context) *Deadline {
	d := &Deadline{Context: context.Background(), done: make(chan struct{})}
	context.AfterFunc(parent, d.Pass)
	return d
}

// Pass has d's deadline pass, if it has not, and ends the contexts
// derived from d before it returns.
func (d *Deadline) Pass() {
	d.mu.Lock()
	if d.passed {
		d.mu.Unlock()
		return
	}
	d.passed = true
	close(d.done)
	after := d.after
	d.after = nil
	d.mu.Unlock()
	for _, f := range after {
		(*f)()
	}
}

// Done returns the channel closed as d's deadline passes.
func (d *Deadline) Done() <-chan struct{} { return d.done }

// Err returns context.DeadlineExceeded once d's deadline passed, nil
// before.
func (d *Deadline) Err() error {
	select {
	case <-d.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// AfterFunc has f called by Pass, or at once in a goroutine of its own
// if d's deadline has passed; stop undoes that unless f was called, and
// reports whether it did. The package context ends the contexts derived
// from d so, rather than from a goroutine of its own: Pass ends them.
func (d *Deadline) AfterFunc(f func()) (stop func() bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.passed {
		go f()
		return func() bool { return false }
	}
	p := &f
	d.after = append(d.after, p)
	return func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		i := slices.Index(d.after, p)
		if i < 0 {
			return false
		}
		d.after = slices.Delete(d.after, i, i+1)
		return true
	}
}

// Waits makes the waits of a program that a test runs in place of
// context.WithTimeout: a test sets WithTimeout where the program makes
// its waits (demo.WithWait, say), as Use does. Each wait is a Deadline
// made from the context given (NewDeadline), which passes when the test
// says so (Pass), or as that context ends, and never once the wait's time
// has passed: the test learns of each wait as the program makes it
// (Made), and has the ones it chooses pass at the steps it chooses. Its
// zero value has made no wait. It is safe for concurrent use.
type Waits struct {
	// Made, if not nil, is called with the index of each wait, 0 for
	// the first, and its duration, as WithTimeout makes it, before
	// WithTimeout returns it. It is called without any lock of the
	// Waits held, and may call its methods. Set Made before the first
	// wait, and do not change it.
	Made func(i int, wait time.Duration)

	mu   sync.Mutex
	made []*Deadline
}

// WithTimeout returns a new wait, a Deadline made from ctx, whose
// deadline passes as the test passes it (Pass), or as ctx ends, and the
// function that passes it too, which stands for the cancel function of
// context.WithTimeout: wait is only told to Made.
func (w *Waits) WithTimeout(ctx context.Context, wait time.Duration) (context.Context, context.CancelFunc) {
	d := NewDeadline(ctx)
	w.mu.Lock()
	i := len(w.made)
	w.made = append(w.made, d)
	w.mu.Unlock()
	if w.Made != nil {
		w.Made(i, wait)
	}
	return d, d.Pass
}

// Use sets *withTimeout, the variable through which a program makes its
// waits (demo.WithWait, say), to w's WithTimeout until t ends, and then
// back to what it was: the program's waits are then w's, whose deadlines
// pass as the test passes them (Pass), not once their time has passed.
func (w *Waits) Use(t testing.TB, withTimeout *func(context.Context, time.Duration) (context.Context, context.CancelFunc)) {
	old := *withTimeout
	*withTimeout = w.WithTimeout
	t.Cleanup(func() { *withTimeout = old })
}

// Len returns how many waits WithTimeout made.
func (w *Waits) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.made)
}

// Pass has the deadline of the wait of index i (0 for the first that
// WithTimeout made) pass (Deadline.Pass), and reports whether there was
// such a wait: it changes nothing when there was not.
func (w *Waits) Pass(i int) bool {
	w.mu.Lock()
	if i < 0 || i >= len(w.made) {
		w.mu.Unlock()
		return false
	}
	d := w.made[i]
	w.mu.Unlock()
	d.Pass()
	return true
}
