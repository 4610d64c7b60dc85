package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestSellerWithdrawalAnsweredEnded: a Request whose withdrawal of the
// request on screen the platform answers with the view of that request
// ended (captured, declined, expired), and no error, which is no
// cancellation, reads the request again as after an answer ErrFinal or
// ErrExpired, and goes on with what the read shows: here cancelled, so
// the request is not reported paid and the new one takes the screen.
func TestSellerWithdrawalAnsweredEnded(t *testing.T) {
	ctx := context.Background()
	for _, answered := range []string{payflow.StateCaptured, payflow.StateDeclined, payflow.StateExpired} {
		t.Run(answered, func(t *testing.T) {
			w, api, sv := newRestateWorldAsking(t)
			api.set(&api.cancelled, answered)
			v, err := w.seller.Request(ctx, payflow.Charge{Amount: 200, Currency: "EUR"})
			api.set(&api.cancelled, "")
			require.NoError(t, err, "the request read cancelled")
			assert.NotEqual(t, sv.ID, v.ID)
			on, err := w.seller.Status(ctx)
			require.NoError(t, err)
			assert.Equal(t, v.ID, on.ID, "the new request on screen")
			assert.Equal(t, payflow.StatePending, on.State)
		})
	}
}
