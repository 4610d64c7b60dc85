package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/payflow/postgres"
)

// TestOpenRefusesNewerSchema: a schema whose payflow tables a newer
// version of the package wrote is refused with ErrSchemaTooNew and left
// as it was.
func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	require.NoError(t, open(t, dsn).Close())
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var known int
	require.NoError(t, conn.QueryRow(ctx, `SELECT max(version) FROM payflow_schema`).Scan(&known))
	_, err = conn.Exec(ctx, `INSERT INTO payflow_schema (version, name, applied_at) VALUES ($1, 'future', 0)`, known+1)
	require.NoError(t, err)

	_, err = postgres.Open(ctx, dsn, postgres.Options{})
	require.ErrorIs(t, err, postgres.ErrSchemaTooNew)
	var rows, latest int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*), max(version) FROM payflow_schema`).Scan(&rows, &latest))
	assert.Equal(t, known+1, rows)
	assert.Equal(t, known+1, latest)
}

// TestOpenRefusesBadDSN: Open refuses a DSN that does not parse, without
// its password, before it connects.
func TestOpenRefusesBadDSN(t *testing.T) {
	_, err := postgres.Open(context.Background(), "host=127.0.0.1 password=secret9 port=notaport", postgres.Options{})
	require.ErrorContains(t, err, "postgres: ")
	assert.NotContains(t, err.Error(), "secret9")
}
