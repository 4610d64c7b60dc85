package ledger_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

// lockHidingStore hides account hidden from the accounts that its write
// transactions lock, as a database whose foreign keys were not enforced
// shows the transfers of an account it has lost.
type lockHidingStore struct {
	ledger.Store
	hidden ledger.ID
}

func (s lockHidingStore) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	return s.Store.Update(ctx, func(tx ledger.Tx) error { return fn(lockHidingTx{tx, s.hidden}) })
}

type lockHidingTx struct {
	ledger.Tx
	hidden ledger.ID
}

func (tx lockHidingTx) LockAccounts(ids []ledger.ID) ([]ledger.Account, error) {
	accounts, err := tx.Tx.LockAccounts(ids)
	if err != nil {
		return nil, err
	}
	var shown []ledger.Account
	for _, a := range accounts {
		if a.ID != tx.hidden {
			shown = append(shown, a)
		}
	}
	return shown, nil
}

// corruptHoldSetup creates accounts 1, 2 and 3 in a memory store, and
// pending transfer 20 of 7 from account 1, which plant damages: it
// returns the store to run the ledger on.
func corruptHoldSetup(t *testing.T, plant func(*testing.T, *memory.Store) ledger.Store) ledger.Store {
	t.Helper()
	s := memory.New()
	l, err := ledger.New(s, ledger.Options{})
	require.NoError(t, err)
	defer l.Close()
	createAccounts(t, l, []ledger.Account{
		{ID: ledger.IDFromUint64(1), Ledger: 978, Code: 1},
		{ID: ledger.IDFromUint64(2), Ledger: 978, Code: 1},
		{ID: ledger.IDFromUint64(3), Ledger: 978, Code: 1},
	})
	return plant(t, s)
}

func lookupAccount(t *testing.T, l *ledger.Ledger, id uint64) ledger.Account {
	t.Helper()
	got, err := l.LookupAccounts(context.Background(), []ledger.ID{ledger.IDFromUint64(id)})
	require.NoError(t, err)
	require.Len(t, got, 1)
	return got[0]
}

// TestMergedBatchCorruptHold: three calls merged into one batch, one of
// which posts or voids pending transfer 20, whose rows break the ledger's
// invariants (it names an account that is missing, or holds more than its
// accounts have pending). That call fails with ErrCorrupt and creates
// nothing; the two others, which read no damaged row, get the results
// they get alone, and their transfers are in the balances.
func TestMergedBatchCorruptHold(t *testing.T) {
	tests := []struct {
		name    string
		plant   func(*testing.T, *memory.Store) ledger.Store
		resolve ledger.TransferFlags
	}{
		{"missing_account", func(t *testing.T, s *memory.Store) ledger.Store {
			l, err := ledger.New(s, ledger.Options{})
			require.NoError(t, err)
			defer l.Close()
			p := ledger.Transfer{ID: ledger.IDFromUint64(20), DebitAccountID: ledger.IDFromUint64(1),
				CreditAccountID: ledger.IDFromUint64(3), Amount: 7, Ledger: 978, Code: 1, Flags: ledger.TransferPending}
			res, err := l.CreateTransfers(context.Background(), []ledger.Transfer{p})
			require.NoError(t, err)
			require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
			return lockHidingStore{s, ledger.IDFromUint64(3)}
		}, ledger.TransferPostPendingTransfer},
		{"holds_more_than_pending", func(t *testing.T, s *memory.Store) ledger.Store {
			// Its hold is in no balance.
			tamper(t, s, func(tx ledger.Tx) error {
				p := transfer(20, 7)
				p.Flags = ledger.TransferPending
				p.Timestamp = 1 << 62
				if err := tx.InsertTransfers([]ledger.Transfer{p}); err != nil {
					return err
				}
				return tx.InsertPending([]ledger.Pending{{ID: p.ID, Status: ledger.PendingActive, Timestamp: p.Timestamp}})
			})
			return s
		}, ledger.TransferVoidPendingTransfer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &countingStore{Store: corruptHoldSetup(t, tt.plant)}
			l, err := ledger.New(s, ledger.Options{MaxBatch: 4, MaxWait: time.Hour})
			require.NoError(t, err)
			t.Cleanup(func() { l.Close() })
			before1, before2 := lookupAccount(t, l, 1), lookupAccount(t, l, 2)

			pending := transfer(32, 2)
			pending.Flags = ledger.TransferPending
			resolve := ledger.Transfer{ID: ledger.IDFromUint64(31), PendingID: ledger.IDFromUint64(20), Flags: tt.resolve}
			results, errs := mergedCalls(l, [][]ledger.Transfer{
				{transfer(30, 5)},
				{resolve},
				{pending, transfer(33, 1)},
			})

			require.NoError(t, errs[0])
			assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, results[0])
			require.ErrorIs(t, errs[1], ledger.ErrCorrupt)
			assert.Nil(t, results[1])
			require.NoError(t, errs[2])
			assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, results[2])
			// The merged transaction, then one per call.
			assert.Equal(t, int64(4), s.updates.Load())

			got, err := l.LookupTransfers(context.Background(), []ledger.ID{
				ledger.IDFromUint64(30), ledger.IDFromUint64(31), ledger.IDFromUint64(32), ledger.IDFromUint64(33)})
			require.NoError(t, err)
			var ids []ledger.ID
			for _, tr := range got {
				ids = append(ids, tr.ID)
			}
			assert.ElementsMatch(t, []ledger.ID{ledger.IDFromUint64(30), ledger.IDFromUint64(32), ledger.IDFromUint64(33)}, ids)
			want1, want2 := before1, before2
			want1.DebitsPosted += 6
			want1.DebitsPending += 2
			want2.CreditsPosted += 6
			want2.CreditsPending += 2
			assert.Equal(t, want1, lookupAccount(t, l, 1))
			assert.Equal(t, want2, lookupAccount(t, l, 2))
		})
	}
}

// TestMergedBatchCorruptExpiry: when the damaged hold is one that every
// batch releases first (it has expired), each of the merged calls, run
// alone, fails with ErrCorrupt, and none creates anything.
func TestMergedBatchCorruptExpiry(t *testing.T) {
	const planted = uint64(1 << 62)
	st := corruptHoldSetup(t, func(t *testing.T, s *memory.Store) ledger.Store {
		// Its hold is in no balance, and it expires a second after it.
		tamper(t, s, func(tx ledger.Tx) error {
			p := transfer(20, 7)
			p.Flags = ledger.TransferPending
			p.Timeout = 1
			p.Timestamp = planted
			if err := tx.InsertTransfers([]ledger.Transfer{p}); err != nil {
				return err
			}
			return tx.InsertPending([]ledger.Pending{{ID: p.ID, Status: ledger.PendingActive,
				ExpiresAt: p.ExpiresAt(), Timestamp: p.Timestamp}})
		})
		return s
	})
	s := &countingStore{Store: st}
	l, err := ledger.New(s, ledger.Options{MaxBatch: 2, MaxWait: time.Hour,
		Now: func() time.Time { return time.Unix(0, int64(planted+2e9)) }})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	before1, before2 := lookupAccount(t, l, 1), lookupAccount(t, l, 2)

	results, errs := mergedCalls(l, [][]ledger.Transfer{{transfer(30, 5)}, {transfer(31, 1)}})
	for i := range errs {
		require.ErrorIs(t, errs[i], ledger.ErrCorrupt, "call %d", i)
		assert.Nil(t, results[i], "call %d", i)
	}
	// The merged transaction, then one per call.
	assert.Equal(t, int64(3), s.updates.Load())
	got, err := l.LookupTransfers(context.Background(), []ledger.ID{ledger.IDFromUint64(30), ledger.IDFromUint64(31)})
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Equal(t, before1, lookupAccount(t, l, 1))
	assert.Equal(t, before2, lookupAccount(t, l, 2))
}

// TestExpiryOfHoldOfMissingAccount: a batch that would release an expired
// hold whose debit or credit account the store has lost fails with
// ErrCorrupt and creates nothing.
func TestExpiryOfHoldOfMissingAccount(t *testing.T) {
	for _, hidden := range []uint64{1, 3} {
		t.Run(fmt.Sprintf("account_%d", hidden), func(t *testing.T) {
			ctx := context.Background()
			now := time.Unix(0, 1<<62) // past the setup's timestamps
			clock := func() time.Time { return now }
			st := corruptHoldSetup(t, func(t *testing.T, s *memory.Store) ledger.Store {
				l, err := ledger.New(s, ledger.Options{Now: clock})
				require.NoError(t, err)
				defer l.Close()
				p := ledger.Transfer{ID: ledger.IDFromUint64(20), DebitAccountID: ledger.IDFromUint64(1),
					CreditAccountID: ledger.IDFromUint64(3), Amount: 7, Ledger: 978, Code: 1, Flags: ledger.TransferPending,
					Timeout: 1}
				res, err := l.CreateTransfers(ctx, []ledger.Transfer{p})
				require.NoError(t, err)
				require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
				return lockHidingStore{s, ledger.IDFromUint64(hidden)}
			})
			l, err := ledger.New(st, ledger.Options{Now: func() time.Time { return now.Add(2 * time.Second) }})
			require.NoError(t, err)
			t.Cleanup(func() { l.Close() })
			before := lookupAccount(t, l, 2)
			res, err := l.CreateTransfers(ctx, []ledger.Transfer{transfer(30, 5)})
			require.ErrorIs(t, err, ledger.ErrCorrupt)
			assert.Nil(t, res)
			got, err := l.LookupTransfers(ctx, []ledger.ID{ledger.IDFromUint64(30)})
			require.NoError(t, err)
			assert.Empty(t, got)
			assert.Equal(t, before, lookupAccount(t, l, 2))
		})
	}
}
