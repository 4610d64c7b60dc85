package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestStateTransitions takes a request of a merchant that captures
// manually to each state of PROTOCOL.md §6.2 and acts on it in every way
// (a consent signed while it was pending, a decline, a cancellation, a
// capture of all of the hold and of part of it), and checks the outcome
// against §6.2: the transition it allows, or the error of one it does
// not, with no money moved.
func TestStateTransitions(t *testing.T) {
	ctx := context.Background()
	type action int
	const (
		approve action = iota
		decline
		cancel
		captureAll
		capturePart
	)
	actions := []string{"approve", "decline", "cancel", "capture all", "capture part"}
	const part = 500
	// want is the state after the action, or the error it fails with.
	type want struct {
		state string
		err   error
	}
	ok := func(state string) want { return want{state: state} }
	fail := func(err error) want { return want{err: err} }
	for _, tt := range []struct {
		start string
		// reach takes the request, pending, to the start state.
		reach func(t *testing.T, s *shop, id payflow.ID)
		want  [5]want
	}{
		{payflow.StatePending, func(*testing.T, *shop, payflow.ID) {},
			[5]want{ok(payflow.StateHeld), ok(payflow.StateDeclined), ok(payflow.StateCancelled), fail(payflow.ErrConflict), fail(payflow.ErrConflict)}},
		{payflow.StateHeld, func(t *testing.T, s *shop, id payflow.ID) {
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, id)})
			require.NoError(t, err)
		}, [5]want{fail(payflow.ErrConflict), fail(payflow.ErrConflict), ok(payflow.StateCancelled), ok(payflow.StateCaptured), ok(payflow.StateCaptured)}},
		{payflow.StateCaptured, func(t *testing.T, s *shop, id payflow.ID) {
			s.captured(t, id, true)
		}, [5]want{fail(payflow.ErrFinal), fail(payflow.ErrFinal), fail(payflow.ErrFinal), ok(payflow.StateCaptured), fail(payflow.ErrFinal)}},
		{payflow.StateDeclined, func(t *testing.T, s *shop, id payflow.ID) {
			_, err := s.Platform.Decline(ctx, s.shopper.Token, id)
			require.NoError(t, err)
		}, [5]want{fail(payflow.ErrFinal), ok(payflow.StateDeclined), fail(payflow.ErrFinal), fail(payflow.ErrFinal), fail(payflow.ErrFinal)}},
		{payflow.StateCancelled, func(t *testing.T, s *shop, id payflow.ID) {
			_, err := s.Platform.Cancel(ctx, s.seller.Token, id)
			require.NoError(t, err)
		}, [5]want{fail(payflow.ErrFinal), fail(payflow.ErrFinal), ok(payflow.StateCancelled), fail(payflow.ErrFinal), fail(payflow.ErrFinal)}},
		{"cancelled when held", func(t *testing.T, s *shop, id payflow.ID) {
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, id)})
			require.NoError(t, err)
			_, err = s.Platform.Cancel(ctx, s.seller.Token, id)
			require.NoError(t, err)
		}, [5]want{fail(payflow.ErrFinal), fail(payflow.ErrFinal), ok(payflow.StateCancelled), fail(payflow.ErrFinal), fail(payflow.ErrFinal)}},
		{payflow.StateExpired, func(t *testing.T, s *shop, id payflow.ID) {
			s.Clock.Advance(payflow.DefaultRequestTTL)
		}, [5]want{fail(payflow.ErrExpired), fail(payflow.ErrExpired), fail(payflow.ErrExpired), fail(payflow.ErrExpired), fail(payflow.ErrExpired)}},
		{"expired when held", func(t *testing.T, s *shop, id payflow.ID) {
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, id)})
			require.NoError(t, err)
			s.Clock.Advance(payflow.DefaultHoldTTL)
			s.RefreshCRLs()
			s.shopper.Login(record.RoleShopper)
			s.seller.Login(record.RoleSeller)
		}, [5]want{fail(payflow.ErrReplay), fail(payflow.ErrExpired), fail(payflow.ErrExpired), fail(payflow.ErrExpired), fail(payflow.ErrExpired)}},
	} {
		for a, name := range actions {
			t.Run(tt.start+"/"+name, func(t *testing.T) {
				s := newShop(t, true, paytest.Options{})
				v, _ := s.request(t)
				// A consent to the payer's view of the request while it
				// was pending, signed once it reached the start state.
				pv, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
				require.NoError(t, err)
				tt.reach(t, s, v.ID)
				consent := s.shopper.MustSign(paytest.Consent(pv))
				beforeState, err := s.Platform.Payment(ctx, s.seller.Token, v.ID)
				require.NoError(t, err)
				before := s.balances(t)
				var got *payflow.PaymentView
				switch action(a) {
				case approve:
					got, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
				case decline:
					got, err = s.Platform.Decline(ctx, s.shopper.Token, v.ID)
				case cancel:
					got, err = s.Platform.Cancel(ctx, s.seller.Token, v.ID)
				case captureAll:
					got, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
				case capturePart:
					got, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID, Amount: part})
				}
				w := tt.want[a]
				if w.err != nil {
					require.ErrorIs(t, err, w.err)
					after, err := s.Platform.Payment(ctx, s.seller.Token, v.ID)
					require.NoError(t, err)
					assert.Equal(t, beforeState.State, after.State, "refused: the state stays")
					assert.Equal(t, before, s.balances(t), "refused: nothing moved")
					return
				}
				require.NoError(t, err)
				assert.Equal(t, w.state, got.State)
				s.requireState(t, v.ID, w.state)
				switch {
				case w.state == payflow.StateCaptured && action(a) == capturePart:
					assert.Equal(t, [2]payflow.Balance{{Posted: funds - part}, {Posted: part}}, s.balances(t))
				case w.state == payflow.StateCaptured:
					assert.Equal(t, basketPaid, s.balances(t))
				case w.state == payflow.StateHeld:
					assert.Equal(t, [2]payflow.Balance{{Posted: funds, Held: 690}, {Incoming: 690}}, s.balances(t))
				default:
					assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
				}
			})
		}
	}
}
