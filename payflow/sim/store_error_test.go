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
