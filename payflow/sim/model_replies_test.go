package sim

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// TestSettlingConsentSentAgain runs a world without faults until a
// payment is captured and checks that the model keeps the consent that
// settled it, one its payer's card signed, which the platform answers
// again with the request as a read shows it; and that the model refuses
// an answer that differs from the read, or whose capture is not the
// model's.
func TestSettlingConsentSentAgain(t *testing.T) {
	w := calmWorld(t, 9)
	p := stepUntil(t, w, payflow.StateCaptured)
	i := w.idx(p)
	require.NotNil(t, p.settledBy, "the consent that settled request %d", i)
	assert.True(t, p.consents[record.Hash(p.settledBy)])
	v, err := w.viewAs(p, p.shopper)
	require.NoError(t, err)
	n := w.stats.Ops["consent-again"]
	require.NoError(t, w.consentAgain(p, v))
	assert.Equal(t, n+1, w.stats.Ops["consent-again"])

	read := *v
	read.Refunded++
	var f *Failure
	if assert.ErrorAs(t, w.consentAgain(p, &read), &f, "an answer that is not the read") {
		assert.Equal(t, fmt.Sprintf("the consent that settled %d sent again: captured captured %d refunded %d, want captured %d %d, the same receipt",
			i, v.Captured, v.Refunded, v.Captured, read.Refunded), f.Detail)
	}
	p.captured++
	if assert.ErrorAs(t, w.consentAgain(p, v), &f, "a capture not the model's") {
		assert.Equal(t, fmt.Sprintf("request %d captured %d, want %d", i, v.Captured, p.captured), f.Detail)
	}
}

// TestPollTakesTheAmountCaptured kills the platform at the write of a
// partial capture of a held payment that reached the disk, and checks
// that the seller's phone's poll after the restart teaches the model the
// amount the platform captured, not the amount held.
func TestPollTakesTheAmountCaptured(t *testing.T) {
	w := calmWorld(t, 9)
	p := stepUntil(t, w, payflow.StateHeld)
	require.Greater(t, p.amount, uint64(1))
	seller := p.m.seller
	ok, err := w.login(seller, record.RoleSeller)
	require.NoError(t, err)
	require.True(t, ok)
	w.fuse.arm(0, true)
	_, err = w.api.Capture(w.ctx, seller.token, &payflow.CaptureRequest{RequestID: p.id, Amount: p.amount - 1})
	require.ErrorIs(t, err, errCrashed)
	require.True(t, w.fuse.disarm())
	v, err := w.pollAfterCrash("a crash during capture", p, seller, payflow.StateCaptured, nil)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, v.State)
	assert.Equal(t, p.amount-1, v.Captured)
	assert.Equal(t, p.amount-1, p.captured)
	require.NoError(t, w.settled(p, v))
	require.NoError(t, w.check())
}

// TestRefundsAreKept runs a world until a payment is refunded and checks
// that the model keeps every refund the platform made of it, with the
// view it answered, which the phone sends again from.
func TestRefundsAreKept(t *testing.T) {
	w := testWorld(t, 9)
	p := stepUntilOne(t, w, "refunded", func(q *purchase) bool { return q.refunded > 0 })
	require.NotEmpty(t, p.refunds)
	var sum uint64
	for _, r := range p.refunds {
		require.NotNil(t, r.view)
		assert.Equal(t, r.amount, r.view.Amount)
		assert.NoError(t, w.verifyRefundReceipt(p, r, r.view))
		sum += r.amount
	}
	assert.Equal(t, p.refunded, sum)
	v, err := w.viewAs(p, p.m.seller)
	require.NoError(t, err)
	assert.Equal(t, p.refunded, v.Refunded)
}
