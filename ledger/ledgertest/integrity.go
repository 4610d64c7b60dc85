package ledgertest

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// rows is what one transaction writes, or what a store holds.
type rows struct {
	accounts    []ledger.Account
	transfers   []ledger.Transfer
	pending     []ledger.Pending
	balances    []ledger.BalanceRow
	failed      []ledger.FailedTransfer // written only: contents leaves them out
	history     []ledger.AccountBalance // read back: balances without their transfers
	updAccounts []ledger.Account        // written: updates of accounts
	updPending  []ledger.Pending        // written: updates of pending states
	last        uint64
}

// write stores w's accounts, transfers, pending states, balance history
// rows and failed transfers, and updates w.updAccounts and w.updPending,
// in one transaction, through the store itself, in the order the ledger
// uses.
func write(s ledger.Store, w rows) error { return writeOrdered(s, w, false) }

// writeOrdered is write; with updatesFirst it updates first, then inserts
// in reverse order (balance history rows first, accounts last).
func writeOrdered(s ledger.Store, w rows, updatesFirst bool) error {
	return s.Update(context.Background(), func(tx ledger.Tx) error {
		if _, err := tx.LastTimestamp(); err != nil {
			return err
		}
		return writeRows(tx, w, updatesFirst)
	})
}

// writeRows writes w in tx, as writeOrdered does once it has read the
// last timestamp.
func writeRows(tx ledger.Tx, w rows, updatesFirst bool) error {
	inserts := []func() error{
		writeSome(w.accounts, tx.InsertAccounts),
		writeSome(w.transfers, tx.InsertTransfers),
		writeSome(w.pending, tx.InsertPending),
		writeSome(w.balances, tx.InsertBalances),
		writeSome(w.failed, tx.InsertFailed),
	}
	updates := []func() error{
		writeSome(w.updAccounts, tx.UpdateAccounts),
		writeSome(w.updPending, tx.UpdatePending),
	}
	writes := append(inserts, updates...)
	if updatesFirst {
		slices.Reverse(inserts)
		writes = append(updates, inserts...)
	}
	for _, write := range writes {
		if err := write(); err != nil {
			return err
		}
	}
	return tx.SetLastTimestamp(w.last)
}

// writeUnread writes w in one transaction of s, as write does, without
// reading the last timestamp first.
func writeUnread(s ledger.Store, w rows) error {
	return s.Update(context.Background(), func(tx ledger.Tx) error { return writeRows(tx, w, false) })
}

// writeSome returns a call of write with rs, which does nothing when rs is
// empty (the ledger writes non-empty slices only).
func writeSome[T any](rs []T, write func([]T) error) func() error {
	return func() error {
		if len(rs) == 0 {
			return nil
		}
		return write(rs)
	}
}

// storeWith opens a store with c, which the test closes, writes stored
// into it, one transaction each, and returns it with its contents.
func storeWith(t *testing.T, c Config, stored ...rows) (ledger.Store, rows) {
	t.Helper()
	s := c.NewStore(t)
	t.Cleanup(func() { s.Close() })
	for i, w := range stored {
		require.NoError(t, write(s, w), "write %d", i)
	}
	return s, contents(t, s)
}

// contents reads everything s holds: the balance history of every
// account goes to history, by account ID, then by timestamp. The last
// timestamp that View reads is the one that Update reads.
func contents(t *testing.T, s ledger.Store) rows {
	t.Helper()
	var got rows
	var viewed uint64
	require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
		var err error
		viewed, err = tx.LastTimestamp()
		require.NoError(t, err)
		require.NoError(t, tx.ForEachAccount(func(a ledger.Account) error {
			got.accounts = append(got.accounts, a)
			return nil
		}))
		for _, a := range got.accounts {
			h, err := tx.AccountBalances(ledger.AccountFilter{AccountID: a.ID, TimestampMax: ledger.TimestampLimit,
				Limit: ledger.BatchMax, Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits})
			require.NoError(t, err)
			got.history = append(got.history, h...)
		}
		require.NoError(t, tx.ForEachTransfer(func(tr ledger.Transfer) error {
			got.transfers = append(got.transfers, tr)
			return nil
		}))
		return tx.ForEachPending(func(p ledger.Pending) error {
			got.pending = append(got.pending, p)
			return nil
		})
	}))
	require.NoError(t, s.Update(context.Background(), func(tx ledger.Tx) error {
		var err error
		got.last, err = tx.LastTimestamp()
		return err
	}))
	assert.Equal(t, got.last, viewed, "the last timestamp of View and Update")
	return got
}

// failedOf reads the failed transfers of s with the given IDs.
func failedOf(t *testing.T, s ledger.Store, ids ...ledger.ID) []ledger.FailedTransfer {
	t.Helper()
	var got []ledger.FailedTransfer
	require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
		var err error
		got, err = tx.FailedTransfers(ids)
		return err
	}))
	return got
}

// twoAccounts is accounts 1 and 2, stored first by several tests.
func twoAccounts() rows {
	return rows{
		accounts: []ledger.Account{
			{ID: id(1), Ledger: 1, Code: 1, Timestamp: 1},
			{ID: id(2), Ledger: 1, Code: 1, Timestamp: 2},
		},
		last: 2,
	}
}

// accountAndTransfer is account 3, transfer 10 of 4 from account 1 to 3,
// failed transfer 11, the update of account 1 and the timestamp, written
// after twoAccounts by several tests.
func accountAndTransfer() rows {
	return rows{
		accounts: []ledger.Account{{ID: id(3), Ledger: 1, Code: 1, Timestamp: 3}},
		transfers: []ledger.Transfer{{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(3), Amount: 4,
			Ledger: 1, Code: 1, Timestamp: 4}},
		failed:      []ledger.FailedTransfer{{ID: id(11), Result: ledger.TransferExceedsCredits, Timestamp: 5}},
		updAccounts: []ledger.Account{{ID: id(1), DebitsPosted: 4}},
		last:        5,
	}
}

// testMissingRows writes through the store itself, as no ledger would: a
// row must name rows that are stored or written in the same transaction —
// a transfer its debit and credit accounts, a pending state its transfer,
// a balance history row its account and its transfer (Tx) — and an update
// must find its row stored. A row that names another, or an update of a
// row that is not stored, fails Update with ledger.ErrCorrupt, and nothing
// of its transaction is kept; rows naming rows of the same transaction or
// stored ones, and updates of stored rows, are kept.
func testMissingRows(t *testing.T, c Config) {
	// Stored first: accounts 1 and 2, pending transfer 10 from 2 to 1
	// without its pending state, and account 1's balances after it.
	stored := func() rows {
		return rows{
			accounts: []ledger.Account{
				{ID: id(1), Ledger: 1, Code: 1, Flags: ledger.AccountHistory, Timestamp: 1},
				{ID: id(2), Ledger: 1, Code: 1, Timestamp: 2},
			},
			transfers: []ledger.Transfer{{ID: id(10), DebitAccountID: id(2), CreditAccountID: id(1), Amount: 5, Ledger: 1,
				Code: 1, Flags: ledger.TransferPending, Timestamp: 3}},
			balances: []ledger.BalanceRow{{AccountBalance: ledger.AccountBalance{AccountID: id(1), CreditsPending: 5,
				Timestamp: 3}, TransferID: id(10)}},
			last: 3,
		}
	}
	// Then, in one transaction, rows naming rows of the same transaction:
	// account 3, pending transfer 11 from 1 to 3, its pending state and
	// account 3's balances after it.
	same := func() rows {
		return rows{
			accounts: []ledger.Account{{ID: id(3), Ledger: 1, Code: 1, Flags: ledger.AccountHistory, Timestamp: 4}},
			transfers: []ledger.Transfer{{ID: id(11), DebitAccountID: id(1), CreditAccountID: id(3), Amount: 2,
				Ledger: 1, Code: 1, Flags: ledger.TransferPending, Timestamp: 5}},
			pending: []ledger.Pending{{ID: id(11), Status: ledger.PendingActive}},
			balances: []ledger.BalanceRow{{AccountBalance: ledger.AccountBalance{AccountID: id(3), CreditsPending: 2,
				Timestamp: 5}, TransferID: id(11)}},
			last: 5,
		}
	}
	// And rows naming stored rows: transfer 12 from 1 to 2, the pending
	// state of transfer 10, and account 1's balances after its release;
	// with updates of stored account 2 and of the stored pending state of
	// transfer 11.
	named := rows{
		transfers: []ledger.Transfer{{ID: id(12), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 1, Ledger: 1,
			Code: 1, Timestamp: 6}},
		pending: []ledger.Pending{{ID: id(10), Status: ledger.PendingExpired}},
		balances: []ledger.BalanceRow{{AccountBalance: ledger.AccountBalance{AccountID: id(1), Timestamp: 6},
			TransferID: id(10)}},
		updAccounts: []ledger.Account{{ID: id(2), DebitsPosted: 1, CreditsPosted: 2, Flags: ledger.AccountHistory}},
		updPending:  []ledger.Pending{{ID: id(11), Status: ledger.PendingVoided}},
		last:        6,
	}

	tests := []struct {
		name    string
		missing func(w *rows) // makes a row of w name a row that does not exist
	}{
		{"transfer_of_missing_debit_account", func(w *rows) { w.transfers[0].DebitAccountID = id(99) }},
		{"transfer_of_missing_credit_account", func(w *rows) { w.transfers[0].CreditAccountID = id(99) }},
		{"pending_of_missing_transfer", func(w *rows) {
			w.pending = append(w.pending, ledger.Pending{ID: id(99), Status: ledger.PendingActive})
		}},
		{"history_of_missing_account", func(w *rows) { w.balances[0].AccountID = id(99) }},
		{"history_of_missing_transfer", func(w *rows) { w.balances[0].TransferID = id(99) }},
		{"update_of_missing_account", func(w *rows) {
			w.updAccounts = append(w.updAccounts, ledger.Account{ID: id(99), DebitsPosted: 1})
		}},
		{"update_of_pending_of_missing_transfer", func(w *rows) {
			w.updPending = append(w.updPending, ledger.Pending{ID: id(99), Status: ledger.PendingPosted})
		}},
		// Transfer 10 is pending and has no pending state.
		{"update_of_missing_pending", func(w *rows) {
			w.updPending = append(w.updPending, ledger.Pending{ID: id(10), Status: ledger.PendingPosted})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := c.NewStore(t)
			defer s.Close()
			w := stored()
			tc.missing(&w)
			require.ErrorIs(t, write(s, w), ledger.ErrCorrupt, "into an empty store")
			assert.Equal(t, rows{}, contents(t, s), "nothing of the refused transaction")

			require.NoError(t, write(s, stored()))
			before := contents(t, s)
			w = same()
			tc.missing(&w)
			require.ErrorIs(t, write(s, w), ledger.ErrCorrupt, "on top of stored rows")
			assert.Equal(t, before, contents(t, s), "nothing of the refused transaction")
		})
	}

	t.Run("kept", func(t *testing.T) {
		s := c.NewStore(t)
		defer s.Close()
		stored := stored()
		require.NoError(t, write(s, stored))
		w := same()
		require.NoError(t, write(s, w), "rows naming rows of the same transaction")
		require.NoError(t, write(s, named), "rows naming stored rows")
		updated := stored.accounts[1]
		u := named.updAccounts[0]
		updated.DebitsPosted, updated.CreditsPosted, updated.Flags = u.DebitsPosted, u.CreditsPosted, u.Flags
		want := rows{
			accounts:  []ledger.Account{stored.accounts[0], updated, w.accounts[0]},
			transfers: append(append(stored.transfers, w.transfers...), named.transfers...),
			pending:   []ledger.Pending{named.pending[0], {ID: id(11), Status: ledger.PendingVoided}},
			history: []ledger.AccountBalance{stored.balances[0].AccountBalance, named.balances[0].AccountBalance,
				w.balances[0].AccountBalance},
			last: named.last,
		}
		assert.Equal(t, want, contents(t, s))
	})
}

// testSameAccountTransfer writes through the store itself, as no ledger
// would (the ledger refuses such a transfer with
// TransferAccountsMustBeDifferent): a transfer whose debit and credit
// account are the same (Tx), stored or inserted in the same transaction,
// fails Update with ledger.ErrCorrupt after one call of fn, and nothing
// of its transaction is kept, whether fn read Tx.LastTimestamp first or
// not.
func testSameAccountTransfer(t *testing.T, c Config) {
	transfer := func(v, debit, credit, ts uint64) ledger.Transfer {
		return ledger.Transfer{ID: id(v), DebitAccountID: id(debit), CreditAccountID: id(credit), Amount: 1,
			Ledger: 1, Code: 1, Timestamp: ts}
	}
	// Each write has account 3, transfer 10 from 1 to 2 and failed
	// transfer 12, which alone would be kept, and transfer 11.
	written := func(debit, credit uint64) rows {
		return rows{
			accounts:  []ledger.Account{{ID: id(3), Ledger: 1, Code: 1, Timestamp: 3}},
			transfers: []ledger.Transfer{transfer(10, 1, 2, 4), transfer(11, debit, credit, 5)},
			failed:    []ledger.FailedTransfer{{ID: id(12), Result: ledger.TransferExceedsCredits, Timestamp: 6}},
			last:      6,
		}
	}
	for _, tc := range []struct {
		name    string
		account uint64
		write   func(ledger.Store, rows) error
	}{
		{"stored_account", 1, write},
		{"account_of_same_transaction", 3, write},
		{"stored_account_without_read", 2, writeUnread},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := requireRefused(t, c, twoAccounts(), written(tc.account, tc.account), tc.write, true)
			assert.Empty(t, failedOf(t, s, id(12)), "the failed transfer of the refused transaction")
		})
	}

	t.Run("kept", func(t *testing.T) {
		s, _ := storeWith(t, c, twoAccounts())
		w := written(3, 1)
		require.NoError(t, write(s, w))
		assert.Equal(t, w.transfers, contents(t, s).transfers)
	})
}

// testRepeatedUpdates writes through the store itself, as no ledger
// would: an update that names the same account or pending state twice
// (Tx takes each at most once), next to each other or apart, fails Update
// with ledger.ErrCorrupt, and nothing of its transaction is kept.
func testRepeatedUpdates(t *testing.T, c Config) {
	tests := []struct {
		name   string
		update rows
	}{
		{"account_twice", rows{updAccounts: []ledger.Account{
			{ID: id(1), DebitsPosted: 1}, {ID: id(1), DebitsPosted: 2}}}},
		{"account_twice_apart", rows{updAccounts: []ledger.Account{
			{ID: id(1), DebitsPosted: 1}, {ID: id(2), CreditsPosted: 1}, {ID: id(1), DebitsPosted: 2}}}},
		{"pending_twice", rows{updPending: []ledger.Pending{
			{ID: id(11), Status: ledger.PendingPosted}, {ID: id(11), Status: ledger.PendingVoided}}}},
		{"pending_twice_apart", rows{updPending: []ledger.Pending{
			{ID: id(10), Status: ledger.PendingPosted}, {ID: id(11), Status: ledger.PendingVoided},
			{ID: id(10), Status: ledger.PendingVoided}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := c.NewStore(t)
			defer s.Close()
			// Accounts 1 and 2 and pending transfers 10 and 11 between
			// them, with their pending states.
			var stored rows
			for i, v := range []uint64{1, 2} {
				stored.accounts = append(stored.accounts, ledger.Account{ID: id(v), Ledger: 1, Code: 1, Timestamp: uint64(i + 1)})
			}
			for i, v := range []uint64{10, 11} {
				stored.transfers = append(stored.transfers, ledger.Transfer{ID: id(v), DebitAccountID: id(1),
					CreditAccountID: id(2), Amount: 1, Ledger: 1, Code: 1, Flags: ledger.TransferPending, Timestamp: uint64(i + 3)})
				stored.pending = append(stored.pending, ledger.Pending{ID: id(v), Status: ledger.PendingActive})
			}
			stored.last = 4
			require.NoError(t, write(s, stored))
			before := contents(t, s)
			// With a transfer, which must not be kept either.
			w := tc.update
			w.transfers = []ledger.Transfer{{ID: id(12), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 1,
				Ledger: 1, Code: 1, Timestamp: 5}}
			w.last = 5
			require.ErrorIs(t, write(s, w), ledger.ErrCorrupt)
			assert.Equal(t, before, contents(t, s), "nothing of the refused transaction")
		})
	}
}

// testRepeatedInserts writes through the store itself, as no ledger
// would: an insert of an account, a transfer, a pending state or a failed
// transfer whose ID is stored, or that the transaction inserts twice, of
// a transfer whose timestamp is, or of a balance history row whose
// account and timestamp are (the unique keys of Tx), fails Update with
// ledger.ErrCorrupt, and nothing of its transaction is kept. A key
// inserted twice is no clash with a concurrent transaction: Update runs
// fn once. Two balance history rows of one timestamp and two accounts
// (those of a transfer's two sides), and rows of one account at two
// timestamps, are kept.
func testRepeatedInserts(t *testing.T, c Config) {
	account := func(v, ts uint64) ledger.Account { return ledger.Account{ID: id(v), Ledger: 1, Code: 1, Timestamp: ts} }
	transfer := func(v, ts uint64) ledger.Transfer {
		return ledger.Transfer{ID: id(v), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 1, Ledger: 1, Code: 1,
			Flags: ledger.TransferPending, Timestamp: ts}
	}
	active := func(v uint64) ledger.Pending { return ledger.Pending{ID: id(v), Status: ledger.PendingActive} }
	failed := func(v, ts uint64) ledger.FailedTransfer {
		return ledger.FailedTransfer{ID: id(v), Result: ledger.TransferExceedsCredits, Timestamp: ts}
	}
	// The balances of account a after transfer v at ts (pending is the
	// amount the account holds then).
	balance := func(a, v, ts, pending uint64) ledger.BalanceRow {
		return ledger.BalanceRow{AccountBalance: ledger.AccountBalance{AccountID: id(a), DebitsPending: pending,
			Timestamp: ts}, TransferID: id(v)}
	}
	// Stored first: accounts 1 and 2, pending transfer 10 with its state,
	// the balances of both accounts after it, and failed transfer 11.
	stored := rows{
		accounts:  []ledger.Account{account(1, 1), account(2, 2)},
		transfers: []ledger.Transfer{transfer(10, 3)},
		pending:   []ledger.Pending{active(10)},
		balances:  []ledger.BalanceRow{balance(1, 10, 3, 1), balance(2, 10, 3, 1)},
		failed:    []ledger.FailedTransfer{failed(11, 4)},
		last:      4,
	}
	// Each write has account 3, pending transfer 20 with its state, the
	// balances of accounts 1 and 2 after it and failed transfer 21, which
	// alone would be kept, and one insert more (in ascending timestamp
	// order among the transfers, and among the balances).
	tests := []struct {
		name   string
		insert func(w *rows)
		twice  bool // inserted twice by the transaction, else stored
	}{
		{"stored_account", func(w *rows) { w.accounts = append(w.accounts, account(1, 8)) }, false},
		{"account_twice", func(w *rows) { w.accounts = append(w.accounts, account(3, 8)) }, true},
		{"stored_transfer", func(w *rows) { w.transfers = append(w.transfers, transfer(10, 8)) }, false},
		{"transfer_twice", func(w *rows) { w.transfers = append(w.transfers, transfer(20, 8)) }, true},
		{"stored_pending", func(w *rows) { w.pending = append(w.pending, active(10)) }, false},
		{"pending_twice", func(w *rows) { w.pending = append(w.pending, active(20)) }, true},
		{"stored_failed", func(w *rows) { w.failed = append(w.failed, failed(11, 8)) }, false},
		{"failed_twice", func(w *rows) { w.failed = append(w.failed, failed(21, 8)) }, true},
		{"stored_transfer_timestamp", func(w *rows) {
			w.transfers = append([]ledger.Transfer{transfer(22, 3)}, w.transfers...)
		}, false},
		{"transfer_timestamp_twice", func(w *rows) { w.transfers = append(w.transfers, transfer(22, 6)) }, true},
		{"stored_balance", func(w *rows) {
			w.balances = append([]ledger.BalanceRow{balance(1, 10, 3, 2)}, w.balances...)
		}, false},
		{"balance_twice", func(w *rows) { w.balances = append(w.balances, balance(2, 20, 6, 3)) }, true},
		{"balance_twice_in_a_row", func(w *rows) {
			w.balances = []ledger.BalanceRow{w.balances[0], balance(1, 20, 6, 3), w.balances[1]}
		}, true},
	}
	fresh := func() rows {
		return rows{
			accounts:  []ledger.Account{account(3, 5)},
			transfers: []ledger.Transfer{transfer(20, 6)},
			pending:   []ledger.Pending{active(20)},
			balances:  []ledger.BalanceRow{balance(1, 20, 6, 2), balance(2, 20, 6, 2)},
			failed:    []ledger.FailedTransfer{failed(21, 7)},
			last:      8,
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := fresh()
			tc.insert(&w)
			s := requireRefused(t, c, stored, w, write, tc.twice)
			assert.Equal(t, stored.failed, failedOf(t, s, id(11), id(21)), "the stored failed transfer alone")
		})
	}

	t.Run("kept", func(t *testing.T) {
		s, _ := storeWith(t, c, stored)
		w := fresh()
		require.NoError(t, write(s, w))
		got := contents(t, s)
		assert.Equal(t, append(stored.accounts, w.accounts...), got.accounts)
		assert.Equal(t, append(stored.transfers, w.transfers...), got.transfers)
		assert.Equal(t, append(stored.pending, w.pending...), got.pending)
		assert.Equal(t, []ledger.AccountBalance{ // by account, then timestamp
			stored.balances[0].AccountBalance, w.balances[0].AccountBalance,
			stored.balances[1].AccountBalance, w.balances[1].AccountBalance,
		}, got.history)
		assert.Equal(t, append(stored.failed, w.failed...), failedOf(t, s, id(11), id(21)))
	})
}

// requireRefused opens a store with stored, in which write(s, w) must
// fail with ledger.ErrCorrupt, after one call of fn when once, and keep
// nothing of w; it returns the store, which the test closes.
func requireRefused(t *testing.T, c Config, stored, w rows, write func(ledger.Store, rows) error, once bool) ledger.Store {
	t.Helper()
	s, before := storeWith(t, c, stored)
	counted := &callCounter{Store: s}
	require.ErrorIs(t, write(counted, w), ledger.ErrCorrupt)
	if once {
		assert.Equal(t, 1, counted.calls, "calls of fn")
	}
	assert.Equal(t, before, contents(t, s), "nothing of the refused transaction")
	return s
}

// callCounter is a store whose Update counts the calls of its fn.
type callCounter struct {
	ledger.Store
	calls int
}

func (c *callCounter) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	return c.Store.Update(ctx, func(tx ledger.Tx) error {
		c.calls++
		return fn(tx)
	})
}

// testPendingOfPlainTransfer writes through the store itself, as no
// ledger would: a pending state belongs to a pending transfer (Tx), so a
// pending state of a transfer stored without ledger.TransferPending, in
// the same transaction or before it, fails Update with ledger.ErrCorrupt,
// and nothing of its transaction is kept.
func testPendingOfPlainTransfer(t *testing.T, c Config) {
	transfer := func(v uint64, flags ledger.TransferFlags, ts uint64) ledger.Transfer {
		return ledger.Transfer{ID: id(v), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 1, Ledger: 1,
			Code: 1, Flags: flags, Timestamp: ts}
	}
	// Stored first: accounts 1 and 2, pending transfer 10 with its state,
	// transfer 11 that posts it and plain transfer 12.
	post := transfer(11, ledger.TransferPostPendingTransfer, 4)
	post.PendingID = id(10)
	stored := rows{
		accounts: []ledger.Account{
			{ID: id(1), Ledger: 1, Code: 1, Timestamp: 1},
			{ID: id(2), Ledger: 1, Code: 1, Timestamp: 2},
		},
		transfers: []ledger.Transfer{transfer(10, ledger.TransferPending, 3), post, transfer(12, 0, 5)},
		pending:   []ledger.Pending{{ID: id(10), Status: ledger.PendingPosted}},
		last:      5,
	}
	active := func(vs ...uint64) []ledger.Pending {
		var ps []ledger.Pending
		for _, v := range vs {
			ps = append(ps, ledger.Pending{ID: id(v), Status: ledger.PendingActive})
		}
		return ps
	}
	// Each write has pending transfer 20 and its state, which alone would
	// be kept.
	tests := []struct {
		name  string
		write rows
	}{
		{"stored_plain_transfer", rows{pending: active(12, 20)}},
		{"stored_posting_transfer", rows{pending: active(11, 20)}},
		{"plain_transfer_of_same_transaction", rows{
			transfers: []ledger.Transfer{transfer(21, 0, 7)},
			pending:   active(20, 21),
		}},
		{"voiding_transfer_of_same_transaction", rows{
			transfers: []ledger.Transfer{func() ledger.Transfer {
				v := transfer(21, ledger.TransferVoidPendingTransfer, 7)
				v.PendingID = id(20)
				return v
			}()},
			pending: active(20, 21),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, before := storeWith(t, c, stored)
			w := tc.write
			w.transfers = append([]ledger.Transfer{transfer(20, ledger.TransferPending, 6)}, w.transfers...)
			w.last = w.transfers[len(w.transfers)-1].Timestamp
			require.ErrorIs(t, write(s, w), ledger.ErrCorrupt)
			assert.Equal(t, before, contents(t, s), "nothing of the refused transaction")
		})
	}

	t.Run("kept", func(t *testing.T) {
		s := c.NewStore(t)
		defer s.Close()
		require.NoError(t, write(s, stored))
		w := rows{transfers: []ledger.Transfer{transfer(20, ledger.TransferPending, 6)}, pending: active(20), last: 6}
		require.NoError(t, write(s, w))
		want := contents(t, s)
		assert.Equal(t, append(stored.transfers, w.transfers...), want.transfers)
		assert.Equal(t, append(stored.pending, w.pending...), want.pending)
	})
}

// testWriteOrder writes through the store itself, in an order the ledger
// does not use: updates first, then inserts. A store must not depend on
// the order of the writes of one transaction (Tx): an update finds a row
// that the transaction inserts after it, and rows name rows inserted after
// them; an update of a row that is not stored is still refused with
// ledger.ErrCorrupt, and nothing of its transaction is kept.
func testWriteOrder(t *testing.T, c Config) {
	// Account 1, then in one transaction: updates of accounts 1 and 2 and
	// of the pending state of transfer 10, then balances of account 2
	// after transfer 10, transfer 10 from 1 to 2, its pending state, and
	// account 2.
	stored := rows{accounts: []ledger.Account{{ID: id(1), Ledger: 1, Code: 1, Timestamp: 1}}, last: 1}
	w := rows{
		accounts: []ledger.Account{{ID: id(2), Ledger: 1, Code: 1, Flags: ledger.AccountHistory, Timestamp: 2}},
		transfers: []ledger.Transfer{{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 3, Ledger: 1,
			Code: 1, Flags: ledger.TransferPending, Timestamp: 3}},
		pending: []ledger.Pending{{ID: id(10), Status: ledger.PendingActive}},
		balances: []ledger.BalanceRow{{AccountBalance: ledger.AccountBalance{AccountID: id(2), CreditsPending: 3,
			Timestamp: 3}, TransferID: id(10)}},
		updAccounts: []ledger.Account{{ID: id(1), DebitsPending: 3}, {ID: id(2), CreditsPending: 3, Flags: ledger.AccountHistory}},
		updPending:  []ledger.Pending{{ID: id(10), Status: ledger.PendingVoided}},
		last:        3,
	}
	t.Run("kept", func(t *testing.T) {
		s := c.NewStore(t)
		defer s.Close()
		require.NoError(t, write(s, stored))
		require.NoError(t, writeOrdered(s, w, true))
		a1, a2 := stored.accounts[0], w.accounts[0]
		a1.DebitsPending, a2.CreditsPending = 3, 3
		assert.Equal(t, rows{
			accounts:  []ledger.Account{a1, a2},
			transfers: w.transfers,
			pending:   w.updPending,
			history:   []ledger.AccountBalance{w.balances[0].AccountBalance},
			last:      w.last,
		}, contents(t, s))
	})

	for _, tc := range []struct {
		name    string
		missing func(w *rows)
	}{
		{"update_of_missing_account", func(w *rows) { w.updAccounts[1].ID = id(99) }},
		{"update_of_missing_pending", func(w *rows) { w.updPending[0].ID = id(99) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, before := storeWith(t, c, stored)
			w := w
			w.updAccounts = slices.Clone(w.updAccounts)
			w.updPending = slices.Clone(w.updPending)
			tc.missing(&w)
			require.ErrorIs(t, writeOrdered(s, w, true), ledger.ErrCorrupt)
			assert.Equal(t, before, contents(t, s), "nothing of the refused transaction")
		})
	}
}

// testIgnoredWriteError writes through the store itself, as no ledger
// would: fn ignores the error of a write method and returns nil. An insert
// of an ID that is stored, or given twice, is refused with
// ledger.ErrCorrupt (Tx): the write method fails, or Update does when it
// commits. Update then fails with the write's error, whatever fn returns,
// and nothing of the transaction is stored, neither the writes before the
// refused one nor those after it.
func testIgnoredWriteError(t *testing.T, c Config) {
	stored := twoAccounts()
	for _, tc := range []struct {
		name     string
		accounts []ledger.Account // the refused insert
	}{
		{"insert_of_stored_account", []ledger.Account{{ID: id(1), Ledger: 1, Code: 1, Timestamp: 3}}},
		{"insert_of_account_twice", []ledger.Account{
			{ID: id(3), Ledger: 1, Code: 1, Timestamp: 3}, {ID: id(3), Ledger: 1, Code: 1, Timestamp: 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, before := storeWith(t, c, stored)
			var werr error // the refused insert's error, nil when the store refuses it at commit
			err := s.Update(context.Background(), func(tx ledger.Tx) error {
				if _, err := tx.LastTimestamp(); err != nil {
					return err
				}
				// A transfer before the refused insert, a failed transfer,
				// an update and the timestamp after it.
				require.NoError(t, tx.InsertTransfers([]ledger.Transfer{{ID: id(10), DebitAccountID: id(1),
					CreditAccountID: id(2), Amount: 1, Ledger: 1, Code: 1, Timestamp: 5}}))
				werr = tx.InsertAccounts(tc.accounts)
				_ = tx.InsertFailed([]ledger.FailedTransfer{{ID: id(11), Result: ledger.TransferExceedsCredits, Timestamp: 6}})
				_ = tx.UpdateAccounts([]ledger.Account{{ID: id(2), CreditsPosted: 1}})
				_ = tx.SetLastTimestamp(6)
				return nil
			})
			require.ErrorIs(t, err, ledger.ErrCorrupt)
			if werr != nil {
				require.ErrorIs(t, err, werr, "the write's error")
			}
			assert.Equal(t, before, contents(t, s), "nothing of the refused transaction")
			assert.Empty(t, failedOf(t, s, id(11)), "the failed transfer written after the refused insert")
		})
	}
}

// testIgnoredReadError reads through the store itself, as no ledger
// would: a read fails (Config.FailReads), fn ignores its error, writes and
// returns nil. The transaction is lost as after a failed write (Tx):
// Update fails with the read's error and nothing of the transaction is
// stored.
func testIgnoredReadError(t *testing.T, c Config) {
	if c.FailReads == nil {
		t.Skip("the store's reads cannot fail")
	}
	stored := twoAccounts()
	s, before := storeWith(t, c, stored)
	c.FailReads(t, s)
	var rerr error // the failed read's error
	err := s.Update(context.Background(), func(tx ledger.Tx) error {
		if _, err := tx.LastTimestamp(); err != nil {
			return err
		}
		_, rerr = tx.FailedTransfers([]ledger.ID{id(10)})
		// An account, a transfer, an update and the timestamp after it.
		_ = tx.InsertAccounts([]ledger.Account{{ID: id(3), Ledger: 1, Code: 1, Timestamp: 3}})
		_ = tx.InsertTransfers([]ledger.Transfer{{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(3),
			Amount: 1, Ledger: 1, Code: 1, Timestamp: 4}})
		_ = tx.UpdateAccounts([]ledger.Account{{ID: id(1), DebitsPosted: 1}})
		_ = tx.SetLastTimestamp(4)
		return nil
	})
	require.Error(t, rerr, "the read")
	require.ErrorIs(t, err, rerr, "the read's error")
	assert.Equal(t, before, contents(t, s), "nothing of the lost transaction")
}

// testReleaseBeyondHeld writes straight to the store, as damage to its
// data would, an active pending transfer that holds more than one of its
// accounts has pending: its post, its void or its expiry would take that
// account's pending balance below zero (a uint64 wrapped to nearly 2^64).
// The ledger refuses such a batch with ledger.ErrCorrupt instead, and
// nothing of it is stored.
func testReleaseBeyondHeld(t *testing.T, c Config) {
	hold := func(timeout uint32) ledger.Transfer {
		return ledger.Transfer{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 5, Ledger: 1,
			Code: 1, Flags: ledger.TransferPending, Timeout: timeout, Timestamp: 3}
	}
	damaged := func(timeout uint32, debitsPending, creditsPending uint64) rows {
		h := hold(timeout)
		return rows{
			accounts: []ledger.Account{
				{ID: id(1), Ledger: 1, Code: 1, Timestamp: 1},
				{ID: id(2), Ledger: 1, Code: 1, Timestamp: 2},
			},
			transfers: []ledger.Transfer{h},
			pending:   []ledger.Pending{{ID: id(10), Status: ledger.PendingActive, ExpiresAt: h.ExpiresAt(), Timestamp: 3}},
			updAccounts: []ledger.Account{
				{ID: id(1), DebitsPending: debitsPending},
				{ID: id(2), CreditsPending: creditsPending},
			},
			last: 3,
		}
	}
	for _, tc := range []struct {
		name    string
		timeout uint32
		dp, cp  uint64 // the accounts' pending balances, one below the 5 held
		event   ledger.Transfer
	}{
		{"post_debit", 0, 4, 5, post(20, 10, ledger.AmountMax)},
		{"post_credit", 0, 5, 4, post(20, 10, 3)},
		{"void_debit", 0, 4, 5, void(20, 10)},
		{"void_credit", 0, 5, 0, void(20, 10)},
		{"expiry_debit", 1, 0, 5, ledger.Transfer{ID: id(20), DebitAccountID: id(2), CreditAccountID: id(1), Ledger: 1, Code: 1}},
		{"expiry_credit", 1, 5, 4, ledger.Transfer{ID: id(20), DebitAccountID: id(2), CreditAccountID: id(1), Ledger: 1, Code: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, c)
			require.NoError(t, write(e.store, damaged(tc.timeout, tc.dp, tc.cp)))
			before := contents(t, e.store)
			res, err := e.l.CreateTransfers(e.ctx(), []ledger.Transfer{tc.event})
			require.ErrorIs(t, err, ledger.ErrCorrupt, "results %v", res)
			assert.Equal(t, before, contents(t, e.store), "nothing of the refused batch")
		})
	}
}
