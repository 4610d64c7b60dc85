package ledgertest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// RunNotMade checks stores of the type under test that its constructor did
// not make, a nil pointer and the zero value: Update and View fail with
// ledger.ErrNilStore without running fn, as Close does, and a Ledger over
// such a store fails its calls with that error too (ledger.New refuses a
// nil pointer with it; a zero value it cannot tell from a store).
func RunNotMade(t *testing.T, stores ...ledger.Store) {
	ctx := context.Background()
	for _, s := range stores {
		err := s.Update(ctx, func(ledger.Tx) error {
			t.Errorf("%T: Update ran fn", s)
			return nil
		})
		require.ErrorIs(t, err, ledger.ErrNilStore, "%T Update", s)
		err = s.View(ctx, func(ledger.ReadTx) error {
			t.Errorf("%T: View ran fn", s)
			return nil
		})
		require.ErrorIs(t, err, ledger.ErrNilStore, "%T View", s)
		require.ErrorIs(t, s.Close(), ledger.ErrNilStore, "%T Close", s)
		require.ErrorIs(t, s.Close(), ledger.ErrNilStore, "%T Close again", s)
		l, err := ledger.New(s, ledger.Options{})
		if err != nil {
			require.ErrorIs(t, err, ledger.ErrNilStore, "%T New", s)
			continue
		}
		_, err = l.LookupAccounts(ctx, []ledger.ID{ledger.IDFromUint64(1)})
		require.ErrorIs(t, err, ledger.ErrNilStore, "%T LookupAccounts", s)
		_, err = l.CreateTransfers(ctx, []ledger.Transfer{{ID: ledger.IDFromUint64(2)}})
		require.ErrorIs(t, err, ledger.ErrNilStore, "%T CreateTransfers", s)
		require.NoError(t, l.Close())
	}
}
