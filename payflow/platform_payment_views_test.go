package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestConsentSentAgainAfterRefusedHoldCancelled: a request whose hold
// the ledger refused and that ended cancelled keeps the consent's hash
// without the consent: the consent sent again did not settle it and is
// refused as the request is over (ErrFinal), not answered with the
// request's view.
func TestConsentSentAgainAfterRefusedHoldCancelled(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, true, paytest.Options{})
	v, _ := s.request(t)
	consent := s.consent(t, v.ID)
	s.recordConsent(t, v.ID, consent, payflow.StateCancelled)
	closeAccount(t, s, payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID), eurLedger)
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 1)
	s.requireState(t, v.ID, payflow.StateCancelled)

	got, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.ErrorIs(t, err, payflow.ErrFinal)
	assert.EqualError(t, err, "payflow: request already in a final state: the request is cancelled")
	assert.Nil(t, got)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "nothing moved")
}
