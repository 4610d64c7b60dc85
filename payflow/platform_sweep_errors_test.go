package payflow_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// errExpiryWrite is the failure of the record of a pending request's
// expiry.
var errExpiryWrite = errors.New("recording an expiry: connection lost")

// TestExpireDueJoinsEveryFailure: ExpireDue reports the record of a
// pending request's expiry that fails (naming the request, left pending)
// and then the list of the held payments that fails, which stops it
// there: the held request behind it stays held.
func TestExpireDueJoinsEveryFailure(t *testing.T) {
	ctx := context.Background()
	st := &sweepFaults{Store: memory.New()}
	s := newShopOn(t, st, true, paytest.Options{})
	pending, _ := s.request(t)
	held := s.held(t)
	s.Clock.Advance(payflow.DefaultHoldTTL)
	s.RefreshCRLs()
	st.writes = map[string]error{payflow.StatePending: errExpiryWrite}
	st.due = map[string]error{payflow.StateHeld: errDue}
	n, err := s.Platform.ExpireDue(ctx, 0)
	assert.Zero(t, n)
	errs := joined(err)
	require.Len(t, errs, 2)
	assert.EqualError(t, errs[0], fmt.Sprintf("expiring request %v: %v", pending.ID, errExpiryWrite))
	assert.ErrorIs(t, errs[0], errExpiryWrite)
	assert.Equal(t, errDue, errs[1])
	s.requireState(t, pending.ID, payflow.StatePending)
	s.requireState(t, held.ID, payflow.StateHeld)
}

// TestRecoverSweepJoinsEveryFailure: RecoverSweep reports the settlement
// that the ledger fails (naming the request, left approving) and then the
// list of the capturing payments that fails after it, which stops it
// there.
func TestRecoverSweepJoinsEveryFailure(t *testing.T) {
	ctx := context.Background()
	st := &sweepFaults{Store: memory.New()}
	ls := &downLedger{Store: ledgermemory.New()}
	s := newShopOnLedger(t, st, ls, true, paytest.Options{})
	approving, _ := s.request(t)
	s.recordConsent(t, approving.ID, s.consent(t, approving.ID), "")
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	st.due = map[string]error{"capturing": errDue}
	ls.down.Store(true)
	n, err := s.Platform.RecoverSweep(ctx, 0)
	ls.down.Store(false)
	assert.Zero(t, n)
	errs := joined(err)
	require.Len(t, errs, 2)
	assert.ErrorContains(t, errs[0], fmt.Sprintf("settling request %v: ", approving.ID))
	assert.ErrorIs(t, errs[0], payflow.ErrUnavailable)
	assert.ErrorIs(t, errs[0], errLedgerDown)
	assert.Equal(t, errDue, errs[1])
	s.requireState(t, approving.ID, payflow.StateApproving)
}
