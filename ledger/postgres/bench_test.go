package postgres

import (
	"context"
	"testing"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore/sqltest"
)

// BenchmarkStore measures writes from 64 concurrent producers, with group
// commit and with the naive baseline of one transaction per transfer, on
// uniform and hot-account traffic. It needs CASIMPAY_POSTGRES_DSN.
func BenchmarkStore(b *testing.B) {
	sqltest.Bench(b, func(b *testing.B) ledger.Store {
		s, err := Open(context.Background(), testenv.PostgresSchema(b), Options{})
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
