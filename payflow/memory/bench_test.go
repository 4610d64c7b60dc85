package memory_test

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

// BenchmarkPurchase: complete purchases in one process with the in-memory
// stores, cards signing in software: the platform's own cost above the
// crypto floor.
func BenchmarkPurchase(b *testing.B) {
	f := paytest.NewFixture(b, memory.New(), ledgermemory.New(), paytest.BenchOptions())
	paytest.BenchPurchase(b, paytest.NewShop(f, false))
}

// BenchmarkPurchaseParallel: paytest.ParallelPairs shoppers buying at
// once, each from its own till, with the in-memory stores.
func BenchmarkPurchaseParallel(b *testing.B) {
	f := paytest.NewFixture(b, memory.New(), ledgermemory.New(), paytest.BenchOptions())
	paytest.BenchPurchaseParallel(b, f, paytest.ParallelPairs)
}

// TestBenchOptionsPurchaseAgain: the purchases of the benchmarks, which
// log in and pair the same two cards every time, go on past the login and
// resolution bursts of a card (a platform with the default rates refuses
// them).
func TestBenchOptionsPurchaseAgain(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.BenchOptions())
	s := paytest.NewShop(f, false)
	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{0xbe}, s.Shopper.ID, "EUR", 1<<40))
	for i := range 2 * payflow.DefaultResolveBurst {
		require.NoError(t, s.Purchase(ctx), "purchase %d", i)
	}

	f = paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{SoftCards: true})
	s = paytest.NewShop(f, false)
	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{0xbe}, s.Shopper.ID, "EUR", 1<<40))
	var err error
	for range 2 * payflow.DefaultResolveBurst {
		if err = s.Purchase(ctx); err != nil {
			break
		}
	}
	assert.ErrorIs(t, err, payflow.ErrRateLimited, "the default rate refuses them")
}
