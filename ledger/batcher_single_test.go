package ledger_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// TestTimestampLimitLoneCallNotRetried: a call alone in its batch that
// overruns TimestampLimit fails with ErrTimestampLimit after one
// transaction: it is not run again alone, as the calls of a merged batch
// are.
func TestTimestampLimitLoneCallNotRetried(t *testing.T) {
	l, s := setupNearLimit(t)
	// MaxBatch events: the batch runs without waiting for more.
	res, err := l.CreateTransfers(context.Background(),
		[]ledger.Transfer{transfer(1, 1), transfer(2, 1), transfer(3, 1), transfer(4, 1)})
	require.ErrorIs(t, err, ledger.ErrTimestampLimit)
	assert.Nil(t, res)
	assert.Equal(t, int64(1), s.updates.Load())
}
