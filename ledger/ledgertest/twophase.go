package ledgertest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// testBalancing: a balancing transfer (debit, credit or both, pending
// too, AmountMax included) moves at most what keeps its side within the
// other (zero when nothing is left), the limit flags of the other account
// still apply, and a retry with the same amount gets exists, and with the
// amount moved less one exists_with_different_amount.
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
		{"credit_amount_max", with(tr(1, acctA, acctCredLim, ledger.AmountMax), func(t *ledger.Transfer) { t.Flags = ledger.TransferBalancingCredit }),
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

// testTwoPhase: a pending transfer holds its amount; a post (full,
// partial or zero) or a void, in the same batch or the next, resolves it
// once, with the exact balances and the amount stored, and stores the
// pending transfer's accounts, ledger, code and user data; a second post
// or void gets pending_transfer_already_posted or _voided.
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

// testExpiry: a hold expires once the ledger time reaches its expiry: any
// batch first releases it, exactly once, and a post or void of it gets
// pending_transfer_expired, also after the clock goes back; a post before
// then is created. The release survives a chain that fails and its
// balance history rows leave out the rolled-back transfers; holds due at
// once are released by expiry and then creation order, at most
// ExpiryLimit (at most BatchMax) per batch.
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
		e := newHoldEnv(t, c, 60)
		e.clock.Advance(59 * time.Second)
		require.Equal(t, R(ledger.TransferCreated), e.transfers(post(101, 100, ledger.AmountMax)))
		e.clock.Advance(time.Hour)
		e.mustTransfer(tr(1, acctC, acctB, 1))
		e.requireBalances(map[uint64]Bal{acctA: {0, 10, 0, 0}, acctB: {0, 0, 0, 11}})
		e.verify()
	})
	t.Run("post_and_void_after_timeout", func(t *testing.T) {
		e := newHoldEnv(t, c, 1)
		e.clock.Advance(2 * time.Second)
		require.Equal(t, R(ledger.TransferPendingTransferExpired, ledger.TransferPendingTransferExpired),
			e.transfers(void(101, 100), post(102, 100, 1)))
		e.requireBalances(map[uint64]Bal{acctA: {}, acctB: {}})
		e.verify()
	})
	t.Run("clock_going_back_does_not_unexpire", func(t *testing.T) {
		e := newHoldEnv(t, c, 1)
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
		e := newHoldEnv(t, c, 1)
		expires := e.transfer(100).Timestamp + 1e9
		e.clock.Set(time.Unix(0, int64(expires-5)))
		batch, want := fillers(9)
		batch = append(batch, post(200, 100, ledger.AmountMax))
		want = append(want, ledger.TransferPendingTransferExpired)
		require.Equal(t, want, e.transfers(batch...))
		e.requireBalances(map[uint64]Bal{acctA: {}, acctB: {0, 0, 0, 9}})
		e.mustTransfer(tr(20, acctC, acctB, 1))
		e.requireBalances(map[uint64]Bal{acctA: {}, acctB: {0, 0, 0, 10}})
		e.verify()
	})
	t.Run("expires_at_its_expiry_time", func(t *testing.T) {
		// A hold expires once the ledger time reaches its expiry: a post
		// stamped one nanosecond before it is created, one stamped at it
		// finds the hold expired, and a batch that starts at it releases
		// the hold first.
		e := newHoldEnv(t, c, 1)
		expires := e.transfer(100).Timestamp + 1e9
		e.clock.Set(time.Unix(0, int64(expires-10)))
		batch, want := fillers(9)
		require.Equal(t, append(want, ledger.TransferCreated), e.transfers(append(batch, post(200, 100, 4))...))
		e.requireBalances(map[uint64]Bal{acctA: {0, 4, 0, 0}, acctB: {0, 0, 0, 13}})

		e.mustTransfer(with(pending(tr(101, acctA, acctB, 10)), func(t *ledger.Transfer) { t.Timeout = 1 }))
		expires = e.transfer(101).Timestamp + 1e9
		e.clock.Set(time.Unix(0, int64(expires-9)))
		batch, want = fillers(9)
		for i := range batch {
			batch[i].ID = id(10 + uint64(i))
		}
		require.Equal(t, append(want, ledger.TransferPendingTransferExpired), e.transfers(append(batch, post(201, 101, 4))...))
		e.requireBalances(map[uint64]Bal{acctA: {0, 4, 0, 0}, acctB: {0, 0, 0, 22}})

		e.mustTransfer(with(pending(tr(102, acctA, acctB, 10)), func(t *ledger.Transfer) { t.Timeout = 1 }))
		expires = e.transfer(102).Timestamp + 1e9
		e.clock.Set(time.Unix(0, int64(expires)))
		e.mustTransfer(tr(20, acctC, acctB, 1))
		e.requireBalances(map[uint64]Bal{acctA: {0, 4, 0, 0}, acctB: {0, 0, 0, 23}})
		require.Equal(t, R(ledger.TransferPendingTransferExpired), e.transfers(void(202, 102)))
		e.verify()
	})
	t.Run("expiry_survives_a_failed_chain", func(t *testing.T) {
		// The post that finds the hold expired breaks its chain; the chain
		// is rolled back but the release of the hold stays.
		e := newHoldEnv(t, c, 1)
		expires := e.transfer(100).Timestamp + 1e9
		e.clock.Set(time.Unix(0, int64(expires-5)))
		batch, want := fillers(8)
		batch = append(batch, with(tr(50, acctC, acctB, 1), func(t *ledger.Transfer) { t.Flags = ledger.TransferLinked }),
			post(200, 100, ledger.AmountMax))
		want = append(want, ledger.TransferLinkedEventFailed, ledger.TransferPendingTransferExpired)
		require.Equal(t, want, e.transfers(batch...))
		e.requireBalances(map[uint64]Bal{acctA: {}, acctB: {0, 0, 0, 8}, acctC: {0, 8, 0, 0}})
		require.Equal(t, R(ledger.TransferPendingTransferExpired), e.transfers(void(201, 100)))
		e.requireBalances(map[uint64]Bal{acctA: {}, acctB: {0, 0, 0, 8}})
		e.verify()
	})
	t.Run("expiry_history_after_a_failed_chain", func(t *testing.T) {
		// The chain moves 1 to the history account and then meets the
		// expired hold: the history row of the release must show the
		// balances without the rolled-back transfer.
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		e.mustTransfer(with(pending(tr(100, acctA, acctHist, 10)), func(t *ledger.Transfer) { t.Timeout = 1 }))
		expires := e.transfer(100).Timestamp + 1e9
		e.clock.Set(time.Unix(0, int64(expires-5)))
		batch, want := fillers(8)
		batch = append(batch, with(tr(50, acctC, acctHist, 1), func(t *ledger.Transfer) { t.Flags = ledger.TransferLinked }),
			post(200, 100, ledger.AmountMax))
		want = append(want, ledger.TransferLinkedEventFailed, ledger.TransferPendingTransferExpired)
		require.Equal(t, want, e.transfers(batch...))
		e.requireBalances(map[uint64]Bal{acctA: {}, acctHist: {}})
		bs, err := e.l.GetAccountBalances(e.ctx(), ledger.AccountFilter{AccountID: id(acctHist), Limit: 10,
			Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits})
		require.NoError(t, err)
		require.Len(t, bs, 2, "the hold and its release")
		assert.Equal(t, ledger.AccountBalance{AccountID: e.in(id(acctHist)), CreditsPending: 10, Timestamp: e.transfer(100).Timestamp}, bs[0])
		// Released at the timestamp of the post, the tenth event.
		assert.Equal(t, ledger.AccountBalance{AccountID: e.in(id(acctHist)), Timestamp: expires + 4}, bs[1])
		e.verify()
	})
	t.Run("expiry_history_of_both_sides_after_a_failed_chain", func(t *testing.T) {
		// The batch releases hold 101 first, creates transfer 52, and then
		// runs a chain that moves pending credits and posted debits of the
		// history account before it meets hold 100 expired: the rows of
		// both releases show the balances without the rolled-back
		// transfers, that of the first release without transfer 52 too.
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		e.mustTransfer(with(pending(tr(101, acctA, acctHist, 2)), func(t *ledger.Transfer) { t.Timeout = 1 }))
		e.clock.Advance(time.Millisecond)
		e.mustTransfer(with(pending(tr(100, acctA, acctHist, 10)), func(t *ledger.Transfer) { t.Timeout = 1 }))
		expires := e.transfer(100).Timestamp + 1e9
		e.clock.Set(time.Unix(0, int64(expires-3)))
		L := func(t ledger.Transfer) ledger.Transfer { t.Flags |= ledger.TransferLinked; return t }
		require.Equal(t, R(ledger.TransferCreated, ledger.TransferLinkedEventFailed, ledger.TransferLinkedEventFailed,
			ledger.TransferPendingTransferExpired), e.transfers(tr(52, acctC, acctHist, 4),
			L(pending(tr(50, acctC, acctHist, 1))), L(tr(51, acctHist, acctC, 1)), post(200, 100, ledger.AmountMax)))
		e.requireBalances(map[uint64]Bal{acctA: {}, acctHist: {0, 0, 0, 4}, acctC: {0, 4, 0, 0}})
		bs, err := e.l.GetAccountBalances(e.ctx(), ledger.AccountFilter{AccountID: id(acctHist), Limit: 10,
			Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits})
		require.NoError(t, err)
		hist := e.in(id(acctHist))
		assert.Equal(t, []ledger.AccountBalance{
			{AccountID: hist, CreditsPending: 2, Timestamp: e.transfer(101).Timestamp},
			{AccountID: hist, CreditsPending: 12, Timestamp: e.transfer(100).Timestamp},
			{AccountID: hist, CreditsPending: 10, Timestamp: expires - 3},                   // release of 101
			{AccountID: hist, CreditsPending: 10, CreditsPosted: 4, Timestamp: expires - 2}, // transfer 52
			{AccountID: hist, CreditsPosted: 4, Timestamp: expires + 1},                     // release of 100
		}, bs)
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
	t.Run("expiry_limit_at_most_batch_max", func(t *testing.T) {
		// An ExpiryLimit above BatchMax releases BatchMax holds in one
		// batch, as MaxBatch above BatchMax merges BatchMax events: a
		// backlog of expired holds never makes a batch's transaction
		// longer than that.
		e := newEnv(t, c)
		e.mustCreateAccounts(standardAccounts()...)
		var holds []ledger.Transfer
		for i := range uint64(ledger.BatchMax + 1) {
			holds = append(holds, with(pending(tr(1000+i, acctA, acctB, 1)), func(t *ledger.Transfer) { t.Timeout = 1 }))
		}
		e.mustTransfer(holds[:ledger.BatchMax]...)
		e.mustTransfer(holds[ledger.BatchMax:]...)
		e.requireBalances(map[uint64]Bal{acctA: {ledger.BatchMax + 1, 0, 0, 0}})
		require.NoError(t, e.l.Close())
		l, err := ledger.New(e.store, ledger.Options{Now: e.clock.Now, BatchTimeout: batchTimeout, ExpiryLimit: ledger.BatchMax + 1})
		require.NoError(t, err)
		e.l = l
		e.clock.Advance(10 * time.Second)
		e.mustTransfer(tr(1, acctC, acctB, 1))
		// The hold created last is left for the next batch.
		e.requireBalances(map[uint64]Bal{acctA: {1, 0, 0, 0}, acctB: {0, 0, 1, 1}})
		e.mustTransfer(tr(2, acctC, acctB, 1))
		e.requireBalances(map[uint64]Bal{acctA: {}, acctB: {0, 0, 0, 2}})
		e.verify()
	})
	t.Run("same_expiry_released_in_creation_order", func(t *testing.T) {
		// Holds that expire at the same time are released in the order
		// they were created, as TigerBeetle does, not in ID order.
		e, first := newSameExpiryEnv(t, c)
		now := first + 7e9
		e.clock.Set(time.Unix(0, int64(now)))
		e.mustTransfer(tr(1, acctC, acctB, 1))
		e.requireBalances(map[uint64]Bal{acctHist: {}, acctB: {0, 0, 0, 1}})
		bs, err := e.l.GetAccountBalances(e.ctx(), ledger.AccountFilter{AccountID: id(acctHist), Limit: 10,
			Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits})
		require.NoError(t, err)
		hist := e.in(id(acctHist))
		assert.Equal(t, []ledger.AccountBalance{
			{AccountID: hist, DebitsPending: 5, Timestamp: first},        // hold 200
			{AccountID: hist, DebitsPending: 12, Timestamp: first + 1e9}, // hold 100
			{AccountID: hist, DebitsPending: 7, Timestamp: now},          // release of 200
			{AccountID: hist, DebitsPending: 0, Timestamp: now + 1},      // release of 100
		}, bs)
		e.verify()
	})
	t.Run("same_expiry_limit_releases_the_first_created", func(t *testing.T) {
		// With fewer releases per batch than holds due, the batch releases
		// the hold created first, whatever the IDs.
		e, first := newSameExpiryEnv(t, c)
		require.NoError(t, e.l.Close())
		l, err := ledger.New(e.store, ledger.Options{Now: e.clock.Now, BatchTimeout: batchTimeout, ExpiryLimit: 1})
		require.NoError(t, err)
		e.l = l
		e.clock.Set(time.Unix(0, int64(first+7e9)))
		e.mustTransfer(tr(1, acctC, acctB, 1))
		e.requireBalances(map[uint64]Bal{acctHist: {7, 0, 0, 0}, acctB: {0, 0, 7, 1}})
		// The next batch releases the other.
		e.mustTransfer(tr(2, acctC, acctB, 1))
		e.requireBalances(map[uint64]Bal{acctHist: {}, acctB: {0, 0, 0, 2}})
		e.verify()
	})
}

// newSameExpiryEnv returns an env with the standard accounts and two holds
// from acctHist to acctB that expire at the same time: 200 of 5, created
// at first with a timeout of 2 s, then 100 of 7, created one second later
// with a timeout of 1 s.
func newSameExpiryEnv(t *testing.T, c Config) (*env, uint64) {
	t.Helper()
	e := newEnv(t, c)
	e.mustCreateAccounts(standardAccounts()...)
	e.mustTransfer(with(pending(tr(200, acctHist, acctB, 5)), func(t *ledger.Transfer) { t.Timeout = 2 }))
	first := e.transfer(200).Timestamp
	e.clock.Set(time.Unix(0, int64(first+1e9)))
	e.mustTransfer(with(pending(tr(100, acctHist, acctB, 7)), func(t *ledger.Transfer) { t.Timeout = 1 }))
	h200, h100 := e.transfer(200), e.transfer(100)
	require.Equal(t, first+1e9, h100.Timestamp)
	require.Equal(t, h200.ExpiresAt(), h100.ExpiresAt())
	e.requireBalances(map[uint64]Bal{acctHist: {12, 0, 0, 0}, acctB: {0, 0, 12, 0}})
	return e, first
}

// newHoldEnv returns an env with the standard accounts and pending
// transfer 100, which holds 10 from acctA to acctB for timeout seconds.
func newHoldEnv(t *testing.T, c Config, timeout uint32) *env {
	t.Helper()
	e := newEnv(t, c)
	e.mustCreateAccounts(standardAccounts()...)
	e.mustTransfer(with(pending(tr(100, acctA, acctB, 10)), func(t *ledger.Transfer) { t.Timeout = timeout }))
	return e
}

// testClosing: a closing pending transfer closes its account (debit,
// credit or both): transfers to or from it get *_account_already_closed,
// its post too, and a retry of the account's creation is compared with the
// stored flags, AccountClosed set; a void of it, or its expiry, reopens
// the account. Verify passes with the account closed and after.
func testClosing(t *testing.T, c Config) {
	R := func(r ...ledger.CreateTransferResult) []ledger.CreateTransferResult { return r }
	e := newEnv(t, c)
	e.mustCreateAccounts(standardAccounts()...)
	e.mustTransfer(tr(1, acctA, acctB, 10))
	closing := with(pending(tr(100, acctB, acctA, 0)), func(t *ledger.Transfer) { t.Flags |= ledger.TransferClosingDebit })
	e.mustTransfer(closing)
	assert.NotZero(t, e.account(acctB).Flags&ledger.AccountClosed)
	assert.Zero(t, e.account(acctA).Flags&ledger.AccountClosed)
	e.verify() // an account closed by an active closing transfer
	// The account's flags as stored, AccountClosed set, are those that a
	// retry of its creation is compared with.
	accountB, closedB := standardAccounts()[1], standardAccounts()[1] // acctB's
	closedB.Flags |= ledger.AccountClosed
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountExistsWithDifferentFlags, ledger.AccountExists},
		e.createAccounts(accountB, closedB))
	require.Equal(t, R(ledger.TransferDebitAccountAlreadyClosed, ledger.TransferCreditAccountAlreadyClosed),
		e.transfers(tr(2, acctB, acctC, 1), tr(3, acctC, acctB, 1)))
	// A closing transfer cannot be posted, only voided (or expire).
	require.Equal(t, R(ledger.TransferDebitAccountAlreadyClosed), e.transfers(post(102, 100, ledger.AmountMax)))
	// Voiding the closing transfer reopens the account.
	e.mustTransfer(void(101, 100))
	assert.Zero(t, e.account(acctB).Flags&ledger.AccountClosed)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountExists, ledger.AccountExistsWithDifferentFlags},
		e.createAccounts(accountB, closedB))
	e.mustTransfer(tr(4, acctB, acctC, 1))

	// The void of a closing credit reopens its account as well, and a
	// closing transfer that expires reopens the accounts it closed.
	closed := func(v uint64) bool { return e.account(v).Flags&ledger.AccountClosed != 0 }
	e.mustTransfer(with(pending(tr(200, acctC, acctB, 0)), func(t *ledger.Transfer) { t.Flags |= ledger.TransferClosingCredit }))
	assert.True(t, closed(acctB))
	assert.False(t, closed(acctC))
	e.mustTransfer(void(201, 200))
	assert.False(t, closed(acctB))
	e.mustTransfer(with(pending(tr(300, acctB, acctC, 0)), func(t *ledger.Transfer) {
		t.Flags |= ledger.TransferClosingDebit | ledger.TransferClosingCredit
		t.Timeout = 1
	}))
	assert.True(t, closed(acctB))
	assert.True(t, closed(acctC))
	e.verify()
	e.clock.Advance(2 * time.Second)
	e.mustTransfer(tr(5, acctA, acctHist, 1)) // its batch releases transfer 300 first
	assert.False(t, closed(acctB))
	assert.False(t, closed(acctC))
	e.mustTransfer(tr(6, acctB, acctC, 1), tr(7, acctC, acctB, 1))
	e.verify()
}

// fillers returns n transfers of 1 from acctC to acctB (IDs 1 to n), which
// put the events after them n timestamps later, and their results.
func fillers(n uint64) ([]ledger.Transfer, []ledger.CreateTransferResult) {
	var batch []ledger.Transfer
	var want []ledger.CreateTransferResult
	for i := range n {
		batch = append(batch, tr(1+i, acctC, acctB, 1))
		want = append(want, ledger.TransferCreated)
	}
	return batch, want
}

// testExpiredPendingOfUpdatedState writes straight to the store pending
// transfer 10 with its active state, which the store reads once it has
// expired (Tx.ExpiredPending); then the state is expired, read no more,
// and made active again, as no ledger does: the store reads it again,
// once, as it reads every active state that has expired.
func testExpiredPendingOfUpdatedState(t *testing.T, c Config) {
	hold := ledger.Transfer{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 1, Ledger: 1, Code: 1,
		Flags: ledger.TransferPending, Timeout: 1, Timestamp: 3}
	expires := hold.ExpiresAt()
	s, _ := storeWith(t, c, rows{
		accounts: []ledger.Account{
			{ID: id(1), Ledger: 1, Code: 1, Timestamp: 1},
			{ID: id(2), Ledger: 1, Code: 1, Timestamp: 2},
		},
		transfers: []ledger.Transfer{hold},
		pending:   []ledger.Pending{{ID: id(10), Status: ledger.PendingActive, ExpiresAt: expires, Timestamp: 3}},
		last:      3,
	})
	expired := func(now uint64) []ledger.Transfer {
		t.Helper()
		var got []ledger.Transfer
		require.NoError(t, s.Update(context.Background(), func(tx ledger.Tx) error {
			if _, err := tx.LastTimestamp(); err != nil {
				return err
			}
			var err error
			got, err = tx.ExpiredPending(now, 10)
			got = slices.Clone(got)
			return err
		}))
		return got
	}
	state := func(status ledger.PendingStatus, last uint64) {
		t.Helper()
		require.NoError(t, write(s, rows{updPending: []ledger.Pending{{ID: id(10), Status: status}}, last: last}))
	}
	assert.Equal(t, []ledger.Transfer{hold}, expired(expires))
	state(ledger.PendingExpired, expires)
	assert.Empty(t, expired(expires))
	state(ledger.PendingActive, expires+1)
	assert.Equal(t, []ledger.Transfer{hold}, expired(expires+1))
	// Expired again while the store holds what it read of the active state.
	state(ledger.PendingExpired, expires+2)
	state(ledger.PendingActive, expires+3)
	assert.Equal(t, []ledger.Transfer{hold}, expired(expires+3))
}
