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
