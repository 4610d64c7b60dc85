package paytest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki"
)

// sellerSession is the session of payment(), confirmed by its seller card.
func sellerSession() *payflow.SessionRecord {
	return &payflow.SessionRecord{ID: payflow.ID{0xee}, ShopperCardID: "8900000000000000001", SellerCardID: "8900000000000000002",
		MerchantID: "m", ShopperEID: bytes.Repeat([]byte{1}, 16), SellerEID: bytes.Repeat([]byte{2}, 16),
		SellerConfirmed: true, ExpiresAt: t0.Add(10 * time.Minute)}
}

// testCancelPending: an acceptance of a session with CancelPending
// cancels, in the session's write, the session's requests pending and
// unexpired at that time, marks those approving (VoidTo cancelled, a new
// version, nothing else changed) and no others; refused, it changes
// nothing.
func testCancelPending(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	w := &writer{s: s}
	at := t0.Add(time.Minute)
	ps := map[string]*payflow.PaymentRecord{
		"pending":           payment(1, payflow.StatePending, at.Add(time.Minute)),
		"pending, due":      payment(2, payflow.StatePending, at),
		"held":              payment(3, payflow.StateHeld, at.Add(time.Minute)),
		"approving":         payment(4, payflow.StateApproving, at.Add(time.Minute)),
		"captured":          payment(5, payflow.StateCaptured, at.Add(time.Minute)),
		"another session's": payment(6, payflow.StatePending, at.Add(time.Minute)),
	}
	ps["held"].HoldExpiresAt = at.Add(time.Hour)
	ps["pending"].DeferredTo = at.Add(time.Hour) // cleared with the state
	ps["another session's"].SessionID = payflow.ID{0xef}
	stored := make(map[string]*payflow.PaymentRecord)
	for name, p := range ps {
		got, err := w.insert(p)
		require.NoError(t, err, name)
		stored[name] = got
	}
	unchanged := func(msg string) {
		t.Helper()
		for name, want := range stored {
			got, err := s.Payment(ctx, want.ID)
			require.NoError(t, err)
			assert.Equal(t, want, got, "%s: %s", msg, name)
		}
	}

	_, err := w.accept(payflow.Acceptance{Now: at, CancelPending: true})
	assert.ErrorIs(t, err, payflow.ErrInvalid, "CancelPending without a session")
	_, err = w.accept(payflow.Acceptance{Session: sellerSession(), CancelPending: true})
	assert.ErrorIs(t, err, payflow.ErrInvalid, "CancelPending without the time")
	n := bytes.Repeat([]byte{7}, 32)
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: n, NonceExpires: at, CardID: "8900000000000000002", Counter: 1}))
	refused := &payflow.Acceptance{Nonce: n, NonceExpires: at, CardID: "8900000000000000002", Counter: 2, Session: sellerSession(), Now: at, CancelPending: true}
	require.ErrorIs(t, s.Accept(ctx, refused), pki.ErrNonce)
	_, err = s.Session(ctx, payflow.ID{0xee})
	assert.ErrorIs(t, err, payflow.ErrNotFound, "a refused acceptance writes no session")
	unchanged("a refused acceptance cancels nothing")
	_, err = w.accept(payflow.Acceptance{Session: sellerSession()})
	require.NoError(t, err)
	unchanged("a session's write without CancelPending cancels nothing")

	a, err := w.accept(payflow.Acceptance{Session: sellerSession(), Now: at, CancelPending: true})
	require.NoError(t, err)
	assert.Equal(t, sellerSession(), a.Session, "the session is written as without CancelPending")
	want := *stored["pending"]
	want.State, want.UpdatedAt, want.DeferredTo, want.Version = payflow.StateCancelled, at, time.Time{}, 2
	stored["pending"] = &want
	marked := *stored["approving"]
	marked.VoidTo, marked.Version = payflow.StateCancelled, 2
	stored["approving"] = &marked
	unchanged("only the session's pending unexpired request is cancelled, and the approving one marked")
	due, err := s.DuePayments(ctx, payflow.StateCancelled, at, 10)
	require.NoError(t, err)
	require.Len(t, due, 1, "cancelled at CancelPending, as DuePayments finds it")
	assert.Equal(t, &want, due[0])
	due, err = s.DuePayments(ctx, payflow.StateApproving, t0, 10)
	require.NoError(t, err)
	require.Len(t, due, 1, "the approving one stays due at its update")
	assert.Equal(t, &marked, due[0])
	_, err = w.accept(payflow.Acceptance{Session: sellerSession(), Now: at.Add(time.Second), CancelPending: true})
	require.NoError(t, err)
	marked.Version = 3
	unchanged("a cancelled request is left as it is; an approving one is marked again")

	// A cancellation and a consent's compare-and-set on one request: the
	// one that comes second finds the request moved on.
	race := payment(8, payflow.StatePending, at.Add(time.Hour))
	p, err := w.insert(race)
	require.NoError(t, err)
	approving := *p
	approving.State, approving.UpdatedAt = payflow.StateApproving, at
	got, approveErr := raceCancelPending(t, w, &approving, payflow.StatePending, at)
	switch got.State {
	case payflow.StateCancelled:
		assert.ErrorIs(t, approveErr, payflow.ErrConflict, "the consent's compare-and-set came second")
		assert.Equal(t, uint64(2), got.Version, "written once")
	case payflow.StateApproving:
		assert.NoError(t, approveErr, "the cancellation came second and marked it")
		assert.Equal(t, uint64(3), got.Version, "written twice")
		assert.Equal(t, payflow.StateCancelled, got.VoidTo)
		assert.Equal(t, at, got.UpdatedAt, "as the consent wrote it")
	default:
		t.Errorf("state %q", got.State)
	}

	// A cancellation and a refused hold's compare-and-set, which puts an
	// approving request back to pending: it is cancelled either way, by
	// the cancellation that comes second or, when the refusal comes second
	// and finds the request marked, by the refused hold once it is read
	// again. It never stays pending.
	for i := range 4 {
		p, err := w.insert(payment(byte(9+i), payflow.StatePending, at.Add(time.Hour)))
		require.NoError(t, err)
		p.State, p.UpdatedAt = payflow.StateApproving, at
		require.NoError(t, s.UpdatePayment(ctx, p, payflow.StatePending))
		refused := *p
		refused.State = payflow.StatePending
		got, refuseErr := raceCancelPending(t, w, &refused, payflow.StateApproving, at)
		switch got.State {
		case payflow.StateCancelled:
			assert.NoError(t, refuseErr, "the refusal came first")
			assert.Equal(t, uint64(4), got.Version)
		case payflow.StateApproving:
			assert.ErrorIs(t, refuseErr, payflow.ErrConflict, "the refusal came second")
			assert.Equal(t, payflow.StateCancelled, got.VoidTo, "and finds the request marked")
			assert.Equal(t, uint64(3), got.Version)
		default:
			t.Errorf("state %q after a cancellation and a refused hold", got.State)
		}
	}
}

// raceCancelPending runs at once the compare-and-set of p from the state
// from and an acceptance of sellerSession with CancelPending at the time
// at, and returns p as stored after both and the error of the
// compare-and-set.
func raceCancelPending(t *testing.T, w *writer, p *payflow.PaymentRecord, from string, at time.Time) (*payflow.PaymentRecord, error) {
	t.Helper()
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- w.s.UpdatePayment(ctx, p, from) }()
	_, err := w.accept(payflow.Acceptance{Session: sellerSession(), Now: at, CancelPending: true})
	require.NoError(t, err)
	casErr := <-done
	got, err := w.s.Payment(ctx, p.ID)
	require.NoError(t, err)
	return got, casErr
}

// testExpiredSession: an acceptance of a session that is stored and has
// expired at its Now commits the nonce and the counter and leaves the
// session as it is, its flags unset, and cancels nothing; Session is
// replaced by the stored one. Up to its expiry, the session is written.
func testExpiredSession(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	w := &writer{s: s}
	stored, p := shopperConfirmed(t, w)
	exp := stored.ExpiresAt

	const card = "8900000000000000002"
	n := bytes.Repeat([]byte{7}, 32)
	late := sellerSession()
	late.ExpiresAt = exp.Add(10 * time.Minute) // as a pairing at exp writes it
	a := &payflow.Acceptance{Nonce: n, NonceExpires: exp.Add(time.Hour), CardID: card, Counter: 5, Session: late, Now: exp, CancelPending: true}
	require.NoError(t, s.Accept(ctx, a))
	assert.Equal(t, stored, a.Session, "the stored session is returned")
	leftAsIs(t, s, stored, p)
	again := *a
	again.Counter, again.Session = 6, late
	assert.ErrorIs(t, s.Accept(ctx, &again), pki.ErrNonce, "the nonce is spent")
	var ce *pki.CounterError
	require.ErrorAs(t, s.Accept(ctx, &payflow.Acceptance{CardID: card, Counter: 5}), &ce, "the counter is spent")
	assert.Equal(t, uint64(5), ce.Last)

	// Just before its expiry, the same write confirms and cancels.
	a = &payflow.Acceptance{CardID: card, Counter: 7, Session: sellerSession(), Now: exp.Add(-time.Nanosecond), CancelPending: true}
	require.NoError(t, s.Accept(ctx, a))
	want := *stored
	want.SellerConfirmed = true
	assert.Equal(t, &want, a.Session)
	gotP, err := s.Payment(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, gotP.State)
}

// shopperConfirmed stores sellerSession() confirmed by its shopper card
// alone, and a pending request of it that expires a minute after it, and
// returns both as stored.
func shopperConfirmed(t *testing.T, w *writer) (*payflow.SessionRecord, *payflow.PaymentRecord) {
	t.Helper()
	waiting := sellerSession()
	waiting.SellerConfirmed, waiting.ShopperConfirmed = false, true
	stored, err := w.session(waiting)
	require.NoError(t, err)
	p, err := w.insert(payment(1, payflow.StatePending, waiting.ExpiresAt.Add(time.Minute)))
	require.NoError(t, err)
	return stored, p
}

// leftAsIs asserts that session sess and request p are stored as they
// are: no confirmation flag set, nothing cancelled.
func leftAsIs(t *testing.T, s payflow.Store, sess *payflow.SessionRecord, p *payflow.PaymentRecord) {
	t.Helper()
	ctx := context.Background()
	got, err := s.Session(ctx, sess.ID)
	require.NoError(t, err)
	assert.Equal(t, sess, got, "the session is left as it is")
	gotP, err := s.Payment(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, p, gotP, "nothing is cancelled")
}

// testPendingAfterPairing: a request that a pairing found neither pending
// nor approving (held, or in a final state) and that is then written back
// to pending or approving (UpdatePayment writes any state) is cancelled,
// or marked, by the next pairing of its session, as every request of the
// session pending or approving at that time.
func testPendingAfterPairing(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	w := &writer{s: s}
	at := t0.Add(time.Minute)
	for i, state := range []string{payflow.StateHeld, payflow.StateCaptured, payflow.StateCancelled} {
		for j, again := range []string{payflow.StatePending, payflow.StateApproving} {
			p, err := w.insert(payment(byte(1+2*i+j), payflow.StatePending, at.Add(time.Hour)))
			require.NoError(t, err)
			p.State, p.HoldExpiresAt = state, at.Add(time.Hour)
			require.NoError(t, s.UpdatePayment(ctx, p, payflow.StatePending))
			_, err = w.accept(payflow.Acceptance{Session: sellerSession(), Now: at, CancelPending: true})
			require.NoError(t, err)
			got, err := s.Payment(ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, p, got, "%s: left as it is by the pairing", state)
			p.State = again
			require.NoError(t, s.UpdatePayment(ctx, p, state))
			_, err = w.accept(payflow.Acceptance{Session: sellerSession(), Now: at, CancelPending: true})
			require.NoError(t, err)
			got, err = s.Payment(ctx, p.ID)
			require.NoError(t, err)
			want := *p
			want.Version++
			if again == payflow.StatePending {
				want.State, want.UpdatedAt = payflow.StateCancelled, at
			} else {
				want.VoidTo = payflow.StateCancelled
			}
			assert.Equal(t, &want, got, "%s, then %s: found by the next pairing", state, again)
		}
	}
}

// testSessionOtherParties: an acceptance of a session whose ID a stored
// session unexpired at its Now has, but with another shopper card,
// another seller card or another merchant, is refused with ErrConflict
// and writes nothing: the stored session keeps its cards, merchant and
// flags, its pending request is not cancelled, and the nonce and counter
// stay unspent. (Two processes, one of which still holds a card's former
// advertising secret, or a seller card's former merchant, in its card
// cache, may each resolve the same EIDs to another card, or the same
// seller card to another merchant: a shopper confirmed the merchant it
// was shown, which is not the stored session's.) A stored session that
// has expired at Now is left as it is, whatever its cards and merchant,
// as testExpiredSession's.
func testSessionOtherParties(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	stored, p := shopperConfirmed(t, &writer{s: s})

	const card = "8900000000000000002"
	n := bytes.Repeat([]byte{7}, 32)
	for _, other := range []func(r *payflow.SessionRecord){
		func(r *payflow.SessionRecord) { r.ShopperCardID = "8900000000000000003" },
		func(r *payflow.SessionRecord) { r.SellerCardID = "8900000000000000004" },
		func(r *payflow.SessionRecord) {
			r.ShopperCardID, r.SellerCardID = r.SellerCardID, r.ShopperCardID
		},
		func(r *payflow.SessionRecord) { r.MerchantID = "m2" },
	} {
		r := sellerSession()
		other(r)
		a := &payflow.Acceptance{Nonce: n, NonceExpires: t0.Add(time.Hour), CardID: card, Counter: 5, Session: r, Now: t0, CancelPending: true}
		assert.ErrorIs(t, s.Accept(ctx, a), payflow.ErrConflict, "shopper %s, seller %s, merchant %s", r.ShopperCardID, r.SellerCardID, r.MerchantID)
		leftAsIs(t, s, stored, p)
		assert.NoError(t, s.Spent(ctx, n, card, 5), "nonce and counter unspent")
	}

	expired := sellerSession()
	expired.ShopperCardID, expired.MerchantID = "8900000000000000003", "m2"
	exp := stored.ExpiresAt
	a := &payflow.Acceptance{Nonce: n, NonceExpires: exp.Add(time.Hour), CardID: card, Counter: 5, Session: expired, Now: exp, CancelPending: true}
	require.NoError(t, s.Accept(ctx, a), "expired at Now")
	assert.Equal(t, stored, a.Session, "the stored session is returned")
	leftAsIs(t, s, stored, p)
	assert.ErrorIs(t, s.Spent(ctx, n, card, 6), pki.ErrNonce, "the nonce is spent")
}
