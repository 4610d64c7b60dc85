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

// TestDeclineOfDeclinedRequestReturnsIt: the payer's decline of a request
// it declined before returns the declined view, not ErrFinal, and moves
// no money.
func TestDeclineOfDeclinedRequestReturnsIt(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, _ := s.request(t)
	before := s.balances(t)
	first, err := s.Platform.Decline(ctx, s.shopper.Token, v.ID)
	require.NoError(t, err)
	require.Equal(t, payflow.StateDeclined, first.State)
	again, err := s.Platform.Decline(ctx, s.shopper.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateDeclined, again.State)
	assert.Equal(t, v.ID, again.ID)
	s.requireState(t, v.ID, payflow.StateDeclined)
	assert.Equal(t, before, s.balances(t))
}

// TestActionAfterLostCompareAndSet: a decline, and a cancellation of a
// pending or of a held request, whose compare-and-set loses to another
// process's write that left the request in the state the action read
// reads it again and ends it as it asked: declined, or cancelled with
// the hold voided, the payer's money back.
func TestActionAfterLostCompareAndSet(t *testing.T) {
	for _, tt := range []struct {
		name     string
		held     bool
		from, to string // the state the action reads, the one it writes
		act      func(s *shop, id payflow.ID) (*payflow.PaymentView, error)
		want     string
	}{
		{"decline", false, payflow.StatePending, payflow.StateDeclined, func(s *shop, id payflow.ID) (*payflow.PaymentView, error) {
			return s.Platform.Decline(context.Background(), s.shopper.Token, id)
		}, payflow.StateDeclined},
		{"cancellation of a pending request", false, payflow.StatePending, payflow.StateCancelled, func(s *shop, id payflow.ID) (*payflow.PaymentView, error) {
			return s.Platform.Cancel(context.Background(), s.seller.Token, id)
		}, payflow.StateCancelled},
		{"cancellation of a held request", true, payflow.StateHeld, "voiding", func(s *shop, id payflow.ID) (*payflow.PaymentView, error) {
			return s.Platform.Cancel(context.Background(), s.seller.Token, id)
		}, payflow.StateCancelled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &updateHook{Store: memory.New()}
			s := newShopOn(t, st, tt.held, paytest.Options{})
			before := s.balances(t)
			var id payflow.ID
			if tt.held {
				id = s.held(t).ID
			} else {
				v, _ := s.request(t)
				id = v.ID
			}
			st.hook = changedFirst(t, st, tt.from, tt.to, tt.from)
			got, err := tt.act(s, id)
			require.NoError(t, err)
			assert.Nil(t, st.hook, "the action met the other write")
			assert.Equal(t, tt.want, got.State)
			s.requireState(t, id, tt.want)
			assert.Equal(t, before, s.balances(t), "no money moved, none held")
		})
	}
}

// TestRequestUnknownSKUBesideItemsThatAddUp: a request naming a SKU that
// is not in the merchant's catalog is ErrMismatch, nothing stored, also
// when its amount is the total of its other items (two apples: 240), as
// if the unknown one cost nothing.
func TestRequestUnknownSKUBesideItemsThatAddUp(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	r := paytest.Request(s.session, "EUR", 240, record.Item{SKU: "apple", Quantity: 2}, record.Item{SKU: "caviar", Quantity: 1})
	_, err := s.Create(r)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Contains(t, err.Error(), `SKU "caviar" is not in the catalog`)
	requireNotStored(t, s, r)
}

// TestRequestSentAgainPastItsExpiry: the same signed request sent again
// once the request it created is pending past its expiry gets the view
// that every read shows: expired, and the request is expired in the
// store, not shown pending.
func TestRequestSentAgainPastItsExpiry(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	v, msg := s.request(t)
	require.Equal(t, payflow.StatePending, v.State)
	s.Clock.Advance(payflow.DefaultRequestTTL)
	again, err := s.Platform.CreateRequest(context.Background(), &payflow.CreateRequest{Request: msg})
	require.NoError(t, err)
	assert.Equal(t, v.ID, again.ID)
	assert.Equal(t, payflow.StateExpired, again.State)
	s.requireState(t, v.ID, payflow.StateExpired)
}
