package ledgertest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// testWritesWithoutRead writes through the store itself, as no ledger
// would: fn writes without reading anything first, not even
// Tx.LastTimestamp (which the ledger always calls first, see
// Store.Update). A store stores such writes as any others, or refuses
// them as any others: Update never reports success for writes it did not
// store.
func testWritesWithoutRead(t *testing.T, c Config) {
	// Stored first: accounts 1, which keeps a history, and 2.
	stored := twoAccounts()
	stored.accounts[0].Flags = ledger.AccountHistory
	// Then accountAndTransfer's rows, with account 1's balances after
	// transfer 10.
	written := func() rows {
		w := accountAndTransfer()
		w.balances = []ledger.BalanceRow{{AccountBalance: ledger.AccountBalance{AccountID: id(1), DebitsPosted: 4,
			Timestamp: 4}, TransferID: id(10)}}
		w.updAccounts[0].Flags = ledger.AccountHistory
		return w
	}

	t.Run("kept", func(t *testing.T) {
		s, _ := storeWith(t, c, stored)
		w := written()
		require.NoError(t, writeUnread(s, w))
		a1 := stored.accounts[0]
		a1.DebitsPosted = 4
		assert.Equal(t, rows{
			accounts:  []ledger.Account{a1, stored.accounts[1], w.accounts[0]},
			transfers: w.transfers,
			history:   []ledger.AccountBalance{w.balances[0].AccountBalance},
			last:      w.last,
		}, contents(t, s))
		assert.Equal(t, w.failed, failedOf(t, s, id(11)))
	})

	for _, tc := range []struct {
		name   string
		refuse func(w *rows)
		twice  bool // an ID inserted twice: fn runs once
	}{
		{"transfer_of_missing_account", func(w *rows) { w.transfers[0].CreditAccountID = id(99) }, false},
		{"update_of_missing_account", func(w *rows) { w.updAccounts[0].ID = id(99) }, false},
		{"account_twice", func(w *rows) { w.accounts = append(w.accounts, w.accounts[0]) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := written()
			tc.refuse(&w)
			s := requireRefused(t, c, stored, w, writeUnread, tc.twice)
			assert.Empty(t, failedOf(t, s, id(11)), "the failed transfer of the refused transaction")
		})
	}
}

// testCancelledUpdate ends Update's context while fn runs: fn cancels it
// itself, before its writes or after them, or without reading or writing
// anything, and returns nil. Update fails with an error wrapping the
// context's error and stores nothing of the transaction (Store.Update).
// When the writes are refused as well (a key inserted twice, or one that
// is stored), the error of a write method that failed wins, and
// otherwise the context's error: the refusal that a store finds once fn
// has returned does not.
func testCancelledUpdate(t *testing.T, c Config) {
	stored := twoAccounts()
	w := accountAndTransfer()
	for _, tc := range []struct {
		name string
		fn   func(tx ledger.Tx, cancel func()) error
	}{
		{"before_writes", func(tx ledger.Tx, cancel func()) error {
			if _, err := tx.LastTimestamp(); err != nil {
				return err
			}
			cancel()
			_ = writeRows(tx, w, false) // a store's writes may fail now
			return nil
		}},
		{"after_writes", func(tx ledger.Tx, cancel func()) error {
			if _, err := tx.LastTimestamp(); err != nil {
				return err
			}
			if err := writeRows(tx, w, false); err != nil {
				return err
			}
			cancel()
			return nil
		}},
		{"nothing", func(tx ledger.Tx, cancel func()) error {
			cancel()
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, before := storeWith(t, c, stored)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			err := s.Update(ctx, func(tx ledger.Tx) error { return tc.fn(tx, cancel) })
			require.ErrorIs(t, err, context.Canceled)
			assert.Equal(t, before, contents(t, s), "nothing of the cancelled transaction")
			assert.Empty(t, failedOf(t, s, id(11)), "the failed transfer of the cancelled transaction")
		})
	}

	for _, refused := range []struct {
		name   string
		refuse func(w *rows)
	}{
		{"account_twice", func(w *rows) { w.accounts = append(w.accounts, w.accounts[0]) }},
		{"transfer_timestamp_twice", func(w *rows) {
			tr := w.transfers[0]
			tr.ID = id(12)
			w.transfers = append(w.transfers, tr)
		}},
		{"stored_account", func(w *rows) { w.accounts = append(w.accounts, stored.accounts[0]) }},
	} {
		for _, cancelFirst := range []bool{true, false} {
			name := refused.name + "_after_cancel"
			if !cancelFirst {
				name = refused.name + "_before_cancel"
			}
			t.Run(name, func(t *testing.T) {
				s, before := storeWith(t, c, stored)
				w := accountAndTransfer()
				refused.refuse(&w)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var werr error // what the writes returned
				err := s.Update(ctx, func(tx ledger.Tx) error {
					if _, err := tx.LastTimestamp(); err != nil {
						return err
					}
					if cancelFirst {
						cancel()
					}
					werr = writeRows(tx, w, false)
					cancel()
					return nil
				})
				if werr != nil {
					require.ErrorIs(t, err, werr, "the error of the write that failed")
				} else {
					require.ErrorIs(t, err, context.Canceled)
					assert.NotErrorIs(t, err, ledger.ErrCorrupt)
				}
				if cancelFirst {
					require.ErrorIs(t, err, context.Canceled, "writes after the context ended")
				}
				assert.Equal(t, before, contents(t, s), "nothing of the cancelled transaction")
				assert.Empty(t, failedOf(t, s, id(11)), "the failed transfer of the cancelled transaction")
			})
		}
	}
}

// testLastTimestamp writes through the store itself, as no ledger would:
// Tx.SetLastTimestamp takes a timestamp past the last one, stored or set
// earlier in the transaction, for timestamps never go back. One that is
// not, lower or equal, fails Update with ledger.ErrCorrupt, whether fn
// read the last timestamp first or not, and nothing of its transaction
// is kept; one past it is kept.
func testLastTimestamp(t *testing.T, c Config) {
	stored := twoAccounts() // the last timestamp is 2
	// Account 3 and the timestamp, or the timestamps, in that order.
	writeLast := func(read bool, last ...uint64) func(ledger.Store, rows) error {
		return func(s ledger.Store, _ rows) error {
			return s.Update(context.Background(), func(tx ledger.Tx) error {
				if read {
					if _, err := tx.LastTimestamp(); err != nil {
						return err
					}
				}
				if err := tx.InsertAccounts([]ledger.Account{{ID: id(3), Ledger: 1, Code: 1, Timestamp: 3}}); err != nil {
					return err
				}
				for _, ts := range last {
					if err := tx.SetLastTimestamp(ts); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	for _, read := range []bool{true, false} {
		name := "read_first"
		if !read {
			name = "unread"
		}
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				last []uint64
			}{
				{"zero", []uint64{0}},
				{"lower", []uint64{1}},
				{"equal", []uint64{2}},
				{"back_in_the_transaction", []uint64{4, 3}},
				{"again_in_the_transaction", []uint64{4, 4}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					s := requireRefused(t, c, stored, rows{}, writeLast(read, tc.last...), false)
					assert.Equal(t, stored.last, contents(t, s).last)
				})
			}
			t.Run("kept", func(t *testing.T) {
				s, before := storeWith(t, c, stored)
				require.NoError(t, writeLast(read, 3, 5)(s, rows{}))
				got := contents(t, s)
				assert.Equal(t, uint64(5), got.last)
				assert.Len(t, got.accounts, len(before.accounts)+1)
			})
		})
	}
}
