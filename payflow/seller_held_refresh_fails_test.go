package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestSellerRequestWhileHeldReadFails: with MaxHeld held requests kept,
// a Request whose read of a held one (to learn whether it ended) fails
// fails with that error before the card signs another request; read
// again, the holds still live, it is ErrLimit.
func TestSellerRequestWhileHeldReadFails(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	api := &hookAPI{API: w.f.Platform}
	w.useSeller(t, api)
	c := w.pair(t)
	for i := range payflow.MaxHeld {
		w.holdAt(t, c, i)
	}
	held := mustHeld(t, w.seller)
	require.Len(t, held, payflow.MaxHeld)
	counter, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)

	api.paymentID, api.paymentErr = held[0].ID, payflow.ErrUnavailable
	v, err := w.seller.Request(ctx, payflow.Charge{Amount: 10, Currency: "EUR"})
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.Nil(t, v)
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, counter, after, "the card signed nothing")
	_, err = w.f.Platform.Store().Payment(ctx, payflow.SessionRequestID(c.SessionID, payflow.MaxHeld))
	require.ErrorIs(t, err, payflow.ErrNotFound, "no request made")

	_, err = w.seller.Request(ctx, payflow.Charge{Amount: 10, Currency: "EUR"})
	require.ErrorIs(t, err, payflow.ErrLimit)
	assert.Len(t, mustHeld(t, w.seller), payflow.MaxHeld, "no hold dropped")
}
