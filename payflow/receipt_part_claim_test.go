package payflow_test

import (
	"context"
	"testing"

	"github.com/casimpay/casimpay/payflow"
)

// firstClaimAPI shows every view that is not captured as one of a
// merchant that captures manually, as a platform that misstates how its
// merchant captures would until it captures.
type firstClaimAPI struct{ payflow.API }

func (a firstClaimAPI) claim(v *payflow.PaymentView, err error) (*payflow.PaymentView, error) {
	if err != nil || v.State == payflow.StateCaptured {
		return v, err
	}
	c := *v
	c.ManualCapture = true
	return &c, nil
}

func (a firstClaimAPI) CreateRequest(ctx context.Context, req *payflow.CreateRequest) (*payflow.PaymentView, error) {
	return a.claim(a.API.CreateRequest(ctx, req))
}

func (a firstClaimAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	return a.claim(a.API.Approve(ctx, req))
}

func (a firstClaimAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	return a.claim(a.API.Payment(ctx, token, id))
}

// TestPhonesRefusePartWhenOnlyFirstViewClaimsManual: for a merchant
// whose payments are captured automatically, a captured view that says so
// and its receipt, signed with the platform's key, that show part of the
// request's amount captured are ErrMismatch on both phones also when the
// views before the capture claimed a merchant that captures manually: a
// part is taken only when both views say so. Once the platform shows the
// payment as it holds it, each phone takes its receipt, the shopper
// charged once (requireRestatedRefused).
func TestPhonesRefusePartWhenOnlyFirstViewClaimsManual(t *testing.T) {
	for name, shopper := range map[string]bool{"shopper": true, "seller": false} {
		t.Run(name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			restated := newRestatedAPI(t, w.f.Platform, w.f.Key, 500, 500)
			w.requireRestatedRefused(t, firstClaimAPI{restated}, restated, shopper, nil)
		})
	}
}
