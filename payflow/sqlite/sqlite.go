// Package sqlite is the payflow.Store in a SQLite database file, the same
// file as the ledger's (package ledger/sqlite): its tables are named
// payflow_*, its schema version is kept in payflow_schema, and its
// migrations are embedded. Several platform processes may open one file;
// every change of a payment request is a conditional UPDATE, so of two
// processes racing on one request exactly one wins.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/casimpay/casimpay/internal/sqlitedsn"
	"github.com/casimpay/casimpay/internal/sqlitewrite"
	"github.com/casimpay/casimpay/internal/sqlmigrate"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrSchemaTooNew reports a database whose payflow schema was written by a
// newer version of this package.
var ErrSchemaTooNew = sqlstate.ErrSchemaTooNew

// Options configure Open. The zero value is the default.
type Options struct {
	// BusyTimeout is how long a write waits for the database lock held by
	// another process. (A ledger/sqlite Store of the same process on the
	// same file takes turns through an in-process lock instead.) Zero: 5 s.
	BusyTimeout time.Duration
	// ReadConns is the size of the read-only connection pool. Zero: 4.
	ReadConns int
}

// Store is a payflow.Store in a SQLite file: writes go through one
// connection (WAL journal, synchronous=FULL, BEGIN IMMEDIATE), reads
// through a pool of read-only connections. Writes that arrive while a
// commit waits for its fsync are committed together in the next SQLite
// transaction (group commit), each in a savepoint of its own, so that one
// that fails is rolled back alone; every write returns once it is
// durable. In one process, the Store and a ledger/sqlite Store on the
// same file take turns through a shared lock instead of SQLite's busy
// waits. It is safe for concurrent use.
type Store struct {
	*sqlstate.Store
	w, r   *sql.DB
	lock   *sqlitewrite.Lock
	batch  *sqlitewrite.Batcher
	closed atomic.Bool
}

var _ payflow.Store = (*Store)(nil)

func dsn(path string, o Options, readOnly bool) (string, error) {
	return sqlitedsn.DSN(path, readOnly, sqlitedsn.BusyTimeout(o.BusyTimeout), "synchronous(FULL)", "journal_mode(WAL)")
}

// Open opens, or creates, the SQLite database at path and brings the
// payflow tables up to date. It fails when the file is not a SQLite
// database or its payflow schema is newer than this package
// (ErrSchemaTooNew).
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	wdsn, err := dsn(path, opts, false)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	rdsn, err := dsn(path, opts, true)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w, err := sql.Open("sqlite", wdsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	ms, err := sqlmigrate.Read(migrations, "migrations")
	if err == nil {
		err = sqlstate.Migrate(ctx, w, sqlstate.SQLite, ms)
	}
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", rdsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := opts.ReadConns
	if n <= 0 {
		n = 4
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	lock, err := sqlitewrite.OpenLock(path)
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	batch, err := sqlitewrite.NewBatcher(ctx, w, lock)
	if err != nil {
		lock.Close()
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return &Store{Store: sqlstate.New(w, r, sqlstate.SQLite, batch), w: w, r: r, lock: lock, batch: batch}, nil
}

// Close closes the database connections. It is idempotent.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.batch.Close()
	s.lock.Close()
	return errors.Join(s.Store.Close(), s.r.Close(), s.w.Close())
}
