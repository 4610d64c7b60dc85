package sqlstate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver of database/sql
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlmigrate"
	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/payflow"
)

// writtenTx is a dbTx that runs nothing: it keeps each statement given
// to ExecContext, as the store wrote it for its dialect, with its
// arguments.
type writtenTx struct {
	dbTx
	queries []string
	args    [][]any
}

func (w *writtenTx) ExecContext(_ context.Context, query string, args ...any) (sql.Result, error) {
	w.queries, w.args = append(w.queries, query), append(w.args, args)
	return driver.RowsAffected(0), nil
}

// TestProtocolStorageReenrolmentCancelsThroughIndexes pins PROTOCOL.md
// §6.7 on PostgreSQL: a card's enrolment with another certificate cancels
// its pending requests, "found through … partial indexes of pending
// requests by seller card and by payer card". The statement that withdraw
// runs to cancel them is planned through both indexes on a migrated
// schema holding 1000 requests of other cards, every other one pending,
// once analysed (and the server told to read no table in full where an
// index serves). SQLite plans that statement through payflow_payments_due
// (state=?) instead, every pending request read, which the clause does
// not say.
func TestProtocolStorageReenrolmentCancelsThroughIndexes(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("pgx", testenv.PostgresSchema(t))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	ms, err := sqlmigrate.Read(os.DirFS("../../postgres"), "migrations")
	require.NoError(t, err)
	require.NoError(t, Migrate(ctx, db, Postgres, ms))

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	for i := range 1000 {
		id := []byte(fmt.Sprintf("request %08d", i))
		_, err := tx.ExecContext(ctx, `INSERT INTO payflow_payments (id, session_id, state, version, merchant_id,
			seller_card_id, payer_card_id, currency, amount, request, request_hash, manual_capture, expires_at, created_at,
			updated_at, attempt, hold_expires_at, capture_amount, captured, refunded, void_to, settled_at, due_at)
			VALUES ($1, $1, $2, 1, 'm', $3, $4, 'EUR', 10, $1, $1, 0, $5, 1, 1, 0, 0, 0, 0, 0, '', 0, 0)`,
			id, map[bool]string{true: payflow.StatePending, false: payflow.StateCaptured}[i%2 == 0],
			fmt.Sprintf("89000000000000%05d", i), fmt.Sprintf("89000000000001%05d", i), ns(time.Unix(1_900_000_000, 0)))
		require.NoError(t, err)
	}
	_, err = tx.ExecContext(ctx, `ANALYZE payflow_payments`)
	require.NoError(t, err)

	written := &writtenTx{}
	require.NoError(t, NewPostgres(db, nil, nil).withdraw(ctx, written, "8900000000000000001", time.Unix(1_800_000_000, 0)))
	require.Len(t, written.queries, 2, "the sessions deleted, then the requests cancelled")
	require.Contains(t, written.queries[1], "UPDATE payflow_payments")
	_, err = tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off`)
	require.NoError(t, err)
	var plan string
	require.NoError(t, tx.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+written.queries[1], written.args[1]...).Scan(&plan))
	assert.Contains(t, plan, `"Index Name": "payflow_payments_pending_seller"`)
	assert.Contains(t, plan, `"Index Name": "payflow_payments_pending_payer"`)
}
