package outwait

import (
	"context"
	"slices"
	"sync"
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
