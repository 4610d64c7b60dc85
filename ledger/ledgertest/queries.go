package ledgertest

import (
	"cmp"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// testTimestamps: the ledger stamps events from its clock (the first
// account at Epoch, a transfer at the clock's time once it is ahead
// again), transfers after the accounts created before them, and the
// timestamps of transfers strictly increase, also over a clock that steps
// back an hour.
func testTimestamps(t *testing.T, c Config) {
	e := newEnv(t, c)
	e.mustCreateAccounts(standardAccounts()...)
	e.mustTransfer(tr(1, acctA, acctB, 1), tr(2, acctA, acctB, 1))
	e.clock.Advance(-time.Hour) // the clock steps back
	e.mustTransfer(tr(3, acctA, acctB, 1))
	e.clock.Advance(2 * time.Hour)
	e.mustTransfer(tr(4, acctA, acctB, 1))
	var last uint64
	for _, v := range []uint64{1, 2, 3, 4} {
		ts := e.transfer(v).Timestamp
		require.Greater(t, ts, last, "transfer %d", v)
		last = ts
	}
	assert.Equal(t, uint64(Epoch.Add(time.Hour).UnixNano()), e.transfer(4).Timestamp)
	assert.Greater(t, e.transfer(1).Timestamp, e.account(acctC).Timestamp)
	assert.Equal(t, uint64(Epoch.UnixNano()), e.account(acctA).Timestamp)
}

// testLookups: LookupAccounts and LookupTransfers return the rows found in
// the order of the IDs asked, an ID asked twice twice, and leave out an ID
// without a row; a transfer reads back as it was created, its Timestamp
// set; no IDs give an empty result.
func testLookups(t *testing.T, c Config) {
	e := newEnv(t, c)
	e.mustCreateAccounts(standardAccounts()...)
	e.mustTransfer(tr(1, acctA, acctB, 1), tr(2, acctB, acctC, 2))
	accts, err := e.l.LookupAccounts(e.ctx(), []ledger.ID{id(acctC), id(99), id(acctA), id(acctC)})
	require.NoError(t, err)
	require.Len(t, accts, 3)
	assert.Equal(t, []ledger.ID{id(acctC), id(acctA), id(acctC)}, []ledger.ID{accts[0].ID, accts[1].ID, accts[2].ID})
	trs, err := e.l.LookupTransfers(e.ctx(), []ledger.ID{id(2), id(3), id(1)})
	require.NoError(t, err)
	require.Len(t, trs, 2)
	assert.Equal(t, tr(2, acctB, acctC, 2), with(trs[0], func(t *ledger.Transfer) { t.Timestamp = 0 }))
	assert.Equal(t, id(1), trs[1].ID)
	none, err := e.l.LookupTransfers(e.ctx(), nil)
	require.NoError(t, err)
	assert.Empty(t, none)
}

// testAccountTransfers: GetAccountTransfers selects an account's
// transfers by side, user data 64, code and inclusive time range, in
// timestamp order (reversed with AccountFilterReversed), at most Limit;
// a zero Limit, no side or an unknown account select nothing; and paging
// forward by TimestampMin, or backward by TimestampMax, visits each of the
// account's transfers once, in order.
func testAccountTransfers(t *testing.T, c Config) {
	e := newEnv(t, c)
	e.mustCreateAccounts(standardAccounts()...)
	var batch []ledger.Transfer
	for i := range uint64(20) {
		ev := tr(i+1, acctA, acctB, i+1)
		if i%2 == 1 {
			ev = tr(i+1, acctB, acctA, i+1)
		}
		ev.UserData64 = i % 3
		ev.Code = uint16(1 + i%2)
		batch = append(batch, ev)
	}
	e.mustTransfer(batch...)
	e.mustTransfer(tr(100, acctB, acctC, 1))
	ids := func(ts []ledger.Transfer) []uint64 {
		var out []uint64
		for _, t := range ts {
			out = append(out, idVal(t.ID))
		}
		return out
	}
	get := func(f ledger.AccountFilter) []uint64 {
		got, err := e.l.GetAccountTransfers(e.ctx(), f)
		require.NoError(t, err)
		return ids(got)
	}
	both := ledger.AccountFilterDebits | ledger.AccountFilterCredits
	assert.Equal(t, []uint64{1, 2, 3, 4, 5}, get(ledger.AccountFilter{AccountID: id(acctA), Limit: 5, Flags: both}))
	assert.Equal(t, []uint64{1, 3, 5}, get(ledger.AccountFilter{AccountID: id(acctA), Limit: 3, Flags: ledger.AccountFilterDebits}))
	assert.Equal(t, []uint64{20, 18, 16}, get(ledger.AccountFilter{AccountID: id(acctA), Limit: 3, Flags: ledger.AccountFilterCredits | ledger.AccountFilterReversed}))
	assert.Equal(t, []uint64{100, 20, 19}, get(ledger.AccountFilter{AccountID: id(acctB), Limit: 3, Flags: both | ledger.AccountFilterReversed}))
	assert.Equal(t, []uint64{2, 5, 8}, get(ledger.AccountFilter{AccountID: id(acctA), Limit: 3, UserData64: 1, Flags: both}))
	assert.Equal(t, []uint64{2, 4}, get(ledger.AccountFilter{AccountID: id(acctA), Limit: 2, Code: 2, Flags: both}))
	assert.Empty(t, get(ledger.AccountFilter{AccountID: id(acctA), Limit: 0, Flags: both}))
	assert.Empty(t, get(ledger.AccountFilter{AccountID: id(acctA), Limit: 5}))
	assert.Empty(t, get(ledger.AccountFilter{AccountID: id(99), Limit: 5, Flags: both}))

	// Paging forward and backward by timestamp visits every transfer once.
	// pages reads pages until an empty one, moving f past the last
	// timestamp seen with next.
	pages := func(f ledger.AccountFilter, next func(f *ledger.AccountFilter, last uint64)) []uint64 {
		var seen []uint64
		for {
			page, err := e.l.GetAccountTransfers(e.ctx(), f)
			require.NoError(t, err)
			if len(page) == 0 {
				return seen
			}
			seen = append(seen, ids(page)...)
			next(&f, page[len(page)-1].Timestamp)
		}
	}
	seen := pages(ledger.AccountFilter{AccountID: id(acctA), Limit: 6, Flags: both},
		func(f *ledger.AccountFilter, last uint64) { f.TimestampMin = last + 1 })
	require.Len(t, seen, 20)
	for i, v := range seen {
		require.Equal(t, uint64(i+1), v)
	}
	seen = pages(ledger.AccountFilter{AccountID: id(acctA), Limit: 7, Flags: both | ledger.AccountFilterReversed},
		func(f *ledger.AccountFilter, last uint64) { f.TimestampMax = last - 1 })
	require.Len(t, seen, 20)
	for i, v := range seen {
		require.Equal(t, uint64(20-i), v)
	}

	first := e.transfer(3).Timestamp
	lastTS := e.transfer(6).Timestamp
	assert.Equal(t, []uint64{3, 4, 5, 6}, get(ledger.AccountFilter{AccountID: id(acctA), Limit: 100, TimestampMin: first, TimestampMax: lastTS, Flags: both}))
}

// testAccountBalances: GetAccountBalances of an account with
// AccountHistory returns a row per transfer that changed its balances (a
// pending transfer and its post included), with the balances after it, at
// that transfer's timestamp, newest first with AccountFilterReversed, at
// most Limit; an account without the flag has none.
func testAccountBalances(t *testing.T, c Config) {
	e := newEnv(t, c)
	e.mustCreateAccounts(standardAccounts()...)
	e.mustTransfer(tr(1, acctA, acctHist, 10), pending(tr(2, acctHist, acctA, 3)), post(3, 2, 2), tr(4, acctA, acctB, 5))
	both := ledger.AccountFilterDebits | ledger.AccountFilterCredits
	bs, err := e.l.GetAccountBalances(e.ctx(), ledger.AccountFilter{AccountID: id(acctHist), Limit: 10, Flags: both})
	require.NoError(t, err)
	require.Len(t, bs, 3)
	got := []Bal{{bs[0].DebitsPending, bs[0].DebitsPosted, bs[0].CreditsPending, bs[0].CreditsPosted},
		{bs[1].DebitsPending, bs[1].DebitsPosted, bs[1].CreditsPending, bs[1].CreditsPosted},
		{bs[2].DebitsPending, bs[2].DebitsPosted, bs[2].CreditsPending, bs[2].CreditsPosted}}
	assert.Equal(t, []Bal{{0, 0, 0, 10}, {3, 0, 0, 10}, {0, 2, 0, 10}}, got)
	assert.Equal(t, e.transfer(1).Timestamp, bs[0].Timestamp)
	assert.Equal(t, e.transfer(3).Timestamp, bs[2].Timestamp)
	for _, b := range bs {
		assert.Equal(t, id(acctHist), b.AccountID)
	}
	rev, err := e.l.GetAccountBalances(e.ctx(), ledger.AccountFilter{AccountID: id(acctHist), Limit: 2, Flags: both | ledger.AccountFilterReversed})
	require.NoError(t, err)
	require.Len(t, rev, 2)
	assert.Equal(t, bs[2], rev[0])
	assert.Equal(t, bs[1], rev[1])
	// No history without the flag.
	none, err := e.l.GetAccountBalances(e.ctx(), ledger.AccountFilter{AccountID: id(acctA), Limit: 10, Flags: both})
	require.NoError(t, err)
	assert.Empty(t, none)
}

// testLimits: CreateTransfers, CreateAccounts and LookupAccounts refuse
// more than BatchMax events or IDs with ledger.ErrBatchTooLarge; a call of
// BatchMax transfers creates them all; and GetAccountTransfers with a Limit
// above BatchMax returns BatchMax transfers.
func testLimits(t *testing.T, c Config) {
	e := newEnv(t, c)
	e.mustCreateAccounts(standardAccounts()...)
	big := make([]ledger.Transfer, ledger.BatchMax+1)
	_, err := e.l.CreateTransfers(e.ctx(), big)
	require.ErrorIs(t, err, ledger.ErrBatchTooLarge)
	_, err = e.l.CreateAccounts(e.ctx(), make([]ledger.Account, ledger.BatchMax+1))
	require.ErrorIs(t, err, ledger.ErrBatchTooLarge)
	_, err = e.l.LookupAccounts(e.ctx(), make([]ledger.ID, ledger.BatchMax+1))
	require.ErrorIs(t, err, ledger.ErrBatchTooLarge)
	// A full batch is accepted.
	full := make([]ledger.Transfer, ledger.BatchMax)
	for i := range full {
		full[i] = tr(uint64(i+1), acctA, acctB, 1)
	}
	res := e.transfers(full...)
	for i, r := range res {
		require.Equal(t, ledger.TransferCreated, r, "event %d", i)
	}
	e.requireBalances(map[uint64]Bal{acctA: {0, ledger.BatchMax, 0, 0}})
	// A Limit above BatchMax returns at most BatchMax transfers.
	e.mustTransfer(tr(ledger.BatchMax+1, acctA, acctB, 1))
	got, err := e.l.GetAccountTransfers(e.ctx(), ledger.AccountFilter{AccountID: e.in(id(acctA)), Limit: ledger.BatchMax + 100,
		Flags: ledger.AccountFilterDebits})
	require.NoError(t, err)
	require.Len(t, got, ledger.BatchMax)
	e.verify()
}

// testAccountTransferFilters runs every combination of side, order, user
// data, code, limit and time range against transfers that use the full
// range of each field (user_data_64 and user_data_32 with their top bit
// set), and compares each answer with the filter applied to the stored
// transfers directly.
func testAccountTransferFilters(t *testing.T, c Config) {
	e := newEnv(t, c)
	e.mustCreateAccounts(standardAccounts()...)
	ud128 := []ledger.ID{{}, ledger.IDFromUint64s(1<<63, 5), id(9)}
	ud64 := []uint64{0, 1<<63 | 7, 3}
	ud32 := []uint32{0, 1<<31 | 2, 4}
	var batch []ledger.Transfer
	for i := range uint64(30) {
		ev := tr(i+1, acctA, acctB, i+1)
		switch i % 3 {
		case 1:
			ev = tr(i+1, acctB, acctA, i+1)
		case 2:
			ev = tr(i+1, acctA, acctC, i+1)
		}
		ev.UserData128 = ud128[i%3]
		ev.UserData64 = ud64[i/3%3]
		ev.UserData32 = ud32[i/2%3]
		ev.Code = uint16(1 + i%4)
		batch = append(batch, ev)
	}
	e.mustTransfer(batch...)
	// A post and a void name only the pending transfer: they are stored
	// with its accounts, user data and code, and found by them.
	e.mustTransfer(with(pending(tr(40, acctA, acctB, 9)), func(t *ledger.Transfer) { t.UserData64, t.Code = ud64[1], 3 }),
		with(pending(tr(41, acctC, acctA, 9)), func(t *ledger.Transfer) { t.UserData32, t.Code = ud32[1], 2 }))
	e.mustTransfer(post(42, 40, 4), void(43, 41))
	e.mustTransfer(tr(50, acctB, acctC, 1)) // not acctA's

	var all []ledger.Transfer
	for _, v := range []uint64{40, 41, 42, 43} {
		all = append(all, e.transfer(v))
	}
	for i := range batch {
		all = append(all, e.transfer(uint64(i+1)))
	}
	slices.SortFunc(all, func(x, y ledger.Transfer) int { return cmp.Compare(x.Timestamp, y.Timestamp) })
	want := func(f ledger.AccountFilter) []ledger.Transfer {
		out := []ledger.Transfer{}
		if f.TimestampMax > ledger.TimestampLimit { // an invalid filter
			return out
		}
		for _, t := range all {
			if filterMatches(&f, &t) &&
				t.Timestamp >= f.TimestampMin && (f.TimestampMax == 0 || t.Timestamp <= f.TimestampMax) {
				out = append(out, t)
			}
		}
		if f.Flags&ledger.AccountFilterReversed != 0 {
			slices.Reverse(out)
		}
		return out[:min(len(out), f.Limit)]
	}
	ranges := [][2]uint64{{0, 0}, {all[5].Timestamp, all[20].Timestamp}, {all[10].Timestamp, 0},
		{0, all[10].Timestamp}, {all[7].Timestamp, all[7].Timestamp}, {0, ledger.TimestampLimit}, {0, math.MaxUint64}}
	sides := []ledger.AccountFilterFlags{ledger.AccountFilterDebits, ledger.AccountFilterCredits,
		ledger.AccountFilterDebits | ledger.AccountFilterCredits}
	queries := 0
	for _, side := range sides {
		for _, rev := range []ledger.AccountFilterFlags{0, ledger.AccountFilterReversed} {
			for _, u128 := range ud128[:2] {
				for _, u64 := range ud64[:2] {
					for _, u32 := range ud32[:2] {
						for _, code := range []uint16{0, 3} {
							for _, limit := range []int{1, 3, 100} {
								for _, r := range ranges {
									f := ledger.AccountFilter{AccountID: id(acctA), UserData128: u128, UserData64: u64,
										UserData32: u32, Code: code, TimestampMin: r[0], TimestampMax: r[1], Limit: limit, Flags: side | rev}
									got, err := e.l.GetAccountTransfers(e.ctx(), f)
									require.NoError(t, err)
									require.Equal(t, want(f), got, "filter %+v", f)
									queries++
								}
							}
						}
					}
				}
			}
		}
	}
	require.Equal(t, 3*2*2*2*2*2*3*len(ranges), queries)
	// The filters with the third value of each field select something.
	for _, f := range []ledger.AccountFilter{
		{AccountID: id(acctA), UserData128: ud128[2], Limit: 100, Flags: ledger.AccountFilterDebits},
		{AccountID: id(acctA), UserData64: ud64[2], UserData32: ud32[2], Limit: 100, Flags: ledger.AccountFilterCredits | ledger.AccountFilterDebits},
		{AccountID: id(acctA), UserData64: ud64[1], Code: 3, Limit: 100, Flags: ledger.AccountFilterDebits},
		{AccountID: id(acctA), UserData32: ud32[1], Code: 2, Limit: 100, Flags: ledger.AccountFilterCredits},
	} {
		got, err := e.l.GetAccountTransfers(e.ctx(), f)
		require.NoError(t, err)
		require.NotEmpty(t, got, "filter %+v", f)
		require.Equal(t, want(f), got, "filter %+v", f)
	}
	// The post and the void are found on the pending transfers' accounts.
	got, err := e.l.GetAccountTransfers(e.ctx(), ledger.AccountFilter{AccountID: id(acctA), UserData64: ud64[1], Code: 3,
		TimestampMin: e.transfer(42).Timestamp, Limit: 10, Flags: ledger.AccountFilterDebits})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, id(42), got[0].ID)
	got, err = e.l.GetAccountTransfers(e.ctx(), ledger.AccountFilter{AccountID: id(acctA), UserData32: ud32[1],
		TimestampMin: e.transfer(43).Timestamp, Limit: 10, Flags: ledger.AccountFilterCredits})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, id(43), got[0].ID)

	// Filters that select nothing.
	both := ledger.AccountFilterDebits | ledger.AccountFilterCredits
	for _, f := range []ledger.AccountFilter{
		{AccountID: id(acctA), Limit: -1, Flags: both},
		{AccountID: ledger.ID{}, Limit: 10, Flags: both},
		{AccountID: ledger.IDMax, Limit: 10, Flags: both},
		{AccountID: id(acctA), Limit: 10, Flags: ledger.AccountFilterReversed},
		{AccountID: id(acctA), Limit: 10, Flags: both, TimestampMin: all[9].Timestamp, TimestampMax: all[8].Timestamp},
		{AccountID: id(acctA), Limit: 10, Flags: both, TimestampMin: ledger.TimestampLimit + 1},
		{AccountID: id(acctA), Limit: 10, Flags: both, TimestampMax: ledger.TimestampLimit + 1},
		{AccountID: id(acctA), Limit: 10, Flags: both, TimestampMin: all[0].Timestamp, TimestampMax: math.MaxUint64},
		{AccountID: id(acctA), Limit: 10, Flags: both | 1<<3},
		{AccountID: id(acctA), Limit: 10, Flags: ledger.AccountFilterDebits | 1<<7},
		{AccountID: id(acctA), Limit: 10, Flags: both, UserData128: id(12345)},
	} {
		got, err := e.l.GetAccountTransfers(e.ctx(), f)
		require.NoError(t, err)
		assert.Equal(t, []ledger.Transfer{}, got, "filter %+v", f)
	}
}

// testAccountBalanceFilters checks the time range and the limit of
// GetAccountBalances in both orders.
func testAccountBalanceFilters(t *testing.T, c Config) {
	e := newEnv(t, c)
	e.mustCreateAccounts(standardAccounts()...)
	e.mustTransfer(historyBatch(func(i uint64) uint64 { return i + 1 })...)
	both := ledger.AccountFilterDebits | ledger.AccountFilterCredits
	all, err := e.l.GetAccountBalances(e.ctx(), ledger.AccountFilter{AccountID: id(acctHist), Limit: 100, Flags: both})
	require.NoError(t, err)
	require.Len(t, all, 12)
	for i, b := range all {
		require.Equal(t, e.transfer(uint64(i+1)).Timestamp, b.Timestamp)
	}
	ranges := [][2]uint64{{0, 0}, {all[2].Timestamp, all[8].Timestamp}, {all[4].Timestamp, 0}, {0, all[4].Timestamp},
		{all[6].Timestamp, all[6].Timestamp}, {0, math.MaxUint64}}
	for _, r := range ranges {
		for _, rev := range []ledger.AccountFilterFlags{0, ledger.AccountFilterReversed} {
			for _, limit := range []int{1, 4, 100} {
				want := []ledger.AccountBalance{}
				for _, b := range all {
					if r[1] > ledger.TimestampLimit { // an invalid filter
						break
					}
					if b.Timestamp >= r[0] && (r[1] == 0 || b.Timestamp <= r[1]) {
						want = append(want, b)
					}
				}
				if rev != 0 {
					slices.Reverse(want)
				}
				want = want[:min(len(want), limit)]
				f := ledger.AccountFilter{AccountID: id(acctHist), TimestampMin: r[0], TimestampMax: r[1], Limit: limit, Flags: both | rev}
				got, err := e.l.GetAccountBalances(e.ctx(), f)
				require.NoError(t, err)
				require.Equal(t, want, got, "filter %+v", f)
			}
		}
	}
	for _, f := range []ledger.AccountFilter{
		{AccountID: id(acctHist), Limit: 0, Flags: both},
		{AccountID: id(acctHist), Limit: 10},
		{AccountID: id(acctHist), Limit: 10, Flags: both, TimestampMin: all[5].Timestamp, TimestampMax: all[4].Timestamp},
		{AccountID: id(acctHist), Limit: 10, Flags: both, TimestampMin: ledger.TimestampLimit + 1},
		{AccountID: id(acctHist), Limit: 10, Flags: both, TimestampMax: ledger.TimestampLimit + 1},
		{AccountID: id(acctHist), Limit: 10, Flags: both | ledger.AccountFilterReversed | 1<<4},
		{AccountID: id(acctB), Limit: 10, Flags: both},
	} {
		got, err := e.l.GetAccountBalances(e.ctx(), f)
		require.NoError(t, err)
		assert.Equal(t, []ledger.AccountBalance{}, got, "filter %+v", f)
	}
}

// testAccountBalanceTransferFilters checks that GetAccountBalances keeps
// the rows whose transfer matches the filter's side, user data and code,
// as GetAccountTransfers does (TigerBeetle's get_account_balances): the
// transfer created at the row's timestamp or, for the row written when a
// hold expired, that pending transfer.
func testAccountBalanceTransferFilters(t *testing.T, c Config) {
	e := newEnv(t, c)
	e.mustCreateAccounts(standardAccounts()...)
	batch := historyBatch(func(uint64) uint64 { return 10 })
	for i := range uint64(len(batch)) {
		ev := &batch[i]
		ev.UserData128 = id(1 + i%2)
		ev.UserData64 = 1 + i%3
		ev.UserData32 = uint32(1 + i%4)
		ev.Code = uint16(1 + i%2)
	}
	// A hold that is posted: the post is stored with the hold's user data
	// and code.
	batch = append(batch, with(pending(tr(20, acctA, acctHist, 4)), func(t *ledger.Transfer) { t.UserData64, t.Code = 2, 2 }))
	e.mustTransfer(batch...)
	e.mustTransfer(post(21, 20, 3))
	// A hold that expires: the history row of its release belongs to it.
	e.mustTransfer(with(pending(tr(30, acctHist, acctB, 2)), func(t *ledger.Transfer) {
		t.Timeout, t.UserData32, t.Code = 1, 3, 2
	}))
	e.clock.Advance(2 * time.Second)
	e.mustTransfer(tr(31, acctA, acctB, 1)) // releases hold 30 first

	byTS := map[uint64]ledger.Transfer{}
	for _, v := range []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20, 21, 30} {
		byTS[e.transfer(v).Timestamp] = e.transfer(v)
	}
	both := ledger.AccountFilterDebits | ledger.AccountFilterCredits
	all, err := e.l.GetAccountBalances(e.ctx(), ledger.AccountFilter{AccountID: id(acctHist), Limit: 100, Flags: both})
	require.NoError(t, err)
	require.Len(t, all, 16, "12 transfers, the hold, its post, the expiring hold, its release")
	of := make([]ledger.Transfer, len(all)) // the transfer of each row
	for i, b := range all {
		tr, ok := byTS[b.Timestamp]
		if !ok {
			require.Equal(t, len(all)-1, i, "only the release has no transfer at its timestamp")
			tr = e.transfer(30)
		}
		of[i] = tr
	}
	want := func(f ledger.AccountFilter) []ledger.AccountBalance {
		out := []ledger.AccountBalance{}
		for i, b := range all {
			if filterMatches(&f, &of[i]) {
				out = append(out, b)
			}
		}
		if f.Flags&ledger.AccountFilterReversed != 0 {
			slices.Reverse(out)
		}
		return out[:min(len(out), f.Limit)]
	}
	selected := 0
	for _, side := range []ledger.AccountFilterFlags{ledger.AccountFilterDebits, ledger.AccountFilterCredits, both} {
		for _, rev := range []ledger.AccountFilterFlags{0, ledger.AccountFilterReversed} {
			for _, u128 := range []ledger.ID{{}, id(2)} {
				for _, u64 := range []uint64{0, 2} {
					for _, u32 := range []uint32{0, 3} {
						for _, code := range []uint16{0, 2} {
							for _, limit := range []int{1, 3, 100} {
								f := ledger.AccountFilter{AccountID: id(acctHist), UserData128: u128, UserData64: u64,
									UserData32: u32, Code: code, Limit: limit, Flags: side | rev}
								got, err := e.l.GetAccountBalances(e.ctx(), f)
								require.NoError(t, err)
								require.Equal(t, want(f), got, "filter %+v", f)
								if len(got) > 0 {
									selected++
								}
							}
						}
					}
				}
			}
		}
	}
	require.Greater(t, selected, 100, "filters that select something")
	// The release of hold 30 is found by the hold's side, user data and
	// code, and the post by the hold it posts.
	got, err := e.l.GetAccountBalances(e.ctx(), ledger.AccountFilter{AccountID: id(acctHist), UserData32: 3, Code: 2,
		Limit: 10, Flags: ledger.AccountFilterDebits})
	require.NoError(t, err)
	require.Equal(t, all[14:16], got, "the hold and its release")
	got, err = e.l.GetAccountBalances(e.ctx(), ledger.AccountFilter{AccountID: id(acctHist), UserData64: 2, Code: 2,
		Limit: 10, Flags: ledger.AccountFilterCredits})
	require.NoError(t, err)
	require.Len(t, got, 4)
	assert.Equal(t, all[12:14], got[2:], "the hold and its post")
	e.verify()
}

// filterMatches reports whether t matches the side, user data and code of
// f, as GetAccountTransfers and GetAccountBalances select.
func filterMatches(f *ledger.AccountFilter, t *ledger.Transfer) bool {
	side := (f.Flags&ledger.AccountFilterDebits != 0 && t.DebitAccountID == f.AccountID) ||
		(f.Flags&ledger.AccountFilterCredits != 0 && t.CreditAccountID == f.AccountID)
	return side && (f.UserData128.IsZero() || t.UserData128 == f.UserData128) &&
		(f.UserData64 == 0 || t.UserData64 == f.UserData64) &&
		(f.UserData32 == 0 || t.UserData32 == f.UserData32) &&
		(f.Code == 0 || t.Code == f.Code)
}

// historyBatch returns transfers 1 to 12 of acctHist's balance history:
// every third, from it to acctB of 1, the others from acctA to it of
// amount(i), i counting from 0.
func historyBatch(amount func(i uint64) uint64) []ledger.Transfer {
	var batch []ledger.Transfer
	for i := range uint64(12) {
		ev := tr(i+1, acctA, acctHist, amount(i))
		if i%3 == 2 {
			ev = tr(i+1, acctHist, acctB, 1)
		}
		batch = append(batch, ev)
	}
	return batch
}
