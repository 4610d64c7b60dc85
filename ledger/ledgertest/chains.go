package ledgertest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// testLinked: linked transfers are created all or nothing. A chain that
// fails takes back every event of it (linked_event_failed, the failing one
// with its own result) and what they did (balances, a pending state, a
// closed account, an ID used), and leaves the events before and after it; a
// chain still open at the end of a call fails with linked_event_chain_open,
// for a chain does not span calls, and its IDs stay free. Each case ends
// with exact balances, and Verify passes.
func testLinked(t *testing.T, c Config) {
	R := func(r ...ledger.CreateTransferResult) []ledger.CreateTransferResult { return r }
	L := func(t ledger.Transfer) ledger.Transfer { t.Flags |= ledger.TransferLinked; return t }
	cases := []struct {
		name   string
		events []ledger.Transfer
		want   []ledger.CreateTransferResult
		bal    map[uint64]Bal
	}{
		{"all_created", []ledger.Transfer{L(tr(1, acctA, acctB, 1)), L(tr(2, acctB, acctC, 1)), tr(3, acctC, acctA, 5)},
			R(ledger.TransferCreated, ledger.TransferCreated, ledger.TransferCreated),
			map[uint64]Bal{acctA: {0, 1, 0, 5}, acctB: {0, 1, 0, 1}, acctC: {0, 5, 0, 1}}},
		{"failure_in_the_middle", []ledger.Transfer{tr(9, acctA, acctB, 7), L(tr(1, acctA, acctB, 1)), L(tr(2, acctDebLim, acctC, 1)), tr(3, acctC, acctA, 5), tr(4, acctA, acctC, 2)},
			R(ledger.TransferCreated, ledger.TransferLinkedEventFailed, ledger.TransferExceedsCredits, ledger.TransferLinkedEventFailed, ledger.TransferCreated),
			map[uint64]Bal{acctA: {0, 9, 0, 0}, acctB: {0, 0, 0, 7}, acctC: {0, 0, 0, 2}}},
		{"failure_at_the_end", []ledger.Transfer{L(tr(1, acctA, acctB, 1)), tr(2, acctA, acctA, 1)},
			R(ledger.TransferLinkedEventFailed, ledger.TransferAccountsMustBeDifferent), map[uint64]Bal{acctA: {}}},
		{"chain_open", []ledger.Transfer{tr(9, acctA, acctB, 7), L(tr(1, acctA, acctB, 1)), L(tr(2, acctA, acctB, 1))},
			R(ledger.TransferCreated, ledger.TransferLinkedEventFailed, ledger.TransferLinkedEventChainOpen),
			map[uint64]Bal{acctA: {0, 7, 0, 0}}},
		// Once a chain is broken, its later events fail without being
		// applied, linked or not.
		{"failure_at_the_start", []ledger.Transfer{L(tr(1, acctA, acctA, 1)), L(tr(2, acctA, acctB, 1)), tr(3, acctA, acctB, 1), tr(4, acctA, acctB, 2)},
			R(ledger.TransferAccountsMustBeDifferent, ledger.TransferLinkedEventFailed, ledger.TransferLinkedEventFailed, ledger.TransferCreated),
			map[uint64]Bal{acctA: {0, 2, 0, 0}, acctB: {0, 0, 0, 2}}},
		{"broken_chain_left_open", []ledger.Transfer{L(tr(1, acctA, acctA, 1)), L(tr(2, acctA, acctB, 1))},
			R(ledger.TransferAccountsMustBeDifferent, ledger.TransferLinkedEventChainOpen), map[uint64]Bal{acctA: {}}},
		{"two_chains", []ledger.Transfer{L(tr(1, acctA, acctB, 1)), tr(2, acctA, 99, 1), L(tr(3, acctA, acctB, 2)), tr(4, acctB, acctA, 1)},
			R(ledger.TransferLinkedEventFailed, ledger.TransferCreditAccountNotFound, ledger.TransferCreated, ledger.TransferCreated),
			map[uint64]Bal{acctA: {0, 2, 0, 1}, acctB: {0, 1, 0, 2}}},
		{"rollback_restores_pending", []ledger.Transfer{pending(tr(100, acctA, acctB, 10)), L(post(1, 100, 4)), tr(2, acctDebLim, acctB, 1), post(3, 100, 10)},
			R(ledger.TransferCreated, ledger.TransferLinkedEventFailed, ledger.TransferExceedsCredits, ledger.TransferCreated),
			map[uint64]Bal{acctA: {0, 10, 0, 0}, acctB: {0, 0, 0, 10}}},
		{"rollback_frees_the_id", []ledger.Transfer{L(tr(1, acctA, acctB, 1)), tr(2, acctA, acctA, 1), tr(1, acctA, acctB, 1)},
			R(ledger.TransferLinkedEventFailed, ledger.TransferAccountsMustBeDifferent, ledger.TransferCreated),
			map[uint64]Bal{acctA: {0, 1, 0, 0}}},
		{"duplicate_inside_chain", []ledger.Transfer{L(tr(1, acctA, acctB, 1)), tr(1, acctA, acctB, 1)},
			R(ledger.TransferLinkedEventFailed, ledger.TransferExistsWithDifferentFlags), map[uint64]Bal{acctA: {}}},
		{"closing_rolled_back", []ledger.Transfer{L(with(pending(tr(100, acctB, acctA, 0)), func(t *ledger.Transfer) { t.Flags |= ledger.TransferClosingDebit })), tr(2, acctA, acctA, 1), tr(3, acctB, acctA, 1)},
			R(ledger.TransferLinkedEventFailed, ledger.TransferAccountsMustBeDifferent, ledger.TransferCreated),
			map[uint64]Bal{acctB: {0, 1, 0, 0}}},
		// A chain may post the pending transfer it creates; when a later
		// event of it fails, both go, and the events after the chain find
		// no such pending transfer, whose ID is free again.
		{"posts_its_own_pending", []ledger.Transfer{L(pending(tr(100, acctA, acctB, 10))), L(post(101, 100, 4)), tr(102, acctA, acctB, 1)},
			R(ledger.TransferCreated, ledger.TransferCreated, ledger.TransferCreated),
			map[uint64]Bal{acctA: {0, 5, 0, 0}, acctB: {0, 0, 0, 5}}},
		{"failed_chain_takes_its_pending_along", []ledger.Transfer{L(pending(tr(100, acctA, acctB, 10))), L(post(101, 100, 4)),
			tr(102, acctDebLim, acctB, 1), post(103, 100, 4), pending(tr(100, acctA, acctB, 7)), void(101, 100)},
			R(ledger.TransferLinkedEventFailed, ledger.TransferLinkedEventFailed, ledger.TransferExceedsCredits,
				ledger.TransferPendingTransferNotFound, ledger.TransferCreated, ledger.TransferCreated),
			map[uint64]Bal{acctA: {}, acctB: {}}},
	}
	sh := newShared(t, c)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := sh.next(t)
			e.mustCreateAccounts(standardAccounts()...)
			require.Equal(t, tc.want, e.transfers(tc.events...))
			e.requireBalances(tc.bal)
			e.verify()
		})
	}
	t.Run("chain_does_not_span_requests", func(t *testing.T) {
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		require.Equal(t, R(ledger.TransferLinkedEventChainOpen), e.transfers(L(tr(1, acctA, acctB, 1))))
		require.Equal(t, R(ledger.TransferCreated), e.transfers(tr(2, acctA, acctB, 1)))
		// The chain-open ID is not burnt.
		require.Equal(t, R(ledger.TransferCreated), e.transfers(tr(1, acctA, acctB, 1)))
		e.verify()
	})
}

// testIdempotency: a retried transfer gets exists, or the
// exists_with_different_* result of the field that differs (a post's retry may
// leave its accounts, ledger and code zero or name its pending transfer's);
// an ID that failed with a transient result gets id_already_failed once its
// transfer has become possible, and one that failed validation may be
// created after; a retried chain is not created twice, also after a restart
// (Config.Reopen); and retried accounts get exists.
func testIdempotency(t *testing.T, c Config) {
	R := func(r ...ledger.CreateTransferResult) []ledger.CreateTransferResult { return r }
	t.Run("retry_gets_exists", func(t *testing.T) {
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		batch := []ledger.Transfer{tr(1, acctA, acctB, 10), pending(tr(2, acctA, acctB, 5)), post(3, 2, ledger.AmountMax)}
		e.mustTransfer(batch...)
		for range 2 {
			require.Equal(t, R(ledger.TransferExists, ledger.TransferExists, ledger.TransferExists), e.transfers(batch...))
		}
		require.Equal(t, R(ledger.TransferExists), e.transfers(post(3, 2, 5)))
		require.Equal(t, R(ledger.TransferExistsWithDifferentAmount), e.transfers(post(3, 2, 4)))
		require.Equal(t, R(ledger.TransferExists), e.transfers(with(post(3, 2, 5), func(t *ledger.Transfer) {
			t.DebitAccountID, t.CreditAccountID, t.Ledger, t.Code = id(acctA), id(acctB), eur, 1
		})))
		require.Equal(t, R(ledger.TransferExistsWithDifferentUserData64), e.transfers(with(post(3, 2, 5), func(t *ledger.Transfer) { t.UserData64 = 9 })))
		require.Equal(t, R(ledger.TransferExistsWithDifferentLedger), e.transfers(with(post(3, 2, 5), func(t *ledger.Transfer) { t.Ledger = usd })))
		e.requireBalances(map[uint64]Bal{acctA: {0, 15, 0, 0}})
		e.verify()
	})
	t.Run("transient_failure_is_final", func(t *testing.T) {
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		cases := []struct {
			ev   ledger.Transfer
			want ledger.CreateTransferResult
		}{
			{tr(1, acctDebLim, acctB, 10), ledger.TransferExceedsCredits},
			{tr(2, acctA, acctCredLim, 10), ledger.TransferExceedsDebits},
			{tr(3, 99, acctB, 10), ledger.TransferDebitAccountNotFound},
			{tr(4, acctA, 98, 10), ledger.TransferCreditAccountNotFound},
			{post(5, 97, 1), ledger.TransferPendingTransferNotFound},
			{tr(6, acctClosed, acctB, 1), ledger.TransferDebitAccountAlreadyClosed},
			{tr(7, acctB, acctClosed, 1), ledger.TransferCreditAccountAlreadyClosed},
		}
		for _, tc := range cases {
			require.Equal(t, R(tc.want), e.transfers(tc.ev), tc.want.String())
			require.True(t, tc.want.Transient())
		}
		// Make every one of them possible now.
		e.mustCreateAccounts(ledger.Account{ID: id(99), Ledger: eur, Code: 1}, ledger.Account{ID: id(98), Ledger: eur, Code: 1})
		e.mustTransfer(tr(50, acctA, acctDebLim, 100), tr(51, acctCredLim, acctB, 100), pending(tr(97, acctA, acctB, 1)))
		for _, tc := range cases {
			require.Equal(t, R(ledger.TransferIDAlreadyFailed), e.transfers(tc.ev), tc.want.String())
		}
		e.verify()
	})
	t.Run("validation_failure_is_not_final", func(t *testing.T) {
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		bad := with(tr(1, acctA, acctB, 10), func(t *ledger.Transfer) { t.Code = 0 })
		require.Equal(t, R(ledger.TransferCodeMustNotBeZero), e.transfers(bad))
		require.False(t, ledger.TransferCodeMustNotBeZero.Transient())
		require.Equal(t, R(ledger.TransferCreated), e.transfers(tr(1, acctA, acctB, 10)))
		require.Equal(t, R(ledger.TransferExists), e.transfers(tr(1, acctA, acctB, 10)))
		e.verify()
	})
	// A retried chain is not created twice: its first event, created
	// before, gets exists and breaks the chain, and an event whose first
	// try failed transiently inside a chain gets id_already_failed, also
	// after a restart; the events only rolled back (linked_event_failed)
	// keep their IDs free.
	t.Run("chain_retry", func(t *testing.T) {
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		L := func(t ledger.Transfer) ledger.Transfer { t.Flags |= ledger.TransferLinked; return t }
		created := []ledger.Transfer{L(tr(1, acctA, acctB, 1)), tr(2, acctA, acctC, 2)}
		e.mustTransfer(created...)
		failed := []ledger.Transfer{L(tr(3, acctA, acctB, 4)), tr(4, acctDebLim, acctB, 8)}
		require.Equal(t, R(ledger.TransferLinkedEventFailed, ledger.TransferExceedsCredits), e.transfers(failed...))
		e.mustTransfer(tr(5, acctA, acctDebLim, 100)) // tr 4 would pass now
		for restarted := false; ; restarted = true {
			require.Equal(t, R(ledger.TransferExists, ledger.TransferLinkedEventFailed), e.transfers(created...))
			require.Equal(t, R(ledger.TransferLinkedEventFailed, ledger.TransferIDAlreadyFailed), e.transfers(failed...))
			e.requireBalances(map[uint64]Bal{acctA: {0, 103, 0, 0}, acctB: {0, 0, 0, 1}, acctC: {0, 0, 0, 2}, acctDebLim: {0, 0, 0, 100}})
			if restarted || c.Reopen == nil {
				break
			}
			e.reopen()
		}
		require.Equal(t, R(ledger.TransferCreated), e.transfers(tr(3, acctA, acctB, 4)))
		e.requireBalances(map[uint64]Bal{acctA: {0, 107, 0, 0}, acctB: {0, 0, 0, 5}})
		e.verify()
	})
	t.Run("accounts_retry", func(t *testing.T) {
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		res := e.createAccounts(standardAccounts()...)
		for _, r := range res {
			require.Equal(t, ledger.AccountExists, r)
		}
	})
}
