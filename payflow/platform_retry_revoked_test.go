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

// TestRetryOfRevokedSellerCard: a payment request or refund sent again,
// the same signed bytes as one accepted before, once its seller card is
// revoked, is refused as a new record of the card is, in process and over
// HTTP (PROTOCOL.md §6.3, §6.5): card_not_trusted with the same message
// and no view, so that nothing of the request or refund is told (not its
// state, receipt or refunded total); the pending request is left pending,
// not withdrawn by a read, and the ledger does not move.
func TestRetryOfRevokedSellerCard(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	apis := []struct {
		name string
		api  payflow.API
	}{
		{"platform", s.Platform},
		{"http", mustClient(t, serve(t, s.Fixture), payflow.ClientOptions{})},
	}
	type made struct {
		pending, captured       *payflow.PaymentView
		pendingMsg, capturedMsg []byte
		refundMsg               []byte
	}
	mades := make([]made, len(apis))
	for i := range apis {
		m := &mades[i]
		m.pending, m.pendingMsg = s.request(t)
		var v *payflow.PaymentView
		v, m.capturedMsg = s.request(t)
		m.captured = s.captured(t, v.ID, false)
		rid := payflow.ID{'r', byte(i)}
		m.refundMsg = s.seller.MustSign(&record.RefundRequest{RefundID: rid[:], RequestID: v.ID[:], Amount: 200, Currency: "EUR"})
		_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: m.refundMsg})
		require.NoError(t, err)
	}
	before := s.balances(t)
	require.Equal(t, [2]payflow.Balance{{Posted: funds - 2*490}, {Posted: 2 * 490}}, before)

	s.Revoke(s.seller)
	for i, a := range apis {
		m := mades[i]
		_, err := a.api.Payment(ctx, s.seller.Token, m.pending.ID)
		require.ErrorIs(t, err, payflow.ErrCard, "%s: the revoked card's token", a.name)

		newRequest, newRefund := s.requireRetriesRefused(t, a.name, a.api, payflow.ErrCard,
			payflow.ID{'n', byte(i)}, m.captured.ID, m.refundMsg, m.pendingMsg, m.capturedMsg)
		require.Equal(t, "card_not_trusted", newRequest.Code, a.name)
		require.Equal(t, "card_not_trusted", newRefund.Code, a.name)
		s.requireState(t, m.pending.ID, payflow.StatePending)
		s.requireState(t, m.captured.ID, payflow.StateCaptured)
	}
	assert.Equal(t, before, s.balances(t), "the ledger did not move")
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestRetriedRefundOfRevokedSellerCardLeftToSweep: a refund accepted while
// its seller card was trusted, whose transfer the ledger did not make (it
// was down), sent again once the card is revoked, is refused
// card_not_trusted, no view returned, the refund left pending and the
// ledger unmoved; the recovery sweep then finishes it, the transfer made
// once, and the refund sent again is still refused so (PROTOCOL.md §6.5).
func TestRetriedRefundOfRevokedSellerCardLeftToSweep(t *testing.T) {
	ctx := context.Background()
	ls := &downLedger{Store: ledgermemory.New()}
	s := newShopOnLedger(t, memory.New(), ls, false, paytest.Options{})
	v, _ := s.request(t)
	s.captured(t, v.ID, false)
	id := payflow.ID([]byte("refund-revoked-1"))
	msg := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: 300, Currency: "EUR"})
	ls.down.Store(true)
	_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.Error(t, err)
	assert.Equal(t, "unavailable", payflow.AsError(err).Code)
	ls.down.Store(false)
	ref, err := s.Store.Refund(ctx, id)
	require.NoError(t, err)
	require.Equal(t, payflow.RefundPending, ref.State)
	assert.Equal(t, basketPaid, s.balances(t), "nothing refunded yet")

	s.Revoke(s.seller)
	rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrCard)
	assert.Equal(t, "card_not_trusted", payflow.AsError(err).Code)
	assert.Nil(t, rv, "no view")
	ref, err = s.Store.Refund(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, payflow.RefundPending, ref.State, "left pending")
	assert.Equal(t, basketPaid, s.balances(t), "the retry moved nothing")

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 1, "the sweep finished the refund")
	ref, err = s.Store.Refund(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, payflow.RefundDone, ref.State)
	assert.NotEmpty(t, ref.Receipt)
	moved := [2]payflow.Balance{{Posted: funds - 690 + 300}, {Posted: 690 - 300}}
	assert.Equal(t, moved, s.balances(t), "the refund made once")

	rv, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrCard)
	assert.Nil(t, rv, "no view")
	s.sweep(t, 0, "nothing left to finish")
	assert.Equal(t, moved, s.balances(t), "nothing more moves")
	require.NoError(t, s.Ledger.Verify(ctx))
}

// refusal returns the code, message and status of err, as AsError gives
// them, without the ID of the HTTP request that a client's error carries.
func refusal(err error) payflow.Error {
	e := *payflow.AsError(err)
	e.RequestID = ""
	return e
}

// requireRetriesRefused has api take, by s's seller card, a new payment
// request (the basket) and each of requests, payment requests accepted
// before and sent again, then a new refund of 100 of captured under
// refundID and refund, a refund accepted before and sent again. It checks
// that each new record is refused with target, and each sent again as
// the new one of its kind (refusal), with no view; it returns the new
// request's and the new refund's refusals. name labels its checks.
func (s *shop) requireRetriesRefused(t *testing.T, name string, api payflow.API, target error, refundID, captured payflow.ID, refund []byte, requests ...[]byte) (newRequest, newRefund payflow.Error) {
	t.Helper()
	ctx := context.Background()
	_, err := api.CreateRequest(ctx, &payflow.CreateRequest{Request: s.basket()})
	require.ErrorIs(t, err, target, "%s: a new request of the card", name)
	newRequest = refusal(err)
	for _, msg := range requests {
		got, err := api.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
		require.ErrorIs(t, err, target, name)
		assert.Equal(t, newRequest, refusal(err), "%s: the refusal of a new request", name)
		assert.Nil(t, got, "%s: no view", name)
	}

	_, err = api.Refund(ctx, &payflow.RefundRequest{Refund: s.seller.MustSign(&record.RefundRequest{
		RefundID: refundID[:], RequestID: captured[:], Amount: 100, Currency: "EUR"})})
	require.ErrorIs(t, err, target, "%s: a new refund of the card", name)
	newRefund = refusal(err)
	rv, err := api.Refund(ctx, &payflow.RefundRequest{Refund: refund})
	require.ErrorIs(t, err, target, name)
	assert.Equal(t, newRefund, refusal(err), "%s: the refusal of a new refund", name)
	assert.Nil(t, rv, "%s: no view", name)
	return newRequest, newRefund
}
