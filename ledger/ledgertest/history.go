package ledgertest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// testHistoryOfDeletedAccount deletes an account with a balance history
// (Config.DeleteAccount), as damage to a store's data would: Verify finds
// its rows, of an account that does not exist, as one problem of that
// account, the first row's, besides the transfers that name it and the
// ledger whose sums no longer balance.
func testHistoryOfDeletedAccount(t *testing.T, c Config) {
	if c.DeleteAccount == nil {
		t.Skip("the store cannot lose an account")
	}
	// Accounts 1 and 2, account 3 with AccountHistory, and transfers 10
	// from 1 to 3 and 11 from 2 to 3, each with account 3's row.
	e := newEnv(t, c)
	require.NoError(t, write(e.store, rows{
		accounts: []ledger.Account{
			{ID: id(1), Ledger: 1, Code: 1, Timestamp: 1},
			{ID: id(2), Ledger: 1, Code: 1, Timestamp: 2},
			{ID: id(3), Ledger: 1, Code: 1, Flags: ledger.AccountHistory, Timestamp: 3},
		},
		transfers: []ledger.Transfer{
			{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(3), Amount: 5, Ledger: 1, Code: 1, Timestamp: 4},
			{ID: id(11), DebitAccountID: id(2), CreditAccountID: id(3), Amount: 2, Ledger: 1, Code: 1, Timestamp: 5},
		},
		balances: []ledger.BalanceRow{
			{AccountBalance: ledger.AccountBalance{AccountID: id(3), CreditsPosted: 5, Timestamp: 4}, TransferID: id(10)},
			{AccountBalance: ledger.AccountBalance{AccountID: id(3), CreditsPosted: 7, Timestamp: 5}, TransferID: id(11)},
		},
		updAccounts: []ledger.Account{
			{ID: id(1), DebitsPosted: 5},
			{ID: id(2), DebitsPosted: 2},
			{ID: id(3), CreditsPosted: 7, Flags: ledger.AccountHistory},
		},
		last: 5,
	}))
	e.verify()
	c.DeleteAccount(t, e.store, id(3))
	var ve *ledger.VerifyError
	require.ErrorAs(t, e.l.Verify(e.ctx()), &ve)
	assert.Equal(t, []ledger.Problem{
		{TransferID: id(10), Detail: "refers to a missing account"},
		{TransferID: id(11), Detail: "refers to a missing account"},
		{AccountID: id(3), Detail: "balance history row at 4, but the account does not exist"},
		{Detail: "ledger 1: debits posted [0 7] differ from credits posted [0 0]"},
	}, ve.Problems)
}

// testHistoryOfReservedAccount writes straight to the store, as a writer
// other than the ledger would, accounts with the reserved IDs (the zero
// ID and IDMax, which name no account) and balance history rows of them:
// Verify finds each such account, and its rows as one problem of it, the
// first row's, whether the account is stored or, in a store that can
// lose one (Config.DeleteAccount), no longer is; GetAccountBalances
// selects none of those rows.
func testHistoryOfReservedAccount(t *testing.T, c Config) {
	// Accounts zero, 1, 2 and IDMax, zero and IDMax with AccountHistory,
	// and transfer 10 from 1 to 2, with a row of zero and two of IDMax.
	e := newEnv(t, c)
	row := func(account ledger.ID, ts uint64) ledger.BalanceRow {
		return ledger.BalanceRow{AccountBalance: ledger.AccountBalance{AccountID: account, Timestamp: ts}, TransferID: id(10)}
	}
	require.NoError(t, write(e.store, rows{
		accounts: []ledger.Account{
			{ID: ledger.ID{}, Ledger: 1, Code: 1, Flags: ledger.AccountHistory, Timestamp: 1},
			{ID: id(1), Ledger: 1, Code: 1, Timestamp: 2},
			{ID: id(2), Ledger: 1, Code: 1, Timestamp: 3},
			{ID: ledger.IDMax, Ledger: 1, Code: 1, Flags: ledger.AccountHistory, Timestamp: 4},
		},
		transfers: []ledger.Transfer{
			{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 5, Ledger: 1, Code: 1, Timestamp: 5},
		},
		balances: []ledger.BalanceRow{row(ledger.ID{}, 5), row(ledger.IDMax, 5), row(ledger.IDMax, 6)},
		updAccounts: []ledger.Account{
			{ID: id(1), DebitsPosted: 5},
			{ID: id(2), CreditsPosted: 5},
		},
		last: 6,
	}))
	// A filter naming a reserved ID selects nothing, as TigerBeetle's
	// invalid filters, though the store holds rows of that account.
	for _, account := range []ledger.ID{{}, ledger.IDMax} {
		got, err := e.l.GetAccountBalances(e.ctx(), ledger.AccountFilter{AccountID: account, Limit: 10,
			Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits})
		require.NoError(t, err)
		assert.Equal(t, []ledger.AccountBalance{}, got, "account %v", account)
	}
	rowProblems := []ledger.Problem{
		{Detail: fmt.Sprintf("balance history row at 5, but the account has reserved ID %v", ledger.ID{})},
		{AccountID: ledger.IDMax, Detail: fmt.Sprintf("balance history row at 5, but the account has reserved ID %v", ledger.IDMax)},
	}
	var ve *ledger.VerifyError
	require.ErrorAs(t, e.l.Verify(e.ctx()), &ve)
	assert.Equal(t, append([]ledger.Problem{
		{Detail: fmt.Sprintf("reserved account ID %v", ledger.ID{})},
		{AccountID: ledger.IDMax, Detail: fmt.Sprintf("reserved account ID %v", ledger.IDMax)},
	}, rowProblems...), ve.Problems)
	if c.DeleteAccount == nil {
		return
	}
	c.DeleteAccount(t, e.store, ledger.ID{})
	c.DeleteAccount(t, e.store, ledger.IDMax)
	require.ErrorAs(t, e.l.Verify(e.ctx()), &ve)
	assert.Equal(t, rowProblems, ve.Problems)
}

// testBalanceRows checks ReadTx.BalanceRows on rows written straight to
// the store, in no order: the rows of every account in ascending
// (account, timestamp) order, each with its transfer, from the row of an
// account at a timestamp, or the first after it, on, at most limit of
// them.
func testBalanceRows(t *testing.T, c Config) {
	// Accounts 1 and 3 with AccountHistory, 2 without, and transfers 10
	// to 13 (3 to 1, 2 to 3, 2 to 1, 2 to 3), with the rows of accounts 1
	// and 3, the last ones first.
	row := func(account, transfer, ts, posted uint64) ledger.BalanceRow {
		return ledger.BalanceRow{AccountBalance: ledger.AccountBalance{AccountID: id(account), CreditsPosted: posted,
			Timestamp: ts}, TransferID: id(transfer)}
	}
	s, _ := storeWith(t, c, rows{
		accounts: []ledger.Account{
			{ID: id(1), Ledger: 1, Code: 1, Flags: ledger.AccountHistory, Timestamp: 1},
			{ID: id(2), Ledger: 1, Code: 1, Timestamp: 2},
			{ID: id(3), Ledger: 1, Code: 1, Flags: ledger.AccountHistory, Timestamp: 3},
		},
		transfers: []ledger.Transfer{
			{ID: id(10), DebitAccountID: id(3), CreditAccountID: id(1), Amount: 1, Ledger: 1, Code: 1, Timestamp: 4},
			{ID: id(11), DebitAccountID: id(2), CreditAccountID: id(3), Amount: 1, Ledger: 1, Code: 1, Timestamp: 5},
			{ID: id(12), DebitAccountID: id(2), CreditAccountID: id(1), Amount: 1, Ledger: 1, Code: 1, Timestamp: 6},
			{ID: id(13), DebitAccountID: id(2), CreditAccountID: id(3), Amount: 1, Ledger: 1, Code: 1, Timestamp: 7},
		},
		balances: []ledger.BalanceRow{row(3, 13, 7, 2), row(3, 11, 5, 1), row(1, 12, 6, 2), row(1, 10, 4, 1)},
		last:     7,
	})
	all := []ledger.BalanceRow{row(1, 10, 4, 1), row(1, 12, 6, 2), row(3, 11, 5, 1), row(3, 13, 7, 2)}
	tests := []struct {
		name    string
		account uint64
		from    uint64
		limit   int
		want    []ledger.BalanceRow
	}{
		{"all", 0, 0, ledger.BatchMax, all},
		{"first_page", 0, 0, 3, all[:3]},
		{"next_page", 3, 6, ledger.BatchMax, all[3:]},
		{"from_a_row", 1, 6, 2, all[1:3]},
		{"from_between_rows", 1, 5, ledger.BatchMax, all[1:]},
		{"past_the_account's_rows", 1, 7, ledger.BatchMax, all[2:]},
		{"from_an_account_without_rows", 2, 0, ledger.BatchMax, all[2:]},
		{"past_the_greatest_stored_timestamp", 1, ledger.TimestampLimit + 1, ledger.BatchMax, all[2:]},
		{"past_every_timestamp", 1, math.MaxUint64, 1, all[2:3]},
		{"past_the_last_row", 3, 8, ledger.BatchMax, nil},
		{"past_the_last_account", 4, 0, ledger.BatchMax, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
				got, err := tx.BalanceRows(id(tt.account), tt.from, tt.limit)
				require.NoError(t, err)
				if len(tt.want) == 0 {
					assert.Empty(t, got)
					return nil
				}
				assert.Equal(t, tt.want, got)
				return nil
			}))
		})
	}
	// A row of account 2, which had none, is read in its place.
	require.NoError(t, write(s, rows{balances: []ledger.BalanceRow{row(2, 12, 6, 0)}, last: 8}))
	require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
		got, err := tx.BalanceRows(ledger.ID{}, 0, ledger.BatchMax)
		require.NoError(t, err)
		assert.Equal(t, slices.Insert(slices.Clone(all), 2, row(2, 12, 6, 0)), got)
		return nil
	}))
}

// testHistoryOfOtherTransfer writes straight to the store a balance
// history row of account 1 that names transfer 10 of accounts 2 and 3,
// as damage would (the ledger writes a row for a transfer of its
// account), beside a row of transfer 11, which credits account 1:
// AccountBalances reads that row as stored when the filter has both
// sides, which are then no condition, and by the user data and code of
// its transfer; a filter of one side reads only the rows of the
// transfers on that side of the account.
func testHistoryOfOtherTransfer(t *testing.T, c Config) {
	s, _ := storeWith(t, c, rows{
		accounts: []ledger.Account{
			{ID: id(1), Ledger: 1, Code: 1, Flags: ledger.AccountHistory, Timestamp: 1},
			{ID: id(2), Ledger: 1, Code: 1, Timestamp: 2},
			{ID: id(3), Ledger: 1, Code: 1, Timestamp: 3},
		},
		transfers: []ledger.Transfer{
			{ID: id(10), DebitAccountID: id(2), CreditAccountID: id(3), Amount: 1, Ledger: 1, Code: 5, UserData64: 9, Timestamp: 4},
			{ID: id(11), DebitAccountID: id(2), CreditAccountID: id(1), Amount: 2, Ledger: 1, Code: 6, Timestamp: 5},
		},
		balances: []ledger.BalanceRow{
			{AccountBalance: ledger.AccountBalance{AccountID: id(1), CreditsPosted: 1, Timestamp: 4}, TransferID: id(10)},
			{AccountBalance: ledger.AccountBalance{AccountID: id(1), CreditsPosted: 2, Timestamp: 5}, TransferID: id(11)},
		},
		last: 5,
	})
	other := ledger.AccountBalance{AccountID: id(1), CreditsPosted: 1, Timestamp: 4}
	own := ledger.AccountBalance{AccountID: id(1), CreditsPosted: 2, Timestamp: 5}
	both := ledger.AccountFilterDebits | ledger.AccountFilterCredits
	tests := []struct {
		name string
		f    ledger.AccountFilter
		want []ledger.AccountBalance
	}{
		{"both_sides", ledger.AccountFilter{Flags: both}, []ledger.AccountBalance{other, own}},
		{"both_sides_reversed", ledger.AccountFilter{Flags: both | ledger.AccountFilterReversed}, []ledger.AccountBalance{own, other}},
		{"both_sides_its_code", ledger.AccountFilter{Flags: both, Code: 5}, []ledger.AccountBalance{other}},
		{"both_sides_its_user_data", ledger.AccountFilter{Flags: both, UserData64: 9}, []ledger.AccountBalance{other}},
		{"both_sides_other_code", ledger.AccountFilter{Flags: both, Code: 6}, []ledger.AccountBalance{own}},
		{"debits", ledger.AccountFilter{Flags: ledger.AccountFilterDebits}, nil},
		{"credits", ledger.AccountFilter{Flags: ledger.AccountFilterCredits}, []ledger.AccountBalance{own}},
		{"credits_its_code", ledger.AccountFilter{Flags: ledger.AccountFilterCredits, Code: 5}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.AccountID, f.TimestampMin, f.TimestampMax, f.Limit = id(1), 1, ledger.TimestampLimit, ledger.BatchMax
			require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
				got, err := tx.AccountBalances(f)
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				return nil
			}))
		})
	}
}

// testVerifyHistoryOfOtherTransfer writes straight to the store a
// balance history row of account 1 that names transfer 11 of accounts 2
// and 3, at the timestamp of transfer 10, which credits account 1, and
// with the balances that transfer 10 gives: Verify finds that the row
// names another transfer than the one whose event it follows.
func testVerifyHistoryOfOtherTransfer(t *testing.T, c Config) {
	e := newEnv(t, c)
	require.NoError(t, write(e.store, rows{
		accounts: []ledger.Account{
			{ID: id(1), Ledger: 1, Code: 1, Flags: ledger.AccountHistory, Timestamp: 1},
			{ID: id(2), Ledger: 1, Code: 1, Timestamp: 2},
			{ID: id(3), Ledger: 1, Code: 1, Timestamp: 3},
		},
		transfers: []ledger.Transfer{
			{ID: id(10), DebitAccountID: id(2), CreditAccountID: id(1), Amount: 1, Ledger: 1, Code: 1, Timestamp: 4},
			{ID: id(11), DebitAccountID: id(2), CreditAccountID: id(3), Amount: 2, Ledger: 1, Code: 1, Timestamp: 5},
		},
		balances: []ledger.BalanceRow{
			{AccountBalance: ledger.AccountBalance{AccountID: id(1), CreditsPosted: 1, Timestamp: 4}, TransferID: id(11)},
		},
		updAccounts: []ledger.Account{
			{ID: id(1), CreditsPosted: 1, Flags: ledger.AccountHistory},
			{ID: id(2), DebitsPosted: 3},
			{ID: id(3), CreditsPosted: 2},
		},
		last: 5,
	}))
	var ve *ledger.VerifyError
	require.ErrorAs(t, e.l.Verify(e.ctx()), &ve)
	assert.Equal(t, []ledger.Problem{{AccountID: id(1),
		Detail: fmt.Sprintf("balance history row at 4 (transfer %v) names transfer %v", id(10), id(11))}}, ve.Problems)
}
