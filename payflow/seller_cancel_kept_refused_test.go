package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestSellerCancelKeptRequestRefused: Cancel after a Request that got no
// verdict (the platform down), the request never recorded, sends it again;
// the platform refuses it, its session expired meanwhile, so that nothing
// was recorded: Cancel fails with ErrNoPayment, and nothing is left to
// cancel after it.
func TestSellerCancelKeptRequestRefused(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &faultAPI{API: w.f.Platform}
	w.useSeller(t, api)
	c := w.pair(t)
	api.create.send.failAllWith(payflow.ErrUnavailable)
	_, err := w.seller.Request(ctx, basket)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	api.create.send.disarm()
	w.f.Clock.Advance(c.ExpiresAt.Sub(w.f.Clock.Now()) + time.Second)

	v, err := w.seller.Cancel(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment)
	assert.ErrorContains(t, err, "never recorded")
	assert.Nil(t, v)
	_, err = w.f.Platform.Store().Payment(ctx, payflow.SessionRequestID(c.SessionID, 0))
	require.ErrorIs(t, err, payflow.ErrNotFound, "no request recorded")
	_, err = w.seller.Cancel(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment, "nothing left to cancel")
	assert.NotContains(t, err.Error(), "never recorded")
}
