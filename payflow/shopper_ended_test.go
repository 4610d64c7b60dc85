package payflow_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// endedOtherThanSigned alter a view of a request of basket into one that
// shows other lines, legs or session than the seller's card signed, the
// signed request, ID, hash, parties and amount left as they are.
var endedOtherThanSigned = []struct {
	name  string
	alter func(*payflow.PaymentView)
}{
	{"line SKU", func(v *payflow.PaymentView) { v.Lines[1].SKU = "cake" }},
	{"line dropped", func(v *payflow.PaymentView) { v.Lines = v.Lines[:1] }},
	{"leg added", func(v *payflow.PaymentView) { v.Legs = append(v.Legs, payflow.AssetLeg{Asset: "GOLD", Amount: 1}) }},
	{"session", func(v *payflow.PaymentView) { v.SessionID[0] ^= 1 }},
}

// endedAlteredAPI answers, while on, the shopper's views of a request
// that show it declined, cancelled or expired altered by alter, as a
// platform that misstates an ended request would.
type endedAlteredAPI struct {
	payflow.API
	alter func(*payflow.PaymentView)
	on    atomic.Bool
}

func (a *endedAlteredAPI) restate(v *payflow.PaymentView, err error) (*payflow.PaymentView, error) {
	if err != nil || !a.on.Load() {
		return v, err
	}
	switch v.State {
	case payflow.StateDeclined, payflow.StateCancelled, payflow.StateExpired:
	default:
		return v, err
	}
	c := *v
	c.Lines, c.Legs = slices.Clone(v.Lines), slices.Clone(v.Legs)
	a.alter(&c)
	return &c, nil
}

func (a *endedAlteredAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	return a.restate(a.API.Payment(ctx, token, id))
}

func (a *endedAlteredAPI) Decline(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	return a.restate(a.API.Decline(ctx, token, id))
}

func (a *endedAlteredAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	return a.restate(a.API.Approve(ctx, req))
}

// TestShopperRefusesEndedOtherThanSigned: a view that shows the request
// on screen cancelled with other lines, legs or session than the seller's
// card signed does not go on screen: the approval whose fresh read is
// that view fails with ErrMismatch, the card signing nothing, and the
// decline that the platform refuses (final_state) fails with that
// refusal; either way the screen shows the request pending as before,
// nothing paid. With the platform's own view, the approval fails with
// ErrFinal and the screen shows the request cancelled.
func TestShopperRefusesEndedOtherThanSigned(t *testing.T) {
	ctx := context.Background()
	for _, tt := range endedOtherThanSigned {
		for _, decline := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/decline %v", tt.name, decline), func(t *testing.T) {
				w := newMemoryPhoneWorld(t, false)
				api := &endedAlteredAPI{API: w.f.Platform, alter: tt.alter}
				api.on.Store(true)
				w.useShopper(t, api)
				w.pair(t)
				_, screen := w.request(t)
				counter := w.counter(t)
				_, err := w.seller.Cancel(ctx)
				require.NoError(t, err)

				if decline {
					v, err := w.shopper.DeclineShown(ctx, screen)
					require.ErrorIs(t, err, payflow.ErrFinal, "the platform's refusal")
					assert.Nil(t, v)
				} else {
					rc, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
					require.ErrorIs(t, err, payflow.ErrMismatch)
					assert.NotErrorIs(t, err, payflow.ErrFinal)
					assert.Nil(t, rc)
				}
				w.requireScreenAsWas(t, screen)
				assert.Equal(t, counter, w.counter(t), "the card signed nothing")
				assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))

				api.on.Store(false)
				rc, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
				require.ErrorIs(t, err, payflow.ErrFinal)
				assert.Nil(t, rc)
				on, err := w.shopper.Payment()
				require.NoError(t, err)
				assert.Equal(t, screen.ID, on.ID)
				assert.Equal(t, payflow.StateCancelled, on.State)
				assert.Equal(t, screen.Lines, on.Lines)
				assert.Equal(t, counter, w.counter(t), "the card signed nothing")
			})
		}
	}
}

// TestShopperKeepsConsentOnEndedOtherThanSigned: a consent held for a
// merchant that captures manually whose request the seller then cancels,
// read while the phone waits for the capture as cancelled with other
// lines, legs or session than the seller's card signed, fails Approve
// with ErrMismatch, the consent kept and the screen showing the request
// pending as before; with the platform's own view, the next Approve
// sends that consent again, without the card, and fails with ErrFinal,
// the screen showing the request cancelled and the consent dropped.
func TestShopperKeepsConsentOnEndedOtherThanSigned(t *testing.T) {
	ctx := context.Background()
	approvedCancelledWhileHeld(t, func(t *testing.T, w *phoneWorld, sent *scriptedApproveAPI, api *endedAlteredAPI, screen *payflow.PaymentView, counter uint64) {
		w.requireScreenAsWas(t, screen)
		assert.Equal(t, counter+1, w.counter(t), "the card signed one consent")
		require.Len(t, sent.sent, 1)
		assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))

		api.on.Store(false)
		rc, err := w.shopper.ApproveShown(ctx, screen, "")
		require.ErrorIs(t, err, payflow.ErrFinal)
		assert.Nil(t, rc)
		require.Len(t, sent.sent, 2, "the kept consent sent again")
		assert.Equal(t, sent.sent[0], sent.sent[1])
		assert.Equal(t, counter+1, w.counter(t), "the card signed nothing more")
		on, err := w.shopper.Payment()
		require.NoError(t, err)
		assert.Equal(t, payflow.StateCancelled, on.State)
		assert.Equal(t, screen.Lines, on.Lines)

		_, err = w.shopper.ApproveShown(ctx, on, "")
		require.ErrorIs(t, err, payflow.ErrFinal)
		assert.Len(t, sent.sent, 2, "no consent kept")
		assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID), "nothing moved")
	})
}

// TestWaitPaymentKeepsConsentOnEndedOtherThanSigned: a kept consent whose
// request the platform shows cancelled with other lines, legs or session
// than the seller's card signed fails WaitPayment with ErrMismatch, the
// consent still kept; with the platform's own view, WaitPayment drops it
// and shows the session's next request.
func TestWaitPaymentKeepsConsentOnEndedOtherThanSigned(t *testing.T) {
	ctx := context.Background()
	approvedCancelledWhileHeld(t, func(t *testing.T, w *phoneWorld, sent *scriptedApproveAPI, api *endedAlteredAPI, first *payflow.PaymentView, counter uint64) {
		next, err := w.seller.Request(ctx, basket)
		require.NoError(t, err)

		v, err := w.shopper.WaitPayment(ctx)
		require.ErrorIs(t, err, payflow.ErrMismatch)
		assert.Nil(t, v)
		w.requireScreenAsWas(t, first)

		api.on.Store(false)
		v, err = w.shopper.WaitPayment(ctx)
		require.NoError(t, err)
		assert.Equal(t, next.ID, v.ID)
		assert.Equal(t, payflow.StatePending, v.State)
		assert.Len(t, sent.sent, 1)
		assert.Equal(t, counter+1, w.counter(t))
		assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID), "nothing moved")
	})
}

// approvedCancelledWhileHeld runs test, for each view of
// endedOtherThanSigned, on a world of newCancelledWhileHeld whose shopper
// had its approval refused (approveRefused): screen is the request then
// on screen, counter the card's counter before the approval.
func approvedCancelledWhileHeld(t *testing.T, test func(t *testing.T, w *phoneWorld, sent *scriptedApproveAPI, api *endedAlteredAPI, screen *payflow.PaymentView, counter uint64)) {
	for _, tt := range endedOtherThanSigned {
		t.Run(tt.name, func(t *testing.T) {
			w, sent, api := newCancelledWhileHeld(t, tt.alter)
			screen, counter := w.approveRefused(t, api)
			test(t, w, sent, api, screen, counter)
		})
	}
}

// newCancelledWhileHeld returns a world whose merchant captures manually
// and whose seller cancels a request once the shopper phone reads it
// held; that phone talks to the platform through an endedAlteredAPI of
// alter, on, over a scriptedApproveAPI that records the consents sent.
func newCancelledWhileHeld(t *testing.T, alter func(*payflow.PaymentView)) (*phoneWorld, *scriptedApproveAPI, *endedAlteredAPI) {
	t.Helper()
	w := newMemoryPhoneWorld(t, true)
	held := &onHeldRead{API: w.f.Platform, fn: func() error {
		_, err := w.seller.Cancel(context.Background())
		return err
	}}
	sent := &scriptedApproveAPI{API: held}
	api := &endedAlteredAPI{API: sent, alter: alter}
	api.on.Store(true)
	return w, sent, api
}

// requireScreenAsWas checks that the shopper's screen shows screen, as
// it was.
func (w *phoneWorld) requireScreenAsWas(t *testing.T, screen *payflow.PaymentView) {
	t.Helper()
	on, err := w.shopper.Payment()
	require.NoError(t, err)
	assert.Equal(t, screen, on, "the screen as it was")
}

// TestShopperDeclineRefusesEndedOtherThanSigned: a decline answered with
// a view that shows the request declined, cancelled or captured with other
// lines, legs or session than the seller's card signed fails with ErrMismatch,
// without that view, the request staying on screen as it was; the next
// WaitPayment moves past it, the platform having ended it.
func TestShopperDeclineRefusesEndedOtherThanSigned(t *testing.T) {
	ctx := context.Background()
	for _, tt := range endedOtherThanSigned {
		for _, state := range []string{payflow.StateDeclined, payflow.StateCancelled, payflow.StateCaptured} {
			t.Run(tt.name+"/"+state, func(t *testing.T) {
				w, api := newTamperWorld(t)
				w.pair(t)
				_, screen := w.request(t)
				api.decline = func(v *payflow.PaymentView) {
					v.State = state
					v.Lines, v.Legs = slices.Clone(v.Lines), slices.Clone(v.Legs)
					tt.alter(v)
				}
				v, err := w.shopper.DeclineShown(ctx, screen)
				require.ErrorIs(t, err, payflow.ErrMismatch)
				assert.NotErrorIs(t, err, payflow.ErrFinal)
				assert.Nil(t, v)
				w.requireScreenAsWas(t, screen)

				next, err := w.seller.Request(ctx, basket)
				require.NoError(t, err)
				v, err = w.shopper.WaitPayment(ctx)
				require.NoError(t, err)
				assert.Equal(t, next.ID, v.ID)
			})
		}
	}
}
