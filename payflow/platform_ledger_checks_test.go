package payflow_test

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestAccountLookupFails: an account whose creation the ledger answers
// exists_with_different_flags is looked up to tell a closed account from
// one taken; that lookup failing is ErrUnavailable wrapping the store's
// error, not a verdict on the account. Once the ledger reads again, the
// account is taken (ErrConflict).
func TestAccountLookupFails(t *testing.T) {
	ctx := context.Background()
	ls := &downLedger{Store: ledgermemory.New()}
	s := newShopOnLedger(t, memory.New(), ls, false, paytest.Options{})
	bob := s.NewCard("Bob")
	id := payflow.AccountID(payflow.AccountWallet, eurLedger, bob.ID)
	c := accountCase{"flags", func(a *ledger.Account) { a.Flags = 0 }, ledger.AccountExistsWithDifferentFlags}
	c.take(t, s, ledger.Account{ID: id, Ledger: eurLedger, Code: payflow.AccountWallet, Flags: ledger.AccountDebitsMustNotExceedCredits})

	ls.readsDown.Store(true)
	err := s.Platform.OpenAccount(ctx, bob.ID, "EUR")
	ls.readsDown.Store(false)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.ErrorIs(t, err, errLedgerDown)
	err = s.Platform.OpenAccount(ctx, bob.ID, "EUR")
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, takenMessage(id, payflow.AccountWallet, eurLedger, ledger.AccountExistsWithDifferentFlags))
}

// TestFundClosedWalletLookupFails: a funding of a closed wallet looks up
// whether the ledger made it before the wallet was closed; that lookup
// failing is ErrUnavailable wrapping the store's error, not the
// wallet's refusal, and moves nothing.
func TestFundClosedWalletLookupFails(t *testing.T) {
	ctx := context.Background()
	ls := &downLedger{Store: ledgermemory.New()}
	s := newShopOnLedger(t, memory.New(), ls, false, paytest.Options{})
	id := payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID)
	closing := closeAccount(t, s, id, eurLedger)
	ls.transfers.failAllWith(errLedgerDown)
	err := s.Platform.Fund(ctx, payflow.ID{7}, s.shopper.ID, "EUR", 100)
	ls.transfers.disarm()
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.ErrorIs(t, err, errLedgerDown)
	reopenAccount(t, s, closing)
	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{7}, s.shopper.ID, "EUR", 100), "the ID is not spent")
	assert.Equal(t, [2]payflow.Balance{{Posted: funds + 100}, {}}, s.balances(t))
}

// TestFundWalletTakenTransferMade: a funding into a wallet whose ID the
// ledger holds with other fields is ErrConflict naming the account even
// when the ledger holds the funding's transfer already (made by another
// client of the ledger under the platform's ID): only a wallet found
// closed lets a transfer made before through.
func TestFundWalletTakenTransferMade(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	bob := s.NewCard("Bob")
	id := payflow.AccountID(payflow.AccountWallet, eurLedger, bob.ID)
	c := accountCase{"flags", func(a *ledger.Account) { a.Flags = 0 }, ledger.AccountExistsWithDifferentFlags}
	c.take(t, s, ledger.Account{ID: id, Ledger: eurLedger, Code: payflow.AccountWallet, Flags: ledger.AccountDebitsMustNotExceedCredits})
	fid := payflow.ID{0x47}
	res, err := s.Ledger.CreateTransfers(ctx, []ledger.Transfer{{
		ID: payflow.TransferID(fid, 0, 0, 5), DebitAccountID: payflow.AccountID(payflow.AccountFunding, eurLedger, ""),
		CreditAccountID: id, Amount: 100, UserData128: ledger.ID(fid), Ledger: eurLedger, Code: payflow.TransferFunding,
	}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)

	err = s.Platform.Fund(ctx, fid, bob.ID, "EUR", 100)
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, takenMessage(id, payflow.AccountWallet, eurLedger, ledger.AccountExistsWithDifferentFlags))
}

// TestTransferIDDerivation: a transfer ID is the first 16 bytes of
// SHA-256 over "CASIM-LEDGER", the object's ID, the attempt (big-endian
// uint32), the leg and the kind, in that order (PROTOCOL.md §6.4); the
// vectors are written out, so that any change of the derivation fails.
func TestTransferIDDerivation(t *testing.T) {
	id := payflow.ID{0x01, 0x02, 0x03}
	h := sha256.Sum256(append(append([]byte("CASIM-LEDGER"), id[:]...), 0x00, 0x00, 0x01, 0x02, 3, 5))
	assert.Equal(t, ledger.ID(h[:16]), payflow.TransferID(id, 0x0102, 3, 5))

	seq := payflow.ID{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}
	for _, c := range []struct {
		id        payflow.ID
		attempt   uint32
		leg, kind byte
		want      string
	}{
		{seq, 0x01020304, 5, 6, "82eedf36a291350175a17ca5b5b504d9"},
		{seq, 1, 0, 1, "3031516a7a650f094a9c559702a93d53"},
		{payflow.ID{}, 0, 0, 0, "d044dd997285a67d6d1d8a97be390535"},
	} {
		assert.Equal(t, c.want, payflow.TransferID(c.id, c.attempt, c.leg, c.kind).String(), "%v %d %d %d", c.id, c.attempt, c.leg, c.kind)
	}
}

// TestAccountIDDerivation: an account ID is the first 16 bytes of
// SHA-256 over "CASIM-ACCOUNT", the account code (big-endian uint16),
// the ledger (big-endian uint32) and the owner, in that order
// (PROTOCOL.md §6.4), written out as vectors.
func TestAccountIDDerivation(t *testing.T) {
	for _, c := range []struct {
		code   uint16
		ledger uint32
		owner  string
		want   string
	}{
		{0x0102, 0x03040506, "shop", "195478fd33b0b76079eb9e9bf07bdec7"},
		{payflow.AccountWallet, eurLedger, "8901234567890123452", "fbf64e61621bf7a36916f53dc3d48aba"},
		{payflow.AccountFunding, eurLedger, "", "f24dd91a10ee053856edf0164aa14440"},
	} {
		assert.Equal(t, c.want, payflow.AccountID(c.code, c.ledger, c.owner).String(), "%d %d %q", c.code, c.ledger, c.owner)
	}
}

// TestRefundOverflowLedgerDown: a refund that the ledger refuses for
// overflowing the payer's wallet totals, whose next ledger call then fails
// (the spending of its IDs, or, its refusal's record lost, the probe of
// its limit mark), is ErrUnavailable wrapping the store's error; once the
// ledger answers again, the refund is over_limit, its transfer ID spent.
func TestRefundOverflowLedgerDown(t *testing.T) {
	for _, lost := range []bool{false, true} {
		t.Run(map[bool]string{false: "spending", true: "probe"}[lost], func(t *testing.T) {
			ctx := context.Background()
			st := refundFailLost(lost)
			ls := &downLedger{Store: ledgermemory.New()}
			s := newShopOnLedger(t, st, ls, false, paytest.Options{})
			_, id, msg := overflowingRefund(t, s)
			if lost {
				_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
				require.ErrorIs(t, err, errLost)
			}
			ls.updates.arm(plan[struct{}]{skip: 1, fails: -1, err: errLedgerDown}) // the transactions after the next one fail
			_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			ls.updates.disarm()
			require.ErrorIs(t, err, payflow.ErrUnavailable)
			assert.ErrorIs(t, err, errLedgerDown)
			_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.ErrorIs(t, err, payflow.ErrLimit)
			requireRefund(t, st, id, payflow.RefundFailed, 0)
			requireSpent(t, s, payflow.TransferID(id, 0, 0, 4))
		})
	}
}
