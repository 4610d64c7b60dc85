package demo

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/examples/internal/outwait"
	"github.com/casimpay/casimpay/payflow"
)

// TestDone: Done, while the payment request on the phone's screen is
// pending, fails with payflow.ErrPaymentUnderWay, showing nothing, the
// phone still busy; once the purchase ended, the receipt shown, it
// leaves the session, says so on the phone's screen, and the phone's
// station no longer sends busy.
func TestDone(t *testing.T) {
	ctx, cancel := outwait.Context(t)
	defer cancel()
	w := newPairedPhones(ctx, t, nil, nil)
	_, err := w.till.Charge(ctx, "Alice", GroceryBasket, nil)
	require.NoError(t, err)
	v, err := w.alice.AwaitRequest(ctx)
	require.NoError(t, err)
	w.out.Reset()
	require.ErrorIs(t, w.alice.Done("Corner Grocer"), payflow.ErrPaymentUnderWay)
	require.ErrorIs(t, w.till.Done("Alice"), payflow.ErrPaymentUnderWay)
	assert.Empty(t, w.out.String())
	assert.Equal(t, adv.FlagBusy, flagsAt(t, w.alice.Station, WallClock()))
	assert.Equal(t, adv.FlagBusy, flagsAt(t, w.till.Station, WallClock()))

	_, err = w.alice.Approve(ctx, v, PIN)
	require.NoError(t, err)
	_, _, err = w.till.AwaitSettled(ctx)
	require.NoError(t, err)
	w.out.Reset()
	require.NoError(t, w.alice.Done("Corner Grocer"))
	require.NoError(t, w.till.Done("Alice"))
	assert.Equal(t, "[shopper] Done with Corner Grocer: the phone leaves the session, and its advert no longer says busy\n"+
		"[seller]  Done with Alice: the phone leaves the session, and its advert no longer says busy\n", w.out.String())
	assert.Equal(t, adv.Flags(0), flagsAt(t, w.alice.Station, WallClock()))
	assert.Equal(t, adv.Flags(0), flagsAt(t, w.till.Station, WallClock()))
}
