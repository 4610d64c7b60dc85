package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/ledger"
)

// TestDefaultRetries: with Options.MaxRetries zero, Update reruns a
// transaction that fails with a unique violation 10 times, then fails
// with ledger.ErrCorrupt and the violation.
func TestDefaultRetries(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	insertAccount(t, s, account(1))
	calls := 0
	err := s.Update(ctx, func(tx ledger.Tx) error {
		calls++
		return tx.InsertAccounts([]ledger.Account{account(1)})
	})
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, codeUniqueViolation, pgErr.Code)
	assert.ErrorIs(t, err, ledger.ErrCorrupt)
	assert.Equal(t, 11, calls)
}

// TestMaxConns: Options.MaxConns sizes the pool; zero leaves the size
// that the DSN names (pool_max_conns).
func TestMaxConns(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	for _, tc := range []struct {
		name string
		dsn  string
		opts Options
		want int32
	}{
		{"option", dsn, Options{MaxConns: 3}, 3},
		{"option_over_dsn", dsn + "&pool_max_conns=5", Options{MaxConns: 2}, 2},
		{"dsn", dsn + "&pool_max_conns=5", Options{}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(ctx, tc.dsn, tc.opts)
			require.NoError(t, err)
			defer s.Close()
			assert.Equal(t, tc.want, s.pool.Stat().MaxConns())
		})
	}
}

// TestClosedFailsAtOnce: Update and View after Close fail with
// ledger.ErrClosed itself, before they ask the pool for a connection.
func TestClosedFailsAtOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	require.NoError(t, s.Close())
	s.beforeAcquire = func() { t.Error("a closed Store asks for a connection") }
	ran := false
	assert.Equal(t, ledger.ErrClosed, s.Update(ctx, func(ledger.Tx) error { ran = true; return nil }))
	assert.Equal(t, ledger.ErrClosed, s.View(ctx, func(ledger.ReadTx) error { ran = true; return nil }))
	assert.False(t, ran)
}

// TestRetryWaitEnded: when ctx ends before the wait for a rerun, Update
// fails with an error wrapping both the transaction's and ctx's, and
// does not run fn again.
func TestRetryWaitEnded(t *testing.T) {
	s, _ := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err := s.Update(ctx, func(ledger.Tx) error {
		calls++
		cancel()
		return &pgconn.PgError{Code: "40001"}
	})
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "40001", pgErr.Code)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, calls)
}

// TestOpenNoSchema: Open fails, with the server's error, when the
// connection's search_path names no schema that exists, where
// schema_migrations cannot be created (invalid_schema_name, 3F000).
func TestOpenNoSchema(t *testing.T) {
	dsn := testenv.PostgresDSN(t) + "&search_path=no_such_schema_casimpay"
	s, err := Open(context.Background(), dsn, Options{})
	assert.Nil(t, s)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "3F000", pgErr.Code)
	assert.True(t, strings.HasPrefix(err.Error(), "postgres: migrate: "), "error %q", err)
}

// TestErrorClasses: the SQLSTATE codes that Update and migrate tell
// apart.
func TestErrorClasses(t *testing.T) {
	codes := []string{codeUniqueViolation, codeForeignKeyViolation, codeInvalidText, codeDuplicateTable, codeDuplicateObject, "40001"}
	for _, tc := range []struct {
		name string
		is   func(error) bool
		want []string
	}{
		{"isUniqueViolation", isUniqueViolation, []string{"23505"}},
		{"isForeignKeyViolation", isForeignKeyViolation, []string{"23503"}},
		{"isRefused", isRefused, []string{"22P02"}},
		{"isDuplicateTable", isDuplicateTable, []string{"42P07", "42710"}},
	} {
		var got []string
		for _, c := range codes {
			if tc.is(fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: c})) {
				got = append(got, c)
			}
		}
		assert.Equal(t, tc.want, got, tc.name)
		assert.False(t, tc.is(errors.New(tc.want[0])), "%s of an error without a SQLSTATE", tc.name)
	}
}
