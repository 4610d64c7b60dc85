package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestRecoverDefersByTimeUnderWay: a settlement and a refund under way
// for three times RecoverAfter (less than MaxRecoverDelay) whose tries
// fail, the ledger down, are deferred by the recovery sweep so that they
// wait as long again, counted from the request's last update (not its
// creation) and from the refund's creation: their due time is the
// sweep's time plus twice RecoverAfter, and the sweep counts neither. The
// sweep at that time ends both, the request updated at its time.
func TestRecoverDefersByTimeUnderWay(t *testing.T) {
	ctx := context.Background()
	s, dl, paid, v := readsDownShop(t)
	st := s.Store
	consent := s.consent(t, v.ID)
	s.Clock.Advance(time.Minute) // the request's creation before its update
	dl.down.Store(true)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	s.requireState(t, v.ID, payflow.StateApproving)
	dl.down.Store(false)

	id := payflow.ID([]byte("refund-000000001"))
	msg := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: paid.ID[:], Amount: 200, Currency: "EUR"})
	dl.down.Store(true)
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrUnavailable)

	s.Clock.Advance(3 * payflow.DefaultRecoverAfter)
	n, err := s.Platform.RecoverSweep(ctx, 0)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.Equal(t, 0, n)
	want := s.Clock.Now().Add(2 * payflow.DefaultRecoverAfter)
	r, err := st.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateApproving, r.State)
	assert.Equal(t, want, r.DeferredTo, "the request deferred")
	assert.Equal(t, want, requireRefund(t, st, id, payflow.RefundPending, 200).DeferredTo, "the refund deferred")

	s.Clock.Advance(3*payflow.DefaultRecoverAfter - time.Second)
	n, err = s.Platform.RecoverSweep(ctx, 0)
	require.NoError(t, err, "neither tried before its due time")
	assert.Equal(t, 0, n)
	dl.down.Store(false)
	s.Clock.Advance(time.Second)
	s.sweep(t, 2, "both ended at their due time")
	r, err = st.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, r.State)
	assert.Equal(t, s.Clock.Now(), r.UpdatedAt, "updated at the sweep that ended it")
	requireRefund(t, st, id, payflow.RefundDone, 200)
}

// TestRecoverDefersAtLeastRecoverAfter: a settlement whose try fails
// after it was under way for RecoverAfter only is deferred by the sweep
// to its own time (waiting RecoverAfter again): no earlier, no later.
func TestRecoverDefersAtLeastRecoverAfter(t *testing.T) {
	ctx := context.Background()
	s, dl, _, v := readsDownShop(t)
	st := s.Store
	consent := s.consent(t, v.ID)
	dl.down.Store(true)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.ErrorIs(t, err, payflow.ErrUnavailable)

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	n, err := s.Platform.RecoverSweep(ctx, 0)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.Equal(t, 0, n)
	r, err := st.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, s.Clock.Now(), r.DeferredTo)
}

// TestRefundDeferralPastMaxRecoverDelay: a refund whose try by the
// recovery sweep fails waits RecoverAfter before its next try when
// RecoverAfter is longer than MaxRecoverDelay: its due time is the time
// of the failed try, not MaxRecoverDelay less RecoverAfter after it,
// which the next sweep, MaxRecoverDelay later, would find due.
func TestRefundDeferralPastMaxRecoverDelay(t *testing.T) {
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
