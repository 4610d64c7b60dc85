package sqltest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// NoState checks s, a store whose database has lost its ledger_state row:
// a write transaction fails with ledger.ErrCorrupt and the error msg,
// whether LastTimestamp is its first statement or follows a read (twice,
// so that a prepared statement fails as its first run did), instead of
// counting time from zero; and so do a ledger's writes and Verify.
func NoState(t *testing.T, s ledger.Store, msg string) {
	ctx := context.Background()
	for range 2 {
		for _, read := range []bool{false, true} {
			err := s.Update(ctx, func(tx ledger.Tx) error {
				if read {
					if _, err := tx.Accounts([]ledger.ID{id(1)}); err != nil {
						return err
					}
				}
				_, err := tx.LastTimestamp()
				return err
			})
			require.ErrorIs(t, err, ledger.ErrCorrupt)
			require.EqualError(t, err, msg)
		}
	}
	l, err := ledger.New(s, ledger.Options{})
	require.NoError(t, err)
	defer l.Close()
	_, err = l.CreateAccounts(ctx, []ledger.Account{{ID: id(1), Ledger: 1, Code: 1}})
	require.ErrorIs(t, err, ledger.ErrCorrupt)
	_, err = l.CreateTransfers(ctx, []ledger.Transfer{{ID: id(2), DebitAccountID: id(1), CreditAccountID: id(3), Amount: 1, Ledger: 1, Code: 1}})
	require.ErrorIs(t, err, ledger.ErrCorrupt)
	err = l.Verify(ctx)
	require.ErrorIs(t, err, ledger.ErrCorrupt)
	require.EqualError(t, err, msg)
}
