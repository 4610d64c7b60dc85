package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestHoldMadeBySweepKeepsHoldExpiry: a hold that the ledger failed to
// make when the consent was accepted, made later by RecoverSweep, keeps
// the hold expiry recorded at the acceptance (acceptance plus the hold
// TTL), and the ledger times it out after the whole hold TTL from its own
// later timestamp (PROTOCOL.md §6.4, Hold, capture, void).
func TestHoldMadeBySweepKeepsHoldExpiry(t *testing.T) {
	ctx := context.Background()
	ls := &downLedger{Store: ledgermemory.New()}
	s := newShopOnLedger(t, memory.New(), ls, true, paytest.Options{})
	v, _ := s.request(t)
	c := s.consent(t, v.ID)
	accepted := s.Clock.Now()
	ls.updates.failNext()
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	s.requireState(t, v.ID, payflow.StateApproving)

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 1)
	h, err := s.Platform.Payment(ctx, s.seller.Token, v.ID)
	require.NoError(t, err)
	require.Equal(t, payflow.StateHeld, h.State)
	assert.True(t, h.HoldExpiresAt.Equal(accepted.Add(payflow.DefaultHoldTTL)),
		"hold expiry %v, accepted at %v", h.HoldExpiresAt, accepted)
	requireHoldTimeout(t, s, v.ID)
}

// TestHoldTimedFromAcceptance: the ledger timeout of a hold is the hold
// TTL counted from the acceptance of the consent, not from the creation of
// the request, which may be well before it.
func TestHoldTimedFromAcceptance(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, true, paytest.Options{})
	v, _ := s.request(t)
	s.Clock.Advance(7 * time.Second)
	h, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	require.Equal(t, payflow.StateHeld, h.State)
	requireHoldTimeout(t, s, v.ID)
}

// TestCaptureLeftUnderWayPastHoldExpiry: a capture left under way
// (capturing, no post made) until the ledger expired its hold ends
// expired, nothing moved. Sent again, it answers the ledger's expiry
// (ErrExpired); the recovery sweep counts it finished, with no error.
// The same capture once more is refused expired by the stored state, and
// no later sweep finds it.
func TestCaptureLeftUnderWayPastHoldExpiry(t *testing.T) {
	ctx := context.Background()
	for _, sweep := range []bool{false, true} {
		t.Run(map[bool]string{false: "capture again", true: "sweep"}[sweep], func(t *testing.T) {
			s := newShop(t, true, paytest.Options{})
			v := s.held(t)
			s.recordCapturing(t, v.ID, 690)
			s.Clock.Advance(payflow.DefaultHoldTTL + time.Second)
			s.RefreshCRLs()
			s.seller.Login(record.RoleSeller)

			if sweep {
				s.sweep(t, 1)
			} else {
				_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
				require.ErrorIs(t, err, payflow.ErrExpired)
				assert.EqualError(t, err, "payflow: expired: ledger: pending_transfer_expired")
			}
			s.requireState(t, v.ID, payflow.StateExpired)
			assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "the ledger expired the hold")

			_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
			require.ErrorIs(t, err, payflow.ErrExpired)
			assert.EqualError(t, err, "payflow: expired: the request expired")
			s.sweep(t, 0)
			assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// requireHoldTimeout checks that the ledger holds the hold of the first
// attempt of request id with the whole hold TTL as its timeout.
func requireHoldTimeout(t *testing.T, s *shop, id payflow.ID) {
	t.Helper()
	hold, err := s.Ledger.LookupTransfers(context.Background(), []ledger.ID{payflow.TransferID(id, 1, 0, 1)})
	require.NoError(t, err)
	require.Len(t, hold, 1)
	assert.Equal(t, uint32(payflow.DefaultHoldTTL.Seconds()), hold[0].Timeout)
}
