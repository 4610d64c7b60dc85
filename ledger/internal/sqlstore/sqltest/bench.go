package sqltest

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casimpay/casimpay/internal/cputime"
	"github.com/casimpay/casimpay/ledger"
)

// Benchmark parameters: Producers goroutines each create one transfer per
// CreateTransfers call (one payment is one request), between BenchAccounts
// accounts.
const (
	Producers     = 64
	BenchAccounts = 10000
)

// Bench runs the store benchmarks. "grouped" is the ledger as configured
// by default (group commit: one store transaction per batch of concurrent
// requests); "naive" is the baseline, MaxBatch 1: one store transaction
// per transfer. "uniform" picks both accounts at random; "hot" credits
// every transfer to one merchant account, 1 (a transfer from it to 2).
// The metric transfers/s is the rate, transfers/tx the mean number of
// transfers per store transaction, and cpu-ns/op the CPU time of the test
// process (not of a database server) per transfer. "grouped-wait" is group
// commit with MaxWait 1 ms, which lets each batch gather all 64 producers
// instead of about half of them. open returns a fresh, empty store for
// each round of the benchmark.
func Bench(b *testing.B, open func(b *testing.B) ledger.Store) {
	for _, mode := range []struct {
		name string
		opts ledger.Options
	}{
		{"grouped", ledger.Options{}},
		{"grouped-wait", ledger.Options{MaxWait: time.Millisecond}},
		{"naive", ledger.Options{MaxBatch: 1}},
	} {
		for _, hot := range []bool{false, true} {
			name := mode.name + "/uniform"
			if hot {
				name = mode.name + "/hot"
			}
			b.Run(name, func(b *testing.B) { bench(b, open(b), mode.opts, hot) })
		}
	}
}

// CountingStore counts the Updates of its Store: the write transactions
// of a Ledger over it, not the reruns of one inside the Store. It is safe
// for concurrent use as its Store is.
type CountingStore struct {
	ledger.Store
	Updates atomic.Int64
}

// Update counts the call and runs Update of the Store.
func (c *CountingStore) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	c.Updates.Add(1)
	return c.Store.Update(ctx, fn)
}

func bench(b *testing.B, store ledger.Store, opts ledger.Options, hot bool) {
	ctx := context.Background()
	defer store.Close()
	s := &CountingStore{Store: store}
	l, err := ledger.New(s, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	accounts := make([]ledger.Account, BenchAccounts)
	for i := range accounts {
		accounts[i] = ledger.Account{ID: ledger.IDFromUint64(uint64(i + 1)), Ledger: 978, Code: 1}
	}
	mustCreate(b, l.CreateAccounts, accounts, ledger.AccountCreated)
	s.Updates.Store(0)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	start := time.Now()
	for p := range Producers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(p), 7))
			tr := make([]ledger.Transfer, 1)
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				debit := 1 + rng.Uint64N(BenchAccounts)
				credit := uint64(1)
				if !hot {
					credit = 1 + rng.Uint64N(BenchAccounts)
				}
				if credit == debit {
					credit = debit%BenchAccounts + 1
				}
				tr[0] = ledger.Transfer{ID: ledger.IDFromUint64s(1, uint64(i)), DebitAccountID: ledger.IDFromUint64(debit),
					CreditAccountID: ledger.IDFromUint64(credit), Amount: 1, Ledger: 978, Code: 1}
				res, err := l.CreateTransfers(ctx, tr)
				if err != nil {
					failed.Store(err)
					return
				}
				if res[0] != ledger.TransferCreated {
					failed.Store(res[0])
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cputime.Process() - cpu0
	b.StopTimer()
	if f := failed.Load(); f != nil {
		b.Fatal(f)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "transfers/s")
	b.ReportMetric(float64(b.N)/float64(max(s.Updates.Load(), 1)), "transfers/tx")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// HistoryRows is the length of the balance history that BenchBalances
// reads.
const HistoryRows = 10000

// BenchBalances measures the common balance query: GetAccountBalances of a
// merchant account with HistoryRows history rows, both sides, no user data
// or code, newest first, 100 rows per call (a page of a statement). open
// returns a fresh, empty store.
func BenchBalances(b *testing.B, open func(b *testing.B) ledger.Store) {
	ctx := context.Background()
	l := benchLedger(b, open)
	merchant, shopper := ledger.IDFromUint64(1), ledger.IDFromUint64(2)
	mustCreate(b, l.CreateAccounts, []ledger.Account{
		{ID: merchant, Ledger: 978, Code: 1, Flags: ledger.AccountHistory},
		{ID: shopper, Ledger: 978, Code: 1},
	}, ledger.AccountCreated)
	transfers := make([]ledger.Transfer, HistoryRows)
	for i := range transfers {
		debit, credit := shopper, merchant
		if i%10 == 9 { // a refund
			debit, credit = merchant, shopper
		}
		transfers[i] = ledger.Transfer{ID: ledger.IDFromUint64(uint64(i + 1)), DebitAccountID: debit,
			CreditAccountID: credit, Amount: 1, Ledger: 978, Code: 1}
	}
	mustCreate(b, l.CreateTransfers, transfers, ledger.TransferCreated)
	f := ledger.AccountFilter{AccountID: merchant, Limit: 100,
		Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits | ledger.AccountFilterReversed}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := l.GetAccountBalances(ctx, f)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != f.Limit {
			b.Fatal(len(got))
		}
	}
}

// benchLedger returns a Ledger over a fresh store that open returns; both
// are closed when b ends.
func benchLedger(b *testing.B, open func(b *testing.B) ledger.Store) *ledger.Ledger {
	store := open(b)
	b.Cleanup(func() { store.Close() })
	l, err := ledger.New(store, ledger.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

// mustCreate creates rows through create, BatchMax at a time, and stops b
// unless each result is created.
func mustCreate[T any, R comparable](b *testing.B, create func(context.Context, []T) ([]R, error), rows []T, created R) {
	for start := 0; start < len(rows); start += ledger.BatchMax {
		res, err := create(context.Background(), rows[start:min(start+ledger.BatchMax, len(rows))])
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r != created {
				b.Fatal(r)
			}
		}
	}
}

// Verify benchmark parameters: VerifyAccounts accounts, every other one
// with AccountHistory, and VerifyTransfers transfers between them.
const (
	VerifyAccounts  = 2000
	VerifyTransfers = 10000
)

// BenchVerify measures Ledger.Verify of a store holding VerifyAccounts
// accounts, half of them with AccountHistory, and VerifyTransfers
// transfers, each between two neighbouring accounts (by ID), so that each
// account has about ten transfers and the accounts with AccountHistory
// as many balance history rows. open returns a fresh, empty store.
func BenchVerify(b *testing.B, open func(b *testing.B) ledger.Store) {
	ctx := context.Background()
	l := benchLedger(b, open)
	accounts := make([]ledger.Account, VerifyAccounts)
	for i := range accounts {
		accounts[i] = ledger.Account{ID: ledger.IDFromUint64(uint64(i + 1)), Ledger: 978, Code: 1}
		if i%2 == 0 {
			accounts[i].Flags = ledger.AccountHistory
		}
	}
	mustCreate(b, l.CreateAccounts, accounts, ledger.AccountCreated)
	transfers := make([]ledger.Transfer, VerifyTransfers)
	for i := range transfers {
		debit := uint64(i%VerifyAccounts + 1)
		credit := debit%VerifyAccounts + 1
		transfers[i] = ledger.Transfer{ID: ledger.IDFromUint64(uint64(VerifyAccounts + i + 1)),
			DebitAccountID: ledger.IDFromUint64(debit), CreditAccountID: ledger.IDFromUint64(credit),
			Amount: 1, Ledger: 978, Code: 1}
	}
	mustCreate(b, l.CreateTransfers, transfers, ledger.TransferCreated)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := l.Verify(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
