package sim

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// errChanged is what changing answers a refused call sent again with.
var errChanged = fmt.Errorf("%w: changed", payflow.ErrUnavailable)

// changing is a platform that answers one call (create, approve,
// capture, refund) sent again, with the bytes it had in the same step
// (or, anyStep, in any step before), otherwise than it did: a reply of
// the outcome it alters (refused, else accepted) changed by view or
// refund, or for a refusal errChanged with no view. It counts the replies
// it changed in n.
type changing struct {
	payflow.API
	w       *world
	call    string
	refused bool
	anyStep bool
	view    func(v *payflow.PaymentView)
	refund  func(v *payflow.RefundView)
	seen    map[string]bool
	n       *int
}

// again reports whether to change the reply of call, whose request is
// key and whose outcome err, and marks key seen.
func (c changing) again(call string, key []byte, err error) bool {
	k := call + "|" + string(key)
	if !c.anyStep {
		k = fmt.Sprint(c.w.step, "|", k)
	}
	seen := c.seen[k]
	c.seen[k] = true
	if !seen || call != c.call || (err != nil) != c.refused {
		return false
	}
	*c.n++
	return true
}

// change is v, err or, when c changes this reply, v changed by alter.
func change[V any](c changing, call string, key []byte, v *V, err error, alter func(*V)) (*V, error) {
	if !c.again(call, key, err) {
		return v, err
	}
	if c.refused {
		return nil, errChanged
	}
	changed := *v
	alter(&changed)
	return &changed, nil
}

func (c changing) CreateRequest(ctx context.Context, req *payflow.CreateRequest) (*payflow.PaymentView, error) {
	v, err := c.API.CreateRequest(ctx, req)
	return change(c, "create", req.Request, v, err, c.view)
}

func (c changing) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	v, err := c.API.Approve(ctx, req)
	return change(c, "approve", req.Consent, v, err, c.view)
}

func (c changing) Capture(ctx context.Context, token string, req *payflow.CaptureRequest) (*payflow.PaymentView, error) {
	v, err := c.API.Capture(ctx, token, req)
	return change(c, "capture", fmt.Append([]byte(token), req.RequestID, req.Amount), v, err, c.view)
}

func (c changing) Refund(ctx context.Context, req *payflow.RefundRequest) (*payflow.RefundView, error) {
	v, err := c.API.Refund(ctx, req)
	return change(c, "refund", req.Refund, v, err, c.refund)
}

// TestRepliesAgainAreCompared runs worlds that inject only duplicates (or,
// for a refund sent again later, no fault), whose platform answers one
// call sent again otherwise than the first time, and checks that the
// phones refuse the first such reply, by the comparison that names it:
// the same request created again, an approval that settled or was
// refused, a capture's view (its receipt, the amount captured) or its
// refusal, a refund made or refused, a refund sent again in a later step.
func TestRepliesAgainAreCompared(t *testing.T) {
	later := func(v *payflow.PaymentView) { v.ExpiresAt = v.ExpiresAt.Add(time.Second) }
	receipt := func(v *payflow.PaymentView) { v.Receipt = append(bytes.Clone(v.Receipt), 0) }
	refundReceipt := func(v *payflow.RefundView) { v.Receipt = flipped(v.Receipt) }
	changed := regexp.QuoteMeta(describe(errChanged))
	for _, tt := range []struct {
		name    string
		c       changing
		faultOn bool
		detail  string
	}{
		{"create", changing{call: "create", view: later}, true, `^the same request again: ok$`},
		{"approve", changing{call: "approve", view: receipt}, true,
			`^approval of \d+ sent again: state (captured|held), want (captured|held), the same receipt$`},
		{"approve refused", changing{call: "approve", refused: true}, true, `^approval sent again: got ` + changed},
		{"capture receipt", changing{call: "capture", view: receipt}, true, `^capture sent again: state captured, want captured$`},
		{"capture amount", changing{call: "capture", view: func(v *payflow.PaymentView) { v.Captured++ }}, true,
			`^capture sent again: state captured, want captured$`},
		{"capture refused", changing{call: "capture", refused: true}, true, `^capture sent again: got ` + changed},
		{"refund", changing{call: "refund", refund: refundReceipt}, true, `^refund sent again: refunded \d+, want \d+$`},
		{"refund refused", changing{call: "refund", refused: true}, true, `^refund sent again: got ` + changed},
		{"refund later", changing{call: "refund", refund: refundReceipt, anyStep: true}, false, `^refund [0-9a-f]{32} sent again: ok `},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := calmWorld(t, 9)
			w.off[Duplicate] = !tt.faultOn
			var n int
			c := tt.c
			c.API, c.w, c.seen, c.n = w.api, w, map[string]bool{}, &n
			w.api = c
			var err error
			for w.step = 1; err == nil && w.step < 1000; w.step++ {
				err = w.randomStep()
			}
			var f *Failure
			require.ErrorAs(t, err, &f, "a changed reply of %s in 1000 steps", tt.name)
			assert.Regexp(t, tt.detail, f.Detail)
			assert.Equal(t, 1, n, "replies changed")
		})
	}
}
