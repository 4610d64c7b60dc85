package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore/sqltest"
)

// BenchmarkStore measures durable (synchronous=FULL) writes from 64
// concurrent producers, with group commit and with the naive baseline of
// one transaction per transfer, on uniform and hot-account traffic.
func BenchmarkStore(b *testing.B) { sqltest.Bench(b, openBench) }

// BenchmarkBalances measures the common balance history query.
func BenchmarkBalances(b *testing.B) { sqltest.BenchBalances(b, openBench) }

func openBench(b *testing.B) ledger.Store {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}
