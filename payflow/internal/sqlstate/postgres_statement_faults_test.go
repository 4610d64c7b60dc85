package sqlstate_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/pgconfig"
	"github.com/casimpay/casimpay/internal/pgfault"
	"github.com/casimpay/casimpay/internal/sqlfault"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
	"github.com/casimpay/casimpay/payflow/postgres"
	"github.com/casimpay/casimpay/pki"
)

// pgStatements is the faultDB of a PostgreSQL store over a statementPool,
// whose statements through database/sql sqlfault numbers and fails before
// they reach the server: preparations, BEGINs, executions, queries, the
// reads of a query's rows after its first, and COMMITs, its reads among
// them, which pgfault does not number. The store's pipelines run on
// connections of their own, and are not numbered.
type pgStatements struct {
	stmtFaults
	pf *pgFaults
}

func (ps pgStatements) dump(t *testing.T) map[string][]string { return ps.pf.dump(t) }

// failed reports a statement's failure that came through the store's
// CallErr (markedCallErr).
func (ps pgStatements) failed(err error) bool {
	return ps.stmtFaults.failed(err) && errors.Is(err, errCallErr)
}

// errCallErr is what markedCallErr wraps an error with.
var errCallErr = errors.New("through CallErr")

// markedCallErr is the CallErr of package postgres (pgconfig.WithContextErr)
// whose errors of a statement that sqlfault failed also match errCallErr,
// so that a test tells such an error that came through it from one
// returned as the statement gave it.
func markedCallErr(ctx context.Context, err error) error {
	err = pgconfig.WithContextErr(ctx, err)
	if !errors.Is(err, sqlfault.ErrStatement) {
		return err
	}
	return fmt.Errorf("%w (%w)", err, errCallErr)
}

// statementPool returns a pool of pgx's database/sql connections to pf's
// schema whose statements f numbers, closed when t ends.
func (pf *pgFaults) statementPool(t *testing.T, f *sqlfault.Faults) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(pf.dsn)
	require.NoError(t, err)
	db := sqlfault.OpenConnector(stdlib.GetConnector(*cfg), f)
	t.Cleanup(func() { db.Close() })
	return db
}

// statements returns a function that empties the payflow tables (empty)
// and returns a new store on them, and its pgStatements: the store of
// sqlstate.NewPostgres over a statementPool, with the Pipeline of a store
// of package postgres, opened for t, and that package's CallErr, marked
// (markedCallErr). Each store is new, so that a call prepares its
// statements again, which are numbered too; the one before is closed.
func (pf *pgFaults) statements(t *testing.T) func() (*sqlstate.Store, faultDB) {
	t.Helper()
	f := &sqlfault.Faults{}
	db := pf.statementPool(t, f)
	ps, err := postgres.Open(context.Background(), pf.dsn, postgres.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { ps.Close() })
	var s *sqlstate.Store
	t.Cleanup(func() {
		if s != nil {
			s.Close()
		}
	})
	return func() (*sqlstate.Store, faultDB) {
		if s != nil {
			s.Close()
		}
		pf.empty(t)
		s = sqlstate.NewPostgres(db, sqlstate.PipelineOf(ps.Store), markedCallErr)
		return s, pgStatements{stmtFaults{f}, pf}
	}
}

// TestPostgresStatementFaults: a call of the PostgreSQL store one of whose
// statements through database/sql fails (its preparation, BEGIN, an
// execution, a query, the read of a row after the first, or COMMIT) fails
// with that statement's error, which came through the store's CallErr,
// and leaves every table as it was; a read that follows a committed write
// (PutAsset's, NonceKey's) leaves the tables as the call without a failure
// leaves them; made again, the call does what it does when nothing fails.
// So for the reads that pgfault does not number: those of the transactions
// of PutCard, PutMerchant and SetCatalog, the PostgreSQL ones (the
// merchant's lock, the cards locked) among them; those of the transaction
// of an acceptance that its pipeline refused; those of Advance refused, of
// BeginIdempotent finding the key held, and the store's reads. Consume,
// and an acceptance that its pipeline commits, run no statement through
// database/sql (their pipelines' writes fail in TestPostgresWriteFaults).
// A statement of DeleteExpired (a count among them) that fails fails it as
// in TestPostgresDeleteExpiredFaults.
func TestPostgresStatementFaults(t *testing.T) {
	pipelined := []string{"Consume", "Accept token", "Accept session cancelling", "Accept insert", "Accept update"}
	pf := newPGFaults(t, pgfault.Code)
	for _, c := range slices.Concat(faultCases, readFaultCases) {
		t.Run(c.name, func(t *testing.T) {
			n := checkFaults(t, c, pf.statements(t))
			if slices.Contains(pipelined, c.name) {
				assert.Zero(t, n, "statements run")
			} else {
				assert.Positive(t, n, "statements run")
			}
		})
	}
	t.Run("DeleteExpired", func(t *testing.T) { pf.checkDeleteExpiredFaults(t, pf.statements(t)) })
}

// TestPostgresConsumeCancelledUnpiped: Consume on a PostgreSQL store
// without a Pipeline, whose context ends while its DELETE … RETURNING
// runs, which the server then cancels (SQLSTATE 57014, here a fault
// point's error of that code), fails with an error wrapping both the
// context's error and the server's, as every call of the store does
// (CallErr): the error of wrow's row goes through it (endedRow). Nothing
// is consumed: made again, Consume takes the nonce. A context that ends
// once the statement has answered with its row (committed) is not pinned:
// database/sql then closes the rows as the context ends, and Consume
// returns nil or context.Canceled as that closing and the row's read
// race, the nonce consumed either way (see wrow), which the Pipeline of
// package postgres avoids.
func TestPostgresConsumeCancelledUnpiped(t *testing.T) {
	ctx := context.Background()
	nonce := []byte("nonce")
	pf := newPGFaults(t, "57014")
	f := &sqlfault.Faults{}
	s := sqlstate.NewPostgres(pf.statementPool(t, f), nil, pgconfig.WithContextErr)
	defer s.Close()
	require.NoError(t, s.Add(ctx, nonce, t0.Add(time.Hour)))
	before := pf.dump(t)

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.After(func(what string) {
		if what == "query DELETE" {
			cancel() // once the server has answered
		}
	})
	pf.armAt(t, 1)
	err := s.Consume(cctx, nonce, t0)
	f.After(nil)
	assert.ErrorIs(t, err, context.Canceled)
	assert.True(t, pgfault.Is(err, "57014"), "the server's error: %v", err)
	assert.Equal(t, 1, pf.ran(t), "writes run")
	assert.Equal(t, before, pf.dump(t), "the nonce kept")

	pf.armAt(t)
	require.NoError(t, s.Consume(ctx, nonce, t0))
	assert.ErrorIs(t, s.Consume(ctx, nonce, t0), pki.ErrNonce, "consumed")
}
