package sim

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// forging is a platform that answers one call (approve, capture, refund,
// payment) with the receipt of its reply altered: the last byte of its
// signature flipped. It counts those replies in n.
type forging struct {
	payflow.API
	call string
	n    *int
}

// forged is v with its receipt altered when call is the one f alters.
func (f forging) forged(call string, v *payflow.PaymentView) *payflow.PaymentView {
	if v == nil || v.Receipt == nil || call != f.call {
		return v
	}
	*f.n++
	c := *v
	c.Receipt = flipped(v.Receipt)
	return &c
}

// flipped is a copy of msg with its last byte flipped.
func flipped(msg []byte) []byte {
	msg = bytes.Clone(msg)
	msg[len(msg)-1] ^= 1
	return msg
}

func (f forging) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	v, err := f.API.Approve(ctx, req)
	return f.forged("approve", v), err
}

func (f forging) Capture(ctx context.Context, token string, req *payflow.CaptureRequest) (*payflow.PaymentView, error) {
	v, err := f.API.Capture(ctx, token, req)
	return f.forged("capture", v), err
}

func (f forging) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	v, err := f.API.Payment(ctx, token, id)
	return f.forged("payment", v), err
}

func (f forging) Refund(ctx context.Context, req *payflow.RefundRequest) (*payflow.RefundView, error) {
	v, err := f.API.Refund(ctx, req)
	if v == nil || f.call != "refund" {
		return v, err
	}
	*f.n++
	c := *v
	c.Receipt = flipped(v.Receipt)
	return &c, err
}

// TestRepliedReceiptsAreChecked runs worlds without faults whose platform
// alters the receipt of the replies to one call, and checks that the
// phones refuse the first such reply they get, by its receipt: the
// approval that captured, the capture by hand, the refund, the payment
// screen of a captured request.
func TestRepliedReceiptsAreChecked(t *testing.T) {
	for _, tt := range []struct{ call, prefix string }{
		{"approve", "receipt of "},
		{"capture", "receipt of "},
		{"refund", "refund receipt of "},
		{"payment", "receipt of "},
	} {
		t.Run(tt.call, func(t *testing.T) {
			w := calmWorld(t, 9)
			var n int
			w.api = forging{API: w.api, call: tt.call, n: &n}
			var err error
			for w.step = 1; err == nil && w.step < 500; w.step++ {
				err = w.randomStep()
			}
			var f *Failure
			require.ErrorAs(t, err, &f, "a forged receipt of %s in 500 steps", tt.call)
			assert.Contains(t, f.Detail, "was not signed by the key of the chain it carries")
			assert.True(t, strings.HasPrefix(f.Detail, tt.prefix), "%s", f.Detail)
			assert.Equal(t, 1, n, "replies forged")
		})
	}
}
