package sqlstate_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
	"github.com/casimpay/casimpay/payflow/sqlite"
)

// migrated returns a connection to a new SQLite file with the payflow
// tables.
func migrated(t *testing.T, name string) *sql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestBeginIdempotentKeyContended: a key that the upsert finds held but
// that is gone whenever it is read (here, a reader that never sees the
// writer's rows: as if the key were released each time between the two)
// is given up after three tries with ErrKeyContended, which the HTTP API
// answers as unavailable, rather than with the engine's "no rows".
func TestBeginIdempotentKeyContended(t *testing.T) {
	ctx := context.Background()
	w, r := migrated(t, "w.db"), migrated(t, "r.db")
	t0 := time.Unix(1_800_000_000, 0)
	held := sqlstate.New(w, w, sqlstate.SQLite, nil)
	defer held.Close()
	_, err := held.BeginIdempotent(ctx, "k", []byte{1}, t0, t0.Add(time.Minute))
	require.NoError(t, err)

	s := sqlstate.New(w, r, sqlstate.SQLite, nil)
	defer s.Close()
	rep, err := s.BeginIdempotent(ctx, "k", []byte{1}, t0, t0.Add(time.Minute))
	assert.Nil(t, rep)
	assert.ErrorIs(t, err, payflow.ErrKeyContended)
	assert.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.NotErrorIs(t, err, sql.ErrNoRows)
}

// TestStmtPreparedWhileClosing: a statement that a read prepares while
// Close runs (here, Close called between its preparation and its keeping)
// is closed, not kept, and the read fails with ErrClosed: Close leaves no
// statement open. A read after Close fails so too, preparing nothing.
func TestStmtPreparedWhileClosing(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, "p.db")
	s := sqlstate.New(db, db, sqlstate.SQLite, nil)
	var prepared *sql.Stmt
	sqlstate.OnPrepared(s, func(st *sql.Stmt) {
		prepared = st
		require.NoError(t, s.Close())
	})
	_, err := s.Card(ctx, "8944000000000000001")
	assert.ErrorIs(t, err, sqlstate.ErrClosed)
	assert.Equal(t, 0, sqlstate.Stmts(s), "statements kept after Close")
	require.NotNil(t, prepared)
	// database/sql's error for a closed statement is not exported.
	err = prepared.QueryRowContext(ctx, "8944000000000000001").Scan()
	assert.ErrorContains(t, err, "statement is closed")

	prepared = nil
	_, err = s.Card(ctx, "8944000000000000001")
	assert.ErrorIs(t, err, sqlstate.ErrClosed)
	assert.Nil(t, prepared, "a statement prepared after Close")
	assert.Equal(t, 0, sqlstate.Stmts(s))
}
