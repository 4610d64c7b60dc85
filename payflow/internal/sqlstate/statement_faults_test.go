package sqlstate_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlfault"
	"github.com/casimpay/casimpay/internal/sqlitedb"
	"github.com/casimpay/casimpay/internal/sqlitewrite"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
	"github.com/casimpay/casimpay/payflow/sqlite"
)

// migratedFile returns a SQLite file, in a temporary directory of t, with
// the payflow tables, which newFaultyStore copies rather than migrating
// a file for every store.
func migratedFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "migrated.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close()) // the last connection's close leaves no WAL
	return path
}

// faultyStore is a sqlstate.Store on a new SQLite file, a copy of a
// migratedFile, whose writer and reader pools are of faultConnectors that f
// numbers the statements of, wired as payflow/sqlite wires its Store:
// with batched, its writes go through a Batcher over the writer pool;
// without, they run on the writer pool as database/sql transactions, as
// on PostgreSQL. plain reads the file through the plain driver.
type faultyStore struct {
	stmtFaults
	s     *sqlstate.Store
	plain *sql.DB
	lock  *sqlitewrite.Lock // the Batcher's; nil without
}

func newFaultyStore(t *testing.T, migrated string, batched bool) *faultyStore {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "casimpay.db")
	copyFile(t, migrated, path)

	plain, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { plain.Close() })
	f := &sqlfault.Faults{}
	w, r := faultPool(t, path, false, f), faultPool(t, path, true, f)
	fs := &faultyStore{stmtFaults: stmtFaults{f}, plain: plain}
	var batch *sqlitewrite.Batcher
	if batched {
		fs.lock, err = sqlitewrite.OpenLock(path)
		require.NoError(t, err)
		t.Cleanup(fs.lock.Close)
		batch, err = sqlitewrite.NewBatcher(ctx, w, fs.lock)
		require.NoError(t, err)
		t.Cleanup(batch.Close)
	}
	fs.s = sqlstate.New(w, r, sqlstate.SQLite, batch)
	t.Cleanup(func() { fs.s.Close() })
	return fs
}

// faultPool returns a pool of connections to the SQLite file at path,
// with the pragmas of the SQLite stores but synchronous=OFF, whose
// statements f numbers: read-only, or else a writer pool of one
// connection.
func faultPool(t *testing.T, path string, readOnly bool, f *sqlfault.Faults) *sql.DB {
	t.Helper()
	db, err := sqlfault.Open(path, readOnly, sqlitedb.Options{NoSync: true}, f)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// dump returns every row of the payflow tables, each table's sorted,
// under the table's name.
func (fs *faultyStore) dump(t *testing.T) map[string][]string {
	t.Helper()
	tables, err := sqlfault.Dump(context.Background(), fs.plain, "payflow%")
	require.NoError(t, err)
	return tables
}

// sqliteFaults returns a function that returns a new faultyStore, a copy
// of migrated, batched or not, as a store and its faultDB.
func sqliteFaults(t *testing.T, migrated string, batched bool) func() (*sqlstate.Store, faultDB) {
	return func() (*sqlstate.Store, faultDB) {
		fs := newFaultyStore(t, migrated, batched)
		return fs.s, fs
	}
}

// stmtFaults are the faults of a faultDB whose every statement f numbers
// (sqlfault): its arm, failure and failed.
type stmtFaults struct{ f *sqlfault.Faults }

func (sf stmtFaults) arm(_ *testing.T, n int) { sf.f.Arm(n) }

func (sf stmtFaults) failure(*testing.T) string { return sf.f.Failure() }

func (sf stmtFaults) failed(err error) bool { return errors.Is(err, sqlfault.ErrStatement) }
