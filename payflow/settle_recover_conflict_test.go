package payflow_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// deferredBeforeDeferral is a Store on which another process defers a
// request or a pending refund (as its own RecoverSweep does) to the time
// other, once, just before a write that defers it (one that keeps its
// state and sets DeferredTo), so that that write finds it written since.
type deferredBeforeDeferral struct {
	payflow.Store
	other time.Time
	once
}

func (s *deferredBeforeDeferral) UpdatePayment(ctx context.Context, r *payflow.PaymentRecord, from string) error {
	if r.State == from && !r.DeferredTo.IsZero() && s.take() {
		stored, err := s.Store.Payment(ctx, r.ID)
		if err != nil {
			return err
		}
		stored.DeferredTo = s.other
		if err := s.Store.UpdatePayment(ctx, stored, from); err != nil {
			return err
		}
	}
	return s.Store.UpdatePayment(ctx, r, from)
}

func (s *deferredBeforeDeferral) UpdateRefund(ctx context.Context, r *payflow.RefundRecord, from string, p *payflow.PaymentRecord, pFrom string) error {
	if r.State == from && p == nil && !r.DeferredTo.IsZero() && s.take() {
		stored, err := s.Store.Refund(ctx, r.ID)
		if err != nil {
			return err
		}
		stored.DeferredTo = s.other
		if err := s.Store.UpdateRefund(ctx, stored, from, nil, ""); err != nil {
			return err
		}
	}
	return s.Store.UpdateRefund(ctx, r, from, p, pFrom)
}

// joined returns the errors that err joins (errors.Join), or err alone.
func joined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// TestRecoverDeferralWrittenMeanwhile: a settlement (or a refund) whose
// try by the recovery sweep fails, the ledger down, and that another
// process defers between that try and the sweep's own deferral, keeps the
// other process's deferral: the sweep's compare-and-set loses, and its
// error is the failed try's alone (ErrUnavailable, no ErrConflict), none
// completed, nothing moved in the ledger.
func TestRecoverDeferralWrittenMeanwhile(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// setup leaves a settlement or a refund under way for the sweep,
		// the ledger down, and returns how the sweep's error names it and
		// a function that reads its version, state and DeferredTo as
		// stored.
		setup func(t *testing.T, s *shop, ls *downLedger) (string, func() (uint64, string, time.Time))
		state string
	}{
		{"request", func(t *testing.T, s *shop, ls *downLedger) (string, func() (uint64, string, time.Time)) {
			v, _ := s.request(t)
			consent := s.consent(t, v.ID)
			r, err := s.Store.Payment(ctx, v.ID)
			require.NoError(t, err)
			h := record.Hash(consent)
			r.State, r.Attempt, r.Consent, r.ConsentHash, r.UpdatedAt = payflow.StateApproving, 1, consent, h[:], s.Clock.Now()
			r.HoldExpiresAt = s.Clock.Now().Add(payflow.DefaultHoldTTL)
			require.NoError(t, s.Store.UpdatePayment(ctx, r, payflow.StatePending))
			ls.down.Store(true)
			return fmt.Sprintf("settling request %v: ", v.ID), func() (uint64, string, time.Time) {
				r, err := s.Store.Payment(ctx, v.ID)
				require.NoError(t, err)
				return r.Version, r.State, r.DeferredTo
			}
		}, payflow.StateApproving},
		{"refund", func(t *testing.T, s *shop, ls *downLedger) (string, func() (uint64, string, time.Time)) {
			v, _ := s.request(t)
			s.captured(t, v.ID, false)
			id := payflow.ID([]byte("refund-000000001"))
			msg := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: 200, Currency: "EUR"})
			ls.down.Store(true)
			_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.ErrorIs(t, err, errLedgerDown)
			return fmt.Sprintf("refund %v: ", id), func() (uint64, string, time.Time) {
				r, err := s.Store.Refund(ctx, id)
				require.NoError(t, err)
				return r.Version, r.State, r.DeferredTo
			}
		}, payflow.RefundPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &deferredBeforeDeferral{Store: memory.New()}
			ls := &downLedger{Store: ledgermemory.New()}
			s := newShopOnLedger(t, st, ls, false, paytest.Options{})
			before := s.balances(t)
			name, stored := tc.setup(t, s, ls)
			version, _, _ := stored()
			s.Clock.Advance(payflow.DefaultRecoverAfter)
			st.other = s.Clock.Now().Add(payflow.MaxRecoverDelay)

			n, err := s.Platform.RecoverSweep(ctx, 0)
			assert.Zero(t, n, "none completed")
			require.Error(t, err)
			assert.Len(t, joined(err), 1, "the failed try alone: %v", err)
			assert.True(t, strings.HasPrefix(err.Error(), name), "%q names the failed try's %q", err, name)
			assert.ErrorIs(t, err, payflow.ErrUnavailable)
			assert.ErrorIs(t, err, errLedgerDown)
			assert.False(t, errors.Is(err, payflow.ErrConflict), "the lost deferral is no failure: %v", err)
			assert.True(t, st.taken, "the other process wrote before the deferral")

			gotVersion, state, deferred := stored()
			assert.Equal(t, tc.state, state)
			assert.Equal(t, version+1, gotVersion, "the other process's write alone")
			assert.Equal(t, st.other, deferred, "the other process's deferral kept")
			ls.down.Store(false)
			if tc.state == payflow.RefundPending {
				assert.Equal(t, [2]payflow.Balance{{Posted: before[0].Posted - 690}, {Posted: before[1].Posted + 690}}, s.balances(t),
					"the payment alone moved")
			} else {
				assert.Equal(t, before, s.balances(t), "nothing moved")
			}
		})
	}
}

// dueHook is a Store that runs hook, once, after the first DuePayments of
// a state that finds requests, before the caller sees them.
type dueHook struct {
	payflow.Store
	state string
	hook  func()
}

func (s *dueHook) DuePayments(ctx context.Context, state string, t time.Time, limit int) ([]*payflow.PaymentRecord, error) {
	due, err := s.Store.DuePayments(ctx, state, t, limit)
	if hook := s.hook; err == nil && state == s.state && len(due) > 0 && hook != nil {
		s.hook = nil
		hook()
	}
	return due, err
}

// TestSweepPostsWhileCaptureOfAnotherAmountRefused: the recovery sweep
// reads a capture of 400 left under way (capturing); before it posts,
// the merchant's same capture sent again finds the merchant's account
// closed and records it refused (held), and a capture of 500 is refused
// alike (held, its amount 500). The account reopened, the sweep posts
// 400; its compare-and-set fails, and it records the request capturing
// again for the amount it posted, 400, not the held record's 500. Its
// next record, of the capture, lost, the request is left capturing 400, and
// the next sweep ends it captured for 400 with its receipt, the money
// moved once.
func TestSweepPostsWhileCaptureOfAnotherAmountRefused(t *testing.T) {
	ctx := context.Background()
	st := &updateHook{Store: memory.New()}
	due := &dueHook{Store: st, state: "capturing"}
	s := newShopOn(t, due, true, paytest.Options{})
	v := s.held(t)
	s.recordCapturing(t, v.ID, 400)
	merchant := payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID)
	closing := closeAccount(t, s, merchant, eurLedger)

	var again []uint64 // the amounts of the records of a capture again, from held
	refused := fmt.Sprintf("payflow: conflicting request: capture refused: ledger: account %v (code 2, ledger 978) is closed", merchant)
	due.hook = func() {
		for _, amount := range []uint64{400, 500} {
			_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID, Amount: amount})
			require.ErrorIs(t, err, payflow.ErrConflict, "capture of %d", amount)
			assert.EqualError(t, err, refused)
		}
		stored, err := s.Store.Payment(ctx, v.ID)
		require.NoError(t, err)
		require.Equal(t, payflow.StateHeld, stored.State)
		require.Equal(t, uint64(500), stored.CaptureAmount)
		reopenAccount(t, s, closing)
		st.hook = func(p *payflow.PaymentRecord, from string) error {
			switch {
			case from == payflow.StateHeld && p.State == "capturing":
				again = append(again, p.CaptureAmount)
			case from == "capturing" && p.State == payflow.StateCaptured && len(again) > 0:
				st.hook = nil
				return errLost
			}
			return nil
		}
	}
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	n, err := s.Platform.RecoverSweep(ctx, 0)
	require.ErrorIs(t, err, errLost)
	assert.EqualError(t, err, fmt.Sprintf("settling request %v: connection lost", v.ID))
	assert.Zero(t, n)
	assert.Equal(t, []uint64{400}, again, "recorded capturing again for the amount posted")
	stored, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, "capturing", stored.State)
	assert.Equal(t, uint64(400), stored.CaptureAmount)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds - 400}, {Posted: 400}}, s.balances(t), "the ledger posted 400")

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 1)
	requireCapturedFor(t, s, v.ID, 400)
}

// TestCaptureRefusedAfterSweepCaptured: a capture that finds the
// merchant's account closed, no post made, and whose record of the
// refusal (held) finds the request captured meanwhile by the recovery
// sweep (the account reopened, the posts made) answers the recorded
// capture, not its own refusal: the captured view with its receipt, the
// money moved once.
func TestCaptureRefusedAfterSweepCaptured(t *testing.T) {
	ctx := context.Background()
	st := &updateHook{Store: memory.New()}
	s := newShopOn(t, st, true, paytest.Options{})
	v := s.held(t)
	closing := closeAccount(t, s, payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID), eurLedger)
	st.hook = func(p *payflow.PaymentRecord, from string) error {
		if from == "capturing" && p.State == payflow.StateHeld {
			st.hook = nil
			reopenAccount(t, s, closing)
			s.Clock.Advance(payflow.DefaultRecoverAfter)
			s.sweep(t, 1)
			s.requireState(t, v.ID, payflow.StateCaptured)
		}
		return nil
	}
	got, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
	require.NoError(t, err)
	assert.Nil(t, st.hook, "the refusal was recorded after the sweep")
	assert.Equal(t, payflow.StateCaptured, got.State)
	assert.Equal(t, uint64(690), got.Captured)
	requireCapturedFor(t, s, v.ID, 690)
	stored, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, stored.Receipt, got.Receipt)
}
