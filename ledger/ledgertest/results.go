package ledgertest

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// Ledgers of the standard accounts.
const (
	eur uint32 = 978
	usd uint32 = 840
)

// Standard accounts of the result tables.
const (
	acctA       = 1 // plain, EUR
	acctB       = 2 // plain, EUR
	acctDebLim  = 3 // debits must not exceed credits
	acctCredLim = 4 // credits must not exceed debits
	acctUSD     = 5 // plain, USD
	acctClosed  = 6 // closed at creation
	acctHist    = 7 // history
	acctC       = 8 // plain, EUR
)

func standardAccounts() []ledger.Account {
	return []ledger.Account{
		{ID: id(acctA), Ledger: eur, Code: 1},
		{ID: id(acctB), Ledger: eur, Code: 1},
		{ID: id(acctDebLim), Ledger: eur, Code: 2, Flags: ledger.AccountDebitsMustNotExceedCredits},
		{ID: id(acctCredLim), Ledger: eur, Code: 3, Flags: ledger.AccountCreditsMustNotExceedDebits},
		{ID: id(acctUSD), Ledger: usd, Code: 1},
		{ID: id(acctClosed), Ledger: eur, Code: 1, Flags: ledger.AccountClosed},
		{ID: id(acctHist), Ledger: eur, Code: 1, Flags: ledger.AccountHistory},
		{ID: id(acctC), Ledger: eur, Code: 1},
	}
}

// tr builds a plain EUR transfer.
func tr(tid, dr, cr, amount uint64) ledger.Transfer {
	return ledger.Transfer{ID: id(tid), DebitAccountID: id(dr), CreditAccountID: id(cr), Amount: amount, Ledger: eur, Code: 1}
}

// with returns t changed by fn.
func with(t ledger.Transfer, fn func(*ledger.Transfer)) ledger.Transfer {
	fn(&t)
	return t
}

func pending(t ledger.Transfer) ledger.Transfer {
	t.Flags |= ledger.TransferPending
	return t
}

func post(tid, pendingID, amount uint64) ledger.Transfer {
	return ledger.Transfer{ID: id(tid), PendingID: id(pendingID), Amount: amount, Flags: ledger.TransferPostPendingTransfer}
}

func void(tid, pendingID uint64) ledger.Transfer {
	return ledger.Transfer{ID: id(tid), PendingID: id(pendingID), Flags: ledger.TransferVoidPendingTransfer}
}

// testAccountResults: each CreateAccounts result in TigerBeetle's order of
// precedence, including those of linked chains; a created account is
// stored as given with a timestamp, and a failed chain creates no account
// under the ID of an event it refused.
func testAccountResults(t *testing.T, c Config) {
	base := ledger.Account{ID: id(100), Ledger: eur, Code: 1, UserData128: id(7), UserData64: 8, UserData32: 9}
	acc := func(fn func(*ledger.Account)) ledger.Account {
		a := base
		fn(&a)
		return a
	}
	cases := []struct {
		name   string
		events []ledger.Account
		want   []ledger.CreateAccountResult
	}{
		{"created", []ledger.Account{base}, []ledger.CreateAccountResult{ledger.AccountCreated}},
		{"timestamp_must_be_zero", []ledger.Account{acc(func(a *ledger.Account) { a.Timestamp = 1 })},
			[]ledger.CreateAccountResult{ledger.AccountTimestampMustBeZero}},
		{"reserved_flag", []ledger.Account{acc(func(a *ledger.Account) { a.Flags = 1 << 4 })},
			[]ledger.CreateAccountResult{ledger.AccountReservedFlag}},
		{"reserved_flag_after_closed", []ledger.Account{acc(func(a *ledger.Account) { a.Flags = ledger.AccountClosed << 1 })},
			[]ledger.CreateAccountResult{ledger.AccountReservedFlag}},
		{"reserved_flag_high", []ledger.Account{acc(func(a *ledger.Account) { a.Flags = 1 << 15 })},
			[]ledger.CreateAccountResult{ledger.AccountReservedFlag}},
		{"id_must_not_be_zero", []ledger.Account{acc(func(a *ledger.Account) { a.ID = ledger.ID{} })},
			[]ledger.CreateAccountResult{ledger.AccountIDMustNotBeZero}},
		{"id_must_not_be_int_max", []ledger.Account{acc(func(a *ledger.Account) { a.ID = ledger.IDMax })},
			[]ledger.CreateAccountResult{ledger.AccountIDMustNotBeIntMax}},
		{"exists", []ledger.Account{base, base}, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountExists}},
		{"exists_with_different_flags", []ledger.Account{base, acc(func(a *ledger.Account) { a.Flags = ledger.AccountHistory })},
			[]ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountExistsWithDifferentFlags}},
		{"exists_with_different_user_data_128", []ledger.Account{base, acc(func(a *ledger.Account) { a.UserData128 = id(1) })},
			[]ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountExistsWithDifferentUserData128}},
		{"exists_with_different_user_data_64", []ledger.Account{base, acc(func(a *ledger.Account) { a.UserData64 = 1 })},
			[]ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountExistsWithDifferentUserData64}},
		{"exists_with_different_user_data_32", []ledger.Account{base, acc(func(a *ledger.Account) { a.UserData32 = 1 })},
			[]ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountExistsWithDifferentUserData32}},
		{"exists_with_different_ledger", []ledger.Account{base, acc(func(a *ledger.Account) { a.Ledger = usd })},
			[]ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountExistsWithDifferentLedger}},
		{"exists_with_different_code", []ledger.Account{base, acc(func(a *ledger.Account) { a.Code = 2 })},
			[]ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountExistsWithDifferentCode}},
		{"flags_are_mutually_exclusive", []ledger.Account{acc(func(a *ledger.Account) {
			a.Flags = ledger.AccountDebitsMustNotExceedCredits | ledger.AccountCreditsMustNotExceedDebits
		})}, []ledger.CreateAccountResult{ledger.AccountFlagsAreMutuallyExclusive}},
		{"debits_pending_must_be_zero", []ledger.Account{acc(func(a *ledger.Account) { a.DebitsPending = 1 })},
			[]ledger.CreateAccountResult{ledger.AccountDebitsPendingMustBeZero}},
		{"debits_posted_must_be_zero", []ledger.Account{acc(func(a *ledger.Account) { a.DebitsPosted = 1 })},
			[]ledger.CreateAccountResult{ledger.AccountDebitsPostedMustBeZero}},
		{"credits_pending_must_be_zero", []ledger.Account{acc(func(a *ledger.Account) { a.CreditsPending = 1 })},
			[]ledger.CreateAccountResult{ledger.AccountCreditsPendingMustBeZero}},
		{"credits_posted_must_be_zero", []ledger.Account{acc(func(a *ledger.Account) { a.CreditsPosted = 1 })},
			[]ledger.CreateAccountResult{ledger.AccountCreditsPostedMustBeZero}},
		{"ledger_must_not_be_zero", []ledger.Account{acc(func(a *ledger.Account) { a.Ledger = 0 })},
			[]ledger.CreateAccountResult{ledger.AccountLedgerMustNotBeZero}},
		{"code_must_not_be_zero", []ledger.Account{acc(func(a *ledger.Account) { a.Code = 0 })},
			[]ledger.CreateAccountResult{ledger.AccountCodeMustNotBeZero}},
		{"precedence_id_before_ledger", []ledger.Account{acc(func(a *ledger.Account) { a.ID, a.Ledger = ledger.ID{}, 0 })},
			[]ledger.CreateAccountResult{ledger.AccountIDMustNotBeZero}},
		{"precedence_timestamp_before_reserved_flag", []ledger.Account{acc(func(a *ledger.Account) { a.Timestamp, a.Flags = 1, 1<<4 })},
			[]ledger.CreateAccountResult{ledger.AccountTimestampMustBeZero}},
		{"precedence_reserved_flag_before_id", []ledger.Account{acc(func(a *ledger.Account) { a.ID, a.Flags = ledger.ID{}, 1<<4 })},
			[]ledger.CreateAccountResult{ledger.AccountReservedFlag}},
		{"precedence_exists_before_flags_are_mutually_exclusive", []ledger.Account{base, acc(func(a *ledger.Account) {
			a.Flags = ledger.AccountDebitsMustNotExceedCredits | ledger.AccountCreditsMustNotExceedDebits
		})}, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountExistsWithDifferentFlags}},
		// Balances are not compared with an existing account's.
		{"precedence_exists_before_debits_pending", []ledger.Account{base, acc(func(a *ledger.Account) { a.DebitsPending = 1 })},
			[]ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountExists}},
		{"precedence_user_data_64_before_32", []ledger.Account{base, acc(func(a *ledger.Account) { a.UserData64, a.UserData32 = 1, 1 })},
			[]ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountExistsWithDifferentUserData64}},
		{"precedence_flags_are_mutually_exclusive_before_debits_pending", []ledger.Account{acc(func(a *ledger.Account) {
			a.Flags = ledger.AccountDebitsMustNotExceedCredits | ledger.AccountCreditsMustNotExceedDebits
			a.DebitsPending = 1
		})}, []ledger.CreateAccountResult{ledger.AccountFlagsAreMutuallyExclusive}},
		{"precedence_debits_pending_before_ledger", []ledger.Account{acc(func(a *ledger.Account) { a.DebitsPending, a.Ledger = 1, 0 })},
			[]ledger.CreateAccountResult{ledger.AccountDebitsPendingMustBeZero}},
		{"precedence_credits_pending_before_credits_posted", []ledger.Account{acc(func(a *ledger.Account) { a.CreditsPending, a.CreditsPosted = 1, 1 })},
			[]ledger.CreateAccountResult{ledger.AccountCreditsPendingMustBeZero}},
		{"precedence_debits_posted_before_credits_pending", []ledger.Account{acc(func(a *ledger.Account) { a.DebitsPosted, a.CreditsPending = 1, 1 })},
			[]ledger.CreateAccountResult{ledger.AccountDebitsPostedMustBeZero}},
		{"precedence_ledger_before_code", []ledger.Account{acc(func(a *ledger.Account) { a.Ledger, a.Code = 0, 0 })},
			[]ledger.CreateAccountResult{ledger.AccountLedgerMustNotBeZero}},
		{"linked_chain_created", []ledger.Account{
			acc(func(a *ledger.Account) { a.Flags = ledger.AccountLinked }),
			acc(func(a *ledger.Account) { a.ID = id(101) }),
		}, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountCreated}},
		{"linked_event_failed", []ledger.Account{
			acc(func(a *ledger.Account) { a.Flags = ledger.AccountLinked }),
			acc(func(a *ledger.Account) { a.ID, a.Code = id(101), 0 }),
			acc(func(a *ledger.Account) { a.ID = id(102) }),
		}, []ledger.CreateAccountResult{ledger.AccountLinkedEventFailed, ledger.AccountCodeMustNotBeZero, ledger.AccountCreated}},
		// An account of a failed chain is not created: a later event of
		// the same request creates its ID.
		{"linked_event_failed_id_created_later", []ledger.Account{
			acc(func(a *ledger.Account) { a.Flags = ledger.AccountLinked }),
			acc(func(a *ledger.Account) { a.ID, a.Code = id(101), 0 }),
			base,
		}, []ledger.CreateAccountResult{ledger.AccountLinkedEventFailed, ledger.AccountCodeMustNotBeZero, ledger.AccountCreated}},
		// A failed chain takes back only its own accounts, not those
		// created before it in the same request.
		{"linked_event_failed_after_created", []ledger.Account{
			acc(func(a *ledger.Account) { a.ID = id(102) }),
			acc(func(a *ledger.Account) { a.Flags = ledger.AccountLinked }),
			acc(func(a *ledger.Account) { a.ID, a.Code = id(101), 0 }),
		}, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountLinkedEventFailed, ledger.AccountCodeMustNotBeZero}},
		{"linked_event_chain_open", []ledger.Account{
			acc(func(a *ledger.Account) { a.Flags = ledger.AccountLinked }),
			acc(func(a *ledger.Account) { a.ID, a.Flags = id(101), ledger.AccountLinked }),
		}, []ledger.CreateAccountResult{ledger.AccountLinkedEventFailed, ledger.AccountLinkedEventChainOpen}},
		{"broken_chain_left_open", []ledger.Account{
			acc(func(a *ledger.Account) { a.Flags, a.Code = ledger.AccountLinked, 0 }),
			acc(func(a *ledger.Account) { a.ID, a.Flags = id(101), ledger.AccountLinked }),
		}, []ledger.CreateAccountResult{ledger.AccountCodeMustNotBeZero, ledger.AccountLinkedEventChainOpen}},
	}
	sh := newShared(t, c)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := sh.next(t)
			got := e.createAccounts(tc.events...)
			require.Equal(t, tc.want, got)
			for i, a := range tc.events {
				if tc.want[i] != ledger.AccountCreated {
					continue
				}
				stored := e.account(idVal(a.ID))
				want := a
				want.Timestamp = stored.Timestamp
				require.Equal(t, want, stored)
				require.NotZero(t, stored.Timestamp)
			}
			// A failed chain creates nothing: no account under the ID
			// of an event refused, unless another event created it.
			if slices.Contains(tc.want, ledger.AccountLinkedEventFailed) || slices.Contains(tc.want, ledger.AccountLinkedEventChainOpen) {
				for i, a := range tc.events {
					if tc.want[i] != ledger.AccountCreated && !createdID(tc.events, tc.want, a.ID) {
						require.Empty(t, e.lookupAccounts(a.ID), "a failed chain creates nothing: account %d", idVal(a.ID))
					}
				}
			}
			e.verify()
		})
	}
}

// createdID reports whether an event of events, whose results are want,
// created an account under id.
func createdID(events []ledger.Account, want []ledger.CreateAccountResult, id ledger.ID) bool {
	for i := range events {
		if want[i] == ledger.AccountCreated && events[i].ID == id {
			return true
		}
	}
	return false
}

func idVal(i ledger.ID) uint64 {
	_, lo := i.Uint64s()
	return lo
}

type transferCase struct {
	name    string
	setup   []ledger.Transfer // each must be created
	advance time.Duration     // clock step after setup
	at      time.Time         // clock setting before the events, when not zero
	events  []ledger.Transfer
	want    []ledger.CreateTransferResult
	bal     map[uint64]Bal // balances after the events
}

const half = uint64(1) << 62 // half of the 2^63 range

func transferCases() []transferCase {
	lim := ledger.AmountLimit
	R := func(r ...ledger.CreateTransferResult) []ledger.CreateTransferResult { return r }
	T := func(t ...ledger.Transfer) []ledger.Transfer { return t }
	p100 := pending(tr(100, acctA, acctB, 10))
	return []transferCase{
		{name: "created", events: T(tr(1, acctA, acctB, 10)), want: R(ledger.TransferCreated),
			bal: map[uint64]Bal{acctA: {0, 10, 0, 0}, acctB: {0, 0, 0, 10}}},
		{name: "created_zero_amount", events: T(tr(1, acctA, acctB, 0)), want: R(ledger.TransferCreated),
			bal: map[uint64]Bal{acctA: {}, acctB: {}}},
		{name: "created_amount_limit", events: T(tr(1, acctA, acctB, lim)), want: R(ledger.TransferCreated),
			bal: map[uint64]Bal{acctA: {0, lim, 0, 0}, acctB: {0, 0, 0, lim}}},
		{name: "linked_event_failed", events: T(
			with(tr(1, acctA, acctB, 10), func(t *ledger.Transfer) { t.Flags = ledger.TransferLinked }),
			tr(2, acctA, 99, 10)),
			want: R(ledger.TransferLinkedEventFailed, ledger.TransferCreditAccountNotFound),
			bal:  map[uint64]Bal{acctA: {}, acctB: {}}},
		{name: "linked_event_chain_open", events: T(
			with(tr(1, acctA, acctB, 10), func(t *ledger.Transfer) { t.Flags = ledger.TransferLinked })),
			want: R(ledger.TransferLinkedEventChainOpen), bal: map[uint64]Bal{acctA: {}}},
		{name: "timestamp_must_be_zero", events: T(with(tr(1, acctA, acctB, 1), func(t *ledger.Transfer) { t.Timestamp = 5 })),
			want: R(ledger.TransferTimestampMustBeZero)},
		{name: "reserved_flag", events: T(with(tr(1, acctA, acctB, 1), func(t *ledger.Transfer) { t.Flags = 1 << 8 })),
			want: R(ledger.TransferReservedFlag)},
		{name: "reserved_flag_high", events: T(with(tr(1, acctA, acctB, 1), func(t *ledger.Transfer) { t.Flags = 1 << 15 })),
			want: R(ledger.TransferReservedFlag)},
		{name: "id_must_not_be_zero", events: T(with(tr(1, acctA, acctB, 1), func(t *ledger.Transfer) { t.ID = ledger.ID{} })),
			want: R(ledger.TransferIDMustNotBeZero)},
		{name: "id_must_not_be_int_max", events: T(with(tr(1, acctA, acctB, 1), func(t *ledger.Transfer) { t.ID = ledger.IDMax })),
			want: R(ledger.TransferIDMustNotBeIntMax)},
		{name: "exists", setup: T(tr(1, acctA, acctB, 10)), events: T(tr(1, acctA, acctB, 10)),
			want: R(ledger.TransferExists), bal: map[uint64]Bal{acctA: {0, 10, 0, 0}}},
		{name: "exists_with_different_flags", setup: T(tr(1, acctA, acctB, 10)), events: T(pending(tr(1, acctA, acctB, 10))),
			want: R(ledger.TransferExistsWithDifferentFlags)},
		{name: "exists_with_different_debit_account_id", setup: T(tr(1, acctA, acctB, 10)), events: T(tr(1, acctC, acctB, 10)),
			want: R(ledger.TransferExistsWithDifferentDebitAccountID)},
		{name: "exists_with_different_credit_account_id", setup: T(tr(1, acctA, acctB, 10)), events: T(tr(1, acctA, acctC, 10)),
			want: R(ledger.TransferExistsWithDifferentCreditAccountID)},
		{name: "exists_with_different_amount", setup: T(tr(1, acctA, acctB, 10)), events: T(tr(1, acctA, acctB, 11)),
			want: R(ledger.TransferExistsWithDifferentAmount), bal: map[uint64]Bal{acctA: {0, 10, 0, 0}}},
		{name: "exists_with_different_pending_id", setup: T(tr(1, acctA, acctB, 10)),
			events: T(with(tr(1, acctA, acctB, 10), func(t *ledger.Transfer) { t.PendingID = id(5) })),
			want:   R(ledger.TransferExistsWithDifferentPendingID)},
		{name: "exists_with_different_user_data_128", setup: T(tr(1, acctA, acctB, 10)),
			events: T(with(tr(1, acctA, acctB, 10), func(t *ledger.Transfer) { t.UserData128 = id(5) })),
			want:   R(ledger.TransferExistsWithDifferentUserData128)},
		{name: "exists_with_different_user_data_64", setup: T(tr(1, acctA, acctB, 10)),
			events: T(with(tr(1, acctA, acctB, 10), func(t *ledger.Transfer) { t.UserData64 = 5 })),
			want:   R(ledger.TransferExistsWithDifferentUserData64)},
		{name: "exists_with_different_user_data_32", setup: T(tr(1, acctA, acctB, 10)),
			events: T(with(tr(1, acctA, acctB, 10), func(t *ledger.Transfer) { t.UserData32 = 5 })),
			want:   R(ledger.TransferExistsWithDifferentUserData32)},
		{name: "exists_with_different_timeout", setup: T(pending(tr(1, acctA, acctB, 10))),
			events: T(with(pending(tr(1, acctA, acctB, 10)), func(t *ledger.Transfer) { t.Timeout = 5 })),
			want:   R(ledger.TransferExistsWithDifferentTimeout)},
		{name: "exists_with_different_ledger", setup: T(tr(1, acctA, acctB, 10)),
			events: T(with(tr(1, acctA, acctB, 10), func(t *ledger.Transfer) { t.Ledger = usd })),
			want:   R(ledger.TransferExistsWithDifferentLedger)},
		{name: "exists_with_different_code", setup: T(tr(1, acctA, acctB, 10)),
			events: T(with(tr(1, acctA, acctB, 10), func(t *ledger.Transfer) { t.Code = 9 })),
			want:   R(ledger.TransferExistsWithDifferentCode)},
		{name: "exists_post_with_zero_optional_fields", setup: T(p100, post(101, 100, 4)),
			events: T(post(101, 100, 4)), want: R(ledger.TransferExists),
			bal: map[uint64]Bal{acctA: {0, 4, 0, 0}, acctB: {0, 0, 0, 4}}},
		// A void's retry with the amount zero (the pending amount) or the
		// pending amount itself is the void stored.
		{name: "exists_void_with_zero_amount", setup: T(p100, void(101, 100)),
			events: T(void(101, 100), with(void(101, 100), func(t *ledger.Transfer) { t.Amount = 10 }),
				with(void(101, 100), func(t *ledger.Transfer) { t.Amount = 9 })),
			want: R(ledger.TransferExists, ledger.TransferExists, ledger.TransferExistsWithDifferentAmount),
			bal:  map[uint64]Bal{acctA: {}, acctB: {}}},
		// A post stored with its pending transfer's user data: a retry
		// that leaves it zero or names it is the post stored.
		{name: "exists_post_with_user_data_of_its_pending", setup: T(with(p100, func(t *ledger.Transfer) { t.UserData128 = id(7) }), post(101, 100, 4)),
			events: T(post(101, 100, 4), with(post(101, 100, 4), func(t *ledger.Transfer) { t.UserData128 = id(7) }),
				with(post(101, 100, 4), func(t *ledger.Transfer) { t.UserData128 = id(8) })),
			want: R(ledger.TransferExists, ledger.TransferExists, ledger.TransferExistsWithDifferentUserData128)},
		// A post stored with user data of its own: a retry that leaves it
		// zero asks for the pending transfer's, which differs.
		{name: "exists_post_with_user_data_of_its_own", setup: T(p100, with(post(101, 100, 4), func(t *ledger.Transfer) { t.UserData128 = id(8) })),
			events: T(post(101, 100, 4), with(post(101, 100, 4), func(t *ledger.Transfer) { t.UserData128 = id(8) })),
			want:   R(ledger.TransferExistsWithDifferentUserData128, ledger.TransferExists)},
		{name: "exists_post_with_user_data_64_of_its_own", setup: T(p100, with(post(101, 100, 4), func(t *ledger.Transfer) { t.UserData64 = 8 })),
			events: T(post(101, 100, 4), with(post(101, 100, 4), func(t *ledger.Transfer) { t.UserData64 = 8 })),
			want:   R(ledger.TransferExistsWithDifferentUserData64, ledger.TransferExists)},
		// A retry that names user data other than the post's own differs.
		{name: "exists_post_with_other_user_data", setup: T(p100, with(post(101, 100, 4), func(t *ledger.Transfer) { t.UserData64, t.UserData32 = 8, 8 })),
			events: T(with(post(101, 100, 4), func(t *ledger.Transfer) { t.UserData64, t.UserData32 = 9, 8 }),
				with(post(101, 100, 4), func(t *ledger.Transfer) { t.UserData64, t.UserData32 = 8, 9 })),
			want: R(ledger.TransferExistsWithDifferentUserData64, ledger.TransferExistsWithDifferentUserData32)},
		{name: "exists_post_with_user_data_32_of_its_own", setup: T(p100, with(post(101, 100, 4), func(t *ledger.Transfer) { t.UserData32 = 8 })),
			events: T(post(101, 100, 4), with(post(101, 100, 4), func(t *ledger.Transfer) { t.UserData32 = 8 })),
			want:   R(ledger.TransferExistsWithDifferentUserData32, ledger.TransferExists)},
		// A post's retry may name its accounts, ledger and code, which must
		// be those of the pending transfer.
		{name: "exists_post_with_different_credit_account_id", setup: T(p100, post(101, 100, 4)),
			events: T(with(post(101, 100, 4), func(t *ledger.Transfer) { t.CreditAccountID = id(acctC) }),
				with(post(101, 100, 4), func(t *ledger.Transfer) { t.CreditAccountID = id(acctB) })),
			want: R(ledger.TransferExistsWithDifferentCreditAccountID, ledger.TransferExists)},
		{name: "exists_post_with_different_ledger_and_code", setup: T(p100, post(101, 100, 4)),
			events: T(with(post(101, 100, 4), func(t *ledger.Transfer) { t.Ledger = usd }),
				with(post(101, 100, 4), func(t *ledger.Transfer) { t.Code = 2 }),
				with(post(101, 100, 4), func(t *ledger.Transfer) { t.Ledger, t.Code = eur, 1 })),
			want: R(ledger.TransferExistsWithDifferentLedger, ledger.TransferExistsWithDifferentCode, ledger.TransferExists)},
		// A retry that posts the full pending amount (AmountMax) is not a
		// partial post stored under its ID, nor the other way round.
		{name: "exists_post_full_amount_of_a_partial_post", setup: T(p100, post(101, 100, 4)),
			events: T(post(101, 100, ledger.AmountMax), post(101, 100, 10), post(101, 100, 4)),
			want:   R(ledger.TransferExistsWithDifferentAmount, ledger.TransferExistsWithDifferentAmount, ledger.TransferExists),
			bal:    map[uint64]Bal{acctA: {0, 4, 0, 0}, acctB: {0, 0, 0, 4}}},
		{name: "exists_post_partial_amount_of_a_full_post", setup: T(p100, post(101, 100, ledger.AmountMax)),
			events: T(post(101, 100, ledger.AmountMax), post(101, 100, 10), post(101, 100, 4)),
			want:   R(ledger.TransferExists, ledger.TransferExists, ledger.TransferExistsWithDifferentAmount),
			bal:    map[uint64]Bal{acctA: {0, 10, 0, 0}, acctB: {0, 0, 0, 10}}},
		{name: "exists_post_with_different_debit_account_id", setup: T(p100, post(101, 100, 4)),
			events: T(with(post(101, 100, 4), func(t *ledger.Transfer) { t.DebitAccountID = id(acctC) }),
				with(post(101, 100, 4), func(t *ledger.Transfer) { t.DebitAccountID = id(acctA) })),
			want: R(ledger.TransferExistsWithDifferentDebitAccountID, ledger.TransferExists)},
		{name: "id_already_failed_same_batch", events: T(tr(1, acctDebLim, acctB, 10), tr(1, acctA, acctB, 10)),
			want: R(ledger.TransferExceedsCredits, ledger.TransferIDAlreadyFailed), bal: map[uint64]Bal{acctA: {}}},
		{name: "flags_are_mutually_exclusive_pending_post", setup: T(p100),
			events: T(with(post(1, 100, 1), func(t *ledger.Transfer) { t.Flags |= ledger.TransferPending })),
			want:   R(ledger.TransferFlagsAreMutuallyExclusive)},
		{name: "flags_are_mutually_exclusive_post_void", setup: T(p100),
			events: T(with(post(1, 100, 1), func(t *ledger.Transfer) { t.Flags |= ledger.TransferVoidPendingTransfer })),
			want:   R(ledger.TransferFlagsAreMutuallyExclusive)},
		{name: "flags_are_mutually_exclusive_post_balancing", setup: T(p100),
			events: T(with(post(1, 100, 1), func(t *ledger.Transfer) { t.Flags |= ledger.TransferBalancingDebit })),
			want:   R(ledger.TransferFlagsAreMutuallyExclusive)},
		{name: "flags_are_mutually_exclusive_void_balancing_credit", setup: T(p100),
			events: T(with(void(1, 100), func(t *ledger.Transfer) { t.Flags |= ledger.TransferBalancingCredit })),
			want:   R(ledger.TransferFlagsAreMutuallyExclusive), bal: map[uint64]Bal{acctA: {10, 0, 0, 0}, acctB: {0, 0, 10, 0}}},
		{name: "flags_are_mutually_exclusive_post_closing", setup: T(p100),
			events: T(with(post(1, 100, 1), func(t *ledger.Transfer) { t.Flags |= ledger.TransferClosingDebit }),
				with(void(2, 100), func(t *ledger.Transfer) { t.Flags |= ledger.TransferClosingCredit })),
			want: R(ledger.TransferFlagsAreMutuallyExclusive, ledger.TransferFlagsAreMutuallyExclusive)},
		{name: "debit_account_id_must_not_be_zero", events: T(tr(1, 0, acctB, 1)), want: R(ledger.TransferDebitAccountIDMustNotBeZero)},
		{name: "debit_account_id_must_not_be_int_max", events: T(with(tr(1, 0, acctB, 1), func(t *ledger.Transfer) { t.DebitAccountID = ledger.IDMax })),
			want: R(ledger.TransferDebitAccountIDMustNotBeIntMax)},
		{name: "credit_account_id_must_not_be_zero", events: T(tr(1, acctA, 0, 1)), want: R(ledger.TransferCreditAccountIDMustNotBeZero)},
		{name: "credit_account_id_must_not_be_int_max", events: T(with(tr(1, acctA, 0, 1), func(t *ledger.Transfer) { t.CreditAccountID = ledger.IDMax })),
			want: R(ledger.TransferCreditAccountIDMustNotBeIntMax)},
		{name: "accounts_must_be_different", events: T(tr(1, acctA, acctA, 1)), want: R(ledger.TransferAccountsMustBeDifferent)},
		{name: "pending_id_must_be_zero", events: T(with(tr(1, acctA, acctB, 1), func(t *ledger.Transfer) { t.PendingID = id(5) })),
			want: R(ledger.TransferPendingIDMustBeZero)},
		{name: "pending_id_must_not_be_zero", events: T(post(1, 0, 1)), want: R(ledger.TransferPendingIDMustNotBeZero)},
		{name: "pending_id_must_not_be_int_max", events: T(with(post(1, 0, 1), func(t *ledger.Transfer) { t.PendingID = ledger.IDMax })),
			want: R(ledger.TransferPendingIDMustNotBeIntMax)},
		{name: "pending_id_must_be_different", events: T(post(1, 1, 1)), want: R(ledger.TransferPendingIDMustBeDifferent)},
		{name: "timeout_reserved_for_pending_transfer", events: T(with(tr(1, acctA, acctB, 1), func(t *ledger.Transfer) { t.Timeout = 1 })),
			want: R(ledger.TransferTimeoutReservedForPendingTransfer)},
		{name: "timeout_reserved_for_pending_transfer_post", setup: T(p100),
			events: T(with(post(1, 100, 1), func(t *ledger.Transfer) { t.Timeout = 1 })),
			want:   R(ledger.TransferTimeoutReservedForPendingTransfer)},
		{name: "closing_transfer_must_be_pending", events: T(with(tr(1, acctA, acctB, 1), func(t *ledger.Transfer) { t.Flags = ledger.TransferClosingDebit })),
			want: R(ledger.TransferClosingTransferMustBePending)},
		{name: "closing_credit_transfer_must_be_pending", events: T(with(tr(1, acctA, acctB, 1), func(t *ledger.Transfer) { t.Flags = ledger.TransferClosingCredit })),
			want: R(ledger.TransferClosingTransferMustBePending), bal: map[uint64]Bal{acctA: {}, acctB: {}}},
		{name: "amount_must_not_exceed_limit", events: T(tr(1, acctA, acctB, lim+1)), want: R(ledger.TransferAmountMustNotExceedLimit)},
		{name: "amount_max_only_as_sentinel", events: T(tr(1, acctA, acctB, ledger.AmountMax)), want: R(ledger.TransferAmountMustNotExceedLimit)},
		// A balancing transfer may name AmountMax, no other amount above
		// the limit.
		{name: "amount_must_not_exceed_limit_balancing", events: T(
			with(tr(1, acctA, acctB, lim+1), func(t *ledger.Transfer) { t.Flags = ledger.TransferBalancingDebit }),
			with(tr(2, acctA, acctB, ledger.AmountMax-1), func(t *ledger.Transfer) { t.Flags = ledger.TransferBalancingCredit })),
			want: R(ledger.TransferAmountMustNotExceedLimit, ledger.TransferAmountMustNotExceedLimit), bal: map[uint64]Bal{acctA: {}, acctB: {}}},
		// A post or a void may name the largest amount.
		{name: "post_and_void_amount_limit", setup: T(pending(tr(100, acctA, acctB, lim)), pending(tr(101, acctHist, acctC, lim))),
			events: T(post(1, 100, lim), with(void(2, 101), func(t *ledger.Transfer) { t.Amount = lim })),
			want:   R(ledger.TransferCreated, ledger.TransferCreated),
			bal:    map[uint64]Bal{acctA: {0, lim, 0, 0}, acctB: {0, 0, 0, lim}, acctHist: {}, acctC: {}}},
		{name: "amount_max_not_for_a_void", setup: T(p100), events: T(with(void(1, 100), func(t *ledger.Transfer) { t.Amount = ledger.AmountMax })),
			want: R(ledger.TransferAmountMustNotExceedLimit), bal: map[uint64]Bal{acctA: {10, 0, 0, 0}}},
		{name: "ledger_must_not_be_zero", events: T(with(tr(1, acctA, acctB, 1), func(t *ledger.Transfer) { t.Ledger = 0 })),
			want: R(ledger.TransferLedgerMustNotBeZero)},
		{name: "code_must_not_be_zero", events: T(with(tr(1, acctA, acctB, 1), func(t *ledger.Transfer) { t.Code = 0 })),
			want: R(ledger.TransferCodeMustNotBeZero)},
		{name: "debit_account_not_found", events: T(tr(1, 99, acctB, 1)), want: R(ledger.TransferDebitAccountNotFound)},
		{name: "credit_account_not_found", events: T(tr(1, acctA, 99, 1)), want: R(ledger.TransferCreditAccountNotFound)},
		{name: "accounts_must_have_the_same_ledger", events: T(tr(1, acctA, acctUSD, 1)), want: R(ledger.TransferAccountsMustHaveTheSameLedger)},
		{name: "transfer_must_have_the_same_ledger_as_accounts", events: T(with(tr(1, acctA, acctB, 1), func(t *ledger.Transfer) { t.Ledger = usd })),
			want: R(ledger.TransferTransferMustHaveTheSameLedgerAsAccounts)},
		{name: "pending_transfer_not_found", events: T(post(1, 555, 1)), want: R(ledger.TransferPendingTransferNotFound)},
		{name: "pending_transfer_not_pending", setup: T(tr(100, acctA, acctB, 10)), events: T(post(1, 100, 1)),
			want: R(ledger.TransferPendingTransferNotPending)},
		{name: "pending_transfer_has_different_debit_account_id", setup: T(p100),
			events: T(with(post(1, 100, 1), func(t *ledger.Transfer) { t.DebitAccountID = id(acctC) })),
			want:   R(ledger.TransferPendingTransferHasDifferentDebitAccountID)},
		{name: "pending_transfer_has_different_credit_account_id", setup: T(p100),
			events: T(with(post(1, 100, 1), func(t *ledger.Transfer) { t.CreditAccountID = id(acctC) })),
			want:   R(ledger.TransferPendingTransferHasDifferentCreditAccountID)},
		{name: "pending_transfer_has_different_ledger", setup: T(p100),
			events: T(with(post(1, 100, 1), func(t *ledger.Transfer) { t.Ledger = usd })),
			want:   R(ledger.TransferPendingTransferHasDifferentLedger)},
		{name: "pending_transfer_has_different_code", setup: T(p100),
			events: T(with(post(1, 100, 1), func(t *ledger.Transfer) { t.Code = 9 })),
			want:   R(ledger.TransferPendingTransferHasDifferentCode)},
		{name: "exceeds_pending_transfer_amount", setup: T(p100), events: T(post(1, 100, 11)),
			want: R(ledger.TransferExceedsPendingTransferAmount), bal: map[uint64]Bal{acctA: {10, 0, 0, 0}}},
		{name: "pending_transfer_has_different_amount", setup: T(p100),
			events: T(with(void(1, 100), func(t *ledger.Transfer) { t.Amount = 5 })),
			want:   R(ledger.TransferPendingTransferHasDifferentAmount)},
		{name: "pending_transfer_already_posted", setup: T(p100, post(101, 100, ledger.AmountMax)),
			events: T(post(1, 100, ledger.AmountMax), void(2, 100)),
			want:   R(ledger.TransferPendingTransferAlreadyPosted, ledger.TransferPendingTransferAlreadyPosted),
			bal:    map[uint64]Bal{acctA: {0, 10, 0, 0}, acctB: {0, 0, 0, 10}}},
		{name: "pending_transfer_already_voided", setup: T(p100, void(101, 100)),
			events: T(post(1, 100, ledger.AmountMax), void(2, 100)),
			want:   R(ledger.TransferPendingTransferAlreadyVoided, ledger.TransferPendingTransferAlreadyVoided),
			bal:    map[uint64]Bal{acctA: {}, acctB: {}}},
		{name: "pending_transfer_expired", setup: T(with(p100, func(t *ledger.Transfer) { t.Timeout = 1 })), advance: 2 * time.Second,
			events: T(post(1, 100, ledger.AmountMax), void(2, 100)),
			want:   R(ledger.TransferPendingTransferExpired, ledger.TransferPendingTransferExpired),
			bal:    map[uint64]Bal{acctA: {}, acctB: {}}},
		{name: "debit_account_already_closed", events: T(tr(1, acctClosed, acctB, 1)), want: R(ledger.TransferDebitAccountAlreadyClosed)},
		{name: "credit_account_already_closed", events: T(tr(1, acctA, acctClosed, 1)), want: R(ledger.TransferCreditAccountAlreadyClosed)},
		// A pending transfer whose credit account a closing transfer has
		// closed since can be voided, not posted.
		{name: "credit_account_already_closed_post", setup: T(p100,
			with(pending(tr(102, acctC, acctB, 0)), func(t *ledger.Transfer) { t.Flags |= ledger.TransferClosingCredit })),
			events: T(post(1, 100, ledger.AmountMax), void(2, 100)),
			want:   R(ledger.TransferCreditAccountAlreadyClosed, ledger.TransferCreated), bal: map[uint64]Bal{acctA: {}, acctB: {}}},
		{name: "overflows_debits_pending", setup: T(pending(tr(100, acctA, acctB, lim))), events: T(pending(tr(1, acctA, acctC, 1))),
			want: R(ledger.TransferOverflowsDebitsPending), bal: map[uint64]Bal{acctA: {lim, 0, 0, 0}}},
		{name: "overflows_credits_pending", setup: T(pending(tr(100, acctA, acctB, lim))), events: T(pending(tr(1, acctC, acctB, 1))),
			want: R(ledger.TransferOverflowsCreditsPending)},
		{name: "overflows_debits_posted", setup: T(tr(100, acctA, acctB, lim)), events: T(tr(1, acctA, acctC, 1)),
			want: R(ledger.TransferOverflowsDebitsPosted)},
		{name: "overflows_credits_posted", setup: T(tr(100, acctA, acctB, lim)), events: T(tr(1, acctC, acctB, 1)),
			want: R(ledger.TransferOverflowsCreditsPosted)},
		{name: "overflows_debits", setup: T(pending(tr(100, acctA, acctB, half)), tr(101, acctA, acctC, half-1)),
			events: T(tr(1, acctA, acctB, 1)), want: R(ledger.TransferOverflowsDebits),
			bal: map[uint64]Bal{acctA: {half, half - 1, 0, 0}}},
		{name: "overflows_credits", setup: T(pending(tr(100, acctA, acctB, half)), tr(101, acctC, acctB, half-1)),
			events: T(tr(1, acctA, acctB, 1)), want: R(ledger.TransferOverflowsCredits)},
		{name: "overflows_timeout", at: time.Unix(0, 5e18),
			events: T(with(pending(tr(1, acctA, acctB, 1)), func(t *ledger.Transfer) { t.Timeout = 1<<32 - 1 })),
			want:   R(ledger.TransferOverflowsTimeout)},
		// The first event expires at TimestampLimit itself; the second, one
		// nanosecond later, would expire past it.
		{name: "overflows_timeout_at_the_limit", at: time.Unix(0, int64(ledger.TimestampLimit-(1<<32-1)*1e9)),
			events: T(with(pending(tr(1, acctA, acctB, 1)), func(t *ledger.Transfer) { t.Timeout = 1<<32 - 1 }),
				with(pending(tr(2, acctA, acctB, 1)), func(t *ledger.Transfer) { t.Timeout = 1<<32 - 1 })),
			want: R(ledger.TransferCreated, ledger.TransferOverflowsTimeout), bal: map[uint64]Bal{acctA: {1, 0, 0, 0}}},
		{name: "exceeds_credits", events: T(tr(1, acctDebLim, acctB, 1)), want: R(ledger.TransferExceedsCredits)},
		{name: "exceeds_credits_pending_counts", setup: T(tr(100, acctA, acctDebLim, 10), pending(tr(101, acctDebLim, acctB, 6))),
			events: T(tr(1, acctDebLim, acctB, 5), tr(2, acctDebLim, acctB, 4)),
			want:   R(ledger.TransferExceedsCredits, ledger.TransferCreated), bal: map[uint64]Bal{acctDebLim: {6, 4, 0, 10}}},
		{name: "exceeds_debits", events: T(tr(1, acctA, acctCredLim, 1)), want: R(ledger.TransferExceedsDebits)},
		{name: "exceeds_debits_pending_counts", setup: T(tr(100, acctCredLim, acctA, 10), pending(tr(101, acctB, acctCredLim, 6))),
			events: T(tr(1, acctB, acctCredLim, 5), tr(2, acctB, acctCredLim, 4)),
			want:   R(ledger.TransferExceedsDebits, ledger.TransferCreated), bal: map[uint64]Bal{acctCredLim: {0, 10, 6, 4}}},
		// Balancing counts the pending amounts too: it moves what the
		// posted and pending debits (credits) leave.
		{name: "balancing_debit_pending_counts", setup: T(tr(100, acctA, acctDebLim, 10), pending(tr(101, acctDebLim, acctB, 6))),
			events: T(with(tr(1, acctDebLim, acctB, 100), func(t *ledger.Transfer) { t.Flags = ledger.TransferBalancingDebit })),
			want:   R(ledger.TransferCreated), bal: map[uint64]Bal{acctDebLim: {6, 4, 0, 10}, acctB: {0, 0, 6, 4}}},
		{name: "balancing_credit_pending_counts", setup: T(tr(100, acctCredLim, acctA, 10), pending(tr(101, acctB, acctCredLim, 6))),
			events: T(with(tr(1, acctB, acctCredLim, 100), func(t *ledger.Transfer) { t.Flags = ledger.TransferBalancingCredit })),
			want:   R(ledger.TransferCreated), bal: map[uint64]Bal{acctCredLim: {0, 10, 6, 4}, acctB: {6, 4, 0, 0}}},
		{name: "precedence_reserved_flag_before_id", events: T(with(tr(0, acctA, acctB, 1), func(t *ledger.Transfer) { t.Flags = 1 << 9 })),
			want: R(ledger.TransferReservedFlag)},
		{name: "precedence_timestamp_before_reserved_flag", events: T(with(tr(1, acctA, acctB, 1), func(t *ledger.Transfer) { t.Timestamp, t.Flags = 5, 1<<8 })),
			want: R(ledger.TransferTimestampMustBeZero)},
		{name: "precedence_exists_flags_before_pending_id", setup: T(tr(1, acctA, acctB, 10)),
			events: T(with(pending(tr(1, acctA, acctB, 10)), func(t *ledger.Transfer) { t.PendingID = id(5) })),
			want:   R(ledger.TransferExistsWithDifferentFlags)},
		{name: "precedence_pending_id_different_before_timeout", events: T(with(post(1, 1, 1), func(t *ledger.Transfer) { t.Timeout = 1 })),
			want: R(ledger.TransferPendingIDMustBeDifferent)},
		{name: "precedence_ledger_before_code", events: T(with(tr(1, acctA, acctB, 1), func(t *ledger.Transfer) { t.Ledger, t.Code = 0, 0 })),
			want: R(ledger.TransferLedgerMustNotBeZero)},
		{name: "precedence_debit_account_not_found_before_credit", events: T(tr(1, 99, 98, 1)), want: R(ledger.TransferDebitAccountNotFound)},
		{name: "precedence_accounts_same_ledger_before_transfer_ledger", events: T(with(tr(1, acctA, acctUSD, 1), func(t *ledger.Transfer) { t.Ledger = usd })),
			want: R(ledger.TransferAccountsMustHaveTheSameLedger)},
		{name: "precedence_debit_account_closed_before_credit",
			setup:  T(with(pending(tr(102, acctC, acctB, 0)), func(t *ledger.Transfer) { t.Flags |= ledger.TransferClosingCredit })),
			events: T(tr(1, acctClosed, acctB, 1)), want: R(ledger.TransferDebitAccountAlreadyClosed)},
		{name: "precedence_overflows_debits_posted_before_credits_posted", setup: T(tr(100, acctA, acctB, lim)),
			events: T(tr(1, acctA, acctB, 1)), want: R(ledger.TransferOverflowsDebitsPosted)},
		{name: "precedence_overflows_debits_before_credits", setup: T(pending(tr(100, acctA, acctB, half)), tr(101, acctA, acctB, half-1)),
			events: T(tr(1, acctA, acctB, 1)), want: R(ledger.TransferOverflowsDebits)},
		{name: "precedence_exists_before_account_checks", setup: T(tr(1, acctA, acctB, 10)), events: T(tr(1, acctA, acctB, 10), tr(1, 99, 98, 10)),
			want: R(ledger.TransferExists, ledger.TransferExistsWithDifferentDebitAccountID)},
		{name: "precedence_ledger_before_accounts", events: T(with(tr(1, 99, acctB, 1), func(t *ledger.Transfer) { t.Ledger = 0 })),
			want: R(ledger.TransferLedgerMustNotBeZero)},
		{name: "precedence_accounts_different_before_pending_id", events: T(with(tr(1, acctA, acctA, 1), func(t *ledger.Transfer) { t.PendingID = id(5) })),
			want: R(ledger.TransferAccountsMustBeDifferent)},
		{name: "precedence_exceeds_credits_before_debits", events: T(tr(1, acctDebLim, acctCredLim, 1)),
			want: R(ledger.TransferExceedsCredits)},
		{name: "precedence_user_data_64_before_32", setup: T(tr(1, acctA, acctB, 10)),
			events: T(with(tr(1, acctA, acctB, 10), func(t *ledger.Transfer) { t.UserData64, t.UserData32 = 5, 5 })),
			want:   R(ledger.TransferExistsWithDifferentUserData64)},
		{name: "precedence_exists_pending_id_before_timeout", setup: T(pending(tr(1, acctA, acctB, 10))),
			events: T(with(pending(tr(1, acctA, acctB, 10)), func(t *ledger.Transfer) { t.PendingID, t.Timeout = id(5), 5 })),
			want:   R(ledger.TransferExistsWithDifferentPendingID)},
		{name: "precedence_exists_ledger_before_code", setup: T(tr(1, acctA, acctB, 10)),
			events: T(with(tr(1, acctA, acctB, 10), func(t *ledger.Transfer) { t.Ledger, t.Code = usd, 9 })),
			want:   R(ledger.TransferExistsWithDifferentLedger)},
		{name: "precedence_pending_ledger_before_code", setup: T(p100),
			events: T(with(post(1, 100, 1), func(t *ledger.Transfer) { t.Ledger, t.Code = usd, 9 })),
			want:   R(ledger.TransferPendingTransferHasDifferentLedger)},
		{name: "precedence_overflows_debits_pending_before_credits_pending", setup: T(pending(tr(100, acctA, acctB, lim))),
			events: T(pending(tr(1, acctA, acctB, 1))), want: R(ledger.TransferOverflowsDebitsPending)},
	}
}

// testTransferResults runs transferCases: each CreateTransfers result in
// TigerBeetle's order of precedence, with the exact balances after the
// events; a failed event leaves no transfer behind (an ID already failed
// aside), Verify passes, and every result has a name.
func testTransferResults(t *testing.T, c Config) {
	sh := newShared(t, c)
	for _, tc := range transferCases() {
		t.Run(tc.name, func(t *testing.T) {
			e := sh.next(t)
			if !tc.at.IsZero() {
				e = newEnv(t, c) // the clock jumps: a store of its own
			}
			e.mustCreateAccounts(standardAccounts()...)
			if len(tc.setup) > 0 {
				e.mustTransfer(tc.setup...)
			}
			e.clock.Advance(tc.advance)
			if !tc.at.IsZero() {
				e.clock.Set(tc.at)
			}
			require.Equal(t, tc.want, e.transfers(tc.events...))
			e.requireBalances(tc.bal)
			// Every failed event left no transfer behind.
			for i, ev := range tc.events {
				if tc.want[i] == ledger.TransferCreated || tc.want[i] == ledger.TransferExists ||
					ev.ID == (ledger.ID{}) || ev.ID == ledger.IDMax || isSetup(tc.setup, ev.ID) {
					continue
				}
				if tc.want[i] != ledger.TransferIDAlreadyFailed {
					require.Empty(t, e.lookupTransfers(ev.ID), "event %d (%v) was stored", i, tc.want[i])
				}
			}
			e.verify()
		})
	}
	t.Run("names", func(t *testing.T) {
		for _, tc := range transferCases() {
			for _, r := range tc.want {
				require.NotContains(t, r.String(), "CreateTransferResult(")
			}
		}
	})
}

func isSetup(setup []ledger.Transfer, i ledger.ID) bool {
	for _, s := range setup {
		if s.ID == i {
			return true
		}
	}
	return false
}
