package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/casimpay/casimpay/internal/sqlitedb"
	"github.com/casimpay/casimpay/internal/sqlitewrite"
	"github.com/casimpay/casimpay/internal/sqlmigrate"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew reports a database whose schema was written by a newer
// version of this package than the running one. Open's error wraps it,
// naming the file and both versions, as it names the file in all its
// errors: "sqlite: open <path>: sqlite: database schema is newer than
// this program: version <n>, known up to <m>".
var ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this program")

// ErrNegativeOption is the error of Open for a negative
// Options.BusyTimeout or Options.ReadConns.
var ErrNegativeOption = sqlitedb.ErrNegativeOption

// Options configure Open. The zero value is the default.
type Options struct {
	// BusyTimeout is how long a connection waits for a lock held by another
	// process before it fails with SQLITE_BUSY, in whole milliseconds
	// rounded up, at most 2^31-1 of them (about 24.8 days). Zero means 5
	// seconds; a negative value is refused (ErrNegativeOption).
	BusyTimeout time.Duration
	// ReadConns is the size of the pool of read-only connections used by
	// lookups (Store.View): at most that many run at once, and the Store
	// keeps them open, each with its page cache (up to 64 MiB) and its
	// prepared statements. Zero means 4; a negative value is refused
	// (ErrNegativeOption).
	ReadConns int

	// noSync turns fsync off, for tests of the rules that do not check
	// durability.
	noSync bool
	// pools opens the writer and the read pool in place of sqlitedb.Open
	// when set, for tests whose pools fail statements.
	pools func(ctx context.Context, path string, o sqlitedb.Options) (w, r *sql.DB, err error)
	// entering runs in each Update and View once it has found the Store
	// open, before it is counted among the calls Close waits for
	// (Store.enter), when set: for tests of a Close called then.
	entering func()
	// closing runs in Close once it has marked the Store closed and closed
	// the read pool, before it waits for the calls under way, when set:
	// for tests of what Close has done by then.
	closing func()
	// lock takes l, the file's in-process write lock, for the migration
	// in place of l.Lock when set: for tests that see an Open find the
	// lock taken.
	lock func(ctx context.Context, l *sqlitewrite.Lock) error
	// migrating runs in the migration once its transaction has begun
	// (BEGIN IMMEDIATE, which takes SQLite's write lock), when set: for
	// tests that hold an Open there while others start.
	migrating func()
}

// openDBs opens the writer (one connection) and the read pool and the
// file's in-process write lock, and applies the migrations under that lock
// (so that they wait for a payflow/sqlite Store of the process that is
// writing, rather than for SQLite's busy timeout).
func openDBs(ctx context.Context, path string, o Options) (w, r *sql.DB, lock *sqlitewrite.Lock, err error) {
	pools := sqlitedb.Open
	if o.pools != nil {
		pools = o.pools
	}
	w, r, err = pools(ctx, path, sqlitedb.Options{BusyTimeout: o.BusyTimeout, ReadConns: o.ReadConns, NoSync: o.noSync})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// The file exists now (sqlitedb.Open switched it to WAL), as OpenLock
	// wants.
	if lock, err = sqlitewrite.OpenLock(path); err != nil {
		r.Close()
		w.Close()
		return nil, nil, nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	fail := func(err error) (w2, r2 *sql.DB, l *sqlitewrite.Lock, _ error) {
		lock.Close()
		r.Close()
		w.Close()
		return nil, nil, nil, err
	}
	take := lock.Lock
	if o.lock != nil {
		take = func(ctx context.Context) error { return o.lock(ctx, lock) }
	}
	if err := take(ctx); err != nil {
		return fail(fmt.Errorf("sqlite: open %s: %w", path, err))
	}
	err = migrate(ctx, w, o.migrating)
	lock.Unlock()
	if err != nil {
		return fail(fmt.Errorf("sqlite: open %s: %w", path, err))
	}
	if err := r.PingContext(ctx); err != nil {
		return fail(fmt.Errorf("sqlite: open %s: %w", path, err))
	}
	return w, r, lock, nil
}

// migrate applies, in one transaction, every embedded migration newer than
// the version recorded in schema_migrations for the ledger. Running it
// again is a no-op. Its errors do not name the file: openDBs, which knows
// it, does. migrating, unless nil, runs once the transaction has begun.
func migrate(ctx context.Context, db *sql.DB, migrating func()) error {
	ms, err := sqlmigrate.Read(migrationFS, "migrations")
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one migrator at a time
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if migrating != nil {
		migrating()
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		component  TEXT    NOT NULL,
		version    INTEGER NOT NULL,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL,
		PRIMARY KEY (component, version)
	) STRICT`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations WHERE component = ?1`,
		sqlstore.Component).Scan(&cur); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if cur > len(ms) {
		return fmt.Errorf("%w: version %d, known up to %d", ErrSchemaTooNew, cur, len(ms))
	}
	for _, m := range ms[cur:] {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?1, ?2, ?3, ?4)`,
			sqlstore.Component, m.Version, m.Name, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("migration %d_%s: %w", m.Version, m.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
