package ledger_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// replyCalls is how many calls TestCommittedCallClosedBeforeItsReply
// makes. Each finds its reply and the batcher's stop both ready, and
// select picks either at random: a call that took the stop for a
// failure would fail one of them, except with probability 2^-replyCalls.
const replyCalls = 64

// TestCommittedCallClosedBeforeItsReply: a CreateTransfers call whose
// batch has committed gets its results when Close has returned before
// the call looks for its reply. It never fails with ErrClosed, which
// tells the caller that nothing was created, so that a retry under new
// IDs would create the transfers twice.
func TestCommittedCallClosedBeforeItsReply(t *testing.T) {
	for i := range replyCalls {
		l, s := setup(t, ledger.Options{})
		id := uint64(i + 1)
		var closeErr error
		ledger.SetQueued(l, func(done <-chan struct{}) {
			<-done // the batch has committed
			closeErr = l.Close()
		})
		res, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(id, 5)})
		require.NoError(t, closeErr)
		require.Equal(t, int64(1), s.updates.Load())
		require.Equal(t, []ledger.ID{ledger.IDFromUint64(id)}, storedTransfers(t, s, id), "call %d", i)
		require.NoError(t, err, "call %d, whose transfer was created", i)
		assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res, "call %d", i)
	}
}
