package ledgertest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

// RunModel is a rapid state-machine test: it applies the same random
// operations (account and transfer batches with every flag, valid and
// invalid fields, clock steps, restarts when the store persists) to a
// Ledger over the store under test and to one over the in-memory model,
// and requires identical results and accounts and a clean Verify of the
// model after every step, and identical accounts, transfers and balance
// histories and a clean Verify of the store under test at the end of each
// run. The -rapid.checks flag sets the number of runs (100 by default)
// and Config.ModelSteps the most operations in one run.
//
// One store serves every run of the property, so that a store that is slow
// to create stays cheap to test: each run uses IDs of its own and a clock
// far ahead of the previous run, which makes its timestamps identical to
// those of a fresh model.
func RunModel(t *testing.T, c Config) {
	m := &modelRun{t: t, c: c, clock: NewClock(Epoch), stats: map[ledger.CreateTransferResult]int{}}
	m.store = c.NewStore(t)
	m.sut = m.ledger(t, m.store)
	defer func() {
		_ = m.sut.Close()
		_ = m.store.Close()
	}()
	rapid.Check(t, func(rt *rapid.T) {
		m.run++
		m.base = m.run << 32
		m.clock.Set(runStart(m.run))
		// Expire what earlier runs left pending (a batch that fails
		// validation still sweeps), then move the clock past that batch.
		res, err := m.sut.CreateTransfers(context.Background(), []ledger.Transfer{{}})
		require.NoError(rt, err)
		require.Equal(rt, []ledger.CreateTransferResult{ledger.TransferIDMustNotBeZero}, res)
		m.clock.Advance(time.Millisecond)
		m.mstore = memory.New()
		m.model = m.ledger(rt, m.mstore)
		defer func() {
			_ = m.model.Close()
			_ = m.mstore.Close()
		}()
		m.next, m.pendings = 0, nil
		m.seedAccounts(rt)
		actions := map[string]func(*rapid.T){
			"CreateAccounts":  m.createAccounts,
			"CreateTransfers": m.createTransfers,
			"Advance": func(rt *rapid.T) {
				m.clock.Advance(time.Duration(rapid.IntRange(0, 3000).Draw(rt, "ms")) * time.Millisecond)
			},
			"Restart": func(rt *rapid.T) {
				require.NoError(rt, m.sut.Close())
				require.NoError(rt, m.store.Close())
				m.store = c.Reopen(t, m.store)
				m.sut = m.ledger(rt, m.store)
			},
		}
		names := []string{"CreateAccounts", "CreateTransfers", "CreateTransfers", "CreateTransfers", "Advance"}
		if c.Reopen != nil {
			names = append(names, "Restart")
		}
		steps := c.ModelSteps
		if steps <= 0 {
			steps = 12
		}
		for range rapid.IntRange(1, steps).Draw(rt, "steps") {
			actions[rapid.SampledFrom(names).Draw(rt, "action")](rt)
			m.checkAccounts(rt)
			// The model holds this run's rows only: cheap to verify. The
			// store under test holds every run's, and is verified at the
			// end of the run.
			require.NoError(rt, m.model.Verify(context.Background()))
		}
		m.checkAll(rt)
		require.NoError(rt, m.sut.Verify(context.Background()))
	})
	t.Logf("transfer results over all runs: %v", m.stats)
}

type modelRun struct {
	t      *testing.T
	c      Config
	clock  *Clock
	store  ledger.Store
	sut    *ledger.Ledger
	model  *ledger.Ledger
	mstore *memory.Store
	run    uint64
	base   uint64 // added to the IDs of this run
	stats  map[ledger.CreateTransferResult]int

	next     uint64      // transfer IDs of this run used so far
	pendings []ledger.ID // IDs of pending transfers sent in this run
}

func (m *modelRun) ledger(t require.TestingT, s ledger.Store) *ledger.Ledger {
	l, err := ledger.New(s, ledger.Options{Now: m.clock.Now, BatchTimeout: batchTimeout})
	require.NoError(t, err)
	return l
}

const (
	modelAccounts  = 8  // IDs 1-5 are created at the start of a run
	modelTransfers = 40 // transfer IDs of a run
)

// seedAccounts are created at the start of every run, so that most random
// transfers find accounts: four on ledger 1 with each limit and history
// flag, one on ledger 2. Random account batches use IDs 6-8.
func (m *modelRun) seedAccounts(rt *rapid.T) {
	a := func(v uint64, l uint32, f ledger.AccountFlags) ledger.Account {
		return ledger.Account{ID: ledger.IDFromUint64(m.base + v), Ledger: l, Code: 1, Flags: f}
	}
	batch := []ledger.Account{
		a(1, 1, 0), a(2, 1, ledger.AccountDebitsMustNotExceedCredits),
		a(3, 1, ledger.AccountCreditsMustNotExceedDebits), a(4, 1, ledger.AccountHistory), a(5, 2, 0),
	}
	got, err := m.sut.CreateAccounts(context.Background(), batch)
	require.NoError(rt, err)
	want, err := m.model.CreateAccounts(context.Background(), batch)
	require.NoError(rt, err)
	require.Equal(rt, want, got)
}

// drawID draws one of n IDs of this run, and now and then the zero ID or
// IDMax.
func (m *modelRun) drawID(rt *rapid.T, n uint64, label string) ledger.ID {
	switch v := rapid.Uint64Range(0, n+1).Draw(rt, label); {
	case v == 0 && rapid.IntRange(0, 9).Draw(rt, label+"-zero") == 0:
		return ledger.ID{}
	case v == n+1 && rapid.IntRange(0, 9).Draw(rt, label+"-max") == 0:
		return ledger.IDMax
	default:
		return ledger.IDFromUint64(m.base + min(max(v, 1), n))
	}
}

// often returns usual with odds of 15 in 16, else one of rare.
func often[T any](rt *rapid.T, label string, usual T, rare ...T) T {
	if len(rare) == 0 || rapid.IntRange(0, 15).Draw(rt, label) > 0 {
		return usual
	}
	return rapid.SampledFrom(rare).Draw(rt, label+"-rare")
}

func (m *modelRun) createAccounts(rt *rapid.T) {
	n := rapid.IntRange(1, 3).Draw(rt, "accounts")
	batch := make([]ledger.Account, n)
	for i := range batch {
		v := uint64(rapid.IntRange(6, modelAccounts).Draw(rt, "aid"))
		batch[i] = ledger.Account{
			ID:     often(rt, "aidbad", ledger.IDFromUint64(m.base+v), ledger.ID{}, ledger.IDMax, ledger.IDFromUint64(m.base+1)),
			Ledger: often(rt, "aledger", uint32(1), 0, 2),
			Code:   often(rt, "acode", uint16(1), 0, 2),
			Flags: ledger.AccountFlags(rapid.SampledFrom([]uint16{0, 0, 1 << 1, 1 << 2, 1 << 3, 1 << 0,
				1<<1 | 1<<2, 1 << 5, 1 << 4}).Draw(rt, "aflags")),
			CreditsPosted: often(rt, "abal", uint64(0), 1),
		}
	}
	got, err := m.sut.CreateAccounts(context.Background(), batch)
	require.NoError(rt, err)
	want, err := m.model.CreateAccounts(context.Background(), batch)
	require.NoError(rt, err)
	require.Equal(rt, want, got)
}

func (m *modelRun) createTransfers(rt *rapid.T) {
	n := rapid.IntRange(1, 8).Draw(rt, "transfers")
	batch := make([]ledger.Transfer, n)
	for i := range batch {
		kind := rapid.IntRange(0, 10).Draw(rt, "kind")
		t := ledger.Transfer{
			ID:              m.drawTransferID(rt),
			DebitAccountID:  often(rt, "drodd", m.drawID(rt, 4, "dr"), m.drawID(rt, 5, "dr5")),
			CreditAccountID: often(rt, "crodd", m.drawID(rt, 4, "cr"), m.drawID(rt, 5, "cr5")),
			Amount: often(rt, "amountbig", uint64(rapid.IntRange(0, 100).Draw(rt, "amount")),
				ledger.AmountLimit, ledger.AmountLimit-50, ledger.AmountMax, 1<<62, ledger.AmountLimit+1),
			Ledger: often(rt, "tledger", uint32(1), 0, 2),
			Code:   often(rt, "tcode", uint16(1), 0, 2),
		}
		if t.DebitAccountID == t.CreditAccountID && rapid.IntRange(0, 7).Draw(rt, "keepsame") > 0 {
			t.CreditAccountID = ledger.IDFromUint64(m.base + 1 + (idLow(t.DebitAccountID)-m.base)%4)
		}
		switch kind {
		case 0, 1, 2: // single phase
		case 3, 4, 5:
			t.Flags |= ledger.TransferPending
			t.Timeout = uint32(rapid.IntRange(0, 3).Draw(rt, "timeout"))
			m.pendings = append(m.pendings, t.ID)
		case 6, 7:
			t.Flags |= ledger.TransferPostPendingTransfer
			t.PendingID = m.drawPendingID(rt)
			if rapid.Bool().Draw(rt, "bare") {
				t.DebitAccountID, t.CreditAccountID, t.Ledger, t.Code = ledger.ID{}, ledger.ID{}, 0, 0
			}
			t.Amount = often(rt, "postamount", ledger.AmountMax, t.Amount)
		case 8:
			t.Flags |= ledger.TransferVoidPendingTransfer
			t.PendingID = m.drawPendingID(rt)
			t.DebitAccountID, t.CreditAccountID, t.Ledger, t.Code = ledger.ID{}, ledger.ID{}, 0, 0
			t.Amount = often(rt, "voidamount", uint64(0), t.Amount)
		case 9:
			t.Flags |= ledger.TransferFlags(rapid.SampledFrom([]uint16{1 << 4, 1 << 5, 1<<4 | 1<<5, 1<<4 | 1<<1}).Draw(rt, "balancing"))
		case 10:
			t.Flags |= ledger.TransferFlags(rapid.SampledFrom([]uint16{1<<1 | 1<<6, 1<<1 | 1<<7, 1 << 6, 1<<2 | 1<<3, 1 << 8, 1<<1 | 1<<2}).Draw(rt, "odd"))
			t.PendingID = m.drawID(rt, modelTransfers, "pid")
		}
		t.UserData64 = often(rt, "ud", uint64(0), 1, 2)
		if rapid.IntRange(0, 5).Draw(rt, "link") == 0 {
			t.Flags |= ledger.TransferLinked
		}
		batch[i] = t
	}
	got, err := m.sut.CreateTransfers(context.Background(), batch)
	require.NoError(rt, err)
	want, err := m.model.CreateTransfers(context.Background(), batch)
	require.NoError(rt, err)
	require.Equal(rt, want, got, "batch %+v", batch)
	for _, r := range got {
		m.stats[r]++
	}
}

// drawTransferID draws a fresh ID of this run while there are some, and
// now and then an ID used before (a retry).
func (m *modelRun) drawTransferID(rt *rapid.T) ledger.ID {
	if m.next < modelTransfers && rapid.IntRange(0, 5).Draw(rt, "retry") > 0 {
		m.next++
		return ledger.IDFromUint64(m.base + m.next)
	}
	return m.drawID(rt, modelTransfers, "tid")
}

// drawPendingID draws, mostly, the ID of a pending transfer of this run.
func (m *modelRun) drawPendingID(rt *rapid.T) ledger.ID {
	if len(m.pendings) > 0 && rapid.IntRange(0, 5).Draw(rt, "pidknown") > 0 {
		return rapid.SampledFrom(m.pendings).Draw(rt, "pid")
	}
	return m.drawID(rt, modelTransfers, "pid")
}

func idLow(id ledger.ID) uint64 {
	_, lo := id.Uint64s()
	return lo
}

func (m *modelRun) ids(n uint64) []ledger.ID {
	ids := make([]ledger.ID, n)
	for i := range ids {
		ids[i] = ledger.IDFromUint64(m.base + uint64(i) + 1)
	}
	return ids
}

// checkAccounts compares the accounts of the two ledgers.
func (m *modelRun) checkAccounts(rt *rapid.T) {
	ctx := context.Background()
	aids := m.ids(modelAccounts)
	ga, err := m.sut.LookupAccounts(ctx, aids)
	require.NoError(rt, err)
	wa, err := m.model.LookupAccounts(ctx, aids)
	require.NoError(rt, err)
	require.Equal(rt, wa, ga)
}

// checkAll compares every account, transfer and balance history.
func (m *modelRun) checkAll(rt *rapid.T) {
	ctx := context.Background()
	m.checkAccounts(rt)
	tids := m.ids(modelTransfers)
	gt, err := m.sut.LookupTransfers(ctx, tids)
	require.NoError(rt, err)
	wt, err := m.model.LookupTransfers(ctx, tids)
	require.NoError(rt, err)
	require.Equal(rt, wt, gt)
	for _, a := range m.ids(modelAccounts) {
		for _, side := range []ledger.AccountFilterFlags{ledger.AccountFilterDebits | ledger.AccountFilterCredits,
			ledger.AccountFilterDebits, ledger.AccountFilterCredits} {
			f := ledger.AccountFilter{AccountID: a, Limit: 100, Flags: side}
			gh, err := m.sut.GetAccountBalances(ctx, f)
			require.NoError(rt, err)
			wh, err := m.model.GetAccountBalances(ctx, f)
			require.NoError(rt, err)
			require.Equal(rt, wh, gh, "balances, flags %v", side)
			gx, err := m.sut.GetAccountTransfers(ctx, f)
			require.NoError(rt, err)
			wx, err := m.model.GetAccountTransfers(ctx, f)
			require.NoError(rt, err)
			require.Equal(rt, wx, gx, "transfers, flags %v", side)
		}
	}
}

// runStart is the clock at the start of the given run of RunModel: far
// beyond anything an earlier run could have reached (a run advances the
// clock by at most 3 s a step), and within the ledger's timestamps, which
// end in the year 2262, for a million runs and more.
func runStart(run uint64) time.Time {
	return Epoch.Add(time.Duration(run) * time.Hour)
}
