package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
)

// TestSellerMakesNoRequestInAWaitingSession pins PROTOCOL.md §6.1: "The
// phone that selected first makes and takes no payment request in the
// `waiting` session while it waits." A seller phone that selected the
// shopper first, the shopper not yet confirming, fails Request with
// ErrNotPaired, the card signing nothing and the platform recording
// nothing; once the shopper selects it and the wait ends paired, the
// session's first request is made at index 0.
func TestSellerMakesNoRequestInAWaitingSession(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	sellerEID, c := w.selectsFirst(t, adv.Seller)
	before, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)

	_, err = w.seller.Request(ctx, basket)
	require.ErrorIs(t, err, payflow.ErrNotPaired)
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, before, after, "the card signed nothing")
	_, err = w.f.Platform.Store().Payment(ctx, payflow.SessionRequestID(c.SessionID, 0))
	require.ErrorIs(t, err, payflow.ErrNotFound, "nothing recorded")

	_, err = w.shopper.Select(ctx, sellerEID)
	require.NoError(t, err)
	c, err = w.seller.WaitPaired(ctx)
	require.NoError(t, err)
	require.True(t, c.Paired)
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 0), sv.ID)
}

// selectsFirst has the phones hear each other and the phone of role
// select the other first, and returns that phone's EID, for the other to
// select, and the waiting session's confirmation.
func (w *phoneWorld) selectsFirst(tb testing.TB, role adv.Role) (adv.EID, *payflow.Confirmation) {
	tb.Helper()
	w.hear(tb)
	shopperEID, err := w.shopper.EID()
	require.NoError(tb, err)
	sellerEID, err := w.seller.EID()
	require.NoError(tb, err)
	own, peer, sel := shopperEID, sellerEID, w.shopper.Select
	if role == adv.Seller {
		own, peer, sel = sellerEID, shopperEID, w.seller.Select
	}
	c, err := sel(context.Background(), peer)
	require.NoError(tb, err)
	require.False(tb, c.Paired)
	return own, c
}
