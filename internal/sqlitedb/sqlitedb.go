// Package sqlitedb opens the connections of the module's SQLite stores
// (ledger/sqlite and payflow/sqlite), which share one database file: the
// same pragmas on every connection, whichever store opens the file first.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrEmptyPath is returned by Open for an empty database path.
var ErrEmptyPath = errors.New("sqlitedb: empty database path")

// ErrNegativeOption is returned by Open for a negative BusyTimeout or
// ReadConns, which are not read as the default.
var ErrNegativeOption = errors.New("sqlite: negative option")

// Options configure Open. The zero value is the default.
type Options struct {
	// BusyTimeout is how long a connection waits for a lock held by another
	// process before it fails with SQLITE_BUSY, as BusyTimeout rounds it.
	// Zero: 5 s; negative: ErrNegativeOption.
	BusyTimeout time.Duration
	// ReadConns is the size of the pool of read-only connections. Zero: 4;
	// negative: ErrNegativeOption.
	ReadConns int
	// NoSync turns fsync off (synchronous=OFF), for tests that do not check
	// durability.
	NoSync bool
}

// Conns returns how many connections the pool that Open makes holds,
// open and idle: one for the writer, ReadConns (4 when zero) for the
// read-only pool.
func (o Options) Conns(readOnly bool) int {
	switch {
	case !readOnly:
		return 1
	case o.ReadConns == 0:
		return 4
	}
	return o.ReadConns
}

// Pragmas returns the pragmas that Open runs on every connection, in order.
func (o Options) Pragmas() []string {
	sync := "synchronous(FULL)" // every commit is on disk before it returns
	if o.NoSync {
		sync = "synchronous(OFF)"
	}
	return []string{
		BusyTimeout(o.BusyTimeout),
		"foreign_keys(1)",
		sync,
		// 1 KiB pages for a new database: a ledger batch dirties one page per
		// account and per index entry it touches, all over the file, and every
		// dirty page goes to the WAL at commit, so small pages cut the bytes
		// written per transfer several times. (An existing database keeps its
		// size.)
		"page_size(1024)",
		// Checkpoint every 16384 WAL frames (16 MiB) rather than 1000: a
		// checkpoint copies each distinct page once however often the
		// WAL holds it, and costs two fsyncs, so rarer checkpoints write
		// less.
		"wal_autocheckpoint(16384)",
		// Statement journals (multi-row statements, savepoints) stay in
		// memory, and a larger page cache (up to 64 MiB per connection) keeps
		// the index pages of a busy database resident.
		"temp_store(MEMORY)",
		"cache_size(-65536)",
	}
}

// Open opens the database file at path, creating it if needed and
// switching it to WAL: w is the writer, a pool of one connection that is
// never closed while idle (so that its page and statement caches live);
// r is a pool of o.Conns(true) read-only connections (4 when ReadConns
// is zero), none closed while idle either. Writers start their
// transactions with BEGIN IMMEDIATE. A file that Open creates has mode
// 0600, readable by its owner alone, since it holds secrets (the
// platform's keys, the cards' advert secrets, balances), and SQLite
// gives its WAL and shared-memory files the file's mode; a file that
// exists keeps its mode. An empty path fails with ErrEmptyPath, a
// negative option with ErrNegativeOption; a file that cannot be opened
// or is not a SQLite database fails with the driver's *sqlite.Error, and
// one that SQLite does not switch to WAL with an error naming the
// journal mode it kept.
func Open(ctx context.Context, path string, o Options) (w, r *sql.DB, err error) {
	if path == "" {
		return nil, nil, ErrEmptyPath
	}
	if o.BusyTimeout < 0 {
		return nil, nil, fmt.Errorf("%w: busy timeout %v", ErrNegativeOption, o.BusyTimeout)
	}
	if o.ReadConns < 0 {
		return nil, nil, fmt.Errorf("%w: %d read connections", ErrNegativeOption, o.ReadConns)
	}
	wdsn, err := DSN(path, false, o.Pragmas()...)
	if err != nil {
		return nil, nil, err
	}
	rdsn, err := DSN(path, true, o.Pragmas()...)
	if err != nil {
		return nil, nil, err
	}
	createPrivate(path)
	if w, err = sql.Open("sqlite", wdsn); err != nil {
		return nil, nil, err
	}
	w.SetMaxOpenConns(o.Conns(false))
	w.SetMaxIdleConns(o.Conns(false))
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	// journal_mode=WAL is set here, not in the DSN, where it would run
	// before page_size and fix the page size of a new file. It is
	// persistent: the read connections find the file in WAL mode.
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		w.Close()
		return nil, nil, err
	}
	if mode != "wal" {
		w.Close()
		return nil, nil, fmt.Errorf("journal mode %q, want wal", mode)
	}
	if r, err = sql.Open("sqlite", rdsn); err != nil {
		w.Close()
		return nil, nil, err
	}
	r.SetMaxOpenConns(o.Conns(true))
	r.SetMaxIdleConns(o.Conns(true))
	return w, r, nil
}

// createPrivate creates the file at path, empty (which SQLite takes for
// a new database), with mode 0600, unless it exists; SQLite itself would
// create it with mode 0644. What fails is left to SQLite to report as it
// opens the file.
func createPrivate(path string) {
	if f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	}
}

// BusyTimeout returns the pragma that makes a connection wait up to d
// (5 seconds when d is not positive) for a lock another connection holds:
// in whole milliseconds, rounded up (a part of one would otherwise mean
// no wait), and at most 2^31-1 of them, the most SQLite holds (it reads a
// larger number as no wait).
func BusyTimeout(d time.Duration) string {
	if d <= 0 {
		d = 5 * time.Second
	}
	ms := d.Milliseconds()
	if d%time.Millisecond != 0 {
		ms++
	}
	return "busy_timeout(" + strconv.FormatInt(min(ms, math.MaxInt32), 10) + ")"
}

// DSN returns the connection string for the database file at path (made
// absolute) that runs pragmas, in order, on every new connection. A
// read-only connection also gets query_only(1); a writer starts its
// transactions with BEGIN IMMEDIATE, so that it takes the write lock
// before it reads.
func DSN(path string, readOnly bool, pragmas ...string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String(), nil
}

// QueryPlan returns the details of SQLite's query plan of q with args
// (EXPLAIN QUERY PLAN), one per step, as fmt.Sprint prints them: what the
// stores' tests look for an index search in and a temporary B-tree
// (a sort) not in.
func QueryPlan(ctx context.Context, db *sql.DB, q string, args ...any) (string, error) {
	rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			return "", err
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	return fmt.Sprint(plan), nil
}
