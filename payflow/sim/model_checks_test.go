package sim

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestExpect checks the comparison of an outcome with the one the model
// predicts: the error expected, or none, passes; another error, an error
// where none was expected and none where one was are refused, naming
// what, the outcome and the prediction.
func TestExpect(t *testing.T) {
	w := testWorld(t, 5)
	wrapped := fmt.Errorf("cancel: %w", payflow.ErrFinal)
	assert.NoError(t, w.expect("cancel", nil, nil))
	assert.NoError(t, w.expect("cancel", wrapped, payflow.ErrFinal))
	for _, tt := range []struct {
		err, want error
		detail    string
	}{
		{payflow.ErrExpired, payflow.ErrFinal, "cancel: got " + describe(payflow.ErrExpired) + ", want " + payflow.ErrFinal.Error()},
		{nil, payflow.ErrFinal, "cancel: got ok, want " + payflow.ErrFinal.Error()},
		{wrapped, nil, "cancel: got " + describe(wrapped) + ", want ok"},
	} {
		var f *Failure
		if assert.ErrorAs(t, w.expect("cancel", tt.err, tt.want), &f, "%v for %v", tt.err, tt.want) {
			assert.Equal(t, tt.detail, f.Detail)
		}
	}
}

// TestTransitionLeavesNoFinalState checks that the model refuses a request
// that leaves a final state, or moves where no call can take it, and
// changes nothing then.
func TestTransitionLeavesNoFinalState(t *testing.T) {
	w := testWorld(t, 5)
	s, m := w.shoppers[0], w.merchants[1]
	for _, tt := range []struct{ from, next string }{
		{payflow.StateCaptured, payflow.StateCancelled},
		{payflow.StateCaptured, payflow.StateHeld},
		{payflow.StateExpired, payflow.StatePending},
		{payflow.StateCancelled, payflow.StateCaptured},
		{payflow.StateDeclined, payflow.StateExpired},
		{payflow.StateHeld, payflow.StateDeclined},
		{payflow.StateHeld, payflow.StatePending},
	} {
		p := &purchase{id: w.newID(), shopper: s, m: m, amount: 100, state: tt.from}
		posted, held := s.posted, s.held
		var f *Failure
		if assert.ErrorAs(t, w.transition(p, tt.next, 100), &f, "%s to %s", tt.from, tt.next) {
			assert.Equal(t, fmt.Sprintf("request %v went from %s to %s", p.id, tt.from, tt.next), f.Detail)
		}
		assert.Equal(t, tt.from, p.state)
		assert.Equal(t, []uint64{posted, held, 0, 0}, []uint64{s.posted, s.held, m.posted, m.incoming})
	}
}

// TestExpiryBoundaries checks that the model has a pending request expire
// at its expiry and a held one at its hold's end, to the millisecond, as
// the platform shows them, and that the platform's timer runs at the
// hold's end, which releases the hold in the ledger as in the model.
func TestExpiryBoundaries(t *testing.T) {
	for _, state := range []string{payflow.StatePending, payflow.StateHeld} {
		t.Run(state, func(t *testing.T) {
			w := calmWorld(t, 9)
			p := stepUntil(t, w, state)
			end := p.expiresAt
			if state == payflow.StateHeld {
				end = p.holdExpiresAt
			}
			for _, at := range []struct {
				before time.Duration
				want   string
			}{{time.Millisecond, state}, {0, payflow.StateExpired}} {
				require.NoError(t, w.advance(end.Add(-at.before).Sub(w.now)))
				assert.Equal(t, at.want, w.effective(p), "%v before the end", at.before)
				v, err := w.viewAs(p, p.m.seller)
				require.NoError(t, err)
				assert.Equal(t, at.want, v.State, "%v before the end", at.before)
			}
			if state == payflow.StateHeld {
				require.NoError(t, w.expire(false))
				assert.Equal(t, payflow.StateExpired, p.state, "the platform's timer ran at the hold's end")
				require.NoError(t, w.check())
			}
		})
	}
}

// TestSettledViewChecks checks what the model refuses of a view of a
// request: a receipt on one not captured, a hold the ledger does not
// have, a hold the ledger releases before the request's hold ends.
func TestSettledViewChecks(t *testing.T) {
	w := calmWorld(t, 9)
	p := stepUntil(t, w, payflow.StateHeld)
	i := w.idx(p)
	v, err := w.viewAs(p, p.m.seller)
	require.NoError(t, err)
	require.NoError(t, w.settled(p, v))
	refused := func(v *payflow.PaymentView, detail, msg string) {
		t.Helper()
		var f *Failure
		if assert.ErrorAs(t, w.settled(p, v), &f, msg) {
			assert.Contains(t, f.Detail, detail, msg)
		}
	}

	withReceipt := *v
	withReceipt.Receipt = []byte{0xd2}
	refused(&withReceipt, fmt.Sprintf("request %d is held with a receipt", i), "a receipt on a held view")
	withReceipt.State = payflow.StateCancelled
	refused(&withReceipt, fmt.Sprintf("request %d is cancelled with a receipt", i), "a receipt on a cancelled view")

	later := *v
	later.HoldExpiresAt = v.HoldExpiresAt.Add(time.Millisecond)
	p.holdExpiresAt = later.HoldExpiresAt
	refused(&later, fmt.Sprintf("the ledger releases the hold of request %d at ", i), "a hold the ledger releases early")
	refused(&later, fmt.Sprintf(", before its expiry %v", later.HoldExpiresAt), "a hold the ledger releases early")

	require.NoError(t, w.purchase())
	q := w.purchases[len(w.purchases)-1]
	require.Equal(t, payflow.StatePending, q.state)
	q.holdExpiresAt = v.HoldExpiresAt
	held := *v
	held.ID = q.id
	var f *Failure
	if assert.ErrorAs(t, w.settled(q, &held), &f, "a hold not in the ledger") {
		assert.Equal(t, fmt.Sprintf("request %d is held without a hold in the ledger", w.idx(q)), f.Detail)
	}
}

// TestBalanceReadFails checks that a balance the platform cannot read is
// a failure naming the account, not an empty balance.
func TestBalanceReadFails(t *testing.T) {
	w := testWorld(t, 5)
	w.fuse.arm(0, false)
	require.ErrorIs(t, w.fuse.write(func() error { return nil }), errCrashed)
	c := w.shoppers[0]
	_, err := w.balance(c.id, currency)
	var f *Failure
	if assert.ErrorAs(t, err, &f) {
		assert.Equal(t, fmt.Sprintf("balance of %s in %s: %v", c.id, currency, errCrashed), f.Detail)
	}
}

// TestApprovalWithExactFunds checks the model's prediction of a consent
// to a request captured by hand at the edge of its payer's money: with
// exactly the amount free in the wallet the request is held, and with a
// unit less refused for funds, as the platform answers.
func TestApprovalWithExactFunds(t *testing.T) {
	for _, short := range []uint64{0, 1} {
		t.Run(fmt.Sprint(short), func(t *testing.T) {
			w := calmWorld(t, 5)
			p, consent := heldRequest(t, w)
			s := p.shopper
			require.NoError(t, w.plat.Fund(w.ctx, w.newID(), s.id, currency, p.amount))
			s.posted += p.amount
			w.funded += p.amount
			// Paid out again: all but the amount, short of it by short.
			out := s.posted - s.held - p.amount + short
			stray(t, w, payflow.AccountID(payflow.AccountWallet, currencyCode, s.id), payflow.AccountID(payflow.AccountFunding, currencyCode, ""), out)
			s.posted -= out
			w.funded -= out
			require.NoError(t, w.check())

			want, wantErr, _ := w.predictApprove(p)
			v, err := w.api.Approve(w.ctx, &payflow.ApproveRequest{Consent: consent})
			if short > 0 {
				assert.ErrorIs(t, wantErr, payflow.ErrFunds)
				assert.ErrorIs(t, err, payflow.ErrFunds)
				return
			}
			assert.NoError(t, wantErr)
			assert.Equal(t, payflow.StateHeld, want)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateHeld, v.State)
		})
	}
}

// TestConsentAroundNonceExpiry sends a consent to a request when its
// nonce expires (two minutes after the request), a millisecond before and
// after, and checks that the platform's refusal is the one the model
// predicts: the request's expiry before, the nonce's from then on.
func TestConsentAroundNonceExpiry(t *testing.T) {
	for _, tt := range []struct {
		after time.Duration // from the nonce's expiry
		want  error
	}{
		{-time.Millisecond, payflow.ErrExpired},
		{0, payflow.ErrReplay},
		{time.Millisecond, payflow.ErrReplay},
	} {
		t.Run(tt.after.String(), func(t *testing.T) {
			w := calmWorld(t, 5)
			p, consent := heldRequest(t, w)
			require.NoError(t, w.advance(p.expiresAt.Add(2*time.Minute+tt.after).Sub(w.now)))
			_, wantErr, alt := w.predictApprove(p)
			_, err := w.api.Approve(w.ctx, &payflow.ApproveRequest{Consent: consent})
			require.ErrorIs(t, err, tt.want)
			assert.True(t, errors.Is(err, wantErr) || alt != nil && errors.Is(err, alt), "predicted %v or %v", wantErr, alt)
		})
	}
}
