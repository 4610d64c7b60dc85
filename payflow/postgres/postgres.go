// Package postgres is the payflow.Store in a PostgreSQL database, the same
// database as the ledger's (package ledger/postgres): its tables are named
// payflow_*, its schema version is kept in payflow_schema, and its
// migrations are embedded and applied under an advisory lock, so that
// several platform processes may start at once. Every change of one
// payment request is a conditional UPDATE (… WHERE id = … AND state = …
// AND version = …, the state and version read before), and the statements
// that change several at once (the cancellation of a card's pending
// requests when it is enrolled again with another certificate or
// advertising secret, and of a session's when its seller card pairs again)
// change only requests still pending, or mark those under approval, each
// raising its version, so of two processes racing on one request exactly
// one wins.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib" // pgx's database/sql driver, and its connections for pipelines

	"github.com/casimpay/casimpay/internal/pgconfig"
	"github.com/casimpay/casimpay/internal/sqlmigrate"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrSchemaTooNew reports a database whose payflow schema was written by a
// newer version of this package.
var ErrSchemaTooNew = sqlstate.ErrSchemaTooNew

// ErrNegativeOption is the error of Open for a negative Options.MaxConns.
var ErrNegativeOption = errors.New("postgres: negative option")

// Options configure Open. The zero value is the default.
type Options struct {
	// MaxConns bounds the connection pool. Zero: 16; negative: refused
	// (ErrNegativeOption).
	MaxConns int
}

// Store is a payflow.Store in PostgreSQL over a pool of connections. It is
// safe for concurrent use.
type Store struct {
	*sqlstate.Store
	db     *sql.DB
	closed atomic.Bool
}

var _ payflow.Store = (*Store)(nil)

// Open connects to the database named by dsn (a pgx connection string;
// its search_path selects the schema) and brings the payflow tables up to
// date. Its connections run READ COMMITTED, whatever default isolation
// the server or dsn sets. A call whose context ends while its statement
// runs has the server cancel the statement and returns once the server
// has or the statement has ended, so that nothing of the call is left
// running on the server to commit later; a server that answers neither
// within a second has the connection dropped. A call whose statement the
// server cancelled so fails with an error wrapping both the context's
// error (context.Canceled or context.DeadlineExceeded) and the server's
// (SQLSTATE 57014), as in the ledger's store (package ledger/postgres);
// so does Open itself when ctx ends while it migrates the schema (waiting,
// say, for another process's migration). It fails when MaxConns is
// negative (ErrNegativeOption), dsn does not parse, the server does not
// answer or the payflow schema is newer than this package
// (ErrSchemaTooNew).
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.MaxConns < 0 {
		return nil, fmt.Errorf("%w: %d connections", ErrNegativeOption, opts.MaxConns)
	}
	cfg, err := connConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	n := opts.MaxConns
	if n == 0 {
		n = 16
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	ms, err := sqlmigrate.Read(migrations, "migrations")
	if err == nil {
		err = pgconfig.WithContextErr(ctx, sqlstate.Migrate(ctx, db, sqlstate.Postgres, ms))
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return newStore(db), nil
}

// newStore returns the Store over db, a migrated database of connections
// that connConfig configures.
func newStore(db *sql.DB) *Store {
	return &Store{Store: sqlstate.NewPostgres(db, pipeline(db), pgconfig.WithContextErr), db: db}
}

// connConfig parses dsn into the configuration of the store's
// connections. Every statement and transaction of the store runs under
// READ COMMITTED, whatever default the server or the DSN sets: Accept's
// cancellation reads the requests committed while it waited for the
// card's counter row, and a conditional write that waits for a row another
// transaction holds then finds the row's new version instead of failing
// with a serialization failure. The server takes setting names in any
// case, so the DSN's own default_transaction_isolation, in whatever case,
// goes (kept, the server would take whichever of the two came last).
//
// A call whose context ends while its statement runs has the server
// cancel the statement and returns once the server has answered
// (pgconfig.CancelOnContextEnd). pgx's default sends the cancel request
// only once the call has returned: meanwhile a statement that waits for a
// row lock stays on the server, a backend beyond MaxConns, and when the
// row is freed then it runs to its end, a single statement committing
// what the call reported failed.
func connConfig(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	for k := range cfg.RuntimeParams {
		if strings.EqualFold(k, "default_transaction_isolation") {
			delete(cfg.RuntimeParams, k)
		}
	}
	cfg.RuntimeParams["default_transaction_isolation"] = "read committed"
	pgconfig.CancelOnContextEnd(&cfg.Config)
	return cfg, nil
}

// pipeline returns the sqlstate.Pipeline of db: a pgx.Batch on one of its
// connections, which pgx sends with one Sync, so that PostgreSQL runs the
// queries in one implicit transaction.
func pipeline(db *sql.DB) sqlstate.Pipeline {
	return func(ctx context.Context, queries []sqlstate.Query, dest ...any) error {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.Raw(func(dc any) error {
			c, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("postgres: connection of driver %T, not pgx", dc)
			}
			var b pgx.Batch
			for _, q := range queries {
				b.Queue(q.SQL, q.Args...)
			}
			br := c.Conn().SendBatch(ctx, &b)
			err := br.QueryRow().Scan(dest...)
			for i := 1; i < len(queries) && err == nil; i++ {
				_, err = br.Exec()
			}
			if cerr := br.Close(); err == nil {
				err = cerr
			}
			return err
		})
	}
}

// Close closes the pool. It is idempotent.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return errors.Join(s.Store.Close(), s.db.Close())
}
