package payflow_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// otherLines are alterations of a view of basket that show other lines
// or legs than the seller's card signed, the amount unchanged.
var otherLines = []struct {
	name  string
	alter func(*payflow.PaymentView)
}{
	{"another quantity", func(v *payflow.PaymentView) {
		v.Lines = slices.Clone(v.Lines)
		v.Lines[0].Quantity, v.Lines[0].Amount = 1, v.Lines[0].UnitPrice
		v.Lines[1].Amount += v.Lines[0].UnitPrice
	}},
	{"a line dropped", func(v *payflow.PaymentView) {
		v.Lines = []payflow.Line{{SKU: "bread", Name: "Bread", Quantity: 1, UnitPrice: v.Amount, Amount: v.Amount}}
	}},
	{"a leg added", func(v *payflow.PaymentView) {
		v.Legs = []payflow.AssetLeg{{Asset: "points", Amount: 5}}
	}},
}

// TestSellerRequestAnsweredWithOtherLines: a Request whose answer shows
// the request with other lines or legs than the seller's card signed is
// the view of another request (ErrMismatch): it goes on no screen, and
// the request, which may be recorded, is kept to be withdrawn, as one
// answered with another amount is; the next Request sends it again,
// cancels it and goes on at the next index.
func TestSellerRequestAnsweredWithOtherLines(t *testing.T) {
	ctx := context.Background()
	for _, tt := range otherLines {
		t.Run(tt.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			api := &hookAPI{API: w.f.Platform}
			w.useSeller(t, api)
			c := w.pair(t)
			api.mu.Lock()
			api.view = tt.alter
			api.mu.Unlock()
			v, err := w.seller.Request(ctx, basket)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.Nil(t, v)
			_, err = w.seller.Status(ctx)
			require.ErrorIs(t, err, payflow.ErrNoPayment, "nothing on screen")

			v, err = w.seller.Request(ctx, basket)
			require.NoError(t, err)
			assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), v.ID)
			w.assertState(t, payflow.SessionRequestID(c.SessionID, 0), payflow.StateCancelled)
		})
	}
}

// TestSellerStatusWithOtherLines: a read of the request on screen that
// shows it with other lines or legs than the seller's card signed is not
// a view of that request (ErrMismatch): the screen stays as it was.
func TestSellerStatusWithOtherLines(t *testing.T) {
	ctx := context.Background()
	for _, tt := range otherLines {
		t.Run(tt.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			reads := &tamperAPI{API: w.f.Platform}
			w.useSeller(t, reads)
			w.pair(t)
			sv, err := w.seller.Request(ctx, basket)
			require.NoError(t, err)
			reads.payment = tt.alter
			_, err = w.seller.Status(ctx)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			reads.payment = nil
			on, err := w.seller.Status(ctx)
			require.NoError(t, err)
			assert.Equal(t, sv.Lines, on.Lines)
			assert.Equal(t, sv.Legs, on.Legs)
			var r record.PaymentRequest
			require.NoError(t, record.Open(on.Request, &r))
			require.Len(t, on.Lines, len(r.Items))
			for i, it := range r.Items {
				assert.Equal(t, it.SKU, on.Lines[i].SKU)
				assert.Equal(t, it.Quantity, on.Lines[i].Quantity)
			}
		})
	}
}
