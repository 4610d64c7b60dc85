package ledgertest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

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
	assert.Equal(t, uint64(20), seen[0])
	assert.Equal(t, uint64(1), seen[19])

	first := e.transfer(3).Timestamp
	lastTS := e.transfer(6).Timestamp
	assert.Equal(t, []uint64{3, 4, 5, 6}, get(ledger.AccountFilter{AccountID: id(acctA), Limit: 100, TimestampMin: first, TimestampMax: lastTS, Flags: both}))
}
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
	e.verify()
}
