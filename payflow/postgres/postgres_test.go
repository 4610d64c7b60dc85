package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	ledgerpostgres "github.com/casimpay/casimpay/ledger/postgres"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/payflow/postgres"
)

func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	testenv.PostgresDSN(t)
	paytest.Run(t, func(t *testing.T) payflow.Store { return open(t, testenv.PostgresSchema(t)) })
}

func TestMigrateTwice(t *testing.T) {
	dsn := testenv.PostgresSchema(t)
	open(t, dsn)
	open(t, dsn) // a second process finds the schema current
}

// TestPlatform runs the platform end to end with the ledger and the
// platform state in one PostgreSQL schema.
func TestPlatform(t *testing.T) {
	testenv.PostgresDSN(t)
	paytest.RunPlatform(t, func(t *testing.T) *paytest.Fixture {
		dsn := testenv.PostgresSchema(t)
		ls, err := ledgerpostgres.Open(context.Background(), dsn, ledgerpostgres.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { ls.Close() })
		return paytest.NewFixture(t, open(t, dsn), ls, paytest.Options{})
	})
}
