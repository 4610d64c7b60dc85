package sqlstore

import (
	"database/sql"
	"fmt"
	"math"

	"github.com/casimpay/casimpay/ledger"
)

// Scanner reads the columns of one row: *sql.Rows and pgx.Rows are both
// Scanners.
type Scanner interface {
	Scan(dest ...any) error
}

// Column lists, in the order the Scan functions read them.
const (
	AccountColumns = "id, debits_pending, debits_posted, credits_pending, credits_posted, " +
		"user_data_128, user_data_64, user_data_32, ledger, code, flags, timestamp"
	TransferColumns = "id, debit_account_id, credit_account_id, amount, pending_id, " +
		"user_data_128, user_data_64, user_data_32, timeout, ledger, code, flags, timestamp"
	PendingColumns = "id, status, expires_at, timestamp"
	FailedColumns  = "id, result, timestamp"
	BalanceColumns = "account_id, debits_pending, debits_posted, credits_pending, credits_posted, timestamp"
	// BalanceRowColumns are the columns of a ledger.BalanceRow, as
	// BalanceRowArgs gives them.
	BalanceRowColumns = BalanceColumns + ", transfer_id"
	balanceColumnsB   = "b.account_id, b.debits_pending, b.debits_posted, b.credits_pending, b.credits_posted, b.timestamp"
	transferColumnsT  = "t.id, t.debit_account_id, t.credit_account_id, t.amount, t.pending_id, " +
		"t.user_data_128, t.user_data_64, t.user_data_32, t.timeout, t.ledger, t.code, t.flags, t.timestamp"
)

// nullIDDest scans a 16-byte BLOB or bytea, or NULL, into an ID: NULL
// gives the zero ID.
type nullIDDest struct{ p *ledger.ID }

var _ sql.Scanner = nullIDDest{}

func (d nullIDDest) Scan(src any) error {
	if src == nil {
		*d.p = ledger.ID{}
		return nil
	}
	return idDest(d).Scan(src)
}

// idDest scans a 16-byte BLOB or bytea into an ID.
type idDest struct{ p *ledger.ID }

var _ sql.Scanner = idDest{}

func (d idDest) Scan(src any) error {
	b, ok := src.([]byte)
	if !ok {
		return fmt.Errorf("sqlstore: %w: id column holds %T, want bytes", ledger.ErrCorrupt, src)
	}
	id, err := ledger.IDFromBytes(b)
	if err != nil {
		return fmt.Errorf("sqlstore: %w: %w", ledger.ErrCorrupt, err)
	}
	*d.p = id
	return nil
}

// uintDest scans a signed integer column into an unsigned field. A uint64
// field takes the int64 with the same bits (user_data_64); a narrower one
// must be in its range.
type uintDest[T ~uint8 | ~uint16 | ~uint32 | ~uint64] struct{ p *T }

func (d uintDest[T]) Scan(src any) error {
	var v int64
	switch s := src.(type) {
	case int64:
		v = s
	case int32:
		v = int64(s)
	case int16:
		v = int64(s)
	default:
		return fmt.Errorf("sqlstore: %w: integer column holds %T", ledger.ErrCorrupt, src)
	}
	var max T = ^T(0)
	if uint64(max) != math.MaxUint64 && (v < 0 || uint64(v) > uint64(max)) {
		return fmt.Errorf("sqlstore: %w: integer %d out of range", ledger.ErrCorrupt, v)
	}
	*d.p = T(v)
	return nil
}

func u[T ~uint8 | ~uint16 | ~uint32 | ~uint64](p *T) uintDest[T] { return uintDest[T]{p} }

// limitDest scans a signed integer column into an amount, a balance or a
// timestamp (an expiry time and the last timestamp included), which the
// ledger keeps up to ledger.AmountLimit and ledger.TimestampLimit, both
// 2^63 - 1. A negative integer, the bits of a value above the limit, is a
// row the ledger did not write: it fails with an error wrapping
// ledger.ErrCorrupt, as one of another type does.
type limitDest struct{ p *uint64 }

var _ sql.Scanner = limitDest{}

func (d limitDest) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("sqlstore: %w: integer column holds %T", ledger.ErrCorrupt, src)
	}
	if v < 0 {
		return fmt.Errorf("sqlstore: %w: %d above the limit %d", ledger.ErrCorrupt, uint64(v), uint64(math.MaxInt64))
	}
	*d.p = uint64(v)
	return nil
}

func lim(p *uint64) limitDest { return limitDest{p} }

// ScanTimestamp reads a row of one timestamp column, such as
// ledger_state.last_timestamp: a negative one fails with an error
// wrapping ledger.ErrCorrupt.
func ScanTimestamp(s Scanner) (uint64, error) {
	var ts uint64
	err := s.Scan(lim(&ts))
	return ts, err
}

// ScanAccount reads a row of AccountColumns.
func ScanAccount(s Scanner) (ledger.Account, error) {
	var a ledger.Account
	err := s.Scan(idDest{&a.ID}, lim(&a.DebitsPending), lim(&a.DebitsPosted), lim(&a.CreditsPending), lim(&a.CreditsPosted),
		idDest{&a.UserData128}, u(&a.UserData64), u(&a.UserData32), u(&a.Ledger), u(&a.Code), u(&a.Flags), lim(&a.Timestamp))
	return a, err
}

// ScanTransfer reads a row of TransferColumns.
func ScanTransfer(s Scanner) (ledger.Transfer, error) {
	var t ledger.Transfer
	err := s.Scan(idDest{&t.ID}, idDest{&t.DebitAccountID}, idDest{&t.CreditAccountID}, lim(&t.Amount), idDest{&t.PendingID},
		idDest{&t.UserData128}, u(&t.UserData64), u(&t.UserData32), u(&t.Timeout), u(&t.Ledger), u(&t.Code), u(&t.Flags), lim(&t.Timestamp))
	return t, err
}

// ScanPending reads a row of PendingColumns.
func ScanPending(s Scanner) (ledger.Pending, error) {
	var p ledger.Pending
	err := s.Scan(idDest{&p.ID}, u(&p.Status), lim(&p.ExpiresAt), lim(&p.Timestamp))
	return p, err
}

// ScanFailed reads a row of FailedColumns.
func ScanFailed(s Scanner) (ledger.FailedTransfer, error) {
	var f ledger.FailedTransfer
	err := s.Scan(idDest{&f.ID}, u(&f.Result), lim(&f.Timestamp))
	return f, err
}

// ScanBalance reads a row of BalanceColumns.
func ScanBalance(s Scanner) (ledger.AccountBalance, error) {
	var b ledger.AccountBalance
	err := s.Scan(idDest{&b.AccountID}, lim(&b.DebitsPending), lim(&b.DebitsPosted), lim(&b.CreditsPending), lim(&b.CreditsPosted), lim(&b.Timestamp))
	return b, err
}

// ScanBalanceRow reads a row of BalanceRowColumns. A NULL transfer_id (a
// release written before migration 0002) gives the zero TransferID.
func ScanBalanceRow(s Scanner) (ledger.BalanceRow, error) {
	var b ledger.BalanceRow
	err := s.Scan(idDest{&b.AccountID}, lim(&b.DebitsPending), lim(&b.DebitsPosted), lim(&b.CreditsPending), lim(&b.CreditsPosted),
		lim(&b.Timestamp), nullIDDest{&b.TransferID})
	return b, err
}

// Int returns v as the int64 with the same bits, the form in which the SQL
// stores keep unsigned integers.
func Int[T ~uint8 | ~uint16 | ~uint32 | ~uint64](v T) int64 { return int64(v) }

// AccountArgs appends the values of AccountColumns for a.
func AccountArgs(args []any, a *ledger.Account) []any {
	return append(args, a.ID[:], Int(a.DebitsPending), Int(a.DebitsPosted), Int(a.CreditsPending), Int(a.CreditsPosted),
		a.UserData128[:], Int(a.UserData64), Int(a.UserData32), Int(a.Ledger), Int(a.Code), Int(a.Flags), Int(a.Timestamp))
}

// BalanceRowArgs appends the values of BalanceRowColumns for b.
func BalanceRowArgs(args []any, b *ledger.BalanceRow) []any {
	return append(args, b.AccountID[:], Int(b.DebitsPending), Int(b.DebitsPosted),
		Int(b.CreditsPending), Int(b.CreditsPosted), Int(b.Timestamp), b.TransferID[:])
}

// TransferArgs appends the values of TransferColumns for t.
func TransferArgs(args []any, t *ledger.Transfer) []any {
	return append(args, t.ID[:], t.DebitAccountID[:], t.CreditAccountID[:], Int(t.Amount), t.PendingID[:],
		t.UserData128[:], Int(t.UserData64), Int(t.UserData32), Int(t.Timeout), Int(t.Ledger), Int(t.Code), Int(t.Flags), Int(t.Timestamp))
}
