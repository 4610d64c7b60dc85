package ledger_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

var snake = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

func TestTransferResultNames(t *testing.T) {
	seen := map[string]bool{}
	for r := ledger.TransferCreated; ; r++ {
		name := r.String()
		if name == "CreateTransferResult("+itoa(int(r))+")" {
			assert.Equal(t, ledger.TransferExceedsDebits+1, r, "names cover every code")
			break
		}
		require.Regexp(t, snake, name)
		require.False(t, seen[name], "duplicate %s", name)
		seen[name] = true
		back, ok := ledger.ParseCreateTransferResult(name)
		require.True(t, ok)
		require.Equal(t, r, back)
	}
	// Spot checks of TigerBeetle's names and the stored numbering.
	assert.Equal(t, "created", ledger.TransferCreated.String())
	assert.Equal(t, "exists_with_different_amount", ledger.TransferExistsWithDifferentAmount.String())
	assert.Equal(t, "pending_transfer_expired", ledger.TransferPendingTransferExpired.String())
	assert.Equal(t, "overflows_timeout", ledger.TransferOverflowsTimeout.String())
	assert.Equal(t, "id_already_failed", ledger.TransferIDAlreadyFailed.String())
	assert.Equal(t, ledger.CreateTransferResult(0), ledger.TransferCreated)
	assert.Equal(t, ledger.CreateTransferResult(60), ledger.TransferExceedsDebits)
	_, ok := ledger.ParseCreateTransferResult("ok")
	assert.False(t, ok)
}

func TestAccountResultNames(t *testing.T) {
	seen := map[string]bool{}
	for r := ledger.AccountCreated; ; r++ {
		name := r.String()
		if name == "CreateAccountResult("+itoa(int(r))+")" {
			assert.Equal(t, ledger.AccountCodeMustNotBeZero+1, r)
			break
		}
		require.Regexp(t, snake, name)
		require.False(t, seen[name])
		seen[name] = true
		back, ok := ledger.ParseCreateAccountResult(name)
		require.True(t, ok)
		require.Equal(t, r, back)
	}
	assert.Equal(t, "exists_with_different_flags", ledger.AccountExistsWithDifferentFlags.String())
}

func TestTransient(t *testing.T) {
	want := map[ledger.CreateTransferResult]bool{
		ledger.TransferDebitAccountNotFound: true, ledger.TransferCreditAccountNotFound: true,
		ledger.TransferPendingTransferNotFound: true, ledger.TransferExceedsCredits: true,
		ledger.TransferExceedsDebits: true, ledger.TransferDebitAccountAlreadyClosed: true,
		ledger.TransferCreditAccountAlreadyClosed: true,
	}
	for r := ledger.TransferCreated; r <= ledger.TransferExceedsDebits; r++ {
		assert.Equal(t, want[r], r.Transient(), r.String())
	}
}

func TestPendingStatusString(t *testing.T) {
	assert.Equal(t, "pending", ledger.PendingActive.String())
	assert.Equal(t, "expired", ledger.PendingExpired.String())
	assert.Equal(t, "PendingStatus(9)", ledger.PendingStatus(9).String())
}

func itoa(v int) string {
	if v < 10 {
		return string(rune('0' + v))
	}
	return itoa(v/10) + string(rune('0'+v%10))
}

func FuzzParseCreateTransferResult(f *testing.F) {
	f.Add("exceeds_credits")
	f.Add("ok")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if r, ok := ledger.ParseCreateTransferResult(s); ok {
			require.Equal(t, s, r.String())
		}
		if r, ok := ledger.ParseCreateAccountResult(s); ok {
			require.Equal(t, s, r.String())
		}
	})
}

// TestExistingAccount: the result of creating an account that the ledger
// holds names the first field that differs, flags first, as
// CreateAccounts answers it.
func TestExistingAccount(t *testing.T) {
	a := ledger.Account{ID: ledger.IDFromUint64(1), UserData128: ledger.IDFromUint64(2), UserData64: 3, UserData32: 4, Ledger: 5, Code: 6,
		Flags: ledger.AccountDebitsMustNotExceedCredits}
	held := a
	held.CreditsPosted, held.Timestamp = 7, 8 // not compared
	assert.Equal(t, ledger.AccountExists, ledger.ExistingAccount(&a, &held))
	for _, c := range []struct {
		change func(*ledger.Account)
		want   ledger.CreateAccountResult
	}{
		{func(e *ledger.Account) { e.Flags |= ledger.AccountClosed; e.Code = 9 }, ledger.AccountExistsWithDifferentFlags},
		{func(e *ledger.Account) { e.Flags |= ledger.AccountClosed; e.UserData128 = ledger.IDFromUint64(9) }, ledger.AccountExistsWithDifferentFlags},
		{func(e *ledger.Account) { e.UserData128 = ledger.IDFromUint64(9); e.Ledger = 9 }, ledger.AccountExistsWithDifferentUserData128},
		{func(e *ledger.Account) { e.UserData64 = 9; e.Code = 9 }, ledger.AccountExistsWithDifferentUserData64},
		{func(e *ledger.Account) { e.UserData32 = 9; e.Ledger = 9 }, ledger.AccountExistsWithDifferentUserData32},
		{func(e *ledger.Account) { e.Ledger = 9; e.Code = 9 }, ledger.AccountExistsWithDifferentLedger},
		{func(e *ledger.Account) { e.Code = 9 }, ledger.AccountExistsWithDifferentCode},
	} {
		e := held
		c.change(&e)
		assert.Equal(t, c.want, ledger.ExistingAccount(&a, &e))
	}
}
