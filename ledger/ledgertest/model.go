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
// and requires identical results, accounts and transfers after every step
// and a clean Verify at the end. The -rapid.checks and -rapid.steps flags
// set its size.
func RunModel(t *testing.T, c Config) {
	rapid.Check(t, func(rt *rapid.T) {
		m := &modelRun{t: t, c: c, clock: NewClock(Epoch)}
		m.open()
		defer m.close()
		rt.Repeat(map[string]func(*rapid.T){
			"CreateAccounts":  m.createAccounts,
			"CreateTransfers": m.createTransfers,
			"Advance": func(rt *rapid.T) {
				m.clock.Advance(time.Duration(rapid.IntRange(0, 3000).Draw(rt, "ms")) * time.Millisecond)
			},
			"Restart": func(rt *rapid.T) {
				if c.Reopen == nil {
					rt.Skip("no persistence")
				}
				require.NoError(rt, m.sut.Close())
				require.NoError(rt, m.store.Close())
				m.store = c.Reopen(t, m.store)
				m.sut = m.ledger(rt, m.store)
			},
			"": m.check,
		})
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
}

func (m *modelRun) ledger(t require.TestingT, s ledger.Store) *ledger.Ledger {
	l, err := ledger.New(s, ledger.Options{Now: m.clock.Now})
	require.NoError(t, err)
	return l
}

func (m *modelRun) open() {
	m.store = m.c.NewStore(m.t)
	m.sut = m.ledger(m.t, m.store)
	m.mstore = memory.New()
	m.model = m.ledger(m.t, m.mstore)
}

func (m *modelRun) close() {
	_ = m.sut.Close()
	_ = m.store.Close()
	_ = m.model.Close()
	_ = m.mstore.Close()
}

const (
	modelAccounts  = 6
	modelTransfers = 40
)

func drawID(rt *rapid.T, n uint64, label string) ledger.ID {
	switch v := rapid.Uint64Range(0, n+1).Draw(rt, label); v {
	case n + 1:
		return ledger.IDMax
	default:
		return ledger.IDFromUint64(v)
	}
}

func (m *modelRun) createAccounts(rt *rapid.T) {
	n := rapid.IntRange(1, 4).Draw(rt, "accounts")
	batch := make([]ledger.Account, n)
	for i := range batch {
		flags := ledger.AccountFlags(rapid.SampledFrom([]uint16{0, 0, 0, 1 << 1, 1 << 2, 1 << 3, 1 << 0, 1<<1 | 1<<2, 1 << 5, 1 << 4}).Draw(rt, "aflags"))
		batch[i] = ledger.Account{
			ID:     drawID(rt, modelAccounts, "aid"),
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
			ID:              drawID(rt, modelTransfers, "tid"),
			DebitAccountID:  drawID(rt, modelAccounts, "dr"),
			CreditAccountID: drawID(rt, modelAccounts, "cr"),
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
			t.PendingID = drawID(rt, modelTransfers, "pid")
			if rapid.Bool().Draw(rt, "bare") {
				t.DebitAccountID, t.CreditAccountID, t.Ledger, t.Code = ledger.ID{}, ledger.ID{}, 0, 0
			}
		case 7:
			t.Flags |= ledger.TransferVoidPendingTransfer
			t.PendingID = drawID(rt, modelTransfers, "pid")
			t.DebitAccountID, t.CreditAccountID, t.Ledger, t.Code = ledger.ID{}, ledger.ID{}, 0, 0
			if rapid.Bool().Draw(rt, "voidamount") {
				t.Amount = 0
			}
		case 8:
			t.Flags |= ledger.TransferFlags(rapid.SampledFrom([]uint16{1 << 4, 1 << 5, 1<<4 | 1<<5, 1<<4 | 1<<1}).Draw(rt, "balancing"))
		case 9:
			t.Flags |= ledger.TransferFlags(rapid.SampledFrom([]uint16{1<<1 | 1<<6, 1<<1 | 1<<7, 1 << 6, 1<<2 | 1<<3, 1 << 8, 1<<1 | 1<<2}).Draw(rt, "odd"))
			t.PendingID = drawID(rt, modelTransfers, "pid")
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

// check compares every account and transfer of the two ledgers.
func (m *modelRun) check(rt *rapid.T) {
	ctx := context.Background()
	var aids, tids []ledger.ID
	for i := range uint64(modelAccounts) {
		aids = append(aids, ledger.IDFromUint64(i+1))
	}
	for i := range uint64(modelTransfers) {
		tids = append(tids, ledger.IDFromUint64(i+1))
	}
	ga, err := m.sut.LookupAccounts(ctx, aids)
	require.NoError(rt, err)
	wa, err := m.model.LookupAccounts(ctx, aids)
	require.NoError(rt, err)
	require.Equal(rt, wa, ga)
	gt, err := m.sut.LookupTransfers(ctx, tids)
	require.NoError(rt, err)
	wt, err := m.model.LookupTransfers(ctx, tids)
	require.NoError(rt, err)
	require.Equal(rt, wt, gt)
	for _, a := range aids {
		f := ledger.AccountFilter{AccountID: a, Limit: 100, Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits}
		gh, err := m.sut.GetAccountBalances(ctx, f)
		require.NoError(rt, err)
		wh, err := m.model.GetAccountBalances(ctx, f)
		require.NoError(rt, err)
		require.Equal(rt, wh, gh)
	}
}
