package payflow_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// errWrites ends a run of refund writes that would otherwise go on.
var errWrites = errors.New("too many refund writes")

// deferredMeanwhile is a Store on which another process defers a pending
// refund (as its RecoverSweep does after a try that failed) just before
// the first write that ends it in state end, and that refuses the writes
// of refunds after the tenth.
type deferredMeanwhile struct {
	payflow.Store
	end string
	// ended is the state that the other process ends the refund in rather
	// than deferring it: failed, or done with otherReceipt.
	ended  string
	writes int
	once
}

// otherReceipt is the receipt of a refund that deferredMeanwhile's other
// process ends done.
var otherReceipt = []byte("the other process's receipt")

func (s *deferredMeanwhile) UpdateRefund(ctx context.Context, r *payflow.RefundRecord, from string, p *payflow.PaymentRecord, pFrom string) error {
	if s.writes++; s.writes > 10 {
		return errWrites
	}
	if r.State == s.end && s.take() {
		other, err := s.Store.Refund(ctx, r.ID)
		if err != nil {
			return err
		}
		var release *payflow.PaymentRecord // the payment, its reservation released by the failure
		var releaseFrom string
		switch s.ended {
		case payflow.RefundFailed:
			other.State, other.Failure = payflow.RefundFailed, payflow.AsError(payflow.ErrFunds).Code
			if release, err = s.Store.Payment(ctx, other.RequestID); err != nil {
				return err
			}
			release.Refunded -= other.Amount
			releaseFrom = payflow.StateCaptured
		case payflow.RefundDone:
			other.State, other.Receipt = payflow.RefundDone, otherReceipt
		default:
			other.DeferredTo = other.CreatedAt.Add(payflow.MaxRecoverDelay)
		}
		if err := s.Store.UpdateRefund(ctx, other, payflow.RefundPending, release, releaseFrom); err != nil {
			return err
		}
	}
	return s.Store.UpdateRefund(ctx, r, from, p, pFrom)
}

// paidRefund returns a shop on st whose shopper paid the basket (690), the
// merchant's balance then paid out by payout, with the view of the
// captured request and a refund of 200 of it that the seller card signed,
// and its ID.
func paidRefund(t *testing.T, st payflow.Store, payout uint64) (s *shop, v *payflow.PaymentView, id payflow.ID, msg []byte) {
	t.Helper()
	s = newShopOn(t, st, false, paytest.Options{})
	v, _ = s.request(t)
	_, err := s.Platform.Approve(context.Background(), &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	if payout > 0 {
		s.payout(t, payout)
	}
	id = payflow.ID([]byte("refund-000000001"))
	msg = s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: 200, Currency: "EUR"})
	return s, v, id, msg
}

// TestRefundEndsAfterDeferral: a refund that another process deferred
// between its read and the write of its end (done with its receipt, or
// failed with its reservation released) is ended from the stored refund,
// once: the refund's compare-and-set finds it written since, not only in
// its state.
func TestRefundEndsAfterDeferral(t *testing.T) {
	for _, tt := range []struct {
		end    string
		payout uint64 // leaves the merchant's balance short of the refund
		want   error
	}{
		{payflow.RefundDone, 0, nil},
		{payflow.RefundFailed, 600, payflow.ErrFunds},
	} {
		t.Run(tt.end, func(t *testing.T) {
			st := &deferredMeanwhile{Store: memory.New(), end: tt.end}
			s, v, id, msg := paidRefund(t, st, tt.payout)
			ctx := context.Background()
			before := s.balances(t)

			rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			stored, err2 := st.Refund(ctx, id)
			require.NoError(t, err2)
			assert.Equal(t, tt.end, stored.State)
			assert.Equal(t, payflow.MaxRecoverDelay, stored.DeferredTo.Sub(stored.CreatedAt), "the deferral written meanwhile kept")
			assert.Equal(t, 2, st.writes, "the end, refused after the deferral, and the end again")
			p, err2 := st.Payment(ctx, v.ID)
			require.NoError(t, err2)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
				assert.Equal(t, payflow.AsError(tt.want).Code, stored.Failure)
				assert.Equal(t, uint64(0), p.Refunded, "the reservation released")
				assert.Equal(t, before, s.balances(t))
				return
			}
			require.NoError(t, err)
			assert.NotEmpty(t, rv.Receipt)
			assert.Equal(t, stored.Receipt, rv.Receipt)
			assert.Equal(t, uint64(200), p.Refunded)
			assert.Equal(t, [2]payflow.Balance{{Posted: before[0].Posted + 200}, {Posted: before[1].Posted - 200}}, s.balances(t))
		})
	}
}

// TestRefundEndedFailedMeanwhile: a refund whose end (as done, or as
// failed when the ledger refused it here too) finds it ended failed by
// another process meanwhile answers the stored failure, as the same refund
// sent again does: not a view without a receipt, nor its own refusal. The
// reservation is released once, by the other process.
func TestRefundEndedFailedMeanwhile(t *testing.T) {
	for _, tt := range []struct {
		end    string
		payout uint64 // leaves the merchant's balance short of the refund
	}{
		{payflow.RefundDone, 0},
		{payflow.RefundFailed, 600},
	} {
		t.Run(tt.end, func(t *testing.T) {
			st := &deferredMeanwhile{Store: memory.New(), end: tt.end, ended: payflow.RefundFailed}
			s, v, id, msg := paidRefund(t, st, tt.payout)
			ctx := context.Background()

			rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.ErrorIs(t, err, payflow.ErrFunds)
			assert.Nil(t, rv)
			assert.Equal(t, 1, st.writes, "the end, refused after the other's end")
			stored, err2 := st.Refund(ctx, id)
			require.NoError(t, err2)
			assert.Equal(t, payflow.RefundFailed, stored.State)
			assert.Empty(t, stored.Receipt)
			p, err2 := st.Payment(ctx, v.ID)
			require.NoError(t, err2)
			assert.Equal(t, uint64(0), p.Refunded, "the reservation released once")

			_, again := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.ErrorIs(t, again, payflow.ErrFunds)
			assert.Equal(t, payflow.AsError(again), payflow.AsError(err), "the same refund sent again")
		})
	}
}

// TestRefundEndedDoneMeanwhile: a refund that the ledger refused, whose
// end as failed finds it ended done by another process meanwhile,
// answers the view with that process's receipt, as the same refund sent
// again does, not the ledger's refusal.
func TestRefundEndedDoneMeanwhile(t *testing.T) {
	st := &deferredMeanwhile{Store: memory.New(), end: payflow.RefundFailed, ended: payflow.RefundDone}
	s, v, id, msg := paidRefund(t, st, 600) // the ledger refuses the refund
	ctx := context.Background()

	rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.NoError(t, err)
	assert.Equal(t, otherReceipt, rv.Receipt)
	assert.Equal(t, uint64(200), rv.Refunded)
	assert.Equal(t, 1, st.writes, "the end as failed, refused after the other's end")
	stored, err := st.Refund(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, payflow.RefundDone, stored.State)
	p, err := st.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, uint64(200), p.Refunded, "the reservation kept")

	again, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.NoError(t, err)
	assert.Equal(t, rv, again, "the same refund sent again")
}

// failedBeforePayment is a Store on which another platform process (other)
// drives the pending refund msg to its end just before this process reads
// the refund's payment, once armed.
type failedBeforePayment struct {
	payflow.Store
	other *payflow.Platform
	msg   []byte
	armed bool
}

func (s *failedBeforePayment) Payment(ctx context.Context, id payflow.ID) (*payflow.PaymentRecord, error) {
	if s.armed {
		s.armed = false
		if _, err := s.other.Refund(ctx, &payflow.RefundRequest{Refund: s.msg}); !errors.Is(err, payflow.ErrFunds) {
			return nil, fmt.Errorf("the other process's refund: %v", err)
		}
	}
	return s.Store.Payment(ctx, id)
}

// reserveRefund stores the refund msg of the captured request id pending,
// its amount reserved on the payment, as a refund whose first call ended
// before its ledger transfer leaves it.
func reserveRefund(t *testing.T, st payflow.Store, id payflow.ID, msg []byte, now time.Time) {
	t.Helper()
	ctx := context.Background()
	var rr record.RefundRequest
	require.NoError(t, record.Open(msg, &rr))
	p, err := st.Payment(ctx, id)
	require.NoError(t, err)
	p.Refunded += rr.Amount
	h := record.Hash(msg)
	require.NoError(t, st.Accept(ctx, &payflow.Acceptance{CardID: rr.CardID, Counter: rr.Counter, From: payflow.StateCaptured, Update: p,
		Refund: &payflow.RefundRecord{ID: payflow.ID(rr.RefundID), RequestID: id, State: payflow.RefundPending, Amount: rr.Amount,
			Currency: rr.Currency, Request: msg, Hash: h[:], Refunded: p.Refunded, CreatedAt: now}}))
}

// TestRefundFailedElsewhereAfterRead: a pending refund (its amount
// reserved, its transfer not made) that another process fails for want of
// funds, releasing the reservation, after this process read it pending and
// before it read the payment, answers the stored failure
// (insufficient_funds), sent again or driven by the recovery sweep, where
// it released the reservation a second time from a payment that no longer
// held it: the refunded total wrapped below zero, refused as invalid, and
// the sweep reported it.
func TestRefundFailedElsewhereAfterRead(t *testing.T) {
	ctx := context.Background()
	inner := memory.New()
	st := &failedBeforePayment{Store: inner}
	s, v, id, msg := paidRefund(t, st, 600) // the merchant keeps 90, short of the refund's 200
	other, err := payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: s.Ledger, Store: inner, Verifier: s.Verifier, Key: s.Key, Chain: s.PlatformChain, Now: s.Clock.Now,
	})
	require.NoError(t, err)
	st.other = other
	refunded := func() uint64 {
		p, err := inner.Payment(ctx, v.ID)
		require.NoError(t, err)
		return p.Refunded
	}

	reserveRefund(t, inner, v.ID, msg, s.Clock.Now())
	st.msg, st.armed = msg, true
	rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrFunds)
	assert.Equal(t, "insufficient_funds", payflow.AsError(err).Code)
	assert.Nil(t, rv)
	stored, err := inner.Refund(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, payflow.RefundFailed, stored.State)
	assert.Equal(t, uint64(0), refunded(), "the reservation released once")

	msg2 := s.seller.MustSign(&record.RefundRequest{RefundID: []byte("refund-000000002"), RequestID: v.ID[:], Amount: 200, Currency: "EUR"})
	reserveRefund(t, inner, v.ID, msg2, s.Clock.Now())
	st.msg, st.armed = msg2, true
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	_, err = s.Platform.RecoverSweep(ctx, 0)
	require.NoError(t, err, "the refund ended elsewhere")
	stored, err = inner.Refund(ctx, payflow.ID([]byte("refund-000000002")))
	require.NoError(t, err)
	assert.Equal(t, payflow.RefundFailed, stored.State)
	assert.Equal(t, uint64(0), refunded(), "the reservation released once")
	assert.Equal(t, [2]payflow.Balance{{Posted: funds - 690}, {Posted: 90}}, s.balances(t), "no refund moved")
}

// errReads ends a run of payment reads that would otherwise go on.
var errReads = errors.New("too many payment reads")

// shortPayment is a Store that breaks the refunds' invariant, once short:
// it shows every payment with nothing refunded, less than the
// reservation of a pending refund of it, which the refund's failure
// releases in the same write; it refuses the reads of payments after
// the tenth.
type shortPayment struct {
	payflow.Store
	short bool
	reads int
}

func (s *shortPayment) Payment(ctx context.Context, id payflow.ID) (*payflow.PaymentRecord, error) {
	p, err := s.Store.Payment(ctx, id)
	if err != nil || !s.short {
		return p, err
	}
	if s.reads++; s.reads > 10 {
		return nil, errReads
	}
	p.Refunded = 0
	return p, nil
}

// TestRefundReservationMissing: a pending refund that the ledger refuses,
// whose payment the store shows holding less than the refund's
// reservation while it still holds the refund pending (a broken store:
// the failure and the release are one write), is ErrInternal after one
// more read of each, sent again or driven by the recovery sweep, which
// reports it and defers it: the refund stays pending, its reservation as
// stored, nothing moved. It read them again without end.
func TestRefundReservationMissing(t *testing.T) {
	ctx := context.Background()
	st := &shortPayment{Store: memory.New()}
	s, v, id, msg := paidRefund(t, st, 600) // the merchant keeps 90, short of the refund's 200
	reserveRefund(t, st.Store, v.ID, msg, s.Clock.Now())
	before := s.balances(t)
	stored := func() *payflow.RefundRecord {
		t.Helper()
		r := requireRefund(t, st.Store, id, payflow.RefundPending, 200)
		assert.Equal(t, before, s.balances(t), "nothing moved")
		return r
	}

	st.short = true
	_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.Equal(t, 2, st.reads, "the payment read, and read again once")
	stored()

	st.reads = 0
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	n, err := s.Platform.RecoverSweep(ctx, 0)
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.Equal(t, 0, n)
	assert.Equal(t, 2, st.reads, "the payment read, and read again once")
	assert.Equal(t, s.Clock.Now(), stored().DeferredTo, "deferred")
	s.sweep(t, 0, "the deferred refund waits")
}

// requireRefund checks that st holds refund id in state, the total
// reserved on its payment being refunded, and returns the refund.
func requireRefund(t *testing.T, st payflow.Store, id payflow.ID, state string, refunded uint64) *payflow.RefundRecord {
	t.Helper()
	ctx := context.Background()
	r, err := st.Refund(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, state, r.State)
	p, err := st.Payment(ctx, r.RequestID)
	require.NoError(t, err)
	assert.Equal(t, refunded, p.Refunded, "the total reserved")
	return r
}

// reservedMeanwhile is a Store on which another process reserves a refund
// of the same payment (reserve) just before each of the first writes
// that release a refund's reservation with its failure, so that each of
// these loses its compare-and-set on the payment, the refund still
// pending.
type reservedMeanwhile struct {
	payflow.Store
	reserve func()
	times   int
}

func (s *reservedMeanwhile) UpdateRefund(ctx context.Context, r *payflow.RefundRecord, from string, p *payflow.PaymentRecord, pFrom string) error {
	if p != nil && s.times > 0 {
		s.times--
		s.reserve()
	}
	return s.Store.UpdateRefund(ctx, r, from, p, pFrom)
}

// TestRefundFailsWhileOthersReserved: a refund that the ledger refuses,
// whose payment other refunds of it are reserved on while its failure is
// written (twice in a row), is failed with insufficient_funds once a
// write finds the payment as read, its reservation released and the
// others' kept. It was ErrInternal at the second lost write, the refund
// left pending: driveRefund took the payment it had read, less the
// reservation it tried to release, for one the store showed holding less
// than the reservation of a pending refund (a broken store).
func TestRefundFailsWhileOthersReserved(t *testing.T) {
	ctx := context.Background()
	st := &reservedMeanwhile{Store: memory.New()}
	s, v, id, msg := paidRefund(t, st, 600) // the merchant keeps 90, short of the refund's 200
	others := 0
	st.reserve = func() {
		others++
		other := payflow.ID(fmt.Appendf(nil, "refund-%09d", 100+others))
		reserveRefund(t, st.Store, v.ID,
			s.seller.MustSign(&record.RefundRequest{RefundID: other[:], RequestID: v.ID[:], Amount: 10, Currency: "EUR"}), s.Clock.Now())
	}
	st.times = 2
	before := s.balances(t)

	_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrFunds)
	assert.Equal(t, 2, others)
	r := requireRefund(t, st.Store, id, payflow.RefundFailed, 20) // the others' reservations kept
	assert.Equal(t, payflow.AsError(payflow.ErrFunds).Code, r.Failure)
	assert.Equal(t, before, s.balances(t), "nothing moved")
}

// copyMeanwhile is a Store on which, at the first acceptance of a refund,
// another seller card's refund is made first (another process's), so
// that the acceptance loses its compare-and-set on the payment, and, at
// the read of the payment that follows, a copy of the refund being
// accepted, sent at the same moment, is made first.
type copyMeanwhile struct {
	payflow.Store
	other, copied func()
	armed         bool // copied runs at the next read of a payment
}

func (s *copyMeanwhile) Accept(ctx context.Context, a *payflow.Acceptance) error {
	if h := s.other; h != nil && a.Refund != nil {
		s.other = nil
		h()
		s.armed = true
	}
	return s.Store.Accept(ctx, a)
}

func (s *copyMeanwhile) Payment(ctx context.Context, id payflow.ID) (*payflow.PaymentRecord, error) {
	if s.armed {
		s.armed = false
		s.copied()
	}
	return s.Store.Payment(ctx, id)
}

// TestRefundCopyMadeWhileConflicting: a refund whose acceptance lost its
// compare-and-set on the payment to another refund, while a copy of it
// sent at the same moment was made, gets that copy's view, as the same
// refund sent again does, not card_counter_regression: the payment that
// it reads again holds the copy's reservation, which leaves too little
// for it, and the copy spent its counter.
func TestRefundCopyMadeWhileConflicting(t *testing.T) {
	st := &copyMeanwhile{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	ctx := context.Background()
	till := s.NewCard("Till 2")
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{
		ID: merchantID, Name: "Corner Grocer", Currency: "EUR", SellerCardIDs: []string{s.seller.ID, till.ID},
	}))
	till.Login(record.RoleSeller)
	v, _ := s.request(t)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	msg := s.seller.MustSign(&record.RefundRequest{RefundID: []byte("refund-000000001"), RequestID: v.ID[:], Amount: 490, Currency: "EUR"})
	other := till.MustSign(&record.RefundRequest{RefundID: []byte("refund-000000002"), RequestID: v.ID[:], Amount: 100, Currency: "EUR"})
	var copyView *payflow.RefundView
	var otherErr, copyErr error
	st.other = func() { _, otherErr = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: other}) }
	st.copied = func() { copyView, copyErr = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg}) }

	rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.NoError(t, otherErr)
	require.NoError(t, copyErr)
	require.NotNil(t, copyView, "the copy was made meanwhile")
	require.NoError(t, err)
	assert.Equal(t, copyView, rv)
	assert.Equal(t, uint64(590), rv.Refunded)
	p, err := st.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, uint64(590), p.Refunded, "reserved once")
	assert.Equal(t, [2]payflow.Balance{{Posted: funds - 100}, {Posted: 100}}, s.balances(t), "the refund made once")
}

// TestRecoverDeferralCapped: a refund under way for longer than
// MaxRecoverDelay whose try fails (ErrInternal, a broken store as in
// TestRefundReservationMissing) is deferred by the recovery sweep to
// MaxRecoverDelay after the sweep, less RecoverAfter, not by as long
// again as it has been under way; the sweep reaches it again then and
// not before.
func TestRecoverDeferralCapped(t *testing.T) {
	ctx := context.Background()
	st := &shortPayment{Store: memory.New()}
	s, v, id, msg := paidRefund(t, st, 600)
	reserveRefund(t, st.Store, v.ID, msg, s.Clock.Now())

	st.short = true
	s.Clock.Advance(5 * payflow.MaxRecoverDelay)
	n, err := s.Platform.RecoverSweep(ctx, 0)
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.Equal(t, 0, n)
	want := s.Clock.Now().Add(payflow.MaxRecoverDelay - payflow.DefaultRecoverAfter)
	assert.Equal(t, want, requireRefund(t, st.Store, id, payflow.RefundPending, 200).DeferredTo, "deferred by MaxRecoverDelay")

	st.reads = 0
	s.Clock.Advance(payflow.MaxRecoverDelay - time.Second)
	s.sweep(t, 0, "the deferred refund waits")
	assert.Equal(t, 0, st.reads, "not tried before its due time")
	s.Clock.Advance(time.Second)
	_, err = s.Platform.RecoverSweep(ctx, 0)
	require.ErrorIs(t, err, payflow.ErrInternal, "tried again at its due time")
}

// TestRefusedHoldClearsItsSettlement: a hold that the ledger refuses
// (ErrFunds) leaves the request stored pending as it was before the
// approval began, but for the refused consent's hash: no consent, no hold
// expiry and no amount to capture, so that nothing of the refused
// settlement is carried into the next approval.
func TestRefusedHoldClearsItsSettlement(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	s := newShopOn(t, st, false, paytest.Options{})
	r := paytest.Request(s.session, "EUR", funds+1)
	v, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(r)})
	require.NoError(t, err)
	consent := s.consent(t, v.ID)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.ErrorIs(t, err, payflow.ErrFunds)

	stored, err := st.Payment(ctx, v.ID)
	require.NoError(t, err)
	ch := record.Hash(consent)
	assert.Equal(t, payflow.StatePending, stored.State)
	assert.Nil(t, stored.Consent)
	assert.Equal(t, ch[:], stored.ConsentHash)
	assert.True(t, stored.HoldExpiresAt.IsZero(), stored.HoldExpiresAt)
	assert.Zero(t, stored.CaptureAmount)
	assert.Zero(t, stored.Captured)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "nothing moved")
}

// TestSweepRefundIDTaken: a refund left under way (pending: the ledger
// was down when it was made) whose transfer ID the ledger then holds as a
// transfer that another client wrote ends failed when the recovery sweep
// meets it (conflict), its reservation released, nothing moved by the
// platform, and the sweep counts it finished with no error; the same
// signed refund again answers the failure.
func TestSweepRefundIDTaken(t *testing.T) {
	ctx := context.Background()
	s, dl, paid, _ := readsDownShop(t)
	id := payflow.ID([]byte("refund-000000001"))
	msg := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: paid.ID[:], Amount: 200, Currency: "EUR"})
	dl.down.Store(true)
	_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	dl.down.Store(false)
	s.takeID(t, payflow.TransferID(id, 0, 0, 4))
	before := s.balances(t)

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 1)
	r, err := s.Store.Refund(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, payflow.RefundFailed, r.State)
	assert.Equal(t, "conflict", r.Failure)
	assert.Nil(t, r.Receipt)
	p, err := s.Store.Payment(ctx, paid.ID)
	require.NoError(t, err)
	assert.Zero(t, p.Refunded, "the reservation released")
	assert.Equal(t, before, s.balances(t), "nothing moved")

	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, "payflow: conflicting request: ledger: the refund's transfer ID holds a transfer that the platform did not make (the refund's transfer ID, which the ledger holds as a transfer that the platform did not make)")
	s.sweep(t, 0)
}
