package ledger

import (
	"context"
	"fmt"
	"strings"
)

// VerifyError lists every inconsistency Verify found. errors.Is(err,
// ErrCorrupt) holds for it.
type VerifyError struct {
	Problems []Problem
}

// Problem is one inconsistency: what is wrong, and the account or transfer
// concerned (zero when not applicable).
type Problem struct {
	AccountID  ID
	TransferID ID
	Detail     string
}

// String describes the problem, naming the account or transfer.
func (p Problem) String() string {
	var b strings.Builder
	if !p.AccountID.IsZero() {
		fmt.Fprintf(&b, "account %v: ", p.AccountID)
	}
	if !p.TransferID.IsZero() {
		fmt.Fprintf(&b, "transfer %v: ", p.TransferID)
	}
	b.WriteString(p.Detail)
	return b.String()
}

// maxReported bounds the problems listed in an error message.
const maxReported = 5

// Error lists the count and the first few problems.
func (e *VerifyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ledger: verify found %d problem(s)", len(e.Problems))
	for i, p := range e.Problems {
		if i == maxReported {
			b.WriteString("; …")
			break
		}
		b.WriteString("; ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Is reports whether target is ErrCorrupt.
func (e *VerifyError) Is(target error) bool { return target == ErrCorrupt }

// Verify recomputes every account balance from the immutable transfers and
// the states of pending transfers, in one consistent snapshot, and checks:
//   - an account has a valid ID (ID.Valid), no reserved flag, at most one
//     of the limit flags, a ledger and a code;
//   - each stored balance equals the recomputed one; per ledger, the sum of
//     debits equals the sum of credits, pending and posted; the limit flags
//     hold; no amount or balance exceeds AmountLimit (an amount above it
//     is left out of the balances, and its transfer checked as any other);
//   - the limit flags and AmountLimit held when each transfer that is not
//     a post or void was created, on the balances its accounts had then
//     (a pending transfer holds its amount until its post or void or its
//     expiry, the earliest the ledger can have released it), and a
//     balancing transfer moved no more than kept its side within the
//     opposite one;
//   - a transfer has a valid ID (ID.Valid), not also recorded as failed,
//     no reserved flag, a code, and two different accounts; a pending ID
//     only when it is a post or void;
//   - a failed-transfer record has a valid ID (ID.Valid) and a transient
//     result (CreateTransferResult.Transient), the only ones the ledger
//     records;
//   - timestamps are at most TimestampLimit, those of transfers strictly
//     increase, and no two events (accounts, transfers, failed-transfer
//     records) share one; an account's and a failed-transfer record's are
//     not zero; a pending transfer expires by the limit;
//   - every transfer refers to existing accounts of its ledger (one that
//     exists takes a transfer of one that is missing in its balances, and
//     the transfer is checked as any other), created before it and, unless
//     it is a void, not closed then by a pending transfer (from that one's
//     timestamp until its post or void, or its expiry); only a pending
//     transfer has a timeout or a closing flag (a post or void with one is
//     reported as below);
//   - a post or void (a transfer flagged either) has no flag that excludes
//     it (the other of the two, pending, balancing, closing) and resolves,
//     before its expiry, a pending transfer whose state agrees, with that
//     transfer's accounts, ledger and code, a void its whole amount and a
//     post at most that of one that closes no account, and no pending
//     transfer is resolved twice;
//   - every pending state belongs to a pending transfer, whose expiry and
//     timestamp it has, and is active, posted, voided or expired; an
//     expired one expires by the last timestamp the store records (the
//     ledger expires a hold at a timestamp it assigns);
//   - the balance history of an account with AccountHistory replays:
//     each transfer that names it has a row at its timestamp, which names
//     that transfer, with the balances that its transfers and the
//     releases of its expired pending transfers give up to then; every
//     other row releases an expired pending transfer of it, which it
//     names (a release that a SQL store wrote before its migration 0002
//     names none), at or after that transfer's expiry, at a timestamp
//     that no transfer, account or failed-transfer record has, at most
//     TimestampLimit, and, when it names that transfer, that no row
//     naming the release of another one has, and that of the row of its
//     other account naming its release, if any; the last row has the
//     account's balances. Only the first row that breaks this (or the
//     first transfer without a row) is reported, as the rest of that
//     history follows from it. The rows of all accounts are read once, a
//     page at a time, by account and then timestamp (ReadTx.BalanceRows);
//   - an account without AccountHistory has no balance history row, nor
//     has an account that does not exist (a store whose data lost an
//     account may keep its rows), nor one with a reserved ID, which cannot
//     exist (whether a store holds such an account or not; the account is
//     reported too when it holds one); the first row of such an account is
//     reported;
//   - an account has AccountClosed when an active pending transfer closes
//     it (TransferClosingDebit, TransferClosingCredit), never more than
//     one, and otherwise only when no transfer names it (created closed);
//   - the last timestamp the store records (ReadTx.LastTimestamp), after
//     which the ledger assigns the next ones, is at most TimestampLimit
//     (above it, no next one is within the limit), and no lower than any
//     timestamp of the rows read (accounts, transfers, failed-transfer
//     records, the balance history rows; a pending state has its
//     transfer's).
//
// A pending transfer without a pending state is one problem, whether
// transfers resolve it or not (more than one resolving it is another). It
// returns a *VerifyError listing what is wrong, the store's error, or
// ErrClosed after Close. The problems come in the same order for the same
// store contents: those of transfers in ascending timestamp order, those
// of failed-transfer records in ascending ID order, those of
// pending states in ascending transfer ID order, those of accounts in
// ascending account ID order, those of balance histories in ascending
// account ID order, then those of ledgers in ascending ledger order, and
// last those of the last timestamp, above the limit before below a stored
// one.
func (l *Ledger) Verify(ctx context.Context) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	var problems []Problem
	err := l.store.View(ctx, func(tx ReadTx) error {
		var err error
		problems, err = verify(tx)
		return err
	})
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return &VerifyError{Problems: problems}
	}
	return nil
}
