package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestRefundOverLimitWithItsIDStoredSince: a refund refused for asking
// more than the payment has left to refund (ErrLimit) is answered with
// that refusal, not with the refund that another request stored under
// its ID since its first read found none (which would be ErrConflict,
// the ID taken): only a refusal for its counter (ErrClone) is answered by
// the stored refund. Nothing more is refunded and the stored refund
// stays as it was.
func TestRefundOverLimitWithItsIDStoredSince(t *testing.T) {
	ctx := context.Background()
	id := payflow.ID([]byte("refund-000000001"))
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	v, _ := s.request(t)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	all := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: 690, Currency: "EUR"})
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: all})
	require.NoError(t, err)

	reads := st.refund.made()
	st.refund.failNextWith(payflow.ErrNotFound) // as read just before the other request stored it
	more := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: 10, Currency: "EUR"})
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: more})
	require.ErrorIs(t, err, payflow.ErrLimit)
	assert.NotErrorIs(t, err, payflow.ErrConflict)
	assert.Equal(t, 1, st.refund.made()-reads, "its first read only: its refusal reads no refund")
	r := requireRefund(t, st.Store, id, payflow.RefundDone, 690)
	assert.Equal(t, all, r.Request)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {Posted: 0}}, s.balances(t))
}
