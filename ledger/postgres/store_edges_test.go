package postgres

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore"
)

// TestDefaultRetries: with Options.MaxRetries zero, Update reruns a
// transaction that fails with a unique violation 10 times, then fails
// with ledger.ErrCorrupt and the violation.
func TestDefaultRetries(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	insertAccount(t, s, account(1))
	calls := 0
	err := s.Update(ctx, func(tx ledger.Tx) error {
		calls++
		return tx.InsertAccounts([]ledger.Account{account(1)})
	})
	requireSQLState(t, err, codeUniqueViolation)
	assert.ErrorIs(t, err, ledger.ErrCorrupt)
	assert.Equal(t, 11, calls)
}

// TestMaxConns: Options.MaxConns sizes the pool; zero leaves the size
// that the DSN names (pool_max_conns), else pgx's default, the greater of
// 4 and runtime.NumCPU() (not GOMAXPROCS).
func TestMaxConns(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	for _, tc := range []struct {
		name string
		dsn  string
		opts Options
		want int32
	}{
		{"option", dsn, Options{MaxConns: 3}, 3},
		{"option_over_dsn", dsn + "&pool_max_conns=5", Options{MaxConns: 2}, 2},
		{"dsn", dsn + "&pool_max_conns=5", Options{}, 5},
		{"default", dsn, Options{}, max(4, int32(runtime.NumCPU()))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(ctx, tc.dsn, tc.opts)
			require.NoError(t, err)
			defer s.Close()
			assert.Equal(t, tc.want, s.pool.Stat().MaxConns())
		})
	}
}

// TestClosedFailsAtOnce: Update and View after Close fail with
// ledger.ErrClosed itself, before they ask the pool for a connection.
func TestClosedFailsAtOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	require.NoError(t, s.Close())
	s.beforeAcquire = func() { t.Error("a closed Store asks for a connection") }
	ran := false
	assert.Equal(t, ledger.ErrClosed, s.Update(ctx, func(ledger.Tx) error { ran = true; return nil }))
	assert.Equal(t, ledger.ErrClosed, s.View(ctx, func(ledger.ReadTx) error { ran = true; return nil }))
	assert.False(t, ran)
}

// TestRetryWaitEnded: when ctx ends before the wait for a rerun, Update
// fails with an error wrapping both the transaction's and ctx's, and
// does not run fn again.
func TestRetryWaitEnded(t *testing.T) {
	s, _ := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err := s.Update(ctx, func(ledger.Tx) error {
		calls++
		cancel()
		return &pgconn.PgError{Code: "40001"}
	})
	requireSQLState(t, err, "40001")
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, calls)
}

// TestOpenNoSchema: Open fails, with the server's error, when the
// connection's search_path names no schema that exists, where
// schema_migrations cannot be created (invalid_schema_name, 3F000).
func TestOpenNoSchema(t *testing.T) {
	dsn := testenv.PostgresDSN(t) + "&search_path=no_such_schema_casimpay"
	s, err := Open(context.Background(), dsn, Options{})
	assert.Nil(t, s)
	requireSQLState(t, err, "3F000")
	assert.True(t, strings.HasPrefix(err.Error(), "postgres: migrate: "), "error %q", err)
}

// TestErrorClasses: the SQLSTATE codes that Update and migrate tell
// apart.
func TestErrorClasses(t *testing.T) {
	codes := []string{codeUniqueViolation, codeForeignKeyViolation, codeInvalidText, codeDuplicateTable, codeDuplicateObject, "40001"}
	for _, tc := range []struct {
		name string
		is   func(error) bool
		want []string
	}{
		{"isUniqueViolation", isUniqueViolation, []string{"23505"}},
		{"isForeignKeyViolation", isForeignKeyViolation, []string{"23503"}},
		{"isRefused", isRefused, []string{"22P02"}},
		{"isDuplicateTable", isDuplicateTable, []string{"42P07", "42710"}},
	} {
		var got []string
		for _, c := range codes {
			if tc.is(fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: c})) {
				got = append(got, c)
			}
		}
		assert.Equal(t, tc.want, got, tc.name)
		assert.False(t, tc.is(errors.New(tc.want[0])), "%s of an error without a SQLSTATE", tc.name)
	}
}

// TestRollbackTimeout: the ROLLBACK of a transaction that Update or View
// gives up waits at most 5 s, as their docs say. TestRollbackBounded
// shows that it is bounded by rollbackTimeout, whatever its value.
func TestRollbackTimeout(t *testing.T) {
	assert.Equal(t, 5*time.Second, rollbackTimeout)
}

// TestUpdateFailedKeepsConnection: an Update that fails, its transaction
// open (fn failed after its first read, or the server refused a write of
// an fn that read nothing), rolls it back and hands its connection back
// to the pool, open: no connection is closed, and none opened for the
// next call.
func TestUpdateFailedKeepsConnection(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		fn   func(tx ledger.Tx) error
		want func(t *testing.T, err error)
	}{
		{"after_last_timestamp", func(tx ledger.Tx) error {
			if _, err := tx.LastTimestamp(); err != nil {
				return err
			}
			return boom
		}, func(t *testing.T, err error) { assert.Equal(t, boom, err) }},
		{"after_read", func(tx ledger.Tx) error {
			if _, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1)}); err != nil {
				return err
			}
			return boom
		}, func(t *testing.T, err error) { assert.Equal(t, boom, err) }},
		{"write_refused", func(tx ledger.Tx) error {
			return tx.UpdateAccounts([]ledger.Account{account(9)})
		}, func(t *testing.T, err error) {
			requireSQLState(t, err, codeInvalidText)
			assert.ErrorIs(t, err, ledger.ErrCorrupt)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, _ := openTemp(t)
			insertAccount(t, s, account(1))
			before := s.pool.Stat()
			require.Equal(t, int32(1), before.TotalConns())

			tc.want(t, s.Update(ctx, tc.fn))
			after := s.pool.Stat()
			assert.Equal(t, before.TotalConns(), after.TotalConns(), "connections in the pool")
			assert.Equal(t, before.IdleConns(), after.IdleConns(), "idle connections in the pool")

			insertAccount(t, s, account(2))
			assert.Equal(t, before.NewConnsCount(), s.pool.Stat().NewConnsCount(), "connections opened")
			assert.Equal(t, uint64(2), storedLastTimestamp(t, s))
		})
	}
}

// TestFirstRefusal: of the writes that Update refuses before it sends
// them, a key given twice and a transfer of one account, the first one
// that fn gave is reported.
func TestFirstRefusal(t *testing.T) {
	ctx := context.Background()
	one := ledger.IDFromUint64(1)
	sameAccount := []ledger.Transfer{{ID: ledger.IDFromUint64(5), DebitAccountID: one, CreditAccountID: one,
		Amount: 1, Ledger: 1, Code: 1, Timestamp: 5}}
	twice := func(tx ledger.Tx) error { return tx.InsertAccounts([]ledger.Account{account(1)}) }
	transfer := func(tx ledger.Tx) error { return tx.InsertTransfers(sameAccount) }
	for _, tc := range []struct {
		name          string
		first, second func(tx ledger.Tx) error
		want          string
	}{
		{"twice_first", twice, transfer, fmt.Sprintf("postgres: write: %v: account %v inserted twice", ledger.ErrCorrupt, one)},
		{"same_account_first", transfer, twice, "postgres: write: " + sqlstore.SameAccount(sameAccount).Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTemp(t)
			err := s.Update(ctx, func(tx ledger.Tx) error {
				return errors.Join(tx.InsertAccounts([]ledger.Account{account(1), account(2)}), tc.first(tx), tc.second(tx))
			})
			require.ErrorIs(t, err, ledger.ErrCorrupt)
			assert.EqualError(t, err, tc.want)
		})
	}
}

// TestSameIDInTables: the IDs of accounts and of transfers are keys of
// their own tables: a transfer may have the ID of an account inserted in
// the same transaction.
func TestSameIDInTables(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	tr := ledger.Transfer{ID: ledger.IDFromUint64(1), DebitAccountID: ledger.IDFromUint64(1),
		CreditAccountID: ledger.IDFromUint64(2), Amount: 1, Ledger: 1, Code: 1, Timestamp: 3}
	require.NoError(t, s.Update(ctx, func(tx ledger.Tx) error {
		return errors.Join(tx.InsertAccounts([]ledger.Account{account(1), account(2)}), tx.InsertTransfers([]ledger.Transfer{tr}))
	}))
	require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
		got, err := tx.Transfers([]ledger.ID{tr.ID})
		assert.Equal(t, []ledger.Transfer{tr}, got)
		return err
	}))
}

// TestViewSnapshot: a View's reads see one snapshot, without what an
// Update commits meanwhile.
func TestViewSnapshot(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	insertAccount(t, s, account(1))
	ids := []ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)}
	require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
		first, err := tx.Accounts(ids)
		require.NoError(t, err)
		require.Equal(t, []ledger.Account{account(1)}, first)
		insertAccount(t, s, account(2))
		again, err := tx.Accounts(ids)
		assert.Equal(t, first, again)
		return err
	}))
}

// TestFailedBeginLosesTransaction: a read whose BEGIN fails (ctx ended
// before fn's first read) loses the transaction as a read that fails
// does: the later reads fail with its error, and Update with it, though
// fn ignored it.
func TestFailedBeginLosesTransaction(t *testing.T) {
	s, _ := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var readErr, tsErr error
	err := s.Update(ctx, func(tx ledger.Tx) error {
		cancel()
		_, readErr = tx.Accounts([]ledger.ID{ledger.IDFromUint64(1)})
		_, tsErr = tx.LastTimestamp()
		return nil
	})
	require.ErrorIs(t, readErr, context.Canceled)
	assert.True(t, strings.HasPrefix(readErr.Error(), "postgres: begin: "), "read error %q", readErr)
	assert.Equal(t, readErr, tsErr)
	assert.Equal(t, readErr, err)
}

// TestLockAccountsLocks: LockAccounts returns the accounts in ascending ID
// order, and holds their rows until the transaction ends.
func TestLockAccountsLocks(t *testing.T) {
	ctx := context.Background()
	s, dsn := openTemp(t)
	insertAccount(t, s, account(1))
	insertAccount(t, s, account(2))
	other, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer other.Close(ctx)
	require.NoError(t, s.Update(ctx, func(tx ledger.Tx) error {
		got, err := tx.LockAccounts([]ledger.ID{ledger.IDFromUint64(2), ledger.IDFromUint64(1)})
		require.NoError(t, err)
		assert.Equal(t, []ledger.Account{account(1), account(2)}, got)
		for _, a := range got {
			_, err := other.Exec(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE NOWAIT`, a.ID[:])
			var pgErr *pgconn.PgError
			if assert.ErrorAs(t, err, &pgErr, "account %v", a.ID) {
				assert.Equal(t, "55P03", pgErr.Code, "account %v", a.ID) // lock_not_available
			}
		}
		return nil
	}))
}

// TestCloseClosesPool: Close closes the pool's connections; a second
// Close does nothing and returns nil.
func TestCloseClosesPool(t *testing.T) {
	s, _ := openTemp(t)
	require.NoError(t, s.View(context.Background(), func(ledger.ReadTx) error { return nil }))
	require.Equal(t, int32(1), s.pool.Stat().TotalConns())
	require.NoError(t, s.Close())
	assert.Zero(t, s.pool.Stat().TotalConns())
	assert.NoError(t, s.Close())
}

// TestReadsAfterFailedRead: once a read of Update's transaction failed,
// the later reads, LastTimestamp among them, fail with its error without
// being sent, a read refused before it is sent fails with its own
// refusal, and Update fails with the first read's error though fn ignored
// them all.
func TestReadsAfterFailedRead(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	_, err := s.pool.Exec(ctx, `ALTER TABLE failed_transfers RENAME TO failed_transfers_away`)
	require.NoError(t, err)
	var readErr, accountsErr, tsErr, limitErr error
	err = s.Update(ctx, func(tx ledger.Tx) error {
		if _, err := tx.LastTimestamp(); err != nil {
			return err
		}
		_, readErr = tx.FailedTransfers([]ledger.ID{ledger.IDFromUint64(1)})
		_, accountsErr = tx.Accounts([]ledger.ID{ledger.IDFromUint64(1)})
		_, tsErr = tx.LastTimestamp()
		_, limitErr = tx.ExpiredPending(1, 0)
		return nil
	})
	requireSQLState(t, readErr, "42P01") // undefined_table
	assert.Equal(t, readErr, accountsErr)
	assert.Equal(t, readErr, tsErr)
	assert.ErrorIs(t, limitErr, ledger.ErrLimit)
	assert.Equal(t, readErr, err)
}

// TestIgnoredLastTimestampError: an Update whose fn ignores the failure
// of LastTimestamp (here the server's: no ledger_state table) and writes
// nothing fails with it.
func TestIgnoredLastTimestampError(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	_, err := s.pool.Exec(ctx, `ALTER TABLE ledger_state RENAME TO ledger_state_away`)
	require.NoError(t, err)
	var tsErr error
	err = s.Update(ctx, func(tx ledger.Tx) error {
		_, tsErr = tx.LastTimestamp()
		return nil
	})
	requireSQLState(t, tsErr, "42P01") // undefined_table
	assert.Equal(t, tsErr, err)
}

// TestPendingOfInsertedPlainTransfer: a pending state of a transfer that
// the same transaction inserts without ledger.TransferPending fails
// Update with ledger.ErrCorrupt before the writes are sent
// (sqlstore.PendingCheck), and nothing is stored.
func TestPendingOfInsertedPlainTransfer(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	tr := ledger.Transfer{ID: ledger.IDFromUint64(10), DebitAccountID: ledger.IDFromUint64(1),
		CreditAccountID: ledger.IDFromUint64(2), Amount: 1, Ledger: 1, Code: 1, Timestamp: 3}
	err := s.Update(ctx, func(tx ledger.Tx) error {
		return errors.Join(tx.InsertAccounts([]ledger.Account{account(1), account(2)}), tx.InsertTransfers([]ledger.Transfer{tr}),
			tx.InsertPending([]ledger.Pending{{ID: tr.ID, Status: ledger.PendingActive, Timestamp: 3}}))
	})
	require.ErrorIs(t, err, ledger.ErrCorrupt)
	var pgErr *pgconn.PgError
	assert.False(t, errors.As(err, &pgErr), "no statement sent: %v", err)
	assert.EqualError(t, err, fmt.Sprintf("postgres: write: %v: pending state of transfer %v, inserted without the pending flag",
		ledger.ErrCorrupt, tr.ID))
	require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
		got, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)})
		assert.Empty(t, got)
		return err
	}))
}
