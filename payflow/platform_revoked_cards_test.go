package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestConsentToRequestOfRevokedSellerCard: a consent to a pending request
// whose seller card was revoked since is final_state, with the reply (code
// and message) of a consent to a request that the merchant cancelled; it
// cancels the request, spends the consent's nonce (sent again it is
// nonce_replayed) and moves no money (PROTOCOL.md §6.4, Revoked seller
// card). A decline of another such request is final_state too.
func TestConsentToRequestOfRevokedSellerCard(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	before := s.balances(t)
	withdrawn, _ := s.request(t)
	cancelled, _ := s.request(t)
	declined, _ := s.request(t)
	toCancelled := s.consent(t, cancelled.ID)
	_, err := s.Platform.Cancel(ctx, s.seller.Token, cancelled.ID)
	require.NoError(t, err)
	_, merchantCancelled := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: toCancelled})
	require.ErrorIs(t, merchantCancelled, payflow.ErrFinal)
	consent := s.consent(t, withdrawn.ID)

	s.Revoke(s.seller)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.ErrorIs(t, err, payflow.ErrFinal)
	assert.Equal(t, payflow.AsError(merchantCancelled), payflow.AsError(err), "the reply of a consent to a cancelled request")
	s.requireState(t, withdrawn.ID, payflow.StateCancelled)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	assert.ErrorIs(t, err, payflow.ErrReplay, "sent again, its nonce spent")

	_, err = s.Platform.Decline(ctx, s.shopper.Token, declined.ID)
	assert.ErrorIs(t, err, payflow.ErrFinal, "a decline")
	s.requireState(t, declined.ID, payflow.StateCancelled)
	assert.Equal(t, before, s.balances(t), "no money moved")
}

// TestRequestsOfRevokedShopperCard: once the payer's card is revoked, a
// capture of its pending request cancels it and is final_state, a
// cancellation of another returns it cancelled, and its held request stays
// held: the seller card captures it, the money moving once (PROTOCOL.md
// §6.4, Revoked shopper card).
func TestRequestsOfRevokedShopperCard(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, true, paytest.Options{})
	held := s.held(t)
	captured, _ := s.request(t)
	cancelled, _ := s.request(t)

	s.Revoke(s.shopper)
	_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: captured.ID})
	require.ErrorIs(t, err, payflow.ErrFinal, "a capture of a pending request")
	s.requireState(t, captured.ID, payflow.StateCancelled)
	v, err := s.Platform.Cancel(ctx, s.seller.Token, cancelled.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, v.State)
	s.requireState(t, held.ID, payflow.StateHeld)
	v, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: held.ID})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, v.State)
	assert.Equal(t, uint64(690), v.Captured)
	assert.Equal(t, basketPaid, s.balances(t))
}
