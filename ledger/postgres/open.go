package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casimpay/casimpay/internal/pgconfig"
	"github.com/casimpay/casimpay/internal/pgretry"
	"github.com/casimpay/casimpay/internal/sqlmigrate"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew reports a database whose schema was written by a newer
// version of this package than the running one.
var ErrSchemaTooNew = errors.New("postgres: database schema is newer than this program")

// ErrNegativeOption is the error of Open for a negative Options.MaxConns or
// Options.MaxRetries.
var ErrNegativeOption = errors.New("postgres: negative option")

// Options configure Open. The zero value is the default; a negative value
// is refused (ErrNegativeOption).
type Options struct {
	// MaxConns is the size of the connection pool. Zero means the pgx
	// default (pool_max_conns in the DSN, else max(4, runtime.NumCPU())).
	MaxConns int32
	// MaxRetries bounds how many times Update reruns a transaction that
	// failed with a serialization failure (40001), a deadlock (40P01) or a
	// unique violation (23505: a concurrent insert of the same key; a key
	// the transaction inserts twice is refused without a rerun). Zero
	// means 10.
	MaxRetries int
}

func (o Options) maxRetries() int {
	if o.MaxRetries == 0 {
		return 10
	}
	return o.MaxRetries
}

func openPool(ctx context.Context, dsn string, o Options) (*pgxpool.Pool, error) {
	if o.MaxConns < 0 || o.MaxRetries < 0 {
		return nil, fmt.Errorf("%w: MaxConns %d, MaxRetries %d", ErrNegativeOption, o.MaxConns, o.MaxRetries)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse dsn: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	pgconfig.CancelOnContextEnd(&cfg.ConnConfig.Config)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pgconfig.WithContextErr(ctx, migrate(ctx, pool)); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// migrate applies every embedded migration newer than the version recorded
// in schema_migrations for the ledger, in one transaction. Processes that
// open the same database at once queue on an exclusive lock of
// schema_migrations, so each migration runs exactly once; running it again
// is a no-op.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := sqlmigrate.Read(migrationFS, "migrations")
	if err != nil {
		return err
	}
	// CREATE TABLE IF NOT EXISTS can itself race (a unique violation on the
	// catalog, duplicate_table or duplicate_object) when two processes create
	// the table at once: retry it.
	for attempt := 0; ; attempt++ {
		_, err = pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			component  text        NOT NULL,
			version    integer     NOT NULL,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL,
			PRIMARY KEY (component, version)
		)`)
		if err == nil || attempt >= 5 || !pgretry.Retryable(err) && !isUniqueViolation(err) && !isDuplicateTable(err) {
			break
		}
		if err := pgretry.Wait(ctx, attempt, 0.5); err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE schema_migrations IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		var cur int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations WHERE component = $1`,
			sqlstore.Component).Scan(&cur); err != nil {
			return err
		}
		if cur > len(ms) {
			return fmt.Errorf("%w: version %d, known up to %d", ErrSchemaTooNew, cur, len(ms))
		}
		for _, m := range ms[cur:] {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ($1, $2, $3, now())`,
				sqlstore.Component, m.Version, m.Name); err != nil {
				return fmt.Errorf("migration %d_%s: %w", m.Version, m.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrSchemaTooNew) {
			return err
		}
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}
