package memory_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

// TestLockWaitEndsWithContext: an Update or a View that waits for the
// store's lock, held by an Update, gives up with its context's error when
// the context ends (cancelled, or past its deadline by the bubble's
// clock), without running its fn, and the store is left as it was.
func TestLockWaitEndsWithContext(t *testing.T) {
	account := ledger.Account{ID: ledger.IDFromUint64(1), Ledger: 978, Code: 1, Timestamp: 1}
	calls := []struct {
		name string
		call func(ctx context.Context, s *memory.Store, ran *bool) error
	}{
		{"Update", func(ctx context.Context, s *memory.Store, ran *bool) error {
			return s.Update(ctx, func(tx ledger.Tx) error {
				*ran = true
				if err := tx.SetLastTimestamp(1); err != nil {
					return err
				}
				return tx.InsertAccounts([]ledger.Account{account})
			})
		}},
		{"View", func(ctx context.Context, s *memory.Store, ran *bool) error {
			return s.View(ctx, func(ledger.ReadTx) error {
				*ran = true
				return nil
			})
		}},
	}
	ends := []struct {
		name string
		want error
		ctx  func() (context.Context, context.CancelFunc)
		end  func(cancel context.CancelFunc) // ends the context of a waiting call
	}{
		{"cancelled", context.Canceled,
			func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			func(cancel context.CancelFunc) { cancel() }},
		{"deadline", context.DeadlineExceeded,
			func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), time.Second)
			},
			func(context.CancelFunc) {}}, // the bubble's clock reaches the deadline
	}
	for _, c := range calls {
		for _, e := range ends {
			t.Run(c.name+"/"+e.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					s := memory.New()
					release := make(chan struct{})
					held := holdLock(s, false, release)

					ctx, cancel := e.ctx()
					defer cancel()
					ran := false
					done := start(func() error { return c.call(ctx, s, &ran) })
					synctest.Wait() // the call waits for the lock
					e.end(cancel)
					err := <-done
					assert.Equal(t, e.want, err) // ctx.Err() itself, not wrapped
					assert.False(t, ran, "fn ran")

					close(release)
					require.NoError(t, <-held)
					require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
						last, err := tx.LastTimestamp()
						require.NoError(t, err)
						assert.Zero(t, last)
						got, err := tx.Accounts([]ledger.ID{account.ID})
						require.NoError(t, err)
						assert.Empty(t, got)
						return nil
					}))
				})
			})
		}
	}
}

// TestViewsShareLock: a View runs while another View holds the store's
// lock; an Update waits for it to end, and a View that comes while the
// Update waits runs after it.
func TestViewsShareLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := memory.New()
		release := make(chan struct{})
		first := holdLock(s, true, release)

		require.NoError(t, s.View(context.Background(), func(ledger.ReadTx) error { return nil }))

		updated := start(func() error {
			return s.Update(context.Background(), func(tx ledger.Tx) error { return tx.SetLastTimestamp(1) })
		})
		synctest.Wait() // the Update waits
		var seen uint64
		later := start(func() error {
			return s.View(context.Background(), func(tx ledger.ReadTx) error {
				var err error
				seen, err = tx.LastTimestamp()
				return err
			})
		})
		synctest.Wait() // the later View waits
		assert.Empty(t, updated, "Update ran while a View held the lock")
		assert.Empty(t, later, "View ran while an Update waited")

		close(release)
		require.NoError(t, <-first)
		require.NoError(t, <-updated)
		require.NoError(t, <-later)
		assert.Equal(t, uint64(1), seen)
	})
}

// start runs call on a goroutine of its own and returns the channel that
// its error comes on.
func start(call func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- call() }()
	return done
}

// holdLock starts an Update, or a View when view is set, whose fn waits
// for release to be closed, and returns once it holds the store's lock,
// with the channel that its error comes on. It runs in a synctest bubble.
func holdLock(s *memory.Store, view bool, release <-chan struct{}) <-chan error {
	done := start(func() error {
		if view {
			return s.View(context.Background(), func(ledger.ReadTx) error {
				<-release
				return nil
			})
		}
		return s.Update(context.Background(), func(ledger.Tx) error {
			<-release
			return nil
		})
	})
	synctest.Wait()
	return done
}
