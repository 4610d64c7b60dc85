package sim

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
)

// TestStoreErrorFailsOneWrite fails each store write in turn, the
// platform's and the ledger's, not made: the write fails with
// errStoreFailed and the fuse reports that it fired; the process runs on:
// reads answer, the same write again is made, and the fuse, fired once,
// reports nothing more.
func TestStoreErrorFailsOneWrite(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_000, 0)
	for name, write := range storeWrites(ctx, now) {
		t.Run(name, func(t *testing.T) {
			f := &fuse{}
			s, l := stateStore{inner: memory.New(), f: f}, ledgerStore{Store: ledgermemory.New(), f: f}
			f.armFailure(0, false)
			assert.ErrorIs(t, write(s, l), errStoreFailed)
			assert.True(t, f.disarm(), "the write failed")
			assert.NoError(t, f.read())
			_, err := s.Merchant(ctx, "m")
			assert.ErrorIs(t, err, payflow.ErrNotFound)
			assert.NotErrorIs(t, write(s, l), errStoreFailed)
			assert.False(t, f.disarm())
		})
	}
}

// TestStoreErrorAfterARefusedWrite fails, after its commit, a write that
// the store refuses itself (a compare-and-set of a request it does not
// hold): nothing committed, and the store's own error is returned.
func TestStoreErrorAfterARefusedWrite(t *testing.T) {
	ctx := context.Background()
	f := &fuse{}
	s := stateStore{inner: memory.New(), f: f}
	f.armFailure(0, true)
	err := s.UpdatePayment(ctx, &payflow.PaymentRecord{ID: payflow.ID{1}, State: payflow.StateHeld}, payflow.StatePending)
	require.Error(t, err)
	assert.NotErrorIs(t, err, errStoreFailed)
	assert.True(t, f.disarm())
}

// TestExpiryAfterAStoreError holds payments and lets their holds fall due
// in a world that injects only store errors, until 5 of the platform's
// timer runs had a store write fail: after each run, also one whose void
// or record of the expiry failed, which the timer's next round finishes
// (RecoverSweep, then ExpireDue), the request is expired (expireHold).
func TestExpiryAfterAStoreError(t *testing.T) {
	w := only(t, 5, StoreError)
	for i := 0; w.stats.Ops["expire-due-failed"] < 5 && i < 300; i++ {
		expireHold(t, w)
	}
	assert.Equal(t, 5, w.stats.Ops["expire-due-failed"])
	assert.Positive(t, w.stats.Ops["recovered-after-failed-expiry"], "voids finished by the sweep")
}

// TestSweepAfterAStoreError lets holds fall due in a world that injects
// only store errors until later sweeps finished 2 voids that a recovery
// sweep, run after an expiry whose void failed, left when a store write
// of its own failed, made or not: the timer's later rounds finish what the
// failed sweep left, and the request is expired (expireHold), the void
// made once.
func TestSweepAfterAStoreError(t *testing.T) {
	w := only(t, 5, StoreError)
	for i := 0; w.stats.Ops["recovered-after-failed-sweep"] < 2 && i < 600; i++ {
		expireHold(t, w)
	}
	assert.Equal(t, 2, w.stats.Ops["recovered-after-failed-sweep"], "voids finished by a later sweep")
	assert.Positive(t, w.stats.Ops["recover-sweep-failed"])
}

// expireHold holds a payment and lets its hold fall due (the platform's
// timer running): the request is then expired in the store as in the
// model, nothing is left under way, and every balance is the model's
// (check).
func expireHold(t *testing.T, w *world) {
	t.Helper()
	p := held(t, w)
	require.NoError(t, w.check())

	require.NoError(t, w.tick(holdTTL, false))
	assert.Equal(t, payflow.StateExpired, p.state)
	r, err := w.plat.Store().Payment(w.ctx, p.id)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateExpired, r.State)
	_, left, err := w.underWay()
	require.NoError(t, err)
	assert.False(t, left, "a settlement or refund under way")
	require.NoError(t, w.check())
}
