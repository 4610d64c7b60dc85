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

// holdKey has a store of db take the key "k" for the body hash {1} at t0,
// leased for a minute, and returns that store.
func holdKey(t *testing.T, db *sql.DB, t0 time.Time) *sqlstate.Store {
	t.Helper()
	held := sqlstate.New(db, db, sqlstate.SQLite, nil)
	t.Cleanup(func() { held.Close() })
	_, err := held.BeginIdempotent(context.Background(), "k", []byte{1}, t0, t0.Add(time.Minute))
	require.NoError(t, err)
	return held
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
	holdKey(t, w, t0)

	s := sqlstate.New(w, r, sqlstate.SQLite, nil)
	defer s.Close()
	var tries []int
	sqlstate.OnClaimed(s, func(try int) { tries = append(tries, try) })
	rep, err := s.BeginIdempotent(ctx, "k", []byte{1}, t0, t0.Add(time.Minute))
	assert.Nil(t, rep)
	assert.ErrorIs(t, err, payflow.ErrKeyContended)
	assert.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.NotErrorIs(t, err, sql.ErrNoRows)
	assert.Equal(t, []int{1, 2, 3}, tries, "upserts that did not take the key")
}

// TestBeginIdempotentClaimedOnSecondTry: a key held at the upsert and
// released before its read (here, deleted between the two) is claimed by
// the next try's upsert: BeginIdempotent returns no reply and no error,
// and the key is then in flight for its caller, another request with the
// same body refused ErrInFlight.
func TestBeginIdempotentClaimedOnSecondTry(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, "c.db")
	t0 := time.Unix(1_800_000_000, 0)
	held := holdKey(t, db, t0)

	s := sqlstate.New(db, db, sqlstate.SQLite, nil)
	defer s.Close()
	var tries []int
	sqlstate.OnClaimed(s, func(try int) {
		tries = append(tries, try)
		_, err := db.ExecContext(ctx, `DELETE FROM payflow_replies WHERE key = 'k'`)
		require.NoError(t, err)
	})
	rep, err := s.BeginIdempotent(ctx, "k", []byte{2}, t0, t0.Add(time.Minute))
	require.NoError(t, err)
	assert.Nil(t, rep)
	assert.Equal(t, []int{1}, tries, "upserts that did not take the key")

	_, err = held.BeginIdempotent(ctx, "k", []byte{2}, t0, t0.Add(time.Minute))
	assert.ErrorIs(t, err, payflow.ErrInFlight)
	_, err = held.BeginIdempotent(ctx, "k", []byte{1}, t0, t0.Add(time.Minute))
	assert.ErrorIs(t, err, payflow.ErrKeyReuse)
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
