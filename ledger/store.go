package ledger

import (
	"context"
	"errors"
	"fmt"
)

// Store is the storage contract of the ledger: ledger/memory, ledger/sqlite
// and ledger/postgres implement it, and ledgertest.Run checks that they do.
// The rules live in Ledger; a store only keeps rows and runs transactions.
// A store's methods are safe for concurrent use.
//
// Integers: amounts, balances and timestamps are at most 2^63 - 1 (the
// ledger never writes more), so they fit a signed 64-bit column. UserData64
// uses all 64 bits: SQL stores keep it as the int64 with the same bits.
// IDs are 16 bytes, big-endian: byte order is numeric order.
type Store interface {
	// Update runs fn in one atomic, durable read-write transaction: it
	// commits when fn returns nil (and returns only once the commit is
	// durable), and rolls back and returns fn's error otherwise. When the
	// commit itself fails on the way (a server store whose connection
	// breaks after COMMIT was sent), the error is returned but the
	// transaction may have committed: its outcome is unknown. When a method
	// of tx failed, a read or a write, Update commits nothing, even if fn
	// ignored the error and returned nil: it then fails with that call's
	// error (Tx). When ctx ends before the commit is under way (while fn
	// runs, say), Update commits nothing and fails, even when fn returned
	// nil: with an error wrapping ctx's error, unless fn or a method of tx
	// failed.
	//
	// So when several things go wrong, the first of these wins: fn's
	// error; the error of the first method of tx that failed (once ctx has
	// ended, a method that runs a statement, such as a SQLite insert,
	// fails with ctx's error); ctx's error, when ctx ended before the
	// commit is under way; a refusal of the writes that the store finds
	// once fn has returned (ErrCorrupt, see Tx), even one it finds without
	// the engine, such as a key given twice; the commit's error.
	//
	// Update may run fn again after a transient failure of the engine (a
	// serialization failure, a deadlock, or a unique-key violation on insert
	// caused by a concurrent transaction): fn acts only through tx and
	// starts from scratch on every call. Stores bound such retries and then
	// return the last error; a unique-key violation that outlasts them
	// wraps ErrCorrupt (a rerun finds the row a concurrent transaction
	// inserted, so fn inserts a key that is stored). A unique key (Tx)
	// that fn inserts twice is no such clash: Update fails with ErrCorrupt
	// without running fn again.
	//
	// Isolation: fn's first call is always tx.LastTimestamp, which locks
	// the ledger's timestamp record until the end of the transaction, so
	// write transactions are serialized from that point on and every read
	// after it sees all previously committed writes (PostgreSQL: READ
	// COMMITTED plus SELECT … FOR UPDATE on that record is enough). A store
	// does not depend on it: a transaction that writes holds that lock
	// (or the whole store's) before its first write whatever fn read, so
	// the writes of two transactions never interleave; and when fn writes
	// without reading first, Update stores its writes, or refuses them, as
	// it does any others. (PostgreSQL: the reads that fn makes before
	// LastTimestamp, or without it, see what was committed when they ran,
	// and are not serialized with other writers.)
	//
	// A nil fn fails Update with ErrNilFunc before it starts anything.
	Update(ctx context.Context, fn func(tx Tx) error) error

	// View runs fn in a read-only transaction that sees one consistent
	// snapshot of committed data. A nil fn fails View with ErrNilFunc
	// before it starts anything.
	View(ctx context.Context, fn func(tx ReadTx) error) error

	// Close releases the store's resources. Update and View called after
	// Close fail with ErrClosed. A store's Close may wait for the calls
	// under way to end (the SQLite, PostgreSQL and memory stores do: the
	// PostgreSQL store's for those that hold a connection of its pool, see
	// its Close), so fn of Update or View must not call Close, nor Update
	// or View of the same store: such a call may wait behind Close, which
	// waits for fn (the SQLite store's fails with ErrClosed once Close is
	// called).
	Close() error
}

// ReadTx reads a store inside View or Update. Methods that take ids get
// each ID at most once, in ascending order, and return the rows found in
// any order; an ID without a row is simply absent from the result (not an
// error). The ledger reads the returned slices only until the transaction
// ends, so a store may reuse their memory afterwards.
//
// Methods that take a limit (AccountTransfers, AccountBalances,
// BalanceRows and Tx.ExpiredPending) refuse one outside [1, BatchMax],
// which the ledger never passes, with an error wrapping ErrLimit
// (CheckLimit) before they read anything; in an Update that is a read
// that failed, which loses the transaction (Tx).
type ReadTx interface {
	// LastTimestamp returns the last timestamp the ledger assigned, as
	// Tx.SetLastTimestamp recorded it (0 for a new store). No stored
	// timestamp is past it, and the ledger assigns the next ones after it.
	// In a Tx it also locks the record that holds it (Tx.LastTimestamp).
	// A store without that record (a SQL database damaged, or not a
	// ledger's) fails with an error wrapping ErrCorrupt.
	LastTimestamp() (uint64, error)

	// Accounts returns the accounts with the given IDs.
	Accounts(ids []ID) ([]Account, error)

	// Transfers returns the transfers with the given IDs.
	Transfers(ids []ID) ([]Transfer, error)

	// AccountTransfers returns the transfers that match f, in ascending
	// Timestamp order (descending with AccountFilterReversed), at most
	// f.Limit of them. The ledger passes a normalized filter: f.Limit is in
	// [1, BatchMax]; f.TimestampMin and f.TimestampMax are the inclusive
	// bounds of the range, where zero no longer means unbounded:
	// TimestampMin <= TimestampMax <= TimestampLimit, and TimestampMax is
	// not zero (TimestampMin may be); and at least one of
	// AccountFilterDebits and AccountFilterCredits is set. A transfer
	// matches when (Debits is set and DebitAccountID == f.AccountID, or
	// Credits is set and CreditAccountID == f.AccountID), its Timestamp is
	// in range, and each of f.UserData128, f.UserData64, f.UserData32 and
	// f.Code is zero or equal to the transfer's field.
	AccountTransfers(f AccountFilter) ([]Transfer, error)

	// AccountBalances returns the balance history rows of f.AccountID
	// (written by Tx.InsertBalances) whose Timestamp is in
	// [f.TimestampMin, f.TimestampMax] and whose transfer (BalanceRow's
	// TransferID) matches f's side, user data and code as in
	// AccountTransfers, ascending by Timestamp (descending with
	// AccountFilterReversed), at most f.Limit of them. The filter is
	// normalized as for AccountTransfers. With both AccountFilterDebits
	// and AccountFilterCredits set, the side is no condition: the ledger
	// writes a row for a transfer of its account, which moves it on one
	// side or the other, so a row naming a transfer of other accounts,
	// which only damage leaves, matches such a filter by the user data and
	// code of that transfer alone, and is read as stored. A row that names
	// no transfer (a release written before the SQL stores' migration
	// 0002) matches every filter.
	AccountBalances(f AccountFilter) ([]AccountBalance, error)

	// BalanceRows returns balance history rows (written by
	// Tx.InsertBalances) with the transfers they name, in ascending
	// (AccountID, Timestamp) order, at most limit of them: from the row
	// of account at timestamp from, or the first after it, on. It reads
	// every row so, whether its account is stored or not (a store that
	// lost an account to damage may hold the account's rows), and matches
	// no filter: Verify reads the whole balance history so, a page at a
	// time, where AccountBalances reads that of one account. The ledger
	// passes limit in [1, BatchMax]. A row that names no transfer (a
	// release written before the SQL stores' migration 0002) has the zero
	// TransferID.
	BalanceRows(account ID, from uint64, limit int) ([]BalanceRow, error)

	// Pending returns the pending-transfer states with the given IDs.
	Pending(ids []ID) ([]Pending, error)

	// FailedTransfers returns the failed-transfer records with the given
	// IDs.
	FailedTransfers(ids []ID) ([]FailedTransfer, error)

	// ForEachAccount calls fn for every account in ascending ID order and
	// stops at fn's first error, which it returns.
	ForEachAccount(fn func(Account) error) error

	// ForEachTransfer calls fn for every transfer in ascending Timestamp
	// order and stops at fn's first error, which it returns.
	ForEachTransfer(fn func(Transfer) error) error

	// ForEachPending calls fn for every pending-transfer state in ascending
	// ID order and stops at fn's first error, which it returns.
	ForEachPending(fn func(Pending) error) error

	// ForEachFailed calls fn for every failed-transfer record in ascending
	// ID order and stops at fn's first error, which it returns.
	ForEachFailed(fn func(FailedTransfer) error) error
}

// Tx is a read-write transaction inside Store.Update. In one call of fn the
// ledger calls, in this order: LastTimestamp; reads (ReadTx methods,
// ExpiredPending); LockAccounts, at most once (a call that creates
// accounts alone never calls it); more reads; then the writes, each
// method at most once, with non-empty slices only. It never reads rows it
// wrote in the same call, so a store may buffer writes until commit. A
// store does not depend on the order of the writes: an update finds a row
// inserted in the same call before or after it, and a row may name rows
// inserted after it (the ledger calls the write methods in a fixed order,
// but a store must not rely on it). The ledger leaves the slices passed to
// the write methods unchanged until Update returns, so a store may read
// them as late as that (the memory store checks them, and the SQLite
// store runs the updates, once fn has returned); it reuses them after: a
// store must not keep them.
//
// A row names rows that are stored or written in the same call of fn: a
// transfer its debit and credit accounts, a pending state its transfer, a
// balance history row its account and its transfer. The transfer of a
// pending state is a pending transfer (TransferPending), and a transfer's
// debit and credit accounts are two different accounts (the ledger refuses
// others with TransferAccountsMustBeDifferent), so that AccountTransfers
// lists each transfer once. A row naming another, a pending state of a
// transfer that is not pending, a transfer whose debit and credit account
// are the same, or an update of a row that is not stored, fails Update with
// an error wrapping ErrCorrupt (at the latest when it commits), and nothing
// of the transaction is stored. So does an insert of a unique key that is
// stored or given twice (for a stored key, a SQL store's error wraps the
// engine's unique-key error too): the ID of an account, a transfer, a
// pending state or a failed transfer, the Timestamp of a transfer, and the
// (AccountID, Timestamp) of a balance history row. And so does a last
// timestamp that goes back (SetLastTimestamp).
//
// A write method may fail at once (SQLite: an insert's constraint), or
// succeed and leave the failure to Update (the memory store checks the
// writes, and PostgreSQL sends them, once fn has returned). A read fails
// when the engine cannot answer (a statement of a SQL store that fails,
// or a row that does not scan), and when it is given a limit out of range
// (ErrLimit, see ReadTx); the memory store's reads fail for the latter
// only. Once a method has failed, a read or a write, the transaction is
// lost (a statement that fails aborts a PostgreSQL transaction, and may
// roll back a SQLite one): the later calls of tx may fail with the same
// error, and Update fails and stores nothing of the transaction, whatever
// fn returns: with fn's error, or with the failed call's error when fn
// ignored it and returned nil.
type Tx interface {
	ReadTx

	// LastTimestamp returns the last timestamp the ledger assigned (0 for a
	// new store), as ReadTx.LastTimestamp does, and locks the record that
	// holds it until the transaction ends (see Store.Update).
	LastTimestamp() (uint64, error)

	// SetLastTimestamp records ts as the last assigned timestamp. ts is
	// past the last one (what LastTimestamp returned, or the ts of an
	// earlier call in the transaction), for timestamps never go back: a
	// ts that is not, lower or equal, fails Update with ErrCorrupt (at
	// once or when it commits), and nothing of the transaction is stored.
	SetLastTimestamp(ts uint64) error

	// LockAccounts locks the accounts with the given IDs (ascending, no
	// duplicates) against concurrent writers until the transaction ends, in
	// that order (PostgreSQL: SELECT … ORDER BY id FOR UPDATE), and returns
	// those that exist, as Accounts does.
	LockAccounts(ids []ID) ([]Account, error)

	// ExpiredPending returns up to limit pending transfers (the Transfer
	// rows) whose Pending state has Status PendingActive and
	// 0 < ExpiresAt <= now, in ascending (ExpiresAt, Timestamp) order of
	// their Pending states: by expiry, and those that expire at the same
	// time in the order they were created, as TigerBeetle releases them.
	// The ledger asks with a now of at most TimestampLimit, the first
	// timestamp of a batch whose events fit below the limit.
	ExpiredPending(now uint64, limit int) ([]Transfer, error)

	// InsertAccounts inserts new accounts (their IDs are not yet stored).
	InsertAccounts(accounts []Account) error

	// UpdateAccounts overwrites the four balance fields and Flags of
	// existing accounts, found by ID (each at most once); other fields
	// never change. An account that is not stored, or given twice, fails
	// Update with ErrCorrupt.
	UpdateAccounts(accounts []Account) error

	// InsertTransfers inserts new transfers (their IDs are not yet stored;
	// each debits and credits two different accounts); Timestamp is unique
	// too. The ledger gives them in ascending Timestamp order, past every
	// stored transfer, but a store takes them in any order, and
	// ForEachTransfer and AccountTransfers return them by Timestamp all the
	// same. A unique-key violation (a concurrent transaction inserted the
	// same key) must make Update roll back and run fn again; a key given
	// twice in the transaction must not (see Store.Update).
	InsertTransfers(transfers []Transfer) error

	// InsertPending inserts the states of new pending transfers.
	InsertPending(pending []Pending) error

	// UpdatePending overwrites the Status of existing pending states, found
	// by ID (each at most once); ExpiresAt and Timestamp never change. A
	// pending state that is not stored (even if its transfer is), or given
	// twice, fails Update with ErrCorrupt.
	UpdatePending(pending []Pending) error

	// InsertFailed inserts failed-transfer records (their IDs are new).
	InsertFailed(failed []FailedTransfer) error

	// InsertBalances inserts balance history rows; (AccountID, Timestamp)
	// is unique. Each row names the transfer whose event it follows
	// (BalanceRow.TransferID); a store does not require that transfer's
	// Timestamp to be the row's. The ledger gives the rows in ascending
	// Timestamp order, past every stored row of their account, but a store
	// takes them in any order, and AccountBalances returns them by
	// Timestamp all the same.
	InsertBalances(balances []BalanceRow) error
}

// BalanceRow is a balance history row as a store keeps it: the balances
// and the transfer whose event they follow.
type BalanceRow struct {
	AccountBalance
	// TransferID is the transfer created at Timestamp or, for the row
	// written when a pending transfer expired, that pending transfer.
	// ReadTx.AccountBalances matches a filter against this transfer.
	TransferID ID
}

// ErrClosed is returned by a Ledger or a store used after Close.
var ErrClosed = errors.New("ledger: closed")

// ErrNilContext is returned, before anything is started, by every method
// of a Ledger that takes a context, and by Update and View of the stores of
// ledger/memory, ledger/sqlite and ledger/postgres, when that context is
// nil (context.Background is the context of a call that has none).
var ErrNilContext = errors.New("ledger: nil context")

// ErrLimit is returned by the reads of a store that take a limit
// (ReadTx.AccountTransfers, AccountBalances and BalanceRows,
// Tx.ExpiredPending) given one outside [1, BatchMax].
var ErrLimit = errors.New("ledger: limit out of range")

// CheckLimit returns an error wrapping ErrLimit for a limit outside
// [1, BatchMax], nil otherwise: the stores of ledger/memory, ledger/sqlite
// and ledger/postgres refuse such a limit with it before they read
// anything.
func CheckLimit(limit int) error {
	if limit < 1 || limit > BatchMax {
		return fmt.Errorf("%w: %d, not in [1, %d]", ErrLimit, limit, BatchMax)
	}
	return nil
}

// ErrNilFunc is returned, before anything is started, by Update and View
// of the stores of ledger/memory, ledger/sqlite and ledger/postgres when
// their fn is nil.
var ErrNilFunc = errors.New("ledger: nil transaction function")

// ErrNilStore is returned by New for a nil store (a nil pointer of a
// store type too), and by every method of a Ledger that New did not make,
// a nil *Ledger or the zero Ledger, which has no store: Close included,
// before its arguments are looked at. The stores of ledger/memory,
// ledger/sqlite and ledger/postgres return it likewise from every method
// of a Store that their New or Open did not make.
var ErrNilStore = errors.New("ledger: nil store")

// CheckCall is the check that a Ledger, and the stores of ledger/memory,
// ledger/sqlite and ledger/postgres in Update and View, make before a
// call starts anything: ErrNilStore when made is false (a nil pointer, or
// a zero value that the package's constructor did not make), else
// ErrNilContext when ctx is nil, else nil.
func CheckCall(ctx context.Context, made bool) error {
	switch {
	case !made:
		return ErrNilStore
	case ctx == nil:
		return ErrNilContext
	}
	return nil
}

// CheckRun is CheckCall for Update and View of a store, whose fn is T's:
// it returns what CheckCall returns, else ErrNilFunc when fn is nil, else
// nil.
func CheckRun[T any](ctx context.Context, made bool, fn func(T) error) error {
	if err := CheckCall(ctx, made); err != nil {
		return err
	}
	if fn == nil {
		return ErrNilFunc
	}
	return nil
}
