package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/casimpay/casimpay/internal/sqlitedsn"
	"github.com/casimpay/casimpay/internal/sqlmigrate"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew reports a database whose schema was written by a newer
// version of this package than the running one.
var ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this program")

// Options configure Open. The zero value is the default.
type Options struct {
	// BusyTimeout is how long a connection waits for a lock held by another
	// process before it fails with SQLITE_BUSY. Zero means 5 seconds.
	BusyTimeout time.Duration
	// ReadConns is the size of the pool of read-only connections used by
	// lookups. Zero means 4.
	ReadConns int

	// noSync turns fsync off, for tests of the rules that do not check
	// durability.
	noSync bool
}

func (o Options) readConns() int {
	if o.ReadConns <= 0 {
		return 4
	}
	return o.ReadConns
}

// dsn returns the driver connection string for the database file at path:
// synchronous=FULL (every commit is on disk before it returns), foreign keys
// enforced, writes starting with BEGIN IMMEDIATE. openDBs switches the file
// to WAL.
func dsn(path string, o Options, readOnly bool) (string, error) {
	sync := "synchronous(FULL)"
	if o.noSync {
		sync = "synchronous(OFF)"
	}
	return sqlitedsn.DSN(path, readOnly,
		sqlitedsn.BusyTimeout(o.BusyTimeout),
		"foreign_keys(1)",
		sync,
		// 1 KiB pages for a new database: a batch dirties one page per account
		// and per index entry it touches, all over the file, and every dirty
		// page goes to the WAL at commit, so small pages cut the bytes written
		// per transfer several times. (An existing database keeps its size.)
		"page_size(1024)",
		// Checkpoint every 16384 WAL frames (16 MiB) rather than 1000: a
		// checkpoint copies each distinct page once however often the WAL holds
		// it, and costs two fsyncs, so rarer checkpoints write less.
		"wal_autocheckpoint(16384)",
		// Statement journals of multi-row statements stay in memory, and a
		// larger page cache keeps the index pages of a busy ledger resident.
		"temp_store(MEMORY)",
		"cache_size(-65536)",
	)
}

// openDBs opens the writer (one connection) and the read pool, and applies
// the migrations.
func openDBs(ctx context.Context, path string, o Options) (w, r *sql.DB, err error) {
	if path == "" {
		return nil, nil, fmt.Errorf("sqlite: empty database path")
	}
	wdsn, err := dsn(path, o, false)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: %w", err)
	}
	rdsn, err := dsn(path, o, true)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: %w", err)
	}
	w, err = sql.Open("sqlite", wdsn)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	// journal_mode=WAL is set here, not in the DSN, where it would run
	// before page_size and fix the page size of a new file. It is
	// persistent: the read connections find the file in WAL mode.
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if mode != "wal" {
		w.Close()
		return nil, nil, fmt.Errorf("sqlite: open %s: journal mode %q, want wal", path, mode)
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, nil, err
	}
	r, err = sql.Open("sqlite", rdsn)
	if err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := o.readConns()
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return w, r, nil
}

// migrate applies, in one transaction, every embedded migration newer than
// the version recorded in schema_migrations for the ledger. Running it
// again is a no-op.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := sqlmigrate.Read(migrationFS, "migrations")
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one migrator at a time
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		component  TEXT    NOT NULL,
		version    INTEGER NOT NULL,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL,
		PRIMARY KEY (component, version)
	) STRICT`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations WHERE component = ?1`,
		sqlstore.Component).Scan(&cur); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if cur > len(ms) {
		return fmt.Errorf("%w: version %d, known up to %d", ErrSchemaTooNew, cur, len(ms))
	}
	for _, m := range ms[cur:] {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("sqlite: migration %d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?1, ?2, ?3, ?4)`,
			sqlstore.Component, m.Version, m.Name, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("sqlite: migration %d_%s: %w", m.Version, m.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}
