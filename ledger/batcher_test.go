package ledger_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/ledger/sqlite"
)

// countingStore counts Update and View calls and can hold them until
// released.
type countingStore struct {
	ledger.Store
	updates atomic.Int64
	views   atomic.Int64
	hold    chan struct{} // when not nil, Update waits for it to close
	entered chan struct{} // receives one value per Update that started
	fail    error
	stall   bool // Update waits for its context to end
	// When not nil, the first View sends on viewEntered once it started
	// and then waits for viewHold to close.
	viewHold, viewEntered chan struct{}
	viewHeld              atomic.Bool
}

func (s *countingStore) View(ctx context.Context, fn func(ledger.ReadTx) error) error {
	s.views.Add(1)
	if s.viewHold != nil && s.viewHeld.CompareAndSwap(false, true) {
		s.viewEntered <- struct{}{}
		<-s.viewHold
	}
	return s.Store.View(ctx, fn)
}

func (s *countingStore) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	s.updates.Add(1)
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.hold != nil {
		<-s.hold
	}
	if s.fail != nil {
		return s.fail
	}
	if s.stall {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.Store.Update(ctx, fn)
}

// holdUpdates makes s's Updates, each once it has sent on s.entered, wait
// until s.hold is closed.
func (s *countingStore) holdUpdates() {
	s.hold, s.entered = make(chan struct{}), make(chan struct{}, 10)
}

func setup(t *testing.T, opts ledger.Options) (*ledger.Ledger, *countingStore) {
	t.Helper()
	s := &countingStore{Store: memory.New()}
	l, err := ledger.New(s, opts)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	createAccounts(t, l, []ledger.Account{account(1), account(2)})
	s.updates.Store(0)
	return l, s
}

// startHeldBatch holds s's transactions until s.hold is closed, and
// returns once a call creating transfer(1, 1) is in its transaction, with
// the channel that gets its error.
func startHeldBatch(l *ledger.Ledger, s *countingStore) <-chan error {
	s.holdUpdates()
	first := make(chan error, 1)
	go func() {
		_, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(1, 1)})
		first <- err
	}()
	<-s.entered
	return first
}

// createAccounts creates accounts through l, each of which must be
// created.
func createAccounts(t *testing.T, l *ledger.Ledger, accounts []ledger.Account) {
	t.Helper()
	res, err := l.CreateAccounts(context.Background(), accounts)
	require.NoError(t, err)
	want := make([]ledger.CreateAccountResult, len(accounts))
	for i := range want {
		want[i] = ledger.AccountCreated
	}
	require.Equal(t, want, res)
}

// account returns account id of ledger 978 and code 1.
func account(id uint64) ledger.Account {
	return ledger.Account{ID: ledger.IDFromUint64(id), Ledger: 978, Code: 1}
}

func transfer(id, amount uint64) ledger.Transfer {
	return ledger.Transfer{ID: ledger.IDFromUint64(id), DebitAccountID: ledger.IDFromUint64(1),
		CreditAccountID: ledger.IDFromUint64(2), Amount: amount, Ledger: 978, Code: 1}
}

// mergedCalls makes one CreateTransfers call of each of calls at the same
// time; l must merge them all into one batch (its MaxBatch their number
// of events, MaxWait long).
func mergedCalls(l *ledger.Ledger, calls [][]ledger.Transfer) ([][]ledger.CreateTransferResult, []error) {
	results := make([][]ledger.CreateTransferResult, len(calls))
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() { results[i], errs[i] = l.CreateTransfers(context.Background(), c) })
	}
	wg.Wait()
	return results, errs
}

func TestBatcherMergesCallers(t *testing.T) {
	const callers = 16
	l, s := setup(t, ledger.Options{MaxBatch: 2 * callers, MaxWait: time.Minute})
	var wg sync.WaitGroup
	results := make([][]ledger.CreateTransferResult, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Caller i repeats its first transfer: its own results must
			// say so.
			batch := []ledger.Transfer{transfer(uint64(100+i), uint64(i+1)), transfer(uint64(100+i), uint64(i+1))}
			if i%2 == 1 {
				batch[1] = transfer(uint64(200+i), 1)
			}
			res, err := l.CreateTransfers(context.Background(), batch)
			assert.NoError(t, err)
			results[i] = res
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(1), s.updates.Load(), "one store transaction for every caller")
	for i, res := range results {
		want := []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferExists}
		if i%2 == 1 {
			want[1] = ledger.TransferCreated
		}
		assert.Equal(t, want, res, "caller %d", i)
	}
	require.NoError(t, l.Verify(context.Background()))
}

func TestBatcherChainDoesNotSpanCallers(t *testing.T) {
	l, s := setup(t, ledger.Options{MaxBatch: 2, MaxWait: time.Minute})
	open := transfer(1, 5)
	open.Flags = ledger.TransferLinked
	var wg sync.WaitGroup
	var a, b []ledger.CreateTransferResult
	wg.Add(2)
	go func() {
		defer wg.Done()
		var err error
		a, err = l.CreateTransfers(context.Background(), []ledger.Transfer{open})
		assert.NoError(t, err)
	}()
	go func() {
		defer wg.Done()
		var err error
		b, err = l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(2, 7)})
		assert.NoError(t, err)
	}()
	wg.Wait()
	assert.Equal(t, int64(1), s.updates.Load())
	assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferLinkedEventChainOpen}, a)
	assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, b)
}

func TestBatcherDoesNotExceedMaxBatch(t *testing.T) {
	l, s := setup(t, ledger.Options{MaxBatch: 3})
	first := startHeldBatch(l, s)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(uint64(10+2*i), 1), transfer(uint64(11+2*i), 1)})
			assert.NoError(t, err)
			assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, res)
		}()
	}
	for ledger.Queued(l) != 4 { // the four requests queue up behind the held batch
		runtime.Gosched()
	}
	close(s.hold)
	wg.Wait()
	require.NoError(t, <-first)
	// Requests of two events never share a batch of at most three.
	assert.Equal(t, int64(5), s.updates.Load())
}

// TestMaxBatchAtMostBatchMax: a MaxBatch above BatchMax merges no more
// than BatchMax events: a request of BatchMax events and one of a single
// event run in two batches.
func TestMaxBatchAtMostBatchMax(t *testing.T) {
	l, s := setup(t, ledger.Options{MaxBatch: ledger.BatchMax + 1})
	first := startHeldBatch(l, s)
	full := make([]ledger.Transfer, ledger.BatchMax)
	for i := range full {
		full[i] = transfer(uint64(10+i), 1)
	}
	var wg sync.WaitGroup
	for _, c := range [][]ledger.Transfer{full, {transfer(2, 1)}} {
		wg.Go(func() {
			res, err := l.CreateTransfers(context.Background(), c)
			assert.NoError(t, err)
			assert.Equal(t, slices.Repeat([]ledger.CreateTransferResult{ledger.TransferCreated}, len(c)), res)
		})
	}
	for ledger.Queued(l) != 2 { // both requests queue up behind the held batch
		runtime.Gosched()
	}
	close(s.hold)
	wg.Wait()
	require.NoError(t, <-first)
	assert.Equal(t, int64(3), s.updates.Load())
}

// deadlineStore records, for each Update, how long its context had left
// when the Update started (-1 without a deadline).
type deadlineStore struct {
	ledger.Store
	mu   sync.Mutex
	left []time.Duration
}

func (s *deadlineStore) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	left := time.Duration(-1)
	if d, ok := ctx.Deadline(); ok {
		left = time.Until(d)
	}
	s.mu.Lock()
	s.left = append(s.left, left)
	s.mu.Unlock()
	return s.Store.Update(ctx, fn)
}

// TestDefaultBatchTimeout: without Options.BatchTimeout, the store
// transaction of a batch of transfers is bounded by DefaultBatchTimeout,
// 30 s, whatever the caller's context; CreateAccounts runs under its
// caller's.
func TestDefaultBatchTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &deadlineStore{Store: memory.New()}
		l, err := ledger.New(s, ledger.Options{})
		require.NoError(t, err)
		defer l.Close()
		createAccounts(t, l, []ledger.Account{account(1), account(2)})
		res, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(1, 1)})
		require.NoError(t, err)
		require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
		assert.Equal(t, []time.Duration{-1, 30 * time.Second}, s.left)
		assert.Equal(t, 30*time.Second, ledger.DefaultBatchTimeout)
	})
}

func TestCreateTransfersContext(t *testing.T) {
	l, s := setup(t, ledger.Options{})
	s.holdUpdates()
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(1, 1)})
		assert.NoError(t, err)
		assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
	}()
	<-s.entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := l.CreateTransfers(ctx, []ledger.Transfer{transfer(2, 1)})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	close(s.hold)
	<-done

	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_, err = l.CreateTransfers(canceled, []ledger.Transfer{transfer(3, 1)})
	require.ErrorIs(t, err, context.Canceled)
}

func TestStoreErrorReachesEveryCaller(t *testing.T) {
	l, s := setup(t, ledger.Options{MaxBatch: 2, MaxWait: time.Minute})
	boom := errors.New("disk on fire")
	s.fail = boom
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(uint64(i+1), 1)})
			assert.ErrorIs(t, err, boom)
			assert.Nil(t, res)
		}()
	}
	wg.Wait()
	s.fail = nil
	got, err := l.LookupTransfers(context.Background(), []ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)})
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestClose(t *testing.T) {
	l, _ := setup(t, ledger.Options{})
	require.NoError(t, l.Close())
	require.NoError(t, l.Close())
	_, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(1, 1)})
	require.ErrorIs(t, err, ledger.ErrClosed)
	_, err = l.CreateAccounts(context.Background(), []ledger.Account{{ID: ledger.IDFromUint64(9), Ledger: 1, Code: 1}})
	require.ErrorIs(t, err, ledger.ErrClosed)
	// Reads fail too, although the store stays open.
	ids := []ledger.ID{ledger.IDFromUint64(1)}
	accts, err := l.LookupAccounts(context.Background(), ids)
	assert.ErrorIs(t, err, ledger.ErrClosed)
	assert.Nil(t, accts)
	trs, err := l.LookupTransfers(context.Background(), ids)
	assert.ErrorIs(t, err, ledger.ErrClosed)
	assert.Nil(t, trs)
	f := ledger.AccountFilter{AccountID: ids[0], Limit: 10, Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits}
	trs, err = l.GetAccountTransfers(context.Background(), f)
	assert.ErrorIs(t, err, ledger.ErrClosed)
	assert.Nil(t, trs)
	bs, err := l.GetAccountBalances(context.Background(), f)
	assert.ErrorIs(t, err, ledger.ErrClosed)
	assert.Nil(t, bs)
	assert.ErrorIs(t, l.Verify(context.Background()), ledger.ErrClosed)
}

// TestCloseEmptyCalls: after Close, an empty CreateTransfers or
// CreateAccounts fails with ErrClosed as any other call, as does a read
// of no ID or with a filter that selects nothing.
func TestCloseEmptyCalls(t *testing.T) {
	l, _ := setup(t, ledger.Options{})
	require.NoError(t, l.Close())
	trs, err := l.CreateTransfers(context.Background(), nil)
	assert.ErrorIs(t, err, ledger.ErrClosed)
	assert.Nil(t, trs)
	accts, err := l.CreateAccounts(context.Background(), []ledger.Account{})
	assert.ErrorIs(t, err, ledger.ErrClosed)
	assert.Nil(t, accts)
	found, err := l.LookupAccounts(context.Background(), nil)
	assert.ErrorIs(t, err, ledger.ErrClosed)
	assert.Nil(t, found)
	bs, err := l.GetAccountBalances(context.Background(), ledger.AccountFilter{})
	assert.ErrorIs(t, err, ledger.ErrClosed)
	assert.Nil(t, bs)
}

// TestLedgerWithoutStore: a Ledger that New did not make, nil or zero,
// fails every call with ErrNilStore, whatever its arguments, instead of
// panicking or, for CreateTransfers, waiting for a batcher that does not
// run.
func TestLedgerWithoutStore(t *testing.T) {
	// The deadline only keeps a call that would wait for ever from stopping
	// the test; the assertions are on the errors.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := ledger.AccountFilter{AccountID: ledger.IDFromUint64(1), Limit: 1, Flags: ledger.AccountFilterDebits}
	for _, l := range []*ledger.Ledger{nil, new(ledger.Ledger)} {
		accts, err := l.CreateAccounts(ctx, []ledger.Account{account(1)})
		assert.ErrorIs(t, err, ledger.ErrNilStore)
		assert.Nil(t, accts)
		_, err = l.CreateAccounts(ctx, make([]ledger.Account, ledger.BatchMax+1))
		assert.ErrorIs(t, err, ledger.ErrNilStore)
		trs, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: ledger.IDFromUint64(2)}})
		assert.ErrorIs(t, err, ledger.ErrNilStore)
		assert.Nil(t, trs)
		_, err = l.CreateTransfers(ctx, nil)
		assert.ErrorIs(t, err, ledger.ErrNilStore)
		found, err := l.LookupAccounts(ctx, []ledger.ID{ledger.IDFromUint64(1)})
		assert.ErrorIs(t, err, ledger.ErrNilStore)
		assert.Nil(t, found)
		ts, err := l.LookupTransfers(ctx, []ledger.ID{ledger.IDFromUint64(2)})
		assert.ErrorIs(t, err, ledger.ErrNilStore)
		assert.Nil(t, ts)
		ts, err = l.GetAccountTransfers(ctx, f)
		assert.ErrorIs(t, err, ledger.ErrNilStore)
		assert.Nil(t, ts)
		bs, err := l.GetAccountBalances(ctx, f)
		assert.ErrorIs(t, err, ledger.ErrNilStore)
		assert.Nil(t, bs)
		assert.ErrorIs(t, l.Verify(ctx), ledger.ErrNilStore)
		assert.ErrorIs(t, l.Close(), ledger.ErrNilStore)
		assert.ErrorIs(t, l.Close(), ledger.ErrNilStore)
	}
}

func TestNewOptions(t *testing.T) {
	_, err := ledger.New(nil, ledger.Options{})
	require.ErrorIs(t, err, ledger.ErrNilStore)
	require.EqualError(t, err, "ledger: nil store")
	for _, s := range []ledger.Store{(*memory.Store)(nil), (*sqlite.Store)(nil)} {
		l, err := ledger.New(s, ledger.Options{})
		require.ErrorIs(t, err, ledger.ErrNilStore, "%T", s)
		require.EqualError(t, err, "ledger: nil store", "%T", s)
		assert.Nil(t, l)
	}
	for _, o := range []ledger.Options{{MaxBatch: -1}, {MaxWait: -time.Second}, {ExpiryLimit: -1},
		{BatchTimeout: -time.Second}} {
		l, err := ledger.New(memory.New(), o)
		require.EqualError(t, err, "ledger: negative option", "%+v", o)
		assert.Nil(t, l)
	}
	l, err := ledger.New(memory.New(), ledger.Options{MaxBatch: 1 << 20})
	require.NoError(t, err)
	require.NoError(t, l.Close())
}

func TestEmptyCalls(t *testing.T) {
	l, s := setup(t, ledger.Options{})
	res, err := l.CreateTransfers(context.Background(), nil)
	require.NoError(t, err)
	assert.Empty(t, res)
	ares, err := l.CreateAccounts(context.Background(), nil)
	require.NoError(t, err)
	assert.Empty(t, ares)
	assert.Equal(t, int64(0), s.updates.Load())
}

// TestBatcherDropsRequestWhoseContextEnded: a request whose caller's
// context ends while it waits in the queue behind a batch in its
// transaction is dropped when its own batch starts: the call returns the
// context's error, and the transfer is not created, although the batcher
// takes the request and the calls after it run.
func TestBatcherDropsRequestWhoseContextEnded(t *testing.T) {
	l, s := setup(t, ledger.Options{})
	first := startHeldBatch(l, s)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		res, err := l.CreateTransfers(ctx, []ledger.Transfer{transfer(2, 7)})
		assert.Nil(t, res)
		errc <- err
	}()
	for ledger.Queued(l) == 0 {
		runtime.Gosched()
	}
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	close(s.hold)
	require.NoError(t, <-first)
	// Queued after the dropped request, this call shares its batch or
	// runs after it.
	res, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(3, 11)})
	require.NoError(t, err)
	assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
	got, err := l.LookupTransfers(context.Background(), []ledger.ID{ledger.IDFromUint64(2), ledger.IDFromUint64(3)})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, ledger.IDFromUint64(3), got[0].ID)
	accts, err := l.LookupAccounts(context.Background(), []ledger.ID{ledger.IDFromUint64(1)})
	require.NoError(t, err)
	require.Len(t, accts, 1)
	assert.Equal(t, uint64(1+11), accts[0].DebitsPosted)
	// The dropped request started no transaction of its own.
	assert.Equal(t, int64(2), s.updates.Load())
	require.NoError(t, l.Verify(context.Background()))
}

// TestBatchTimeout: a store that stops answering fails the batch after
// BatchTimeout, even for a caller without a deadline, and the batcher
// goes on with the next batch.
func TestBatchTimeout(t *testing.T) {
	l, s := setup(t, ledger.Options{BatchTimeout: 20 * time.Millisecond})
	s.stall = true
	_, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(1, 5)})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	s.stall = false
	res, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(1, 5)})
	require.NoError(t, err)
	assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
	assert.Equal(t, int64(2), s.updates.Load())
}

// TestCreateTransfersKeepsCallersEvents: a caller whose context ends while
// its request waits for the store gets ctx's error and may then reuse its
// slice; the batch still creates the transfers the call named, not what
// the slice holds later.
func TestCreateTransfersKeepsCallersEvents(t *testing.T) {
	l, s := setup(t, ledger.Options{})
	s.holdUpdates()
	ctx, cancel := context.WithCancel(context.Background())
	batch := []ledger.Transfer{transfer(1, 5)}
	errc := make(chan error, 1)
	go func() {
		_, err := l.CreateTransfers(ctx, batch)
		errc <- err
	}()
	<-s.entered // the request's batch is in its transaction
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	batch[0] = transfer(1, 999) // the caller reuses its slice
	close(s.hold)
	// The next call runs after the first batch has committed.
	res, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(1, 5)})
	require.NoError(t, err)
	assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferExists}, res)
	got, err := l.LookupTransfers(context.Background(), []ledger.ID{ledger.IDFromUint64(1)})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, uint64(5), got[0].Amount)
	accts, err := l.LookupAccounts(context.Background(), []ledger.ID{ledger.IDFromUint64(1)})
	require.NoError(t, err)
	require.Len(t, accts, 1)
	assert.Equal(t, uint64(5), accts[0].DebitsPosted)
}

// TestTimestampLimit sets the clock just before TimestampLimit (the year
// 2262): a call whose events fit below the limit succeeds, and the next
// ones, which would need timestamps beyond it, fail with
// ErrTimestampLimit and write nothing.
func TestTimestampLimit(t *testing.T) {
	ctx := context.Background()
	l, now := clocked(t, memory.New(), ledger.Options{})
	createAccounts(t, l, []ledger.Account{account(1), account(2)})

	now.Store(int64(ledger.TimestampLimit) - 1)
	res, err := l.CreateAccounts(ctx, []ledger.Account{account(3), account(4)})
	require.NoError(t, err, "timestamps up to the limit itself")
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountCreated}, res)
	got, err := l.LookupAccounts(ctx, []ledger.ID{ledger.IDFromUint64(4)})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, ledger.TimestampLimit, got[0].Timestamp)

	requireTimestampLimit(t, l, account(5), transfer(1, 1))
}

// requireTimestampLimit requires that l refuses to create account a and
// transfer tr, each in a call of its own, with ErrTimestampLimit, and
// stores neither.
func requireTimestampLimit(t *testing.T, l *ledger.Ledger, a ledger.Account, tr ledger.Transfer) {
	t.Helper()
	ctx := context.Background()
	_, err := l.CreateAccounts(ctx, []ledger.Account{a})
	require.ErrorIs(t, err, ledger.ErrTimestampLimit)
	_, err = l.CreateTransfers(ctx, []ledger.Transfer{tr})
	require.ErrorIs(t, err, ledger.ErrTimestampLimit)
	accounts, err := l.LookupAccounts(ctx, []ledger.ID{a.ID})
	require.NoError(t, err)
	assert.Empty(t, accounts)
	transfers, err := l.LookupTransfers(ctx, []ledger.ID{tr.ID})
	require.NoError(t, err)
	assert.Empty(t, transfers)
}

// TestCloseStartsNoBatch: a request that the batcher has taken while it
// waits MaxWait for more does not run once Close is called: it fails with
// ErrClosed and the store sees no other transaction.
func TestCloseStartsNoBatch(t *testing.T) {
	l, s := setup(t, ledger.Options{MaxBatch: 2, MaxWait: time.Hour})
	s.holdUpdates()
	go func() {
		// A full batch: it runs without waiting.
		_, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(1, 5), transfer(2, 5)})
		assert.NoError(t, err)
	}()
	<-s.entered
	errc := make(chan error, 1)
	go func() {
		res, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(3, 5)})
		assert.Nil(t, res)
		errc <- err
	}()
	for ledger.Queued(l) == 0 {
		runtime.Gosched()
	}
	close(s.hold)
	// Once the queue is empty again, the batcher holds the request and
	// waits for more.
	for ledger.Queued(l) != 0 {
		runtime.Gosched()
	}
	require.NoError(t, l.Close())
	require.ErrorIs(t, <-errc, ledger.ErrClosed)
	assert.Equal(t, int64(1), s.updates.Load())
}

// TestCloseRefusesLaterCalls: while Close waits for the batch in its
// transaction, every new CreateTransfers call fails at once with
// ErrClosed, without being queued; the batch in progress commits.
func TestCloseRefusesLaterCalls(t *testing.T) {
	l, s := setup(t, ledger.Options{})
	s.holdUpdates()
	release := sync.OnceFunc(func() { close(s.hold) })
	defer release()
	first := make(chan []ledger.CreateTransferResult, 1)
	go func() {
		res, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(1, 5)})
		assert.NoError(t, err)
		first <- res
	}()
	<-s.entered // the first batch is in its transaction
	closed := startClose(l)
	for i := range 16 {
		errc := make(chan error, 1)
		go func() {
			_, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(uint64(10+i), 1)})
			errc <- err
		}()
	wait:
		for {
			select {
			case err := <-errc:
				require.ErrorIs(t, err, ledger.ErrClosed, "call %d", i)
				break wait
			default:
				require.Zero(t, ledger.Queued(l), "call %d after Close was queued", i)
				runtime.Gosched()
			}
		}
	}
	release()
	require.NoError(t, <-closed)
	assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, <-first)
	assert.Equal(t, int64(1), s.updates.Load())
}

// TestTimestampLimitMergedBatch sets the clock one nanosecond before
// TimestampLimit, where two timestamps remain: two callers of two events
// each, merged into one batch of four, would overrun the limit, yet the
// first of them alone fits. It is created; the other fails with
// ErrTimestampLimit and writes nothing.
func TestTimestampLimitMergedBatch(t *testing.T) {
	l, s := setupNearLimit(t)
	results, errs := mergedCalls(l, [][]ledger.Transfer{
		{transfer(1, 1), transfer(2, 1)},
		{transfer(11, 1), transfer(12, 1)},
	})
	ok := 0
	if errs[1] == nil {
		ok = 1
	}
	require.NoError(t, errs[ok])
	assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, results[ok])
	require.ErrorIs(t, errs[1-ok], ledger.ErrTimestampLimit)
	assert.Nil(t, results[1-ok])
	got, err := l.LookupTransfers(context.Background(), []ledger.ID{
		ledger.IDFromUint64(1), ledger.IDFromUint64(2), ledger.IDFromUint64(11), ledger.IDFromUint64(12)})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, ledger.IDFromUint64(uint64(10*ok+1)), got[0].ID)
	assert.Equal(t, ledger.TimestampLimit-1, got[0].Timestamp)
	assert.Equal(t, ledger.TimestampLimit, got[1].Timestamp)
	require.NoError(t, l.Verify(context.Background()))
	// The merged transaction, then one per caller.
	assert.Equal(t, int64(3), s.updates.Load())
}

// TestCloseStopsTimestampLimitRetries: when Close is called while a merged
// batch that overruns TimestampLimit is in its transaction, its callers'
// requests are not run alone afterwards: they fail with ErrClosed.
func TestCloseStopsTimestampLimitRetries(t *testing.T) {
	l, s := setupNearLimit(t)
	s.holdUpdates()
	errs := make(chan error, 2)
	for i := range 2 {
		go func() {
			_, err := l.CreateTransfers(context.Background(),
				[]ledger.Transfer{transfer(uint64(10*i+1), 1), transfer(uint64(10*i+2), 1)})
			errs <- err
		}()
	}
	<-s.entered // the merged batch is in its transaction
	closed := startClose(l)
	close(s.hold)
	require.NoError(t, <-closed)
	require.ErrorIs(t, <-errs, ledger.ErrClosed)
	require.ErrorIs(t, <-errs, ledger.ErrClosed)
	assert.Equal(t, int64(1), s.updates.Load())
}

// TestHoldExpiringAtTheLimit: a pending transfer may expire at
// TimestampLimit itself, but the batch that would release it starts at
// the limit, where one timestamp is left, which its release would take:
// a call then, a void of that transfer included, fails with
// ErrTimestampLimit, and the hold stays in the balances, not released.
func TestHoldExpiringAtTheLimit(t *testing.T) {
	ctx := context.Background()
	l, now := clocked(t, memory.New(), ledger.Options{})
	_, err := l.CreateAccounts(ctx, []ledger.Account{account(1), account(2)})
	require.NoError(t, err)
	hold := transfer(10, 5)
	hold.Flags, hold.Timeout = ledger.TransferPending, 1
	now.Store(int64(ledger.TimestampLimit - 1e9))
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{hold})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
	got, err := l.LookupTransfers(ctx, []ledger.ID{hold.ID})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, ledger.TimestampLimit, got[0].ExpiresAt())

	now.Store(int64(ledger.TimestampLimit))
	_, err = l.CreateTransfers(ctx, []ledger.Transfer{{ID: ledger.IDFromUint64(20), PendingID: hold.ID,
		Flags: ledger.TransferVoidPendingTransfer, Amount: ledger.AmountMax}})
	require.ErrorIs(t, err, ledger.ErrTimestampLimit)
	accounts, err := l.LookupAccounts(ctx, []ledger.ID{ledger.IDFromUint64(1)})
	require.NoError(t, err)
	require.Len(t, accounts, 1)
	assert.Equal(t, uint64(5), accounts[0].DebitsPending, "still held")
}

// setupNearLimit is setup with a clock one nanosecond before
// TimestampLimit once the accounts exist, so that two timestamps remain,
// and a batcher that merges requests up to four events.
func setupNearLimit(t *testing.T) (*ledger.Ledger, *countingStore) {
	t.Helper()
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	l, s := setup(t, ledger.Options{MaxBatch: 4, MaxWait: time.Hour,
		Now: func() time.Time { return time.Unix(0, now.Load()) }})
	now.Store(int64(ledger.TimestampLimit) - 1)
	return l, s
}

// startClose calls l.Close in a goroutine and returns once Close has
// marked l closed, with the channel that gets Close's error.
func startClose(l *ledger.Ledger) <-chan error {
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	<-ledger.Closing(l)
	return closed
}

// requireCloseWaits, in a synctest bubble, fails t when Close (closed, of
// startClose) has returned once every goroutine of the bubble waits,
// while a call is in the store; then it releases that call and requires
// that it (done) and Close end without error.
func requireCloseWaits(t *testing.T, closed <-chan error, release func(), done <-chan error) {
	t.Helper()
	synctest.Wait() // Close waits for the call, or has returned
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a call was in the store", err)
	default:
	}
	release()
	require.NoError(t, <-done)
	require.NoError(t, <-closed)
}

// TestLastTimestampAtTheTopOfItsRange: over a store whose last
// timestamp is the greatest uint64 (the memory store takes it from a
// writer other than the ledger), whose next one wraps to zero, the
// ledger refuses every new event with ErrTimestampLimit and writes
// nothing, as above any last timestamp past the limit.
func TestLastTimestampAtTheTopOfItsRange(t *testing.T) {
	l, s := setup(t, ledger.Options{})
	setLastTimestamp(t, s, math.MaxUint64)
	requireTimestampLimit(t, l, account(3), transfer(10, 1))
}

// TestClockOutsideNanosecondRange sets the clock to years whose Unix
// nanoseconds do not fit an int64: past 2262 the ledger refuses the call
// with ErrTimestampLimit, and before 1678 it goes on from its last
// timestamp, as for any clock behind it, instead of stamping the wrapped
// value (year 1600 wraps to 2184).
func TestClockOutsideNanosecondRange(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var now atomic.Pointer[time.Time]
	now.Store(&start)
	l, err := ledger.New(memory.New(), ledger.Options{Now: func() time.Time { return *now.Load() }})
	require.NoError(t, err)
	defer l.Close()
	_, err = l.CreateAccounts(ctx, []ledger.Account{account(1)})
	require.NoError(t, err)

	for _, year := range []int{2263, 2300, 2600} {
		late := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
		now.Store(&late)
		_, err = l.CreateAccounts(ctx, []ledger.Account{account(2)})
		require.ErrorIs(t, err, ledger.ErrTimestampLimit, "year %d", year)
	}
	got, err := l.LookupAccounts(ctx, []ledger.ID{ledger.IDFromUint64(2)})
	require.NoError(t, err)
	assert.Empty(t, got)

	early := time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)
	now.Store(&early)
	_, err = l.CreateAccounts(ctx, []ledger.Account{account(3)})
	require.NoError(t, err)
	got, err = l.LookupAccounts(ctx, []ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(3)})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, uint64(start.UnixNano()), got[0].Timestamp)
	assert.Equal(t, got[0].Timestamp+1, got[1].Timestamp, "a clock before 1678 is behind the last timestamp")
}

// expiredHook is a store whose Tx.ExpiredPending is expired, given the
// store's own Tx.
type expiredHook struct {
	ledger.Store
	expired func(tx ledger.Tx, now uint64, limit int) ([]ledger.Transfer, error)
}

func (s *expiredHook) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	return s.Store.Update(ctx, func(tx ledger.Tx) error { return fn(expiredHookTx{tx, s.expired}) })
}

type expiredHookTx struct {
	ledger.Tx
	expired func(tx ledger.Tx, now uint64, limit int) ([]ledger.Transfer, error)
}

func (t expiredHookTx) ExpiredPending(now uint64, limit int) ([]ledger.Transfer, error) {
	return t.expired(t.Tx, now, limit)
}

// TestNoSweepPastTheLimit: a batch whose events need timestamps beyond
// TimestampLimit (two events with the clock at the limit, or one after a
// last timestamp at the limit) fails with ErrTimestampLimit before it
// asks the store for the expired pending transfers, so that no store is
// given a time past the limit (a SQL store's column would take it wrapped
// to a negative one); a batch that fits is swept at its first timestamp.
func TestNoSweepPastTheLimit(t *testing.T) {
	stores := map[string]func(t *testing.T) ledger.Store{
		"memory": func(*testing.T) ledger.Store { return memory.New() },
		"sqlite": func(t *testing.T) ledger.Store {
			s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"), sqlite.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			var calls atomic.Int64    // of Tx.ExpiredPending
			var lastNow atomic.Uint64 // the now of the last one
			s := &expiredHook{Store: open(t), expired: func(tx ledger.Tx, now uint64, limit int) ([]ledger.Transfer, error) {
				calls.Add(1)
				lastNow.Store(now)
				return tx.ExpiredPending(now, limit)
			}}
			l, now := clocked(t, s, ledger.Options{})
			_, err := l.CreateAccounts(ctx, []ledger.Account{account(1), account(2)})
			require.NoError(t, err)

			now.Store(int64(ledger.TimestampLimit) - 1)
			res, err := l.CreateTransfers(ctx, []ledger.Transfer{transfer(1, 1)})
			require.NoError(t, err)
			require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
			require.Equal(t, int64(1), calls.Load())
			assert.Equal(t, ledger.TimestampLimit-1, lastNow.Load())

			now.Store(int64(ledger.TimestampLimit))
			_, err = l.CreateTransfers(ctx, []ledger.Transfer{transfer(2, 1), transfer(3, 1)})
			require.ErrorIs(t, err, ledger.ErrTimestampLimit, "two events at the limit")
			assert.Equal(t, int64(1), calls.Load(), "swept for a batch that cannot fit")

			setLastTimestamp(t, s, ledger.TimestampLimit)
			_, err = l.CreateTransfers(ctx, []ledger.Transfer{transfer(4, 1)})
			require.ErrorIs(t, err, ledger.ErrTimestampLimit, "one event past the limit")
			assert.Equal(t, int64(1), calls.Load(), "swept at a time past the limit")
			assert.Equal(t, ledger.TimestampLimit-1, lastNow.Load())

			got, err := l.LookupTransfers(ctx, []ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2),
				ledger.IDFromUint64(3), ledger.IDFromUint64(4)})
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, ledger.IDFromUint64(1), got[0].ID)
		})
	}
}

// TestCloseWaitsForCallsInProgress: Close returns only once the calls
// that use the store outside the batcher and were under way when it was
// called (CreateAccounts in its transaction, a lookup or Verify in its
// read) have ended, so that the caller may close the store then (New);
// those calls end as they would have without Close.
func TestCloseWaitsForCallsInProgress(t *testing.T) {
	calls := map[string]struct {
		view bool
		call func(l *ledger.Ledger) error
	}{
		"CreateAccounts": {false, func(l *ledger.Ledger) error {
			res, err := l.CreateAccounts(context.Background(), []ledger.Account{account(9)})
			if err == nil && !assert.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated}, res) {
				err = errors.New("not created")
			}
			return err
		}},
		"LookupAccounts": {true, func(l *ledger.Ledger) error {
			accts, err := l.LookupAccounts(context.Background(), []ledger.ID{ledger.IDFromUint64(1)})
			if err == nil && !assert.Len(t, accts, 1) {
				err = errors.New("not found")
			}
			return err
		}},
		"GetAccountTransfers": {true, func(l *ledger.Ledger) error {
			_, err := l.GetAccountTransfers(context.Background(), ledger.AccountFilter{AccountID: ledger.IDFromUint64(1),
				Limit: 1, Flags: ledger.AccountFilterDebits})
			return err
		}},
		"Verify": {true, func(l *ledger.Ledger) error { return l.Verify(context.Background()) }},
	}
	for name, c := range calls {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l, s := setup(t, ledger.Options{})
				hold, entered := make(chan struct{}), make(chan struct{}, 1)
				release := sync.OnceFunc(func() { close(hold) })
				defer release()
				if c.view {
					s.viewHold, s.viewEntered = hold, entered
				} else {
					s.hold, s.entered = hold, entered
				}
				done := make(chan error, 1)
				go func() { done <- c.call(l) }()
				<-entered // the call is in the store
				requireCloseWaits(t, startClose(l), release, done)
			})
		})
	}
}
