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
// uint32), the leg and the kind, in that order (PROTOCOL.md).
func TestTransferIDDerivation(t *testing.T) {
	id := payflow.ID{0x01, 0x02, 0x03}
	h := sha256.Sum256(append(append([]byte("CASIM-LEDGER"), id[:]...), 0x00, 0x00, 0x01, 0x02, 3, 5))
	assert.Equal(t, ledger.ID(h[:16]), payflow.TransferID(id, 0x0102, 3, 5))
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
