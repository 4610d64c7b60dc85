package payflow_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// conflictStore is a Store whose compare-and-set writes of payment
// requests and refunds, of the kinds armed, all lose, writing nothing:
// the conflict of a faulty store, or one that never resolves. It counts
// the writes it answered ErrConflict, runs onLost at each, and answers
// errUnbounded instead once it has answered ErrConflict four times as
// often as a call may go round again (MaxConflictRetries), so that a call
// that would go round for ever ends with an error that tells so.
type conflictStore struct {
	payflow.Store
	payments    bool // UpdatePayment
	refunds     bool // UpdateRefund
	acceptances bool // Accept of an update of a request (a consent's, a refund's)
	lost        int
	onLost      func()
}

// errUnbounded is the answer of a conflictStore to a call that went on
// past four times the bound of its retries.
var errUnbounded = errors.New("compare-and-sets lost without end")

func (s *conflictStore) lose() error {
	s.lost++
	if s.lost > 4*(payflow.MaxConflictRetries+1) {
		return errUnbounded
	}
	if s.onLost != nil {
		s.onLost()
	}
	return fmt.Errorf("%w: version changed", payflow.ErrConflict)
}

// disarm has every later write go through.
func (s *conflictStore) disarm() {
	s.payments, s.refunds, s.acceptances, s.onLost = false, false, false, nil
}

func (s *conflictStore) UpdatePayment(ctx context.Context, p *payflow.PaymentRecord, from string) error {
	if s.payments {
		return s.lose()
	}
	return s.Store.UpdatePayment(ctx, p, from)
}

func (s *conflictStore) UpdateRefund(ctx context.Context, r *payflow.RefundRecord, from string, p *payflow.PaymentRecord, pFrom string) error {
	if s.refunds {
		return s.lose()
	}
	return s.Store.UpdateRefund(ctx, r, from, p, pFrom)
}

func (s *conflictStore) Accept(ctx context.Context, a *payflow.Acceptance) error {
	if s.acceptances && a.Update != nil {
		return s.lose()
	}
	return s.Store.Accept(ctx, a)
}

// lostCase is a call whose compare-and-sets a conflictStore loses. prepare
// brings the shop to the state before the call, arms st and returns the
// call and a check of what the call left, which st, disarmed by then,
// lets finish by a retry or the recovery sweep.
type lostCase struct {
	name    string
	manual  bool
	prepare func(t *testing.T, s *shop, st *conflictStore) (call func(ctx context.Context) error, left func(t *testing.T))
}

// refundMsg returns a refund of 200 of the captured request id, signed by
// the seller card, and its ID.
func refundMsg(s *shop, id payflow.ID) ([]byte, payflow.ID) {
	rid := payflow.ID([]byte("refund-000000001"))
	return s.seller.MustSign(&record.RefundRequest{RefundID: rid[:], RequestID: id[:], Amount: 200, Currency: "EUR"}), rid
}

// actionCase is the lostCase of act on the request that made brings
// about (its ID), whose updates all lose: the request stays in state
// from, nothing moved, and act sent again moves it to state to, leaving
// the balances want (nil: as they were).
func actionCase(name string, manual bool, made func(*testing.T, *shop) payflow.ID,
	act func(context.Context, *shop, payflow.ID) (*payflow.PaymentView, error), from, to string, want *[2]payflow.Balance) lostCase {
	return lostCase{name, manual, func(t *testing.T, s *shop, st *conflictStore) (func(context.Context) error, func(*testing.T)) {
		id := made(t, s)
		before := s.balances(t)
		st.payments = true
		return func(ctx context.Context) error {
				_, err := act(ctx, s, id)
				return err
			}, func(t *testing.T) {
				s.requireState(t, id, from)
				assert.Equal(t, before, s.balances(t), "nothing moved")
				got, err := act(context.Background(), s, id)
				require.NoError(t, err, "sent again")
				assert.Equal(t, to, got.State)
				s.requireState(t, id, to)
				if want != nil {
					before = *want
				}
				assert.Equal(t, before, s.balances(t), "sent again")
			}
	}}
}

// pendingRequest, heldRequest and expiredRequest make a request for the
// basket: pending, held (on a shop whose merchant captures manually), or
// pending past its expiry.
func pendingRequest(t *testing.T, s *shop) payflow.ID {
	v, _ := s.request(t)
	return v.ID
}

func heldRequest(t *testing.T, s *shop) payflow.ID { return s.held(t).ID }

func expiredRequest(t *testing.T, s *shop) payflow.ID {
	id := pendingRequest(t, s)
	s.Clock.Advance(payflow.DefaultRequestTTL)
	return id
}

// callDecline, callCancel, callCapture and callPayment act on request
// id: the payer's decline, the seller card's cancellation and capture of
// all of it, and the seller card's read.
func callDecline(ctx context.Context, s *shop, id payflow.ID) (*payflow.PaymentView, error) {
	return s.Platform.Decline(ctx, s.shopper.Token, id)
}

func callCancel(ctx context.Context, s *shop, id payflow.ID) (*payflow.PaymentView, error) {
	return s.Platform.Cancel(ctx, s.seller.Token, id)
}

func callCapture(ctx context.Context, s *shop, id payflow.ID) (*payflow.PaymentView, error) {
	return s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: id})
}

func callPayment(ctx context.Context, s *shop, id payflow.ID) (*payflow.PaymentView, error) {
	return s.Platform.Payment(ctx, s.seller.Token, id)
}

// lostCases are the calls that write a payment request or a refund by
// compare-and-set, each of its own retry loop, and what each leaves when
// its writes are lost for ever: nothing beyond the steps it completed.
var lostCases = []lostCase{
	actionCase("decline", false, pendingRequest, callDecline, payflow.StatePending, payflow.StateDeclined, nil),
	actionCase("cancel pending", false, pendingRequest, callCancel, payflow.StatePending, payflow.StateCancelled, nil),
	actionCase("cancel held", true, heldRequest, callCancel, payflow.StateHeld, payflow.StateCancelled,
		&[2]payflow.Balance{{Posted: funds}, {}}),
	actionCase("capture", true, heldRequest, callCapture, payflow.StateHeld, payflow.StateCaptured,
		&basketPaid),
	actionCase("read at expiry", false, expiredRequest, callPayment, payflow.StatePending, payflow.StateExpired, nil),
	{"approve", false, func(t *testing.T, s *shop, st *conflictStore) (func(context.Context) error, func(*testing.T)) {
		v, _ := s.request(t)
		msg := s.consent(t, v.ID)
		before := s.balances(t)
		st.acceptances = true
		return func(ctx context.Context) error {
				_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: msg})
				return err
			}, func(t *testing.T) {
				s.requireState(t, v.ID, payflow.StatePending)
				requireUnspent(t, s, msg, &record.Consent{}, "the consent whose acceptance was lost")
				assert.Equal(t, before, s.balances(t))
				got, err := s.Platform.Approve(context.Background(), &payflow.ApproveRequest{Consent: msg})
				require.NoError(t, err, "the same consent is taken")
				assert.Equal(t, payflow.StateCaptured, got.State)
				assert.Equal(t, basketPaid, s.balances(t))
			}
	}},
	{"settlement", true, func(t *testing.T, s *shop, st *conflictStore) (func(context.Context) error, func(*testing.T)) {
		v, _ := s.request(t)
		msg := s.consent(t, v.ID)
		st.payments = true // the consent is accepted; the steps of its settlement are lost
		return func(ctx context.Context) error {
				_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: msg})
				return err
			}, func(t *testing.T) {
				s.requireState(t, v.ID, payflow.StateApproving)
				held := [2]payflow.Balance{{Posted: funds, Held: 690}, {Incoming: 690}}
				assert.Equal(t, held, s.balances(t), "the hold of the approval under way, nothing posted")
				s.Clock.Advance(payflow.DefaultRecoverAfter)
				s.sweep(t, 1)
				s.requireState(t, v.ID, payflow.StateHeld)
				assert.Equal(t, held, s.balances(t), "held once")
			}
	}},
	{"refund", false, func(t *testing.T, s *shop, st *conflictStore) (func(context.Context) error, func(*testing.T)) {
		v, _ := s.request(t)
		s.captured(t, v.ID, false)
		msg, rid := refundMsg(s, v.ID)
		before := s.balances(t)
		st.acceptances = true
		return func(ctx context.Context) error {
				_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
				return err
			}, func(t *testing.T) {
				ctx := context.Background()
				_, err := s.Store.Refund(ctx, rid)
				require.ErrorIs(t, err, payflow.ErrNotFound, "no refund stored")
				p, err := s.Store.Payment(ctx, v.ID)
				require.NoError(t, err)
				assert.Equal(t, uint64(0), p.Refunded, "nothing reserved")
				requireUnspent(t, s, msg, &record.RefundRequest{}, "the refund whose acceptance was lost")
				assert.Equal(t, before, s.balances(t))
				got, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
				require.NoError(t, err, "the same refund is taken")
				assert.Equal(t, uint64(200), got.Refunded)
				assert.Equal(t, [2]payflow.Balance{{Posted: before[0].Posted + 200}, {Posted: before[1].Posted - 200}}, s.balances(t))
			}
	}},
	{"refund transfer", false, func(t *testing.T, s *shop, st *conflictStore) (func(context.Context) error, func(*testing.T)) {
		v, _ := s.request(t)
		s.captured(t, v.ID, false)
		msg, rid := refundMsg(s, v.ID)
		before := s.balances(t)
		st.refunds = true // the refund is accepted; the record of its outcome is lost
		return func(ctx context.Context) error {
				_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
				return err
			}, func(t *testing.T) {
				ctx := context.Background()
				stored, err := s.Store.Refund(ctx, rid)
				require.NoError(t, err)
				assert.Equal(t, payflow.RefundPending, stored.State)
				refunded := [2]payflow.Balance{{Posted: before[0].Posted + 200}, {Posted: before[1].Posted - 200}}
				assert.Equal(t, refunded, s.balances(t), "the transfer of the refund under way")
				s.Clock.Advance(payflow.DefaultRecoverAfter)
				s.sweep(t, 1)
				stored, err = s.Store.Refund(ctx, rid)
				require.NoError(t, err)
				assert.Equal(t, payflow.RefundDone, stored.State)
				assert.Equal(t, refunded, s.balances(t), "refunded once")
			}
	}},
}

// TestCompareAndSetLostForEver: a call whose compare-and-sets of a
// payment request or refund all lose (a store that answers ErrConflict
// for ever) reads the record again and tries again MaxConflictRetries
// times, then fails with ErrContended (unavailable, not conflict), having
// written nothing beyond the steps it completed: the request or refund
// stays as stored, the ledger holding at most the transfers of the
// settlement or refund under way, and a retry or the recovery sweep
// finishes it once the store writes again.
func TestCompareAndSetLostForEver(t *testing.T) {
	for _, tc := range lostCases {
		t.Run(tc.name, func(t *testing.T) {
			st := &conflictStore{Store: memory.New()}
			s := newShopOn(t, st, tc.manual, paytest.Options{})
			call, left := tc.prepare(t, s, st)
			err := call(context.Background())
			lost := st.lost
			st.disarm()
			require.ErrorIs(t, err, payflow.ErrContended)
			assert.ErrorIs(t, err, payflow.ErrUnavailable)
			assert.NotErrorIs(t, err, payflow.ErrConflict)
			assert.Equal(t, "unavailable", payflow.AsError(err).Code)
			assert.Equal(t, 101, lost, "compare-and-sets tried: the first and MaxConflictRetries (100) more")
			left(t)
		})
	}
}

// TestCompareAndSetLostContextEnded: a call whose compare-and-set of a
// payment request or refund loses while its context has ended does not
// try again: it fails with the context's error, having written nothing
// beyond the steps it completed, which a retry or the recovery sweep
// finishes.
func TestCompareAndSetLostContextEnded(t *testing.T) {
	for _, tc := range lostCases {
		t.Run(tc.name, func(t *testing.T) {
			st := &conflictStore{Store: memory.New()}
			s := newShopOn(t, st, tc.manual, paytest.Options{})
			call, left := tc.prepare(t, s, st)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			st.onLost = cancel
			err := call(ctx)
			lost := st.lost
			st.disarm()
			require.ErrorIs(t, err, context.Canceled)
			assert.NotErrorIs(t, err, payflow.ErrUnavailable, "the context's error, not a ledger call's")
			assert.NotErrorIs(t, err, payflow.ErrConflict)
			assert.NotErrorIs(t, err, payflow.ErrContended)
			assert.Equal(t, 1, lost, "compare-and-sets tried")
			left(t)
		})
	}
}
