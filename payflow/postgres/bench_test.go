package postgres_test

import (
	"context"
	"testing"

	"github.com/casimpay/casimpay/internal/testenv"
	ledgerpostgres "github.com/casimpay/casimpay/ledger/postgres"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// BenchmarkPurchase: complete purchases in one process, ledger and platform
// state in one PostgreSQL schema, cards signing in software.
func BenchmarkPurchase(b *testing.B) {
	paytest.BenchPurchase(b, paytest.NewShop(benchFixture(b), false))
}

// BenchmarkPurchaseParallel: paytest.ParallelPairs shoppers buying at
// once, each from its own till, on PostgreSQL.
func BenchmarkPurchaseParallel(b *testing.B) {
	paytest.BenchPurchaseParallel(b, benchFixture(b), paytest.ParallelPairs)
}

func benchFixture(b *testing.B) *paytest.Fixture {
	dsn := testenv.PostgresSchema(b)
	ls, err := ledgerpostgres.Open(context.Background(), dsn, ledgerpostgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ls.Close() })
	return paytest.NewFixture(b, open(b, dsn), ls, paytest.BenchOptions())
}
