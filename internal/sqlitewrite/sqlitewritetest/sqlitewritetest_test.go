package sqlitewritetest

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/casimpay/casimpay/internal/sqlitedb"
	"github.com/casimpay/casimpay/internal/sqlitewrite"
)

// openTable opens the database file at path, whose writes wait a
// millisecond at most for a lock, and creates table t in it.
func openTable(t *testing.T, path string) *sql.DB {
	t.Helper()
	dsn, err := sqlitedb.DSN(path, false, sqlitedb.BusyTimeout(time.Millisecond))
	require.NoError(t, err)
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY)`)
	require.NoError(t, err)
	return db
}

// TestHoldWriteOddPath: the write lock is taken on the file at path even
// when the path holds characters that a file: URI reads otherwise, as the
// names of subtests put into t.TempDir do ('#', '%', '?', spaces).
func TestHoldWriteOddPath(t *testing.T) {
	for _, dir := range []string{"sub#01", "100% sure", "why?"} {
		t.Run(dir, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), dir, "w.db")
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
			db := openTable(t, path)

			HoldWrite(t, path, time.Hour)
			_, err := db.Exec(`INSERT INTO t (k) VALUES (1)`)
			var serr *sqlite.Error
			require.True(t, errors.As(err, &serr), "the file is locked for writing: %v", err)
			assert.Equal(t, sqlite3.SQLITE_BUSY, serr.Code()&0xff, "%v", err)
		})
	}
}

// TestHoldWriteGivesUp: HoldWrite holds the in-process write lock until it
// gives both locks up, after d or when t ends, whichever comes first; its
// channel then receives the COMMIT's error, none here, and the file takes
// writes again.
func TestHoldWriteGivesUp(t *testing.T) {
	for _, after := range []string{"d", "t ends"} {
		t.Run(after, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "w.db")
			db := openTable(t, path)
			l, err := sqlitewrite.OpenLock(path)
			require.NoError(t, err)
			defer l.Close()

			var done <-chan error
			if after == "d" {
				done = HoldWrite(t, path, 0)
			} else {
				t.Run("holder", func(t *testing.T) {
					done = HoldWrite(t, path, time.Hour)
					assert.False(t, l.TryLock(), "the in-process write lock is held")
				})
			}
			var commit error
			if after == "d" {
				commit = <-done
			} else {
				select { // the cleanup of t waited for the COMMIT
				case commit = <-done:
				default:
					t.Fatal("no COMMIT once t has ended")
				}
			}
			require.NoError(t, commit, "the COMMIT's error")
			require.True(t, l.TryLock(), "the in-process write lock is free")
			l.Unlock()
			_, err = db.Exec(`INSERT INTO t (k) VALUES (1)`)
			require.NoError(t, err, "SQLite's write lock is free")
		})
	}
}
