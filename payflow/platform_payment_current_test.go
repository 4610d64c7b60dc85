package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// uncached has a platform read cards from its store on every call.
var uncached = paytest.Options{Platform: payflow.PlatformOptions{CacheTTL: -1}}

// TestPendingReadWithSellerCardDeleted: a pending request whose seller
// card the store no longer holds is read pending, the payer getting a
// consent nonce: a card no longer stored is not revoked.
func TestPendingReadWithSellerCardDeleted(t *testing.T) {
	st := &handDeleted{Store: memory.New()}
	s := newShopOn(t, st, false, uncached)
	v, _ := s.request(t)
	st.delete(t, s.seller.ID)
	got, err := s.Platform.Payment(context.Background(), s.shopper.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, got.State)
	assert.NotEmpty(t, got.ConsentNonce)
	s.requireState(t, v.ID, payflow.StatePending)
}

// TestPendingReadWithSellerCardReadLost: a read of a pending request whose
// seller card cannot be read (a store error) fails with that error, the
// request left pending.
func TestPendingReadWithSellerCardReadLost(t *testing.T) {
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, uncached)
	v, _ := s.request(t)
	failCard(st, s.seller.ID)
	_, err := s.Platform.Payment(context.Background(), s.shopper.Token, v.ID)
	require.ErrorIs(t, err, errLost)
	s.requireState(t, v.ID, payflow.StatePending)
}

// TestExpiryMeetsDeclineOfAnotherProcess: a read of a pending request past
// its expiry whose expiry meets the request declined first by another
// process (the decline made just before the expiry) shows it declined,
// as stored: the read takes the record again, not its own failed change.
func TestExpiryMeetsDeclineOfAnotherProcess(t *testing.T) {
	ctx := context.Background()
	st := &updateHook{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	v, _ := s.request(t)
	s.Clock.Advance(payflow.DefaultRequestTTL)
	st.hook = changedFirst(t, st, payflow.StatePending, payflow.StateExpired, payflow.StateDeclined)
	got, err := s.Platform.Payment(ctx, s.seller.Token, v.ID)
	require.NoError(t, err)
	assert.Nil(t, st.hook, "the expiry met the decline")
	assert.Equal(t, payflow.StateDeclined, got.State)
	s.requireState(t, v.ID, payflow.StateDeclined)
}

// changedFirst returns a hook of st that, at the next update of a payment
// from was to to, first has another process move the payment as stored
// from was to other, so that the update loses its compare-and-set.
func changedFirst(t *testing.T, st *updateHook, was, to, other string) func(*payflow.PaymentRecord, string) error {
	return func(p *payflow.PaymentRecord, from string) error {
		if from != was || p.State != to {
			return nil
		}
		st.hook = nil
		ctx := context.Background()
		stored, err := st.Store.Payment(ctx, p.ID)
		require.NoError(t, err)
		stored.State = other
		require.NoError(t, st.Store.UpdatePayment(ctx, stored, was))
		return nil
	}
}
