package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestHoldTimedFromAcceptance: the ledger timeout of a hold is the hold
// TTL counted from the acceptance of the consent, not from the creation of
// the request, which may be well before it.
func TestHoldTimedFromAcceptance(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, true, paytest.Options{})
	v, _ := s.request(t)
	s.Clock.Advance(7 * time.Second)
	h, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	require.Equal(t, payflow.StateHeld, h.State)
	hold, err := s.Ledger.LookupTransfers(ctx, []ledger.ID{payflow.TransferID(v.ID, 1, 0, 1)})
	require.NoError(t, err)
	require.Len(t, hold, 1)
	assert.Equal(t, uint32(payflow.DefaultHoldTTL.Seconds()), hold[0].Timeout)
}

// TestRecoverDeferralAtLeastRecoverAfter: a refund whose try by the
// recovery sweep fails waits RecoverAfter before its next try when
// RecoverAfter is longer than MaxRecoverDelay: its due time is the time
// of the failed try, not MaxRecoverDelay less RecoverAfter after it,
// which the next sweep, MaxRecoverDelay later, would find due.
func TestRecoverDeferralAtLeastRecoverAfter(t *testing.T) {
	ctx := context.Background()
	after := 2 * payflow.MaxRecoverDelay
	st := &shortPayment{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{RecoverAfter: after}})
	v, _ := s.request(t)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	s.payout(t, 600) // the merchant keeps 90, short of the refund's 200
	id := payflow.ID([]byte("refund-000000001"))
	msg := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: 200, Currency: "EUR"})
	reserveRefund(t, st.Store, v.ID, msg, s.Clock.Now())

	st.short = true
	s.Clock.Advance(after)
	n, err := s.Platform.RecoverSweep(ctx, 0)
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.Equal(t, 0, n)
	assert.Equal(t, s.Clock.Now(), requireRefund(t, st.Store, id, payflow.RefundPending, 200).DeferredTo, "deferred by RecoverAfter")

	st.reads = 0
	s.Clock.Advance(payflow.MaxRecoverDelay)
	s.sweep(t, 0, "the deferred refund waits")
	assert.Equal(t, 0, st.reads, "not tried before its due time")
}
