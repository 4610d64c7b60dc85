package ledgertest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

func testBalancing(t *testing.T, c Config) {
	R := func(r ...ledger.CreateTransferResult) []ledger.CreateTransferResult { return r }
	cases := []struct {
		name   string
		event  ledger.Transfer
		want   []ledger.CreateTransferResult
		amount uint64 // stored amount when created
	}{
		{"debit_capped", with(tr(1, acctDebLim, acctB, 1000), func(t *ledger.Transfer) { t.Flags = ledger.TransferBalancingDebit }),
			R(ledger.TransferCreated), 100},
		{"debit_under_cap", with(tr(1, acctDebLim, acctB, 40), func(t *ledger.Transfer) { t.Flags = ledger.TransferBalancingDebit }),
			R(ledger.TransferCreated), 40},
		{"debit_amount_max", with(tr(1, acctDebLim, acctB, ledger.AmountMax), func(t *ledger.Transfer) { t.Flags = ledger.TransferBalancingDebit }),
			R(ledger.TransferCreated), 100},
		{"debit_pending", with(tr(1, acctDebLim, acctB, 1000), func(t *ledger.Transfer) {
			t.Flags = ledger.TransferBalancingDebit | ledger.TransferPending
		}), R(ledger.TransferCreated), 100},
		{"credit_capped", with(tr(1, acctA, acctCredLim, 1000), func(t *ledger.Transfer) { t.Flags = ledger.TransferBalancingCredit }),
			R(ledger.TransferCreated), 70},
		{"both", with(tr(1, acctDebLim, acctCredLim, 1000), func(t *ledger.Transfer) {
			t.Flags = ledger.TransferBalancingDebit | ledger.TransferBalancingCredit
		}), R(ledger.TransferCreated), 70},
		// Nothing left to balance: TigerBeetle creates a transfer of zero.
		{"credit_nothing_left", with(tr(1, acctA, acctB, 5), func(t *ledger.Transfer) { t.Flags = ledger.TransferBalancingCredit }),
			R(ledger.TransferCreated), 0},
		{"debit_nothing_left", with(tr(1, acctC, acctB, 5), func(t *ledger.Transfer) { t.Flags = ledger.TransferBalancingDebit }),
			R(ledger.TransferCreated), 0},
		// Balancing caps the amount, the limit flags still apply.
		{"debit_balancing_credit_limited", with(tr(1, acctDebLim, acctCredLim, 1000), func(t *ledger.Transfer) { t.Flags = ledger.TransferBalancingDebit }),
			R(ledger.TransferExceedsDebits), 0},
		{"zero_amount", with(tr(1, acctC, acctB, 0), func(t *ledger.Transfer) { t.Flags = ledger.TransferBalancingDebit }),
			R(ledger.TransferCreated), 0},
	}
	sh := newShared(t, c)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := sh.next(t)
			e.mustCreateAccounts(standardAccounts()...)
			// acctDebLim: credits 100. acctCredLim: debits 70.
			e.mustTransfer(tr(50, acctA, acctDebLim, 100), tr(51, acctCredLim, acctB, 70))
			require.Equal(t, tc.want, e.transfers(tc.event))
			if tc.want[0] == ledger.TransferCreated {
				assert.Equal(t, tc.amount, e.transfer(1).Amount)
				// A retry with the same maximum is exists, whatever was moved.
				require.Equal(t, R(ledger.TransferExists), e.transfers(tc.event))
				if tc.amount > 0 {
					smaller := tc.event
					smaller.Amount = tc.amount - 1
					require.Equal(t, R(ledger.TransferExistsWithDifferentAmount), e.transfers(smaller))
				}
			}
			e.verify()
		})
	}
}

func testTwoPhase(t *testing.T, c Config) {
	R := func(r ...ledger.CreateTransferResult) []ledger.CreateTransferResult { return r }
	p := pending(tr(100, acctA, acctB, 10))
	cases := []struct {
		name   string
		events []ledger.Transfer
		want   []ledger.CreateTransferResult
		bal    map[uint64]Bal
		amount uint64 // stored amount of transfer 101 when created
	}{
		{"pending_holds", []ledger.Transfer{p}, R(ledger.TransferCreated),
			map[uint64]Bal{acctA: {10, 0, 0, 0}, acctB: {0, 0, 10, 0}}, 0},
		{"post_full_amount_max", []ledger.Transfer{p, post(101, 100, ledger.AmountMax)}, R(ledger.TransferCreated, ledger.TransferCreated),
			map[uint64]Bal{acctA: {0, 10, 0, 0}, acctB: {0, 0, 0, 10}}, 10},
		{"post_full_exact", []ledger.Transfer{p, post(101, 100, 10)}, R(ledger.TransferCreated, ledger.TransferCreated),
			map[uint64]Bal{acctA: {0, 10, 0, 0}, acctB: {0, 0, 0, 10}}, 10},
		{"post_partial", []ledger.Transfer{p, post(101, 100, 4)}, R(ledger.TransferCreated, ledger.TransferCreated),
			map[uint64]Bal{acctA: {0, 4, 0, 0}, acctB: {0, 0, 0, 4}}, 4},
		{"post_zero_posts_nothing", []ledger.Transfer{p, post(101, 100, 0)}, R(ledger.TransferCreated, ledger.TransferCreated),
			map[uint64]Bal{acctA: {}, acctB: {}}, 0},
		{"void", []ledger.Transfer{p, void(101, 100)}, R(ledger.TransferCreated, ledger.TransferCreated),
			map[uint64]Bal{acctA: {}, acctB: {}}, 10},
		{"void_exact_amount", []ledger.Transfer{p, with(void(101, 100), func(t *ledger.Transfer) { t.Amount = 10 })},
			R(ledger.TransferCreated, ledger.TransferCreated), map[uint64]Bal{acctA: {}, acctB: {}}, 10},
		{"double_post", []ledger.Transfer{p, post(101, 100, 3), post(102, 100, 3)},
			R(ledger.TransferCreated, ledger.TransferCreated, ledger.TransferPendingTransferAlreadyPosted),
			map[uint64]Bal{acctA: {0, 3, 0, 0}, acctB: {0, 0, 0, 3}}, 3},
		{"void_after_post", []ledger.Transfer{p, post(101, 100, 3), void(102, 100)},
			R(ledger.TransferCreated, ledger.TransferCreated, ledger.TransferPendingTransferAlreadyPosted),
			map[uint64]Bal{acctA: {0, 3, 0, 0}}, 3},
		{"post_after_void", []ledger.Transfer{p, void(101, 100), post(102, 100, 3)},
			R(ledger.TransferCreated, ledger.TransferCreated, ledger.TransferPendingTransferAlreadyVoided),
			map[uint64]Bal{acctA: {}}, 10},
		{"post_with_matching_fields", []ledger.Transfer{p, with(post(101, 100, 10), func(t *ledger.Transfer) {
			t.DebitAccountID, t.CreditAccountID, t.Ledger, t.Code = id(acctA), id(acctB), eur, 1
		})}, R(ledger.TransferCreated, ledger.TransferCreated), map[uint64]Bal{acctA: {0, 10, 0, 0}}, 10},
	}
	sh := newShared(t, c)
	for _, tc := range cases {
		for _, split := range []bool{false, true} {
			name := tc.name
			if split {
				name += "/separate_batches"
			}
			t.Run(name, func(t *testing.T) {
				e := sh.next(t)
				e.mustCreateAccounts(standardAccounts()...)
				var got []ledger.CreateTransferResult
				if split {
					for _, ev := range tc.events {
						got = append(got, e.transfers(ev)...)
					}
				} else {
					got = e.transfers(tc.events...)
				}
				require.Equal(t, tc.want, got)
				e.requireBalances(tc.bal)
				if len(tc.events) > 1 {
					st := e.transfer(101)
					assert.Equal(t, tc.amount, st.Amount)
					// A post or void stores the pending transfer's accounts,
					// ledger and code.
					assert.Equal(t, id(acctA), st.DebitAccountID)
					assert.Equal(t, id(acctB), st.CreditAccountID)
					assert.Equal(t, eur, st.Ledger)
					assert.Equal(t, uint16(1), st.Code)
					assert.Equal(t, id(100), st.PendingID)
				}
				e.verify()
			})
		}
	}
	t.Run("inherits_user_data", func(t *testing.T) {
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		e.mustTransfer(with(p, func(t *ledger.Transfer) { t.UserData128, t.UserData64, t.UserData32 = id(7), 8, 9 }),
			post(101, 100, 5))
		st := e.transfer(101)
		assert.Equal(t, id(7), st.UserData128)
		assert.Equal(t, uint64(8), st.UserData64)
		assert.Equal(t, uint32(9), st.UserData32)
	})
}

func testExpiry(t *testing.T, c Config) {
	R := func(r ...ledger.CreateTransferResult) []ledger.CreateTransferResult { return r }
	t.Run("sweep_releases_once", func(t *testing.T) {
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		e.mustTransfer(with(pending(tr(100, acctA, acctB, 10)), func(t *ledger.Transfer) { t.Timeout = 60 }),
			pending(tr(101, acctA, acctB, 5)))
		e.clock.Advance(59 * time.Second)
		e.mustTransfer(tr(1, acctC, acctB, 1))
		e.requireBalances(map[uint64]Bal{acctA: {15, 0, 0, 0}, acctB: {0, 0, 15, 1}})
		e.clock.Advance(2 * time.Second)
		// Any batch sweeps expired holds first.
		e.mustTransfer(tr(2, acctC, acctB, 1))
		e.requireBalances(map[uint64]Bal{acctA: {5, 0, 0, 0}, acctB: {0, 0, 5, 2}})
		e.mustTransfer(tr(3, acctC, acctB, 1))
		e.requireBalances(map[uint64]Bal{acctA: {5, 0, 0, 0}, acctB: {0, 0, 5, 3}})
		require.Equal(t, R(ledger.TransferPendingTransferExpired, ledger.TransferCreated),
			e.transfers(post(102, 100, ledger.AmountMax), post(103, 101, ledger.AmountMax)))
		e.requireBalances(map[uint64]Bal{acctA: {0, 5, 0, 0}, acctB: {0, 0, 0, 8}})
		e.verify()
	})
	t.Run("post_before_timeout", func(t *testing.T) {
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		e.mustTransfer(with(pending(tr(100, acctA, acctB, 10)), func(t *ledger.Transfer) { t.Timeout = 60 }))
		e.clock.Advance(59 * time.Second)
		require.Equal(t, R(ledger.TransferCreated), e.transfers(post(101, 100, ledger.AmountMax)))
		e.clock.Advance(time.Hour)
		e.mustTransfer(tr(1, acctC, acctB, 1))
		e.requireBalances(map[uint64]Bal{acctA: {0, 10, 0, 0}, acctB: {0, 0, 0, 11}})
		e.verify()
	})
	t.Run("post_and_void_after_timeout", func(t *testing.T) {
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		e.mustTransfer(with(pending(tr(100, acctA, acctB, 10)), func(t *ledger.Transfer) { t.Timeout = 1 }))
		e.clock.Advance(2 * time.Second)
		require.Equal(t, R(ledger.TransferPendingTransferExpired, ledger.TransferPendingTransferExpired),
			e.transfers(void(101, 100), post(102, 100, 1)))
		e.requireBalances(map[uint64]Bal{acctA: {}, acctB: {}})
		e.verify()
	})
	t.Run("clock_going_back_does_not_unexpire", func(t *testing.T) {
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		e.mustTransfer(with(pending(tr(100, acctA, acctB, 10)), func(t *ledger.Transfer) { t.Timeout = 1 }))
		e.clock.Advance(2 * time.Second)
		e.mustTransfer(tr(1, acctC, acctB, 1))
		e.clock.Advance(-time.Hour)
		require.Equal(t, R(ledger.TransferPendingTransferExpired), e.transfers(post(101, 100, 1)))
		e.requireBalances(map[uint64]Bal{acctA: {}, acctB: {0, 0, 0, 1}})
		e.verify()
	})
	t.Run("expires_within_a_batch", func(t *testing.T) {
		// The hold expires between the start of the batch (the sweep) and
		// the post: the post fails and releases the hold exactly once.
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		e.mustTransfer(with(pending(tr(100, acctA, acctB, 10)), func(t *ledger.Transfer) { t.Timeout = 1 }))
		expires := e.transfer(100).Timestamp + 1e9
		e.clock.Set(time.Unix(0, int64(expires-5)))
		var batch []ledger.Transfer
		var want []ledger.CreateTransferResult
		for i := range uint64(9) {
			batch = append(batch, tr(1+i, acctC, acctB, 1))
			want = append(want, ledger.TransferCreated)
		}
		batch = append(batch, post(200, 100, ledger.AmountMax))
		want = append(want, ledger.TransferPendingTransferExpired)
		require.Equal(t, want, e.transfers(batch...))
		e.requireBalances(map[uint64]Bal{acctA: {}, acctB: {0, 0, 0, 9}})
		e.mustTransfer(tr(20, acctC, acctB, 1))
		e.requireBalances(map[uint64]Bal{acctA: {}, acctB: {0, 0, 0, 10}})
		e.verify()
	})
	t.Run("expiry_survives_a_failed_chain", func(t *testing.T) {
		// The post that finds the hold expired breaks its chain; the chain
		// is rolled back but the release of the hold stays.
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		e.mustTransfer(with(pending(tr(100, acctA, acctB, 10)), func(t *ledger.Transfer) { t.Timeout = 1 }))
		expires := e.transfer(100).Timestamp + 1e9
		e.clock.Set(time.Unix(0, int64(expires-5)))
		var batch []ledger.Transfer
		var want []ledger.CreateTransferResult
		for i := range uint64(8) {
			batch = append(batch, tr(1+i, acctC, acctB, 1))
			want = append(want, ledger.TransferCreated)
		}
		batch = append(batch, with(tr(50, acctC, acctB, 1), func(t *ledger.Transfer) { t.Flags = ledger.TransferLinked }),
			post(200, 100, ledger.AmountMax))
		want = append(want, ledger.TransferLinkedEventFailed, ledger.TransferPendingTransferExpired)
		require.Equal(t, want, e.transfers(batch...))
		e.requireBalances(map[uint64]Bal{acctA: {}, acctB: {0, 0, 0, 8}, acctC: {0, 8, 0, 0}})
		require.Equal(t, R(ledger.TransferPendingTransferExpired), e.transfers(void(201, 100)))
		e.requireBalances(map[uint64]Bal{acctA: {}, acctB: {0, 0, 0, 8}})
		e.verify()
	})
	t.Run("many_expire", func(t *testing.T) {
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		var holds []ledger.Transfer
		for i := range uint64(50) {
			holds = append(holds, with(pending(tr(1000+i, acctA, acctHist, 1)), func(t *ledger.Transfer) { t.Timeout = uint32(1 + i%3) }))
		}
		e.mustTransfer(holds...)
		e.requireBalances(map[uint64]Bal{acctA: {50, 0, 0, 0}})
		e.clock.Advance(10 * time.Second)
		e.mustTransfer(tr(1, acctC, acctB, 1))
		e.requireBalances(map[uint64]Bal{acctA: {}, acctHist: {}})
		bs, err := e.l.GetAccountBalances(e.ctx(), ledger.AccountFilter{AccountID: id(acctHist), Limit: 200,
			Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits})
		require.NoError(t, err)
		require.Len(t, bs, 100, "50 holds and 50 expiries")
		assert.Equal(t, uint64(0), bs[99].CreditsPending)
		assert.Equal(t, uint64(50), bs[49].CreditsPending)
		e.verify()
	})
}

func testClosing(t *testing.T, c Config) {
	R := func(r ...ledger.CreateTransferResult) []ledger.CreateTransferResult { return r }
	e := newEnv(t, c)
	e.mustCreateAccounts(standardAccounts()...)
	e.mustTransfer(tr(1, acctA, acctB, 10))
	closing := with(pending(tr(100, acctB, acctA, 0)), func(t *ledger.Transfer) { t.Flags |= ledger.TransferClosingDebit })
	e.mustTransfer(closing)
	assert.NotZero(t, e.account(acctB).Flags&ledger.AccountClosed)
	assert.Zero(t, e.account(acctA).Flags&ledger.AccountClosed)
	require.Equal(t, R(ledger.TransferDebitAccountAlreadyClosed, ledger.TransferCreditAccountAlreadyClosed),
		e.transfers(tr(2, acctB, acctC, 1), tr(3, acctC, acctB, 1)))
	// A closing transfer cannot be posted, only voided (or expire).
	require.Equal(t, R(ledger.TransferDebitAccountAlreadyClosed), e.transfers(post(102, 100, ledger.AmountMax)))
	// Voiding the closing transfer reopens the account.
	e.mustTransfer(void(101, 100))
	assert.Zero(t, e.account(acctB).Flags&ledger.AccountClosed)
	e.mustTransfer(tr(4, acctB, acctC, 1))
	e.verify()
}

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
	t.Run("accounts_retry", func(t *testing.T) {
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		res := e.createAccounts(standardAccounts()...)
		for _, r := range res {
			require.Equal(t, ledger.AccountExists, r)
		}
	})
}

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
	var seen []uint64
	f := ledger.AccountFilter{AccountID: id(acctA), Limit: 6, Flags: both}
	for {
		page, err := e.l.GetAccountTransfers(e.ctx(), f)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		seen = append(seen, ids(page)...)
		f.TimestampMin = page[len(page)-1].Timestamp + 1
	}
	require.Len(t, seen, 20)
	for i, v := range seen {
		require.Equal(t, uint64(i+1), v)
	}
	seen = seen[:0]
	f = ledger.AccountFilter{AccountID: id(acctA), Limit: 7, Flags: both | ledger.AccountFilterReversed}
	for {
		page, err := e.l.GetAccountTransfers(e.ctx(), f)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		seen = append(seen, ids(page)...)
		f.TimestampMax = page[len(page)-1].Timestamp - 1
	}
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
