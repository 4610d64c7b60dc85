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
)

// TestHoldWriteOddPath: the write lock is taken on the file at path even
// when the path holds characters that a file: URI reads otherwise, as the
// names of subtests put into t.TempDir do ('#', '%', '?', spaces).
func TestHoldWriteOddPath(t *testing.T) {
	for _, dir := range []string{"sub#01", "100% sure", "why?"} {
		t.Run(dir, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), dir, "w.db")
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
			dsn, err := sqlitedb.DSN(path, false, sqlitedb.BusyTimeout(time.Millisecond))
			require.NoError(t, err)
			db, err := sql.Open("sqlite", dsn)
			require.NoError(t, err)
			defer db.Close()
			_, err = db.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY)`)
			require.NoError(t, err)

			HoldWrite(t, path, time.Hour)
			_, err = db.Exec(`INSERT INTO t (k) VALUES (1)`)
			var serr *sqlite.Error
			require.True(t, errors.As(err, &serr), "the file is locked for writing: %v", err)
			assert.Equal(t, sqlite3.SQLITE_BUSY, serr.Code()&0xff, "%v", err)
		})
	}
}
