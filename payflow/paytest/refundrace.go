package paytest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// refundsAtOnce: refunds of a payment captured in part (800 of 1000
// held), sent at once by several seller cards of the merchant, never
// total more than was captured: of five refunds of 300 under IDs of
// their own, two are made and three refused with ErrLimit, and a refund
// of 200 sent twice at once, the same bytes, is made once and answers
// both copies alike. The refunds then total the captured amount exactly,
// and one more unit is refused; the money moved once per refund made.
func refundsAtOnce(t *testing.T, s *Shop) {
	ctx := context.Background()
	cards := []*Card{s.Seller}
	ids := []string{s.Seller.ID}
	for i := range 5 {
		c := s.NewCard(fmt.Sprintf("Till %d", i+2))
		cards, ids = append(cards, c), append(ids, c.ID)
	}
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{
		ID: MerchantID, Name: "Corner Grocer", Currency: "EUR", ManualCapture: true, SellerCardIDs: ids,
	}))
	v := s.createHeld(1000)
	c, err := s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: v.ID, Amount: 800})
	require.NoError(t, err)
	require.Equal(t, uint64(800), c.Captured)

	sign := func(card *Card, id string, amount uint64) []byte {
		return card.MustSign(&record.RefundRequest{RefundID: []byte(id), RequestID: v.ID[:], Amount: amount, Currency: "EUR"})
	}
	var msgs [][]byte
	for i, card := range cards[1:] {
		msgs = append(msgs, sign(card, fmt.Sprintf("refund-race%05d", i), 300))
	}
	twice := sign(s.Seller, "refund-race-200x", 200)
	msgs = append(msgs, twice, twice)

	views := make([]*payflow.RefundView, len(msgs))
	errs := make([]error, len(msgs))
	var wg sync.WaitGroup
	for i, msg := range msgs {
		wg.Go(func() { views[i], errs[i] = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg}) })
	}
	wg.Wait()

	made, limited := 0, 0
	for i, err := range errs[:5] {
		switch {
		case err == nil:
			made++
			assert.Equal(t, uint64(300), views[i].Amount)
		case assert.ErrorIs(t, err, payflow.ErrLimit, "refund %d", i):
			limited++
		}
	}
	assert.Equal(t, 2, made, "refunds of 300 made")
	assert.Equal(t, 3, limited, "refunds of 300 refused")
	for i, err := range errs[5:] {
		require.NoError(t, err, "copy %d of the refund of 200", i)
	}
	assert.Equal(t, views[5], views[6], "both copies answered alike")
	assert.Equal(t, uint64(200), views[5].Amount)

	p, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, uint64(800), p.Refunded, "refunded exactly what was captured")
	assert.Equal(t, [2]payflow.Balance{{Posted: Funds}, {Posted: 0}}, s.Balances("EUR"), "each refund made moved its money once")

	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: sign(s.Seller, "refund-race-1unt", 1)})
	assert.ErrorIs(t, err, payflow.ErrLimit)
	assert.Equal(t, [2]payflow.Balance{{Posted: Funds}, {Posted: 0}}, s.Balances("EUR"))
	n, err := s.Platform.RecoverSweep(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, 0, n, "no refund left under way")
}

// captureCancelRace has the seller capture 600 of a held payment of 1000
// twice at once (the same capture sent again) on s's platform while other
// cancels it, at once, five times, and checks that exactly one settlement
// wins each time: captured for 600, both captures answered so and the
// cancellation refused (ErrFinal, or ErrConflict while the capture was
// under way), the shopper paying 600 and nothing left held; or cancelled,
// the captures refused (ErrFinal, or ErrConflict while the void was under
// way) and no balance moved.
func captureCancelRace(t *testing.T, s *Shop, other *payflow.Platform) {
	ctx := context.Background()
	states := map[string]int{}
	for range 5 {
		before := s.Balances("EUR")
		v := s.createPending(1000)
		h, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(v.ID)})
		require.NoError(t, err)
		require.Equal(t, payflow.StateHeld, h.State)
		var captures [2]error
		var cancelErr error
		var wg sync.WaitGroup
		for i := range captures {
			wg.Go(func() {
				_, captures[i] = s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: v.ID, Amount: 600})
			})
		}
		wg.Go(func() { _, cancelErr = other.Cancel(ctx, s.Seller.Token, v.ID) })
		wg.Wait()
		r, err := other.Store().Payment(ctx, v.ID)
		require.NoError(t, err)
		after := s.Balances("EUR")
		settling := func(err error) bool { return errors.Is(err, payflow.ErrFinal) || errors.Is(err, payflow.ErrConflict) }
		states[r.State]++
		switch r.State {
		case payflow.StateCaptured:
			assert.Equal(t, uint64(600), r.Captured)
			for i, err := range captures {
				assert.True(t, err == nil || errors.Is(err, payflow.ErrConflict), "capture %d of request %x: %v", i, v.ID, err)
			}
			assert.True(t, captures[0] == nil || captures[1] == nil, "request %x: one capture made it: %v", v.ID, captures)
			assert.True(t, settling(cancelErr), "request %x: %v", v.ID, cancelErr)
			assert.Equal(t, [2]payflow.Balance{{Posted: before[0].Posted - 600}, {Posted: before[1].Posted + 600}}, after)
		case payflow.StateCancelled:
			require.NoError(t, cancelErr, "request %x", v.ID)
			for i, err := range captures {
				assert.True(t, settling(err), "capture %d of request %x: %v", i, v.ID, err)
			}
			assert.Equal(t, before, after)
		default:
			t.Fatalf("request %x: state %s (captures: %v, cancel: %v)", v.ID, r.State, captures, cancelErr)
		}
	}
	t.Logf("ended: %v", states)
}
