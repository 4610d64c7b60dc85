package sqlite

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// TestUpdatePanicRollsBack: a panic in fn goes through Update with its
// value, and its transaction is rolled back at once: another connection
// (another process's) takes the write lock without waiting for the
// Store's next Update, and finds nothing of fn's writes stored.
func TestUpdatePanicRollsBack(t *testing.T) {
	s := openReaders(t, 1)
	assert.PanicsWithValue(t, "boom", func() {
		_ = s.Update(context.Background(), func(tx ledger.Tx) error {
			require.NoError(t, tx.InsertAccounts([]ledger.Account{viewAccount(1)}))
			panic("boom")
		})
	})
	accounts, err := accountCount(otherWriter(t, s))
	require.NoError(t, err, "the write lock")
	assert.Zero(t, accounts)
	insertAccount(t, s, 2)
	assert.Equal(t, 1, viewAccounts(t, s, 2))
}
