package ledgertest

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// testConcurrency: eight goroutines over two Ledgers sharing the store
// create linked pairs, holds with their posts and plain transfers at once,
// every one created, and the posted debits of the accounts add up to their
// amounts; the same new transfer from every goroutine is created once,
// the others getting exists; and of posts and voids of one hold from every
// goroutine, one resolves it and the others get the matching
// pending_transfer_already_* result, with exact balances. Verify passes
// after each.
func testConcurrency(t *testing.T, c Config) {
	const (
		workers  = 8
		requests = 20
		perReq   = 6
	)
	e := newEnv(t, c)
	e.mustCreateAccounts(standardAccounts()...)
	plain := []uint64{acctA, acctB, acctC, acctHist}

	// A second Ledger over the same store competes with the first.
	other, err := ledger.New(e.store, ledger.Options{Now: e.clock.Now, BatchTimeout: batchTimeout})
	require.NoError(t, err)
	defer other.Close()

	var mu sync.Mutex
	var posted uint64 // sum of amounts that were posted
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			l := e.l
			if w%2 == 1 {
				l = other
			}
			for req := range requests {
				var batch []ledger.Transfer
				base := uint64(w+1)*1_000_000 + uint64(req)*100
				for k := uint64(0); k < perReq; k += 2 {
					i := rng.IntN(len(plain))
					dr, cr := plain[i], plain[(i+1+rng.IntN(len(plain)-1))%len(plain)]
					amount := uint64(1 + rng.IntN(100))
					switch rng.IntN(3) {
					case 0: // a linked pair
						batch = append(batch, with(tr(base+k, dr, cr, amount), func(t *ledger.Transfer) { t.Flags = ledger.TransferLinked }),
							tr(base+k+1, cr, dr, amount/2))
					case 1: // hold and capture
						batch = append(batch, pending(tr(base+k, dr, cr, amount)), post(base+k+1, base+k, amount-1))
					default:
						batch = append(batch, tr(base+k, dr, cr, amount), tr(base+k+1, dr, cr, amount+1))
					}
				}
				res, err := l.CreateTransfers(e.ctx(), batch)
				if !assert.NoError(t, err) {
					return
				}
				for i, r := range res {
					if !assert.Equal(t, ledger.TransferCreated, r, "worker %d request %d event %d", w, req, i) {
						return
					}
				}
				var sum uint64
				for _, ev := range batch {
					if ev.Flags&ledger.TransferPending == 0 {
						sum += ev.Amount
					}
				}
				mu.Lock()
				posted += sum
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var total uint64
	for _, a := range plain {
		acc := e.account(a)
		total += acc.DebitsPosted
		assert.Zero(t, acc.DebitsPending)
	}
	assert.Equal(t, posted, total)
	e.verify()

	// The same new transfer from many goroutines at once: one creates it,
	// every other one sees exists.
	var retry sync.WaitGroup
	var created atomic.Int32
	for w := range workers {
		retry.Add(1)
		go func() {
			defer retry.Done()
			res, err := e.l.CreateTransfers(e.ctx(), []ledger.Transfer{tr(9_000_000, acctA, acctB, 3)})
			if assert.NoError(t, err) {
				assert.Contains(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferExists}, res[0], "worker %d", w)
				if res[0] == ledger.TransferCreated {
					created.Add(1)
				}
			}
		}()
	}
	retry.Wait()
	assert.Equal(t, int32(1), created.Load(), "goroutines that got created")
	assert.Equal(t, uint64(3), e.transfer(9_000_000).Amount)
	e.verify()

	// Posts (partial and full) and voids of one hold, each with an ID of
	// its own, from many goroutines over both Ledgers at once: one
	// resolves it, and every other one finds it resolved so.
	const hold = 9_100_000
	before := [2]ledger.Account{e.account(acctA), e.account(acctB)}
	e.mustTransfer(pending(tr(hold, acctA, acctB, 50)))
	results := make([]ledger.CreateTransferResult, 3*workers)
	var resolve sync.WaitGroup
	for i := range results {
		resolve.Add(1)
		go func() {
			defer resolve.Done()
			l := e.l
			if i%2 == 1 {
				l = other
			}
			ev := []ledger.Transfer{post(hold+1+uint64(i), hold, ledger.AmountMax), post(hold+1+uint64(i), hold, 20),
				void(hold+1+uint64(i), hold)}[i%3]
			res, err := l.CreateTransfers(e.ctx(), []ledger.Transfer{e.mapTransfer(ev, e.in)})
			if assert.NoError(t, err) {
				results[i] = res[0]
			}
		}()
	}
	resolve.Wait()
	won := -1
	for i, r := range results {
		if r == ledger.TransferCreated {
			require.Equal(t, -1, won, "events %d and %d both resolved the hold", won, i)
			won = i
		}
	}
	require.NotEqual(t, -1, won, "no event resolved the hold: %v", results)
	lost := []ledger.CreateTransferResult{ledger.TransferPendingTransferAlreadyPosted, ledger.TransferPendingTransferAlreadyPosted,
		ledger.TransferPendingTransferAlreadyVoided}[won%3]
	moved := []uint64{50, 20, 0}[won%3]
	for i, r := range results {
		if i != won {
			assert.Equal(t, lost, r, "event %d", i)
		}
	}
	a, b := e.account(acctA), e.account(acctB)
	assert.Equal(t, Bal{before[0].DebitsPending, before[0].DebitsPosted + moved, before[0].CreditsPending, before[0].CreditsPosted},
		Bal{a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted})
	assert.Equal(t, Bal{before[1].DebitsPending, before[1].DebitsPosted, before[1].CreditsPending, before[1].CreditsPosted + moved},
		Bal{b.DebitsPending, b.DebitsPosted, b.CreditsPending, b.CreditsPosted})
	e.verify()
}

// testRestart, for a store that persists (Config.Reopen): after a
// reopen, transfers and accounts read as before, a retry gets exists or
// id_already_failed, timestamps still increase when the clock went back a
// day, and a hold whose timeout passed expires once (a void of it gets
// pending_transfer_expired), with the release in the balance history.
func testRestart(t *testing.T, c Config) {
	if c.Reopen == nil {
		t.Skip("the store does not persist: no restart test")
	}
	R := func(r ...ledger.CreateTransferResult) []ledger.CreateTransferResult { return r }
	e := newEnv(t, c)
	e.mustCreateAccounts(standardAccounts()...)
	e.mustTransfer(tr(1, acctA, acctHist, 10),
		with(pending(tr(2, acctA, acctB, 5)), func(t *ledger.Transfer) { t.Timeout = 60 }),
		pending(tr(3, acctA, acctB, 7)))
	require.Equal(t, R(ledger.TransferExceedsCredits), e.transfers(tr(4, acctDebLim, acctB, 1)))
	before := e.transfer(3)
	accBefore := e.account(acctA)

	e.reopen()
	assert.Equal(t, before, e.transfer(3))
	assert.Equal(t, accBefore, e.account(acctA))
	require.Equal(t, R(ledger.TransferExists, ledger.TransferIDAlreadyFailed),
		e.transfers(tr(1, acctA, acctHist, 10), tr(4, acctDebLim, acctB, 1)))

	// The clock went back across the restart: timestamps still increase.
	e.clock.Advance(-24 * time.Hour)
	e.mustTransfer(post(5, 3, ledger.AmountMax))
	assert.Greater(t, e.transfer(5).Timestamp, before.Timestamp)

	// The hold with a timeout expires after the restart, exactly once.
	e.clock.Set(Epoch.Add(2 * time.Minute))
	e.mustTransfer(tr(6, acctC, acctB, 1))
	e.reopen()
	require.Equal(t, R(ledger.TransferPendingTransferExpired), e.transfers(void(7, 2)))
	e.requireBalances(map[uint64]Bal{acctA: {0, 17, 0, 0}, acctB: {0, 0, 0, 8}})
	bs, err := e.l.GetAccountBalances(e.ctx(), ledger.AccountFilter{AccountID: id(acctHist), Limit: 10,
		Flags: ledger.AccountFilterCredits})
	require.NoError(t, err)
	require.Len(t, bs, 1)
	e.verify()
}
