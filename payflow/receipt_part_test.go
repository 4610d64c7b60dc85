package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// manualClaimAPI shows every captured view as one of a merchant that
// captures manually, as a platform that misstates how its merchant
// captures would.
type manualClaimAPI struct{ payflow.API }

func (a manualClaimAPI) claim(v *payflow.PaymentView, err error) (*payflow.PaymentView, error) {
	if err != nil || v.State != payflow.StateCaptured {
		return v, err
	}
	c := *v
	c.ManualCapture = true
	return &c, nil
}

func (a manualClaimAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	return a.claim(a.API.Approve(ctx, req))
}

func (a manualClaimAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	return a.claim(a.API.Payment(ctx, token, id))
}

// TestPhonesRefusePartOfAutoCapture: for a merchant whose payments are
// captured automatically (as the request's first view says), a captured
// view and a receipt signed with the platform's key that show part of the
// request's amount captured are ErrMismatch on both phones, also when the
// captured view claims a merchant that captures manually: the shopper's
// Approve keeps the consent, the seller's Wait keeps the request on screen
// as it was, not seen paid, and once the platform shows the payment as it
// holds it, each takes its receipt, the shopper charged once.
func TestPhonesRefusePartOfAutoCapture(t *testing.T) {
	for _, claim := range []bool{false, true} {
		for _, shopper := range []bool{true, false} {
			name := map[bool]string{false: "flag as recorded", true: "captured view claims manual capture"}[claim] +
				map[bool]string{true: "/shopper", false: "/seller"}[shopper]
			t.Run(name, func(t *testing.T) {
				w := newMemoryPhoneWorld(t, false)
				restated := newRestatedAPI(t, w.f.Platform, w.f.Key, 500, 500)
				var api payflow.API = restated
				if claim {
					api = manualClaimAPI{restated}
				}
				var id payflow.ID
				w.requireRestatedRefused(t, api, restated, shopper, func(sv *payflow.PaymentView) {
					if id = sv.ID; shopper {
						return
					}
					assert.False(t, payflow.SawPaid(w.seller, sv.ID), "not seen paid")
					screen := payflow.Screen(w.seller)
					require.NotNil(t, screen)
					assert.Equal(t, sv.ID, screen.ID)
					assert.Equal(t, payflow.StatePending, screen.State, "the screen as it was")
				})
				if !shopper {
					assert.True(t, payflow.SawPaid(w.seller, id), "seen paid with its receipt")
				}
			})
		}
	}
}
