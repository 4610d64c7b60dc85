package payflow

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
)

// viewsDown is a ledger store whose reads fail with errViewsDown while
// down is set.
type viewsDown struct {
	ledger.Store
	down atomic.Bool
}

var errViewsDown = errors.New("ledger reads down")

func (s *viewsDown) View(ctx context.Context, fn func(ledger.ReadTx) error) error {
	if s.down.Load() {
		return errViewsDown
	}
	return s.Store.View(ctx, fn)
}

// spendPlatform returns a platform on a memory ledger, as far as its
// ledger calls go, with a funding source and a wallet in EUR, and a
// funding transfer between them under id, not made.
func spendPlatform(t *testing.T, id ledger.ID) (*Platform, *viewsDown, ledger.Transfer) {
	t.Helper()
	ls := &viewsDown{Store: ledgermemory.New()}
	p := ledgerPlatform(t, ls)
	source, wallet := account(AccountFunding, 978, ""), account(AccountWallet, 978, "8944000000000000001")
	require.NoError(t, p.createAccounts(context.Background(), source, wallet))
	return p, ls, ledger.Transfer{ID: id, DebitAccountID: source.ID, CreditAccountID: wallet.ID, Amount: 5, Ledger: 978, Code: TransferFunding}
}

// TestSpendRefusedTwice: spending the IDs of a transfer refused for an
// overflow, done already (by another process that met the same refusal),
// is done: the ledger answers id_already_failed for the limit mark and
// the transfer, and the reason stays readable.
func TestSpendRefusedTwice(t *testing.T) {
	ctx := context.Background()
	p, _, tr := spendPlatform(t, ledger.ID{1})
	require.NoError(t, p.spendRefused(ctx, tr))
	require.NoError(t, p.spendRefused(ctx, tr), "spent already")
	err := p.refusedBefore(ctx, tr, fmt.Errorf("%w: ledger: id_already_failed: %w", ErrInternal, errRefusedBefore))
	assert.ErrorIs(t, err, ErrLimit)
}

// TestRefusalKeptTransferMadeMeanwhile: a transfer refused for an
// overflow that another process makes before the refusal's IDs are spent
// is taken as made: the limit mark spent, the spending of the transfer's
// ID meets it, and the call creates it again, which the ledger answers
// exists.
func TestRefusalKeptTransferMadeMeanwhile(t *testing.T) {
	ctx := context.Background()
	p, _, tr := spendPlatform(t, ledger.ID{2})
	calls := 0
	err := p.createRefusalKept(ctx, tr, func() error {
		calls++
		if calls == 1 {
			require.NoError(t, p.transfer(ctx, tr), "made by another process")
			return fmt.Errorf("%w: ledger: overflows_credits", ErrLimit)
		}
		return p.transfer(ctx, tr)
	})
	require.NoError(t, err)
	assert.Equal(t, 2, calls)
	found, err := p.ledger.LookupTransfers(ctx, []ledger.ID{tr.ID})
	require.NoError(t, err)
	assert.Len(t, found, 1)
}

// TestChainLookupFails: a chain whose first transfers the ledger holds
// already (an earlier call made them) is looked up to submit the rest;
// that lookup failing is ErrUnavailable wrapping the store's error, and
// the chain is made once the ledger reads again.
func TestChainLookupFails(t *testing.T) {
	ctx := context.Background()
	p, ls, first := spendPlatform(t, ledger.ID{3})
	second, third := first, first
	second.ID, third.ID = ledger.ID{4}, ledger.ID{5}
	require.NoError(t, p.createChain(ctx, []ledger.Transfer{first, second}))
	ls.down.Store(true)
	err := p.createChain(ctx, []ledger.Transfer{first, second, third})
	ls.down.Store(false)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.ErrorIs(t, err, errViewsDown)
	require.NoError(t, p.createChain(ctx, []ledger.Transfer{first, second, third}))
	found, err := p.ledger.LookupTransfers(ctx, []ledger.ID{first.ID, second.ID, third.ID})
	require.NoError(t, err)
	assert.Len(t, found, 3)
}
