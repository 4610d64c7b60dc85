package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/payflow/postgres"
)

// TestOpenRefusesNewerSchema: a schema whose payflow tables a newer
// version of the package wrote is refused with ErrSchemaTooNew, no
// store, and left as it was, and none of the connections that Open made
// is left open on the server.
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

	s, err := postgres.Open(ctx, namedDSN(t, dsn, "openrefused"), postgres.Options{})
	require.ErrorIs(t, err, postgres.ErrSchemaTooNew)
	assert.EqualError(t, err, fmt.Sprintf("postgres: payflow: database schema is newer than this program: version %d, known up to %d",
		known+1, known))
	assert.Nil(t, s)
	await(t, "Open's connections closed", nil, func() bool {
		var n int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'openrefused'`).Scan(&n))
		return n == 0
	})
	var rows, latest int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*), max(version) FROM payflow_schema`).Scan(&rows, &latest))
	assert.Equal(t, known+1, rows)
	assert.Equal(t, known+1, latest)
}

// TestOpenRefusesBadDSN: Open refuses a DSN that does not parse, without
// its password, before it connects, with an error that wraps pgx's.
func TestOpenRefusesBadDSN(t *testing.T) {
	_, err := postgres.Open(context.Background(), "host=127.0.0.1 password=secret9 port=notaport", postgres.Options{})
	require.ErrorContains(t, err, "postgres: ")
	assert.NotContains(t, err.Error(), "secret9")
	var parseErr *pgconn.ParseConfigError
	assert.ErrorAs(t, err, &parseErr)
}
