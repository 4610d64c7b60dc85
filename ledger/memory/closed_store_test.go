package memory_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

// TestClosedStoreRunsNothing: after Close, Update and View fail with
// ledger.ErrClosed without running fn.
func TestClosedStoreRunsNothing(t *testing.T) {
	s := memory.New()
	assert.NoError(t, s.Close())
	ran := false
	assert.ErrorIs(t, s.Update(context.Background(), func(ledger.Tx) error { ran = true; return nil }), ledger.ErrClosed)
	assert.ErrorIs(t, s.View(context.Background(), func(ledger.ReadTx) error { ran = true; return nil }), ledger.ErrClosed)
	assert.False(t, ran)
}
