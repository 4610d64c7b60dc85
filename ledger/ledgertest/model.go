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
// and requires identical results after every step, identical accounts,
// transfers and balance histories at the end of each run, and a clean
// Verify. The -rapid.checks flag sets the number of runs (100 by default)
// and Config.ModelSteps the most operations in one run.
//
// One store serves every run of the property, so that a store that is slow
// to create stays cheap to test: each run uses IDs of its own and a clock
// far ahead of the previous run, which makes its timestamps identical to
// those of a fresh model.
func RunModel(t *testing.T, c Config) {
	m := &modelRun{t: t, c: c, clock: NewClock(Epoch)}
	m.store = c.NewStore(t)
	m.sut = m.ledger(t, m.store)
	defer func() {
		_ = m.sut.Close()
		_ = m.store.Close()
	}()
	rapid.Check(t, func(rt *rapid.T) {
		m.run++
		m.base = m.run << 32
		// Far beyond anything an earlier run could have reached.
		m.clock.Set(Epoch.Add(time.Duration(m.run) * 240 * time.Hour))
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
		}
		m.checkAll(rt)
		require.NoError(rt, m.sut.Verify(context.Background()))
		require.NoError(rt, m.model.Verify(context.Background()))
	})
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
}

func (m *modelRun) ledger(t require.TestingT, s ledger.Store) *ledger.Ledger {
	l, err := ledger.New(s, ledger.Options{Now: m.clock.Now})
	require.NoError(t, err)
	return l
}

const (
	modelAccounts  = 6
	modelTransfers = 40
)

// drawID draws the zero ID, IDMax or one of n IDs of this run.
func (m *modelRun) drawID(rt *rapid.T, n uint64, label string) ledger.ID {
	switch v := rapid.Uint64Range(0, n+1).Draw(rt, label); v {
	case 0:
		return ledger.ID{}
	case n + 1:
		return ledger.IDMax
	default:
		return ledger.IDFromUint64(m.base + v)
	}
}

func (m *modelRun) createAccounts(rt *rapid.T) {
	n := rapid.IntRange(1, 4).Draw(rt, "accounts")
	batch := make([]ledger.Account, n)
	for i := range batch {
		flags := ledger.AccountFlags(rapid.SampledFrom([]uint16{0, 0, 0, 1 << 1, 1 << 2, 1 << 3, 1 << 0, 1<<1 | 1<<2, 1 << 5, 1 << 4}).Draw(rt, "aflags"))
		batch[i] = ledger.Account{
			ID:     m.drawID(rt, modelAccounts, "aid"),
			Ledger: uint32(rapid.IntRange(0, 2).Draw(rt, "aledger")),
			Code:   uint16(rapid.IntRange(0, 2).Draw(rt, "acode")),
			Flags:  flags,
		}
		if rapid.IntRange(0, 20).Draw(rt, "abad") == 0 {
			batch[i].CreditsPosted = 1
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
		kind := rapid.IntRange(0, 9).Draw(rt, "kind")
		t := ledger.Transfer{
			ID:              m.drawID(rt, modelTransfers, "tid"),
			DebitAccountID:  m.drawID(rt, modelAccounts, "dr"),
			CreditAccountID: m.drawID(rt, modelAccounts, "cr"),
			Amount: rapid.OneOf(rapid.Uint64Range(0, 100), rapid.SampledFrom([]uint64{
				ledger.AmountLimit, ledger.AmountLimit - 50, ledger.AmountMax, 1 << 62})).Draw(rt, "amount"),
			Ledger: uint32(rapid.IntRange(0, 2).Draw(rt, "tledger")),
			Code:   uint16(rapid.IntRange(0, 1).Draw(rt, "tcode")),
		}
		switch kind {
		case 0, 1, 2: // single phase
		case 3, 4:
			t.Flags |= ledger.TransferPending
			t.Timeout = uint32(rapid.IntRange(0, 3).Draw(rt, "timeout"))
		case 5, 6:
			t.Flags |= ledger.TransferPostPendingTransfer
			t.PendingID = m.drawID(rt, modelTransfers, "pid")
			if rapid.Bool().Draw(rt, "bare") {
				t.DebitAccountID, t.CreditAccountID, t.Ledger, t.Code = ledger.ID{}, ledger.ID{}, 0, 0
			}
		case 7:
			t.Flags |= ledger.TransferVoidPendingTransfer
			t.PendingID = m.drawID(rt, modelTransfers, "pid")
			t.DebitAccountID, t.CreditAccountID, t.Ledger, t.Code = ledger.ID{}, ledger.ID{}, 0, 0
			if rapid.Bool().Draw(rt, "voidamount") {
				t.Amount = 0
			}
		case 8:
			t.Flags |= ledger.TransferFlags(rapid.SampledFrom([]uint16{1 << 4, 1 << 5, 1<<4 | 1<<5, 1<<4 | 1<<1}).Draw(rt, "balancing"))
		case 9:
			t.Flags |= ledger.TransferFlags(rapid.SampledFrom([]uint16{1<<1 | 1<<6, 1<<1 | 1<<7, 1 << 6, 1<<2 | 1<<3, 1 << 8, 1<<1 | 1<<2}).Draw(rt, "odd"))
			t.PendingID = m.drawID(rt, modelTransfers, "pid")
		}
		if rapid.IntRange(0, 3).Draw(rt, "link") == 0 {
			t.Flags |= ledger.TransferLinked
		}
		batch[i] = t
	}
	got, err := m.sut.CreateTransfers(context.Background(), batch)
	require.NoError(rt, err)
	want, err := m.model.CreateTransfers(context.Background(), batch)
	require.NoError(rt, err)
	require.Equal(rt, want, got, "batch %+v", batch)
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
		f := ledger.AccountFilter{AccountID: a, Limit: 100, Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits}
		gh, err := m.sut.GetAccountBalances(ctx, f)
		require.NoError(rt, err)
		wh, err := m.model.GetAccountBalances(ctx, f)
		require.NoError(rt, err)
		require.Equal(rt, wh, gh)
		gx, err := m.sut.GetAccountTransfers(ctx, f)
		require.NoError(rt, err)
		wx, err := m.model.GetAccountTransfers(ctx, f)
		require.NoError(rt, err)
		require.Equal(rt, wx, gx)
	}
}
