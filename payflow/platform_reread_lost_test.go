package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// rereadLost is a store whose compare-and-sets of the kinds armed lose
// once (conflicts), after which the next read of a payment (payments) or
// of a refund (refunds) fails with errLost: a process that lost a write
// to another and then its connection.
type rereadLost struct {
	*conflictStore
	reads *faultStore
}

func newRereadLost() *rereadLost {
	r := &faultStore{Store: memory.New()}
	return &rereadLost{conflictStore: &conflictStore{Store: r}, reads: r}
}

// loseOnce arms the next compare-and-set of the kinds set on s to lose
// once, then the next read lost to fail.
func (s *rereadLost) loseOnce(lost func()) {
	s.onLost = func() {
		s.disarm()
		lost()
	}
}

// TestSettleRereadLost: an approval whose record of the capture loses to
// another write and then cannot read the request again fails with the
// store's error; the request stays approving with the posts made, and the
// same consent sent again finishes it captured, the money moved once.
func TestSettleRereadLost(t *testing.T) {
	ctx := context.Background()
	st := newRereadLost()
	s := newShopOn(t, st, false, paytest.Options{})
	v, _ := s.request(t)
	c := s.consent(t, v.ID)
	st.payments = true
	st.loseOnce(st.reads.payment.failNext)

	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.ErrorIs(t, err, errLost)
	s.requireState(t, v.ID, payflow.StateApproving)
	assert.Equal(t, basketPaid, s.balances(t), "the posts were made")

	done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, done.State)
	assert.Equal(t, basketPaid, s.balances(t))
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestRefundRereadLost: a refund whose write loses to another write and
// that then cannot read its payment, or its refund, again fails with the
// store's error, the refund's counter unspent. Its acceptance lost,
// nothing is stored and nothing moves; its end's record lost, the refund
// stays pending with the money moved, and the same refund sent again,
// whose read of the payment fails too, fails alike. Sent again once the
// store answers, it ends done, the money moved once.
func TestRefundRereadLost(t *testing.T) {
	refunded := [2]payflow.Balance{{Posted: funds - 490}, {Posted: 490}}
	for _, tt := range []struct {
		name    string
		arm     func(st *rereadLost)
		state   string // the refund's, "" for none stored
		after   [2]payflow.Balance
		pending bool // the same refund sent again while its payment's read fails
	}{
		{"acceptance", func(st *rereadLost) {
			st.acceptances = true
			st.loseOnce(st.reads.payment.failNext)
		}, "", basketPaid, false},
		{"end", func(st *rereadLost) {
			st.refunds = true
			st.loseOnce(st.reads.refund.failNext)
		}, payflow.RefundPending, refunded, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := newRereadLost()
			s := newShopOn(t, st, false, paytest.Options{})
			v, _ := s.request(t)
			s.captured(t, v.ID, false)
			msg, rid := refundMsg(s, v.ID)
			tt.arm(st)

			_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.ErrorIs(t, err, errLost)
			stored, serr := s.Store.Refund(ctx, rid)
			if tt.state == "" {
				require.ErrorIs(t, serr, payflow.ErrNotFound)
			} else {
				require.NoError(t, serr)
				assert.Equal(t, tt.state, stored.State)
			}
			assert.Equal(t, tt.after, s.balances(t))
			if tt.pending {
				st.reads.payment.failNext()
				_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
				require.ErrorIs(t, err, errLost)
				assert.Equal(t, refunded, s.balances(t))
			}

			got, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.NoError(t, err)
			assert.NotEmpty(t, got.Receipt, "done")
			stored, err = s.Store.Refund(ctx, rid)
			require.NoError(t, err)
			assert.Equal(t, payflow.RefundDone, stored.State)
			assert.Equal(t, refunded, s.balances(t))
			p, err := s.Store.Payment(ctx, v.ID)
			require.NoError(t, err)
			assert.Equal(t, uint64(200), p.Refunded)
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// TestRefundRefusalRereadLost: a refund that the ledger refuses (the
// merchant's balance paid out), whose record of the failure loses to
// another write and that then cannot read its payment again, fails with
// the store's error; the refund stays pending with its reservation and
// nothing moves. Sent again, it fails for want of funds, the reservation
// released.
func TestRefundRefusalRereadLost(t *testing.T) {
	ctx := context.Background()
	st := newRereadLost()
	s := newShopOn(t, st, false, paytest.Options{})
	v, _ := s.request(t)
	s.captured(t, v.ID, false)
	s.payout(t, 600)
	paidOut := s.balances(t)
	msg, rid := refundMsg(s, v.ID)
	st.refunds = true
	st.loseOnce(st.reads.payment.failNext)

	_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, errLost)
	r, err := s.Store.Refund(ctx, rid)
	require.NoError(t, err)
	assert.Equal(t, payflow.RefundPending, r.State)
	p, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, uint64(200), p.Refunded, "reserved")
	assert.Equal(t, paidOut, s.balances(t))

	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrFunds)
	r, err = s.Store.Refund(ctx, rid)
	require.NoError(t, err)
	assert.Equal(t, payflow.RefundFailed, r.State)
	p, err = s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Zero(t, p.Refunded, "released")
	assert.Equal(t, paidOut, s.balances(t))
}

// TestExpiryRereadLost: a call that finds a request pending past its
// expiry, whose record of the expiry loses to another write and that then
// cannot read the request again, fails with the store's error: a read,
// the seller's request sent again, a consent signed before the expiry.
// The request stays pending as stored and nothing moves; the same call
// made again settles the expiry.
func TestExpiryRereadLost(t *testing.T) {
	for _, tt := range []struct {
		name string
		call func(ctx context.Context, s *shop, id payflow.ID, msg, consent []byte) (*payflow.PaymentView, error)
		want error // of the call made again
	}{
		{"read", func(ctx context.Context, s *shop, id payflow.ID, msg, consent []byte) (*payflow.PaymentView, error) {
			return s.Platform.Payment(ctx, s.shopper.Token, id)
		}, nil},
		{"request sent again", func(ctx context.Context, s *shop, id payflow.ID, msg, consent []byte) (*payflow.PaymentView, error) {
			return s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
		}, nil},
		{"consent", func(ctx context.Context, s *shop, id payflow.ID, msg, consent []byte) (*payflow.PaymentView, error) {
			return s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
		}, payflow.ErrExpired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := newRereadLost()
			s := newShopOn(t, st, false, paytest.Options{})
			v, msg := s.request(t)
			c := s.consent(t, v.ID)
			before := s.balances(t)
			s.Clock.Advance(v.ExpiresAt.Sub(s.Clock.Now()))
			st.payments = true
			st.loseOnce(st.reads.payment.failNext)

			_, err := tt.call(ctx, s, v.ID, msg, c)
			require.ErrorIs(t, err, errLost)
			s.requireState(t, v.ID, payflow.StatePending)

			got, err := tt.call(ctx, s, v.ID, msg, c)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
			} else {
				require.NoError(t, err)
				assert.Equal(t, payflow.StateExpired, got.State)
			}
			s.requireState(t, v.ID, payflow.StateExpired)
			assert.Equal(t, before, s.balances(t))
		})
	}
}

// TestSettledConsentExpiryVoidFails: the consent that put a request on
// hold, sent again once the hold is due to expire, has the hold voided
// first; a void that the ledger fails fails the call with ErrUnavailable,
// the request left voiding with its hold. Sent again with the ledger up,
// it gets the request expired, the hold released.
func TestSettledConsentExpiryVoidFails(t *testing.T) {
	ctx := context.Background()
	ls := &downLedger{Store: ledgermemory.New()}
	s := newShopOnLedger(t, memory.New(), ls, true, paytest.Options{})
	before := s.balances(t)
	v, _ := s.request(t)
	c := s.consent(t, v.ID)
	h, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.NoError(t, err)
	require.Equal(t, payflow.StateHeld, h.State)
	heldBalances := s.balances(t)
	s.Clock.Advance(h.HoldExpiresAt.Sub(s.Clock.Now()))
	s.RefreshCRLs()

	ls.down.Store(true)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.ErrorIs(t, err, errLedgerDown)
	ls.down.Store(false)
	s.requireState(t, v.ID, "voiding")
	assert.Equal(t, heldBalances, s.balances(t))

	got, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateExpired, got.State)
	s.requireState(t, v.ID, payflow.StateExpired)
	assert.Equal(t, before, s.balances(t))
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestApproveCopyMeanwhileRereadLost: of two copies of one consent sent
// at the same moment, the one accepted second, which then cannot read the
// request again to find the settlement of the other, fails with the
// store's error; the other captured the request, the money moved once,
// and the consent sent again gets the captured view.
func TestApproveCopyMeanwhileRereadLost(t *testing.T) {
	ctx := context.Background()
	reads := &faultStore{Store: memory.New()}
	st := &acceptHook{Store: reads}
	s := newShopOn(t, st, false, paytest.Options{})
	v, _ := s.request(t)
	c := s.consent(t, v.ID)
	var firstErr error
	st.hook = func() {
		_, firstErr = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
		reads.payment.failNext()
	}

	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.ErrorIs(t, err, errLost)
	require.NoError(t, firstErr)
	s.requireState(t, v.ID, payflow.StateCaptured)
	assert.Equal(t, basketPaid, s.balances(t))

	again, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, again.State)
	assert.Equal(t, basketPaid, s.balances(t))
}
