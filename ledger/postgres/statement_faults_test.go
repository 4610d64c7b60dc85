package postgres

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/pgfault"
	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/ledgertest"
)

// faultRetries is Options.MaxRetries of the Store of a faultSchema.
const faultRetries = 2

// ledgerTables are the tables of the ledger's migrations, besides
// schema_migrations, which only Open writes, and only when it migrates.
var ledgerTables = []string{"account_balances", "accounts", "failed_transfers", "ledger_state", "pending", "transfers"}

// faultSchema is a migrated schema whose writes pgfault numbers, with a
// Store over it that reruns a transaction at most faultRetries times, the
// Ledger of the current run over that Store and its clock, and a
// connection of its own that reads and empties the tables.
type faultSchema struct {
	s     *Store
	l     *ledger.Ledger
	clock *ledgertest.Clock
	f     *pgfault.Faults
	conn  *pgx.Conn
}

func newFaultSchema(t *testing.T) *faultSchema {
	t.Helper()
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	fs := &faultSchema{}
	var err error
	fs.s, err = Open(ctx, dsn, Options{MaxRetries: faultRetries}) // the tables, for Install
	require.NoError(t, err)
	t.Cleanup(func() { fs.s.Close() })
	fs.f, err = pgfault.Install(ctx, dsn, "%")
	require.NoError(t, err)
	t.Cleanup(func() { fs.f.Close(context.Background()) })
	fs.conn, err = pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { fs.conn.Close(context.Background()) })
	t.Cleanup(func() { fs.closeLedger(t) })
	require.Equal(t, ledgerTables, slices.Sorted(maps.Keys(fs.dump(t))), "the tables of the migrations")
	return fs
}

// dump returns every row of the ledger's tables (schema_migrations, whose
// times differ between schemas, left out), each table's sorted, under the
// table's name.
func (fs *faultSchema) dump(t *testing.T) map[string][]string {
	t.Helper()
	tables, err := pgfault.Dump(context.Background(), fs.conn, "%")
	require.NoError(t, err)
	delete(tables, "schema_migrations")
	return tables
}

// arm has the writes numbered at, from now, fail with code.
func (fs *faultSchema) arm(t *testing.T, code string, at ...int) {
	t.Helper()
	require.NoError(t, fs.f.Arm(context.Background(), code, at...))
}

// ran returns how many writes ran since arm.
func (fs *faultSchema) ran(t *testing.T) int {
	t.Helper()
	n, err := fs.f.Ran(context.Background())
	require.NoError(t, err)
	return n
}

func (fs *faultSchema) closeLedger(t *testing.T) {
	if fs.l != nil {
		assert.NoError(t, fs.l.Close())
		fs.l = nil
	}
}

// prepare empties the tables, as a new schema's, replaces the Ledger with
// a new one on a new clock, runs c.Setup with it, and returns the tables;
// the writes are then not armed.
func (fs *faultSchema) prepare(t *testing.T, c ledgertest.FaultCase) map[string][]string {
	t.Helper()
	ctx := context.Background()
	fs.closeLedger(t)
	fs.arm(t, pgfault.Code)
	// DELETE, not TRUNCATE: the tables are small, and TRUNCATE creates
	// new files for every table and index.
	_, err := fs.conn.Exec(ctx, `BEGIN;
		DELETE FROM account_balances; DELETE FROM failed_transfers; DELETE FROM pending;
		DELETE FROM transfers; DELETE FROM accounts;
		UPDATE ledger_state SET last_timestamp = 0;
		COMMIT`)
	require.NoError(t, err)
	fs.clock = ledgertest.NewClock(ledgertest.Epoch)
	fs.l, err = ledger.New(fs.s, ledger.Options{Now: fs.clock.Now})
	require.NoError(t, err)
	if c.Setup != nil {
		c.Setup(t, fs.l, fs.clock)
	}
	return fs.dump(t)
}

// unfaulted is what a call gives without a failure: its result, the
// tables and lookups after it, and how many writes it runs.
type unfaulted struct {
	got     any
	tables  map[string][]string
	lookups []any
	writes  int
}

// runUnfaulted makes c's call on fs without a failure.
func runUnfaulted(t *testing.T, fs *faultSchema, c ledgertest.FaultCase) unfaulted {
	t.Helper()
	fs.prepare(t, c)
	fs.arm(t, pgfault.Code)
	got, err := c.Call(context.Background(), fs.l)
	require.NoError(t, err, "without a failure")
	if c.Want != nil {
		require.Equal(t, c.Want, got, "without a failure")
	}
	u := unfaulted{got: got, writes: fs.ran(t), tables: fs.dump(t), lookups: ledgertest.FaultLookups(t, fs.l)}
	require.Positive(t, u.writes, "writes without a failure")
	return u
}

// retriedCodes are the SQLSTATE codes of the errors that Update reruns a
// transaction for: a serialization failure, a deadlock, a unique
// violation.
var retriedCodes = []string{"40001", "40P01", codeUniqueViolation}

// runWriteCases runs check, as a subtest, for each of
// ledgertest.WriteFaultCases on one faultSchema, given what the case's
// call gives without a failure.
func runWriteCases(t *testing.T, check func(t *testing.T, fs *faultSchema, c ledgertest.FaultCase, want unfaulted)) {
	fs := newFaultSchema(t)
	for _, c := range ledgertest.WriteFaultCases() {
		t.Run(c.Name, func(t *testing.T) { check(t, fs, c, runUnfaulted(t, fs, c)) })
	}
}

// checkAgain makes c's call again on fs, unarmed, and checks that it
// gives what it gives without a failure, and leaves the tables and the
// lookups as that does.
func checkAgain(t *testing.T, fs *faultSchema, c ledgertest.FaultCase, want unfaulted, msg string) {
	t.Helper()
	fs.arm(t, pgfault.Code)
	got, err := c.Call(context.Background(), fs.l)
	require.NoError(t, err, "made again after %s", msg)
	assert.Equal(t, want.got, got, "made again after %s", msg)
	assert.Equal(t, want.tables, fs.dump(t), "made again after %s: the tables", msg)
	assert.Equal(t, want.lookups, ledgertest.FaultLookups(t, fs.l), "made again after %s: the lookups", msg)
}

// refusedCodes are SQLSTATE codes of write errors that Update does not
// rerun a transaction for, each with whether Update reports it as
// ledger.ErrCorrupt: pgfault's own, a foreign key violation, and the
// refusal of updateAll, checkPending and setLastTimestamp. Only the first
// fails every write in turn; the others, which take the same path but
// for the error, fail the last write.
var refusedCodes = []struct {
	code    string
	corrupt bool
}{{pgfault.Code, false}, {codeForeignKeyViolation, true}, {codeInvalidText, true}}

// TestLedgerWriteFaults: a write statement of a ledger call (an account
// creation, or a transfer: posted, pending, a post or void of a pending
// one, a linked chain, one whose batch releases an expired hold, a post
// of an expired hold) that fails with an error the Store does not retry
// fails the call with that error (wrapping ledger.ErrCorrupt for a
// foreign key violation and the Store's own refusals) and leaves the
// tables as they were; the call made again gives the results of a call
// without a failure and leaves the tables as it does: no transfer lost,
// none applied twice.
func TestLedgerWriteFaults(t *testing.T) {
	runWriteCases(t, func(t *testing.T, fs *faultSchema, c ledgertest.FaultCase, want unfaulted) {
		for n := 1; ; n++ {
			for i, r := range refusedCodes {
				if i > 0 && n != want.writes {
					continue
				}
				before := fs.prepare(t, c)
				fs.arm(t, r.code, n)
				got, err := c.Call(context.Background(), fs.l)
				if ran := fs.ran(t); ran < n {
					require.Equal(t, want.writes, ran, "writes run")
					require.NoError(t, err, "%d writes run", ran)
					assert.Equal(t, want.got, got, "%d writes run", ran)
					assert.Equal(t, want.tables, fs.dump(t), "%d writes run", ran)
					return
				}
				msg := fmt.Sprintf("write %d failed with %s", n, r.code)
				require.Truef(t, pgfault.Is(err, r.code), "%s: %v", msg, err)
				if r.corrupt {
					assert.ErrorIs(t, err, ledger.ErrCorrupt, msg)
				} else {
					assert.NotErrorIs(t, err, ledger.ErrCorrupt, msg)
				}
				assert.Equal(t, n, fs.ran(t), "%s: the writes run", msg)
				assert.Equal(t, before, fs.dump(t), "%s: the tables as they were", msg)
				checkAgain(t, fs, c, want, msg)
			}
		}
	})
}

// TestLedgerWriteFaultsRetried: a write statement of a ledger call that
// fails with a serialization failure, a deadlock or a unique violation
// has the Store run the transaction again, whose writes all run: the call
// gives the results of a call without a failure and leaves the tables
// and lookups as it does, nothing of the failed run kept and nothing
// applied twice.
func TestLedgerWriteFaultsRetried(t *testing.T) {
	runWriteCases(t, func(t *testing.T, fs *faultSchema, c ledgertest.FaultCase, want unfaulted) {
		for _, code := range retriedCodes {
			for n := 1; n <= want.writes; n++ {
				fs.prepare(t, c)
				fs.arm(t, code, n)
				got, err := c.Call(context.Background(), fs.l)
				require.NoError(t, err, "write %d failed with %s", n, code)
				assert.Equal(t, n+want.writes, fs.ran(t), "write %d failed with %s: the writes run, a rerun's all", n, code)
				assert.Equal(t, want.got, got, "write %d failed with %s", n, code)
				assert.Equal(t, want.tables, fs.dump(t), "write %d failed with %s: the tables", n, code)
				assert.Equal(t, want.lookups, ledgertest.FaultLookups(t, fs.l), "write %d failed with %s: the lookups", n, code)
			}
		}
	})
}

// TestLedgerWriteFaultsRetriesSpent: a ledger call whose every write
// fails with a serialization failure or a deadlock fails with that error
// once the Store has run its transaction Options.MaxRetries+1 times, and
// with one wrapping ledger.ErrCorrupt too when it is a unique violation
// (a key that is stored); the tables are as they were, and the call made
// again gives the results of a call without a failure.
func TestLedgerWriteFaultsRetriesSpent(t *testing.T) {
	every := make([]int, 100)
	for i := range every {
		every[i] = i + 1
	}
	runWriteCases(t, func(t *testing.T, fs *faultSchema, c ledgertest.FaultCase, want unfaulted) {
		for _, code := range retriedCodes {
			before := fs.prepare(t, c)
			fs.arm(t, code, every...)
			_, err := c.Call(context.Background(), fs.l)
			require.Truef(t, pgfault.Is(err, code), "every write failed with %s: %v", code, err)
			if code == codeUniqueViolation {
				assert.ErrorIs(t, err, ledger.ErrCorrupt, "every write failed with %s", code)
			} else {
				assert.NotErrorIs(t, err, ledger.ErrCorrupt, "every write failed with %s", code)
			}
			assert.Equal(t, faultRetries+1, fs.ran(t), "every write failed with %s: the runs, one write each", code)
			assert.Equal(t, before, fs.dump(t), "every write failed with %s: the tables as they were", code)
			checkAgain(t, fs, c, want, "every write failed with "+code)
		}
	})
}

// TestLedgerReadsWriteNothing: the ledger's reads (lookups, an account's
// transfers and balances, Verify) run no write statement, so a write
// armed to fail fails none of them, and the tables stay as they were.
func TestLedgerReadsWriteNothing(t *testing.T) {
	fs := newFaultSchema(t)
	for _, c := range ledgertest.ReadFaultCases() {
		t.Run(c.Name, func(t *testing.T) {
			before := fs.prepare(t, c)
			fs.arm(t, pgfault.Code, 1)
			_, err := c.Call(context.Background(), fs.l)
			require.NoError(t, err)
			assert.Zero(t, fs.ran(t), "writes run")
			assert.Equal(t, before, fs.dump(t))
		})
	}
}
