package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestRefundOfEndedRequestRefusedForGood pins PROTOCOL.md §6.5: a refund
// of a request that is not captured yet is conflict and spends no counter,
// so the same refund is sent again once the request ended otherwise; it is
// then refused for good, final_state for a request declined or cancelled
// (its hold voided), expired for one pending at or past its expiry and for
// one held at or past its hold expiry (§6.2), which that refusal reads and
// expires. Nothing is stored or reserved, no money moves, and the refusal
// spends the card's counter: the same refund sent once more is
// card_counter_regression.
func TestRefundOfEndedRequestRefusedForGood(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		held  bool // a consent held the funds before the refund
		end   func(t *testing.T, s *shop, id payflow.ID)
		state string // the request's state then
		want  error
		code  string
	}{
		{"declined", false, func(t *testing.T, s *shop, id payflow.ID) {
			_, err := s.Platform.Decline(ctx, s.shopper.Token, id)
			require.NoError(t, err)
		}, payflow.StateDeclined, payflow.ErrFinal, "final_state"},
		{"cancelled while pending", false, func(t *testing.T, s *shop, id payflow.ID) {
			_, err := s.Platform.Cancel(ctx, s.seller.Token, id)
			require.NoError(t, err)
		}, payflow.StateCancelled, payflow.ErrFinal, "final_state"},
		{"cancelled while held", true, func(t *testing.T, s *shop, id payflow.ID) {
			_, err := s.Platform.Cancel(ctx, s.seller.Token, id)
			require.NoError(t, err)
		}, payflow.StateCancelled, payflow.ErrFinal, "final_state"},
		{"pending at its expiry", false, func(t *testing.T, s *shop, id payflow.ID) {
			s.Clock.Advance(payflow.DefaultRequestTTL)
		}, payflow.StateExpired, payflow.ErrExpired, "expired"},
		{"held at its hold expiry", true, func(t *testing.T, s *shop, id payflow.ID) {
			s.Clock.Advance(payflow.DefaultHoldTTL)
			s.RefreshCRLs()
		}, payflow.StateExpired, payflow.ErrExpired, "expired"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newShop(t, tt.held, paytest.Options{})
			made := pendingRequest
			if tt.held {
				made = heldRequest
			}
			id := made(t, s)
			msg, rid := refundMsg(s, id)
			_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.ErrorIs(t, err, payflow.ErrConflict, "not captured yet")
			requireUnspent(t, s, msg, &record.RefundRequest{}, "refused with conflict")

			tt.end(t, s, id)
			_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.ErrorIs(t, err, tt.want, "the same refund once the request ended")
			assert.Equal(t, tt.code, payflow.AsError(err).Code)
			s.requireState(t, id, tt.state)
			p, err := s.Store.Payment(ctx, id)
			require.NoError(t, err)
			assert.Zero(t, p.Refunded, "nothing reserved")
			_, err = s.Store.Refund(ctx, rid)
			assert.ErrorIs(t, err, payflow.ErrNotFound, "no refund stored")
			assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "nothing moved, no hold left")

			_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			assert.ErrorIs(t, err, payflow.ErrClone, "refused for good: its counter spent")
			assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
		})
	}
}

// TestRequestRetryOfCapturedShowsReceiptAndRefunds pins PROTOCOL.md §6.3
// and §6.6: the signed request sent again once it is captured and partly
// refunded is answered with the stored request's view, captured, with the
// receipt of its capture and its refunds' total, and no consent nonce, as
// every later view of the request (the payer's and the seller's) shows
// it; the retry moves no money.
func TestRequestRetryOfCapturedShowsReceiptAndRefunds(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, msg := s.request(t)
	done := s.captured(t, v.ID, false)
	require.NotEmpty(t, done.Receipt)
	for i, amount := range []uint64{200, 90} {
		id := payflow.ID{0x6d, byte(i)}
		_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: s.seller.MustSign(&record.RefundRequest{
			RefundID: id[:], RequestID: v.ID[:], Amount: amount, Currency: "EUR"})})
		require.NoError(t, err)
	}
	refunded := [2]payflow.Balance{{Posted: funds - 400}, {Posted: 400}}
	require.Equal(t, refunded, s.balances(t))

	again, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.NoError(t, err, "the same signed request is a retry")
	assert.Equal(t, payflow.StateCaptured, again.State)
	assert.Equal(t, uint64(690), again.Captured)
	assert.Equal(t, uint64(290), again.Refunded, "its refunds' total")
	assert.Equal(t, done.Receipt, again.Receipt, "the receipt of its capture")
	assert.Nil(t, again.ConsentNonce)
	assert.Equal(t, refunded, s.balances(t), "the retry moved nothing")
	for _, c := range []*paytest.Card{s.shopper, s.seller} {
		pv, err := s.Platform.Payment(ctx, c.Token, v.ID)
		require.NoError(t, err)
		assert.Equal(t, again, pv, "the view of %s", c.Name)
	}
}

// TestConsentNonceOutlivesRequestByChallengeTTL pins PROTOCOL.md §6.3: the
// consent nonce of the payer's view is usable until the request's expiry
// plus the challenge lifetime, so that a consent signed in time and
// arriving late is told expired, not nonce_replayed, and moves nothing;
// once that lifetime is past too, it is nonce_replayed.
func TestConsentNonceOutlivesRequestByChallengeTTL(t *testing.T) {
	ctx := context.Background()
	const challenge = 30 * time.Second
	for _, tt := range []struct {
		name  string
		after time.Duration // past the request's expiry
		want  error
		code  string
	}{
		{"at the request's expiry", 0, payflow.ErrExpired, "expired"},
		{"within the challenge lifetime after it", challenge - time.Millisecond, payflow.ErrExpired, "expired"},
		{"past the challenge lifetime after it", challenge + time.Millisecond, payflow.ErrReplay, "nonce_replayed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{Platform: payflow.PlatformOptions{ChallengeTTL: challenge}})
			v, _ := s.request(t)
			c := s.consent(t, v.ID)
			before := s.balances(t)
			s.Clock.Advance(v.ExpiresAt.Sub(s.Clock.Now()) + tt.after)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			require.ErrorIs(t, err, tt.want)
			assert.Equal(t, tt.code, payflow.AsError(err).Code)
			pv, err := s.Platform.Payment(ctx, s.seller.Token, v.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateExpired, pv.State)
			assert.Equal(t, before, s.balances(t), "nothing moved")
		})
	}
}
