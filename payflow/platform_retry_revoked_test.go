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
// the same signed bytes as one accepted before, is answered as a retry
// once its seller card is revoked too, in process and over HTTP, its card
// neither verified nor its counter checked again (PROTOCOL.md §6.3, §6.5),
// while the card's token and its new records are card_not_trusted: the
// retried request gets its view, without a consent nonce, the pending one
// withdrawn (cancelled) by that read and the captured one with its
// receipt; the retried refund gets its view, the ledger moving no more.
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
		refund                  *payflow.RefundView
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
		var err error
		m.refund, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: m.refundMsg})
		require.NoError(t, err)
	}
	before := s.balances(t)
	require.Equal(t, [2]payflow.Balance{{Posted: funds - 2*490}, {Posted: 2 * 490}}, before)

	s.Revoke(s.seller)
	for i, a := range apis {
		m := mades[i]
		_, err := a.api.Payment(ctx, s.seller.Token, m.pending.ID)
		require.ErrorIs(t, err, payflow.ErrCard, "%s: the revoked card's token", a.name)
		s.requireState(t, m.pending.ID, payflow.StatePending)

		got, err := a.api.CreateRequest(ctx, &payflow.CreateRequest{Request: m.pendingMsg})
		require.NoError(t, err, a.name)
		assert.Equal(t, payflow.StateCancelled, got.State, "%s: withdrawn by the read", a.name)
		assert.Nil(t, got.ConsentNonce, a.name)
		assert.Equal(t, m.pendingMsg, got.Request, a.name)
		s.requireState(t, m.pending.ID, payflow.StateCancelled)

		got, err = a.api.CreateRequest(ctx, &payflow.CreateRequest{Request: m.capturedMsg})
		require.NoError(t, err, a.name)
		assert.Equal(t, payflow.StateCaptured, got.State, a.name)
		assert.Equal(t, uint64(690), got.Captured, a.name)
		assert.Equal(t, uint64(200), got.Refunded, a.name)
		assert.Equal(t, m.captured.Receipt, got.Receipt, "%s: the stored receipt", a.name)

		rv, err := a.api.Refund(ctx, &payflow.RefundRequest{Refund: m.refundMsg})
		require.NoError(t, err, a.name)
		assert.Equal(t, m.refund, rv, a.name)

		rid := payflow.ID{'n', byte(i)}
		_, err = a.api.Refund(ctx, &payflow.RefundRequest{Refund: s.seller.MustSign(&record.RefundRequest{
			RefundID: rid[:], RequestID: m.captured.ID[:], Amount: 100, Currency: "EUR"})})
		assert.ErrorIs(t, err, payflow.ErrCard, "%s: a new refund of the revoked card", a.name)
	}
	assert.Equal(t, before, s.balances(t), "the ledger did not move")
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestRetriedRefundOfRevokedSellerCardFinishes: a refund accepted while
// its seller card was trusted, whose transfer the ledger did not make (it
// was down), sent again once the card is revoked, is finished by that
// retry as the recovery sweep would finish it: the transfer is made once
// and the retry gets the refund's view with its receipt (PROTOCOL.md
// §6.5).
func TestRetriedRefundOfRevokedSellerCardFinishes(t *testing.T) {
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
	require.NoError(t, err)
	assert.Equal(t, id, rv.ID)
	assert.Equal(t, uint64(300), rv.Amount)
	assert.NotEmpty(t, rv.Receipt)
	moved := [2]payflow.Balance{{Posted: funds - 690 + 300}, {Posted: 690 - 300}}
	assert.Equal(t, moved, s.balances(t), "the refund made once")
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.NoError(t, err)
	assert.Equal(t, moved, s.balances(t), "sent again, nothing more moves")
	require.NoError(t, s.Ledger.Verify(ctx))
}
