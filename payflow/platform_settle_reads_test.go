package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// readsDownShop returns a shop on a ledger whose reads the test can fail,
// its shopper having paid one request, so that the platform process knows
// the accounts of the legs, with the views of that request, captured, and
// of a second request, created but not approved.
func readsDownShop(t *testing.T) (s *shop, dl *downLedger, paid, v *payflow.PaymentView) {
	t.Helper()
	dl = &downLedger{Store: ledgermemory.New()}
	s = newShopOnLedger(t, memory.New(), dl, false, paytest.Options{})
	paid, _ = s.request(t)
	paid = s.captured(t, paid.ID, false)
	v, _ = s.request(t)
	return s, dl, paid, v
}

// TestSweepHoldAccountsUnread: a settlement left approving that another
// platform process, which has not found the accounts of its legs yet,
// sweeps while the ledger's reads fail is ErrUnavailable and moves
// nothing: that process looks the accounts up before it sends the hold,
// and the request stays approving.
func TestSweepHoldAccountsUnread(t *testing.T) {
	ctx := context.Background()
	s, dl, _, v := readsDownShop(t)
	consent := s.consent(t, v.ID)
	dl.down.Store(true)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	dl.down.Store(false)
	before := s.balances(t)

	other := s.newProcess(t, payflow.PlatformOptions{})
	dl.readsDown.Store(true)
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	n, err := other.RecoverSweep(ctx, 0)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.ErrorIs(t, err, errLedgerDown)
	assert.Equal(t, 0, n)
	s.requireState(t, v.ID, payflow.StateApproving)
	dl.readsDown.Store(false)
	assert.Equal(t, before, s.balances(t), "nothing moved")
}

// TestHoldIDTakenUnread: a consent whose hold chain the ledger refuses for
// an ID that it holds as another transfer, its reads failing when the
// platform looks up the chain's transfers, is ErrUnavailable: the request
// stays approving, its consent kept, nothing moved, and not pending again
// as for an ID found taken.
func TestHoldIDTakenUnread(t *testing.T) {
	ctx := context.Background()
	s, dl, _, v := readsDownShop(t)
	consent := s.consent(t, v.ID)
	s.takeID(t, payflow.TransferID(v.ID, 1, 0, 1))
	before := s.balances(t)

	dl.readsDown.Store(true)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.ErrorIs(t, err, errLedgerDown)
	dl.readsDown.Store(false)
	r, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateApproving, r.State)
	assert.Equal(t, consent, r.Consent)
	assert.Equal(t, before, s.balances(t), "nothing moved")
}
