package payflow

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
)

// hidingViews is a ledger store whose reads find no account and no
// transfer while hide is set; its writes see all that it holds.
type hidingViews struct {
	ledger.Store
	hide atomic.Bool
}

func (s *hidingViews) View(ctx context.Context, fn func(ledger.ReadTx) error) error {
	if !s.hide.Load() {
		return s.Store.View(ctx, fn)
	}
	return s.Store.View(ctx, func(tx ledger.ReadTx) error { return fn(hiddenTx{tx}) })
}

// hiddenTx is a read of a ledger store that finds no account and no
// transfer.
type hiddenTx struct{ ledger.ReadTx }

func (hiddenTx) Accounts([]ledger.ID) ([]ledger.Account, error)   { return nil, nil }
func (hiddenTx) Transfers([]ledger.ID) ([]ledger.Transfer, error) { return nil, nil }

// ledgerPlatform returns a platform on a ledger kept in ls, as far as its
// ledger calls go; the ledger is closed at the end of the test.
func ledgerPlatform(t *testing.T, ls ledger.Store) *Platform {
	t.Helper()
	l, err := ledger.New(ls, ledger.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return &Platform{ledger: l}
}

// hidingPlatform returns a platform on a memory ledger whose reads hide
// what it holds while the store's hide is set, as far as its ledger
// calls go.
func hidingPlatform(t *testing.T) (*Platform, *hidingViews) {
	t.Helper()
	ls := &hidingViews{Store: ledgermemory.New()}
	return ledgerPlatform(t, ls), ls
}

// TestAccountOtherFlagsNotFoundIsTaken: an account whose creation the
// ledger answers exists_with_different_flags, but which a look-up then
// does not find, is taken by other content (ErrConflict), not closed: no
// closedError lets a hold or a capture go on to look for its transfers.
func TestAccountOtherFlagsNotFoundIsTaken(t *testing.T) {
	ctx := context.Background()
	p, ls := hidingPlatform(t)
	wallet := account(AccountWallet, 978, "8944000000000000001")
	other := wallet
	other.Flags = 0
	require.NoError(t, p.createAccounts(ctx, other))

	ls.hide.Store(true)
	err := p.createAccounts(ctx, wallet)
	require.ErrorIs(t, err, ErrConflict)
	assert.Nil(t, asClosed(err), "%v", err)
	assert.Equal(t, accountTaken(wallet, ledger.AccountExistsWithDifferentFlags).Error(), err.Error())
}

// TestChainExistsButNotFound: a chain whose first transfers the ledger
// answers exist, but which a look-up then does not find, is refused as
// the ledger answered it (ErrInternal, its chain failed): nothing more is
// submitted, and the rest of the chain is not made.
func TestChainExistsButNotFound(t *testing.T) {
	ctx := context.Background()
	p, ls := hidingPlatform(t)
	source, wallet := account(AccountFunding, 978, ""), account(AccountWallet, 978, "8944000000000000001")
	require.NoError(t, p.createAccounts(ctx, source, wallet))
	first := ledger.Transfer{ID: ledger.ID{6}, DebitAccountID: source.ID, CreditAccountID: wallet.ID, Amount: 5, Ledger: 978, Code: TransferFunding}
	second, third := first, first
	second.ID, third.ID = ledger.ID{7}, ledger.ID{8}
	require.NoError(t, p.createChain(ctx, []ledger.Transfer{first, second}))

	ls.hide.Store(true)
	err := p.createChain(ctx, []ledger.Transfer{first, second, third})
	ls.hide.Store(false)
	require.ErrorIs(t, err, ErrInternal)
	assert.ErrorContains(t, err, "ledger: linked chain failed")
	found, err := p.ledger.LookupTransfers(ctx, []ledger.ID{first.ID, second.ID, third.ID})
	require.NoError(t, err)
	require.Len(t, found, 2)
	assert.Equal(t, []ledger.ID{first.ID, second.ID}, []ledger.ID{found[0].ID, found[1].ID})
}

// TestChainLeavesCallersTransfers: createChain, which submits again only
// the transfers of a chain that the ledger does not hold yet, leaves the
// caller's transfers in their order, as given but for their Linked flags.
func TestChainLeavesCallersTransfers(t *testing.T) {
	ctx := context.Background()
	p, _, first := spendPlatform(t, ledger.ID{8})
	second, third := first, first
	second.ID, third.ID = ledger.ID{9}, ledger.ID{10}
	require.NoError(t, p.createChain(ctx, []ledger.Transfer{first, second}))

	ts := []ledger.Transfer{first, second, third}
	require.NoError(t, p.createChain(ctx, ts))
	first.Flags, second.Flags = ledger.TransferLinked, ledger.TransferLinked
	assert.Equal(t, []ledger.Transfer{first, second, third}, ts)
	found, err := p.ledger.LookupTransfers(ctx, []ledger.ID{first.ID, second.ID, third.ID})
	require.NoError(t, err)
	assert.Len(t, found, 3)
}

// TestSpendRefusedMarkRefused: spending the IDs of a refused transfer
// whose limit mark the ledger refuses for another reason than a missing
// account or an ID failed or taken is ErrInternal naming the mark, which
// then tells no reason.
func TestSpendRefusedMarkRefused(t *testing.T) {
	ctx := context.Background()
	p, _, tr := spendPlatform(t, ledger.ID{11})
	tr.Ledger = 0
	err := p.spendRefused(ctx, tr)
	require.ErrorIs(t, err, ErrInternal)
	assert.ErrorContains(t, err, "ledger: spending a limit mark: ledger_must_not_be_zero")
}
