package ledger_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// TestCallMeetsClose: a call that uses the store outside the batcher,
// which finds the Ledger open and meets Close before it holds the lock
// that Close waits for, fails with ErrClosed once Close has returned,
// without using the store: nothing is written, and nothing read.
func TestCallMeetsClose(t *testing.T) {
	ctx := context.Background()
	ids := []ledger.ID{ledger.IDFromUint64(1)}
	f := ledger.AccountFilter{AccountID: ids[0], Limit: 10, Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits}
	newAccount := ledger.Account{ID: ledger.IDFromUint64(9), Ledger: 978, Code: 1}
	for name, call := range map[string]func(l *ledger.Ledger) (any, error){
		"CreateAccounts": func(l *ledger.Ledger) (any, error) {
			return l.CreateAccounts(ctx, []ledger.Account{newAccount})
		},
		"LookupAccounts":      func(l *ledger.Ledger) (any, error) { return l.LookupAccounts(ctx, ids) },
		"LookupTransfers":     func(l *ledger.Ledger) (any, error) { return l.LookupTransfers(ctx, ids) },
		"GetAccountTransfers": func(l *ledger.Ledger) (any, error) { return l.GetAccountTransfers(ctx, f) },
		"GetAccountBalances":  func(l *ledger.Ledger) (any, error) { return l.GetAccountBalances(ctx, f) },
		"Verify":              func(l *ledger.Ledger) (any, error) { return nil, l.Verify(ctx) },
	} {
		t.Run(name, func(t *testing.T) {
			l, s := setup(t, ledger.Options{})
			closes := 0
			var closeErr error
			ledger.SetEntering(l, func() {
				closes++
				closeErr = l.Close() // all of it, as the call waits to hold the lock
			})
			got, err := call(l)
			require.ErrorIs(t, err, ledger.ErrClosed)
			assert.Nil(t, got)
			assert.Equal(t, 1, closes)
			assert.NoError(t, closeErr)
			assert.Zero(t, s.updates.Load(), "store transactions")
			assert.Zero(t, s.views.Load(), "store reads")
			other, err := ledger.New(s.Store, ledger.Options{})
			require.NoError(t, err)
			defer other.Close()
			stored, err := other.LookupAccounts(ctx, []ledger.ID{newAccount.ID})
			require.NoError(t, err)
			assert.Empty(t, stored)
		})
	}
}
