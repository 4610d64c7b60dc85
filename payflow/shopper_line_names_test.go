package payflow_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// TestPaymentScreenRefusesLineNamesNoRecordCarries: a payment view whose
// line names are of a form that no receipt carries (record.CheckName: a
// bidirectional formatting character, which can make the screen show a
// line in another order than the platform holds it, a control character,
// too long), which the platform never sets in a catalog, is ErrMismatch:
// the shopper phone puts nothing on screen, and shows the request once the
// platform shows it as it holds it.
func TestPaymentScreenRefusesLineNamesNoRecordCarries(t *testing.T) {
	ctx := context.Background()
	for name, bad := range map[string]string{
		"bidirectional": "Sourdough\u202ebread",
		"control":       "Sourdough\nbread",
		"too long":      strings.Repeat("b", record.MaxText+1),
		"empty":         "",
	} {
		t.Run(name, func(t *testing.T) {
			w, api := newTamperWorld(t)
			w.pair(t)
			sv, err := w.seller.Request(ctx, basket)
			require.NoError(t, err)
			api.payment = func(v *payflow.PaymentView) { v.Lines[1].Name = bad }
			screen, err := w.shopper.WaitPayment(ctx)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.Nil(t, screen)
			_, err = w.shopper.Payment()
			require.ErrorIs(t, err, payflow.ErrNoPayment)

			api.payment = nil
			screen, err = w.shopper.WaitPayment(ctx)
			require.NoError(t, err)
			assert.Equal(t, sv.ID, screen.ID)
			assert.Equal(t, "Sourdough bread", screen.Lines[1].Name)
		})
	}
}

// TestSellerRefusesLineNamesNoRecordCarries: the platform's answer to a
// payment request whose line names are of a form that no receipt carries
// is ErrMismatch, as a view of another request is: the request goes on no
// screen, and is kept to be withdrawn, so that the next Request, answered
// as the platform holds it, cancels it before it asks again.
func TestSellerRefusesLineNamesNoRecordCarries(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	bad := true
	w.useSeller(t, &misfiledAPI{API: w.f.Platform, key: w.f.Key, alter: func(v *payflow.PaymentView, _ *record.Receipt) {
		if bad {
			v.Lines = slices.Clone(v.Lines)
			v.Lines[1].Name = "Sourdough\u202ebread"
		}
	}})
	c := w.pair(t)
	sv, err := w.seller.Request(ctx, basket)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Nil(t, sv)
	_, err = w.seller.Status(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment)

	bad = false
	sv, err = w.seller.Request(ctx, basket)
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), sv.ID)
	w.assertState(t, payflow.SessionRequestID(c.SessionID, 0), payflow.StateCancelled, "withdrawn")
}
