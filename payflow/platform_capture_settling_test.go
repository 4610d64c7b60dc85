package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestCaptureWhileSettlementUnderWay: a capture of a payment while another
// settlement of it is under way (a consent's, a capture of another amount,
// a cancellation's void) is ErrConflict, as Platform.Capture says: nothing
// moves and the request stays as it was.
func TestCaptureWhileSettlementUnderWay(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		state   string // the stored state while the capture is refused
		reach   func(t *testing.T, s *shop, st *faultStore, id payflow.ID)
		message string
	}{
		{payflow.StateApproving, func(t *testing.T, s *shop, _ *faultStore, id payflow.ID) {
			s.recordConsent(t, id, s.consent(t, id), "")
		}, "payflow: conflicting request: a consent to the request is being settled"},
		{"capturing", func(t *testing.T, s *shop, _ *faultStore, id payflow.ID) {
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, id)})
			require.NoError(t, err)
			s.recordCapturing(t, id, 690)
		}, "payflow: conflicting request: the payment is being captured"},
		{"voiding", func(t *testing.T, s *shop, st *faultStore, id payflow.ID) {
			s.voidingLost(t, st, id)
		}, "payflow: conflicting request: the payment's hold is being voided"},
	} {
		t.Run(tt.state, func(t *testing.T) {
			st := &faultStore{Store: memory.New()}
			s := newShopOn(t, st, true, paytest.Options{})
			v, _ := s.request(t)
			tt.reach(t, s, st, v.ID)
			s.requireState(t, v.ID, tt.state)
			before := s.balances(t)

			got, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID, Amount: 500})
			require.ErrorIs(t, err, payflow.ErrConflict)
			assert.EqualError(t, err, tt.message)
			assert.Nil(t, got)
			s.requireState(t, v.ID, tt.state)
			assert.Equal(t, before, s.balances(t), "nothing moved")
		})
	}
}

// voidingLost has the request id of s, on st, held by a consent, then
// cancelled with its update from voiding lost (loseNextUpdateFrom), which
// leaves it voiding: its hold's void under way. It returns the consent.
func (s *shop) voidingLost(t *testing.T, st *faultStore, id payflow.ID) []byte {
	t.Helper()
	consent := s.consent(t, id)
	h, err := s.Platform.Approve(context.Background(), &payflow.ApproveRequest{Consent: consent})
	require.NoError(t, err)
	require.Equal(t, payflow.StateHeld, h.State)
	loseNextUpdateFrom(st, "voiding")
	_, err = s.Platform.Cancel(context.Background(), s.seller.Token, id)
	require.ErrorIs(t, err, errLost)
	return consent
}
