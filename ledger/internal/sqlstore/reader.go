package sqlstore

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/casimpay/casimpay/ledger"
)

// Dialect is how an engine spells what differs between SQLite and
// PostgreSQL in the queries that Reader builds.
type Dialect int

const (
	// SQLite numbers parameters ?1, ?2, … and matches ID sets with IN
	// lists, at most MaxInList IDs per statement.
	SQLite Dialect = iota
	// Postgres numbers parameters $1, $2, … and matches ID sets with
	// = ANY($n) on one bytea[] parameter.
	Postgres
)

// MaxInList is the most IDs that one SQLite IN list holds; longer sets are
// read in several statements. Shorter lists are padded, by repeating their
// last ID, to a power of two, so that a store sees few distinct statement
// texts and can keep them prepared.
const MaxInList = 512

// pageSize is how many rows one statement of a ForEach… method reads.
const pageSize = 1000

// NoState returns the error of a database without its ledger_state row,
// which the first migration inserts and no statement deletes: a damaged
// database, or one that is not a ledger's. It wraps ledger.ErrCorrupt,
// and names the engine.
func (d Dialect) NoState() error {
	engine := "sqlite"
	if d == Postgres {
		engine = "postgres"
	}
	return fmt.Errorf("%s: %w: no ledger_state row: the database is damaged or not a ledger's", engine, ledger.ErrCorrupt)
}

// Param returns the marker of parameter n (1-based).
func (d Dialect) Param(n int) string {
	if d == Postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?" + strconv.Itoa(n)
}

// QueryFunc runs query with args in the current transaction and calls row
// for each result row, stopping at row's first error. It reads all rows
// before it returns, and returns the first error.
type QueryFunc func(query string, args []any, row func(Scanner) error) error

// Reader implements ledger.ReadTx, and the reads of ledger.Tx that are the
// same on both engines, with the queries of one Dialect. Locking reads
// (Tx.LastTimestamp, Tx.LockAccounts) are the store's own.
type Reader struct {
	Dialect Dialect
	Query   QueryFunc
	// Fail, when not nil, is given the error of a read that Reader
	// refuses before it runs a statement (a limit out of range,
	// ledger.CheckLimit), and returns it: a write transaction records it
	// as a read that failed, which loses the transaction (ledger.Tx).
	Fail func(error) error
}

var _ ledger.ReadTx = Reader{}

// idSet runs "SELECT cols FROM table WHERE col <in ids>" in as few
// statements as the dialect allows and calls row for each result.
func (r Reader) idSet(cols, table, col string, ids []ID, row func(Scanner) error) error {
	if len(ids) == 0 {
		return nil
	}
	if r.Dialect == Postgres {
		bs := make([][]byte, len(ids))
		for i := range ids {
			bs[i] = ids[i][:]
		}
		return r.Query("SELECT "+cols+" FROM "+table+" WHERE "+col+" = ANY($1)", []any{bs}, row)
	}
	var sb strings.Builder
	args := make([]any, 0, min(len(ids), MaxInList))
	for start := 0; start < len(ids); start += MaxInList {
		chunk := ids[start:min(start+MaxInList, len(ids))]
		sb.Reset()
		args = args[:0]
		sb.WriteString("SELECT " + cols + " FROM " + table + " WHERE " + col + " IN (")
		for i := range PowerOfTwo(len(chunk)) {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(r.Dialect.Param(i + 1))
			args = append(args, chunk[min(i, len(chunk)-1)][:])
		}
		sb.WriteByte(')')
		if err := r.Query(sb.String(), args, row); err != nil {
			return err
		}
	}
	return nil
}

// PowerOfTwo returns the least power of two that is at least n (n > 0).
func PowerOfTwo(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// ID is ledger.ID, named here to keep signatures short.
type ID = ledger.ID

func collect[T any](scan func(Scanner) (T, error), out *[]T) func(Scanner) error {
	return func(s Scanner) error {
		v, err := scan(s)
		if err != nil {
			return err
		}
		*out = append(*out, v)
		return nil
	}
}

// Accounts implements ledger.ReadTx.
func (r Reader) Accounts(ids []ID) ([]ledger.Account, error) {
	out := make([]ledger.Account, 0, len(ids))
	err := r.idSet(AccountColumns, "accounts", "id", ids, collect(ScanAccount, &out))
	return out, err
}

// Transfers implements ledger.ReadTx.
func (r Reader) Transfers(ids []ID) ([]ledger.Transfer, error) {
	out := make([]ledger.Transfer, 0, len(ids))
	err := r.idSet(TransferColumns, "transfers", "id", ids, collect(ScanTransfer, &out))
	return out, err
}

// Pending implements ledger.ReadTx.
func (r Reader) Pending(ids []ID) ([]ledger.Pending, error) {
	out := make([]ledger.Pending, 0, len(ids))
	err := r.idSet(PendingColumns, "pending", "id", ids, collect(ScanPending, &out))
	return out, err
}

// FailedTransfers implements ledger.ReadTx.
func (r Reader) FailedTransfers(ids []ID) ([]ledger.FailedTransfer, error) {
	var out []ledger.FailedTransfer
	err := r.idSet(FailedColumns, "failed_transfers", "id", ids, collect(ScanFailed, &out))
	return out, err
}

// refuseLimit returns the refusal of a read given limit, or nil
// (ledger.CheckLimit), which it gives to Fail when there is one.
func (r Reader) refuseLimit(limit int) error {
	err := ledger.CheckLimit(limit)
	if err != nil && r.Fail != nil {
		return r.Fail(err)
	}
	return err
}

// filterQuery numbers the parameters of one statement of an account
// filter: the account, the time range and the limit first.
type filterQuery struct {
	dialect             Dialect
	args                []any
	order               string // ASC, or DESC with AccountFilterReversed
	acct, lo, hi, limit string // parameter markers
}

func (r Reader) filterQuery(f ledger.AccountFilter) *filterQuery {
	q := &filterQuery{dialect: r.Dialect, order: "ASC"}
	if f.Flags&ledger.AccountFilterReversed != 0 {
		q.order = "DESC"
	}
	q.acct = q.arg(f.AccountID[:])
	q.lo, q.hi = q.arg(Int(f.TimestampMin)), q.arg(Int(f.TimestampMax))
	q.limit = q.arg(int64(f.Limit))
	return q
}

// arg adds a parameter and returns its marker.
func (q *filterQuery) arg(v any) string {
	q.args = append(q.args, v)
	return q.dialect.Param(len(q.args))
}

// conditions returns the conditions on the user data and code of f, each
// " AND <prefix>column = <parameter>".
func (q *filterQuery) conditions(f ledger.AccountFilter, prefix string) string {
	var sb strings.Builder
	if !f.UserData128.IsZero() {
		sb.WriteString(" AND " + prefix + "user_data_128 = " + q.arg(f.UserData128[:]))
	}
	if f.UserData64 != 0 {
		sb.WriteString(" AND " + prefix + "user_data_64 = " + q.arg(Int(f.UserData64)))
	}
	if f.UserData32 != 0 {
		sb.WriteString(" AND " + prefix + "user_data_32 = " + q.arg(Int(f.UserData32)))
	}
	if f.Code != 0 {
		sb.WriteString(" AND " + prefix + "code = " + q.arg(Int(f.Code)))
	}
	return sb.String()
}

// within returns the condition " AND <column> BETWEEN <lo> AND <hi>" of a
// filter's time range on column, the timestamp of the rows of from that
// match where. A row whose timestamp reads negative is corrupt (above
// ledger.TimestampLimit as the store reads it, past any range) and sorts
// before every other in the index: when rows matching where hold such
// timestamps, the range is theirs, from the least to the greatest, in
// place of the filter's, so that whatever the order and limit the
// statement reads corrupt rows only, at least one, and its scan fails with
// ledger.ErrCorrupt rather than leaving them out. Each bound reads the
// least or the greatest negative timestamp with one seek of the index the
// statement scans (none is found in a ledger that is not damaged), and
// is evaluated once, before the scan.
func (q *filterQuery) within(column, from, where string) string {
	bound := func(agg, filter string) string {
		return "coalesce((SELECT " + agg + "(" + column + ") FROM " + from + " WHERE " + where +
			" AND " + column + " < 0), " + filter + ")"
	}
	return " AND " + column + " BETWEEN " + bound("min", q.lo) + " AND " + bound("max", q.hi)
}

// AccountTransfers implements ledger.ReadTx. Each side (debits, credits)
// is one range scan of its (account, timestamp) index; with both sides the
// two ordered scans are merged (UNION ALL: no transfer is on both sides of
// one account, SameAccount refuses it). A transfer of the account that
// matches the filter but for its time range, and whose timestamp reads
// negative (corrupt), fails it with an error wrapping ledger.ErrCorrupt,
// whatever the range, order and limit (within): with both sides, one on
// either side does.
func (r Reader) AccountTransfers(f ledger.AccountFilter) ([]ledger.Transfer, error) {
	if err := r.refuseLimit(f.Limit); err != nil {
		return nil, err
	}
	p := r.filterQuery(f)
	extra := p.conditions(f, "")
	side := func(col, owner string) string {
		return "SELECT " + TransferColumns + " FROM transfers WHERE " + col + " = " + p.acct +
			p.within("timestamp", "transfers", owner+extra) + extra +
			" ORDER BY timestamp " + p.order + " LIMIT " + p.limit
	}
	debit, credit := "debit_account_id = "+p.acct, "credit_account_id = "+p.acct
	var q string
	debits, credits := f.Flags&ledger.AccountFilterDebits != 0, f.Flags&ledger.AccountFilterCredits != 0
	switch {
	case debits && credits:
		both := "(" + debit + " OR " + credit + ")"
		q = "SELECT * FROM (" + side("debit_account_id", both) + ") AS d UNION ALL SELECT * FROM (" +
			side("credit_account_id", both) + ") AS c ORDER BY timestamp " + p.order + " LIMIT " + p.limit
	case debits:
		q = side("debit_account_id", debit)
	case credits:
		q = side("credit_account_id", credit)
	default:
		return nil, nil
	}
	var out []ledger.Transfer
	err := r.Query(q, p.args, collect(ScanTransfer, &out))
	return out, err
}

// AccountBalances implements ledger.ReadTx: one range scan of the
// account's history, each row joined with its transfer by ID when the
// filter needs it. A row without a transfer_id (a release of an expired
// hold written before the column existed) matches every filter. With both
// sides, the side is no condition, so that a filter of both sides without
// user data or code reads the history alone. A row of the account that
// matches the filter but for its time range, and whose timestamp reads
// negative (corrupt), fails it with an error wrapping ledger.ErrCorrupt,
// whatever the range, order and limit (within).
func (r Reader) AccountBalances(f ledger.AccountFilter) ([]ledger.AccountBalance, error) {
	if err := r.refuseLimit(f.Limit); err != nil {
		return nil, err
	}
	p := r.filterQuery(f)
	var match string
	debits, credits := f.Flags&ledger.AccountFilterDebits != 0, f.Flags&ledger.AccountFilterCredits != 0
	switch {
	case debits && credits:
	case debits:
		match = "t.debit_account_id = " + p.acct
	case credits:
		match = "t.credit_account_id = " + p.acct
	default:
		return nil, nil
	}
	from := "account_balances AS b"
	if extra := p.conditions(f, "t."); match != "" || extra != "" {
		from += " LEFT JOIN transfers AS t ON t.id = b.transfer_id"
		match = " AND (b.transfer_id IS NULL OR " + strings.TrimPrefix(match+extra, " AND ") + ")"
	}
	owner := "b.account_id = " + p.acct
	q := "SELECT " + balanceColumnsB + " FROM " + from + " WHERE " + owner +
		p.within("b.timestamp", from, owner+match) + match + " ORDER BY b.timestamp " + p.order + " LIMIT " + p.limit
	var out []ledger.AccountBalance
	err := r.Query(q, p.args, collect(ScanBalance, &out))
	return out, err
}

// BalanceRows implements ledger.ReadTx: one range scan of the primary key
// of account_balances, (account_id, timestamp), from (account, from) on. A
// timestamp is at most 2^63 - 1 here (a signed column that is never
// negative), so a from past it starts at the next account.
func (r Reader) BalanceRows(account ID, from uint64, limit int) ([]ledger.BalanceRow, error) {
	if err := r.refuseLimit(limit); err != nil {
		return nil, err
	}
	p := r.Dialect.Param
	q, args := "account_id > "+p(1), []any{account[:]}
	if from <= math.MaxInt64 {
		q, args = "(account_id, timestamp) >= ("+p(1)+", "+p(2)+")", append(args, Int(from))
	}
	q = "SELECT " + BalanceRowColumns + " FROM account_balances WHERE " + q +
		" ORDER BY account_id, timestamp LIMIT " + p(len(args)+1)
	var out []ledger.BalanceRow
	err := r.Query(q, append(args, int64(limit)), collect(ScanBalanceRow, &out))
	return out, err
}

// ExpiredPending implements ledger.Tx, with ExpiredPendingQuery. An
// active pending state whose expiry time reads negative (corrupt, above
// ledger.TimestampLimit), which the sweep meets before any other whatever
// now is, fails it with an error wrapping ledger.ErrCorrupt.
func (r Reader) ExpiredPending(now uint64, limit int) ([]ledger.Transfer, error) {
	if err := r.refuseLimit(limit); err != nil {
		return nil, err
	}
	var out []ledger.Transfer
	var expires uint64 // read to be checked (limitDest), not returned
	err := r.Query(ExpiredPendingQuery(r.Dialect), []any{Int(now), int64(limit)},
		collect(func(s Scanner) (ledger.Transfer, error) { return ScanTransfer(lastColumn{s, lim(&expires)}) }, &out))
	return out, err
}

// lastColumn is a Scanner of the row of s whose last column, past those
// its Scan is given, goes to dest.
type lastColumn struct {
	s    Scanner
	dest any
}

func (c lastColumn) Scan(dest ...any) error { return c.s.Scan(append(dest, c.dest)...) }

// ExpiredPendingQuery returns the statement of Reader.ExpiredPending in
// dialect d, whose parameters are now and limit: it reads a range of
// index pending_expiry, on (expires_at, timestamp) of the active pending
// states with a timeout, in the order it returns them, and gives each
// transfer's columns (TransferColumns) and then the expiry time of its
// state. The index holds the states whose expiry time reads negative
// (corrupt) too, since migration 0004, and the range starts with them:
// from the least int64, a bound that leaves nothing out but gives the
// planner a range of two bounds, as the bound 0 before it did
// (PostgreSQL takes a range of one bound, in a table without statistics,
// for a third of its rows, and sorts them rather than read the index in
// order).
func ExpiredPendingQuery(d Dialect) string {
	return "SELECT " + transferColumnsT + ", p.expires_at FROM pending AS p JOIN transfers AS t ON t.id = p.id" +
		" WHERE p.status = 1 AND p.expires_at <> 0 AND p.expires_at BETWEEN (-9223372036854775807 - 1) AND " + d.Param(1) +
		" ORDER BY p.expires_at, p.timestamp LIMIT " + d.Param(2)
}

// forEach pages through table in key order, pageSize rows per statement,
// and calls fn for every row. The rows of a page are read before fn runs,
// so fn may use the transaction.
func forEach[T any](r Reader, cols, table, key string, scan func(Scanner) (T, error), keyOf func(*T) any, fn func(T) error) error {
	p := r.Dialect.Param
	var last any
	page := make([]T, 0, pageSize)
	for {
		page = page[:0]
		var err error
		if last == nil {
			err = r.Query("SELECT "+cols+" FROM "+table+" ORDER BY "+key+" LIMIT "+p(1),
				[]any{int64(pageSize)}, collect(scan, &page))
		} else {
			err = r.Query("SELECT "+cols+" FROM "+table+" WHERE "+key+" > "+p(1)+" ORDER BY "+key+" LIMIT "+p(2),
				[]any{last, int64(pageSize)}, collect(scan, &page))
		}
		if err != nil {
			return err
		}
		for i := range page {
			if err := fn(page[i]); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			return nil
		}
		last = keyOf(&page[len(page)-1])
	}
}

// ForEachFailed implements ledger.ReadTx.
func (r Reader) ForEachFailed(fn func(ledger.FailedTransfer) error) error {
	return forEach(r, FailedColumns, "failed_transfers", "id", ScanFailed,
		func(f *ledger.FailedTransfer) any { id := f.ID; return id[:] }, fn)
}

// LastTimestamp implements ledger.ReadTx: it reads the ledger_state row,
// which the first migration inserts; a database without it fails with
// the dialect's NoState, and a negative last timestamp (ScanTimestamp)
// with an error wrapping ledger.ErrCorrupt.
func (r Reader) LastTimestamp() (uint64, error) {
	var ts uint64
	found := false
	err := r.Query(`SELECT last_timestamp FROM ledger_state WHERE id = 1`, nil, func(s Scanner) error {
		found = true
		var err error
		ts, err = ScanTimestamp(s)
		return err
	})
	switch {
	case err != nil:
		return 0, err
	case !found:
		return 0, r.Dialect.NoState()
	}
	return ts, nil
}

// ForEachAccount implements ledger.ReadTx.
func (r Reader) ForEachAccount(fn func(ledger.Account) error) error {
	return forEach(r, AccountColumns, "accounts", "id", ScanAccount,
		func(a *ledger.Account) any { id := a.ID; return id[:] }, fn)
}

// ForEachTransfer implements ledger.ReadTx.
func (r Reader) ForEachTransfer(fn func(ledger.Transfer) error) error {
	return forEach(r, TransferColumns, "transfers", "timestamp", ScanTransfer,
		func(t *ledger.Transfer) any { return Int(t.Timestamp) }, fn)
}

// ForEachPending implements ledger.ReadTx.
func (r Reader) ForEachPending(fn func(ledger.Pending) error) error {
	return forEach(r, PendingColumns, "pending", "id", ScanPending,
		func(p *ledger.Pending) any { id := p.ID; return id[:] }, fn)
}
