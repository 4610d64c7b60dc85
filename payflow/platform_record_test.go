package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

// TestCheckRecordOfRefundUnderTakenID: CheckRecord answers a refund whose
// signature does not verify, under the ID of a refund accepted before
// with other bytes, ErrConflict, as the refund's call does, and a refund
// of the same bytes as the accepted one no refusal, although its card
// has been revoked since: its call answers it as a retry.
func TestCheckRecordOfRefundUnderTakenID(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, _ := s.request(t)
	s.captured(t, v.ID, false)
	msg, rid := refundMsg(s, v.ID)
	_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.NoError(t, err)

	forged := strangerSigns(t, s.seller.ID, &record.RefundRequest{RefundID: rid[:], RequestID: v.ID[:], Amount: 100, Currency: "EUR"})
	_, err = s.Platform.CheckRecord(ctx, &payflow.RefundRequest{Refund: forged})
	assert.ErrorIs(t, err, payflow.ErrConflict)
	assert.NotErrorIs(t, err, payflow.ErrSignature)

	s.Revoke(s.seller)
	_, err = s.Platform.CheckRecord(ctx, &payflow.RefundRequest{Refund: msg})
	assert.NoError(t, err, "the accepted refund sent again")
}

// TestUsedNonceKeptPastItsExpiry: a nonce that an accepted record used
// stays marked used in the store until 5 minutes after its expiry
// (PROTOCOL.md §4), so that a platform process whose clock lags the one
// that deletes expired rows by less than that still refuses it; it goes
// after that.
func TestUsedNonceKeptPastItsExpiry(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	ch, err := s.Platform.Challenge(ctx, &payflow.ChallengeRequest{CardID: s.shopper.ID})
	require.NoError(t, err)
	proof := s.shopper.MustSign(&record.AuthProof{Nonce: ch.Nonce, Role: record.RoleShopper, EID: s.shopper.EID(), PeerEID: make([]byte, record.EIDSize)})
	_, err = s.Platform.Login(ctx, &payflow.LoginRequest{Proof: proof})
	require.NoError(t, err)
	const counter = 1 << 40 // above the card's
	_, err = s.Store.DeleteExpired(ctx, ch.ExpiresAt.Add(5*time.Minute-2*time.Second))
	require.NoError(t, err)
	assert.ErrorIs(t, s.Store.Spent(ctx, ch.Nonce, s.shopper.ID, counter), pki.ErrNonce, "within 5 minutes of its expiry")
	_, err = s.Store.DeleteExpired(ctx, ch.ExpiresAt.Add(5*time.Minute+2*time.Second))
	require.NoError(t, err)
	assert.NoError(t, s.Store.Spent(ctx, ch.Nonce, s.shopper.ID, counter), "5 minutes after its expiry")
}

// TestCheckRecordOfRecordThatDoesNotOpen: CheckRecord refuses a payment
// request, consent or refund that does not open with ErrInvalid, as its
// call does, before the call runs.
func TestCheckRecordOfRecordThatDoesNotOpen(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	junk := []byte("junk")
	for _, req := range []any{
		&payflow.CreateRequest{Request: junk},
		&payflow.ApproveRequest{Consent: junk},
		&payflow.RefundRequest{Refund: junk},
	} {
		_, err := s.Platform.CheckRecord(ctx, req)
		assert.ErrorIs(t, err, payflow.ErrInvalid, "%T", req)
	}
}
