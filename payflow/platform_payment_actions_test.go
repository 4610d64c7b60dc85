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

// TestDeclineByOthersForbidden: only the payer declines a request: its
// seller card, another seller card of its merchant and another shopper
// card are ErrForbidden, and the request stays pending.
func TestDeclineByOthersForbidden(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	till, _, bob := s.thirdCards(t)
	v, _ := s.request(t)
	for _, c := range []*paytest.Card{s.seller, till, bob} {
		_, err := s.Platform.Decline(ctx, c.Token, v.ID)
		require.ErrorIs(t, err, payflow.ErrForbidden, c.ID)
	}
	s.requireState(t, v.ID, payflow.StatePending)
}

// TestActionMeetsEndByAnotherProcess: a decline that meets the request
// cancelled first by another process, after it read it pending, and a
// cancellation that meets it declined first by its payer so, are
// ErrFinal, the request ended as the other process left it.
func TestActionMeetsEndByAnotherProcess(t *testing.T) {
	for _, tt := range []struct {
		name      string
		to, other string // the state the action moves to, the other process's
		act       func(s *shop, id payflow.ID) error
	}{
		{"decline meets cancellation", payflow.StateDeclined, payflow.StateCancelled, func(s *shop, id payflow.ID) error {
			_, err := s.Platform.Decline(context.Background(), s.shopper.Token, id)
			return err
		}},
		{"cancellation meets decline", payflow.StateCancelled, payflow.StateDeclined, func(s *shop, id payflow.ID) error {
			_, err := s.Platform.Cancel(context.Background(), s.seller.Token, id)
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &updateHook{Store: memory.New()}
			s := newShopOn(t, st, false, paytest.Options{})
			v, _ := s.request(t)
			st.hook = changedFirst(t, st, payflow.StatePending, tt.to, tt.other)
			require.ErrorIs(t, tt.act(s, v.ID), payflow.ErrFinal)
			assert.Nil(t, st.hook, "the action met the other process's write")
			s.requireState(t, v.ID, tt.other)
		})
	}
}

// TestDeclineUpdateLost: a decline whose update the store fails is that
// error, the request left pending.
func TestDeclineUpdateLost(t *testing.T) {
	st := &updateHook{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	v, _ := s.request(t)
	st.hook = func(*payflow.PaymentRecord, string) error { return errLost }
	_, err := s.Platform.Decline(context.Background(), s.shopper.Token, v.ID)
	require.ErrorIs(t, err, errLost)
	st.hook = nil
	s.requireState(t, v.ID, payflow.StatePending)
}

// TestConsentSentAgainWhileVoiding: the consent that settled a payment
// whose cancellation left it voiding (its update after the void lost),
// sent again, gets the request's view as a read shows it (held), not
// ErrReplay; nothing moves.
func TestConsentSentAgainWhileVoiding(t *testing.T) {
	ctx := context.Background()
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, true, paytest.Options{})
	v, _ := s.request(t)
	msg := s.voidingLost(t, st, v.ID)
	s.requireState(t, v.ID, "voiding")
	before := s.balances(t)
	again, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: msg})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateHeld, again.State)
	assert.Equal(t, before, s.balances(t))
	s.requireState(t, v.ID, "voiding")
}

// TestCaptureAfterLostCompareAndSet: a capture whose move to capturing
// loses its compare-and-set to another process's write that left the
// payment held reads it again and captures it, once.
func TestCaptureAfterLostCompareAndSet(t *testing.T) {
	st := &updateHook{Store: memory.New()}
	s := newShopOn(t, st, true, paytest.Options{})
	v := s.held(t)
	st.hook = changedFirst(t, st, payflow.StateHeld, "capturing", payflow.StateHeld)
	got, err := s.Platform.Capture(context.Background(), s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
	require.NoError(t, err)
	assert.Nil(t, st.hook, "the capture met the other write")
	assert.Equal(t, payflow.StateCaptured, got.State)
	assert.Equal(t, uint64(690), got.Captured)
	assert.Equal(t, basketPaid, s.balances(t))
}
