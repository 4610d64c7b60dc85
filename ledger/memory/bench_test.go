package memory_test

import (
	"context"
	"testing"

	"github.com/casimpay/casimpay/internal/cputime"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

const benchAccounts = 10_000

// accountID returns the ID of account i (1 to benchAccounts): i itself,
// or when hashed 128 bits that look random, as payflow's account IDs
// (SHA-256 of the owner) do.
func accountID(i uint64, hashed bool) ledger.ID {
	if !hashed {
		return ledger.IDFromUint64(i)
	}
	return ledger.IDFromUint64s(mix64(i), mix64(i^0x5bd1e995))
}

// mix64 is splitmix64's finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func benchLedger(b *testing.B, hashed bool) *ledger.Ledger {
	b.Helper()
	l, err := ledger.New(memory.New(), ledger.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	ctx := context.Background()
	for start := 0; start < benchAccounts; start += ledger.BatchMax {
		var batch []ledger.Account
		for i := start; i < min(start+ledger.BatchMax, benchAccounts); i++ {
			batch = append(batch, ledger.Account{ID: accountID(uint64(i+1), hashed), Ledger: 978, Code: 1})
		}
		res, err := l.CreateAccounts(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r != ledger.AccountCreated {
				b.Fatal(r)
			}
		}
	}
	return l
}

// benchTransfers creates b.N transfers in batches of size between
// pseudo-random accounts, one merchant taking every credit when hot.
// Account IDs are 1 to benchAccounts, or random-looking when hashed.
func benchTransfers(b *testing.B, size int, hot, hashed bool) {
	l := benchLedger(b, hashed)
	ctx := context.Background()
	batch := make([]ledger.Transfer, 0, size)
	var next uint64
	x := uint64(88172645463325252)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	for done := 0; done < b.N; {
		batch = batch[:0]
		for len(batch) < size && done+len(batch) < b.N {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			dr := x%benchAccounts + 1
			cr := (dr+x>>32%(benchAccounts-1))%benchAccounts + 1
			if hot {
				cr = benchAccounts + 1 - 1 // the last account is the merchant
				if dr == cr {
					dr = 1
				}
			}
			next++
			batch = append(batch, ledger.Transfer{
				ID: ledger.IDFromUint64(next), DebitAccountID: accountID(dr, hashed), CreditAccountID: accountID(cr, hashed),
				Amount: 1 + x%1000, Ledger: 978, Code: 1,
			})
		}
		res, err := l.CreateTransfers(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r != ledger.TransferCreated {
				b.Fatal(r)
			}
		}
		done += len(batch)
	}
	b.StopTimer()
	cpu := cputime.Process() - cpu0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
	// CPU time of the whole process (every thread, GC included): on a
	// shared machine it shows the cost of a transfer when wall time also
	// counts other processes.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "transfers/cpu-s")
}

// BenchmarkCreateTransfers measures the in-memory store: one op is one
// transfer, applied in full batches of 8189, in batches of 1000 and 100,
// and one per call (the naive baseline: one store transaction per
// transfer). Account IDs are 1 to 10,000, except in /hashed, where they
// look random, as payflow's do; /hot credits one merchant account.
func BenchmarkCreateTransfers(b *testing.B) {
	b.Run("batch=8189", func(b *testing.B) { benchTransfers(b, ledger.BatchMax, false, false) })
	b.Run("batch=8189/hashed", func(b *testing.B) { benchTransfers(b, ledger.BatchMax, false, true) })
	b.Run("batch=8189/hot", func(b *testing.B) { benchTransfers(b, ledger.BatchMax, true, false) })
	b.Run("batch=1000", func(b *testing.B) { benchTransfers(b, 1000, false, false) })
	b.Run("batch=1000/hot", func(b *testing.B) { benchTransfers(b, 1000, true, false) })
	b.Run("batch=100", func(b *testing.B) { benchTransfers(b, 100, false, false) })
	b.Run("batch=1", func(b *testing.B) { benchTransfers(b, 1, false, false) })
}
