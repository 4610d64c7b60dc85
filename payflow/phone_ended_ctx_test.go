package payflow_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/queue"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestPhoneCallsWithEndedContextSendNothing: a decline, a selection, a
// login, a capture or a cancellation of a held request whose context
// ended before the call fails with the context's error, also when the API
// (a Platform in process) does not look at the context: nothing is sent,
// the card signs nothing, and the request or the queue stays as it was.
// A selection of a peer that the queue lacks fails with
// queue.ErrUnknownPeer all the same, and a capture or a cancellation of a
// held request with no request to capture or cancel (none on screen, or
// not held by the phone) with ErrNoPayment, as Status, Wait and Refund do.
func TestPhoneCallsWithEndedContextSendNothing(t *testing.T) {
	ctx := context.Background()
	ended, cancel := withCancelCause(ctx)
	cancel()
	for _, shown := range []bool{false, true} {
		name := map[bool]string{false: "Decline", true: "DeclineShown"}[shown]
		t.Run(name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			w.pair(t)
			sv, screen := w.request(t)
			var v *payflow.PaymentView
			var err error
			if shown {
				v, err = w.shopper.DeclineShown(ended, screen)
			} else {
				v, err = w.shopper.Decline(ended)
			}
			require.ErrorIs(t, err, errCallerGone)
			assert.Nil(t, v)
			w.assertState(t, sv.ID, payflow.StatePending, "nothing declined")
			on, err := w.shopper.Payment()
			require.NoError(t, err)
			assert.Equal(t, screen, on, "the request stays on screen")
		})
	}
	// selector is a phone's Select and its queue and wait for the
	// pairing, for either role.
	type selector interface {
		Peers(context.Context) ([]payflow.QueueEntry, error)
		Select(context.Context, adv.EID) (*payflow.Confirmation, error)
		WaitPaired(context.Context) (*payflow.Confirmation, error)
		Queue() *queue.Queue
	}
	for _, seller := range []bool{false, true} {
		t.Run(map[bool]string{false: "shopper Select", true: "seller Select"}[seller], func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			w.hear(t)
			var p selector = w.shopper
			card := w.shopperCard
			if seller {
				p, card = w.seller, w.sellerCard
			}
			peers, err := p.Peers(ctx) // the peer's name is kept
			require.NoError(t, err)
			require.Len(t, peers, 1)
			counter, err := card.Card.Counter()
			require.NoError(t, err)
			c, err := p.Select(ended, peers[0].EID)
			require.ErrorIs(t, err, errCallerGone)
			assert.Nil(t, c)
			after, err := card.Card.Counter()
			require.NoError(t, err)
			assert.Equal(t, counter, after, "the card signed no pairing proof")
			_, err = p.WaitPaired(ctx)
			require.ErrorIs(t, err, payflow.ErrNotPaired)
			_, selected := p.Queue().Selected()
			assert.False(t, selected, "the queue shows no peer selected")
			_, err = p.Select(ended, adv.EID{1})
			require.ErrorIs(t, err, queue.ErrUnknownPeer, "a peer that the queue lacks comes first")
		})
	}
	for _, held := range []bool{false, true} {
		t.Run(map[bool]string{false: "Capture", true: "CaptureHeld"}[held], func(t *testing.T) {
			w := newMemoryPhoneWorld(t, true)
			var id payflow.ID
			capture := func() (*payflow.Receipt, error) { return w.seller.Capture(ended, 0) }
			if held {
				capture = func() (*payflow.Receipt, error) { return w.seller.CaptureHeld(ended, id, 0) }
			}
			rc, err := capture()
			require.ErrorIs(t, err, payflow.ErrNoPayment, "no request to capture comes first")
			assert.Nil(t, rc)
			id = w.pairAndHold(t)
			rc, err = capture()
			require.ErrorIs(t, err, errCallerGone)
			assert.Nil(t, rc)
			w.assertState(t, id, payflow.StateHeld, "nothing captured")
		})
	}
	t.Run("Login", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.requireLoginSignsNothing(t, ended)
	})
	t.Run("CancelHeld", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, true)
		id := w.pairAndHold(t)
		v, err := w.seller.CancelHeld(ended, payflow.ID{0xee})
		require.ErrorIs(t, err, payflow.ErrNoPayment, "a request not held comes first")
		assert.Nil(t, v)
		v, err = w.seller.CancelHeld(ended, id)
		require.ErrorIs(t, err, errCallerGone)
		assert.Nil(t, v)
		w.assertState(t, id, payflow.StateHeld, "nothing cancelled")
		held, err := w.seller.Held(ctx)
		require.NoError(t, err)
		require.Len(t, held, 1, "still kept as held")
		assert.Equal(t, id, held[0].ID)
	})
}

// sentCountAPI passes every call on to the platform and counts those that
// read a request or the platform's certificate chain, or log in.
type sentCountAPI struct {
	payflow.API
	mu   sync.Mutex
	sent int
}

func (a *sentCountAPI) count() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sent++
}

func (a *sentCountAPI) calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sent
}

func (a *sentCountAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	a.count()
	return a.API.Payment(ctx, token, id)
}

func (a *sentCountAPI) Info(ctx context.Context) (*payflow.Info, error) {
	a.count()
	return a.API.Info(ctx)
}

func (a *sentCountAPI) Login(ctx context.Context, req *payflow.LoginRequest) (*payflow.LoginResponse, error) {
	a.count()
	return a.API.Login(ctx, req)
}

// TestSellerReadsWithEndedContextSendNothing: a Seller's Status, Wait,
// Held, Refund and RefundPayment whose context ended before the call fail
// with the context's error, also when the API (a Platform in process)
// does not look at the context: nothing is read, the screen and the held
// requests stay as they were. An amount that no refund carries is
// ErrInvalid all the same, and Status, Wait and Refund with no request on
// screen fail with ErrNoPayment.
func TestSellerReadsWithEndedContextSendNothing(t *testing.T) {
	ctx := context.Background()
	ended, cancel := withCancelCause(ctx)
	cancel()
	t.Run("Status and Wait", func(t *testing.T) {
		w, api := newSellerWorldThrough(t, false, func(p payflow.API) *sentCountAPI { return &sentCountAPI{API: p} })
		_, err := w.seller.Status(ended)
		require.ErrorIs(t, err, payflow.ErrNoPayment)
		_, _, err = w.seller.Wait(ended)
		require.ErrorIs(t, err, payflow.ErrNoPayment)
		w.pair(t)
		sv, _ := w.request(t)
		_, err = w.shopper.Decline(ctx)
		require.NoError(t, err)
		sent := api.calls()
		v, err := w.seller.Status(ended)
		require.ErrorIs(t, err, errCallerGone)
		assert.Nil(t, v)
		v, rc, err := w.seller.Wait(ended)
		require.ErrorIs(t, err, errCallerGone)
		assert.Nil(t, v)
		assert.Nil(t, rc)
		assert.Equal(t, sent, api.calls(), "nothing read")
		// The request stays on screen: the seller's Cancel finds it
		// declined.
		_, err = w.seller.Cancel(ctx)
		require.ErrorIs(t, err, payflow.ErrFinal)
		v, err = w.seller.Status(ctx)
		require.NoError(t, err)
		assert.Equal(t, sv.ID, v.ID)
		assert.Equal(t, payflow.StateDeclined, v.State)
	})
	t.Run("Held", func(t *testing.T) {
		w, api := newSellerWorldThrough(t, true, func(p payflow.API) *sentCountAPI { return &sentCountAPI{API: p} })
		id := w.pairAndHold(t)
		w.f.Clock.Advance(payflow.DefaultHoldTTL + time.Second) // past its hold expiry
		sent := api.calls()
		held, err := w.seller.Held(ended)
		require.ErrorIs(t, err, errCallerGone)
		require.Len(t, held, 1, "returned as last seen")
		assert.Equal(t, id, held[0].ID)
		assert.Equal(t, payflow.StateHeld, held[0].State)
		assert.Equal(t, sent, api.calls(), "nothing read")
		held, err = w.seller.Held(ctx)
		require.NoError(t, err)
		assert.Empty(t, held, "past its hold expiry")
	})
	t.Run("Refund and RefundPayment", func(t *testing.T) {
		w, api := newSellerWorldThrough(t, false, func(p payflow.API) *sentCountAPI { return &sentCountAPI{API: p} })
		_, err := w.seller.Refund(ended, 100)
		require.ErrorIs(t, err, payflow.ErrNoPayment)
		w.pair(t)
		sv, _ := w.request(t)
		// The shopper pays; the seller, which has not read the request
		// since, has no certificate chain of the platform yet.
		_, err = w.shopper.Approve(ctx, simcardtest.PIN)
		require.NoError(t, err)
		shopper := w.balance(t, w.shopperCard.Enrolment.ICCID)
		counter, err := w.sellerCard.Card.Counter()
		require.NoError(t, err)
		sent := api.calls()
		_, err = w.seller.RefundPayment(ended, sv.ID, 0)
		require.ErrorIs(t, err, payflow.ErrInvalid, "an amount that no refund carries comes first")
		_, err = w.seller.Refund(ended, 0)
		require.ErrorIs(t, err, payflow.ErrInvalid)
		rc, err := w.seller.RefundPayment(ended, sv.ID, 100)
		require.ErrorIs(t, err, errCallerGone)
		assert.Nil(t, rc)
		rc, err = w.seller.Refund(ended, 100)
		require.ErrorIs(t, err, errCallerGone)
		assert.Nil(t, rc)
		assert.Equal(t, sent, api.calls(), "nothing read")
		after, err := w.sellerCard.Card.Counter()
		require.NoError(t, err)
		assert.Equal(t, counter, after, "the card signed nothing")
		assert.Equal(t, shopper, w.balance(t, w.shopperCard.Enrolment.ICCID), "nothing refunded")
		rc, err = w.seller.RefundPayment(ctx, sv.ID, 100)
		require.NoError(t, err)
		assert.Equal(t, uint64(100), rc.Amount)
	})
}

// TestSellerCancelWithEndedContext: a Seller's Cancel whose context ended
// before the call, with no request on screen to withdraw and none kept to
// be sent again, fails with ErrNoPayment, as Capture, CaptureHeld,
// CancelHeld, Status, Wait and Refund do: before any request, and once the
// request made last was withdrawn. With a request on screen, or one kept
// to be sent again (its reply lost), it fails with the context's error,
// sending nothing: the request stays as it was, and a Cancel with a live
// context withdraws it.
func TestSellerCancelWithEndedContext(t *testing.T) {
	ctx := context.Background()
	ended, cancel := withCancelCause(ctx)
	cancel()
	requireNoPayment := func(t *testing.T, seller *payflow.Seller) {
		t.Helper()
		v, err := seller.Cancel(ended)
		require.ErrorIs(t, err, payflow.ErrNoPayment)
		assert.NotErrorIs(t, err, errCallerGone)
		assert.Nil(t, v)
	}
	t.Run("nothing", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		requireNoPayment(t, w.seller)
		w.pair(t)
		requireNoPayment(t, w.seller)
		sv, _ := w.request(t)
		v, err := w.seller.Cancel(ctx)
		require.NoError(t, err)
		assert.Equal(t, sv.ID, v.ID)
		requireNoPayment(t, w.seller)
	})
	t.Run("on screen", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.pair(t)
		sv, _ := w.request(t)
		v, err := w.seller.Cancel(ended)
		require.ErrorIs(t, err, errCallerGone)
		assert.Nil(t, v)
		w.assertState(t, sv.ID, payflow.StatePending, "nothing cancelled")
		v, err = w.seller.Cancel(ctx)
		require.NoError(t, err)
		assert.Equal(t, sv.ID, v.ID)
		assert.Equal(t, payflow.StateCancelled, v.State)
	})
	t.Run("kept", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.useSeller(t, loseFirstCreate(w.f.Platform, payflow.ErrUnavailable))
		id := payflow.SessionRequestID(w.pair(t).SessionID, 0)
		_, err := w.seller.Request(ctx, basket)
		require.ErrorIs(t, err, payflow.ErrUnavailable)
		w.assertState(t, id, payflow.StatePending, "recorded, its reply lost")
		v, err := w.seller.Cancel(ended)
		require.ErrorIs(t, err, errCallerGone)
		assert.Nil(t, v)
		w.assertState(t, id, payflow.StatePending, "nothing cancelled")
		v, err = w.seller.Cancel(ctx)
		require.NoError(t, err, "still kept")
		assert.Equal(t, id, v.ID)
		assert.Equal(t, payflow.StateCancelled, v.State)
	})
}
