package sqlstate_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
	"github.com/casimpay/casimpay/payflow/sqlite"
	"github.com/casimpay/casimpay/pki"
)

// TestStmtPreparedOnce: a query is prepared on its first use and its
// statement kept and reused: reading a card again prepares nothing, and
// the store keeps one statement.
func TestStmtPreparedOnce(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, "once.db")
	s := sqlstate.New(db, db, sqlstate.SQLite, nil)
	defer s.Close()
	prepared := 0
	sqlstate.OnPrepared(s, func(*sql.Stmt) { prepared++ })
	for range 3 {
		_, err := s.Card(ctx, "8944000000000000001")
		require.ErrorIs(t, err, payflow.ErrNotFound)
	}
	assert.Equal(t, 1, prepared, "statements prepared")
	assert.Equal(t, 1, sqlstate.Stmts(s), "statements kept")
}

// TestCloseClosesStatements: Close closes the statements that the store
// kept and keeps none: one prepared before Close runs no more.
func TestCloseClosesStatements(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, "close.db")
	s := sqlstate.New(db, db, sqlstate.SQLite, nil)
	var prepared *sql.Stmt
	sqlstate.OnPrepared(s, func(st *sql.Stmt) { prepared = st })
	_, err := s.Card(ctx, "8944000000000000001")
	require.ErrorIs(t, err, payflow.ErrNotFound)
	require.NotNil(t, prepared)
	require.Equal(t, 1, sqlstate.Stmts(s))

	require.NoError(t, s.Close())
	assert.Equal(t, 0, sqlstate.Stmts(s), "statements kept after Close")
	// database/sql's error for a closed statement is not exported.
	err = prepared.QueryRowContext(ctx, "8944000000000000001").Scan()
	assert.ErrorContains(t, err, "statement is closed")
}

// TestStmtPreparedTwiceKeepsOne: of two calls that prepare one query at
// once (here, the second runs between the first's preparation and its
// keeping), the statement kept first is the one both use: the second
// prepared is closed at once, and Close closes the one kept, leaving no
// statement open.
func TestStmtPreparedTwiceKeepsOne(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, "twice.db")
	s := sqlstate.New(db, db, sqlstate.SQLite, nil)
	const id = "8944000000000000001"
	var prepared []*sql.Stmt
	sqlstate.OnPrepared(s, func(st *sql.Stmt) {
		prepared = append(prepared, st)
		if len(prepared) == 1 {
			_, err := s.Card(ctx, id)
			require.ErrorIs(t, err, payflow.ErrNotFound)
		}
	})
	_, err := s.Card(ctx, id)
	require.ErrorIs(t, err, payflow.ErrNotFound)
	require.Len(t, prepared, 2)
	assert.Equal(t, 1, sqlstate.Stmts(s), "statements kept")
	// database/sql's error for a closed statement is not exported.
	assert.ErrorContains(t, prepared[0].QueryRowContext(ctx, id).Scan(), "statement is closed", "the first prepared")
	assert.ErrorIs(t, prepared[1].QueryRowContext(ctx, id).Scan(), sql.ErrNoRows, "the one kept")

	require.NoError(t, s.Close())
	assert.ErrorContains(t, prepared[1].QueryRowContext(ctx, id).Scan(), "statement is closed", "the one kept, after Close")
}

// TestStmtOfEachPool: a query that a store without a Batcher runs on
// both of its pools (the counter's read, in Advance on the reader and in
// Accept's transaction on the writer) is prepared on each: a refused
// Advance, which prepares it on the reader, is followed by an acceptance
// refused with the counter held, not with the error of a statement of
// the other pool.
func TestStmtOfEachPool(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pools.db")
	opened, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, opened.Close())
	var pools [2]*sql.DB
	for i := range pools {
		pools[i], err = sql.Open("sqlite", path)
		require.NoError(t, err)
		defer pools[i].Close()
	}
	s := sqlstate.New(pools[0], pools[1], sqlstate.SQLite, nil)
	defer s.Close()
	const shopper, seller = "8900000000000000001", "8900000000000000002"
	require.NoError(t, s.Advance(ctx, seller, 5))
	var ce *pki.CounterError
	require.ErrorAs(t, s.Advance(ctx, seller, 3), &ce)
	err = s.Accept(ctx, &payflow.Acceptance{CardID: seller, Counter: 4, Insert: pendingRequest(shopper, seller)})
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, pki.CounterError{CardID: seller, Last: 5, Got: 4}, *ce)
}
