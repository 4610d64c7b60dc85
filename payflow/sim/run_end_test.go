package sim

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki"
)

// TestEndChecks runs a world until a payment is captured, plants in the
// model of it what the platform does not show, and checks that the end of
// the run refuses it by the check that names it: the state, the amount
// refunded, the consents its payer's card signed, the amount captured.
func TestEndChecks(t *testing.T) {
	for _, tt := range []struct {
		name  string
		plant func(p *purchase) string // the detail expected of request i
	}{
		{"another state", func(p *purchase) string {
			p.state = payflow.StateDeclined
			return "request %d ends captured, want declined"
		}},
		{"a refund the platform did not make", func(p *purchase) string {
			p.refunded++
			return fmt.Sprintf("request %%d refunded %d, want %d", p.refunded-1, p.refunded)
		}},
		{"no consent", func(p *purchase) string {
			p.consents = map[[32]byte]bool{}
			return "request %d is captured without any consent"
		}},
		{"another amount captured", func(p *purchase) string {
			p.captured++
			return fmt.Sprintf("request %%d captured %d, want %d", p.captured-1, p.captured)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := testWorld(t, 9)
			p := stepUntil(t, w, payflow.StateCaptured)
			detail := fmt.Sprintf(tt.plant(p), w.idx(p))
			var f *Failure
			require.ErrorAs(t, w.finish(), &f)
			assert.Equal(t, detail, f.Detail)
			assert.Equal(t, w.opts.Steps+1, f.Step, "the final checks' step")
		})
	}
}

// revokeCard revokes c's certificate and publishes fresh CRLs.
func revokeCard(t *testing.T, w *world, c *card) {
	t.Helper()
	require.NoError(t, w.issuer.Revoke(c.serial, pki.ReasonKeyCompromise))
	c.revoked = true
	require.NoError(t, w.publishCRLs())
}

// TestEndExpiresWhatFellDue runs a world to a pending request both of
// whose cards are then revoked, so that the end of the run reads it from
// the platform's store: the end has the platform's timer expire it there,
// and finds it expired.
func TestEndExpiresWhatFellDue(t *testing.T) {
	w := calmWorld(t, 5)
	require.NoError(t, w.purchase())
	p := w.purchases[0]
	require.Equal(t, payflow.StatePending, p.state)
	revokeCard(t, w, p.shopper)
	revokeCard(t, w, p.m.seller)
	require.NoError(t, w.finish())
	r, err := w.plat.Store().Payment(w.ctx, p.id)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateExpired, r.State)
	assert.Equal(t, 1, w.stats.Ops["end-"+payflow.StateExpired])
}
