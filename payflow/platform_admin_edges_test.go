package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestEnrollCardStoresEnrolmentTime: a card enrolled, and enrolled again,
// is stored with the platform's time of each enrolment.
func TestEnrollCardStoresEnrolmentTime(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	carol := s.NewCard("Carol")
	c, err := s.Store.Card(ctx, carol.ID)
	require.NoError(t, err)
	assert.True(t, s.Clock.Now().Equal(c.EnrolledAt), "enrolled at %v, want %v", c.EnrolledAt, s.Clock.Now())

	s.Clock.Advance(time.Hour)
	_, err = s.Platform.EnrollCard(ctx, carol.Chain, carol.Secret, "Carol")
	require.NoError(t, err)
	c, err = s.Store.Card(ctx, carol.ID)
	require.NoError(t, err)
	assert.True(t, s.Clock.Now().Equal(c.EnrolledAt), "enrolled again at %v, want %v", c.EnrolledAt, s.Clock.Now())
}

// TestEnrollCardKeepsSellerRole: a seller card enrolled again (its name
// changed, its secret kept) stays a seller card in the EID resolver: a
// shopper card resolves its EID to its merchant at once, without the
// cards being loaded again.
func TestEnrollCardKeepsSellerRole(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	_, err := s.Platform.EnrollCard(ctx, s.seller.Chain, s.seller.Secret, "Till 1")
	require.NoError(t, err)
	who, err := s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
	require.NoError(t, err)
	assert.Equal(t, &payflow.ResolveResponse{DisplayName: "Corner Grocer", Role: uint8(record.RoleSeller), MerchantID: merchantID}, who)
}

// TestSellerCardRemovedHiddenFromShoppers: a seller card taken away from
// its merchant (enrolled again without it) is a shopper card to the EID
// resolver at once: a shopper card resolving its EID gets the answer of
// an EID never enrolled, without a read of the card, as for any shopper
// card; a seller card resolving it gets its name.
func TestSellerCardRemovedHiddenFromShoppers(t *testing.T) {
	ctx := context.Background()
	h := newHiddenCalls(t)
	_, unknownResolve := h.resolve(h.bob, h.unknown)
	require.ErrorIs(t, unknownResolve, payflow.ErrNotFound)
	till := h.s.NewCard("Till 2")
	till.Login(record.RoleShopper)
	require.NoError(t, h.s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: merchantID, Name: "Corner Grocer", Currency: "EUR", SellerCardIDs: []string{h.s.seller.ID}}))
	require.NoError(t, h.s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: merchantID, Name: "Corner Grocer", Currency: "EUR", SellerCardIDs: []string{till.ID}}))
	h.s.Clock.Advance(payflow.DefaultCacheTTL)

	reads := h.st.reads(h.s.seller.ID)
	_, err := h.resolve(h.bob, h.s.seller.EID())
	requireUnknownEID(t, err, unknownResolve, "the former seller card resolved by a shopper card")
	assert.Equal(t, reads, h.st.reads(h.s.seller.ID), "the former seller card read for a shopper card")
	who, err := h.resolve(till, h.s.seller.EID())
	require.NoError(t, err, "a seller card")
	assert.Equal(t, &payflow.ResolveResponse{DisplayName: h.s.seller.Name, Role: uint8(record.RoleShopper)}, who)
}

// TestFundIssueTransfers: a funding and an issue are each one transfer
// under the ID derived from theirs, which carries that ID as its user
// data, from the funding source or the asset's issuer to the wallet or
// the merchant's account, in the unit's ledger under the transfer's code.
func TestFundIssueTransfers(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	fid, iid := payflow.ID{0x61}, payflow.ID{0x62}
	require.NoError(t, s.Platform.Fund(ctx, fid, s.shopper.ID, "EUR", 100))
	require.NoError(t, s.Platform.Issue(ctx, iid, merchantID, paytest.Ticket, 3))
	made, err := s.Ledger.LookupTransfers(ctx, []ledger.ID{payflow.TransferID(fid, 0, 0, 5), payflow.TransferID(iid, 0, 0, 6)})
	require.NoError(t, err)
	require.Len(t, made, 2)
	type fields struct {
		debit, credit, user ledger.ID
		amount              uint64
		ledger              uint32
		code                uint16
	}
	of := func(tr ledger.Transfer) fields {
		return fields{tr.DebitAccountID, tr.CreditAccountID, tr.UserData128, tr.Amount, tr.Ledger, tr.Code}
	}
	assert.Equal(t, fields{
		payflow.AccountID(payflow.AccountFunding, eurLedger, ""), payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID),
		ledger.ID(fid), 100, eurLedger, payflow.TransferFunding,
	}, of(made[0]))
	assert.Equal(t, fields{
		payflow.AccountID(payflow.AccountIssuer, paytest.TicketCode, ""), payflow.AccountID(payflow.AccountMerchant, paytest.TicketCode, merchantID),
		ledger.ID(iid), 3, paytest.TicketCode, payflow.TransferIssue,
	}, of(made[1]))
}
