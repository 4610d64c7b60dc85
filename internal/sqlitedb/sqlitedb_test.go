package sqlitedb_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/casimpay/casimpay/internal/sqlitedb"
)

func TestDSN(t *testing.T) {
	w, err := sqlitedb.DSN("/var/lib/casim pay/db.sqlite", false, sqlitedb.BusyTimeout(0), "synchronous(FULL)")
	require.NoError(t, err)
	assert.Equal(t, "file:/var/lib/casim%20pay/db.sqlite?_pragma=busy_timeout%285000%29&_pragma=synchronous%28FULL%29&_txlock=immediate", w)

	r, err := sqlitedb.DSN("/tmp/x.db", true, sqlitedb.BusyTimeout(1500*time.Millisecond))
	require.NoError(t, err)
	assert.Equal(t, "file:/tmp/x.db?_pragma=busy_timeout%281500%29&_pragma=query_only%281%29", r)

	rel, err := sqlitedb.DSN("x.db", true)
	require.NoError(t, err)
	abs, err := filepath.Abs("x.db")
	require.NoError(t, err)
	assert.Equal(t, "file:"+filepath.ToSlash(abs)+"?_pragma=query_only%281%29", rel)
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "new.db")
	w, r, err := sqlitedb.Open(ctx, path, sqlitedb.Options{BusyTimeout: 1500 * time.Millisecond, ReadConns: 3})
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	assert.Equal(t, 1, w.Stats().MaxOpenConnections)
	assert.Equal(t, 3, r.Stats().MaxOpenConnections)
	want := map[string]string{
		"journal_mode":       "wal",
		"synchronous":        "2", // FULL
		"foreign_keys":       "1",
		"busy_timeout":       "1500",
		"page_size":          "1024",
		"temp_store":         "2", // MEMORY
		"cache_size":         "-65536",
		"wal_autocheckpoint": "16384",
	}
	for name, db := range map[string]*sql.DB{"writer": w, "reader": r} {
		for pragma, v := range want {
			var got string
			require.NoError(t, db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got))
			assert.Equal(t, v, got, "%s %s", name, pragma)
		}
	}
	_, err = r.ExecContext(ctx, "CREATE TABLE t (x)")
	var serr *sqlite.Error
	if assert.ErrorAs(t, err, &serr, "the read pool is query_only") {
		assert.Equal(t, sqlite3.SQLITE_READONLY, serr.Code(), "%v", err)
	}
	_, err = w.ExecContext(ctx, "CREATE TABLE t (x)")
	assert.NoError(t, err)

	w2, r2, err := sqlitedb.Open(ctx, path, sqlitedb.Options{NoSync: true})
	require.NoError(t, err)
	defer r2.Close()
	defer w2.Close()
	var sync string
	require.NoError(t, w2.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync))
	assert.Equal(t, "0", sync, "NoSync")
	assert.Equal(t, 4, r2.Stats().MaxOpenConnections, "default read pool")
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "garbage.db")
	require.NoError(t, os.WriteFile(notDB, []byte("this is not a SQLite database file, just text that is long enough"), 0o600))
	w, r, err := sqlitedb.Open(context.Background(), "", sqlitedb.Options{})
	assert.ErrorIs(t, err, sqlitedb.ErrEmptyPath)
	assert.Nil(t, w)
	assert.Nil(t, r)
	for name, tc := range map[string]struct {
		path string
		code int
	}{
		"missing directory": {filepath.Join(dir, "no", "such", "dir", "x.db"), sqlite3.SQLITE_CANTOPEN},
		"not a database":    {notDB, sqlite3.SQLITE_NOTADB},
	} {
		w, r, err := sqlitedb.Open(context.Background(), tc.path, sqlitedb.Options{})
		var serr *sqlite.Error
		if assert.ErrorAs(t, err, &serr, name) {
			assert.Equal(t, tc.code, serr.Code(), "%s: %v", name, err)
		}
		assert.Nil(t, w, name)
		assert.Nil(t, r, name)
	}
}

// TestOpenNegativeOptions: a negative ReadConns or BusyTimeout is refused
// with ErrNegativeOption, and no file is created; zero is the default.
func TestOpenNegativeOptions(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	for _, o := range []sqlitedb.Options{{ReadConns: -1}, {BusyTimeout: -time.Millisecond}, {BusyTimeout: -1}} {
		_, _, err := sqlitedb.Open(ctx, path, o)
		assert.ErrorIs(t, err, sqlitedb.ErrNegativeOption, "%+v", o)
	}
	_, err := os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)
	w, r, err := sqlitedb.Open(ctx, path, sqlitedb.Options{})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, w.Close())
}

// TestBusyTimeoutBounds: a positive busy timeout waits at least 1 ms,
// not none, and one beyond what SQLite holds (2^31-1 ms, about 24.8
// days) waits that long rather than wrapping to no wait at all.
func TestBusyTimeoutBounds(t *testing.T) {
	ctx := context.Background()
	for d, want := range map[time.Duration]string{
		time.Microsecond:         "1",
		1000 * time.Hour:         "2147483647",
		time.Duration(1<<63 - 1): "2147483647",
	} {
		w, r, err := sqlitedb.Open(ctx, filepath.Join(t.TempDir(), "db"), sqlitedb.Options{BusyTimeout: d})
		require.NoError(t, err)
		var got string
		require.NoError(t, w.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&got))
		assert.Equal(t, want, got, "%v", d)
		require.NoError(t, r.Close())
		require.NoError(t, w.Close())
	}
}

// TestOpenCreatesPrivateFile: a database that Open creates, which holds
// the platform's keys and the cards' secrets, can be read by its owner
// alone (mode 0600), and so can its WAL and shared-memory files, which
// SQLite creates with the database file's mode; a file that exists keeps
// its mode.
func TestOpenCreatesPrivateFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no Unix file modes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "new.db")
	w, r, err := sqlitedb.Open(ctx, path, sqlitedb.Options{})
	require.NoError(t, err)
	_, err = w.ExecContext(ctx, "CREATE TABLE t (x)")
	require.NoError(t, err)
	var n int
	require.NoError(t, r.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n))
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "%s", filepath.Base(name))
	}
	require.NoError(t, r.Close())
	require.NoError(t, w.Close())

	old := filepath.Join(dir, "old.db")
	require.NoError(t, os.WriteFile(old, nil, 0o640))
	require.NoError(t, os.Chmod(old, 0o640)) // whatever the umask
	w, r, err = sqlitedb.Open(ctx, old, sqlitedb.Options{})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, w.Close())
	fi, err := os.Stat(old)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm(), "an existing file keeps its mode")
}
