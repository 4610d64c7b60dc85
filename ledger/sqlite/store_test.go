package sqlite

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	driver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/casimpay/casimpay/internal/sqlitedb"
	"github.com/casimpay/casimpay/internal/sqlitewrite/sqlitewritetest"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore/sqltest"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := Open(context.Background(), path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "garbage.db")
	require.NoError(t, os.WriteFile(notDB, []byte("this is not a SQLite database file, just text that is long enough"), 0o600))
	tests := []struct {
		name string
		path string
	}{
		{"empty path", ""},
		{"missing directory", filepath.Join(dir, "no", "such", "dir", "ledger.db")},
		{"directory", dir},
		{"not a database", notDB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), tt.path, Options{})
			require.Error(t, err)
			assert.Nil(t, s)
		})
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	require.NoError(t, s.Close())
	for range 3 {
		s, err := Open(ctx, path, Options{})
		require.NoError(t, err)
		var n, max int
		require.NoError(t, s.conn.QueryRowContext(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &max))
		assert.Equal(t, len(sqltest.Migrations(t, migrationFS)), n)
		assert.Equal(t, len(sqltest.Migrations(t, migrationFS)), max)
		require.NoError(t, s.Close())
	}
}

// TestSchemaTooNew: a file whose recorded version of the ledger's schema
// is past the migrations of this package is refused with ErrSchemaTooNew,
// naming the file and both versions, and left as it was.
func TestSchemaTooNew(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	_, err := s.conn.ExecContext(ctx, `INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ('ledger', 99, 'future', 0)`)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	rows, schema := fileState(t, path)
	_, err = Open(ctx, path, Options{})
	require.ErrorIs(t, err, ErrSchemaTooNew)
	assert.EqualError(t, err, fmt.Sprintf("sqlite: open %s: sqlite: database schema is newer than this program: version 99, known up to %d",
		path, len(sqltest.Migrations(t, migrationFS))))
	gotRows, gotSchema := fileState(t, path)
	assert.Equal(t, rows, gotRows)
	assert.Equal(t, schema, gotSchema)
}

// TestOtherComponentMigrations checks that the migrations of another
// component in the same database do not count as the ledger's.
func TestOtherComponentMigrations(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	_, err := s.conn.ExecContext(ctx, `INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ('payflow', 99, 'other', 0)`)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s, err = Open(ctx, path, Options{})
	require.NoError(t, err)
	defer s.Close()
	var max int
	require.NoError(t, s.conn.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations WHERE component = 'ledger'`).Scan(&max))
	assert.Equal(t, len(sqltest.Migrations(t, migrationFS)), max)
}

// TestMigrateHistory opens a database at schema version 1 with balance
// history rows: the migration gives each row the transfer at its
// timestamp, and a row without one matches every filter.
func TestMigrateHistory(t *testing.T) { testMigration(t, sqltest.MigrateHistory) }

// TestMigratePending opens a database at schema version 2 with active
// pending states that expire at the same time: the migration gives each
// state its transfer's timestamp, and the sweep finds them in that order.
func TestMigratePending(t *testing.T) { testMigration(t, sqltest.MigratePending) }

// TestMigrateCorruptExpiry opens a database at schema version 3 with an
// active pending state whose expiry time reads negative: the migrated
// index holds it, and the sweep, which reads that index, fails with
// ledger.ErrCorrupt.
func TestMigrateCorruptExpiry(t *testing.T) {
	requireSweepIndexed(t, testMigration(t, sqltest.MigrateCorruptExpiry))
}

// testMigration runs m, a migration test of sqltest, on a new database
// file, and returns its path.
func testMigration(t *testing.T, m sqltest.MigrationTest) string {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	exec := func(q string, args ...any) error {
		_, err := db.ExecContext(ctx, q, args...)
		return err
	}
	m(t, sqlstore.SQLite, migrationFS, exec, func() ledger.Store {
		require.NoError(t, db.Close())
		s, err := Open(ctx, path, Options{})
		require.NoError(t, err)
		return s
	})
	return path
}

// TestExpiredPendingIndexed: the expiry sweep, which every batch runs,
// reads the due pending states from index pending_expiry in the order it
// returns them, without sorting them.
func TestExpiredPendingIndexed(t *testing.T) {
	_, path := openTemp(t)
	requireSweepIndexed(t, path)
}

// requireSweepIndexed checks that the expiry sweep on the database at
// path reads index pending_expiry in order, without sorting.
func requireSweepIndexed(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	require.NoError(t, err)
	defer db.Close()
	plan, err := sqlitedb.QueryPlan(context.Background(), db, sqlstore.ExpiredPendingQuery(sqlstore.SQLite), 1, 10)
	require.NoError(t, err)
	assert.Contains(t, plan, "INDEX pending_expiry (expires_at>? AND expires_at<?)")
	assert.NotContains(t, plan, "TEMP B-TREE")
}

func TestPragmas(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	for _, db := range []struct {
		name string
		q    func(string) (string, error)
	}{
		{"writer", func(p string) (v string, err error) { return v, s.conn.QueryRowContext(ctx, "PRAGMA "+p).Scan(&v) }},
		{"reader", func(p string) (v string, err error) { return v, s.r.QueryRowContext(ctx, "PRAGMA "+p).Scan(&v) }},
	} {
		for pragma, want := range map[string]string{
			"journal_mode":       "wal",
			"synchronous":        "2", // FULL
			"foreign_keys":       "1",
			"busy_timeout":       "5000",
			"page_size":          "1024",
			"temp_store":         "2", // MEMORY
			"wal_autocheckpoint": "16384",
		} {
			got, err := db.q(pragma)
			require.NoError(t, err)
			assert.Equal(t, want, got, "%s %s", db.name, pragma)
		}
	}
}

// TestTwoStoresOneFile runs two stores, as two processes would, on one
// database file: their ledgers write concurrently, every transfer is
// created exactly once and the result verifies.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := context.Background()
	a, path := openTemp(t)
	b, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	defer b.Close()
	la, err := ledger.New(a, ledger.Options{})
	require.NoError(t, err)
	defer la.Close()
	lb, err := ledger.New(b, ledger.Options{})
	require.NoError(t, err)
	defer lb.Close()
	acct := []ledger.Account{
		{ID: ledger.IDFromUint64(1), Ledger: 1, Code: 1},
		{ID: ledger.IDFromUint64(2), Ledger: 1, Code: 1},
	}
	res, err := la.CreateAccounts(ctx, acct)
	require.NoError(t, err)
	assert.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountCreated}, res)

	const perLedger = 200
	errs := make(chan error, 2*perLedger)
	for i := range 2 * perLedger {
		l := la
		if i%2 == 1 {
			l = lb
		}
		go func() {
			tr := ledger.Transfer{ID: ledger.IDFromUint64(uint64(100 + i%perLedger)), DebitAccountID: acct[0].ID,
				CreditAccountID: acct[1].ID, Amount: 1, Ledger: 1, Code: 1}
			// Both ledgers submit each ID once: one creates it, the other
			// finds it.
			res, err := l.CreateTransfers(ctx, []ledger.Transfer{tr})
			if err == nil && res[0] != ledger.TransferCreated && res[0] != ledger.TransferExists {
				err = fmt.Errorf("transfer %d: %v", i, res[0])
			}
			errs <- err
		}()
	}
	for range 2 * perLedger {
		require.NoError(t, <-errs)
	}
	got, err := lb.LookupAccounts(ctx, []ledger.ID{acct[0].ID, acct[1].ID})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, uint64(perLedger), got[0].DebitsPosted)
	assert.Equal(t, uint64(perLedger), got[1].CreditsPosted)
	require.NoError(t, la.Verify(ctx))
}

// TestLastTimestampMissing checks that a database without its ledger_state
// row (damaged, or not a ledger's) fails the writes and Verify with
// ledger.ErrCorrupt (sqltest.NoState).
func TestLastTimestampMissing(t *testing.T) {
	s, _ := openTemp(t)
	_, err := s.conn.ExecContext(context.Background(), `DELETE FROM ledger_state`)
	require.NoError(t, err)
	sqltest.NoState(t, s, "sqlite: ledger: store inconsistent: no ledger_state row: the database is damaged or not a ledger's")
}

// TestIgnoredFailureLosesTransaction: a call of tx that fails without a
// statement failing (a last timestamp that cannot be read, one set that
// is not past the last, a transfer whose debit and credit account are the
// same) loses the transaction: the later writes
// fail with its error, and Update fails with it though fn ignores it and
// returns nil; nothing is stored.
func TestIgnoredFailureLosesTransaction(t *testing.T) {
	tests := []struct {
		name  string
		setup string // run on the writer before the Update, "": none
		call  func(ledger.Tx) error
		err   string
	}{
		{"last timestamp missing", `DELETE FROM ledger_state`,
			func(tx ledger.Tx) error { _, err := tx.LastTimestamp(); return err },
			"sqlite: ledger: store inconsistent: no ledger_state row: the database is damaged or not a ledger's"},
		{"last timestamp not past", "",
			func(tx ledger.Tx) error { return tx.SetLastTimestamp(0) },
			"sqlite: ledger: store inconsistent: last timestamp 0 set, not past the last one"},
		{"transfer of one account", "",
			func(tx ledger.Tx) error {
				return tx.InsertTransfers([]ledger.Transfer{{ID: ledger.IDFromUint64(10), DebitAccountID: ledger.IDFromUint64(2),
					CreditAccountID: ledger.IDFromUint64(2), Amount: 1, Ledger: 1, Code: 1, Timestamp: 1}})
			},
			fmt.Sprintf("sqlite: ledger: store inconsistent: transfer %v debits and credits the same account %v",
				ledger.IDFromUint64(10), ledger.IDFromUint64(2))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openReaders(t, 1)
			if tt.setup != "" {
				_, err := s.conn.ExecContext(context.Background(), tt.setup)
				require.NoError(t, err)
			}
			var failed, later error
			err := s.Update(context.Background(), func(tx ledger.Tx) error {
				failed = tt.call(tx)
				later = tx.InsertAccounts([]ledger.Account{viewAccount(1)})
				return nil
			})
			require.EqualError(t, failed, tt.err)
			assert.ErrorIs(t, failed, ledger.ErrCorrupt)
			assert.Equal(t, failed, later)
			assert.Equal(t, failed, err)
			assert.Zero(t, viewAccounts(t, s, 1))
		})
	}
}

// TestInsertTransfersAfterLoss: once a write has failed and lost the
// transaction, InsertTransfers returns that write's error, as every write
// method does, even for a transfer whose debit and credit account are the
// same, and so does a read, without running; Update fails with it, though
// a read given a limit out of range then fails with ledger.ErrLimit.
func TestInsertTransfersAfterLoss(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	acct := ledger.Account{ID: ledger.IDFromUint64(1), Ledger: 1, Code: 1, Timestamp: 1}
	require.NoError(t, s.Update(ctx, func(tx ledger.Tx) error { return tx.InsertAccounts([]ledger.Account{acct}) }))
	var lost, got, read, refused error
	var accounts []ledger.Account
	err := s.Update(ctx, func(tx ledger.Tx) error {
		lost = tx.InsertAccounts([]ledger.Account{acct}) // a stored ID
		got = tx.InsertTransfers([]ledger.Transfer{{ID: ledger.IDFromUint64(10), DebitAccountID: acct.ID,
			CreditAccountID: acct.ID, Amount: 1, Ledger: 1, Code: 1, Timestamp: 2}})
		accounts, read = tx.Accounts([]ledger.ID{acct.ID})
		_, refused = tx.ExpiredPending(1, -1)
		return nil
	})
	var sqliteErr *driver.Error
	require.ErrorAs(t, lost, &sqliteErr)
	assert.ErrorIs(t, lost, ledger.ErrCorrupt)
	assert.Equal(t, lost, got)
	assert.Equal(t, lost, read)
	assert.Empty(t, accounts)
	assert.ErrorIs(t, refused, ledger.ErrLimit)
	assert.Equal(t, lost, err)
}

// TestInsertCheckFails: a value that a column's CHECK constraint refuses
// (an amount past the int64 range, which no ledger writes) fails the
// insert, and Update, with the driver's constraint error, not with
// ledger.ErrCorrupt, which only the key constraints wrap; nothing is
// stored.
func TestInsertCheckFails(t *testing.T) {
	s := openReaders(t, 1)
	acct := viewAccount(1)
	acct.DebitsPosted = math.MaxUint64
	var insertErr error
	err := s.Update(context.Background(), func(tx ledger.Tx) error {
		insertErr = tx.InsertAccounts([]ledger.Account{acct})
		return insertErr
	})
	var sqliteErr *driver.Error
	require.ErrorAs(t, err, &sqliteErr)
	assert.Equal(t, sqlite3.SQLITE_CONSTRAINT_CHECK, sqliteErr.Code())
	assert.NotErrorIs(t, err, ledger.ErrCorrupt)
	assert.Equal(t, insertErr, err)
	assert.Zero(t, viewAccounts(t, s, 1))
}

// TestUpdateAccountsRefused: UpdateAccounts of an account given twice,
// in the rows of one statement or of two (three rows are written as two
// and one), or of an account that is not stored, fails Update with
// ledger.ErrCorrupt, and nothing of the transaction is stored.
func TestUpdateAccountsRefused(t *testing.T) {
	one, two, three := viewAccount(1), viewAccount(2), viewAccount(3)
	one.Flags, two.Flags, three.Flags = 1, 1, 1
	tests := []struct {
		name    string
		updates []ledger.Account
		err     string
	}{
		{"twice in one statement", []ledger.Account{one, one},
			"sqlite: ledger: store inconsistent: 1 of 2 accounts rows to update do not exist"},
		{"twice in two statements", []ledger.Account{one, two, one},
			fmt.Sprintf("sqlite: ledger: store inconsistent: accounts row %v to update given twice", one.ID)},
		{"not stored", []ledger.Account{one, two, three},
			"sqlite: ledger: store inconsistent: 1 of 3 accounts rows to update do not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openReaders(t, 1)
			insertAccount(t, s, 1)
			insertAccount(t, s, 2)
			err := s.Update(context.Background(), func(tx ledger.Tx) error {
				require.NoError(t, tx.InsertAccounts([]ledger.Account{viewAccount(4)}))
				return tx.UpdateAccounts(tt.updates)
			})
			require.ErrorIs(t, err, ledger.ErrCorrupt)
			require.EqualError(t, err, tt.err)
			require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
				got, err := tx.Accounts([]ledger.ID{one.ID, two.ID, viewAccount(4).ID})
				assert.Equal(t, []ledger.Account{viewAccount(1), viewAccount(2)}, got)
				return err
			}))
		})
	}
}

// TestOpenTakesTurnsWithWriters: opening the store while another writer of
// the same process (a payflow/sqlite Store) holds the file's write lock
// waits for the in-process lock, as every write of the store does, rather
// than failing once the busy timeout of one millisecond runs out.
func TestOpenTakesTurnsWithWriters(t *testing.T) {
	ctx := context.Background()
	first, path := openTemp(t)
	require.NoError(t, first.Close())

	done := sqlitewritetest.HoldWrite(t, path, 100*time.Millisecond)
	s, err := Open(ctx, path, Options{BusyTimeout: time.Millisecond})
	require.NoError(t, <-done)
	require.NoError(t, err)
	require.NoError(t, s.Close())
}

// TestUpdateContextEnds: a transaction whose context ends before it
// commits is rolled back and fails with the context's error, and the next
// one runs on the writer connection as usual.
func TestUpdateContextEnds(t *testing.T) {
	s, _ := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	acct := ledger.Account{ID: ledger.IDFromUint64(1), Ledger: 1, Code: 1}
	err := s.Update(ctx, func(tx ledger.Tx) error {
		require.NoError(t, tx.InsertAccounts([]ledger.Account{acct}))
		cancel()
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	err = s.Update(context.Background(), func(tx ledger.Tx) error {
		got, err := tx.Accounts([]ledger.ID{acct.ID})
		require.NoError(t, err)
		assert.Empty(t, got)
		return tx.SetLastTimestamp(7)
	})
	require.NoError(t, err)
	require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
		got, err := tx.Accounts([]ledger.ID{acct.ID})
		assert.Empty(t, got)
		return err
	}))
}

// TestUpdateBeginWaitsForContext: while another process holds the file's
// write lock, Update's BEGIN waits for it no longer than its context, even
// when the busy timeout is longer, and fails with the context's error.
func TestUpdateBeginWaitsForContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := Open(context.Background(), path, Options{BusyTimeout: time.Hour})
	require.NoError(t, err)
	defer s.Close()
	// Another process's writer: a connection outside the in-process lock.
	dsn, err := sqlitedb.DSN(path, false)
	require.NoError(t, err)
	other, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	defer other.Close()
	conn, err := other.Conn(context.Background())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(context.Background(), "BEGIN IMMEDIATE")
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	ran := false
	err = s.Update(ctx, func(ledger.Tx) error { ran = true; return nil })
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, ran)

	_, err = conn.ExecContext(context.Background(), "ROLLBACK")
	require.NoError(t, err)
	require.NoError(t, s.Update(context.Background(), func(tx ledger.Tx) error { return tx.SetLastTimestamp(1) }))
}

// TestUpdateLockWaitsForContext: an Update that waits for the write lock,
// which another Update of the store holds, fails with its context's error
// when the context ends meanwhile, without running its fn or touching the
// other's transaction, which then commits, and the lock is free for the
// next Update. Run in a synctest bubble, which tells when an Update waits.
func TestUpdateLockWaitsForContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openWith(t, Options{noSync: true})
		release, first := heldCall(func(hold func()) error {
			return s.Update(context.Background(), func(tx ledger.Tx) error {
				hold()
				return tx.InsertAccounts([]ledger.Account{viewAccount(1)})
			})
		})
		ctx, cancel := context.WithCancel(context.Background())
		waited := make(chan error, 1)
		ran := false
		go func() { waited <- s.Update(ctx, func(ledger.Tx) error { ran = true; return nil }) }()
		synctest.Wait() // the second Update waits for the lock
		cancel()
		require.EqualError(t, <-waited, "sqlite: begin: context canceled")
		assert.False(t, ran)
		close(release)
		require.NoError(t, <-first)
		insertAccount(t, s, 2)
		assert.Equal(t, 2, viewAccounts(t, s, 2))
	})
}

// cancelHook is called by the SQL function test_ledger_cancel(), which
// returns 0: a statement that ends its transaction's context while it
// runs.
var cancelHook atomic.Pointer[context.CancelFunc]

func init() {
	driver.MustRegisterScalarFunction("test_ledger_cancel", 0, func(*driver.FunctionContext, []sqldriver.Value) (sqldriver.Value, error) {
		if f := cancelHook.Load(); f != nil {
			(*f)()
		}
		return int64(0), nil
	})
}

// TestUpdateInterrupted: a statement whose context ends while it runs is
// interrupted, Update fails with the context's error and keeps nothing of
// the transaction, and the writer connection, which the store keeps,
// serves the next Update.
func TestUpdateInterrupted(t *testing.T) {
	s, _ := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelHook.Store(&cancel)
	defer cancelHook.Store(nil)
	acct := ledger.Account{ID: ledger.IDFromUint64(1), Ledger: 1, Code: 1}
	err := s.Update(ctx, func(tx ledger.Tx) error {
		require.NoError(t, tx.InsertAccounts([]ledger.Account{acct}))
		// Counts to 10^9 unless interrupted.
		return tx.(*writeTx).query(`WITH RECURSIVE c(x) AS (SELECT test_ledger_cancel() UNION ALL
			SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c`, nil,
			func(sqlstore.Scanner) error { return nil })
	})
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, s.Update(context.Background(), func(tx ledger.Tx) error {
		got, err := tx.Accounts([]ledger.ID{acct.ID})
		require.NoError(t, err)
		assert.Empty(t, got)
		return tx.InsertAccounts([]ledger.Account{acct})
	}))
	require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
		got, err := tx.Accounts([]ledger.ID{acct.ID})
		assert.Len(t, got, 1)
		return err
	}))
}

// TestVerifyFindsLastTimestampBehind: a ledger_state row whose last
// timestamp was set back below the timestamps stored, from which the next
// transaction could assign a timestamp again, is a problem Verify finds.
func TestVerifyFindsLastTimestampBehind(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	l, err := ledger.New(s, ledger.Options{})
	require.NoError(t, err)
	defer l.Close()
	res, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: ledger.IDFromUint64(1), Ledger: 1, Code: 1},
		{ID: ledger.IDFromUint64(2), Ledger: 1, Code: 1},
	})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountCreated}, res)
	require.NoError(t, l.Verify(ctx))
	_, err = s.conn.ExecContext(ctx, `UPDATE ledger_state SET last_timestamp = 0 WHERE id = 1`)
	require.NoError(t, err)
	err = l.Verify(ctx)
	require.ErrorIs(t, err, ledger.ErrCorrupt)
	var ve *ledger.VerifyError
	require.ErrorAs(t, err, &ve)
	assert.Len(t, ve.Problems, 1)
}

// openCorrupt opens a store and a sqltest.Corrupt that writes beside it a
// value above ledger.AmountLimit and ledger.TimestampLimit, as the
// negative integer with its 64 bits (the form in which the store keeps
// unsigned integers; the STRICT tables take no number past the 64-bit
// integers), with the checks off.
func openCorrupt(t *testing.T) (ledger.Store, sqltest.Corrupt) {
	s, _ := openTemp(t)
	return s, func(t *testing.T, table, column string) {
		_, err := s.conn.ExecContext(context.Background(), fmt.Sprintf(`PRAGMA ignore_check_constraints = ON;
			UPDATE %[1]s SET %[2]s = -1 - %[2]s; PRAGMA ignore_check_constraints = OFF`, table, column))
		require.NoError(t, err)
	}
}

// TestOverLimit: a balance or an amount above ledger.AmountLimit written
// beside the store (openCorrupt) fails the reads, the writes and Verify
// with ledger.ErrCorrupt (sqltest.OverLimit).
func TestOverLimit(t *testing.T) { sqltest.OverLimit(t, openCorrupt) }

// TestTimestampOverLimit: a timestamp, an expiry time or the last
// timestamp above ledger.TimestampLimit, or a negative timeout, written
// beside the store (openCorrupt), fails the reads, the account filters
// that match the row, the posts, voids and expiries, the writes and
// Verify with ledger.ErrCorrupt (sqltest.TimestampOverLimit).
func TestTimestampOverLimit(t *testing.T) { sqltest.TimestampOverLimit(t, openCorrupt) }

// TestCloseClosesDatabases: once Close has returned, the databases of the
// writer and of the read pool, both of which have served, are closed:
// neither has a connection open, the read connection that the pool kept
// free included, nor opens one again.
func TestCloseClosesDatabases(t *testing.T) {
	s := openReaders(t, 2)
	insertAccount(t, s, 1)
	require.Equal(t, 1, viewAccounts(t, s, 1))
	require.Len(t, s.reads.free, 1)
	require.NoError(t, s.Close())
	for name, db := range map[string]*sql.DB{"writer": s.w, "read pool": s.r} {
		assert.Zero(t, db.Stats().OpenConnections, name)
		assert.EqualError(t, db.PingContext(context.Background()), "sql: database is closed", name)
	}
}

// TestCloseWaitsForUpdate: Close waits for an Update under way, whose fn
// still reads and writes and whose commit is stored, and an Update that
// starts once Close has been called fails with ledger.ErrClosed. Run in a
// synctest bubble, which tells when Close waits.
func TestCloseWaitsForUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ledger.db")
		closing := make(chan struct{})
		s, err := Open(context.Background(), path, Options{closing: func() { close(closing) }})
		require.NoError(t, err)
		acct := ledger.Account{ID: ledger.IDFromUint64(1), Ledger: 1, Code: 1}
		release, updated := heldCall(func(hold func()) error {
			return s.Update(context.Background(), func(tx ledger.Tx) error {
				hold()
				if _, err := tx.LastTimestamp(); err != nil {
					return err
				}
				if err := tx.SetLastTimestamp(1); err != nil {
					return err
				}
				return tx.InsertAccounts([]ledger.Account{acct})
			})
		})
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		<-closing
		ran := false
		err = s.Update(context.Background(), func(ledger.Tx) error { ran = true; return nil })
		require.ErrorIs(t, err, ledger.ErrClosed)
		assert.False(t, ran)
		requireCloseWaits(t, closed, release)
		require.NoError(t, <-updated)
		require.NoError(t, <-closed)
		require.ErrorIs(t, s.Update(context.Background(), func(ledger.Tx) error { return nil }), ledger.ErrClosed)

		s, err = Open(context.Background(), path, Options{})
		require.NoError(t, err)
		defer s.Close()
		require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
			last, err := tx.LastTimestamp()
			require.NoError(t, err)
			assert.Equal(t, uint64(1), last)
			got, err := tx.Accounts([]ledger.ID{acct.ID})
			require.NoError(t, err)
			assert.Equal(t, []ledger.Account{acct}, got)
			return nil
		}))
	})
}
