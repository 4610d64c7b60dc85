package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Errors returned by Ledger. Result codes of single events are not errors:
// they come back in the result slices.
var (
	// ErrBatchTooLarge reports a call with more than BatchMax events or IDs.
	ErrBatchTooLarge = errors.New("ledger: batch too large")
	// ErrCorrupt reports stored data that breaks the ledger's invariants;
	// the batch that met it is rolled back.
	ErrCorrupt = errors.New("ledger: store inconsistent")
)

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// Options configure a Ledger. The zero value is the default.
type Options struct {
	// Now is the ledger's clock (default time.Now). Timestamps are its
	// nanoseconds, raised when needed so that they strictly increase over
	// everything the store holds, across restarts and clock steps. Expiry of
	// pending transfers follows these timestamps.
	Now func() time.Time
	// MaxBatch is the most events the group-commit batcher merges into one
	// store transaction (default and upper bound BatchMax). A single
	// request is never split, so it may exceed a smaller MaxBatch.
	MaxBatch int
	// MaxWait is how long the batcher waits for more requests once it has
	// one, before it starts a transaction. Zero (the default) does not
	// wait: requests that arrive while a transaction runs form the next
	// batch, which is the classic group commit.
	MaxWait time.Duration
	// ExpiryLimit is the most expired pending transfers released at the
	// start of one batch (default BatchMax); the rest follow in the next
	// batches, and a post or void of an expired transfer releases it at once.
	ExpiryLimit int
}

// Ledger applies TigerBeetle's rules to a Store. It is safe for concurrent
// use: concurrent CreateTransfers calls are merged by a group-commit
// batcher into one store transaction and one pass of the rules, and each
// caller gets exactly its own results. Several Ledgers (in one or several
// processes) may share one SQL store.
type Ledger struct {
	store       Store
	now         func() time.Time
	maxBatch    int
	maxWait     time.Duration
	expiryLimit int

	work working // scratch of the batcher goroutine

	reqs    chan *request
	quit    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

type request struct {
	ctx     context.Context
	events  []Transfer
	results []CreateTransferResult
	err     error
	done    chan struct{}
}

// New returns a Ledger over store, which the caller keeps and closes after
// closing the Ledger. It fails when store is nil or an option is negative.
func New(store Store, opts Options) (*Ledger, error) {
	if store == nil {
		return nil, errors.New("ledger: nil store")
	}
	if opts.MaxBatch < 0 || opts.MaxWait < 0 || opts.ExpiryLimit < 0 {
		return nil, errors.New("ledger: negative option")
	}
	l := &Ledger{
		store:       store,
		now:         opts.Now,
		maxBatch:    opts.MaxBatch,
		maxWait:     opts.MaxWait,
		expiryLimit: opts.ExpiryLimit,
		reqs:        make(chan *request, 256),
		quit:        make(chan struct{}),
		stopped:     make(chan struct{}),
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.maxBatch == 0 || l.maxBatch > BatchMax {
		l.maxBatch = BatchMax
	}
	if l.expiryLimit == 0 {
		l.expiryLimit = BatchMax
	}
	go l.loop()
	return l, nil
}

// Close stops the batcher after the batch in progress; later calls fail
// with ErrClosed. It does not close the store. Close is idempotent.
func (l *Ledger) Close() error {
	l.once.Do(func() { close(l.quit) })
	<-l.stopped
	return nil
}

// firstTimestamp returns the first timestamp of a batch: the clock, or one
// more than the last stored timestamp when the clock is not ahead of it.
func (l *Ledger) firstTimestamp(last uint64) uint64 {
	ns := l.now().UnixNano()
	ts := uint64(max(ns, 0))
	return max(ts, last+1)
}

// CreateAccounts creates accounts, one result per event (results[i] is the
// outcome of accounts[i]). Accounts flagged AccountLinked form a chain with
// the next one, created all or nothing. It fails with ErrBatchTooLarge
// beyond BatchMax events, or with the store's error, in which case nothing
// was created.
func (l *Ledger) CreateAccounts(ctx context.Context, accounts []Account) ([]CreateAccountResult, error) {
	if len(accounts) > BatchMax {
		return nil, fmt.Errorf("%w: %d accounts, at most %d", ErrBatchTooLarge, len(accounts), BatchMax)
	}
	if len(accounts) == 0 {
		return []CreateAccountResult{}, nil
	}
	if l.isClosed() {
		return nil, ErrClosed
	}
	var results []CreateAccountResult
	err := l.store.Update(ctx, func(tx Tx) error {
		var err error
		results, err = l.createAccounts(tx, accounts, []int{len(accounts)})
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// CreateTransfers creates transfers, one result per event (results[i] is
// the outcome of transfers[i]). Transfers flagged TransferLinked form a
// chain with the next one of the same call, created all or nothing; a
// chain still open at the end of the call fails with
// linked_event_chain_open. It fails with ErrBatchTooLarge beyond BatchMax
// events, with ErrClosed after Close, or with the store's error, in which
// case nothing of the call was created. When ctx ends before the reply,
// CreateTransfers returns ctx's error and the outcome is unknown: retry
// with the same IDs to learn it (exists or a final result).
func (l *Ledger) CreateTransfers(ctx context.Context, transfers []Transfer) ([]CreateTransferResult, error) {
	if len(transfers) > BatchMax {
		return nil, fmt.Errorf("%w: %d transfers, at most %d", ErrBatchTooLarge, len(transfers), BatchMax)
	}
	if len(transfers) == 0 {
		return []CreateTransferResult{}, nil
	}
	r := &request{ctx: ctx, events: transfers, done: make(chan struct{})}
	select {
	case l.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.quit:
		return nil, ErrClosed
	}
	select {
	case <-r.done:
		return r.results, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.stopped:
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
		l.run(batch)
	}
}

// drain fails the requests still queued at Close.
func (l *Ledger) drain() {
	for {
		select {
		case r := <-l.reqs:
			r.err = ErrClosed
			close(r.done)
		default:
			return
		}
	}
}

// run applies one merged batch in one store transaction.
func (l *Ledger) run(batch []*request) {
	live := batch[:0]
	n := 0
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			close(r.done)
			continue
		}
		live = append(live, r)
		n += len(r.events)
	}
	if len(live) == 0 {
		return
	}
	var events []Transfer
	if len(live) == 1 {
		events = live[0].events
	} else {
		events = make([]Transfer, 0, n)
		for _, r := range live {
			events = append(events, r.events...)
		}
	}
	ends := make([]int, len(live))
	off := 0
	for i, r := range live {
		off += len(r.events)
		ends[i] = off
	}
	var results []CreateTransferResult
	err := l.store.Update(context.Background(), func(tx Tx) error {
		var err error
		results, err = l.createTransfers(tx, events, ends)
		return err
	})
	off = 0
	for _, r := range live {
		if err != nil {
			r.err = err
		} else {
			r.results = results[off : off+len(r.events) : off+len(r.events)]
		}
		off += len(r.events)
		close(r.done)
	}
}

// LookupAccounts returns the accounts with the given IDs, in the order of
// ids; IDs without an account are left out (TigerBeetle's rule).
func (l *Ledger) LookupAccounts(ctx context.Context, ids []ID) ([]Account, error) {
	if len(ids) > BatchMax {
		return nil, fmt.Errorf("%w: %d ids, at most %d", ErrBatchTooLarge, len(ids), BatchMax)
	}
	var found []Account
	err := l.store.View(ctx, func(tx ReadTx) error {
		var err error
		found, err = tx.Accounts(sortUnique(slices.Clone(ids)))
		return err
	})
	if err != nil {
		return nil, err
	}
	byID := make(map[ID]int, len(found))
	for i := range found {
		byID[found[i].ID] = i
	}
	out := make([]Account, 0, len(found))
	for _, id := range ids {
		if i, ok := byID[id]; ok {
			out = append(out, found[i])
		}
	}
	return out, nil
}

// LookupTransfers returns the transfers with the given IDs, in the order of
// ids; IDs without a transfer are left out.
func (l *Ledger) LookupTransfers(ctx context.Context, ids []ID) ([]Transfer, error) {
	if len(ids) > BatchMax {
		return nil, fmt.Errorf("%w: %d ids, at most %d", ErrBatchTooLarge, len(ids), BatchMax)
	}
	var found []Transfer
	err := l.store.View(ctx, func(tx ReadTx) error {
		var err error
		found, err = tx.Transfers(sortUnique(slices.Clone(ids)))
		return err
	})
	if err != nil {
		return nil, err
	}
	byID := make(map[ID]int, len(found))
	for i := range found {
		byID[found[i].ID] = i
	}
	out := make([]Transfer, 0, len(found))
	for _, id := range ids {
		if i, ok := byID[id]; ok {
			out = append(out, found[i])
		}
	}
	return out, nil
}

// normalize returns the filter a store gets, or false when f selects
// nothing (no side flag, an invalid account ID, Limit <= 0 or an empty
// time range).
func normalize(f AccountFilter) (AccountFilter, bool) {
	if !f.AccountID.Valid() || f.Limit <= 0 || f.Flags&(AccountFilterDebits|AccountFilterCredits) == 0 {
		return f, false
	}
	f.Limit = min(f.Limit, BatchMax)
	if f.TimestampMax == 0 || f.TimestampMax > TimestampLimit {
		f.TimestampMax = TimestampLimit
	}
	if f.TimestampMin > f.TimestampMax {
		return f, false
	}
	return f, true
}

// GetAccountTransfers returns the transfers of f.AccountID that match f, in
// time order (newest first with AccountFilterReversed), at most f.Limit. It
// returns an empty slice for a filter that selects nothing.
func (l *Ledger) GetAccountTransfers(ctx context.Context, f AccountFilter) ([]Transfer, error) {
	f, ok := normalize(f)
	if !ok {
		return []Transfer{}, nil
	}
	var out []Transfer
	err := l.store.View(ctx, func(tx ReadTx) error {
		found, err := tx.AccountTransfers(f)
		out = slices.Clone(found) // the store may reuse found
		return err
	})
	if out == nil && err == nil {
		out = []Transfer{}
	}
	return out, err
}

// GetAccountBalances returns the balance history of an account created with
// AccountHistory: its balances after each change, in time order (newest
// first with AccountFilterReversed), at most f.Limit, within the
// timestamp range of f. The user data and code fields of f are not used.
func (l *Ledger) GetAccountBalances(ctx context.Context, f AccountFilter) ([]AccountBalance, error) {
	f, ok := normalize(f)
	if !ok {
		return []AccountBalance{}, nil
	}
	var out []AccountBalance
	err := l.store.View(ctx, func(tx ReadTx) error {
		found, err := tx.AccountBalances(f)
		out = slices.Clone(found)
		return err
	})
	if out == nil && err == nil {
		out = []AccountBalance{}
	}
	return out, err
}

func sortAccounts(a []Account) {
	slices.SortFunc(a, func(x, y Account) int { return x.ID.Compare(y.ID) })
}

func sortPending(p []Pending) {
	slices.SortFunc(p, func(x, y Pending) int { return x.ID.Compare(y.ID) })
}
