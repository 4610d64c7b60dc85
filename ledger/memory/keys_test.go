package memory

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// TestKeyOrder checks when keyOrder is sure that no two rows share a
// unique key: timestamps ascending, and with pairs at most two rows of
// different IDs at one timestamp.
func TestKeyOrder(t *testing.T) {
	type row struct{ ts, id uint64 }
	tests := []struct {
		name   string
		pairs  bool
		rows   []row
		unsure bool
	}{
		{"none", false, nil, false},
		{"ascending", false, []row{{0, 1}, {1, 1}, {5, 2}}, false},
		{"shared_timestamp", false, []row{{1, 1}, {1, 2}}, true},
		{"descending", false, []row{{2, 1}, {1, 2}}, true},
		{"pairs_ascending", true, []row{{1, 1}, {1, 2}, {2, 2}, {2, 1}, {3, 1}}, false},
		{"pairs_same_id", true, []row{{1, 1}, {1, 1}}, true},
		{"pairs_three_at_one_timestamp", true, []row{{1, 1}, {1, 2}, {1, 3}}, true},
		{"pairs_descending", true, []row{{2, 1}, {1, 2}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := keyOrder{pairs: tc.pairs}
			for _, r := range tc.rows {
				o.next(r.ts, ledger.IDFromUint64(r.id))
			}
			assert.Equal(t, tc.unsure, o.unsure)
		})
	}
}

// TestBalanceKeysOutOfLedgerOrder writes balance history rows that the
// ledger never writes, three at one timestamp, which keyOrder cannot vouch
// for: they are kept when their keys differ, and refused with
// ledger.ErrCorrupt when two share one, also apart.
func TestBalanceKeysOutOfLedgerOrder(t *testing.T) {
	id := ledger.IDFromUint64
	bal := func(a uint64) ledger.BalanceRow {
		return ledger.BalanceRow{AccountBalance: ledger.AccountBalance{AccountID: id(a), Timestamp: 4}, TransferID: id(10)}
	}
	tests := []struct {
		name     string
		balances []ledger.BalanceRow
		refused  bool
	}{
		{"three_accounts", []ledger.BalanceRow{bal(1), bal(2), bal(3)}, false},
		{"account_twice_apart", []ledger.BalanceRow{bal(1), bal(2), bal(3), bal(1)}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			err := s.Update(context.Background(), func(tx ledger.Tx) error {
				return errors.Join(
					tx.InsertAccounts([]ledger.Account{
						{ID: id(1), Ledger: 1, Code: 1, Timestamp: 1},
						{ID: id(2), Ledger: 1, Code: 1, Timestamp: 2},
						{ID: id(3), Ledger: 1, Code: 1, Timestamp: 3},
					}),
					tx.InsertTransfers([]ledger.Transfer{{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(2),
						Amount: 1, Ledger: 1, Code: 1, Timestamp: 4}}),
					tx.InsertBalances(tc.balances),
					tx.SetLastTimestamp(4))
			})
			if tc.refused {
				require.ErrorIs(t, err, ledger.ErrCorrupt)
				assert.Zero(t, s.transfers.n, "nothing of the refused transaction")
				return
			}
			require.NoError(t, err)
			for _, a := range []uint64{1, 2, 3} {
				assert.True(t, s.account(id(a)).historyAt(4), "history of account %d", a)
			}
		})
	}
}
