package ledgertest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// FaultCase is a call of a Ledger that a SQL store's tests make with the
// statements of its store transactions failed one at a time, by a fault
// injector of the store's own: the call must then fail with the injected
// error and leave the store's tables as they were (or, for an error the
// store reruns its transaction for, give what it gives without a
// failure), and, made again, give what it gives without a failure and
// leave the tables as that does. WriteFaultCases and ReadFaultCases
// return the cases, each time a new slice that the caller may change.
//
// A case's accounts and transfers have the IDs 1 to 20, which
// FaultLookups reads. Its Setup and Call are safe for concurrent use on
// different Ledgers.
type FaultCase struct {
	// Name names the case, for t.Run.
	Name string
	// Setup creates, through l, whose Options.Now is clock.Now, what
	// Call finds, and may move clock; nil: nothing. It fails t when a
	// call fails or gives other results than it expects.
	Setup func(t *testing.T, l *ledger.Ledger, clock *Clock)
	// Call makes the call and returns what it gave, and its error.
	Call func(ctx context.Context, l *ledger.Ledger) (any, error)
	// Want is what Call gives without a failure; nil: not known, to be
	// checked against a run without a failure only.
	Want any
	// Read is set for a read, which writes nothing.
	Read bool
}

// FaultAccounts returns accounts 1 and 2, with their balance history,
// created as a chain, and 3, whose debits must not exceed its credits,
// all of ledger 978 and code 1.
func FaultAccounts() []ledger.Account {
	return []ledger.Account{FaultAccount(1, ledger.AccountHistory|ledger.AccountLinked),
		FaultAccount(2, ledger.AccountHistory), FaultAccount(3, ledger.AccountDebitsMustNotExceedCredits)}
}

// FaultAccount returns account id of ledger 978 and code 1, with flags.
func FaultAccount(id uint64, flags ledger.AccountFlags) ledger.Account {
	return ledger.Account{ID: ledger.IDFromUint64(id), Ledger: 978, Code: 1, Flags: flags}
}

// FaultTransfer returns transfer id of amount from account debit to
// account credit, of ledger 978 and code 1, with flags.
func FaultTransfer(id, debit, credit, amount uint64, flags ledger.TransferFlags) ledger.Transfer {
	return ledger.Transfer{ID: ledger.IDFromUint64(id), DebitAccountID: ledger.IDFromUint64(debit),
		CreditAccountID: ledger.IDFromUint64(credit), Amount: amount, Ledger: 978, Code: 1, Flags: flags}
}

// FaultHold returns pending transfer 11 of 100 from account 1 to 2,
// which expires timeout seconds after it is created (0: never).
func FaultHold(timeout uint32) ledger.Transfer {
	tr := FaultTransfer(11, 1, 2, 100, ledger.TransferPending)
	tr.Timeout = timeout
	return tr
}

// MergedCall is a CreateTransfers call of the SQL stores' tests of
// batches that merge concurrent calls into one transaction, with the
// results it gives whether alone or merged, in any order.
type MergedCall struct {
	Transfers []ledger.Transfer
	Want      []ledger.CreateTransferResult
}

// MergedCalls returns four calls between the accounts of FaultAccounts:
// a posted transfer, a hold (FaultHold(60)), a linked
// chain, and a transfer to account 3 followed by one from it that exceeds
// its credits. The first transfer of each is created.
func MergedCalls() []MergedCall {
	return []MergedCall{
		{[]ledger.Transfer{FaultTransfer(10, 1, 2, 100, 0)}, []ledger.CreateTransferResult{ledger.TransferCreated}},
		{[]ledger.Transfer{FaultHold(60)}, []ledger.CreateTransferResult{ledger.TransferCreated}},
		{[]ledger.Transfer{FaultTransfer(12, 2, 1, 30, ledger.TransferLinked), FaultTransfer(13, 1, 2, 10, 0)},
			[]ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}},
		{[]ledger.Transfer{FaultTransfer(14, 2, 3, 5, 0), FaultTransfer(15, 3, 1, 10, 0)},
			[]ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferExceedsCredits}},
	}
}

// resolve returns transfer id posting all of hold 11 (FaultHold), or
// voiding it, as flags say.
func resolve(id uint64, flags ledger.TransferFlags) ledger.Transfer {
	tr := ledger.Transfer{ID: ledger.IDFromUint64(id), PendingID: ledger.IDFromUint64(11), Flags: flags}
	if flags&ledger.TransferPostPendingTransfer != 0 {
		tr.Amount = ledger.AmountMax
	}
	return tr
}

// FaultSetup returns a FaultCase.Setup that creates accounts and then,
// when there are any, transfers, each in one call, and fails t unless
// every one is created.
func FaultSetup(accounts []ledger.Account, transfers ...ledger.Transfer) func(t *testing.T, l *ledger.Ledger, clock *Clock) {
	return func(t *testing.T, l *ledger.Ledger, _ *Clock) {
		t.Helper()
		ctx := context.Background()
		res, err := l.CreateAccounts(ctx, accounts)
		require.NoError(t, err)
		require.Equal(t, make([]ledger.CreateAccountResult, len(accounts)), res)
		if len(transfers) > 0 {
			res, err := l.CreateTransfers(ctx, transfers)
			require.NoError(t, err)
			require.Equal(t, make([]ledger.CreateTransferResult, len(transfers)), res)
		}
	}
}

// expiredHold creates FaultAccounts and FaultHold(1), and moves the clock
// past the hold's expiry.
func expiredHold(t *testing.T, l *ledger.Ledger, clock *Clock) {
	FaultSetup(FaultAccounts(), FaultHold(1))(t, l, clock)
	clock.Advance(2 * time.Second)
}

func createTransfers(transfers ...ledger.Transfer) func(context.Context, *ledger.Ledger) (any, error) {
	return func(ctx context.Context, l *ledger.Ledger) (any, error) { return l.CreateTransfers(ctx, transfers) }
}

// WriteFaultCases returns the writes of the fault tests: the creation of
// FaultAccounts, and transfers between them: posted, pending (FaultHold),
// a post and a void of a pending one, a linked chain that the ledger
// refuses followed by one that it creates, one whose batch releases an
// expired hold, and a post of an expired hold (refused as expired, which
// releases the hold).
func WriteFaultCases() []FaultCase {
	accounts := FaultSetup(FaultAccounts())
	held := FaultSetup(FaultAccounts(), FaultHold(60))
	created := []ledger.CreateTransferResult{ledger.TransferCreated}
	return []FaultCase{
		{Name: "create accounts", Call: func(ctx context.Context, l *ledger.Ledger) (any, error) {
			return l.CreateAccounts(ctx, FaultAccounts())
		}, Want: []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountCreated, ledger.AccountCreated}},
		{Name: "posted", Setup: accounts, Call: createTransfers(FaultTransfer(10, 1, 2, 100, 0)), Want: created},
		{Name: "pending", Setup: accounts, Call: createTransfers(FaultHold(60)), Want: created},
		{Name: "post", Setup: held, Call: createTransfers(resolve(12, ledger.TransferPostPendingTransfer)), Want: created},
		{Name: "void", Setup: held, Call: createTransfers(resolve(13, ledger.TransferVoidPendingTransfer)), Want: created},
		{Name: "linked", Setup: accounts, Call: createTransfers(
			FaultTransfer(14, 1, 2, 100, ledger.TransferLinked), FaultTransfer(15, 3, 1, 100, 0),
			FaultTransfer(16, 2, 1, 50, ledger.TransferLinked), FaultTransfer(17, 1, 2, 20, 0)),
			Want: []ledger.CreateTransferResult{ledger.TransferLinkedEventFailed, ledger.TransferExceedsCredits,
				ledger.TransferCreated, ledger.TransferCreated}},
		{Name: "expiry", Setup: expiredHold, Call: createTransfers(FaultTransfer(18, 2, 1, 30, 0)), Want: created},
		{Name: "expired post", Setup: expiredHold, Call: createTransfers(resolve(12, ledger.TransferPostPendingTransfer)),
			Want: []ledger.CreateTransferResult{ledger.TransferPendingTransferExpired}},
	}
}

// ReadFaultCases returns the reads of the fault tests, each with Read
// set, of a ledger that Setup gives FaultAccounts, a posted transfer and
// FaultHold(60): lookups of every ID, account 1's transfers and balances,
// and Verify. Their Want is nil.
func ReadFaultCases() []FaultCase {
	setup := FaultSetup(FaultAccounts(), FaultTransfer(10, 1, 2, 100, 0), FaultHold(60))
	account1 := func(flags ledger.AccountFilterFlags) ledger.AccountFilter {
		return ledger.AccountFilter{AccountID: ledger.IDFromUint64(1), Limit: 10, Flags: flags}
	}
	both := ledger.AccountFilterDebits | ledger.AccountFilterCredits
	return []FaultCase{
		{Name: "lookup accounts", Setup: setup, Read: true, Call: func(ctx context.Context, l *ledger.Ledger) (any, error) {
			return l.LookupAccounts(ctx, FaultIDs())
		}},
		{Name: "lookup transfers", Setup: setup, Read: true, Call: func(ctx context.Context, l *ledger.Ledger) (any, error) {
			return l.LookupTransfers(ctx, FaultIDs())
		}},
		{Name: "account transfers", Setup: setup, Read: true, Call: func(ctx context.Context, l *ledger.Ledger) (any, error) {
			return l.GetAccountTransfers(ctx, account1(both))
		}},
		{Name: "account balances", Setup: setup, Read: true, Call: func(ctx context.Context, l *ledger.Ledger) (any, error) {
			return l.GetAccountBalances(ctx, account1(both|ledger.AccountFilterReversed))
		}},
		{Name: "verify", Setup: setup, Read: true, Call: func(ctx context.Context, l *ledger.Ledger) (any, error) {
			return nil, l.Verify(ctx)
		}},
	}
}

// FaultIDs returns the IDs of every account and transfer of the fault
// cases: 1 to 20, in a new slice.
func FaultIDs() []ledger.ID {
	ids := make([]ledger.ID, 20)
	for i := range ids {
		ids[i] = ledger.IDFromUint64(uint64(i) + 1)
	}
	return ids
}

// FaultLookups returns every account and transfer of the fault cases,
// read through l, and fails t when a lookup fails.
func FaultLookups(t *testing.T, l *ledger.Ledger) []any {
	t.Helper()
	ctx := context.Background()
	accounts, err := l.LookupAccounts(ctx, FaultIDs())
	require.NoError(t, err)
	transfers, err := l.LookupTransfers(ctx, FaultIDs())
	require.NoError(t, err)
	return []any{accounts, transfers}
}
