package ledger_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// enteringCalls are the calls that use the store outside the batcher,
// each returning its result and its error.
func enteringCalls() map[string]func(l *ledger.Ledger) (any, error) {
	ctx := context.Background()
	ids := []ledger.ID{ledger.IDFromUint64(1)}
	f := ledger.AccountFilter{AccountID: ids[0], Limit: 10, Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits}
	return map[string]func(l *ledger.Ledger) (any, error){
		"CreateAccounts": func(l *ledger.Ledger) (any, error) {
			return l.CreateAccounts(ctx, []ledger.Account{{ID: ledger.IDFromUint64(9), Ledger: 978, Code: 1}})
		},
		"LookupAccounts":      func(l *ledger.Ledger) (any, error) { return l.LookupAccounts(ctx, ids) },
		"LookupTransfers":     func(l *ledger.Ledger) (any, error) { return l.LookupTransfers(ctx, ids) },
		"GetAccountTransfers": func(l *ledger.Ledger) (any, error) { return l.GetAccountTransfers(ctx, f) },
		"GetAccountBalances":  func(l *ledger.Ledger) (any, error) { return l.GetAccountBalances(ctx, f) },
		"Verify":              func(l *ledger.Ledger) (any, error) { return nil, l.Verify(ctx) },
	}
}

// TestCallMeetsClose: a call that uses the store outside the batcher,
// which finds the Ledger open and meets Close before it is counted among
// the calls that Close waits for, fails with ErrClosed once Close has
// returned, without using the store: nothing is written, and nothing
// read.
func TestCallMeetsClose(t *testing.T) {
	for name, call := range enteringCalls() {
		t.Run(name, func(t *testing.T) {
			l, s := setup(t, ledger.Options{})
			closes := 0
			var closeErr error
			ledger.SetEntering(l, func() {
				closes++
				closeErr = l.Close() // all of it, before the call is counted
			})
			got, err := call(l)
			require.ErrorIs(t, err, ledger.ErrClosed)
			assert.Nil(t, got)
			assert.Equal(t, 1, closes)
			assert.NoError(t, closeErr)
			assert.Zero(t, s.updates.Load(), "store transactions")
			assert.Zero(t, s.views.Load(), "store reads")
			other, err := ledger.New(s.Store, ledger.Options{})
			require.NoError(t, err)
			defer other.Close()
			stored, err := other.LookupAccounts(context.Background(), []ledger.ID{ledger.IDFromUint64(9)})
			require.NoError(t, err)
			assert.Empty(t, stored)
		})
	}
}

// TestCallDuringClose: while Close waits for a call under way in the
// store, each call that uses the store outside the batcher fails with
// ErrClosed at once, without going on to be counted among the calls that
// Close waits for and without using the store; Close returns once the
// call under way has ended.
func TestCallDuringClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, s := setup(t, ledger.Options{})
		hold, entered := make(chan struct{}), make(chan struct{}, 1)
		release := sync.OnceFunc(func() { close(hold) })
		defer release()
		s.viewHold, s.viewEntered = hold, entered
		done := make(chan error, 1)
		go func() {
			_, err := l.LookupAccounts(context.Background(), []ledger.ID{ledger.IDFromUint64(1)})
			done <- err
		}()
		<-entered // the lookup is in the store
		closed := startClose(l)
		ledger.SetEntering(l, func() { t.Error("a call made during Close went on past its first check") })
		for name, call := range enteringCalls() {
			got, err := call(l)
			require.ErrorIs(t, err, ledger.ErrClosed, name)
			assert.Nil(t, got, name)
		}
		assert.Zero(t, s.updates.Load(), "store transactions")
		assert.Equal(t, int64(1), s.views.Load(), "store reads: the lookup under way")
		requireCloseWaits(t, closed, release, done)
	})
}
