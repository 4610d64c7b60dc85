package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestMismatchedConsentToEndedRequest: a consent whose amount or request
// hash is not the request's, sent over a consent nonce of the payer's
// view to a request that has ended since (cancelled, declined, captured
// by another consent of the payer, pending with its seller card revoked,
// which the call's read cancels, or pending at its expiry, which the
// call's read expires), is told the request's state first, final_state
// or expired, as a matching consent would be, not mismatch: no consent
// pays that request whatever it names. One sent while another consent's
// settlement is under way (held) is told mismatch, which lasts, and
// not conflict, which ends. The request keeps its state and the ledger
// does not move (PROTOCOL.md §6.4).
func TestMismatchedConsentToEndedRequest(t *testing.T) {
	ctx := context.Background()
	for _, end := range []struct {
		name   string
		manual bool
		// end ends request id, whose payer's view nonce is unspent.
		end     func(t *testing.T, s *shop, id payflow.ID)
		state   string // the request's state after the consent
		code    string
		message string
	}{
		{"cancelled", false, func(t *testing.T, s *shop, id payflow.ID) {
			_, err := s.Platform.Cancel(ctx, s.seller.Token, id)
			require.NoError(t, err)
		}, payflow.StateCancelled, "final_state", "payflow: request already in a final state: the request is cancelled"},
		{"declined", false, func(t *testing.T, s *shop, id payflow.ID) {
			_, err := s.Platform.Decline(ctx, s.shopper.Token, id)
			require.NoError(t, err)
		}, payflow.StateDeclined, "final_state", "payflow: request already in a final state: the request is declined"},
		{"captured", false, func(t *testing.T, s *shop, id payflow.ID) {
			s.captured(t, id, false)
		}, payflow.StateCaptured, "final_state", "payflow: request already in a final state: the request is captured"},
		{"captured manually", true, func(t *testing.T, s *shop, id payflow.ID) {
			s.captured(t, id, true)
		}, payflow.StateCaptured, "final_state", "payflow: request already in a final state: the request is captured"},
		{"seller card revoked", false, func(_ *testing.T, s *shop, _ payflow.ID) {
			s.Revoke(s.seller) // the consent's read cancels the request
		}, payflow.StateCancelled, "final_state", "payflow: request already in a final state: the request is cancelled"},
		{"expired", false, func(_ *testing.T, s *shop, _ payflow.ID) {
			s.Clock.Advance(payflow.DefaultRequestTTL)
		}, payflow.StateExpired, "expired", "payflow: expired: the request expired"},
		{"held", true, func(t *testing.T, s *shop, id payflow.ID) {
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, id)})
			require.NoError(t, err)
		}, payflow.StateHeld, "mismatch", ""},
	} {
		for _, alter := range []struct {
			name    string
			alter   func(*record.Consent)
			message string // of a request that has not ended
		}{
			{"amount", func(c *record.Consent) { c.Amount = 69 }, "payflow: does not match the request: consent is for 69 EUR, the request for 690 EUR"},
			{"request hash", func(c *record.Consent) { c.RequestHash = make([]byte, 32) }, "payflow: does not match the request: consent is for another version of the request"},
		} {
			t.Run(end.name+", another "+alter.name, func(t *testing.T) {
				s := newShop(t, end.manual, paytest.Options{})
				v, _ := s.request(t)
				pv, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
				require.NoError(t, err)
				c := paytest.Consent(pv)
				alter.alter(c)
				end.end(t, s, v.ID)
				// Signed once the request ended: the card's counter
				// passes those of the consents that ended it.
				consent := s.shopper.MustSign(c)
				before := s.balances(t)

				_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
				require.Error(t, err)
				assert.Equal(t, end.code, payflow.AsError(err).Code)
				want := end.message
				if want == "" {
					want = alter.message
				}
				assert.EqualError(t, err, want)
				s.requireState(t, v.ID, end.state)
				assert.Equal(t, before, s.balances(t), "the ledger did not move")
				require.NoError(t, s.Ledger.Verify(ctx))
			})
		}
	}
}
