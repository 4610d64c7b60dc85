package sqlitewrite

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests of this file run in a synctest bubble, the database opened in
// it, so that a Write or a Close that waits for good is seen at once:
// synctest.Wait returns when every goroutine of the bubble waits for
// another, and whatever has not returned then never will.

// returned reports, once every goroutine of the bubble waits, whether done
// has a value, and the value.
func returned[T any](done <-chan T) (T, bool) {
	synctest.Wait()
	select {
	case v := <-done:
		return v, true
	default:
		var zero T
		return zero, false
	}
}

// write starts b.Write(ctx, fn) and returns what it returns.
func write(b *Batcher, ctx context.Context, fn func(context.Context, *Tx) error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- b.Write(ctx, fn) }()
	return done
}

// TestClose: Close waits for the queued writes to be committed, returns
// once they are, and a Write after it fails with ErrClosed at once,
// without joining the batch that Close waits for.
func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, l, b := openDB(t)
		require.NoError(t, l.Lock(context.Background()))
		queued := write(b, context.Background(), insert(1))
		synctest.Wait() // its batch waits for l
		closed := make(chan struct{}, 1)
		go func() {
			b.Close()
			closed <- struct{}{}
		}()
		_, ok := returned(closed)
		require.False(t, ok, "Close returned before the queued write was committed")

		late := write(b, context.Background(), insert(2))
		err, ok := returned(late)
		if assert.True(t, ok, "a Write after Close waits for the batch that Close waits for") {
			assert.ErrorIs(t, err, ErrClosed)
		}

		l.Unlock()
		_, ok = returned(closed)
		require.True(t, ok, "Close still waits once the queued write has been committed: the lead did not end, or its end did not wake Close")
		require.NoError(t, <-queued)
		assert.Equal(t, []int{1}, keys(t, db))
		b.Close() // idempotent
	})
}

// TestWriteAfterWrite: a lone Write ends its lead when it returns, so that
// the next Write leads its own batch.
func TestWriteAfterWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, _, b := openDB(t)
		require.NoError(t, b.Write(context.Background(), insert(1)))
		err, ok := returned(write(b, context.Background(), insert(2)))
		require.True(t, ok, "a Write after a lone Write that has returned waits for a lead that never ended")
		require.NoError(t, err)
		assert.Equal(t, []int{1, 2}, keys(t, db))
	})
}

// TestLeaderCancelledBeforeBegin: a leader whose context ends while it
// waits for the Lock leaves the queue and returns the context's error;
// the write queued behind it takes the lead and commits once the Lock is
// free.
func TestLeaderCancelledBeforeBegin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, l, opened := openDB(t)
		opened.Close()
		// Not closed by a cleanup: a leader stuck with the Batcher's mutex
		// held would keep Close waiting outside what synctest sees.
		b, err := NewBatcher(context.Background(), db, l)
		require.NoError(t, err)
		require.NoError(t, l.Lock(context.Background()))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var ran bool
		leader := write(b, ctx, func(ctx context.Context, tx *Tx) error {
			ran = true
			return insert(1)(ctx, tx)
		})
		synctest.Wait() // the leader waits for l
		behind := write(b, context.Background(), insert(2))
		synctest.Wait()
		b.mu.Lock()
		queued := len(b.queue)
		b.mu.Unlock()
		require.Equal(t, 2, queued, "the second Write queues behind the leader")

		cancel()
		err, ok := returned(leader)
		if !ok {
			t.Fatal("the leader cancelled while it waited for the Lock did not return: it handed the lead to its own job, still at the head of the queue")
		}
		assert.ErrorIs(t, err, context.Canceled)
		_, ok = returned(behind)
		require.False(t, ok, "the write behind the leader waits for the Lock")

		l.Unlock()
		err, ok = returned(behind)
		require.True(t, ok, "the write behind the cancelled leader never took the lead")
		require.NoError(t, err)
		assert.False(t, ran, "the cancelled leader's fn never runs")
		b.Close()
		assert.Equal(t, []int{2}, keys(t, db))
	})
}
