package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
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

// TestPendingBySessionIndexed: the pending requests of a session that a
// seller card's pairing proof cancels can be found through an index, not
// only by reading every request.
func TestPendingBySessionIndexed(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	open(t, dsn)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	_, err = conn.Exec(ctx, "SET enable_seqscan = off") // the table is empty
	require.NoError(t, err)
	var plan []string
	rows, err := conn.Query(ctx, `EXPLAIN UPDATE payflow_payments SET state = 'cancelled', version = version + 1, updated_at = 1,
		due_at = 1 WHERE session_id = '\x01'::bytea AND state = 'pending' AND expires_at > 1`)
	require.NoError(t, err)
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan = append(plan, line)
	}
	require.NoError(t, rows.Err())
	assert.Contains(t, fmt.Sprint(plan), "payflow_payments_pending_session")
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

// TestCatalogOrderUnderLocale: in a database whose default collation is
// a language's (here ICU's en-US) rather than C, a catalog still comes in
// SKU order as the other stores give it, byte by byte: "B" before "a".
func TestCatalogOrderUnderLocale(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	name := fmt.Sprintf("casimpay_icu_%d", time.Now().UnixNano())
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
	require.NoError(t, err, "the test server builds ICU databases")
	t.Cleanup(func() { // after the store's Close
		_, err := conn.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
		assert.NoError(t, err)
	})
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.Path = "/" + name
	s := open(t, u.String())

	require.NoError(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR"}))
	items := []payflow.CatalogItem{{SKU: "a", Name: "A", UnitPrice: 1}, {SKU: "B", Name: "B", UnitPrice: 2}, {SKU: "a-2", Name: "A2", UnitPrice: 3}, {SKU: "a1", Name: "A1", UnitPrice: 4}}
	require.NoError(t, s.SetCatalog(ctx, "m", items))
	got, err := s.Catalog(ctx, "m")
	require.NoError(t, err)
	var skus []string
	for _, it := range got {
		skus = append(skus, it.SKU)
	}
	assert.Equal(t, []string{"B", "a", "a-2", "a1"}, skus)
}

// TestOpenNegativeMaxConns: a negative MaxConns is refused with
// ErrNegativeOption rather than read as the default.
func TestOpenNegativeMaxConns(t *testing.T) {
	s, err := postgres.Open(context.Background(), testenv.PostgresSchema(t), postgres.Options{MaxConns: -1})
	if !assert.ErrorIs(t, err, postgres.ErrNegativeOption) {
		s.Close()
	}
}
