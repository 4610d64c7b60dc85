package payflow_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/queue"
)

// TestPhonesRefuseQueueOfOtherRole: a PhoneOptions.Queue made for the
// other role, whose scanner reports would never name a counterparty, is
// ErrInvalid at NewShopper and NewSeller, as is a Queue that New did not
// make; one of the phone's role is the phone's queue.
func TestPhonesRefuseQueueOfOtherRole(t *testing.T) {
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	shopperCard, sellerCard := enrolPhoneCard(t, f, "Alice"), enrolPhoneCard(t, f, "Till 1")
	newQueue := func(role adv.Role) *queue.Queue {
		q, err := queue.New(role, queue.Options{})
		require.NoError(t, err)
		return q
	}
	opts := func(q *queue.Queue) payflow.PhoneOptions {
		o := phoneOptions(f, f.Platform)
		o.Queue = q
		return o
	}

	_, err := payflow.NewShopper(shopperCard.Card, opts(newQueue(adv.Seller)))
	require.ErrorIs(t, err, payflow.ErrInvalid)
	assert.EqualError(t, err, "payflow: invalid request: the phone's Queue is a seller's, not a shopper's")
	_, err = payflow.NewSeller(sellerCard.Card, opts(newQueue(adv.Shopper)))
	require.ErrorIs(t, err, payflow.ErrInvalid)
	assert.EqualError(t, err, "payflow: invalid request: the phone's Queue is a shopper's, not a seller's")
	_, err = payflow.NewShopper(shopperCard.Card, opts(&queue.Queue{}))
	require.ErrorIs(t, err, payflow.ErrInvalid, "a Queue that New did not make")

	q := newQueue(adv.Shopper)
	shopper, err := payflow.NewShopper(shopperCard.Card, opts(q))
	require.NoError(t, err)
	assert.Same(t, q, shopper.Queue())
	q = newQueue(adv.Seller)
	seller, err := payflow.NewSeller(sellerCard.Card, opts(q))
	require.NoError(t, err)
	assert.Same(t, q, seller.Queue())
}
