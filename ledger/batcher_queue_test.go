package ledger_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// timedCall is the outcome of one CreateTransfers call and how long it
// took on the bubble's clock.
type timedCall struct {
	res  []ledger.CreateTransferResult
	err  error
	took time.Duration
}

// callAfter calls l.CreateTransfers with ts after a pause of after on the
// bubble's clock, and sends what it got on the channel it returns.
func callAfter(l *ledger.Ledger, after time.Duration, ts ...ledger.Transfer) <-chan timedCall {
	out := make(chan timedCall, 1)
	go func() {
		time.Sleep(after)
		start := time.Now()
		res, err := l.CreateTransfers(context.Background(), ts)
		out <- timedCall{res, err, time.Since(start)}
	}()
	return out
}

// TestMaxWaitWindow: with MaxWait, the batcher starts the transaction of
// a request that came alone once MaxWait has passed since it took it;
// requests that come within the window join it (one store transaction,
// each caller its own results), and one that comes after it runs in a
// batch of its own.
func TestMaxWaitWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, s := setup(t, ledger.Options{MaxBatch: 8, MaxWait: 5 * time.Millisecond})

		alone := <-callAfter(l, 0, transfer(1, 5))
		require.NoError(t, alone.err)
		assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, alone.res)
		assert.Equal(t, 5*time.Millisecond, alone.took)
		assert.Equal(t, int64(1), s.updates.Load())

		first := callAfter(l, 0, transfer(2, 5))
		joins := callAfter(l, 3*time.Millisecond, transfer(3, 5), transfer(4, 5))
		late := callAfter(l, 6*time.Millisecond, transfer(5, 5))
		a, b, c := <-first, <-joins, <-late
		require.NoError(t, a.err)
		require.NoError(t, b.err)
		require.NoError(t, c.err)
		assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, a.res)
		assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, b.res)
		assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, c.res)
		assert.Equal(t, 5*time.Millisecond, a.took)
		assert.Equal(t, 2*time.Millisecond, b.took, "the second call rides the first's window")
		assert.Equal(t, 5*time.Millisecond, c.took, "a call after the window opens its own")
		assert.Equal(t, int64(3), s.updates.Load(), "the first two calls share one transaction")
	})
}

// TestCloseRefusesQueuedRequests: requests queued behind a batch that is
// in its store transaction when Close is called fail with ErrClosed and
// are never written, a request too large to join the one before it
// included; the batch in its transaction commits, and Close returns once
// it has.
func TestCloseRefusesQueuedRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, s := setup(t, ledger.Options{MaxBatch: 2})
		first := startHeldBatch(l, s)
		small := callAfter(l, 0, transfer(2, 5))
		synctest.Wait()
		large := callAfter(l, 0, transfer(3, 5), transfer(4, 5))
		synctest.Wait()
		require.Equal(t, 2, ledger.Queued(l))

		closed := make(chan error, 1)
		go func() { closed <- l.Close() }()
		synctest.Wait()
		select {
		case err := <-closed:
			t.Fatalf("Close returned %v while a batch was in its transaction", err)
		default:
		}
		close(s.hold)
		require.NoError(t, <-closed)
		require.NoError(t, <-first)
		for _, c := range []timedCall{<-small, <-large} {
			assert.ErrorIs(t, c.err, ledger.ErrClosed)
			assert.Nil(t, c.res)
		}
		assert.Equal(t, int64(1), s.updates.Load())
		assert.Equal(t, []ledger.ID{ledger.IDFromUint64(1)}, storedTransfers(t, s, 1, 2, 3, 4))
	})
}

// TestCallWaitingForRoomInTheQueue: a call that finds the batcher's
// queue full waits for room; it fails with its context's error when the
// context ends first, and with ErrClosed when Close is called first, and
// neither writes its transfer.
func TestCallWaitingForRoomInTheQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, s := setup(t, ledger.Options{})
		first := startHeldBatch(l, s)
		var queued []<-chan timedCall
		for i := 0; ledger.Queued(l) < ledger.QueueCap(l); i++ {
			queued = append(queued, callAfter(l, 0, transfer(uint64(100+i), 1)))
			synctest.Wait()
		}

		ctx, cancel := context.WithCancel(context.Background())
		cancelled := make(chan error, 1)
		go func() {
			_, err := l.CreateTransfers(ctx, []ledger.Transfer{transfer(2, 5)})
			cancelled <- err
		}()
		synctest.Wait()
		require.Empty(t, cancelled, "a call returned while the queue was full")
		cancel()
		assert.ErrorIs(t, <-cancelled, context.Canceled)

		waiting := callAfter(l, 0, transfer(3, 5))
		synctest.Wait()
		require.Empty(t, waiting)
		closed := make(chan error, 1)
		go func() { closed <- l.Close() }()
		synctest.Wait()
		c := <-waiting
		assert.ErrorIs(t, c.err, ledger.ErrClosed)
		assert.Nil(t, c.res)

		close(s.hold)
		require.NoError(t, <-closed)
		require.NoError(t, <-first)
		for i, q := range queued {
			assert.ErrorIs(t, (<-q).err, ledger.ErrClosed, "queued call %d", i)
		}
		assert.Equal(t, int64(1), s.updates.Load())
		assert.Equal(t, []ledger.ID{ledger.IDFromUint64(1)}, storedTransfers(t, s, 1, 2, 3, 100, 355))
	})
}

// storedTransfers returns the IDs, of those numbered ids, of the
// transfers s holds, read through a Ledger of its own.
func storedTransfers(t *testing.T, s *countingStore, ids ...uint64) []ledger.ID {
	t.Helper()
	l, err := ledger.New(s.Store, ledger.Options{})
	require.NoError(t, err)
	defer l.Close()
	want := make([]ledger.ID, len(ids))
	for i, id := range ids {
		want[i] = ledger.IDFromUint64(id)
	}
	got, err := l.LookupTransfers(context.Background(), want)
	require.NoError(t, err)
	found := []ledger.ID{}
	for _, tr := range got {
		found = append(found, tr.ID)
	}
	return found
}
