package payflow_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// lossyStore is a Store whose UpdatePayment, while on, fails one time in
// eight with errLost before writing (a lost connection) and one time in
// eight with errLost after writing, the caller's record left as it was
// (a lost reply of a committed write).
type lossyStore struct {
	payflow.Store
	rng *rand.Rand
	on  bool
}

func (s *lossyStore) UpdatePayment(ctx context.Context, p *payflow.PaymentRecord, from string) error {
	if !s.on {
		return s.Store.UpdatePayment(ctx, p, from)
	}
	switch s.rng.IntN(8) {
	case 0:
		return errLost
	case 1:
		read := *p
		if err := s.Store.UpdatePayment(ctx, p, from); err != nil {
			return err
		}
		*p = read
		return errLost
	}
	return s.Store.UpdatePayment(ctx, p, from)
}

// TestRandomActions drives a request of 690 EUR and 3 tickets through
// seeded random sequences of consents (fresh or sent again), declines,
// cancellations, captures of all or part of the hold, ExpireDue,
// RecoverSweep, clock advances, and an operator closing or reopening an
// account of the legs, on a store that loses some of its writes or their
// replies, with auto or manual capture. After every
// step whose request is in a state of PROTOCOL.md §6.2 (no settlement
// under way), the balances are those of that state (nothing moved;
// held; captured for the amount recorded, the tickets delivered), a
// final state never changes, and a captured request's receipt verifies
// and names the posts that the ledger holds, for the amounts captured.
// At the end, with the accounts reopened and the writes no longer lost,
// the recovery sweep and ExpireDue settle every request. A request held
// at or past its hold's expiry is not checked: the ledger may have
// released the hold before a read or ExpireDue records it expired.
func TestRandomActions(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 1))
		st := &lossyStore{Store: memory.New(), rng: rng}
		s := newShopOn(t, st, rng.IntN(2) == 0, paytest.Options{Platform: payflow.PlatformOptions{HoldTTL: 10 * time.Minute}})
		require.NoError(t, s.Platform.OpenAccount(ctx, s.shopper.ID, paytest.Ticket))
		rq := paytest.Request(s.session, "EUR", 690)
		rq.Legs = []record.Leg{{Asset: paytest.Ticket, Amount: 3}}
		v, err := s.Create(rq)
		require.NoError(t, err)
		st.on = true
		var consents [][]byte
		accounts := []struct {
			id ledger.ID
			lc uint32
		}{
			{payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID), eurLedger},
			{payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID), eurLedger},
			{payflow.AccountID(payflow.AccountWallet, paytest.TicketCode, s.shopper.ID), paytest.TicketCode},
			{payflow.AccountID(payflow.AccountMerchant, paytest.TicketCode, merchantID), paytest.TicketCode},
		}
		closings := map[int]ledger.Transfer{}
		final := ""
		check := func(msg string) {
			t.Helper()
			r, err := s.Store.Payment(ctx, v.ID)
			require.NoError(t, err)
			switch {
			case r.State == payflow.StateApproving, r.State == "capturing", r.State == "voiding":
				return
			case r.State == payflow.StateHeld && !s.Clock.Now().Before(r.HoldExpiresAt):
				// The ledger may have released the hold; the next
				// read or ExpireDue records it expired.
				return
			}
			if final != "" {
				require.Equal(t, final, r.State, "%s: a final state changed", msg)
			}
			money, tickets := s.balances(t), s.Balances(paytest.Ticket)
			switch r.State {
			case payflow.StatePending, payflow.StateDeclined, payflow.StateCancelled, payflow.StateExpired:
				require.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, money, "%s: %s", msg, r.State)
				require.Equal(t, [2]payflow.Balance{{}, {Posted: 10}}, tickets, "%s: %s", msg, r.State)
			case payflow.StateHeld:
				require.Equal(t, [2]payflow.Balance{{Posted: funds, Held: 690}, {Incoming: 690}}, money, msg)
				require.Equal(t, [2]payflow.Balance{{Incoming: 3}, {Posted: 10, Held: 3}}, tickets, msg)
			case payflow.StateCaptured:
				require.Equal(t, [2]payflow.Balance{{Posted: funds - r.Captured}, {Posted: r.Captured}}, money, msg)
				require.Equal(t, [2]payflow.Balance{{Posted: 3}, {Posted: 7}}, tickets, msg)
				rc := s.VerifiedReceipt(t, r.Receipt)
				require.Equal(t, r.Captured, rc.Amount, msg)
				require.Len(t, rc.TransferIDs, 2, msg)
				ids := []ledger.ID{ledger.ID(rc.TransferIDs[0]), ledger.ID(rc.TransferIDs[1])}
				found, err := s.Ledger.LookupTransfers(ctx, ids)
				require.NoError(t, err)
				require.Len(t, found, 2, msg)
				for _, f := range found {
					require.NotZero(t, f.Flags&ledger.TransferPostPendingTransfer, msg)
					want := uint64(3)
					if f.ID == ids[0] {
						want = r.Captured
					}
					require.Equal(t, want, f.Amount, msg)
				}
			default:
				t.Fatalf("%s: state %s", msg, r.State)
			}
			if final == "" && r.State != payflow.StatePending && r.State != payflow.StateHeld {
				final = r.State
			}
		}
		for step := range 25 {
			switch rng.IntN(11) {
			case 9, 10:
				i := rng.IntN(len(accounts))
				toggleAccount(t, s, closings, i, accounts[i].id, accounts[i].lc)
			case 0, 1:
				if pv, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID); err == nil && pv.ConsentNonce != nil {
					consents = append(consents, s.shopper.MustSign(paytest.Consent(pv)))
				}
				if len(consents) > 0 {
					s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consents[rng.IntN(len(consents))]})
				}
			case 2:
				s.Platform.Decline(ctx, s.shopper.Token, v.ID)
			case 3:
				s.Platform.Cancel(ctx, s.seller.Token, v.ID)
			case 4, 5:
				amount := uint64(rng.IntN(3)) * 300 // all, 300 or 600 of 690
				s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID, Amount: amount})
			case 6:
				s.Platform.ExpireDue(ctx, 0)
			case 7:
				s.Platform.RecoverSweep(ctx, 0)
			case 8:
				s.Clock.Advance(time.Duration(rng.IntN(200)) * time.Second)
				s.RefreshCRLs()
				s.shopper.Login(record.RoleShopper)
				s.seller.Login(record.RoleSeller)
			}
			check(fmt.Sprintf("seed %d step %d", seed, step))
		}
		st.on = false
		reopenAll(t, s, closings)
		s.Clock.Advance(time.Hour)
		s.RefreshCRLs()
		for range 2 {
			_, err := s.Platform.RecoverSweep(ctx, 0)
			require.NoError(t, err)
			_, err = s.Platform.ExpireDue(ctx, 0)
			require.NoError(t, err)
		}
		r, err := s.Store.Payment(ctx, v.ID)
		require.NoError(t, err)
		require.Contains(t, []string{payflow.StateCaptured, payflow.StateDeclined, payflow.StateCancelled, payflow.StateExpired}, r.State,
			"seed %d: settled", seed)
		check(fmt.Sprintf("seed %d settled", seed))
		require.NoError(t, s.Ledger.Verify(ctx))
	}
}
