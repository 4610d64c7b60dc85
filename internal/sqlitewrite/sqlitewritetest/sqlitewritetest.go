// Package sqlitewritetest helps tests of the SQLite stores act as another
// writer of the same process on a database file.
package sqlitewritetest

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlitedb"
	"github.com/casimpay/casimpay/internal/sqlitewrite"
)

// HoldWrite takes the in-process write lock of the database file at path
// and SQLite's write lock (BEGIN IMMEDIATE), as a writer of the process
// does, and gives both up after d or when t ends, whichever comes first;
// the returned channel then receives the error of the COMMIT.
func HoldWrite(t testing.TB, path string, d time.Duration) <-chan error {
	t.Helper()
	ctx := context.Background()
	l, err := sqlitewrite.OpenLock(path)
	require.NoError(t, err)
	t.Cleanup(l.Close)
	dsn, err := sqlitedb.DSN(path, false)
	require.NoError(t, err)
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, l.Lock(ctx))
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		l.Unlock()
		require.NoError(t, err)
	}
	done := make(chan error, 1)
	stop, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-stop:
		}
		_, err := conn.ExecContext(ctx, "COMMIT")
		l.Unlock()
		done <- err
	}()
	// Registered last, so it runs before the cleanups that close conn.
	t.Cleanup(func() {
		close(stop)
		<-ended
	})
	return done
}
