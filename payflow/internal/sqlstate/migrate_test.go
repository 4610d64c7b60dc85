package sqlstate_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlfault"
	"github.com/casimpay/casimpay/internal/sqlitedb"
	"github.com/casimpay/casimpay/internal/sqlmigrate"
	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
)

// migrations returns the migrations of e.
func migrations(tb testing.TB, e engine) []sqlmigrate.Migration {
	tb.Helper()
	ms, err := sqlmigrate.Read(os.DirFS(e.dir), "migrations")
	require.NoError(tb, err)
	return ms
}

// schemaVersions returns the versions that payflow_schema records, in
// order.
func schemaVersions(tb testing.TB, db *sql.DB) []int {
	tb.Helper()
	rows, err := db.Query(`SELECT version FROM payflow_schema ORDER BY version`)
	require.NoError(tb, err)
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		require.NoError(tb, rows.Scan(&v))
		vs = append(vs, v)
	}
	require.NoError(tb, rows.Err())
	return vs
}

// onFresh runs fn on a new database of every engine, with the engine's
// migrations.
func onFresh(t *testing.T, fn func(t *testing.T, e engine, db *sql.DB, ms []sqlmigrate.Migration)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			db, _ := e.fresh(t)
			fn(t, e, db, migrations(t, e))
		})
	}
}

// upTo returns the versions 1 to n.
func upTo(n int) []int {
	vs := make([]int, n)
	for i := range vs {
		vs[i] = i + 1
	}
	return vs
}

// TestMigrateFailed: a migration that fails leaves the schema at the
// version it was, the migrations before it in the same run included (one
// transaction), and nothing of the failed one written; once it is
// mended, the run applies them all.
func TestMigrateFailed(t *testing.T) {
	onFresh(t, func(t *testing.T, e engine, db *sql.DB, ms []sqlmigrate.Migration) {
		ctx := context.Background()
		require.NoError(t, sqlstate.Migrate(ctx, db, e.d, ms[:2]))
		bad := sqlmigrate.Migration{Version: 4, Name: "bad", SQL: `CREATE TABLE payflow_bad (x BIGINT); INSERT INTO payflow_none VALUES (1)`}
		err := sqlstate.Migrate(ctx, db, e.d, append(ms[:3:3], bad))
		require.Error(t, err)
		assert.ErrorContains(t, err, "migration 4_bad")
		assert.Equal(t, upTo(2), schemaVersions(t, db), "the version as it was")
		_, err = db.Exec(`SELECT count(*) FROM payflow_bad`)
		assert.Error(t, err, "the failed migration's table not created")

		require.NoError(t, sqlstate.Migrate(ctx, db, e.d, ms))
		assert.Equal(t, upTo(len(ms)), schemaVersions(t, db))
	})
}

// TestMigrateAgain: a run on a database at the latest version changes
// nothing, and one that knows fewer migrations than the database has is
// refused with ErrSchemaTooNew.
func TestMigrateAgain(t *testing.T) {
	onFresh(t, func(t *testing.T, e engine, db *sql.DB, ms []sqlmigrate.Migration) {
		ctx := context.Background()
		require.NoError(t, sqlstate.Migrate(ctx, db, e.d, ms))
		require.NoError(t, sqlstate.Migrate(ctx, db, e.d, ms))
		assert.Equal(t, upTo(len(ms)), schemaVersions(t, db))
		assert.ErrorIs(t, sqlstate.Migrate(ctx, db, e.d, ms[:len(ms)-1]), sqlstate.ErrSchemaTooNew)
		assert.Equal(t, upTo(len(ms)), schemaVersions(t, db))
	})
}

// TestMigrateConcurrently: processes that migrate one new database at
// once, each through connections of its own, all succeed, and each
// migration is applied once.
func TestMigrateConcurrently(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			var open func() *sql.DB
			switch e.d {
			case sqlstate.SQLite:
				path := filepath.Join(t.TempDir(), "casimpay.db")
				open = func() *sql.DB {
					w, r, err := sqlitedb.Open(context.Background(), path, sqlitedb.Options{})
					require.NoError(t, err)
					require.NoError(t, r.Close())
					return w
				}
			default:
				dsn := testenv.PostgresSchema(t)
				open = func() *sql.DB {
					db, err := sql.Open("pgx", dsn)
					require.NoError(t, err)
					return db
				}
			}
			ms := migrations(t, e)
			const procs = 4
			dbs := make([]*sql.DB, procs)
			for i := range dbs {
				dbs[i] = open()
				t.Cleanup(func() { dbs[i].Close() })
			}
			errs := make([]error, procs)
			var wg sync.WaitGroup
			for i, db := range dbs {
				wg.Go(func() { errs[i] = sqlstate.Migrate(context.Background(), db, e.d, ms) })
			}
			wg.Wait()
			for i, err := range errs {
				assert.NoError(t, err, "process %d", i)
			}
			assert.Equal(t, upTo(len(ms)), schemaVersions(t, dbs[0]))
		})
	}
}

// TestMigrateStatementFails: a statement of Migrate that fails (BEGIN,
// the creation of payflow_schema, the read of its version, a migration,
// the record of one, or COMMIT) fails Migrate with its error and leaves
// the database without a table; Migrate run again applies every
// migration.
func TestMigrateStatementFails(t *testing.T) {
	ctx := context.Background()
	ms := migrations(t, engines[0])
	for n := 1; ; n++ {
		path := filepath.Join(t.TempDir(), fmt.Sprint(n, ".db"))
		f := &sqlfault.Faults{}
		db := faultPool(t, path, false, f)
		f.Arm(n)
		err := sqlstate.Migrate(ctx, db, sqlstate.SQLite, ms)
		failed := f.Failure()
		f.Arm(0)
		if failed == "" {
			require.NoError(t, err)
			assert.Equal(t, upTo(len(ms)), schemaVersions(t, db))
			require.Greater(t, n, 2*len(ms), "statements run")
			return
		}
		require.ErrorIs(t, err, sqlfault.ErrStatement, "statement %d, %s, failed", n, failed)
		var tables int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&tables))
		assert.Zero(t, tables, "statement %d, %s, failed", n, failed)
		require.NoError(t, sqlstate.Migrate(ctx, db, sqlstate.SQLite, ms), "run again after statement %d failed", n)
		assert.Equal(t, upTo(len(ms)), schemaVersions(t, db))
	}
}
