package sqlitedb_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlitedb"
)

// useConns takes n connections of db at once, and gives them back idle.
func useConns(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	conns := make([]*sql.Conn, n)
	for i := range conns {
		var err error
		conns[i], err = db.Conn(context.Background())
		require.NoError(t, err)
	}
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
}

// TestReadPoolKeepsConnsIdle: the read pool keeps every one of its
// ReadConns connections open when they fall idle, rather than closing
// those beyond database/sql's default of two, so that their page caches
// live.
func TestReadPoolKeepsConnsIdle(t *testing.T) {
	ctx := context.Background()
	w, r, err := sqlitedb.Open(ctx, filepath.Join(t.TempDir(), "db"), sqlitedb.Options{ReadConns: 5})
	require.NoError(t, err)
	defer w.Close()
	defer r.Close()
	useConns(t, r, 5)
	st := r.Stats()
	assert.Equal(t, 5, st.Idle)
	assert.Equal(t, int64(0), st.MaxIdleClosed)
}

// TestConnsNeverExpire: Open's pools close no connection for its idle
// time or its age, however long it has been open and idle: the writer
// keeps its one connection, and the read pool its ReadConns, with their
// page and statement caches.
func TestConnsNeverExpire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		w, r, err := sqlitedb.Open(ctx, path, sqlitedb.Options{ReadConns: 3})
		require.NoError(t, err)
		defer w.Close()
		defer r.Close()
		useConns(t, r, 3)
		time.Sleep(1000 * time.Hour) // on the bubble's clock: at once
		synctest.Wait()
		for name, db := range map[string]*sql.DB{"writer": w, "reader": r} {
			st := db.Stats()
			assert.Equal(t, int64(0), st.MaxIdleTimeClosed, name)
			assert.Equal(t, int64(0), st.MaxLifetimeClosed, name)
		}
		assert.Equal(t, 1, w.Stats().Idle)
		assert.Equal(t, 3, r.Stats().Idle)
	})
}
