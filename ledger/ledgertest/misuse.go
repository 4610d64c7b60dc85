package ledgertest

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
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

// testNilContext: Update and View of the store, and every method of a
// Ledger over it that takes a context, given a nil context fail with
// ledger.ErrNilContext before they start anything (fn does not run), and
// the store and the Ledger work on as before: none is left holding a lock
// or a transaction.
func testNilContext(t *testing.T, c Config) {
	e := newEnv(t, c)
	var nilCtx context.Context
	err := e.store.Update(nilCtx, func(ledger.Tx) error {
		t.Error("Update ran fn")
		return nil
	})
	require.ErrorIs(t, err, ledger.ErrNilContext, "Update")
	err = e.store.View(nilCtx, func(ledger.ReadTx) error {
		t.Error("View ran fn")
		return nil
	})
	require.ErrorIs(t, err, ledger.ErrNilContext, "View")

	accts, err := e.l.CreateAccounts(nilCtx, standardAccounts())
	require.ErrorIs(t, err, ledger.ErrNilContext, "CreateAccounts")
	assert.Nil(t, accts)
	trs, err := e.l.CreateTransfers(nilCtx, []ledger.Transfer{tr(1, acctA, acctB, 1)})
	require.ErrorIs(t, err, ledger.ErrNilContext, "CreateTransfers")
	assert.Nil(t, trs)
	found, err := e.l.LookupAccounts(nilCtx, []ledger.ID{id(acctA)})
	require.ErrorIs(t, err, ledger.ErrNilContext, "LookupAccounts")
	assert.Nil(t, found)
	ts, err := e.l.LookupTransfers(nilCtx, []ledger.ID{id(1)})
	require.ErrorIs(t, err, ledger.ErrNilContext, "LookupTransfers")
	assert.Nil(t, ts)
	f := ledger.AccountFilter{AccountID: id(acctA), Limit: 10, Flags: ledger.AccountFilterDebits}
	ts, err = e.l.GetAccountTransfers(nilCtx, f)
	require.ErrorIs(t, err, ledger.ErrNilContext, "GetAccountTransfers")
	assert.Nil(t, ts)
	bs, err := e.l.GetAccountBalances(nilCtx, f)
	require.ErrorIs(t, err, ledger.ErrNilContext, "GetAccountBalances")
	assert.Nil(t, bs)
	require.ErrorIs(t, e.l.Verify(nilCtx), ledger.ErrNilContext, "Verify")

	// Nothing was created, and the store takes the same calls with a
	// context.
	found, err = e.l.LookupAccounts(e.ctx(), []ledger.ID{id(acctA)})
	require.NoError(t, err)
	assert.Empty(t, found)
	e.mustCreateAccounts(standardAccounts()...)
	e.mustTransfer(tr(1, acctA, acctB, 1))
	require.NoError(t, e.l.Verify(e.ctx()))
}

// testNilFunc: Update and View of the store given a nil fn fail with
// ledger.ErrNilFunc before they start anything, and the store works on as
// before: neither is left holding a lock or a transaction.
func testNilFunc(t *testing.T, c Config) {
	s, before := storeWith(t, c, twoAccounts())
	ctx := context.Background()
	require.ErrorIs(t, s.Update(ctx, nil), ledger.ErrNilFunc, "Update")
	require.ErrorIs(t, s.View(ctx, nil), ledger.ErrNilFunc, "View")
	assert.Equal(t, before, contents(t, s), "nothing written")
	require.NoError(t, write(s, accountAndTransfer()), "an Update after them")
}

// testClosedStore: once Close has returned, Update and View of the store
// fail with ledger.ErrClosed without running fn.
func testClosedStore(t *testing.T, c Config) {
	s := c.NewStore(t)
	require.NoError(t, s.Close())
	ctx := context.Background()
	err := s.Update(ctx, func(ledger.Tx) error {
		t.Error("Update ran fn")
		return nil
	})
	require.ErrorIs(t, err, ledger.ErrClosed, "Update")
	err = s.View(ctx, func(ledger.ReadTx) error {
		t.Error("View ran fn")
		return nil
	})
	require.ErrorIs(t, err, ledger.ErrClosed, "View")
}

// testLimitRange: the reads that take a limit (ReadTx.AccountTransfers,
// AccountBalances and BalanceRows, Tx.ExpiredPending) refuse one outside
// [1, ledger.BatchMax] with ledger.ErrLimit, in View and in Update alike.
// In Update the refusal is a failed read, which loses the transaction:
// Update fails with it even when fn ignored it, and stores nothing of fn's
// writes. The limits 1 and BatchMax are taken.
func testLimitRange(t *testing.T, c Config) {
	s, before := storeWith(t, c, twoAccounts(), accountAndTransfer())
	ctx := context.Background()
	filter := func(limit int) ledger.AccountFilter {
		return ledger.AccountFilter{AccountID: id(1), TimestampMin: 1, TimestampMax: ledger.TimestampLimit, Limit: limit,
			Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits}
	}
	reads := []struct {
		name string
		read func(tx ledger.ReadTx, limit int) error
		tx   bool // a read of Tx alone, which View has not
	}{
		{"AccountTransfers", func(tx ledger.ReadTx, limit int) error {
			_, err := tx.AccountTransfers(filter(limit))
			return err
		}, false},
		{"AccountBalances", func(tx ledger.ReadTx, limit int) error {
			_, err := tx.AccountBalances(filter(limit))
			return err
		}, false},
		{"BalanceRows", func(tx ledger.ReadTx, limit int) error {
			_, err := tx.BalanceRows(ledger.ID{}, 0, limit)
			return err
		}, false},
		{"ExpiredPending", func(tx ledger.ReadTx, limit int) error {
			_, err := tx.(ledger.Tx).ExpiredPending(ledger.TimestampLimit, limit)
			return err
		}, true},
	}
	for _, r := range reads {
		for _, limit := range []int{0, -1, math.MinInt, ledger.BatchMax + 1, math.MaxInt} {
			if !r.tx {
				err := s.View(ctx, func(tx ledger.ReadTx) error { return r.read(tx, limit) })
				require.ErrorIs(t, err, ledger.ErrLimit, "%s in View, limit %d", r.name, limit)
			}
			var rerr error
			err := s.Update(ctx, func(tx ledger.Tx) error {
				last, err := tx.LastTimestamp()
				if err != nil {
					return err
				}
				rerr = r.read(tx, limit)
				return writeRows(tx, rows{accounts: []ledger.Account{{ID: id(4), Ledger: 1, Code: 1, Timestamp: last + 1}},
					last: last + 1}, false)
			})
			require.ErrorIs(t, rerr, ledger.ErrLimit, "%s in Update, limit %d", r.name, limit)
			require.ErrorIs(t, err, ledger.ErrLimit, "Update whose fn ignored the refused %s, limit %d", r.name, limit)
		}
		for _, limit := range []int{1, ledger.BatchMax} {
			if !r.tx {
				err := s.View(ctx, func(tx ledger.ReadTx) error { return r.read(tx, limit) })
				require.NoError(t, err, "%s in View, limit %d", r.name, limit)
			}
			err := s.Update(ctx, func(tx ledger.Tx) error {
				if _, err := tx.LastTimestamp(); err != nil {
					return err
				}
				return r.read(tx, limit)
			})
			require.NoError(t, err, "%s in Update, limit %d", r.name, limit)
		}
	}
	assert.Equal(t, before, contents(t, s), "nothing written")
}
