package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	driver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/casimpay/casimpay/internal/callgate"
	"github.com/casimpay/casimpay/internal/sqlitewrite"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/idtable"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore"
)

// Store is a ledger.Store in one SQLite database file. It is safe for
// concurrent use: writes run one at a time on the single writer connection
// (SQLite allows one writer), reads run in parallel on a pool of read-only
// connections and see the last committed state (WAL snapshots). Open
// makes a Store: a nil *Store, or the zero Store, fails every call
// (Update, View, Close) with ledger.ErrNilStore. Update and View given a
// nil context fail with ledger.ErrNilContext, and given a nil fn with
// ledger.ErrNilFunc, before they start anything.
type Store struct {
	path  string
	w, r  *sql.DB
	conn  *sqlitewrite.Conn // the writer connection, kept
	reads *readPool         // the read connections of View, kept
	lock  *sqlitewrite.Lock
	// calls counts the Updates and Views under way, from when they find
	// the Store open to their end (enter, leave); Close closes it and
	// waits for them. Its Entering is Options.entering.
	calls callgate.Gate
	// closing is Options.closing.
	closing func()

	// mu guards stmts: statements prepared on the writer connection, by
	// text. A text is prepared after the first transaction that used it.
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// maxStmts bounds the writer's statement cache.
const maxStmts = 256

var _ ledger.Store = (*Store)(nil)

// Open opens, or creates, the ledger database at path and brings its schema
// up to date. A file it creates can be read by its owner alone (mode
// 0600), as can its WAL. Several processes may open the same file; their
// writes are serialized by SQLite's lock (each waits up to
// Options.BusyTimeout). path is a file name, relative to the working
// directory or absolute: SQLite's ":memory:" and its "file:" URIs are file
// names here like any other, not an in-memory database or options. Open
// fails when an option is negative (ErrNegativeOption), for an empty path,
// when the directory does not exist, the file is not a SQLite database, or
// its schema is newer than this package (ErrSchemaTooNew).
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	w, r, lock, err := openDBs(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	conn, err := sqlitewrite.NewConn(ctx, w)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, joinErr(err, joinErr(r.Close(), w.Close())))
	}
	return &Store{path: path, w: w, r: r, conn: conn, reads: newReadPool(r), lock: lock, calls: callgate.Gate{Entering: opts.entering},
		closing: opts.closing, stmts: make(map[string]*sql.Stmt)}, nil
}

// notMade reports whether Open did not make s: nil, or the zero Store.
func (s *Store) notMade() bool { return s == nil || s.w == nil }

// Close waits for the Updates under way (those that wait for the write
// lock included) and the Views under way to end, and closes the database:
// once it has returned, no connection to the file is open. A View that
// waits for a read connection when Close is called fails with
// ledger.ErrClosed, as do calls to Update and View after Close. A fn of
// Update or View must not call Close, which would wait for it.
func (s *Store) Close() error {
	if s.notMade() {
		return ledger.ErrNilStore
	}
	if !s.calls.Close() {
		return nil
	}
	s.reads.close() // the idle connections, and the Views that wait for one
	if s.closing != nil {
		s.closing()
	}
	s.calls.Wait()
	s.mu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.mu.Unlock()
	s.conn.Close()
	s.lock.Close()
	return joinErr(s.r.Close(), s.w.Close())
}

func joinErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Update implements ledger.Store: fn runs in one BEGIN IMMEDIATE
// transaction on the writer connection, under the in-process write lock of
// the file, and Update returns once the commit is on disk
// (synchronous=FULL). A row that names a row which does not exist (the
// deferred foreign keys: a balance history row naming no transfer, among
// others) fails the commit with an error wrapping ledger.ErrCorrupt. The
// updates run once fn has returned, after its inserts, so that an update
// finds a row the transaction inserts whatever the order of fn's calls; an
// update of a row that is not stored, or of one row twice, and a pending
// state of a transfer that is not pending, then fail Update alike, as do at
// once a last timestamp that is not past the last one (SetLastTimestamp)
// and a transfer whose debit and credit account are the same
// (InsertTransfers). Nothing of fn's writes is stored then. A write method
// that fails (a constraint of an insert: an ID that is stored, or given
// twice, fails with an error wrapping ledger.ErrCorrupt and the driver's)
// ends the transaction: SQLite rolls it back (INSERT OR ROLLBACK). So does
// a read that fails (some errors make SQLite roll back). The later calls of
// fn's tx then fail with that error without running, and Update fails with
// fn's error, or with the failed call's error when fn ignored it and
// returned nil; nothing of fn's writes is stored. SQLite has one writer, so
// fn never meets a serialization failure and is run once. When another
// process holds the write lock, BEGIN waits up to Options.BusyTimeout and
// then fails with the driver's SQLITE_BUSY error. When ctx ends before the
// commit (while BEGIN waits, or while fn runs), the statement running is
// interrupted, nothing is stored and Update fails with ctx's error. The
// Store keeps its writer connection, with BEGIN IMMEDIATE, COMMIT and
// ROLLBACK prepared on it once (sqlitewrite.Conn). A ROLLBACK that fails
// is run once more; one that fails again leaves the transaction open,
// holding SQLite's write lock against other processes and the file's
// other stores, until the next Update rolls it back before it begins.
func (s *Store) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	if err := ledger.CheckRun(ctx, !s.notMade(), fn); err != nil {
		return err
	}
	if !s.enter() {
		return ledger.ErrClosed
	}
	defer s.leave()
	if err := s.lock.Lock(ctx); err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer s.lock.Unlock()
	if err := s.conn.Begin(ctx); err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	// Rolled back unless committed, even when fn panics: the writer
	// connection must not stay inside a transaction.
	ended := false
	defer func() {
		if !ended {
			s.conn.Rollback()
		}
	}()
	t := &writeTx{ctx: ctx, tx: &s.conn.Tx, s: s}
	t.Reader = sqlstore.Reader{Dialect: sqlstore.SQLite, Query: t.query, Fail: t.fail}
	err := fn(t)
	if err == nil {
		err = t.err // a statement that failed, whose error fn ignored
	}
	for _, update := range t.updates {
		if err != nil {
			break
		}
		err = update()
	}
	if err == nil {
		err = t.checkPending()
	}
	ended = true
	switch {
	case err != nil:
		s.conn.Rollback()
	case ctx.Err() != nil: // no commit once ctx has ended, as (*sql.Tx).Commit
		s.conn.Rollback()
		err = fmt.Errorf("sqlite: commit: %w", ctx.Err())
	default:
		if err = s.conn.Commit(); isCorrupt(err) {
			err = fmt.Errorf("sqlite: commit: %w: %w", ledger.ErrCorrupt, err)
		} else if err != nil {
			err = fmt.Errorf("sqlite: commit: %w", err)
		}
	}
	s.prepare(ctx, t.unprepared)
	return err
}

// enter reports whether the Store is open, and then counts the Update or
// View in calls, which Close waits for until it calls leave at its end. It
// reports false, without waiting for the calls under way, once Close is
// called (callgate.Gate.Enter).
func (s *Store) enter() bool { return s.calls.Enter() }

// leave ends an Update or a View that enter started.
func (s *Store) leave() { s.calls.Leave() }

// isCorrupt reports a constraint that the ledger's writes never violate: a
// deferred foreign key that failed at commit (a row that names a row which
// does not exist), or a primary or unique key of an insert (an ID, or a
// transfer's timestamp, that is stored or given twice).
func isCorrupt(err error) bool {
	var e *driver.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return false
}

// prepare adds the statements of queries to the writer's cache. Update
// calls it after its transaction ended, still holding the Store's write
// lock, so no other Update uses the writer connection meanwhile; mu guards
// only the cache (which Close reads), and is not held while a statement
// is prepared.
func (s *Store) prepare(ctx context.Context, queries []string) {
	for _, q := range queries {
		s.mu.Lock()
		skip := len(s.stmts) >= maxStmts || s.stmts[q] != nil
		s.mu.Unlock()
		if skip {
			continue
		}
		st, err := s.conn.Prepare(ctx, q)
		if err != nil {
			continue // the statement runs unprepared next time too
		}
		s.mu.Lock()
		if s.stmts[q] == nil && len(s.stmts) < maxStmts {
			s.stmts[q] = st
			st = nil
		}
		s.mu.Unlock()
		if st != nil {
			st.Close()
		}
	}
}

// stmt returns the cached statement of query for use in t, or nil (and
// then notes query for preparation after t).
func (t *writeTx) stmt(query string) *sql.Stmt {
	t.s.mu.Lock()
	st := t.s.stmts[query]
	t.s.mu.Unlock()
	if st == nil {
		t.unprepared = append(t.unprepared, query)
		return nil
	}
	return t.tx.StmtContext(t.ctx, st)
}

// query runs a read of the transaction. Once a statement has failed, it
// runs nothing and returns that statement's error (writeTx.err); a read
// that fails is such a statement.
func (t *writeTx) query(query string, args []any, row func(sqlstore.Scanner) error) error {
	if t.err != nil {
		return t.err
	}
	var rows *sql.Rows
	var err error
	if st := t.stmt(query); st != nil {
		rows, err = st.QueryContext(t.ctx, args...)
	} else {
		rows, err = t.tx.QueryContext(t.ctx, query, args...)
	}
	return t.fail(scanRows(rows, err, row))
}

func scanRows(rows *sql.Rows, err error, row func(sqlstore.Scanner) error) error {
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// writeTx is the ledger.Tx of Update.
type writeTx struct {
	sqlstore.Reader
	ctx        context.Context
	tx         *sqlitewrite.Tx
	s          *Store
	unprepared []string
	updates    []func() error        // run after fn, in order
	pending    sqlstore.PendingCheck // inserted transfers and pending states, for checkPending
	// err is the error of the first statement that failed, a read or a
	// write, or of a read refused before its statement ran (a limit out of
	// range, sqlstore.Reader.Fail): the transaction is lost (ledger.Tx). A
	// write that failed has ended it (INSERT OR ROLLBACK rolls it back),
	// and a read may have (SQLite rolls back on SQLITE_FULL, SQLITE_IOERR,
	// SQLITE_NOMEM), so no later statement runs, lest it run outside it
	// and be stored at once.
	err error
}

var _ ledger.Tx = (*writeTx)(nil)

// fail records err, when not nil, as the error of the first statement
// that failed (writeTx.err), and returns it.
func (t *writeTx) fail(err error) error {
	if err != nil && t.err == nil {
		t.err = err
	}
	return err
}

// exec runs query and returns the number of rows it changed. Once a
// statement has failed, it runs nothing and returns that statement's error
// (writeTx.err).
func (t *writeTx) exec(query string, args ...any) (int64, error) {
	if t.err != nil {
		return 0, t.err
	}
	var res sql.Result
	var err error
	if st := t.stmt(query); st != nil {
		res, err = st.ExecContext(t.ctx, args...)
	} else {
		res, err = t.tx.ExecContext(t.ctx, query, args...)
	}
	if isCorrupt(err) {
		return 0, t.fail(fmt.Errorf("sqlite: %w: %w", ledger.ErrCorrupt, err))
	} else if err != nil {
		return 0, t.fail(fmt.Errorf("sqlite: %w", err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, t.fail(fmt.Errorf("sqlite: %w", err))
	}
	return n, nil
}

// LastTimestamp implements ledger.Tx: it reads as ReadTx.LastTimestamp
// does (sqlstore.Reader), for the transaction already holds the
// database's write lock (BEGIN IMMEDIATE), which serializes writers. Its
// statement is prepared once, like the rest of a batch's. A database
// without its ledger_state row (damaged, or not a ledger's) fails with an
// error wrapping ledger.ErrCorrupt, which loses the transaction as a
// failed read does.
func (t *writeTx) LastTimestamp() (uint64, error) {
	ts, err := t.Reader.LastTimestamp()
	return ts, t.fail(err)
}

// SetLastTimestamp implements ledger.Tx: a ts that is not past the last
// timestamp updates no row, and fails at once with ledger.ErrCorrupt,
// which loses the transaction.
func (t *writeTx) SetLastTimestamp(ts uint64) error {
	n, err := t.exec(`UPDATE ledger_state SET last_timestamp = ?1 WHERE id = 1 AND last_timestamp < ?1`, sqlstore.Int(ts))
	if err == nil && n != 1 {
		err = t.fail(fmt.Errorf("sqlite: %w: last timestamp %d set, not past the last one", ledger.ErrCorrupt, ts))
	}
	return err
}

// LockAccounts implements ledger.Tx: the write lock already covers every
// row, so it reads the accounts.
func (t *writeTx) LockAccounts(ids []ledger.ID) ([]ledger.Account, error) {
	return t.Accounts(ids)
}

// maxRows is the most rows of one multi-row statement (256 rows of 13
// columns stay far below SQLite's limit of 32766 parameters). A batch of n
// rows is written in chunks whose sizes are powers of two (the binary
// digits of n), so that only nine statement texts exist per table and each
// stays prepared.
const maxRows = 256

func chunkSize(n int) int {
	p := 1
	for p*2 <= n && p*2 <= maxRows {
		p *= 2
	}
	return p
}

// bulk runs head + n value tuples of ncols parameters + tail, in chunks;
// rowArgs appends the values of row i. It returns the number of rows the
// statements changed.
func (t *writeTx) bulk(head, tail string, ncols, n int, rowArgs func(args []any, i int) []any) (int64, error) {
	one := "(" + strings.Repeat("?,", ncols-1) + "?)"
	var sb strings.Builder
	args := make([]any, 0, min(n, maxRows)*ncols)
	var changed int64
	for start := 0; start < n; {
		end := start + chunkSize(n-start)
		sb.Reset()
		args = args[:0]
		sb.WriteString(head)
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteByte(',')
			}
			sb.WriteString(one)
			args = rowArgs(args, i)
		}
		sb.WriteString(tail)
		k, err := t.exec(sb.String(), args...)
		if err != nil {
			return changed, err
		}
		changed += k
		start = end
	}
	return changed, nil
}

// insert writes n rows into table with multi-row INSERT statements.
// OR ROLLBACK: a violated constraint aborts the whole transaction (it is a
// bug, never an expected outcome), which spares SQLite the statement
// journal of a multi-row insert.
func (t *writeTx) insert(table, cols string, ncols, n int, rowArgs func(args []any, i int) []any) error {
	_, err := t.bulk("INSERT OR ROLLBACK INTO "+table+" ("+cols+") VALUES ", "", ncols, n, rowArgs)
	return err
}

// update applies n rows of new values to table, matched on its id column,
// with UPDATE … FROM (VALUES …) statements. set is the SET list, reading
// the values as v.column2, v.column3, … (v.column1 is the id); id returns
// the id of row i. A row whose id is not in table, or two rows with the
// same id, fail the update with an error wrapping ledger.ErrCorrupt.
func (t *writeTx) update(table, set string, ncols, n int, id func(i int) ledger.ID, rowArgs func(args []any, i int) []any) error {
	// One statement updates a row once whatever number of its rows name
	// it, so that it changes fewer rows than it has; rows of different
	// statements would each change it.
	if chunkSize(n) < n {
		var ids idtable.Table[ledger.ID]
		ids.Reset(n)
		for i := range n {
			if _, added := ids.Add(id(i)); !added {
				return fmt.Errorf("sqlite: %w: %s row %v to update given twice", ledger.ErrCorrupt, table, id(i))
			}
		}
	}
	changed, err := t.bulk("UPDATE OR ROLLBACK "+table+" SET "+set+" FROM (VALUES ", ") AS v WHERE "+table+".id = v.column1",
		ncols, n, rowArgs)
	if err == nil && changed != int64(n) {
		err = fmt.Errorf("sqlite: %w: %d of %d %s rows to update do not exist", ledger.ErrCorrupt, int64(n)-changed, n, table)
	}
	return err
}

// InsertAccounts implements ledger.Tx.
func (t *writeTx) InsertAccounts(accounts []ledger.Account) error {
	return t.insert("accounts", sqlstore.AccountColumns, 12, len(accounts), func(args []any, i int) []any {
		return sqlstore.AccountArgs(args, &accounts[i])
	})
}

// UpdateAccounts implements ledger.Tx. The update runs once fn has
// returned, after every insert of the transaction (see Update), and reads
// accounts then: the ledger leaves it unchanged until Update returns
// (ledger.Tx).
func (t *writeTx) UpdateAccounts(accounts []ledger.Account) error {
	t.updates = append(t.updates, func() error { return t.updateAccounts(accounts) })
	return nil
}

func (t *writeTx) updateAccounts(accounts []ledger.Account) error {
	return t.update("accounts", "debits_pending = v.column2, debits_posted = v.column3, "+
		"credits_pending = v.column4, credits_posted = v.column5, flags = v.column6", 6, len(accounts),
		func(i int) ledger.ID { return accounts[i].ID },
		func(args []any, i int) []any {
			a := &accounts[i]
			return append(args, a.ID[:], sqlstore.Int(a.DebitsPending), sqlstore.Int(a.DebitsPosted),
				sqlstore.Int(a.CreditsPending), sqlstore.Int(a.CreditsPosted), sqlstore.Int(a.Flags))
		})
}

// InsertTransfers implements ledger.Tx. Once the transaction is lost, it
// returns the error that lost it (writeTx.err), as the other methods do.
// A transfer whose debit and credit account are the same fails at once
// with ledger.ErrCorrupt (sqlstore.SameAccount), without a statement, and
// loses the transaction.
func (t *writeTx) InsertTransfers(transfers []ledger.Transfer) error {
	if t.err != nil {
		return t.err
	}
	if err := sqlstore.SameAccount(transfers); err != nil {
		return t.fail(fmt.Errorf("sqlite: %w", err))
	}
	t.pending.Transfers(transfers)
	return t.insert("transfers", sqlstore.TransferColumns, 13, len(transfers), func(args []any, i int) []any {
		return sqlstore.TransferArgs(args, &transfers[i])
	})
}

// InsertPending implements ledger.Tx. A pending state of a transfer that
// is not pending fails Update with ledger.ErrCorrupt, once fn has returned
// (checkPending).
func (t *writeTx) InsertPending(pending []ledger.Pending) error {
	t.pending.Pending(pending)
	return t.insert("pending", sqlstore.PendingColumns, 4, len(pending), func(args []any, i int) []any {
		p := &pending[i]
		return append(args, p.ID[:], sqlstore.Int(p.Status), sqlstore.Int(p.ExpiresAt), sqlstore.Int(p.Timestamp))
	})
}

// checkPending returns an error wrapping ledger.ErrCorrupt when a pending
// state the transaction inserted names a transfer without
// ledger.TransferPending, inserted in this transaction or stored before. It
// runs after fn, so that the order of fn's inserts does not matter, and
// reads (with the ReadTx lookup) only the transfers of the pending states
// whose transfer the transaction does not insert (sqlstore.PendingCheck):
// none when the ledger inserts a hold with its pending state. A pending
// state naming no transfer at all fails the commit (its foreign key).
func (t *writeTx) checkPending() error {
	unknown, err := t.pending.Unknown()
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	transfers, err := t.Transfers(unknown) // no statement when unknown is empty
	if err != nil {
		return err
	}
	for k := range transfers {
		if tr := &transfers[k]; tr.Flags&ledger.TransferPending == 0 {
			return fmt.Errorf("sqlite: %w: pending state of transfer %v, which is not pending", ledger.ErrCorrupt, tr.ID)
		}
	}
	return nil
}

// UpdatePending implements ledger.Tx. The update runs once fn has
// returned, after every insert of the transaction (see Update), and reads
// pending then: the ledger leaves it unchanged until Update returns
// (ledger.Tx).
func (t *writeTx) UpdatePending(pending []ledger.Pending) error {
	t.updates = append(t.updates, func() error { return t.updatePending(pending) })
	return nil
}

func (t *writeTx) updatePending(pending []ledger.Pending) error {
	return t.update("pending", "status = v.column2", 2, len(pending), func(i int) ledger.ID { return pending[i].ID },
		func(args []any, i int) []any {
			p := &pending[i]
			return append(args, p.ID[:], sqlstore.Int(p.Status))
		})
}

// InsertFailed implements ledger.Tx.
func (t *writeTx) InsertFailed(failed []ledger.FailedTransfer) error {
	return t.insert("failed_transfers", sqlstore.FailedColumns, 3, len(failed), func(args []any, i int) []any {
		f := &failed[i]
		return append(args, f.ID[:], sqlstore.Int(f.Result), sqlstore.Int(f.Timestamp))
	})
}

// InsertBalances implements ledger.Tx.
func (t *writeTx) InsertBalances(balances []ledger.BalanceRow) error {
	return t.insert("account_balances", sqlstore.BalanceRowColumns, 7, len(balances), func(args []any, i int) []any {
		return sqlstore.BalanceRowArgs(args, &balances[i])
	})
}
