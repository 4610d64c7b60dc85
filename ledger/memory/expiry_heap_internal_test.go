package memory

import (
	"context"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casimpay/casimpay/ledger"
)

// TestExpiryHeapHoldsActivePending creates holds with a timeout, posts
// some and voids others: the expiry heap holds at once exactly the holds
// still pending, and those expire in the order of their expiry, one per
// batch (ExpiryLimit 1), with the balances that leaves.
func TestExpiryHeapHoldsActivePending(t *testing.T) {
	ctx := context.Background()
	s := New()
	var clock atomic.Int64 // the ledger's clock, in nanoseconds
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	l, err := ledger.New(s, ledger.Options{Now: now, ExpiryLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	dr, cr := ledger.IDFromUint64(1), ledger.IDFromUint64(2)
	res, err := l.CreateAccounts(ctx, []ledger.Account{{ID: dr, Ledger: 1, Code: 1}, {ID: cr, Ledger: 1, Code: 1}})
	if err != nil || !slices.Equal(res, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountCreated}) {
		t.Fatalf("CreateAccounts = %v, %v", res, err)
	}
	create := func(batch ...ledger.Transfer) []ledger.CreateTransferResult {
		t.Helper()
		res, err := l.CreateTransfers(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	created := func(n int) []ledger.CreateTransferResult {
		return slices.Repeat([]ledger.CreateTransferResult{ledger.TransferCreated}, n)
	}
	// locked runs f with the store locked for reading, to read its fields.
	locked := func(f func()) {
		t.Helper()
		if err := s.View(ctx, func(ledger.ReadTx) error { f(); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	heapLen := func() (n int) {
		locked(func() { n = s.expiry.Len() })
		return n
	}
	holdID := func(i int) ledger.ID { return ledger.IDFromUint64(uint64(100 + i)) }

	// Hold i of amount i+1 expires after timeouts[i] seconds; the last
	// one has no timeout.
	timeouts := []uint32{7, 3, 11, 1, 9, 5, 12, 2, 10, 4, 8, 6, 0}
	var holds []ledger.Transfer
	for i, timeout := range timeouts {
		holds = append(holds, ledger.Transfer{ID: holdID(i), DebitAccountID: dr, CreditAccountID: cr,
			Amount: uint64(i + 1), Ledger: 1, Code: 1, Flags: ledger.TransferPending, Timeout: timeout})
	}
	if got := create(holds...); !slices.Equal(got, created(len(holds))) {
		t.Fatalf("holds: %v", got)
	}
	if got := heapLen(); got != len(timeouts)-1 {
		t.Fatalf("expiry heap holds %d entries after the holds, want %d", got, len(timeouts)-1)
	}

	// Post holds 0, 3, 6 and 9, void 1, 4, 7 and 10: 2, 5, 8 and 11 stay
	// pending with a timeout (11, 5, 10 and 6 seconds), and 12 without.
	posted, voided := []int{0, 3, 6, 9}, []int{1, 4, 7, 10}
	var resolve []ledger.Transfer
	next := uint64(1000)
	for _, i := range posted {
		next++
		resolve = append(resolve, ledger.Transfer{ID: ledger.IDFromUint64(next), PendingID: holdID(i),
			Amount: uint64(i + 1), Flags: ledger.TransferPostPendingTransfer})
	}
	for _, i := range voided {
		next++
		resolve = append(resolve, ledger.Transfer{ID: ledger.IDFromUint64(next), PendingID: holdID(i),
			Flags: ledger.TransferVoidPendingTransfer})
	}
	if got := create(resolve...); !slices.Equal(got, created(len(resolve))) {
		t.Fatalf("posts and voids: %v", got)
	}
	checkHeap := func(want ...int) {
		t.Helper()
		var got []ledger.ID
		pos := make(map[ledger.ID]int)
		locked(func() {
			for _, e := range s.expiry.entries {
				got = append(got, e.id)
			}
			maps.Copy(pos, s.expiry.pos)
		})
		inHeap := slices.Clone(got)
		slices.SortFunc(got, ledger.ID.Compare)
		var wantIDs []ledger.ID
		for _, i := range want {
			wantIDs = append(wantIDs, holdID(i))
		}
		slices.SortFunc(wantIDs, ledger.ID.Compare)
		if !slices.Equal(got, wantIDs) {
			t.Fatalf("expiry heap holds %v, want %v", got, wantIDs)
		}
		if len(pos) != len(want) {
			t.Fatalf("expiry heap finds %d entries by ID, want %d", len(pos), len(want))
		}
		for k, id := range inHeap {
			if pos[id] != k {
				t.Fatalf("expiry heap finds %v at %d, held at %d", id, pos[id], k)
			}
		}
	}
	checkHeap(2, 5, 8, 11)

	// A filler transfer starts a batch, which releases one expired hold.
	filler := func() {
		t.Helper()
		next++
		if got := create(ledger.Transfer{ID: ledger.IDFromUint64(next), DebitAccountID: cr, CreditAccountID: dr,
			Amount: 1, Ledger: 1, Code: 1}); !slices.Equal(got, created(1)) {
			t.Fatalf("filler: %v", got)
		}
	}
	status := func(want map[int]ledger.PendingStatus) {
		t.Helper()
		for i := range timeouts {
			var p ledger.Pending
			var ok bool
			locked(func() { p, ok = s.pending[holdID(i)] })
			if !ok {
				t.Fatalf("hold %d has no pending state", i)
			}
			w := ledger.PendingActive
			if slices.Contains(posted, i) {
				w = ledger.PendingPosted
			} else if slices.Contains(voided, i) {
				w = ledger.PendingVoided
			} else if st, ok := want[i]; ok {
				w = st
			}
			if p.Status != w {
				t.Fatalf("hold %d is %v, want %v", i, p.Status, w)
			}
		}
	}
	expired := ledger.PendingExpired

	clock.Add(int64(5500 * time.Millisecond)) // hold 5 (5 s) has expired
	filler()
	status(map[int]ledger.PendingStatus{5: expired})
	checkHeap(2, 8, 11)
	filler()
	status(map[int]ledger.PendingStatus{5: expired})
	checkHeap(2, 8, 11)

	// A post of an expired hold is refused.
	next++
	if got := create(ledger.Transfer{ID: ledger.IDFromUint64(next), PendingID: holdID(5), Amount: ledger.AmountMax,
		Flags: ledger.TransferPostPendingTransfer}); !slices.Equal(got, []ledger.CreateTransferResult{ledger.TransferPendingTransferExpired}) {
		t.Fatalf("post of an expired hold: %v", got)
	}

	clock.Add(int64(20 * time.Second)) // holds 11 (6 s), 8 (10 s) and 2 (11 s) have expired
	filler()
	status(map[int]ledger.PendingStatus{5: expired, 11: expired})
	checkHeap(2, 8)
	filler()
	status(map[int]ledger.PendingStatus{5: expired, 11: expired, 8: expired})
	checkHeap(2)
	filler()
	status(map[int]ledger.PendingStatus{5: expired, 11: expired, 8: expired, 2: expired})
	checkHeap()
	filler()

	// Posted: 1+4+7+10; pending: hold 12 (13); 6 fillers of 1 back.
	accts, err := l.LookupAccounts(ctx, []ledger.ID{dr, cr})
	if err != nil || len(accts) != 2 {
		t.Fatalf("LookupAccounts = %v, %v", accts, err)
	}
	if a := accts[0]; a.DebitsPending != 13 || a.DebitsPosted != 22 || a.CreditsPending != 0 || a.CreditsPosted != 6 {
		t.Fatalf("debit account: pending %d/%d posted %d/%d", a.DebitsPending, a.CreditsPending, a.DebitsPosted, a.CreditsPosted)
	}
	if a := accts[1]; a.CreditsPending != 13 || a.CreditsPosted != 22 || a.DebitsPending != 0 || a.DebitsPosted != 6 {
		t.Fatalf("credit account: pending %d/%d posted %d/%d", a.DebitsPending, a.CreditsPending, a.DebitsPosted, a.CreditsPosted)
	}
}
