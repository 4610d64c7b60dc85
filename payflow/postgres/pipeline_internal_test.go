package postgres

import (
	"context"
	"database/sql"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
)

// TestPipelineErrors: a pipeline whose first query returns no row fails
// with sql.ErrNoRows, and one whose first query fails with the server's
// error for it.
func TestPipelineErrors(t *testing.T) {
	ctx := context.Background()
	cfg, err := connConfig(testenv.PostgresDSN(t))
	require.NoError(t, err)
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	pipe := pipeline(db)
	var n int
	err = pipe(ctx, []sqlstate.Query{{SQL: `SELECT 1 WHERE false`}, {SQL: `SELECT 2`}}, &n)
	assert.ErrorIs(t, err, sql.ErrNoRows, "no row")
	err = pipe(ctx, []sqlstate.Query{{SQL: `SELECT 1 / $1::int`, Args: []any{0}}, {SQL: `SELECT 2`}}, &n)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr, "the first failed")
	assert.Equal(t, "22012", pgErr.Code)
	require.NoError(t, pipe(ctx, []sqlstate.Query{{SQL: `SELECT 3`}, {SQL: `SELECT 4`}}, &n))
	assert.Equal(t, 3, n)
}
