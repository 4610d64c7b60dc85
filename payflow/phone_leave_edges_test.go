package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestWaitPaymentOfKeptConsentEndsAtLeave: a shopper's WaitPayment that
// reads the request of a kept consent, a receipt to collect, while the
// phone leaves its session fails with ErrNotPaired after that read and
// puts nothing on screen, the phone as before any Select; the consent
// stays kept, and once the phones pair again WaitPayment shows that
// receipt to collect and Approve collects it.
func TestWaitPaymentOfKeptConsentEndsAtLeave(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	hook := &hookAPI{API: loseFirstApprove(w.f.Platform, payflow.ErrUnavailable)}
	w.useShopper(t, hook)
	w.pair(t)
	sv, _ := w.request(t)
	_, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	_, src, err := w.seller.Wait(ctx)
	require.NoError(t, err)
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, screen.State, "a receipt to collect")

	hook.mu.Lock()
	hook.paymentID = sv.ID
	hook.payment = func() { assert.NoError(t, w.shopper.Leave()) }
	hook.mu.Unlock()
	v, err := w.shopper.WaitPayment(ctx)
	require.Equal(t, payflow.ErrReselected, err)
	require.Nil(t, v)
	_, err = w.shopper.Payment()
	require.Equal(t, payflow.ErrNoPayment, err, "nothing on screen after Leave")
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.shopper, adv.Shopper))

	require.NoError(t, w.seller.Leave())
	w.pair(t)
	screen, err = w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, sv.ID, screen.ID, "the consent is still kept")
	require.Equal(t, payflow.StateCaptured, screen.State)
	rc, err := w.shopper.ApproveShown(ctx, screen, "")
	require.NoError(t, err)
	assert.Equal(t, src.Signed, rc.Signed)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
}

// TestLeaveZeroPhones: Leave of a Shopper and a Seller that are zero
// values, never made by NewShopper or NewSeller, with no session, queue
// or screen, is no error, also twice.
func TestLeaveZeroPhones(t *testing.T) {
	var shopper payflow.Shopper
	var seller payflow.Seller
	for range 2 {
		require.NoError(t, shopper.Leave())
		require.NoError(t, seller.Leave())
	}
}

// TestSellerLeaveBeforeRequestAnsweredPaid: a seller that leaves while
// its Request waits for the platform's answer, which the shopper pays
// before that answer comes, does not miss the payment: Request fails
// with ErrNotPaired and a *PaidError naming the request, which goes on
// the screen that Leave emptied with its receipt (Status, Wait), the
// seller not busy; Leave then takes it off.
func TestSellerLeaveBeforeRequestAnsweredPaid(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &hookAPI{API: w.f.Platform}
	w.useSeller(t, api)
	c := w.pair(t)
	id := payflow.SessionRequestID(c.SessionID, 0)
	var src *payflow.Receipt
	api.create = func() {
		assert.NoError(t, w.seller.Leave())
		screen, err := w.shopper.WaitPayment(ctx)
		if assert.NoError(t, err) {
			src, err = w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
			assert.NoError(t, err)
		}
	}
	_, err := w.seller.Request(ctx, basket)
	require.ErrorIs(t, err, payflow.ErrNotPaired)
	var paid *payflow.PaidError
	require.ErrorAs(t, err, &paid)
	require.Equal(t, id, paid.Payment.ID)
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.seller, adv.Seller))

	v, rc, err := w.seller.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, v.State)
	require.NotNil(t, src)
	assert.Equal(t, src.Signed, rc.Signed)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
	requireLeft(t, w.seller, adv.Seller)
	_, err = w.seller.Status(ctx)
	require.Equal(t, payflow.ErrNoPayment, err)
}

// TestSellerLeaveUnansweredRequestSeenAtCancel: a request whose answer
// was lost stays kept after Leave, and the shopper, still in the
// session, may pay it: Request, which needs a session, then fails with
// ErrNotPaired and sends nothing, and Cancel sends it again and reports
// it paid (*PaidError), the request on screen with its receipt.
func TestSellerLeaveUnansweredRequestSeenAtCancel(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &faultAPI{API: w.f.Platform}
	w.useSeller(t, api)
	c := w.pair(t)
	id := payflow.SessionRequestID(c.SessionID, 0)
	api.create.reply.failNextWith(payflow.ErrUnavailable)
	_, err := w.seller.Request(ctx, basket)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	requireLeft(t, w.seller, adv.Seller)

	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, id, screen.ID)
	src, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.NoError(t, err)

	_, err = w.seller.Request(ctx, basket)
	require.Equal(t, payflow.ErrNotPaired, err)
	require.Equal(t, 1, api.create.send.made(), "nothing sent again by a Request without a session")
	_, err = w.seller.Cancel(ctx)
	var paid *payflow.PaidError
	require.ErrorAs(t, err, &paid)
	require.Equal(t, id, paid.Payment.ID)
	require.Equal(t, 2, api.create.send.made(), "sent again by Cancel")
	v, rc, err := w.seller.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, v.State)
	assert.Equal(t, src.Signed, rc.Signed)
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.seller, adv.Seller))
}

// newCountedPairedWorld returns a world whose seller talks to the
// platform through a hookAPI over a createCounter, both returned, with the
// phones paired, the session's confirmation and the shopper's EID.
func newCountedPairedWorld(t *testing.T) (*phoneWorld, *hookAPI, *createCounter, *payflow.Confirmation, adv.EID) {
	t.Helper()
	w := newMemoryPhoneWorld(t, false)
	counted := &createCounter{API: w.f.Platform}
	api := &hookAPI{API: counted}
	w.useSeller(t, api)
	c := w.pair(t)
	shopperEID, err := w.shopper.EID()
	require.NoError(t, err)
	return w, api, counted, c, shopperEID
}

// TestSellerLeaveDuringSelectOfSameSession: a seller that leaves while a
// Select of the same shopper is under way (its pairing answered) shows
// that shopper selected all the while, and lands in the session at its
// next request index, kept at Leave: the next Request asks at once at
// the index after the one paid, no request signed at an index taken.
func TestSellerLeaveDuringSelectOfSameSession(t *testing.T) {
	ctx := context.Background()
	w, api, counted, c, shopperEID := newCountedPairedWorld(t)
	w.purchase(t)

	api.pair = func() {
		assert.NoError(t, w.seller.Leave())
		sel, ok := w.seller.Queue().Selected()
		if assert.True(t, ok, "the peer of the Select under way") {
			assert.Equal(t, shopperEID, sel.Packet.EID)
		}
		assert.Equal(t, adv.Flags(0), advertFlags(t, w.seller, adv.Seller))
	}
	again, err := w.seller.Select(ctx, shopperEID)
	require.NoError(t, err)
	require.Equal(t, c.SessionID, again.SessionID)
	assert.Equal(t, adv.FlagBusy, advertFlags(t, w.seller, adv.Seller))
	sel, ok := w.seller.Queue().Selected()
	require.True(t, ok)
	assert.Equal(t, shopperEID, sel.Packet.EID)

	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), sv.ID)
	assert.Equal(t, int32(2), counted.calls.Load(), "no request signed at the index taken")
}

// TestShopperLeaveRefusedDuringApproval: a shopper that tries to leave
// while its approval of the request on screen runs (as it reads the
// request before the card signs) is refused with ErrPaymentUnderWay:
// no consent is signed for a session left. Once the approval returned
// the receipt, Leave leaves.
func TestShopperLeaveRefusedDuringApproval(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &hookAPI{API: w.f.Platform}
	w.useShopper(t, api)
	w.pair(t)
	_, screen := w.request(t)
	api.mu.Lock()
	api.paymentID = screen.ID
	api.payment = func() {
		err := w.shopper.Leave()
		assert.ErrorIs(t, err, payflow.ErrPaymentUnderWay)
		assert.EqualError(t, err, leaveRefusal(payflow.StatePending))
	}
	api.mu.Unlock()
	rc, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, screen.ID[:], rc.RequestID)
	api.mu.Lock()
	assert.Nil(t, api.payment, "Leave tried during the approval")
	api.mu.Unlock()
	assert.Equal(t, adv.FlagBusy, advertFlags(t, w.shopper, adv.Shopper))
	requireLeft(t, w.shopper, adv.Shopper)
}

// TestWaitPairedAnsweredPairedAfterLeave: a WaitPaired whose read shows
// the session paired after the phone left it fails with ErrNotPaired and
// selects nothing: the phone is not busy, and a WaitPayment fails with
// ErrNotPaired.
func TestWaitPairedAnsweredPairedAfterLeave(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &hookAPI{API: w.f.Platform}
	w.useShopper(t, api)
	shopperEID, _ := w.shopperSelects(t)
	api.mu.Lock()
	api.session = func() {
		c, err := w.seller.Select(ctx, shopperEID)
		if assert.NoError(t, err) {
			assert.True(t, c.Paired)
		}
		assert.NoError(t, w.shopper.Leave())
	}
	api.mu.Unlock()
	_, err := w.shopper.WaitPaired(ctx)
	require.Equal(t, payflow.ErrReselected, err)
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.shopper, adv.Shopper))
	_, err = w.shopper.WaitPayment(ctx)
	require.Equal(t, payflow.ErrNotPaired, err)
}

// TestSellerStatusReadAsItLeaves: a Status of the final request on
// screen whose read the platform answers as the seller leaves returns
// that view and leaves the screen empty, as Leave left it.
func TestSellerStatusReadAsItLeaves(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &hookAPI{API: w.f.Platform}
	w.useSeller(t, api)
	c := w.pair(t)
	w.purchase(t)
	api.mu.Lock()
	api.paymentID = payflow.SessionRequestID(c.SessionID, 0)
	api.payment = func() { assert.NoError(t, w.seller.Leave()) }
	api.mu.Unlock()
	v, err := w.seller.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, v.State)
	_, err = w.seller.Status(ctx)
	require.Equal(t, payflow.ErrNoPayment, err, "left off the screen")
	_, _, err = w.seller.Wait(ctx)
	require.Equal(t, payflow.ErrNoPayment, err)
}

// TestLeaveThenEarlierRequests: after Leave the calls on the request on
// screen fail with ErrNoPayment (a shopper's ApproveShown, DeclineShown
// and Decline of the request it showed; a seller's Capture and Refund),
// while those that name an earlier request by its ID need no session: a
// seller's CaptureHeld of a request held before, Held, and RefundPayment
// of it once captured.
func TestLeaveThenEarlierRequests(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	held := w.pairAndHold(t)
	shown, err := w.shopper.Payment()
	require.NoError(t, err)
	w.requireLeaveRefused(t, payflow.StatePending, payflow.StateHeld)
	// Another request takes the seller's screen, the held one kept.
	_, err = w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	v, err := w.seller.Cancel(ctx)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCancelled, v.State)
	requireLeft(t, w.seller, adv.Seller)
	w.requireLeaveRefused(t, payflow.StatePending, "")

	_, err = w.seller.Capture(ctx, 0)
	require.Equal(t, payflow.ErrNoPayment, err)
	_, err = w.seller.Refund(ctx, 100)
	require.Equal(t, payflow.ErrNoPayment, err)
	kept, err := w.seller.Held(ctx)
	require.NoError(t, err)
	require.Len(t, kept, 1)
	require.Equal(t, held, kept[0].ID)
	rc, err := w.seller.CaptureHeld(ctx, held, 0)
	require.NoError(t, err)
	assert.Equal(t, uint64(690), rc.Amount)
	rrc, err := w.seller.RefundPayment(ctx, held, 100)
	require.NoError(t, err)
	assert.Equal(t, uint64(100), rrc.Amount)
	assert.Equal(t, held[:], rrc.RequestID)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 590}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	kept, err = w.seller.Held(ctx)
	require.NoError(t, err)
	assert.Empty(t, kept)
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.seller, adv.Seller))

	// The shopper's approval collects the receipt; then it leaves, and
	// the request it showed is no longer on screen.
	src, err := w.shopper.ApproveShown(ctx, shown, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, rc.Signed, src.Signed)
	requireLeft(t, w.shopper, adv.Shopper)
	_, err = w.shopper.ApproveShown(ctx, shown, simcardtest.PIN)
	require.Equal(t, payflow.ErrNoPayment, err)
	_, err = w.shopper.DeclineShown(ctx, shown)
	require.Equal(t, payflow.ErrNoPayment, err)
	_, err = w.shopper.Decline(ctx)
	require.Equal(t, payflow.ErrNoPayment, err)
}

// TestSellerLeaveAndSelectAgainBeforeRequestAnswered: a seller that
// leaves while its Request waits for the answer, and selects the same
// shopper again before it comes, lands in the same session, where the
// Request goes on: its request goes on screen, where Status shows it
// cancelled by that pairing (the platform cancels the session's pending
// requests at a seller's pairing), and the next Request takes the index
// after it, no request signed at an index taken.
func TestSellerLeaveAndSelectAgainBeforeRequestAnswered(t *testing.T) {
	ctx := context.Background()
	w, api, counted, c, shopperEID := newCountedPairedWorld(t)
	api.create = func() {
		assert.NoError(t, w.seller.Leave())
		assert.Equal(t, adv.Flags(0), advertFlags(t, w.seller, adv.Seller))
		again, err := w.seller.Select(ctx, shopperEID)
		if assert.NoError(t, err) {
			assert.Equal(t, c.SessionID, again.SessionID)
		}
	}
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	require.Equal(t, payflow.SessionRequestID(c.SessionID, 0), sv.ID)
	assert.Equal(t, payflow.StatePending, sv.State, "as recorded, before the pairing")
	assert.Equal(t, adv.FlagBusy, advertFlags(t, w.seller, adv.Seller))
	st, err := w.seller.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, st.State, "on screen, cancelled by the pairing")

	next, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), next.ID)
	assert.Equal(t, int32(2), counted.calls.Load(), "no request signed at the index taken")
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, next.ID, screen.ID, "the cancelled one skipped")
}

// TestSellerLeaveThenSelectAgainNextEpoch: phones that left their
// session and pair again in the next EID epoch open another session,
// whose first request is at index 0, and the shopper pays it; the
// session left keeps its requests, none asked again.
func TestSellerLeaveThenSelectAgainNextEpoch(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	api := &createCounter{API: w.f.Platform}
	w.useSeller(t, api)
	c := w.pair(t)
	w.purchase(t)
	require.NoError(t, w.seller.Leave())
	require.NoError(t, w.shopper.Leave())
	toNextEpoch(t, w.f, 0)

	again := w.pair(t)
	require.NotEqual(t, c.SessionID, again.SessionID, "other EIDs, another session")
	sv, err := w.seller.Request(context.Background(), basket)
	require.NoError(t, err)
	require.Equal(t, payflow.SessionRequestID(again.SessionID, 0), sv.ID)
	w.requireShopperPays(t, sv, 2*690)
	assert.Equal(t, int32(2), api.calls.Load(), "one request in each session")
	w.assertState(t, payflow.SessionRequestID(c.SessionID, 0), payflow.StateCaptured)
	w.assertState(t, payflow.SessionRequestID(again.SessionID, 0), payflow.StateCaptured)
	w.requireNoRequestAt(t, c.SessionID, 1)
	requireLeft(t, w.seller, adv.Seller)
	requireLeft(t, w.shopper, adv.Shopper)
}

// TestShopperLeaveAfterWaitPaymentSawRequestEnded: a shopper's
// WaitPayment that reads the request on screen cancelled, as it moves
// past it, shows it so: Payment shows it cancelled, and Leave leaves,
// the phone having last seen it ended.
func TestShopperLeaveAfterWaitPaymentSawRequestEnded(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &hookAPI{API: w.f.Platform}
	w.useShopper(t, api)
	c := w.pair(t)
	sv, _ := w.request(t)
	_, err := w.seller.Cancel(ctx)
	require.NoError(t, err)

	waiting, cancel := withCancelCause(ctx)
	defer cancel()
	api.mu.Lock()
	api.paymentID = payflow.SessionRequestID(c.SessionID, 1)
	api.payment = cancel // no request after the one cancelled
	api.mu.Unlock()
	_, err = w.shopper.WaitPayment(waiting)
	require.ErrorIs(t, err, context.Canceled)
	shown, err := w.shopper.Payment()
	require.NoError(t, err)
	require.Equal(t, sv.ID, shown.ID)
	assert.Equal(t, payflow.StateCancelled, shown.State)
	requireLeft(t, w.shopper, adv.Shopper)
}
