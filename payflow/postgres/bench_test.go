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
	dsn := testenv.PostgresSchema(b)
	ls, err := ledgerpostgres.Open(context.Background(), dsn, ledgerpostgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer ls.Close()
	f := paytest.NewFixture(b, open(b, dsn), ls, paytest.Options{SoftCards: true})
	paytest.BenchPurchase(b, paytest.NewShop(f, false))
}
