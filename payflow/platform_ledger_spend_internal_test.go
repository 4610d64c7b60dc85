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
// exists. That try's refusal at an earlier attempt (id_already_failed)
// is the refusal it stands for: its limit mark spent, ErrLimit.
func TestRefusalKeptTransferMadeMeanwhile(t *testing.T) {
	ctx := context.Background()
	for i, c := range []struct {
		name  string
		again func(p *Platform, tr ledger.Transfer) error // the second try
		want  error
	}{
		{"exists", func(p *Platform, tr ledger.Transfer) error { return p.transfer(ctx, tr) }, nil},
		{"refused before", func(*Platform, ledger.Transfer) error {
			return fmt.Errorf("%w: ledger: id_already_failed: %w", ErrInternal, errRefusedBefore)
		}, ErrLimit},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, _, tr := spendPlatform(t, ledger.ID{2, byte(i)})
			calls := 0
			err := p.createRefusalKept(ctx, tr, func() error {
				calls++
				if calls == 1 {
					require.NoError(t, p.transfer(ctx, tr), "made by another process")
					return fmt.Errorf("%w: ledger: overflows_credits", ErrLimit)
				}
				return c.again(p, tr)
			})
			if c.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, c.want)
			}
			assert.Equal(t, 2, calls)
			found, err := p.ledger.LookupTransfers(ctx, []ledger.ID{tr.ID})
			require.NoError(t, err)
			assert.Len(t, found, 1)
		})
	}
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

// TestSpendRefusedMarkTakenIDFailed: spending the IDs of a transfer
// refused for an overflow, whose limit mark the ledger holds as a transfer
// of other fields (another client of the ledger wrote it) and whose own
// ID it holds failed already, is ErrConflict (markTaken): the mark tells
// no reason.
func TestSpendRefusedMarkTakenIDFailed(t *testing.T) {
	ctx := context.Background()
	p, _, tr := spendPlatform(t, ledger.ID{6})
	mark := tr
	mark.ID = limitMark(tr.ID)
	require.NoError(t, p.transfer(ctx, mark), "the mark written as a transfer")
	res, err := p.ledger.CreateTransfers(ctx, []ledger.Transfer{spending(tr.ID, tr)})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferDebitAccountNotFound}, res, "the ID failed")

	err = p.spendRefused(ctx, tr)
	require.ErrorIs(t, err, ErrConflict)
	assert.EqualError(t, err, markTaken(tr.ID, ledger.TransferExistsWithDifferentDebitAccountID).Error())
}

// TestSpendRefusedSpendingExists: spending the IDs of a transfer refused
// for an overflow, when the ledger holds the spending transfer itself
// under the transfer's ID (another client of the ledger opened an
// account under noAccount's ID, which the spending then debits), is
// errMade: the ID is not failed, and the transfer under it exists.
func TestSpendRefusedSpendingExists(t *testing.T) {
	ctx := context.Background()
	p, _, tr := spendPlatform(t, ledger.ID{7})
	res, err := p.ledger.CreateAccounts(ctx, []ledger.Account{{ID: noAccount, Ledger: 978, Code: AccountFunding}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated}, res)
	require.NoError(t, p.transfer(ctx, spending(limitMark(tr.ID), tr)))
	require.NoError(t, p.transfer(ctx, spending(tr.ID, tr)))

	assert.ErrorIs(t, p.spendRefused(ctx, tr), errMade)
}
