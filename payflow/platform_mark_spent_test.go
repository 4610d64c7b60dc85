package payflow_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestHoldSpendsPairingMark: a request that a pairing marked while it was
// approving (VoidTo cancelled) and whose hold the ledger then made is no
// longer marked: the recovery sweep records it held (a merchant that
// captures manually) or captured, with VoidTo empty, for the mark only
// tells how a refused hold ends.
func TestHoldSpendsPairingMark(t *testing.T) {
	ctx := context.Background()
	for _, manual := range []bool{true, false} {
		t.Run(map[bool]string{true: "held", false: "captured"}[manual], func(t *testing.T) {
			s := newShop(t, manual, paytest.Options{})
			v, _ := s.request(t)
			s.recordConsent(t, v.ID, s.consent(t, v.ID), payflow.StateCancelled)
			s.Clock.Advance(payflow.DefaultRecoverAfter)
			s.sweep(t, 1)

			r, err := s.Store.Payment(ctx, v.ID)
			require.NoError(t, err)
			if manual {
				assert.Equal(t, payflow.StateHeld, r.State)
				assert.Equal(t, [2]payflow.Balance{{Posted: funds, Held: 690}, {Incoming: 690}}, s.balances(t))
			} else {
				assert.Equal(t, payflow.StateCaptured, r.State)
				assert.Equal(t, uint64(690), r.Captured)
				assert.Equal(t, basketPaid, s.balances(t))
			}
			assert.Empty(t, r.VoidTo, "the hold spent the mark")
		})
	}
}

// TestRefusedHoldEndsMarkedRequestCancelled: a request that a pairing
// marked while it was approving (VoidTo cancelled) and whose hold the
// ledger refuses (the payer's wallet closed) ends cancelled, not pending
// again: the recovery sweep, or the same consent sent again, records it
// cancelled without its consent, the consent's hash kept, its hold
// expiry and capture amount cleared, nothing moved; the sweep counts it
// finished, and the consent sent again gets the ledger's refusal.
func TestRefusedHoldEndsMarkedRequestCancelled(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ manual, again bool }{{true, false}, {false, false}, {true, true}, {false, true}} {
		manual, again := c.manual, c.again
		name := map[bool]string{true: "manual", false: "auto"}[manual] + map[bool]string{true: " consent again", false: " sweep"}[again]
		t.Run(name, func(t *testing.T) {
			s := newShop(t, manual, paytest.Options{})
			v, _ := s.request(t)
			consent := s.consent(t, v.ID)
			s.recordConsent(t, v.ID, consent, payflow.StateCancelled)
			wallet := payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID)
			closeAccount(t, s, wallet, eurLedger)
			if again {
				_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
				require.ErrorIs(t, err, payflow.ErrFunds)
				assert.EqualError(t, err, fmt.Sprintf("payflow: insufficient funds: ledger: account %v is closed: debit_account_already_closed", wallet))
			} else {
				s.Clock.Advance(payflow.DefaultRecoverAfter)
				s.sweep(t, 1)
			}

			r, err := s.Store.Payment(ctx, v.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateCancelled, r.State)
			assert.Nil(t, r.Consent)
			h := record.Hash(consent)
			assert.Equal(t, h[:], r.ConsentHash)
			assert.True(t, r.HoldExpiresAt.IsZero(), r.HoldExpiresAt)
			assert.Zero(t, r.CaptureAmount)
			assert.Zero(t, r.Captured)
			assert.Nil(t, r.Receipt)
			assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "nothing moved")
			s.sweep(t, 0)
		})
	}
}
