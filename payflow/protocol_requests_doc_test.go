package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestSellerLimitCheckedAgainAfterWithdrawal pins PROTOCOL.md §5.6: a
// seller phone checks that it keeps fewer than MaxHeld requests "again
// before its card signs, as withdrawing them may keep more (one found
// `held`)". With MaxHeld-1 held requests kept, the request on screen,
// last seen pending, was approved since (held, its consent's reply lost):
// the next Request passes the check made before it withdraws, finds that
// request held as it withdraws it, leaves it so and keeps it, and then
// fails with ErrLimit before the card signs: no request is made at the
// next index, and the one on screen stays held, on screen and in Held.
func TestSellerLimitCheckedAgainAfterWithdrawal(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	c := w.pair(t)
	for i := range payflow.MaxHeld - 1 {
		w.holdAt(t, c, i)
	}
	require.Len(t, mustHeld(t, w.seller), payflow.MaxHeld-1)

	// A shopper phone of its own, whose consent reaches the platform
	// and whose reply is lost: the seller phone is told nothing.
	api := &faultAPI{API: w.f.Platform}
	w.useShopper(t, api)
	require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")
	charge := payflow.Charge{Amount: 10, Currency: "EUR"}
	sv, err := w.seller.Request(ctx, charge)
	require.NoError(t, err)
	require.Equal(t, payflow.SessionRequestID(c.SessionID, payflow.MaxHeld-1), sv.ID)
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, sv.ID, screen.ID)
	api.approve.reply.failNextWith(payflow.ErrUnavailable)
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	w.assertState(t, sv.ID, payflow.StateHeld, "approved, the seller phone not told")
	require.Len(t, mustHeld(t, w.seller), payflow.MaxHeld-1, "the request on screen last seen pending")

	_, err = w.seller.Request(ctx, charge)
	require.ErrorIs(t, err, payflow.ErrLimit)
	w.requireNoRequestAt(t, c.SessionID, payflow.MaxHeld) // the card signed none
	w.assertState(t, sv.ID, payflow.StateHeld, "left held")
	on, err := w.seller.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, sv.ID, on.ID, "still on screen")
	assert.Equal(t, payflow.StateHeld, on.State)
	held := mustHeld(t, w.seller)
	require.Len(t, held, payflow.MaxHeld, "kept among the held requests")
	assert.Equal(t, sv.ID, held[len(held)-1].ID)
}

// TestSellerTakenIndexWhileApprovedHeldVoided pins PROTOCOL.md §5.6: at an
// index that a request of an earlier run of the seller phone holds, the
// seller cancels that request while it is pending, and "one whose
// approval under way ends `held` as it is cancelled has that hold
// voided". The earlier run's request, recorded after the new run's
// pairing (which cancelled nothing then), is approved by the shopper for
// a merchant that captures manually; while the platform settles that
// approval, the new run's Request finds index 0 taken, is answered
// conflict to its cancellation, waits for the settlement to end, held,
// and cancels the request, its hold voided: no money moves, the phone
// keeps no hold, and it asks at index 1, the request that the shopper is
// shown next.
func TestSellerTakenIndexWhileApprovedHeldVoided(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var api payflow.API // the platform behind the seller's conflict hook
	w := newSettlingWorld(t, true, func(a payflow.API) payflow.API { api = a; return a })
	earlierRun := w.seller
	w.useSeller(t, api)
	c := w.pair(t)
	earlier, err := earlierRun.Request(ctx, basket)
	require.NoError(t, err)
	require.Equal(t, payflow.SessionRequestID(c.SessionID, 0), earlier.ID, "the same session again")
	require.Equal(t, payflow.StatePending, earlier.State, "recorded after the pairing")
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, earlier.ID, screen.ID)
	approved := w.approve(ctx, t)

	sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	within(t, w.conflicted, "the cancellation answered conflict")
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), sv.ID, "the index after the taken one")
	w.assertState(t, earlier.ID, payflow.StateCancelled, "held, then cancelled")
	require.ErrorIs(t, within(t, approved, "the approval"), payflow.ErrFinal)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID), "the hold voided")
	assert.Equal(t, payflow.Balance{}, w.balance(t, phoneMerchant))
	assert.Empty(t, mustHeld(t, w.seller), "no hold kept")
	next, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	assert.Equal(t, sv.ID, next.ID, "the shopper is shown the new request")
}
