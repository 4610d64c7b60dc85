package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	driver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/casimpay/casimpay/internal/sqlfault"
	"github.com/casimpay/casimpay/internal/sqlitedb"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/ledgertest"
)

// refusedUpdate makes an Update on fl's Store that inserts account id and
// then fails with errRefused, with the statements numbered n and those
// following it (more of them) failed, for n = 1, 2, … until the first
// that fails is its ROLLBACK.
func refusedUpdate(t *testing.T, fl *faultyLedger, id uint64, more int) {
	t.Helper()
	ctx := context.Background()
	for n := 1; ; n++ {
		at := []int{n}
		for i := range more {
			at = append(at, n+1+i)
		}
		fl.f.Arm(at...)
		err := fl.s.Update(ctx, func(tx ledger.Tx) error {
			if err := tx.InsertAccounts([]ledger.Account{ledgertest.FaultAccount(id, 0)}); err != nil {
				return err
			}
			return errRefused
		})
		failed := fl.f.Failure()
		fl.f.Arm()
		require.NotEmpty(t, failed, "%d statements run, ROLLBACK not failed", n-1)
		if failed == "exec ROLLBACK" {
			require.ErrorIs(t, err, errRefused)
			return
		}
	}
}

var errRefused = errors.New("refused")

// otherWriter returns a connection to s's file, another process's, that
// does not wait for the write lock.
func otherWriter(t *testing.T, s *Store) *sql.DB {
	t.Helper()
	dsn, err := sqlitedb.DSN(s.path, false, "busy_timeout(0)")
	require.NoError(t, err)
	other, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { other.Close() })
	return other
}

// accountCount returns the number of accounts that other reads, in a
// write transaction (BEGIN IMMEDIATE), or its error when it cannot take
// the write lock.
func accountCount(other *sql.DB) (int, error) {
	ctx := context.Background()
	tx, err := other.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var accounts int
	err = tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&accounts)
	return accounts, err
}

// TestRollbackFailsOnce: an Update whose fn fails, and whose ROLLBACK
// then fails once, fails with fn's error and leaves no transaction open
// on the file: another connection (another process's) takes the write
// lock at once, without waiting for the Store's next write, and finds
// nothing of the Update stored.
func TestRollbackFailsOnce(t *testing.T) {
	fl := newFaultyLedger(t)
	refusedUpdate(t, fl, 1, 0)
	accounts, err := accountCount(otherWriter(t, fl.s))
	require.NoError(t, err, "the write lock")
	assert.Zero(t, accounts)
}

// TestRollbackFailsTwice: an Update whose fn fails, and whose ROLLBACK
// fails twice, leaves its transaction open, holding the write lock,
// which another connection then fails to take (SQLITE_BUSY) until the
// Store's next Update rolls it back and commits its own, without the
// rows of the first.
func TestRollbackFailsTwice(t *testing.T) {
	fl := newFaultyLedger(t)
	other := otherWriter(t, fl.s)
	refusedUpdate(t, fl, 1, 1)
	_, err := accountCount(other)
	var serr *driver.Error
	require.ErrorAs(t, err, &serr)
	assert.Equal(t, sqlite3.SQLITE_BUSY, serr.Code())

	require.NoError(t, fl.s.Update(context.Background(), func(tx ledger.Tx) error {
		return tx.InsertAccounts([]ledger.Account{ledgertest.FaultAccount(2, 0)})
	}))
	accounts, err := accountCount(other)
	require.NoError(t, err, "the write lock")
	assert.Equal(t, 1, accounts)
	got, err := fl.l.LookupAccounts(context.Background(), []ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, ledger.IDFromUint64(2), got[0].ID)
}

// TestViewEndFails: a View whose COMMIT fails returns what it read. When
// its ROLLBACK then succeeds, its connection, outside its transaction, is
// kept for the next View; when the ROLLBACK fails too, the connection,
// which may be inside its transaction, is closed rather than kept: the
// next View reads on another.
func TestViewEndFails(t *testing.T) {
	for _, rollbackFails := range []bool{false, true} {
		t.Run(fmt.Sprint("ROLLBACK fails ", rollbackFails), func(t *testing.T) {
			viewEndFails(t, rollbackFails)
		})
	}
}

func viewEndFails(t *testing.T, rollbackFails bool) {
	ctx := context.Background()
	for n := 1; ; n++ { // on a new store each time, whose reads number alike
		fl := newFaultyLedger(t)
		ledgertest.FaultSetup(ledgertest.FaultAccounts())(t, fl.l, fl.clock)
		open := fl.s.r.Stats().OpenConnections
		if rollbackFails {
			fl.f.Arm(n, n+1)
		} else {
			fl.f.Arm(n)
		}
		got, err := fl.l.LookupAccounts(ctx, ledgertest.FaultIDs())
		failed := fl.f.Failure()
		fl.f.Arm()
		require.NotEmpty(t, failed, "%d statements run, COMMIT not failed", n-1)
		if failed != "exec COMMIT" {
			continue
		}
		require.NoError(t, err)
		want := ledgertest.FaultAccounts()
		for i := range want {
			want[i].Timestamp = got[i].Timestamp
		}
		assert.Equal(t, want, got)
		if !rollbackFails {
			assert.Equal(t, open, fl.s.r.Stats().OpenConnections, "the connection kept")
			assert.Len(t, fl.s.reads.free, 1)
			return
		}
		assert.Equal(t, open-1, fl.s.r.Stats().OpenConnections, "the connection closed")
		again, err := fl.l.LookupAccounts(ctx, ledgertest.FaultIDs())
		require.NoError(t, err)
		assert.Equal(t, got, again)
		assert.Equal(t, open, fl.s.r.Stats().OpenConnections, "another connection")
		return
	}
}

// TestCommitFails: an Update whose COMMIT fails fails with COMMIT's error,
// wrapped as a commit's and not as ledger.ErrCorrupt, and stores nothing
// of its fn's writes; the next Update commits.
func TestCommitFails(t *testing.T) {
	ctx := context.Background()
	fl := newFaultyLedger(t)
	insert := func(tx ledger.Tx) error {
		return tx.InsertAccounts([]ledger.Account{ledgertest.FaultAccount(1, 0)})
	}
	for n := 1; ; n++ {
		fl.f.Arm(n)
		err := fl.s.Update(ctx, insert)
		failed := fl.f.Failure()
		fl.f.Arm()
		require.NotEmpty(t, failed, "%d statements run, COMMIT not failed", n-1)
		if failed != "exec COMMIT" {
			continue
		}
		require.EqualError(t, err, fmt.Sprintf("sqlite: commit: statement %d, exec COMMIT: statement failed", n))
		assert.ErrorIs(t, err, sqlfault.ErrStatement)
		assert.NotErrorIs(t, err, ledger.ErrCorrupt)
		break
	}
	accounts, err := accountCount(fl.plain)
	require.NoError(t, err)
	assert.Zero(t, accounts)
	require.NoError(t, fl.s.Update(ctx, insert))
	accounts, err = accountCount(fl.plain)
	require.NoError(t, err)
	assert.Equal(t, 1, accounts)
}

// TestPendingCheckReads: the check of the pending states that an Update
// inserts reads no transfer when the Update inserts the transfer too (a
// hold with its pending state), and reads the stored one otherwise; a
// read that fails there fails the Update with its error, and nothing of
// it is stored.
func TestPendingCheckReads(t *testing.T) {
	ctx := context.Background()
	fl := newFaultyLedger(t)
	hold := func(v uint64) ledger.Transfer {
		return ledger.Transfer{ID: ledger.IDFromUint64(v), DebitAccountID: ledger.IDFromUint64(1),
			CreditAccountID: ledger.IDFromUint64(2), Amount: 1, Ledger: 1, Code: 1, Flags: ledger.TransferPending, Timestamp: v}
	}
	pending := func(v uint64) []ledger.Pending {
		return []ledger.Pending{{ID: ledger.IDFromUint64(v), Status: ledger.PendingActive, Timestamp: v}}
	}
	require.NoError(t, fl.s.Update(ctx, func(tx ledger.Tx) error {
		return tx.InsertAccounts([]ledger.Account{viewAccount(1), viewAccount(2)})
	}))
	var ran []string
	fl.f.After(func(what string) { ran = append(ran, what) })
	require.NoError(t, fl.s.Update(ctx, func(tx ledger.Tx) error {
		if err := tx.InsertTransfers([]ledger.Transfer{hold(10), hold(11)}); err != nil {
			return err
		}
		return tx.InsertPending(pending(10))
	}))
	fl.f.After(nil)
	for _, what := range ran {
		assert.False(t, strings.HasPrefix(what, "query "), "%s run", what)
	}

	for n := 1; ; n++ {
		fl.f.Arm(n)
		err := fl.s.Update(ctx, func(tx ledger.Tx) error { return tx.InsertPending(pending(11)) })
		failed := fl.f.Failure()
		fl.f.Arm()
		require.NotEmpty(t, failed, "%d statements run, no read failed", n-1)
		if !strings.HasPrefix(failed, "query ") {
			continue
		}
		require.ErrorIs(t, err, sqlfault.ErrStatement)
		break
	}
	var states int
	require.NoError(t, fl.plain.QueryRowContext(ctx, `SELECT count(*) FROM pending`).Scan(&states))
	assert.Equal(t, 1, states, "the pending state of transfer 10 alone")
}
