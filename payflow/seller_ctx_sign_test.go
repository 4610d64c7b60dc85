package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestSellerRequestWhoseContextEndsSignsNothing: a Request whose context
// ends after it began, here as it withdraws the request on screen, with
// an API (a Platform in process) that does not look at the context,
// fails with the context's error before the card signs: the card signs
// nothing, the platform records no request, the request on screen is
// withdrawn (cancelled, off the screen) as before a refusal then, and
// the next Request takes the index after it.
func TestSellerRequestWhoseContextEndsSignsNothing(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	c := w.pair(t)
	first, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	ending, cancel := withCancelCause(ctx)
	defer cancel()
	payflow.OnScreenRead(w.seller, cancel)
	counter, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	sv, err := w.seller.Request(ending, basket)
	require.ErrorIs(t, err, errCallerGone)
	assert.Nil(t, sv)
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, counter, after, "the card signed no request")
	next := payflow.SessionRequestID(c.SessionID, 1)
	_, err = w.f.Platform.Store().Payment(ctx, next)
	require.ErrorIs(t, err, payflow.ErrNotFound, "no request recorded")
	w.assertState(t, first.ID, payflow.StateCancelled, "withdrawn before the context was looked at")
	_, err = w.seller.Status(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment, "off the screen")

	sv, err = w.seller.Request(ctx, basket)
	require.NoError(t, err)
	assert.Equal(t, next, sv.ID)
	w.requireShopperPays(t, sv, 690)
}
