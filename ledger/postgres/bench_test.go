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
func BenchmarkStore(b *testing.B) { sqltest.Bench(b, openBench) }

// BenchmarkBalances measures the common balance history query. It needs
// CASIMPAY_POSTGRES_DSN.
func BenchmarkBalances(b *testing.B) { sqltest.BenchBalances(b, openBench) }

// BenchmarkVerify measures Ledger.Verify of a store of many accounts, half
// of them with a balance history. It needs CASIMPAY_POSTGRES_DSN.
func BenchmarkVerify(b *testing.B) { sqltest.BenchVerify(b, openBench) }

func openBench(b *testing.B) ledger.Store {
	s, err := Open(context.Background(), testenv.PostgresSchema(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}
