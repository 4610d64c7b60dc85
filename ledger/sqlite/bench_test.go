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

// BenchmarkVerify measures Ledger.Verify of a store of many accounts, half
// of them with a balance history.
func BenchmarkVerify(b *testing.B) { sqltest.BenchVerify(b, openBench) }

func openBench(b *testing.B) ledger.Store {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkLookupAccounts measures a small View: Ledger.LookupAccounts of
// two accounts, from one goroutine (serial) and from as many as
// GOMAXPROCS (parallel, on the pool of read connections).
func BenchmarkLookupAccounts(b *testing.B) {
	ctx := context.Background()
	store := openBench(b)
	defer store.Close()
	l, err := ledger.New(store, ledger.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ids := []ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)}
	res, err := l.CreateAccounts(ctx, []ledger.Account{{ID: ids[0], Ledger: 978, Code: 1}, {ID: ids[1], Ledger: 978, Code: 1}})
	if err != nil || res[0] != ledger.AccountCreated || res[1] != ledger.AccountCreated {
		b.Fatal(res, err)
	}
	lookup := func(b *testing.B) bool {
		got, err := l.LookupAccounts(ctx, ids)
		if err != nil || len(got) != 2 {
			b.Error(len(got), err) // not Fatal: RunParallel's goroutines call it
			return false
		}
		return true
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() && lookup(b) {
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() && lookup(b) {
			}
		})
	})
}
