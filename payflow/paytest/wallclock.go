package paytest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// testWallClock: a store keeps the times it is given on the wall clock
// only. Times of time.Now, which carry a monotonic clock reading, read back
// without it (their String shows no "m=") and equal to their wall clock
// time, in every record that keeps times, as they were written: a card, a
// token, a session, a payment request inserted, updated and cancelled by a
// pairing, and a refund stored and updated. Expiries and due times then
// compare on the wall clock in every store, as the SQL stores keep them.
func testWallClock(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	w := &writer{s: s}
	now := time.Now()
	require.Contains(t, now.String(), "m=", "time.Now carries a monotonic clock reading")
	after := func(d time.Duration) time.Time { return now.Add(d) } // with the reading too
	check := func(what string, want, got time.Time) {
		t.Helper()
		assert.NotContains(t, got.String(), "m=", what)
		assert.Equal(t, want.Round(0), got, what)
	}
	checkPayment := func(what string, want, got *payflow.PaymentRecord) {
		t.Helper()
		check(what+": ExpiresAt", want.ExpiresAt, got.ExpiresAt)
		check(what+": CreatedAt", want.CreatedAt, got.CreatedAt)
		check(what+": UpdatedAt", want.UpdatedAt, got.UpdatedAt)
		check(what+": HoldExpiresAt", want.HoldExpiresAt, got.HoldExpiresAt)
		check(what+": SettledAt", want.SettledAt, got.SettledAt)
		check(what+": DeferredTo", want.DeferredTo, got.DeferredTo)
	}

	c := card("8900000000000000001")
	c.EnrolledAt = now
	require.NoError(t, s.PutCard(ctx, c))
	gotCard, err := s.Card(ctx, c.ID)
	require.NoError(t, err)
	check("card: EnrolledAt", now, gotCard.EnrolledAt)

	h := sha256.Sum256([]byte("wall clock"))
	require.NoError(t, w.token(&payflow.TokenRecord{Hash: h[:], CardID: c.ID, CertHash: bytes.Clone(certHash), ExpiresAt: after(time.Hour)}))
	tok, err := s.Token(ctx, h[:])
	require.NoError(t, err)
	check("token: ExpiresAt", after(time.Hour), tok.ExpiresAt)

	p := payment(1, payflow.StatePending, after(time.Hour))
	p.CreatedAt, p.UpdatedAt, p.HoldExpiresAt = now, after(time.Second), after(2*time.Hour)
	p.SettledAt, p.DeferredTo = after(3*time.Hour), after(4*time.Hour)
	inserted, err := w.insert(p)
	require.NoError(t, err)
	checkPayment("request as inserted", p, inserted)
	got, err := s.Payment(ctx, p.ID)
	require.NoError(t, err)
	checkPayment("request inserted", p, got)

	update := changedPayment(inserted, func(u *payflow.PaymentRecord) {
		u.UpdatedAt, u.HoldExpiresAt, u.SettledAt, u.DeferredTo = after(time.Minute), after(5*time.Hour), after(6*time.Hour), after(7*time.Hour)
	})
	require.NoError(t, s.UpdatePayment(ctx, update, payflow.StatePending))
	got, err = s.Payment(ctx, p.ID)
	require.NoError(t, err)
	checkPayment("request updated", update, got)

	session := sellerSession()
	session.ExpiresAt = after(time.Hour)
	a, err := w.accept(payflow.Acceptance{Session: session, Now: after(2 * time.Minute), CancelPending: true})
	require.NoError(t, err)
	check("session as accepted: ExpiresAt", session.ExpiresAt, a.Session.ExpiresAt)
	gotSession, err := s.Session(ctx, session.ID)
	require.NoError(t, err)
	check("session: ExpiresAt", session.ExpiresAt, gotSession.ExpiresAt)
	got, err = s.Payment(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCancelled, got.State, "cancelled by the pairing")
	check("request cancelled by a pairing: UpdatedAt", after(2*time.Minute), got.UpdatedAt)

	captured, err := w.insert(payment(2, payflow.StateCaptured, after(time.Hour)))
	require.NoError(t, err)
	reserve := changedPayment(captured, func(r *payflow.PaymentRecord) { r.Refunded = 10 })
	refund := newRefund(0x51, captured.ID, func(r *payflow.RefundRecord) { r.CreatedAt, r.DeferredTo = now, after(time.Hour) })
	_, err = w.refund(refund, reserve)
	require.NoError(t, err)
	gotRefund, err := s.Refund(ctx, refund.ID)
	require.NoError(t, err)
	check("refund: CreatedAt", now, gotRefund.CreatedAt)
	check("refund: DeferredTo", after(time.Hour), gotRefund.DeferredTo)
	deferred := *gotRefund
	deferred.DeferredTo = after(2 * time.Hour)
	require.NoError(t, s.UpdateRefund(ctx, &deferred, payflow.RefundPending, nil, ""))
	gotRefund, err = s.Refund(ctx, refund.ID)
	require.NoError(t, err)
	check("refund updated: DeferredTo", after(2*time.Hour), gotRefund.DeferredTo)
}
