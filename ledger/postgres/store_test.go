package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlmigrate"
	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore/sqltest"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	dsn := testenv.PostgresSchema(t)
	s, err := Open(context.Background(), dsn, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, dsn
}

func TestRows(t *testing.T) {
	sqltest.Run(t, func(t *testing.T) ledger.Store {
		s, _ := openTemp(t)
		return s
	}, func(t *testing.T, closed ledger.Store) ledger.Store {
		s, err := Open(context.Background(), closed.(*Store).dsn, Options{})
		require.NoError(t, err)
		return s
	})
}

func TestOpenErrors(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tests := []struct {
		name   string
		dsn    string
		prefix string // of the error
	}{
		{"unparsable", "postgres://%zz", "postgres: parse dsn: "},
		{"unknown parameter value", dsn + "&sslmode=bogus", "postgres: parse dsn: "},
		{"nobody listening", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", "postgres: connect: "},
		{"unknown database", strings.Replace(dsn, "/test?", "/no_such_database_casimpay?", 1), "postgres: connect: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(ctx, tt.dsn, Options{})
			require.Error(t, err)
			assert.Nil(t, s)
			assert.True(t, strings.HasPrefix(err.Error(), tt.prefix), "error %q, want prefix %q", err, tt.prefix)
		})
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	ctx := context.Background()
	s, dsn := openTemp(t)
	require.NoError(t, s.Close())
	for range 3 {
		s, err := Open(ctx, dsn, Options{})
		require.NoError(t, err)
		var n, max int
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &max))
		assert.Equal(t, len(sqltest.Migrations(t, migrationFS)), n)
		assert.Equal(t, len(sqltest.Migrations(t, migrationFS)), max)
		require.NoError(t, s.Close())
	}
}

// TestMigrationsConcurrent opens one empty schema from several pools at
// once, as several processes starting together do.
func TestMigrationsConcurrent(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	const n = 6
	errs := make(chan error, n)
	stores := make(chan *Store, n)
	for range n {
		go func() {
			s, err := Open(ctx, dsn, Options{MaxConns: 2})
			errs <- err
			stores <- s
		}()
	}
	for range n {
		require.NoError(t, <-errs)
		s := <-stores
		defer s.Close()
	}
	s, err := Open(ctx, dsn, Options{})
	require.NoError(t, err)
	defer s.Close()
	var count int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&count))
	assert.Equal(t, len(sqltest.Migrations(t, migrationFS)), count)
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM ledger_state`).Scan(&count))
	assert.Equal(t, 1, count)
}

// TestLastTimestampMissing checks that a database without its ledger_state
// row (damaged, or not a ledger's) fails the writes and Verify with
// ledger.ErrCorrupt (sqltest.NoState).
func TestLastTimestampMissing(t *testing.T) {
	s, _ := openTemp(t)
	_, err := s.pool.Exec(context.Background(), `DELETE FROM ledger_state`)
	require.NoError(t, err)
	sqltest.NoState(t, s, "postgres: ledger: store inconsistent: no ledger_state row: the database is damaged or not a ledger's")
}

func TestSchemaTooNew(t *testing.T) {
	ctx := context.Background()
	s, dsn := openTemp(t)
	_, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ('ledger', 99, 'future', now())`)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = Open(ctx, dsn, Options{})
	require.ErrorIs(t, err, ErrSchemaTooNew)
	ms, merr := sqlmigrate.Read(migrationFS, "migrations")
	require.NoError(t, merr)
	assert.EqualError(t, err, fmt.Sprintf("%v: version 99, known up to %d", ErrSchemaTooNew, len(ms)))
}

// TestOtherComponentMigrations checks that the migrations of another
// component in the same database do not count as the ledger's.
func TestOtherComponentMigrations(t *testing.T) {
	ctx := context.Background()
	s, dsn := openTemp(t)
	_, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ('payflow', 99, 'other', now())`)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s, err = Open(ctx, dsn, Options{})
	require.NoError(t, err)
	defer s.Close()
	var max int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT max(version) FROM schema_migrations WHERE component = 'ledger'`).Scan(&max))
	assert.Equal(t, len(sqltest.Migrations(t, migrationFS)), max)
}

// TestMigrateHistory opens a schema at version 1 with balance history
// rows: the migration gives each row the transfer at its timestamp, and a
// row without one matches every filter.
func TestMigrateHistory(t *testing.T) { testMigration(t, sqltest.MigrateHistory) }

// TestMigratePending opens a schema at version 2 with active pending
// states that expire at the same time: the migration gives each state its
// transfer's timestamp, and the sweep finds them in that order.
func TestMigratePending(t *testing.T) { testMigration(t, sqltest.MigratePending) }

// TestMigrateCorruptExpiry opens a database at schema version 3 with an
// active pending state whose expiry time reads negative: the migrated
// index holds it, and the sweep, which reads that index, fails with
// ledger.ErrCorrupt.
func TestMigrateCorruptExpiry(t *testing.T) {
	requireSweepIndexed(t, testMigration(t, sqltest.MigrateCorruptExpiry))
}

// testMigration runs m, a migration test of sqltest, on a new schema,
// and returns its DSN.
func testMigration(t *testing.T, m sqltest.MigrationTest) string {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	exec := func(q string, args ...any) error {
		_, err := conn.Exec(ctx, q, args...)
		return err
	}
	m(t, sqlstore.Postgres, migrationFS, exec, func() ledger.Store {
		require.NoError(t, conn.Close(ctx))
		s, err := Open(ctx, dsn, Options{})
		require.NoError(t, err)
		return s
	})
	return dsn
}

// TestExpiredPendingIndexed: the expiry sweep, which every batch runs,
// reads the due pending states from index pending_expiry in the order it
// returns them, without sorting them.
func TestExpiredPendingIndexed(t *testing.T) {
	_, dsn := openTemp(t)
	requireSweepIndexed(t, dsn)
}

// requireSweepIndexed checks that the expiry sweep on the schema of dsn
// reads index pending_expiry in order, without sorting.
func requireSweepIndexed(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "SET enable_seqscan = off") // the tables are empty
	require.NoError(t, err)
	rows, err := conn.Query(ctx, "EXPLAIN "+sqlstore.ExpiredPendingQuery(sqlstore.Postgres), int64(1), int64(10))
	require.NoError(t, err)
	var plan []string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan = append(plan, line)
	}
	require.NoError(t, rows.Err())
	assert.Contains(t, fmt.Sprint(plan), "Index Only Scan using pending_expiry")
	assert.NotContains(t, fmt.Sprint(plan), "Sort")
}

// TestRetryBounded makes every attempt fail with a unique violation: Update
// reruns fn exactly MaxRetries times and returns the engine's error,
// wrapped in ledger.ErrCorrupt (fn inserts a stored key).
func TestRetryBounded(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	s, err := Open(ctx, dsn, Options{MaxRetries: 3})
	require.NoError(t, err)
	defer s.Close()
	acct := []ledger.Account{{ID: ledger.IDFromUint64(1), Ledger: 1, Code: 1, Timestamp: 1}}
	require.NoError(t, s.Update(ctx, func(tx ledger.Tx) error {
		if _, err := tx.LastTimestamp(); err != nil {
			return err
		}
		return tx.InsertAccounts(acct)
	}))
	calls := 0
	err = s.Update(ctx, func(tx ledger.Tx) error {
		calls++
		if _, err := tx.LastTimestamp(); err != nil {
			return err
		}
		return tx.InsertAccounts(acct)
	})
	requireSQLState(t, err, codeUniqueViolation)
	assert.ErrorIs(t, err, ledger.ErrCorrupt)
	assert.Equal(t, 4, calls)

	// An error of fn itself is returned at once.
	calls = 0
	err = s.Update(ctx, func(tx ledger.Tx) error { calls++; return ledger.ErrClosed })
	require.ErrorIs(t, err, ledger.ErrClosed)
	assert.Equal(t, 1, calls)
}

// TestRepeatedInsertNotRetried inserts one unique key twice in one
// transaction, in two calls of an insert method: an account's ID, a
// transfer's timestamp, a balance history row's account and timestamp.
// Update fails with ledger.ErrCorrupt before it sends the writes (no
// unique violation), runs fn once, and stores nothing of the transaction.
func TestRepeatedInsertNotRetried(t *testing.T) {
	ctx := context.Background()
	tr := func(v, ts uint64) ledger.Transfer {
		return ledger.Transfer{ID: ledger.IDFromUint64(v), DebitAccountID: ledger.IDFromUint64(1),
			CreditAccountID: ledger.IDFromUint64(2), Amount: 1, Ledger: 1, Code: 1, Timestamp: ts}
	}
	bal := func(a, ts uint64) ledger.BalanceRow {
		return ledger.BalanceRow{AccountBalance: ledger.AccountBalance{AccountID: ledger.IDFromUint64(a), Timestamp: ts},
			TransferID: ledger.IDFromUint64(10)}
	}
	tests := []struct {
		name  string
		twice func(tx ledger.Tx) error // the repeated key, after accounts 1 to 3 and transfer 10 at 4
	}{
		{"account_id", func(tx ledger.Tx) error { return tx.InsertAccounts([]ledger.Account{account(2)}) }},
		{"transfer_timestamp", func(tx ledger.Tx) error { return tx.InsertTransfers([]ledger.Transfer{tr(11, 4)}) }},
		{"balance_history_row", func(tx ledger.Tx) error {
			return errors.Join(tx.InsertBalances([]ledger.BalanceRow{bal(1, 4), bal(2, 4)}),
				tx.InsertBalances([]ledger.BalanceRow{bal(2, 4)}))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTemp(t)
			calls := 0
			err := s.Update(ctx, func(tx ledger.Tx) error {
				calls++
				if _, err := tx.LastTimestamp(); err != nil {
					return err
				}
				return errors.Join(tx.InsertAccounts([]ledger.Account{account(1), account(2), account(3)}),
					tx.InsertTransfers([]ledger.Transfer{tr(10, 4)}), tc.twice(tx), tx.SetLastTimestamp(4))
			})
			require.ErrorIs(t, err, ledger.ErrCorrupt)
			var pgErr *pgconn.PgError
			assert.False(t, errors.As(err, &pgErr), "no statement sent: %v", err)
			assert.Equal(t, 1, calls)
			require.NoError(t, s.Update(ctx, func(tx ledger.Tx) error {
				ts, err := tx.LastTimestamp()
				assert.Zero(t, ts)
				got, rerr := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2), ledger.IDFromUint64(3)})
				assert.Empty(t, got)
				return errors.Join(err, rerr)
			}))
		})
	}
}

// TestConcurrentWriters runs many Updates at once on one pool: each reads
// the timestamp and moves one unit between two accounts; all of them must
// apply exactly once.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	a, b := ledger.IDFromUint64(1), ledger.IDFromUint64(2)
	require.NoError(t, s.Update(ctx, func(tx ledger.Tx) error {
		if _, err := tx.LastTimestamp(); err != nil {
			return err
		}
		if err := tx.InsertAccounts([]ledger.Account{{ID: a, Ledger: 1, Code: 1, Timestamp: 1}, {ID: b, Ledger: 1, Code: 1, Timestamp: 2}}); err != nil {
			return err
		}
		return tx.SetLastTimestamp(2)
	}))
	const n = 40
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- s.Update(ctx, func(tx ledger.Tx) error {
				ts, err := tx.LastTimestamp()
				if err != nil {
					return err
				}
				accts, err := tx.LockAccounts([]ledger.ID{a, b})
				if err != nil {
					return err
				}
				for j := range accts {
					if accts[j].ID == a {
						accts[j].DebitsPosted++
					} else {
						accts[j].CreditsPosted++
					}
				}
				if err := tx.UpdateAccounts(accts); err != nil {
					return err
				}
				id := ledger.IDFromUint64(uint64(100 + i))
				if err := tx.InsertTransfers([]ledger.Transfer{{ID: id, DebitAccountID: a, CreditAccountID: b, Amount: 1, Ledger: 1, Code: 1, Timestamp: ts + 1}}); err != nil {
					return err
				}
				return tx.SetLastTimestamp(ts + 1)
			})
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
	require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
		accts, err := tx.Accounts([]ledger.ID{a, b})
		require.NoError(t, err)
		require.Len(t, accts, 2)
		for _, acc := range accts {
			assert.Equal(t, uint64(n), acc.DebitsPosted+acc.CreditsPosted)
		}
		count := 0
		require.NoError(t, tx.ForEachTransfer(func(ledger.Transfer) error { count++; return nil }))
		assert.Equal(t, n, count)
		return nil
	}))
}

// TestWriteOnlyUpdateWaits runs an Update whose fn writes without reading
// LastTimestamp (having read nothing, or an account first) while another
// Update holds the ledger_state lock: its fn read LastTimestamp and waits.
// The write-only Update must send that lock before its first write, so it
// waits for the other to commit (the test sees it blocked by the other's
// backend in pg_locks) and writes only after it. Once released, the first
// Update writes the account the second writes too: were the second's
// writes sent before its lock, it would hold that account's row while
// waiting for the lock the first holds, and the two would deadlock until
// the server aborted one, whose fn would then run again. So each fn runs
// once, except where the second inserts the account the first inserted:
// its insert meets the stored row, a unique violation, which Update
// reruns fn for (MaxRetries times, once here) and then reports as
// ledger.ErrCorrupt.
func TestWriteOnlyUpdateWaits(t *testing.T) {
	ctx := context.Background()
	// Account 2 as the second Update writes it: credited 5, never debited.
	credited := account(2)
	credited.CreditsPosted = 5
	// debit debits account 2 by one as the ledger does: after locking it.
	debit := func(tx ledger.Tx) error {
		a, err := tx.LockAccounts([]ledger.ID{credited.ID})
		if err != nil {
			return err
		}
		if len(a) != 1 {
			return fmt.Errorf("account 2 locked as %v", a)
		}
		a[0].DebitsPosted++
		return tx.UpdateAccounts(a)
	}
	credit := func(tx ledger.Tx) error { return tx.UpdateAccounts([]ledger.Account{credited}) }
	tests := []struct {
		name   string
		first  func(tx ledger.Tx) error // once released, holding the lock
		second func(tx ledger.Tx) error // without LastTimestamp
		// secondCalls is the number of calls of second's fn, secondErr
		// checks its Update's error.
		secondCalls int
		secondErr   func(t *testing.T, err error)
		want        []ledger.Account // the stored ones of accounts 1 to 3
	}{
		{
			name:        "other_account_inserted",
			first:       func(tx ledger.Tx) error { return tx.InsertAccounts([]ledger.Account{account(1)}) },
			second:      func(tx ledger.Tx) error { return tx.InsertAccounts([]ledger.Account{account(3)}) },
			secondCalls: 1,
			secondErr:   func(t *testing.T, err error) { assert.NoError(t, err) },
			want:        []ledger.Account{account(1), account(2), account(3)},
		},
		{
			// The second's UPDATE, if sent first, would hold account 2's
			// row that the first's LockAccounts waits for.
			name:        "same_account_updated",
			first:       debit,
			second:      credit,
			secondCalls: 1,
			secondErr:   func(t *testing.T, err error) { assert.NoError(t, err) },
			want:        []ledger.Account{credited},
		},
		{
			// BEGIN went out with the read, before the writes.
			name:  "same_account_updated_after_read",
			first: debit,
			second: func(tx ledger.Tx) error {
				if _, err := tx.Accounts([]ledger.ID{credited.ID}); err != nil {
					return err
				}
				return credit(tx)
			},
			secondCalls: 1,
			secondErr:   func(t *testing.T, err error) { assert.NoError(t, err) },
			want:        []ledger.Account{credited},
		},
		{
			// This case pins what Update does with the unique violation;
			// it does not tell the order of the lock and the writes (a
			// deadlock may cost the second the same one rerun): the two
			// above do.
			name:  "same_account_inserted",
			first: func(tx ledger.Tx) error { return tx.InsertAccounts([]ledger.Account{account(3)}) },
			second: func(tx ledger.Tx) error {
				a := account(3)
				a.UserData64 = 9 // not the first's
				return tx.InsertAccounts([]ledger.Account{a})
			},
			secondCalls: 2,
			secondErr: func(t *testing.T, err error) {
				requireSQLState(t, err, codeUniqueViolation)
				assert.ErrorIs(t, err, ledger.ErrCorrupt)
			},
			want: []ledger.Account{account(2), account(3)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dsn := testenv.PostgresSchema(t)
			s, err := Open(ctx, dsn, Options{MaxRetries: 1})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			insertAccount(t, s, account(2))
			locked, release := make(chan struct{}), make(chan struct{})
			unblock := sync.OnceFunc(func() { close(release) })
			t.Cleanup(unblock) // before the store closes, when the test fails first
			firstCalls, secondCalls := 0, 0
			first := make(chan error, 1)
			go func() {
				first <- s.Update(ctx, func(tx ledger.Tx) error {
					firstCalls++
					ts, err := tx.LastTimestamp()
					if err != nil {
						return err
					}
					select {
					case <-locked: // a rerun
					default:
						close(locked)
					}
					<-release
					return errors.Join(tc.first(tx), tx.SetLastTimestamp(ts+1))
				})
			}()
			<-locked
			second := make(chan error, 1)
			go func() {
				second <- s.Update(ctx, func(tx ledger.Tx) error {
					secondCalls++
					return tc.second(tx)
				})
			}()
			// The second Update's backend waits for the first's row lock.
			waitStateHolderBlocked(t, s, second)
			unblock()
			require.NoError(t, <-first)
			tc.secondErr(t, <-second)
			assert.Equal(t, 1, firstCalls, "calls of the first fn")
			assert.Equal(t, tc.secondCalls, secondCalls, "calls of the second fn")
			assert.Equal(t, uint64(3), storedLastTimestamp(t, s), "the first Update's last timestamp")
			require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
				got, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2), ledger.IDFromUint64(3)})
				assert.ElementsMatch(t, tc.want, got)
				return err
			}))
		})
	}
}

// TestDeadlockRerun runs the deadlock that Update's rerun resolves: an fn
// that locks account 2 and then writes it without LastTimestamp holds the
// account's row when its writes ask for the ledger_state lock, which a
// ledger writer holds while it waits for that row. The server aborts the
// write-only transaction (its deadlock_timeout is the shorter, so it
// looks for the cycle first and finds it), and Update runs its fn again,
// which here waits for the ledger writer's Update to return (a rerun
// that took account 2's row before the woken ledger writer would
// deadlock again): both commit, the ledger writer's fn runs once and the
// other twice, and account 2 holds both postings.
func TestDeadlockRerun(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	id := ledger.IDFromUint64(2)
	insertAccount(t, s, account(2))
	// deadlockTimeout sets deadlock_timeout for the rest of tx's
	// transaction, which a read has begun, so for its next lock wait.
	deadlockTimeout := func(tx ledger.Tx, d string) error {
		_, err := tx.(*writeTx).c.Exec(ctx, "SET LOCAL deadlock_timeout = '"+d+"'")
		return err
	}
	// post locks account 2, calls held (when not nil), and adds one to
	// the posted field that add names.
	post := func(tx ledger.Tx, held func() error, add func(*ledger.Account)) error {
		a, err := tx.LockAccounts([]ledger.ID{id})
		if err != nil {
			return err
		}
		if len(a) != 1 {
			return fmt.Errorf("account 2 locked as %v", a)
		}
		if held != nil {
			if err := held(); err != nil {
				return err
			}
		}
		add(&a[0])
		return tx.UpdateAccounts(a)
	}
	locked, release := make(chan struct{}), make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock) // before the store closes, when the test fails first
	writeOnlyCalls, ledgerCalls := 0, 0
	writeOnly := make(chan error, 1)
	ledgerDone := make(chan struct{}) // closed once the ledger writer's Update returned
	go func() {
		writeOnly <- s.Update(ctx, func(tx ledger.Tx) error {
			writeOnlyCalls++
			if writeOnlyCalls > 1 {
				// A rerun that locked account 2 before the ledger writer,
				// woken by the abort, took it would deadlock again.
				<-ledgerDone
			}
			return post(tx, func() error {
				if writeOnlyCalls == 1 {
					close(locked)
					<-release
				}
				// Before the wait for the ledger_state lock, at commit.
				return deadlockTimeout(tx, "10ms")
			}, func(a *ledger.Account) { a.CreditsPosted++ })
		})
	}()
	<-locked
	ledgerWriter := make(chan error, 1)
	go func() {
		defer close(ledgerDone)
		ledgerWriter <- s.Update(ctx, func(tx ledger.Tx) error {
			ledgerCalls++
			ts, err := tx.LastTimestamp()
			if err != nil {
				return err
			}
			// Before the wait for account 2's row.
			if err := deadlockTimeout(tx, "1min"); err != nil {
				return err
			}
			return errors.Join(post(tx, nil, func(a *ledger.Account) { a.DebitsPosted++ }),
				tx.SetLastTimestamp(ts+1))
		})
	}()
	// The ledger writer holds the ledger_state lock and waits for account
	// 2's row.
	waitStateHolderBlocked(t, s, ledgerWriter)
	unblock()
	require.NoError(t, <-ledgerWriter)
	require.NoError(t, <-writeOnly)
	assert.Equal(t, 1, ledgerCalls, "calls of the ledger writer's fn")
	assert.Equal(t, 2, writeOnlyCalls, "calls of the write-only fn")
	assert.Equal(t, uint64(3), storedLastTimestamp(t, s), "the ledger writer's last timestamp")
	require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
		got, err := tx.Accounts([]ledger.ID{id})
		assert.Equal(t, []ledger.Account{{ID: id, DebitsPosted: 1, CreditsPosted: 1, Ledger: 1, Code: 1, Timestamp: 2}}, got)
		return err
	}))
}

// account returns the account of ledger 1 and code 1 whose ID and
// timestamp are v.
func account(v uint64) ledger.Account {
	return ledger.Account{ID: ledger.IDFromUint64(v), Ledger: 1, Code: 1, Timestamp: v}
}

// insertAccount stores a in an Update of s that reads LastTimestamp, as
// the ledger's writes do, and sets it to a's timestamp.
func insertAccount(t *testing.T, s *Store, a ledger.Account) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), func(tx ledger.Tx) error {
		if _, err := tx.LastTimestamp(); err != nil {
			return err
		}
		return errors.Join(tx.InsertAccounts([]ledger.Account{a}), tx.SetLastTimestamp(a.Timestamp))
	}))
}

// storedLastTimestamp returns the last timestamp that s's ledger_state
// row holds.
func storedLastTimestamp(t *testing.T, s *Store) uint64 {
	t.Helper()
	var last uint64
	require.NoError(t, s.pool.QueryRow(context.Background(), `SELECT last_timestamp FROM ledger_state`).Scan(&last))
	return last
}

// waitStateHolderBlocked waits until a backend that holds a lock on the
// ledger_state table of s's schema is blocked by another backend. It
// fails t when an Update that should be so blocked returns first, on
// returned, or when no backend is blocked within 30 seconds.
func waitStateHolderBlocked(t *testing.T, s *Store, returned <-chan error) {
	t.Helper()
	const blocked = `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'relation'
		AND relation = 'ledger_state'::regclass AND cardinality(pg_blocking_pids(pid)) > 0)`
	deadline := time.Now().Add(30 * time.Second)
	for waiting := false; !waiting; time.Sleep(time.Millisecond) {
		select {
		case err := <-returned:
			t.Fatalf("an Update returned (%v) while another held the ledger_state lock", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no backend blocked while holding a lock on ledger_state after 30 s")
		}
		require.NoError(t, s.pool.QueryRow(context.Background(), blocked).Scan(&waiting))
	}
}

// TestOpenNegativeOptions: a negative MaxConns or MaxRetries is refused
// with ErrNegativeOption before anything connects, rather than read as the
// default.
func TestOpenNegativeOptions(t *testing.T) {
	dsn := testenv.PostgresSchema(t)
	for _, o := range []Options{{MaxConns: -1}, {MaxRetries: -1}} {
		s, err := Open(context.Background(), dsn, o)
		if !assert.ErrorIs(t, err, ErrNegativeOption, "%+v", o) {
			s.Close()
		}
	}
}

// TestCancelledCallLeavesNoStatement: an Update or View whose context
// ends while its statement waits for a lock that another transaction
// holds returns only once the server has cancelled that statement, with
// an error wrapping the context's: none of it is left on the server, a
// backend beyond MaxConns, to run once the lock is free. So it is of the
// ledger's first call, LastTimestamp, waiting for the ledger_state row;
// of the writes of an fn that did not call it, which go out with their
// COMMIT, so that, left on the server, they would commit the account of
// an Update that failed; and of a View's read of a locked table.
func TestCancelledCallLeavesNoStatement(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		hold string // the statement of the transaction that holds the lock
		call func(ctx context.Context, s *Store) error
	}{
		{"last_timestamp", lockState, func(ctx context.Context, s *Store) error {
			return s.Update(ctx, func(tx ledger.Tx) error {
				if _, err := tx.LastTimestamp(); err != nil {
					return err
				}
				return tx.InsertAccounts([]ledger.Account{account(1)})
			})
		}},
		{"writes_and_commit", lockState, func(ctx context.Context, s *Store) error {
			return s.Update(ctx, func(tx ledger.Tx) error { return tx.InsertAccounts([]ledger.Account{account(1)}) })
		}},
		{"view", `LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE`, func(ctx context.Context, s *Store) error {
			return s.View(ctx, func(tx ledger.ReadTx) error {
				_, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1)})
				return err
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, dsn := openTemp(t)
			hold := holdLock(t, dsn, tc.hold)
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- tc.call(cctx, s) }()
			awaitBlocked(t, hold, done)
			cancel()
			require.ErrorIs(t, <-done, context.Canceled)
			waiting := blockedBy(t, hold)
			require.NoError(t, hold.Rollback(ctx))
			assert.False(t, waiting, "the call's statement still waits on the server")
			// Behind anything of the call still queued for the row.
			insertAccount(t, s, account(2))
			require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
				got, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)})
				assert.Equal(t, []ledger.Account{account(2)}, got, "nothing of the cancelled call")
				return err
			}))
		})
	}
}

// TestOpenCancelledWhileMigrating: an Open whose context ends while its
// migration waits for the lock of schema_migrations that another
// process's migration holds fails with an error that wraps the context's
// (context.Canceled), as every call of the store does, and not with the
// server's cancellation (SQLSTATE 57014) alone.
func TestOpenCancelledWhileMigrating(t *testing.T) {
	s, dsn := openTemp(t)
	require.NoError(t, s.Close())
	hold := holdLock(t, dsn, `LOCK TABLE schema_migrations IN EXCLUSIVE MODE`)
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		s, err := Open(cctx, dsn, Options{})
		if err == nil {
			s.Close()
		}
		done <- err
	}()
	awaitBlocked(t, hold, done)
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

// holdLock begins a transaction on a connection of its own to dsn and
// runs stmt in it, which takes the lock that the test's calls are to wait
// for; the transaction ends with the test.
func holdLock(t *testing.T, dsn, stmt string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	hold, err := conn.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { hold.Rollback(context.Background()) })
	_, err = hold.Exec(ctx, stmt)
	require.NoError(t, err)
	return hold
}

// blockedBy reports whether a backend waits for a lock that hold's
// transaction holds. It reads pg_locks, not pg_stat_activity, whose rows a
// transaction reads once: a backend that connects after the first look
// would never be seen.
func blockedBy(t *testing.T, hold pgx.Tx) bool {
	t.Helper()
	var b bool
	require.NoError(t, hold.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_locks
		WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid)))`).Scan(&b))
	return b
}

// awaitBlocked returns once a backend waits for a lock that hold's
// transaction holds; it fails t when the call that is to wait returns on
// done first.
func awaitBlocked(t *testing.T, hold pgx.Tx, done <-chan error) {
	t.Helper()
	for !blockedBy(t, hold) {
		select {
		case err := <-done:
			t.Fatalf("the call returned (%v) before it waited for the lock", err)
		case <-time.After(time.Millisecond):
		}
	}
}

// openCorrupt opens a store and a sqltest.Corrupt that writes beside it a
// value above ledger.AmountLimit and ledger.TimestampLimit, as the
// negative bigint with its 64 bits (the form in which the store keeps
// unsigned integers; a bigint holds nothing past 2^63 - 1), with the
// column's check dropped.
func openCorrupt(t *testing.T) (ledger.Store, sqltest.Corrupt) {
	s, _ := openTemp(t)
	return s, func(t *testing.T, table, column string) {
		_, err := s.pool.Exec(context.Background(), fmt.Sprintf(`ALTER TABLE %[1]s DROP CONSTRAINT %[1]s_%[2]s_check;
			UPDATE %[1]s SET %[2]s = -1 - %[2]s`, table, column))
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

// TestViewEndedContextKeepsConnection: a View whose context has ended,
// before it is called or while fn runs, returns an error wrapping the
// context's (or fn's nil, its reads done) and hands its connection back
// to the pool, open: no connection is closed, and none opened for the
// next call.
func TestViewEndedContextKeepsConnection(t *testing.T) {
	read := func(tx ledger.ReadTx) error {
		_, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1)})
		return err
	}
	for _, tc := range []struct {
		name    string
		call    func(ctx context.Context, cancel context.CancelFunc, s *Store) error
		wantErr error
	}{
		{"before", func(ctx context.Context, cancel context.CancelFunc, s *Store) error {
			cancel()
			return s.View(ctx, func(ledger.ReadTx) error {
				t.Error("fn runs on an ended context")
				return nil
			})
		}, context.Canceled},
		{"while_fn_runs", func(ctx context.Context, cancel context.CancelFunc, s *Store) error {
			return s.View(ctx, func(tx ledger.ReadTx) error {
				if err := read(tx); err != nil {
					return err
				}
				cancel()
				return nil
			})
		}, nil},
		{"read_after_end", func(ctx context.Context, cancel context.CancelFunc, s *Store) error {
			return s.View(ctx, func(tx ledger.ReadTx) error {
				cancel()
				return read(tx)
			})
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTemp(t)
			require.NoError(t, s.View(context.Background(), read))
			before := s.pool.Stat()
			require.Equal(t, int32(1), before.TotalConns())

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			err := tc.call(ctx, cancel, s)
			if tc.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.wantErr)
			}
			after := s.pool.Stat()
			assert.Equal(t, before.TotalConns(), after.TotalConns(), "connections in the pool")
			assert.Equal(t, before.IdleConns(), after.IdleConns(), "idle connections in the pool")

			require.NoError(t, s.View(context.Background(), read))
			assert.Equal(t, before.NewConnsCount(), s.pool.Stat().NewConnsCount(), "connections opened")
		})
	}
}

// TestCallRacingClose: an Update or a View that finds the Store open, and
// then its pool closed by a Close that ran meanwhile, fails with
// ledger.ErrClosed without running fn, as one that starts after Close.
func TestCallRacingClose(t *testing.T) {
	calls := map[string]func(s *Store, ran *bool) error{
		"Update": func(s *Store, ran *bool) error {
			return s.Update(context.Background(), func(ledger.Tx) error { *ran = true; return nil })
		},
		"View": func(s *Store, ran *bool) error {
			return s.View(context.Background(), func(ledger.ReadTx) error { *ran = true; return nil })
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			s, _ := openTemp(t)
			s.beforeAcquire = func() { require.NoError(t, s.Close()) }
			ran := false
			err := call(s, &ran)
			require.ErrorIs(t, err, ledger.ErrClosed)
			assert.False(t, ran)
		})
	}
}

// requireSQLState fails t unless err is, or wraps, a server error of the
// SQLSTATE code.
func requireSQLState(t *testing.T, err error, code string) {
	t.Helper()
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, code, pgErr.Code)
}
