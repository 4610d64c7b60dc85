package payflow_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// leaveRefusal is Leave's error while the request on screen is in state.
func leaveRefusal(state string) string {
	return payflow.ErrPaymentUnderWay.Error() + ": payment " + state
}

// TestPhoneLeaveBusy: once a purchase ended, Leave has each phone
// advertise busy no more (adv.FlagBusy), the other one staying busy
// until it leaves too, and an assets phone advertise assets alone; Leave
// again, or before any session, is no error.
func TestPhoneLeaveBusy(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	w.useAssetsPhones(t, false, true)
	require.NoError(t, w.shopper.Leave(), "no session yet")
	require.NoError(t, w.seller.Leave(), "no session yet")
	w.pair(t)
	w.purchase(t)
	assert.Equal(t, adv.FlagBusy, advertFlags(t, w.shopper, adv.Shopper))
	assert.Equal(t, adv.FlagBusy|adv.FlagAssets, advertFlags(t, w.seller, adv.Seller))

	require.NoError(t, w.seller.Leave())
	assert.Equal(t, adv.FlagAssets, advertFlags(t, w.seller, adv.Seller), "left")
	assert.Equal(t, adv.FlagBusy, advertFlags(t, w.shopper, adv.Shopper), "the shopper has not left")
	require.NoError(t, w.shopper.Leave())
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.shopper, adv.Shopper), "left")

	require.NoError(t, w.seller.Leave(), "done twice")
	require.NoError(t, w.shopper.Leave(), "done twice")
	assert.Equal(t, adv.FlagAssets, advertFlags(t, w.seller, adv.Seller))
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.shopper, adv.Shopper))
}

// leavingPhone is what the Leave tests need of a Shopper or a Seller.
type leavingPhone interface {
	advertPhone
	Leave() error
}

// requireLeaveRefused checks that Leave of both phones fails with
// ErrPaymentUnderWay, naming the states of the requests on their
// screens, and leaves them busy; a phone whose state is "" is not
// checked.
func (w *phoneWorld) requireLeaveRefused(tb testing.TB, shopperState, sellerState string) {
	tb.Helper()
	for _, ph := range []struct {
		p     leavingPhone
		role  adv.Role
		state string
	}{{w.shopper, adv.Shopper, shopperState}, {w.seller, adv.Seller, sellerState}} {
		if ph.state == "" {
			continue
		}
		err := ph.p.Leave()
		require.ErrorIs(tb, err, payflow.ErrPaymentUnderWay, "%v", ph.role)
		require.EqualError(tb, err, leaveRefusal(ph.state), "%v", ph.role)
		assert.Equal(tb, adv.FlagBusy, advertFlags(tb, ph.p, ph.role), "%v still in the session", ph.role)
	}
}

// requireLeft checks that phone p, of role, leaves its session: Leave
// succeeds and p advertises busy no more.
func requireLeft(tb testing.TB, p leavingPhone, role adv.Role) {
	tb.Helper()
	require.NoError(tb, p.Leave())
	assert.Equal(tb, adv.Flags(0), advertFlags(tb, p, role))
}

// TestPhoneLeaveRefusedWhilePaymentUnderWay: Leave fails with
// ErrPaymentUnderWay, changing nothing, while the request on the phone's
// screen is pending or held as the phone last saw it, and leaves once
// the payment ended: its receipt shown, declined, cancelled (the shopper
// sees so by declining it) or captured after a hold.
func TestPhoneLeaveRefusedWhilePaymentUnderWay(t *testing.T) {
	ctx := context.Background()
	t.Run("paid", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.pair(t)
		_, screen := w.request(t)
		w.requireLeaveRefused(t, payflow.StatePending, payflow.StatePending)
		_, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
		require.NoError(t, err)
		requireLeft(t, w.shopper, adv.Shopper)
		w.requireLeaveRefused(t, "", payflow.StatePending) // as last seen
		view, rc, err := w.seller.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, payflow.StateCaptured, view.State)
		require.NotNil(t, rc)
		requireLeft(t, w.seller, adv.Seller)
	})
	t.Run("declined", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.pair(t)
		_, screen := w.request(t)
		_, err := w.shopper.DeclineShown(ctx, screen)
		require.NoError(t, err)
		requireLeft(t, w.shopper, adv.Shopper)
		w.requireLeaveRefused(t, "", payflow.StatePending)
		view, _, err := w.seller.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, payflow.StateDeclined, view.State)
		requireLeft(t, w.seller, adv.Seller)
	})
	t.Run("cancelled", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.pair(t)
		w.request(t)
		_, err := w.seller.Cancel(ctx)
		require.NoError(t, err)
		requireLeft(t, w.seller, adv.Seller)
		w.requireLeaveRefused(t, payflow.StatePending, "")
		_, err = w.shopper.Decline(ctx)
		require.ErrorIs(t, err, payflow.ErrFinal)
		shown, err := w.shopper.Payment()
		require.NoError(t, err)
		require.Equal(t, payflow.StateCancelled, shown.State)
		requireLeft(t, w.shopper, adv.Shopper)
		_, err = w.shopper.Payment()
		require.ErrorIs(t, err, payflow.ErrNoPayment, "off the screen")
	})
	t.Run("held", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, true)
		id := w.pairAndHold(t)
		w.requireLeaveRefused(t, payflow.StatePending, payflow.StateHeld)
		rc, err := w.seller.Capture(ctx, 0)
		require.NoError(t, err)
		require.Equal(t, uint64(690), rc.Amount)
		requireLeft(t, w.seller, adv.Seller)
		_, err = w.seller.Status(ctx)
		require.ErrorIs(t, err, payflow.ErrNoPayment, "off the screen")
		// The shopper's approval, which stopped waiting, collects the
		// receipt.
		rc, err = w.shopper.Approve(ctx, simcardtest.PIN)
		require.NoError(t, err)
		assert.Equal(t, id[:], rc.RequestID)
		requireLeft(t, w.shopper, adv.Shopper)
	})
}

// TestPhoneLeaveNotPaired: after Leave, the calls that need a paired
// session fail with ErrNotPaired, as before any Select, the request on
// screen is gone (ErrNoPayment), and the queue shows no peer selected.
func TestPhoneLeaveNotPaired(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	w.purchase(t)
	require.NoError(t, w.shopper.Leave())
	require.NoError(t, w.seller.Leave())

	_, err := w.seller.Request(ctx, basket)
	require.Equal(t, payflow.ErrNotPaired, err)
	_, err = w.seller.WaitPaired(ctx)
	require.Equal(t, payflow.ErrNotPaired, err)
	_, err = w.shopper.WaitPaired(ctx)
	require.Equal(t, payflow.ErrNotPaired, err)
	_, err = w.shopper.WaitPayment(ctx)
	require.Equal(t, payflow.ErrNotPaired, err)
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.Equal(t, payflow.ErrNoPayment, err)
	_, err = w.shopper.Payment()
	require.Equal(t, payflow.ErrNoPayment, err)
	_, err = w.seller.Status(ctx)
	require.Equal(t, payflow.ErrNoPayment, err)
	_, err = w.seller.Cancel(ctx)
	require.Equal(t, payflow.ErrNoPayment, err)

	for _, p := range []interface {
		Peers(context.Context) ([]payflow.QueueEntry, error)
	}{w.shopper, w.seller} {
		peers, err := p.Peers(ctx)
		require.NoError(t, err)
		require.Len(t, peers, 1)
		assert.False(t, peers[0].Selected, "no session selected")
	}
}

// requireWaitEndsAtLeave checks that wait, a call of w's shopper that
// waits in its session, fails with ErrNotPaired (the session left, or
// another selected) after the read that leaves the session: *hook, a
// hook of api, has the shopper leave, and a read after it would end
// wait's context.
func (w *phoneWorld) requireWaitEndsAtLeave(t *testing.T, api *hookAPI, hook *func(), wait func(context.Context) error) {
	t.Helper()
	waiting, cancel := withCancelCause(context.Background())
	defer cancel()
	api.mu.Lock()
	*hook = func() {
		assert.NoError(t, w.shopper.Leave())
		api.mu.Lock()
		*hook = cancel
		api.mu.Unlock()
	}
	api.mu.Unlock()
	require.Equal(t, payflow.ErrReselected, wait(waiting))
	assert.NoError(t, waiting.Err(), "read once")
}

// TestPhoneLeaveEndsWaits: a call waiting in the session left ends with
// ErrNotPaired (the session left, or another selected) after the read
// it is making: a WaitPaired, a shopper's WaitPayment, and a seller's
// Request answered after Leave, whose request is withdrawn.
func TestPhoneLeaveEndsWaits(t *testing.T) {
	ctx := context.Background()
	t.Run("WaitPaired", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		api := &hookAPI{API: w.f.Platform}
		w.useShopper(t, api)
		w.shopperSelects(t)
		w.requireWaitEndsAtLeave(t, api, &api.session, func(ctx context.Context) error {
			_, err := w.shopper.WaitPaired(ctx)
			return err
		})
	})
	t.Run("WaitPayment", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		api := &hookAPI{API: w.f.Platform}
		w.useShopper(t, api)
		c := w.pair(t)
		api.paymentID = payflow.SessionRequestID(c.SessionID, 0)
		w.requireWaitEndsAtLeave(t, api, &api.payment, func(ctx context.Context) error {
			_, err := w.shopper.WaitPayment(ctx)
			return err
		})
	})
	t.Run("Request", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		api := &hookAPI{API: w.f.Platform}
		w.useSeller(t, api)
		c := w.pair(t)
		api.create = func() { assert.NoError(t, w.seller.Leave()) }
		_, err := w.seller.Request(ctx, basket)
		require.Equal(t, payflow.ErrReselected, err)
		id := payflow.SessionRequestID(c.SessionID, 0)
		w.assertState(t, id, payflow.StateCancelled, "withdrawn")
		_, err = w.seller.Status(ctx)
		require.ErrorIs(t, err, payflow.ErrNoPayment, "not on screen")
		assert.Equal(t, adv.Flags(0), advertFlags(t, w.seller, adv.Seller))
	})
}

// TestPhoneLeaveSelectAgain: phones that left a session after a purchase
// and select each other again in the same EID epoch land in the same
// session, paired and busy again, where the seller's next request takes
// the index after the one paid at once, the card signing no request
// under a request ID used before, and the shopper pays it.
func TestPhoneLeaveSelectAgain(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &createCounter{API: w.f.Platform}
	w.useSeller(t, api)
	c := w.pair(t)
	w.purchase(t)
	require.Equal(t, int32(1), api.calls.Load())
	require.NoError(t, w.seller.Leave())
	require.NoError(t, w.shopper.Leave())

	again := w.pair(t)
	require.Equal(t, c.SessionID, again.SessionID, "the same EIDs, the same session")
	assert.Equal(t, adv.FlagBusy, advertFlags(t, w.seller, adv.Seller))
	assert.Equal(t, adv.FlagBusy, advertFlags(t, w.shopper, adv.Shopper))
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), sv.ID)
	assert.Equal(t, int32(2), api.calls.Load(), "no request signed at the index taken")
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, sv.ID, screen.ID)
	rc, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, sv.ID[:], rc.RequestID)
}

// TestPhoneLeaveConcurrent: Leave made at once with the phones' other
// calls, and with itself, leaves the session: each call ends as it does
// in the session or after Leave, and then neither phone is busy or
// paired. The calls run in a bubble (testing/synctest) with a deadline
// of its clock, which passes only while every call waits: a WaitPayment
// that goes on polling the session left fails at it instead of waiting
// for ever.
func TestPhoneLeaveConcurrent(t *testing.T) {
	synctest.Test(t, phoneLeaveConcurrent)
}

// phoneLeaveConcurrent is TestPhoneLeaveConcurrent in its bubble.
func phoneLeaveConcurrent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	w.purchase(t)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { assert.NoError(t, w.shopper.Leave()) })
		wg.Go(func() { assert.NoError(t, w.seller.Leave()) })
		wg.Go(func() {
			_, err := w.shopper.Advert()
			assert.NoError(t, err)
			_, err = w.seller.Advert()
			assert.NoError(t, err)
		})
		wg.Go(func() {
			c, err := w.shopper.WaitPaired(ctx)
			if err == nil {
				assert.True(t, c.Paired)
			} else {
				assert.Equal(t, payflow.ErrNotPaired, err)
			}
		})
		wg.Go(func() {
			// No request comes: it waits in the session until it sees
			// the session left, or finds none selected.
			_, err := w.shopper.WaitPayment(ctx)
			assert.ErrorIs(t, err, payflow.ErrNotPaired, "WaitPayment in the session left")
		})
		wg.Go(func() {
			v, err := w.seller.Status(ctx)
			if err == nil {
				assert.Equal(t, payflow.StateCaptured, v.State)
			} else {
				assert.Equal(t, payflow.ErrNoPayment, err)
			}
		})
		wg.Go(func() {
			v, err := w.shopper.Payment()
			if err == nil {
				t.Errorf("a request on screen after the purchase: %v", v.State)
			} else {
				assert.Equal(t, payflow.ErrNoPayment, err)
			}
		})
		wg.Go(func() {
			peers, err := w.seller.Peers(ctx)
			assert.NoError(t, err)
			assert.Len(t, peers, 1)
		})
	}
	wg.Wait()
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.shopper, adv.Shopper))
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.seller, adv.Seller))
	_, err := w.seller.Request(ctx, basket)
	require.Equal(t, payflow.ErrNotPaired, err)
	_, err = w.shopper.WaitPaired(ctx)
	require.Equal(t, payflow.ErrNotPaired, err)
}
