package ledgertest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// testHistoryOfMissingTransfer writes through the store itself, as no
// ledger would: a balance history row must name a transfer that is stored
// or written in the same transaction (Tx.InsertBalances). A row that names
// another fails Update with ledger.ErrCorrupt, and nothing of its
// transaction is kept; rows naming a transfer of the same transaction or
// a stored one (the release of an expired hold) are kept.
func testHistoryOfMissingTransfer(t *testing.T, c Config) {
	ctx := context.Background()
	s := c.NewStore(t)
	defer s.Close()
	acct := ledger.Account{ID: id(1), Ledger: 1, Code: 1, Flags: ledger.AccountHistory, Timestamp: 1}
	other := ledger.Account{ID: id(2), Ledger: 1, Code: 1, Timestamp: 2}
	hold := ledger.Transfer{ID: id(10), DebitAccountID: id(2), CreditAccountID: id(1), Amount: 5, Ledger: 1, Code: 1,
		Flags: ledger.TransferPending, Timestamp: 3}
	held := ledger.BalanceRow{AccountBalance: ledger.AccountBalance{AccountID: id(1), CreditsPending: 5, Timestamp: 3},
		TransferID: hold.ID}
	released := ledger.BalanceRow{AccountBalance: ledger.AccountBalance{AccountID: id(1), Timestamp: 4}, TransferID: hold.ID}
	write := func(accounts []ledger.Account, transfers []ledger.Transfer, rows []ledger.BalanceRow, last uint64) error {
		return s.Update(ctx, func(tx ledger.Tx) error {
			if _, err := tx.LastTimestamp(); err != nil {
				return err
			}
			if len(accounts) > 0 {
				if err := tx.InsertAccounts(accounts); err != nil {
					return err
				}
			}
			if len(transfers) > 0 {
				if err := tx.InsertTransfers(transfers); err != nil {
					return err
				}
			}
			if err := tx.InsertBalances(rows); err != nil {
				return err
			}
			return tx.SetLastTimestamp(last)
		})
	}
	balances := func() []ledger.AccountBalance {
		var got []ledger.AccountBalance
		require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
			var err error
			got, err = tx.AccountBalances(ledger.AccountFilter{AccountID: id(1), TimestampMax: ledger.TimestampLimit,
				Limit: 10, Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits})
			return err
		}))
		return got
	}
	lastTimestamp := func() uint64 {
		var last uint64
		require.NoError(t, s.Update(ctx, func(tx ledger.Tx) error {
			var err error
			last, err = tx.LastTimestamp()
			return err
		}))
		return last
	}

	missing := held
	missing.TransferID = id(99)
	err := write([]ledger.Account{acct, other}, []ledger.Transfer{hold}, []ledger.BalanceRow{missing}, 3)
	require.ErrorIs(t, err, ledger.ErrCorrupt, "a row naming no transfer")
	require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
		got, err := tx.Accounts([]ledger.ID{id(1), id(2)})
		require.NoError(t, err)
		assert.Empty(t, got, "accounts of the refused transaction")
		gotT, err := tx.Transfers([]ledger.ID{hold.ID})
		require.NoError(t, err)
		assert.Empty(t, gotT, "transfer of the refused transaction")
		return nil
	}))
	assert.Empty(t, balances())
	assert.Zero(t, lastTimestamp())

	require.NoError(t, write([]ledger.Account{acct, other}, []ledger.Transfer{hold}, []ledger.BalanceRow{held}, 3),
		"a row naming a transfer of the same transaction")
	require.NoError(t, write(nil, nil, []ledger.BalanceRow{released}, 4), "a row naming a stored transfer")
	missing.Timestamp = 5
	require.ErrorIs(t, write(nil, nil, []ledger.BalanceRow{missing}, 5), ledger.ErrCorrupt, "a row naming no transfer")
	assert.Equal(t, []ledger.AccountBalance{held.AccountBalance, released.AccountBalance}, balances())
	assert.Equal(t, uint64(4), lastTimestamp())
}
