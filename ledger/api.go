package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/casimpay/casimpay/internal/callgate"
	"github.com/casimpay/casimpay/internal/nilptr"
)

// Errors returned by Ledger. Result codes of single events are not errors:
// they come back in the result slices.
var (
	// ErrBatchTooLarge reports a call with more than BatchMax events or IDs.
	ErrBatchTooLarge = errors.New("ledger: batch too large")
	// ErrCorrupt reports stored data that breaks the ledger's invariants,
	// or a write that a store refuses because it would store such data (a
	// row naming a row that does not exist); the batch that met it is
	// rolled back.
	ErrCorrupt = errors.New("ledger: store inconsistent")
	// ErrTimestampLimit reports a call whose events would need timestamps
	// beyond TimestampLimit (a clock past the year 2262); nothing of it is
	// written.
	ErrTimestampLimit = errors.New("ledger: timestamps beyond the limit")
)

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// Options configure a Ledger. The zero value is the default.
type Options struct {
	// Now is the ledger's clock (default time.Now). Timestamps are its
	// nanoseconds, raised when needed so that they strictly increase over
	// everything the store holds, across restarts and clock steps. Expiry of
	// pending transfers follows these timestamps. The batcher's goroutine
	// and those of CreateAccounts' callers call it at the same time, so it
	// must be safe for concurrent use.
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
	// start of one batch (default and upper bound BatchMax, so that a
	// backlog of expired holds never makes a batch's store transaction
	// longer than BatchMax releases): those that expired first, and of
	// those that expired at the same time the ones created first. The rest
	// follow in the next batches, and a post or void of an expired transfer
	// releases it at once.
	ExpiryLimit int
	// BatchTimeout bounds the store transaction of one group-commit batch
	// (default DefaultBatchTimeout): a store that does not answer by then
	// (a database server gone silent) fails the batch with
	// context.DeadlineExceeded instead of stopping the batcher, and the
	// outcome of its callers' transfers is unknown, as after any commit
	// error.
	BatchTimeout time.Duration
}

// DefaultBatchTimeout is the default of Options.BatchTimeout.
const DefaultBatchTimeout = 30 * time.Second

// Ledger applies TigerBeetle's rules to a Store. It is safe for concurrent
// use: concurrent CreateTransfers calls are merged by a group-commit
// batcher into one store transaction and one pass of the rules, and each
// caller gets exactly its own results. Several Ledgers (in one or several
// processes) may share one SQL store. New makes a Ledger: a nil *Ledger,
// or the zero Ledger, has no store and fails every call with ErrNilStore.
// A call given a nil context fails with ErrNilContext.
type Ledger struct {
	store       Store
	now         func() time.Time
	maxBatch    int
	maxWait     time.Duration
	expiryLimit int
	timeout     time.Duration

	work working // scratch of the batcher goroutine

	reqs    chan *request
	quit    chan struct{}
	stopped chan struct{}
	once    sync.Once
	// calls counts the calls under way that use the store outside the
	// batcher (enter, leave); Close closes it before quit and waits for
	// them. Its Entering is set by tests only, before their calls.
	calls callgate.Gate
	// queued, set by tests only before their calls, runs in each
	// CreateTransfers call once its request is queued, before the call
	// waits for the reply, with the channel that the reply closes.
	queued func(done <-chan struct{})
}

// New returns a Ledger over store, which the caller keeps and closes after
// closing the Ledger. It fails with ErrNilStore when store is nil (a nil
// pointer of a store type too), and with the error "ledger: negative
// option" when an option is negative.
func New(store Store, opts Options) (*Ledger, error) {
	if store == nil || nilptr.Is(store) {
		return nil, ErrNilStore
	}
	if opts.MaxBatch < 0 || opts.MaxWait < 0 || opts.ExpiryLimit < 0 || opts.BatchTimeout < 0 {
		return nil, errors.New("ledger: negative option")
	}
	l := &Ledger{
		store:       store,
		now:         opts.Now,
		maxBatch:    opts.MaxBatch,
		maxWait:     opts.MaxWait,
		expiryLimit: opts.ExpiryLimit,
		timeout:     opts.BatchTimeout,
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
	if l.expiryLimit == 0 || l.expiryLimit > BatchMax {
		l.expiryLimit = BatchMax
	}
	if l.timeout == 0 {
		l.timeout = DefaultBatchTimeout
	}
	go l.loop()
	return l, nil
}

// Close stops the batcher, which looks for Close before each store
// transaction it starts. A transaction it started first (the batch in
// progress when Close was called, or one it was starting then) runs to its
// end, and Close waits for it: its callers get its outcome, a commit
// included. No transaction starts after that: the other CreateTransfers
// calls under way fail with ErrClosed and create nothing, those queued,
// those of a batch the batcher had taken but not started (waiting MaxWait
// for more), and those of a merged batch that failed with
// ErrTimestampLimit or ErrCorrupt still waiting to run alone, as do later
// calls, reads and Verify included, which fail at once. It also waits for
// the calls under way when it was called that use the store outside the
// batcher (CreateAccounts, the lookups and queries, Verify), which end as
// they would have without it; so once Close has returned, the Ledger no
// longer uses the store. It does not close the store. Close is idempotent.
func (l *Ledger) Close() error {
	if l.noStore() {
		return ErrNilStore
	}
	l.once.Do(func() {
		l.calls.Close()
		close(l.quit)
	})
	<-l.stopped
	l.calls.Wait()
	return nil
}

// enter starts a call that uses the store outside the batcher, which
// Close waits for, once check has passed: it fails with ErrClosed once
// Close is called, and otherwise the caller calls leave when it no longer
// uses the store.
func (l *Ledger) enter() error {
	if !l.calls.Enter() {
		return ErrClosed
	}
	return nil
}

// noStore reports whether l was not made by New: nil or the zero Ledger.
func (l *Ledger) noStore() bool { return l == nil || l.store == nil }

// check fails a call with ErrNilStore when l was not made by New, and with
// ErrNilContext when ctx is nil.
func (l *Ledger) check(ctx context.Context) error { return CheckCall(ctx, !l.noStore()) }

// leave ends a call that enter started.
func (l *Ledger) leave() { l.calls.Leave() }

// firstTimestamp returns the first timestamp of a batch: the clock, or one
// more than the last stored timestamp when the clock is not ahead of it. A
// clock or a last timestamp past TimestampLimit gives TimestampLimit+1,
// which timestampsFit refuses (the one after the greatest uint64 would
// wrap to zero); a clock before 1970 counts as 0. The times are compared,
// not their UnixNano, which wraps outside the years 1678 to 2262.
func (l *Ledger) firstTimestamp(last uint64) uint64 {
	var ts uint64
	switch now := l.now(); {
	case last >= TimestampLimit:
		ts = TimestampLimit + 1
	case now.After(timestampLimitTime):
		ts = TimestampLimit + 1
	case now.Before(unixEpoch):
		ts = 0
	default:
		ts = uint64(now.UnixNano())
	}
	return max(ts, last+1)
}

var (
	timestampLimitTime = time.Unix(0, int64(TimestampLimit))
	unixEpoch          = time.Unix(0, 0)
)

// timestampsFit fails with ErrTimestampLimit when n timestamps from first
// on would pass TimestampLimit.
func timestampsFit(first uint64, n int) error {
	if first > TimestampLimit || uint64(n) > TimestampLimit-first+1 {
		return fmt.Errorf("%w: %d events from %d", ErrTimestampLimit, n, first)
	}
	return nil
}

// CreateAccounts creates accounts, one result per event (results[i] is the
// outcome of accounts[i]). Accounts flagged AccountLinked form a chain with
// the next one, created all or nothing. It fails with ErrBatchTooLarge
// beyond BatchMax events, ErrClosed after Close, ErrTimestampLimit when
// its accounts would need timestamps past TimestampLimit (the clock run
// past it, or the last timestamp stored too close to it for them all), or
// with the store's error, in which case nothing was created, unless the
// error was the commit's own (a server store's connection lost after
// COMMIT was sent): then the outcome is unknown, and the same call again
// tells it (exists).
//
// An account whose ID exists is compared with the stored one, flags first
// and all of them, as TigerBeetle does: the account that a closing pending
// transfer (TransferClosingDebit, TransferClosingCredit) has closed since,
// its AccountClosed set by the ledger, answers exists_with_different_flags
// to a retry of its original creation (and exists to the same account with
// AccountClosed), until that transfer is voided or expires and reopens it.
func (l *Ledger) CreateAccounts(ctx context.Context, accounts []Account) ([]CreateAccountResult, error) {
	if err := l.check(ctx); err != nil {
		return nil, err
	}
	if len(accounts) > BatchMax {
		return nil, fmt.Errorf("%w: %d accounts, at most %d", ErrBatchTooLarge, len(accounts), BatchMax)
	}
	if err := l.enter(); err != nil {
		return nil, err
	}
	defer l.leave()
	if len(accounts) == 0 {
		return []CreateAccountResult{}, nil
	}
	var results []CreateAccountResult
	err := l.store.Update(ctx, func(tx Tx) error {
		var err error
		results, err = l.createAccounts(tx, accounts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}
func sortAccounts(a []Account) {
	slices.SortFunc(a, func(x, y Account) int { return x.ID.Compare(y.ID) })
}
func sortPending(p []Pending) {
	slices.SortFunc(p, func(x, y Pending) int { return x.ID.Compare(y.ID) })
}
