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

	"github.com/casimpay/casimpay/internal/sqlitedb"
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

// ErrNegativeOption is the error of Open for a negative
// Options.BusyTimeout or Options.ReadConns.
var ErrNegativeOption = sqlitedb.ErrNegativeOption

// Options configure Open. The zero value is the default.
type Options struct {
	// BusyTimeout is how long a write waits for the database lock held by
	// another process. (A ledger/sqlite Store of the same process on the
	// same file takes turns through an in-process lock instead.) In whole
	// milliseconds rounded up, at most 2^31-1 of them (about 24.8 days).
	// Zero: 5 s; negative: refused (ErrNegativeOption).
	BusyTimeout time.Duration
	// ReadConns is the size of the read-only connection pool. Zero: 4;
	// negative: refused (ErrNegativeOption).
	ReadConns int
}

// Store is a payflow.Store in a SQLite file: writes go through one
// connection (WAL journal, synchronous=FULL, BEGIN IMMEDIATE), reads
// through a pool of read-only connections, all with the pragmas of a
// ledger/sqlite Store on the file. Writes that arrive while a
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

// Open opens, or creates, the SQLite database at path and brings the
// payflow tables up to date. A file it creates can be read by its owner
// alone (mode 0600), as can its WAL: it holds the nonce key and the
// cards' advert secrets. It fails when an option is negative
// (ErrNegativeOption), the file is not a SQLite database or its payflow
// schema is newer than this package (ErrSchemaTooNew).
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	w, r, err := sqlitedb.Open(ctx, path, sqlitedb.Options{BusyTimeout: opts.BusyTimeout, ReadConns: opts.ReadConns})
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	lock, batch, err := prepare(ctx, path, w)
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return &Store{Store: sqlstate.New(w, r, sqlstate.SQLite, batch), w: w, r: r, lock: lock, batch: batch}, nil
}

// prepare migrates the payflow tables through w, under the write lock of
// the file (so that it waits for a ledger/sqlite Store of the process
// that is writing, rather than for SQLite's busy timeout), and returns
// that lock and the Batcher of w.
func prepare(ctx context.Context, path string, w *sql.DB) (*sqlitewrite.Lock, *sqlitewrite.Batcher, error) {
	ms, err := sqlmigrate.Read(migrations, "migrations")
	if err != nil {
		return nil, nil, err
	}
	lock, err := sqlitewrite.OpenLock(path)
	if err != nil {
		return nil, nil, err
	}
	if err := lock.Lock(ctx); err != nil {
		lock.Close()
		return nil, nil, err
	}
	err = sqlstate.Migrate(ctx, w, sqlstate.SQLite, ms)
	lock.Unlock()
	if err != nil {
		lock.Close()
		return nil, nil, err
	}
	batch, err := sqlitewrite.NewBatcher(ctx, w, lock)
	if err != nil {
		lock.Close()
		return nil, nil, err
	}
	return lock, batch, nil
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
