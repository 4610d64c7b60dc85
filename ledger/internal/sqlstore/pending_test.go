package sqlstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

func TestPendingCheckUnknown(t *testing.T) {
	hold := ledger.Transfer{ID: ledger.ID{1}, Flags: ledger.TransferPending}
	plain := ledger.Transfer{ID: ledger.ID{2}}
	state := func(ids ...ledger.ID) []ledger.Pending {
		p := make([]ledger.Pending, len(ids))
		for i, id := range ids {
			p[i] = ledger.Pending{ID: id}
		}
		return p
	}

	t.Run("no pending states", func(t *testing.T) {
		var c PendingCheck
		c.Transfers([]ledger.Transfer{hold, plain})
		unknown, err := c.Unknown()
		require.NoError(t, err)
		assert.Empty(t, unknown)
	})
	t.Run("states of inserted holds ask nothing", func(t *testing.T) {
		var c PendingCheck
		c.Pending(state(hold.ID)) // before its transfer: order does not matter
		c.Transfers([]ledger.Transfer{plain, hold})
		unknown, err := c.Unknown()
		require.NoError(t, err)
		assert.Empty(t, unknown)
	})
	t.Run("states of transfers not inserted are left to the store", func(t *testing.T) {
		var c PendingCheck
		c.Transfers([]ledger.Transfer{hold})
		c.Pending(state(ledger.ID{9}, hold.ID, ledger.ID{8}))
		unknown, err := c.Unknown()
		require.NoError(t, err)
		assert.Equal(t, []ledger.ID{{9}, {8}}, unknown)
	})
	t.Run("state of an inserted plain transfer", func(t *testing.T) {
		var c PendingCheck
		c.Transfers([]ledger.Transfer{hold, plain})
		c.Pending(state(ledger.ID{9}, plain.ID))
		unknown, err := c.Unknown()
		require.ErrorIs(t, err, ledger.ErrCorrupt)
		assert.Nil(t, unknown)
	})
	t.Run("recorded at the call", func(t *testing.T) {
		var c PendingCheck
		transfers := []ledger.Transfer{hold}
		c.Transfers(transfers)
		transfers[0].Flags = 0 // a caller reusing its slice changes nothing recorded
		c.Pending(state(hold.ID))
		unknown, err := c.Unknown()
		require.NoError(t, err)
		assert.Empty(t, unknown)
	})
}
