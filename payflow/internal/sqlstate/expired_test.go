package sqlstate_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
	"github.com/casimpay/casimpay/payflow/postgres"
	"github.com/casimpay/casimpay/payflow/sqlite"
)

// sqlStore returns the sqlstate.Store of a store that an engine opened.
func sqlStore(t *testing.T, s payflow.Store) *sqlstate.Store {
	t.Helper()
	switch s := s.(type) {
	case *sqlite.Store:
		return s.Store
	case *postgres.Store:
		return s.Store
	}
	t.Fatalf("a store of type %T", s)
	return nil
}

// expiredRows writes, in one transaction on db, nonces issued and keys of
// idempotent replies expired at t0 (n of each) and one of each unexpired.
func expiredRows(t *testing.T, db *sql.DB, d sqlstate.Dialect, n int) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	for i := range n + 1 {
		exp := sec(0)
		if i == n {
			exp = sec(1)
		}
		_, err := tx.ExecContext(ctx, sqlstate.Rebind(d, `INSERT INTO payflow_nonces (nonce, expires_at) VALUES (?, ?)`),
			[]byte(fmt.Sprint("nonce ", i)), exp)
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, sqlstate.Rebind(d, `INSERT INTO payflow_replies (key, body_hash, done, status, reply, deadline)
			VALUES (?, ?, 1, 200, NULL, ?)`), fmt.Sprint("key ", i), []byte{1}, exp)
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
}

// expiredStore opens a store of e on a fresh database holding the rows of
// expiredRows, and returns the database and the store.
func expiredStore(t *testing.T, e engine, n int) (*sql.DB, payflow.Store) {
	t.Helper()
	db, open := e.fresh(t)
	s := open(t)
	expiredRows(t, db, e.d, n)
	return db, s
}

// expiredLeft counts, on db, the rows of expiredRows expired at t0.
func expiredLeft(t *testing.T, db *sql.DB, d sqlstate.Dialect) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(sqlstate.Rebind(d, `SELECT (SELECT count(*) FROM payflow_nonces WHERE expires_at <= ?)
		+ (SELECT count(*) FROM payflow_replies WHERE deadline <= ?)`), sec(0), sec(0)).Scan(&n))
	return n
}

// TestDeleteExpiredBatches: DeleteExpired deletes the rows expired in
// batches of at most 256, each committed on its own (another connection
// sees it gone before the next batch), so that SQLite's writer is not held
// for the whole sweep; and, its context ended between two batches, it
// returns what the batches before deleted, with the context's error,
// leaving the rest.
func TestDeleteExpiredBatches(t *testing.T) {
	const n = 600 // of each of two kinds: five batches at least
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			db, s := expiredStore(t, e, n)
			left := []int{expiredLeft(t, db, e.d)}
			sqlstate.SetBetweenBatches(sqlStore(t, s), func() { left = append(left, expiredLeft(t, db, e.d)) })
			deleted, err := s.DeleteExpired(ctx, t0)
			require.NoError(t, err)
			assert.Equal(t, 2*n, deleted)
			require.GreaterOrEqual(t, len(left), 6, "batches of at most 256 rows: %v left after each", left)
			for i := 1; i < len(left); i++ {
				assert.LessOrEqual(t, left[i-1]-left[i], 256, "batch %d: %v left after each", i, left)
			}
			assert.Zero(t, left[len(left)-1])
			var kept int
			require.NoError(t, db.QueryRow(`SELECT (SELECT count(*) FROM payflow_nonces) + (SELECT count(*) FROM payflow_replies)`).Scan(&kept))
			assert.Equal(t, 2, kept, "the unexpired nonce and key are kept")
		})
		t.Run(e.name+" cancelled", func(t *testing.T) {
			db, s := expiredStore(t, e, n)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			batches := 0
			sqlstate.SetBetweenBatches(sqlStore(t, s), func() {
				batches++
				cancel()
			})
			deleted, err := s.DeleteExpired(ctx, t0)
			assert.ErrorIs(t, err, context.Canceled)
			assert.Equal(t, 1, batches)
			assert.Equal(t, 256, deleted, "the rows of the batch committed")
			assert.Equal(t, 2*n-256, expiredLeft(t, db, e.d), "the rest kept")
		})
	}
}

// TestDeleteExpiredEnds: rows written expired at the sweep's now while it
// runs (by processes whose clocks are behind the sweeper's) do not keep
// DeleteExpired going: of each table it deletes at most as many rows as
// had expired when it came to it, the oldest first, and ends, however
// many such rows keep coming.
func TestDeleteExpiredEnds(t *testing.T) {
	const n = 300 // of each of two kinds
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			db, s := expiredStore(t, e, n)
			batches, written := 0, 0
			sqlstate.SetBetweenBatches(sqlStore(t, s), func() {
				if batches++; batches > 10 {
					return // the writers stop: the sweep ends anyway
				}
				tx, err := db.Begin()
				require.NoError(t, err)
				defer tx.Rollback()
				for i := range 256 {
					_, err := tx.Exec(sqlstate.Rebind(e.d, `INSERT INTO payflow_nonces (nonce, expires_at) VALUES (?, ?)`),
						[]byte(fmt.Sprint("fresh ", batches, " ", i)), sec(1)+1)
					require.NoError(t, err)
					written++
				}
				require.NoError(t, tx.Commit())
			})
			deleted, err := s.DeleteExpired(ctx, t0.Add(2*time.Second))
			require.NoError(t, err)
			assert.LessOrEqual(t, batches, 10, "the sweep ended while rows expired at its now kept coming")
			assert.Equal(t, 2*n+2, deleted, "as many rows as had expired at its start")
			var left, fresh int
			require.NoError(t, db.QueryRow(sqlstate.Rebind(e.d, `SELECT count(*) FROM payflow_nonces WHERE expires_at <= ?`), sec(1)).Scan(&left))
			assert.Zero(t, left, "the rows expired first are deleted first")
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM payflow_nonces`).Scan(&fresh))
			assert.Equal(t, written, fresh, "the rows written meanwhile are kept")
		})
	}
}

// TestDeleteExpiredZeroFirst: DeleteExpired deletes the rows expired at
// now in the order in which they expired, those kept with the zero time
// as their expiry (0) first, at a now after the Unix epoch too, where it
// deleted the rows expired before the epoch first: its first batch, its
// context ended after it, deletes the nonce expiring at the zero time,
// where it deleted 256 of those expiring in 1960 and left that one.
func TestDeleteExpiredZeroFirst(t *testing.T) {
	old := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			db, open := e.fresh(t)
			s := open(t)
			tx, err := db.Begin()
			require.NoError(t, err)
			defer tx.Rollback()
			for i := range 301 {
				exp := old + int64(i)
				if i == 300 {
					exp = 0
				}
				_, err := tx.Exec(sqlstate.Rebind(e.d, `INSERT INTO payflow_nonces (nonce, expires_at) VALUES (?, ?)`),
					[]byte(fmt.Sprint("nonce ", i)), exp)
				require.NoError(t, err)
			}
			require.NoError(t, tx.Commit())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sqlstate.SetBetweenBatches(sqlStore(t, s), cancel)
			deleted, err := s.DeleteExpired(ctx, t0)
			assert.ErrorIs(t, err, context.Canceled)
			assert.Equal(t, 1, deleted, "the row of the batch committed")
			var zero, left int
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM payflow_nonces WHERE expires_at = 0`).Scan(&zero))
			assert.Zero(t, zero, "the nonce expiring at the zero time deleted")
			require.NoError(t, db.QueryRow(`SELECT count(*) FROM payflow_nonces`).Scan(&left))
			assert.Equal(t, 300, left, "the nonces expiring in 1960 kept")
		})
	}
}

// TestDeleteExpiredGoneMeanwhile: rows that DeleteExpired counted but
// that are gone before its batch comes to them (deleted by another sweep)
// end that table's sweep with the batch that deletes none: it goes on to
// the next table and returns the rows that it deleted itself.
func TestDeleteExpiredGoneMeanwhile(t *testing.T) {
	const n = 300 // of each of two kinds: two batches each
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			db, s := expiredStore(t, e, n)
			batches := 0
			sqlstate.SetBetweenBatches(sqlStore(t, s), func() {
				if batches++; batches > 8 {
					t.Fatalf("%d batches: the sweep went on after a batch that deleted none", batches)
				}
				if batches == 1 { // the rest of the expired nonces, deleted by another sweep
					_, err := db.Exec(sqlstate.Rebind(e.d, `DELETE FROM payflow_nonces WHERE expires_at <= ?`), sec(0))
					require.NoError(t, err)
				}
			})
			deleted, err := s.DeleteExpired(ctx, t0)
			require.NoError(t, err)
			assert.Equal(t, 256+n, deleted, "the nonces of the first batch and every key")
			assert.Equal(t, 4, batches, "the nonces' two batches, the second deleting none, and the keys' two")
			assert.Zero(t, expiredLeft(t, db, e.d))
		})
	}
}
