package payflow_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/postgres"
	"github.com/casimpay/casimpay/payflow/sqlite"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// sqlStore is a store of an SQL kind.
type sqlStore interface {
	payflow.Store
	Close() error
}

// eachSQLStore runs f on a fresh store of each SQL kind, SQLite and, when
// it is configured, PostgreSQL (skipped otherwise), with a read of its
// own of the store's database: column returns the one column of the rows
// of a query without arguments, the query tables that of the names of the
// database's tables, sorted.
func eachSQLStore(t *testing.T, f func(t *testing.T, s payflow.Store, column func(q string) []string, tables string)) {
	ctx := context.Background()
	for _, kind := range []struct {
		name, driver, tables string
		open                 func(t *testing.T) (sqlStore, string, error)
	}{
		{"sqlite", "sqlite", `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`,
			func(t *testing.T) (sqlStore, string, error) {
				path := filepath.Join(t.TempDir(), "casimpay.db")
				s, err := sqlite.Open(ctx, path, sqlite.Options{})
				return s, "file:" + path + "?_pragma=query_only(1)", err
			}},
		{"postgres", "pgx", `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`,
			func(t *testing.T) (sqlStore, string, error) {
				dsn := testenv.PostgresSchema(t)
				s, err := postgres.Open(ctx, dsn, postgres.Options{})
				return s, dsn, err
			}},
	} {
		t.Run(kind.name, func(t *testing.T) {
			s, dsn, err := kind.open(t)
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			db, err := sql.Open(kind.driver, dsn)
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			column := func(q string) []string {
				t.Helper()
				rows, err := db.QueryContext(ctx, q)
				require.NoError(t, err)
				defer rows.Close()
				var all []string
				for rows.Next() {
					var v string
					require.NoError(t, rows.Scan(&v))
					all = append(all, v)
				}
				require.NoError(t, rows.Err())
				return all
			}
			f(t, s, column, kind.tables)
		})
	}
}

// TestProtocolStorageTables pins PROTOCOL.md §6.7: "tables prefixed
// `payflow_` with their own schema version table `payflow_schema`", of
// cards, counters, merchants, catalogs, assets, the nonce key, used
// nonces, token hashes, sessions, payment requests, refunds, the stored
// replies of the Idempotency-Key and the nonces issued statefully: a
// store opened on an empty database makes these and no other.
func TestProtocolStorageTables(t *testing.T) {
	eachSQLStore(t, func(t *testing.T, _ payflow.Store, column func(string) []string, tables string) {
		assert.Equal(t, []string{
			"payflow_assets", "payflow_cards", "payflow_catalog", "payflow_counters", "payflow_keys",
			"payflow_merchants", "payflow_nonces", "payflow_payments", "payflow_refunds", "payflow_replies",
			"payflow_schema", "payflow_sessions", "payflow_tokens", "payflow_used_nonces",
		}, column(tables))
	})
}

// TestProtocolStorageStatefulNonces pins PROTOCOL.md §6.7: "The table
// `payflow_nonces` of nonces issued statefully (`Store.Add`,
// `Store.Consume`: `pki.NonceStore`) remains for `pki.Challenger`": a
// Challenger whose nonces a store keeps issues each into that table, and
// the store's Consume takes it from there, once.
func TestProtocolStorageStatefulNonces(t *testing.T) {
	eachSQLStore(t, func(t *testing.T, s payflow.Store, column func(string) []string, _ string) {
		ctx := context.Background()
		root, _, err := simcardtest.NewCA()
		require.NoError(t, err)
		v, err := pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{root.DER()}})
		require.NoError(t, err)
		now := time.Now()
		c := pki.NewChallenger(v, pki.ChallengerOptions{Nonces: s, Now: func() time.Time { return now }})
		nonce, err := c.NewNonce(ctx)
		require.NoError(t, err)
		const nonces = `SELECT nonce FROM payflow_nonces`
		assert.Equal(t, []string{string(nonce)}, column(nonces), "issued into payflow_nonces")
		require.NoError(t, s.Consume(ctx, nonce, now))
		assert.Empty(t, column(nonces), "taken")
		assert.ErrorIs(t, s.Consume(ctx, nonce, now), pki.ErrNonce, "taken once")
	})
}
