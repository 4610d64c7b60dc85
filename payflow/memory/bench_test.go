package memory_test

import (
	"testing"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// BenchmarkPurchase: complete purchases in one process with the in-memory
// stores, cards signing in software: the platform's own cost above the
// crypto floor.
func BenchmarkPurchase(b *testing.B) {
	f := paytest.NewFixture(b, memory.New(), ledgermemory.New(), paytest.Options{SoftCards: true})
	paytest.BenchPurchase(b, paytest.NewShop(f, false))
}

// BenchmarkPurchaseParallel: paytest.ParallelPairs shoppers buying at
// once, each from its own till, with the in-memory stores.
func BenchmarkPurchaseParallel(b *testing.B) {
	f := paytest.NewFixture(b, memory.New(), ledgermemory.New(), paytest.Options{SoftCards: true})
	paytest.BenchPurchaseParallel(b, f, paytest.ParallelPairs)
}
