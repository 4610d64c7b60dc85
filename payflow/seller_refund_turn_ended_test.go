package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestSellerRefundCtxEndsAtItsTurn: a Refund whose context ends as it is
// about to wait for its turn among the refunds fails with that context's
// cause: the card signs no refund and nothing is refunded. The next
// Refund, whose context lasts, refunds once.
func TestSellerRefundCtxEndsAtItsTurn(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	w.purchase(t)
	paid := w.balance(t, w.shopperCard.Enrolment.ICCID)
	counter, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)

	ctx, cancel := withCancelCause(context.Background())
	payflow.OnRefundTurn(w.seller, cancel)
	rc, err := w.seller.Refund(ctx, 240)
	require.Equal(t, errCallerGone, err)
	assert.Nil(t, rc)
	assert.Equal(t, paid, w.balance(t, w.shopperCard.Enrolment.ICCID), "nothing refunded")
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, counter, after, "the card signed no refund")

	payflow.OnRefundTurn(w.seller, nil)
	rc, err = w.seller.Refund(context.Background(), 240)
	require.NoError(t, err)
	assert.Equal(t, uint64(240), rc.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 240}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}
