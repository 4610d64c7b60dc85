package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestConsentCreatesNoWalletItOpened: a platform new to the accounts of a
// purchase of an apple and a ticket, which opened the payer's ticket
// wallet itself (OpenAccount), looks up the other three accounts of the
// legs at the consent and creates none: one ledger update, the hold
// chain, and the purchase paid.
func TestConsentCreatesNoWalletItOpened(t *testing.T) {
	ctx := context.Background()
	lc := &countingLedger{Store: ledgermemory.New()}
	ls := &accountLookups{Store: lc}
	s := newShopOnLedger(t, memory.New(), ls, false, paytest.Options{})
	other := s.newProcess(t, payflow.PlatformOptions{})
	require.NoError(t, other.OpenAccount(ctx, s.shopper.ID, paytest.Ticket))
	r := paytest.Request(s.session, "EUR", 240, record.Item{SKU: "apple", Quantity: 2})
	r.Legs = []record.Leg{{Asset: paytest.Ticket, Amount: 1}}
	v, err := s.Create(r)
	require.NoError(t, err)
	consent := s.consent(t, v.ID)
	ls.take()
	lc.updates.Store(0)
	got, err := other.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, got.State)
	assert.Equal(t, lookup(
		payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID),
		payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID),
		payflow.AccountID(payflow.AccountMerchant, paytest.TicketCode, merchantID),
	), ls.take(), "the accounts it did not open")
	assert.Equal(t, int32(1), lc.updates.Load(), "the hold chain alone")
	assert.Equal(t, [2][2]payflow.Balance{{{Posted: funds - 240}, {Posted: 240}}, {{Posted: 1}, {Posted: 9}}}, s.allBalances(t))
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestConsentCreatesNoMerchantAssetAccount: a consent to a request whose
// merchant was never issued the asset of its leg (a registered asset, its
// account never opened) is refused by the ledger, which holds no
// merchant's account in that asset to debit (insufficient_funds,
// debit_account_not_found): the platform creates the payer's wallet in
// the asset but no account of the merchant's, the request stays pending
// and nothing moves.
func TestConsentCreatesNoMerchantAssetAccount(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	const voucher = "voucher"
	require.NoError(t, s.Platform.RegisterAsset(ctx, voucher, paytest.TicketCode+1))
	r := paytest.Request(s.session, "EUR", 240, record.Item{SKU: "apple", Quantity: 2})
	r.Legs = []record.Leg{{Asset: voucher, Amount: 1}}
	v, err := s.Create(r)
	require.NoError(t, err)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.ErrorIs(t, err, payflow.ErrFunds)
	assert.EqualError(t, err, "payflow: insufficient funds: ledger: debit_account_not_found")
	s.requireState(t, v.ID, payflow.StatePending)
	_, err = s.Platform.Balance(ctx, merchantID, voucher)
	assert.ErrorIs(t, err, payflow.ErrNotFound, "no merchant's account in the voucher")
	b, err := s.Platform.Balance(ctx, s.shopper.ID, voucher)
	require.NoError(t, err)
	assert.Equal(t, payflow.Balance{}, b, "the payer's voucher wallet, created empty")
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "nothing moved")
	require.NoError(t, s.Ledger.Verify(ctx))
}
