package payflow_test

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestSessionRequestIDIndexBigEndian: the ID of a session's n-th payment
// request hashes n as a uint32 in big-endian order (PROTOCOL.md §5.3),
// so that phones of other builds find the same requests.
func TestSessionRequestIDIndexBigEndian(t *testing.T) {
	session := payflow.ID{0x5e, 0x55, 0x10, 0x4e}
	for _, n := range []uint32{0, 1, 0x01020304} {
		msg := append([]byte("CASIM-REQ"), session[:]...)
		msg = append(msg, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		sum := sha256.Sum256(msg)
		var want payflow.ID
		copy(want[:], sum[:])
		assert.Equal(t, want, payflow.SessionRequestID(session, n), n)
	}
}

// TestWaitPairedEndsOnceAnotherSessionIsSelected: a WaitPaired of a
// session that is still waiting, when the user selected another session
// meanwhile, fails with ErrNotPaired after the read it was making, and
// reads the first session no more.
func TestWaitPairedEndsOnceAnotherSessionIsSelected(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &hookAPI{API: w.f.Platform}
	w.useShopper(t, api)
	_, first := w.shopperSelects(t)
	waiting, cancel := withCancelCause(ctx)
	defer cancel()
	var second *payflow.Confirmation
	api.session = func() {
		// The shopper selects the seller again under the next epoch's
		// EIDs; a read after it ends the wait.
		second = w.shopperSelectsNextEpoch(t)
		api.mu.Lock()
		api.session = cancel
		api.mu.Unlock()
	}
	_, err := w.shopper.WaitPaired(waiting)
	require.ErrorIs(t, err, payflow.ErrNotPaired)
	assert.NoError(t, waiting.Err(), "the first session read once")
	require.NotNil(t, second)
	assert.NotEqual(t, first.SessionID, second.SessionID)
}

// TestWaitPairedEndsWhenThePlatformHoldsNoSession: a WaitPaired of a
// session still waiting that the platform no longer shows this card (the
// peer's card revoked since, so that the platform answers it as a session
// that does not exist) fails with the platform's ErrNotFound, and the
// phone confirms no session.
func TestWaitPairedEndsWhenThePlatformHoldsNoSession(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	_, c := w.shopperSelects(t)
	require.False(t, c.Paired)
	w.f.Revoke(&paytest.Card{Chain: w.sellerCard.Enrolment.Chain})
	confirmed, err := w.shopper.WaitPaired(ctx)
	require.ErrorIs(t, err, payflow.ErrNotFound)
	assert.Nil(t, confirmed)
	_, err = w.shopper.WaitPayment(ctx)
	require.ErrorIs(t, err, payflow.ErrNotPaired, "the session was not confirmed")
}
