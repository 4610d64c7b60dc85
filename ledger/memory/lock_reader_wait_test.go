package memory_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

// TestUpdateWaitingForAViewEndsWithContext: an Update that waits for a
// View to end gives up with its context's error when the context ends,
// without running its fn, and gives up its turn: a View that came while
// it waited then runs beside the first, and an Update after that runs
// once the first View ends.
func TestUpdateWaitingForAViewEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := memory.New()
		release := make(chan struct{})
		reading := holdLock(s, true, release)

		ctx, cancel := context.WithCancel(context.Background())
		ran := false
		gaveUp := start(func() error {
			return s.Update(ctx, func(tx ledger.Tx) error {
				ran = true
				return tx.SetLastTimestamp(1)
			})
		})
		synctest.Wait() // the Update waits for the View
		later := start(func() error {
			return s.View(context.Background(), func(ledger.ReadTx) error { return nil })
		})
		synctest.Wait() // the later View waits behind the Update
		assert.Empty(t, later, "a View ran while an Update waited")

		cancel()
		assert.Equal(t, context.Canceled, <-gaveUp)
		assert.False(t, ran, "fn ran")
		require.NoError(t, <-later, "the later View runs beside the first once the Update gave up")

		next := start(func() error {
			return s.Update(context.Background(), func(tx ledger.Tx) error { return tx.SetLastTimestamp(2) })
		})
		synctest.Wait()
		assert.Empty(t, next, "an Update ran while a View held the lock")
		close(release)
		require.NoError(t, <-reading)
		require.NoError(t, <-next)
		require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
			last, err := tx.LastTimestamp()
			require.NoError(t, err)
			assert.Equal(t, uint64(2), last)
			return nil
		}))
	})
}
