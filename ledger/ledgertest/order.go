package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// testStoredOrder writes through the store itself, as no ledger would:
// transfers and balance history rows whose timestamps fall below those of
// rows stored before them, and within one call in descending order. A
// store keeps them as any others and reads them back in timestamp order
// (ReadTx); a transfer's timestamp or a balance history row's account and
// timestamp that such a row has is still a stored unique key (Tx): an
// insert of it, or one given twice out of order, fails Update with
// ledger.ErrCorrupt, and nothing of its transaction is kept.
func testStoredOrder(t *testing.T, c Config) {
	transfer := func(v, dr, cr, ts uint64) ledger.Transfer {
		return ledger.Transfer{ID: id(v), DebitAccountID: id(dr), CreditAccountID: id(cr), Amount: v, Ledger: 1,
			Code: 1, Timestamp: ts}
	}
	// The balances of account a after transfer v at ts.
	balance := func(a, v, ts uint64) ledger.BalanceRow {
		return ledger.BalanceRow{AccountBalance: ledger.AccountBalance{AccountID: id(a), DebitsPosted: v, Timestamp: ts},
			TransferID: id(v)}
	}
	// Accounts 1 and 2, then in one transaction each: transfer 10 at 10
	// with both accounts' balances; transfer 11 at 5, below it, with both
	// accounts' balances; transfers 12 at 8 and 13 at 3 in one call, with
	// account 1's balances after each in one call, descending; and
	// transfer 14 at 12, past them all, with both accounts' balances.
	writes := []rows{
		twoAccounts(),
		{
			transfers: []ledger.Transfer{transfer(10, 1, 2, 10)},
			balances:  []ledger.BalanceRow{balance(1, 10, 10), balance(2, 10, 10)},
			last:      10,
		},
		{
			transfers: []ledger.Transfer{transfer(11, 2, 1, 5)},
			balances:  []ledger.BalanceRow{balance(1, 11, 5), balance(2, 11, 5)},
			last:      11,
		},
		{
			transfers: []ledger.Transfer{transfer(12, 1, 2, 8), transfer(13, 2, 1, 3)},
			balances:  []ledger.BalanceRow{balance(1, 12, 8), balance(1, 13, 3)},
			last:      13,
		},
		{
			transfers: []ledger.Transfer{transfer(14, 1, 2, 12)},
			balances:  []ledger.BalanceRow{balance(1, 14, 12), balance(2, 14, 12)},
			last:      14,
		},
	}
	bal := func(a, v, ts uint64) ledger.AccountBalance { return balance(a, v, ts).AccountBalance }

	t.Run("kept", func(t *testing.T) {
		s, got := storeWith(t, c, writes...)
		assert.Equal(t, rows{
			accounts: writes[0].accounts,
			transfers: []ledger.Transfer{transfer(13, 2, 1, 3), transfer(11, 2, 1, 5), transfer(12, 1, 2, 8),
				transfer(10, 1, 2, 10), transfer(14, 1, 2, 12)},
			history: []ledger.AccountBalance{
				bal(1, 13, 3), bal(1, 11, 5), bal(1, 12, 8), bal(1, 10, 10), bal(1, 14, 12),
				bal(2, 11, 5), bal(2, 10, 10), bal(2, 14, 12),
			},
			last: 14,
		}, got)

		both := ledger.AccountFilterDebits | ledger.AccountFilterCredits
		reversed := both | ledger.AccountFilterReversed
		filters := []struct {
			name      string
			f         ledger.AccountFilter
			transfers []uint64
			balances  []ledger.AccountBalance
		}{
			{"all", ledger.AccountFilter{TimestampMax: ledger.TimestampLimit, Limit: 10, Flags: both},
				[]uint64{13, 11, 12, 10, 14}, []ledger.AccountBalance{bal(1, 13, 3), bal(1, 11, 5), bal(1, 12, 8),
					bal(1, 10, 10), bal(1, 14, 12)}},
			{"range", ledger.AccountFilter{TimestampMin: 4, TimestampMax: 9, Limit: 10, Flags: both},
				[]uint64{11, 12}, []ledger.AccountBalance{bal(1, 11, 5), bal(1, 12, 8)}},
			{"range_reversed", ledger.AccountFilter{TimestampMin: 4, TimestampMax: 11, Limit: 10, Flags: reversed},
				[]uint64{10, 12, 11}, []ledger.AccountBalance{bal(1, 10, 10), bal(1, 12, 8), bal(1, 11, 5)}},
			{"limit", ledger.AccountFilter{TimestampMax: ledger.TimestampLimit, Limit: 2, Flags: both},
				[]uint64{13, 11}, []ledger.AccountBalance{bal(1, 13, 3), bal(1, 11, 5)}},
			{"limit_reversed", ledger.AccountFilter{TimestampMax: ledger.TimestampLimit, Limit: 2, Flags: reversed},
				[]uint64{14, 10}, []ledger.AccountBalance{bal(1, 14, 12), bal(1, 10, 10)}},
			{"debits", ledger.AccountFilter{TimestampMax: ledger.TimestampLimit, Limit: 10,
				Flags: ledger.AccountFilterDebits}, []uint64{12, 10, 14},
				[]ledger.AccountBalance{bal(1, 12, 8), bal(1, 10, 10), bal(1, 14, 12)}},
		}
		for _, tc := range filters {
			f := tc.f
			f.AccountID = id(1)
			require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
				trs, err := tx.AccountTransfers(f)
				require.NoError(t, err)
				var ids []uint64
				for _, tr := range trs {
					ids = append(ids, idVal(tr.ID))
				}
				assert.Equal(t, tc.transfers, ids, "transfers of account 1, %s", tc.name)
				h, err := tx.AccountBalances(f)
				require.NoError(t, err)
				assert.Equal(t, tc.balances, h, "balances of account 1, %s", tc.name)
				return nil
			}))
		}
	})

	// Each write has transfer 20 at 15 from 1 to 2 and account 2's
	// balances after it, which alone would be kept, and one insert more:
	// a stored key (a balance history row naming the transfer stored at
	// its timestamp), or a key given twice, apart and descending.
	type refused struct {
		name   string
		insert func(w *rows)
	}
	var tests []refused
	for _, at := range []struct{ ts, transfer uint64 }{{3, 13}, {5, 11}, {8, 12}, {10, 10}, {12, 14}} {
		tests = append(tests,
			refused{fmt.Sprintf("stored_transfer_timestamp_%d", at.ts), func(w *rows) {
				w.transfers = append(w.transfers, transfer(21, 1, 2, at.ts))
			}},
			refused{fmt.Sprintf("stored_balance_of_account_1_at_%d", at.ts), func(w *rows) {
				w.balances = append(w.balances, balance(1, at.transfer, at.ts))
			}})
		if at.transfer != 12 && at.transfer != 13 {
			tests = append(tests, refused{fmt.Sprintf("stored_balance_of_account_2_at_%d", at.ts), func(w *rows) {
				w.balances = append(w.balances, balance(2, at.transfer, at.ts))
			}})
		}
	}
	tests = append(tests,
		refused{"transfer_timestamp_twice_descending", func(w *rows) {
			w.transfers = append(w.transfers, transfer(21, 1, 2, 14), transfer(22, 1, 2, 15))
		}},
		refused{"balance_twice_descending", func(w *rows) {
			w.transfers = append(w.transfers, transfer(21, 1, 2, 14))
			w.balances = append(w.balances, balance(2, 21, 14), balance(2, 20, 15))
		}})
	fresh := func() rows {
		return rows{
			transfers: []ledger.Transfer{transfer(20, 1, 2, 15)},
			balances:  []ledger.BalanceRow{balance(2, 20, 15)},
			last:      15,
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, before := storeWith(t, c, writes...)
			w := fresh()
			tc.insert(&w)
			require.ErrorIs(t, write(s, w), ledger.ErrCorrupt)
			assert.Equal(t, before, contents(t, s), "nothing of the refused transaction")
		})
	}

	// The same write with, in one call each, transfer 21 at 14 after
	// transfer 20 at 15, and balances of account 1 after transfer 20 at
	// 16 and after transfer 21 at 14: a row may name a transfer of its
	// transaction at another timestamp.
	t.Run("fresh_kept", func(t *testing.T) {
		s, before := storeWith(t, c, writes...)
		w := fresh()
		w.transfers = append(w.transfers, transfer(21, 1, 2, 14))
		w.balances = append(w.balances, balance(1, 20, 16), balance(1, 21, 14))
		w.last = 16
		require.NoError(t, write(s, w))
		got := contents(t, s)
		assert.Equal(t, append(before.transfers, w.transfers[1], w.transfers[0]), got.transfers)
		assert.Equal(t, append(before.history[:5:5], bal(1, 21, 14), bal(1, 20, 16), bal(2, 11, 5), bal(2, 10, 10),
			bal(2, 14, 12), bal(2, 20, 15)), got.history)
		assert.Equal(t, uint64(16), got.last)
	})
}

// testFailedOrder: ForEachFailed lists every failed-transfer record,
// written in any order, in ascending ID order, and stops at fn's first
// error, which it returns.
func testFailedOrder(t *testing.T, c Config) {
	failed := func(v uint64) ledger.FailedTransfer {
		return ledger.FailedTransfer{ID: id(v), Result: ledger.TransferExceedsCredits, Timestamp: v}
	}
	s, _ := storeWith(t, c,
		rows{failed: []ledger.FailedTransfer{failed(7), failed(3)}, last: 7},
		rows{failed: []ledger.FailedTransfer{failed(9), failed(1)}, last: 9})
	var got []ledger.FailedTransfer
	stop := errors.New("stop")
	require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
		require.NoError(t, tx.ForEachFailed(func(f ledger.FailedTransfer) error {
			got = append(got, f)
			return nil
		}))
		n := 0
		assert.ErrorIs(t, tx.ForEachFailed(func(ledger.FailedTransfer) error { n++; return stop }), stop)
		assert.Equal(t, 1, n, "calls after fn's error")
		return nil
	}))
	assert.Equal(t, []ledger.FailedTransfer{failed(1), failed(3), failed(7), failed(9)}, got)
}

// testForEachStops: ForEachAccount, ForEachTransfer and ForEachPending,
// as ForEachFailed (testFailedOrder), stop at fn's first error, which
// they return, in View and in Update alike: fn is called for the first
// row alone.
func testForEachStops(t *testing.T, c Config) {
	hold := func(v, ts uint64) ledger.Transfer {
		return ledger.Transfer{ID: id(v), DebitAccountID: id(1), CreditAccountID: id(2), Amount: v, Ledger: 1, Code: 1,
			Flags: ledger.TransferPending, Timestamp: ts}
	}
	s, _ := storeWith(t, c, twoAccounts(), rows{
		transfers: []ledger.Transfer{hold(10, 3), hold(11, 4)},
		pending: []ledger.Pending{{ID: id(10), Status: ledger.PendingActive, Timestamp: 3},
			{ID: id(11), Status: ledger.PendingActive, Timestamp: 4}},
		last: 4,
	})
	stop := errors.New("stop")
	check := func(t *testing.T, tx ledger.ReadTx) {
		var accounts, transfers, pending []ledger.ID
		assert.ErrorIs(t, tx.ForEachAccount(func(a ledger.Account) error { accounts = append(accounts, a.ID); return stop }), stop)
		assert.ErrorIs(t, tx.ForEachTransfer(func(tr ledger.Transfer) error { transfers = append(transfers, tr.ID); return stop }), stop)
		assert.ErrorIs(t, tx.ForEachPending(func(p ledger.Pending) error { pending = append(pending, p.ID); return stop }), stop)
		assert.Equal(t, []ledger.ID{id(1)}, accounts, "ForEachAccount's calls")
		assert.Equal(t, []ledger.ID{id(10)}, transfers, "ForEachTransfer's calls")
		assert.Equal(t, []ledger.ID{id(10)}, pending, "ForEachPending's calls")
	}
	ctx := context.Background()
	t.Run("View", func(t *testing.T) {
		require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error { check(t, tx); return nil }))
	})
	t.Run("Update", func(t *testing.T) {
		err := s.Update(ctx, func(tx ledger.Tx) error {
			if _, err := tx.LastTimestamp(); err != nil {
				return err
			}
			check(t, tx)
			return stop
		})
		require.ErrorIs(t, err, stop)
	})
}
