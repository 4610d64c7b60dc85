package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// request is one CreateTransfers call waiting for its batch.
type request struct {
	ctx     context.Context
	events  []Transfer
	results []CreateTransferResult
	err     error
	done    chan struct{}
}

// CreateTransfers creates transfers, one result per event (results[i] is
// the outcome of transfers[i]). Transfers flagged TransferLinked form a
// chain with the next one of the same call, created all or nothing; a
// chain still open at the end of the call fails with
// linked_event_chain_open. It fails with ErrBatchTooLarge beyond BatchMax
// events, with ErrClosed after Close, with ErrTimestampLimit when its
// events would need timestamps past TimestampLimit (its own events and the
// expiries due: never for those of calls merged with it), with an error
// wrapping ErrCorrupt when the rows it reads break the ledger's invariants
// (a pending transfer that names a missing account, or that holds more
// than its accounts have pending, which its post, void or expiry would
// take below zero, or that a post or void names and that has no pending
// state; a stored post or void, retried, whose pending transfer is
// missing: the rows its own events read and the expiries due, never
// those that only calls merged with it read), or with the store's
// error; in each case nothing of the call was created, unless the error
// was the commit's own (a server store's connection lost after COMMIT was
// sent): then the outcome is unknown, as below. When ctx ends before the
// reply, CreateTransfers returns ctx's error and the outcome is unknown:
// retry with the same IDs to learn it (exists or a final result). The
// call works on its own copy of transfers, so the caller may reuse the
// slice as soon as the call returns, even while the batch it joined is
// still running.
func (l *Ledger) CreateTransfers(ctx context.Context, transfers []Transfer) ([]CreateTransferResult, error) {
	if err := l.check(ctx); err != nil {
		return nil, err
	}
	if len(transfers) > BatchMax {
		return nil, fmt.Errorf("%w: %d transfers, at most %d", ErrBatchTooLarge, len(transfers), BatchMax)
	}
	// select picks at random among ready cases: test quit first, so that
	// a call after Close is never queued.
	if l.isClosed() {
		return nil, ErrClosed
	}
	if len(transfers) == 0 {
		return []CreateTransferResult{}, nil
	}
	// The batcher may still read the events after a caller whose ctx
	// ended has returned: it reads a copy.
	r := &request{ctx: ctx, events: slices.Clone(transfers), done: make(chan struct{})}
	select {
	case l.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.quit:
		return nil, ErrClosed
	}
	if l.queued != nil {
		l.queued(r.done)
	}
	select {
	case <-r.done:
		return r.results, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.stopped:
		// select picks at random among ready cases: a reply ready by the
		// time the batcher stopped is the call's outcome, which may be
		// a batch that committed.
		select {
		case <-r.done:
			return r.results, r.err
		default:
			return nil, ErrClosed
		}
	}
}
func (l *Ledger) isClosed() bool {
	select {
	case <-l.quit:
		return true
	default:
		return false
	}
}

// loop is the group-commit batcher.
func (l *Ledger) loop() {
	defer close(l.stopped)
	var carry *request
	for {
		var first *request
		if carry != nil {
			first, carry = carry, nil
		} else {
			select {
			case first = <-l.reqs:
			case <-l.quit:
				l.drain()
				return
			}
		}
		batch := []*request{first}
		n := len(first.events)
		var timeout <-chan time.Time
		var timer *time.Timer
		if l.maxWait > 0 {
			timer = time.NewTimer(l.maxWait)
			timeout = timer.C
		}
	collect:
		for n < l.maxBatch {
			var r *request
			if timeout == nil {
				select {
				case r = <-l.reqs:
				default:
					break collect
				}
			} else {
				select {
				case r = <-l.reqs:
				case <-timeout:
					break collect
				case <-l.quit:
					break collect
				}
			}
			if n+len(r.events) > l.maxBatch {
				carry = r
				break
			}
			batch = append(batch, r)
			n += len(r.events)
		}
		if timer != nil {
			timer.Stop()
		}
		// No transaction starts once Close is called, although requests
		// may still have been taken from the queue.
		if l.isClosed() {
			if carry != nil {
				batch = append(batch, carry)
			}
			for _, r := range batch {
				refuse(r)
			}
			l.drain()
			return
		}
		l.run(batch)
	}
}

// refuse fails r with ErrClosed.
func refuse(r *request) {
	r.err = ErrClosed
	close(r.done)
}

// drain fails the requests still queued at Close.
func (l *Ledger) drain() {
	for {
		select {
		case r := <-l.reqs:
			refuse(r)
		default:
			return
		}
	}
}

// run applies one merged batch in one store transaction. When the merged
// batch fails for what one request may cause alone (timestamps beyond
// TimestampLimit, or rows that break the ledger's invariants, which the
// post or void of one request may read), each request runs alone, in
// order, so that a sound one is not failed for having been merged: the
// failed transaction wrote nothing. Where every batch meets the cause (the
// expiries due), each request alone fails as the merged batch did. Once
// Close is called, the requests not yet run so fail with ErrClosed.
func (l *Ledger) run(batch []*request) {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	err := l.commit(live)
	if err != nil && len(live) > 1 && (errors.Is(err, ErrTimestampLimit) || errors.Is(err, ErrCorrupt)) {
		for _, r := range live {
			if l.isClosed() {
				refuse(r)
				continue
			}
			r.err = l.commit([]*request{r})
			close(r.done)
		}
		return
	}
	for _, r := range live {
		r.err = err
		close(r.done)
	}
}

// commit applies the events of requests in one store transaction and
// sets each request's results, or returns the error that rolled it back.
func (l *Ledger) commit(requests []*request) error {
	var events []Transfer
	if len(requests) == 1 {
		events = requests[0].events
	} else {
		n := 0
		for _, r := range requests {
			n += len(r.events)
		}
		events = make([]Transfer, 0, n)
		for _, r := range requests {
			events = append(events, r.events...)
		}
	}
	ends := make([]int, len(requests))
	off := 0
	for i, r := range requests {
		off += len(r.events)
		ends[i] = off
	}
	var results []CreateTransferResult
	// The batch serves several callers, so no caller's context bounds it.
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	err := l.store.Update(ctx, func(tx Tx) error {
		var err error
		results, err = l.createTransfers(tx, events, ends)
		return err
	})
	cancel()
	if err != nil {
		return err
	}
	off = 0
	for _, r := range requests {
		r.results = results[off : off+len(r.events) : off+len(r.events)]
		off += len(r.events)
	}
	return nil
}
