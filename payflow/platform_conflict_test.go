package payflow_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// requireUnspent checks that the card-signed record msg, opened into r,
// left its card's counter unspent: the store would accept it now.
func requireUnspent(t *testing.T, s *shop, msg []byte, r record.CardRecord, what string) {
	t.Helper()
	require.NoError(t, record.Open(msg, r))
	h := r.Header()
	assert.NoError(t, s.Store.Spent(context.Background(), r.FreshNonce(), h.CardID, h.Counter), "nonce and counter unspent: %s", what)
}

// TestRequestTakenOncePaired: a payment request into a session that only
// its seller card confirmed is refused with conflict before it is
// accepted and spends no counter (PROTOCOL.md §6.3): the same request
// sent again gets the same refusal, nothing stored, no money moved; once
// the shopper card confirmed the session, the same request is taken and
// can be paid.
func TestRequestTakenOncePaired(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	bob := s.NewCard("Bob")
	_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.seller.Proof(record.RoleSeller, bob.EID())})
	require.NoError(t, err)
	sess := &payflow.SessionView{ID: payflow.SessionID(bob.EID(), s.seller.EID()), ShopperCardID: bob.ID, MerchantID: merchantID}
	r := paytest.Request(sess, "EUR", 100)
	msg := s.seller.MustSign(r)
	id := payflow.ID(r.RequestID)
	for _, what := range []string{"first", "sent again"} {
		_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
		require.ErrorIs(t, err, payflow.ErrConflict, what)
		assert.EqualError(t, err, "payflow: conflicting request: the session is not paired", what)
		assert.Equal(t, 409, payflow.AsError(err).Status, what)
		_, err = s.Store.Payment(ctx, id)
		assert.ErrorIs(t, err, payflow.ErrNotFound, "nothing stored: %s", what)
		requireUnspent(t, s, msg, &record.PaymentRequest{}, what)
		assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "nothing moved: %s", what)
	}

	sv, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: bob.Proof(record.RoleShopper, s.seller.EID())})
	require.NoError(t, err)
	require.Equal(t, payflow.SessionPaired, sv.State)
	v, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.NoError(t, err, "the request refused with conflict is taken")
	assert.Equal(t, id, v.ID)
	assert.Equal(t, payflow.StatePending, v.State)
	assert.Equal(t, uint64(100), v.Amount)
	s.requireState(t, id, payflow.StatePending)

	bob.Login(record.RoleShopper)
	require.NoError(t, s.Platform.OpenAccount(ctx, bob.ID, "EUR"))
	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{7}, bob.ID, "EUR", 100))
	pv, err := s.Platform.Payment(ctx, bob.Token, id)
	require.NoError(t, err)
	paid, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: bob.MustSign(paytest.Consent(pv))})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, paid.State)
	assert.Equal(t, uint64(100), paid.Captured)
	b, err := s.Platform.Balance(ctx, bob.ID, "EUR")
	require.NoError(t, err)
	assert.Equal(t, payflow.Balance{}, b, "bob paid his 100")
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {Posted: 100}}, s.balances(t))
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestRefundTakenOnceCaptured: a refund of a payment not captured yet
// (held, or its capture under way) is refused with conflict before it is
// accepted and spends no counter (PROTOCOL.md §6.5): the same refund sent
// again gets the same refusal, nothing stored or reserved, no money
// moved; once the payment is captured, the same refund is taken.
func TestRefundTakenOnceCaptured(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		state   string // the payment's state when the refund is sent
		want    string
		held    [2]payflow.Balance // the balances while the refund is refused
		capture func(s *shop, id payflow.ID)
		final   [2]payflow.Balance // after the capture and the refund of 100
	}{
		{"held", payflow.StateHeld, "payflow: conflicting request: the request is held",
			[2]payflow.Balance{{Posted: funds, Held: 690}, {Incoming: 690}},
			func(s *shop, id payflow.ID) {
				v, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: id})
				require.NoError(t, err)
				require.Equal(t, payflow.StateCaptured, v.State)
			},
			[2]payflow.Balance{{Posted: funds - 590}, {Posted: 590}}},
		{"being captured", "capturing", "payflow: conflicting request: the payment is being captured",
			[2]payflow.Balance{{Posted: funds, Held: 690}, {Incoming: 690}},
			func(s *shop, id payflow.ID) {
				s.Clock.Advance(payflow.DefaultRecoverAfter)
				s.sweep(t, 1, "the capture under way finished")
			},
			[2]payflow.Balance{{Posted: funds - 300}, {Posted: 300}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newShop(t, true, paytest.Options{})
			v := s.held(t)
			if tt.state == "capturing" {
				s.recordCapturing(t, v.ID, 400)
			}
			rr := &record.RefundRequest{RefundID: bytes.Repeat([]byte{9}, 16), RequestID: v.ID[:], Amount: 100, Currency: "EUR"}
			msg := s.seller.MustSign(rr)
			for _, what := range []string{"first", "sent again"} {
				_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
				require.ErrorIs(t, err, payflow.ErrConflict, what)
				assert.EqualError(t, err, tt.want, what)
				assert.Equal(t, 409, payflow.AsError(err).Status, what)
				_, err = s.Store.Refund(ctx, payflow.ID(rr.RefundID))
				assert.ErrorIs(t, err, payflow.ErrNotFound, "nothing stored: %s", what)
				r, err := s.Store.Payment(ctx, v.ID)
				require.NoError(t, err)
				assert.Equal(t, tt.state, r.State, what)
				assert.Zero(t, r.Refunded, "nothing reserved: %s", what)
				requireUnspent(t, s, msg, &record.RefundRequest{}, what)
				assert.Equal(t, tt.held, s.balances(t), "nothing moved: %s", what)
			}

			tt.capture(s, v.ID)
			rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.NoError(t, err, "the refund refused with conflict is taken")
			assert.Equal(t, uint64(100), rv.Amount)
			assert.Equal(t, uint64(100), rv.Refunded)
			assert.NotEmpty(t, rv.Receipt)
			ref, err := s.Store.Refund(ctx, payflow.ID(rr.RefundID))
			require.NoError(t, err)
			assert.Equal(t, payflow.RefundDone, ref.State)
			s.requireState(t, v.ID, payflow.StateCaptured)
			assert.Equal(t, tt.final, s.balances(t))
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}
