package payflow_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

// takenWalletCases are accounts that the ledger holds under the ID of the
// payer's ticket wallet, each with other fields than the wallet's, and
// the ledger's answer to the wallet's creation. The first, without the
// wallet's flag, is one into which the ledger would credit a ticket.
var takenWalletCases = []struct {
	name   string
	set    func(*ledger.Account)
	result ledger.CreateAccountResult
}{
	{"flags", func(a *ledger.Account) { a.Flags = 0 }, ledger.AccountExistsWithDifferentFlags},
	{"closed with other user data", func(a *ledger.Account) { a.Flags |= ledger.AccountClosed; a.UserData64 = 1 }, ledger.AccountExistsWithDifferentFlags},
	{"user data", func(a *ledger.Account) { a.UserData128 = ledger.IDFromUint64(1) }, ledger.AccountExistsWithDifferentUserData128},
	{"ledger", func(a *ledger.Account) { a.Ledger = eurLedger }, ledger.AccountExistsWithDifferentLedger},
	{"code", func(a *ledger.Account) { a.Code = payflow.AccountMerchant }, ledger.AccountExistsWithDifferentCode},
}

// takeWallet creates in the ledger, under the ID of the payer's ticket
// wallet, the wallet as set changes it, and returns the ID and the
// ledger's record of it.
func takeWallet(t *testing.T, s *shop, set func(*ledger.Account)) (ledger.ID, []ledger.Account) {
	t.Helper()
	ctx := context.Background()
	id := payflow.AccountID(payflow.AccountWallet, ticketLedger, s.shopper.ID)
	a := ledger.Account{ID: id, Ledger: ticketLedger, Code: payflow.AccountWallet, Flags: ledger.AccountDebitsMustNotExceedCredits}
	set(&a)
	res, err := s.Ledger.CreateAccounts(ctx, []ledger.Account{a})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated}, res)
	found, err := s.Ledger.LookupAccounts(ctx, []ledger.ID{id})
	require.NoError(t, err)
	require.Len(t, found, 1)
	return id, found
}

// untakenBalances returns the balances of a shop whose payer's ticket
// wallet is taken (takeWallet) but that wallet's, which Balance refuses:
// the shopper's and the merchant's EUR and the merchant's tickets.
func (s *shop) untakenBalances(t *testing.T) [3]payflow.Balance {
	t.Helper()
	eur := s.balances(t)
	tickets, err := s.Platform.Balance(context.Background(), merchantID, paytest.Ticket)
	require.NoError(t, err)
	return [3]payflow.Balance{eur[0], eur[1], tickets}
}

// unopenedTicketRequest is ticketRequest without opening the payer's
// ticket wallet.
func unopenedTicketRequest(t *testing.T, s *shop) *payflow.PaymentView {
	t.Helper()
	r := paytest.Request(s.session, "EUR", 240, record.Item{SKU: "apple", Quantity: 2})
	r.Legs = []record.Leg{{Asset: paytest.Ticket, Amount: 1}}
	v, err := s.Create(r)
	require.NoError(t, err)
	return v
}

// recordConsent moves the pending request id to approving with consent,
// its first attempt, and the pairing's mark voidTo, as a process that
// accepted the consent and stopped before the ledger would leave it.
func (s *shop) recordConsent(t *testing.T, id payflow.ID, consent []byte, voidTo string) {
	t.Helper()
	ctx := context.Background()
	r, err := s.Store.Payment(ctx, id)
	require.NoError(t, err)
	h := record.Hash(consent)
	r.State, r.Attempt, r.Consent, r.ConsentHash, r.VoidTo = payflow.StateApproving, 1, consent, h[:], voidTo
	r.HoldExpiresAt = s.Clock.Now().Add(payflow.DefaultHoldTTL)
	require.NoError(t, s.Store.UpdatePayment(ctx, r, payflow.StatePending))
}

// recordCapturing moves the held request id to capturing for amount, as
// a process that began its capture and stopped before the ledger posted.
func (s *shop) recordCapturing(t *testing.T, id payflow.ID, amount uint64) {
	t.Helper()
	ctx := context.Background()
	r, err := s.Store.Payment(ctx, id)
	require.NoError(t, err)
	r.State, r.CaptureAmount, r.UpdatedAt = "capturing", amount, s.Clock.Now()
	require.NoError(t, s.Store.UpdatePayment(ctx, r, payflow.StateHeld))
}

// requireUntouched checks that the ledger holds the account id as found
// and no hold of the first attempt of request rid.
func requireUntouched(t *testing.T, s *shop, id ledger.ID, found []ledger.Account, rid payflow.ID) {
	t.Helper()
	ctx := context.Background()
	now, err := s.Ledger.LookupAccounts(ctx, []ledger.ID{id})
	require.NoError(t, err)
	assert.Equal(t, found, now, "the account as it stood")
	holds, err := s.Ledger.LookupTransfers(ctx, []ledger.ID{payflow.TransferID(rid, 1, 0, 1), payflow.TransferID(rid, 1, 1, 1)})
	require.NoError(t, err)
	assert.Empty(t, holds, "no hold")
	require.NoError(t, s.Ledger.Verify(ctx))
}

// takenWalletError is the error of a hold whose payer's ticket wallet id
// the ledger holds with other fields (result).
func takenWalletError(id ledger.ID, result ledger.CreateAccountResult) string {
	return takenError(id, payflow.AccountWallet, ticketLedger, result)
}

// takenError is the error of a hold whose account id of the legs (code,
// ledger lc) the ledger holds with other fields (result).
func takenError(id ledger.ID, code uint16, lc uint32, result ledger.CreateAccountResult) string {
	return takenMessage(id, code, lc, result) + " (an account of the legs, which the platform cannot use)"
}

// TestConsentWithAssetWalletTaken: a consent to a request with a ticket
// leg whose payer's ticket wallet ID the ledger holds with other fields
// is refused with conflict before it is accepted: the request stays
// pending, nothing of the consent stored, its nonce and counter unspent
// (sent again, it is refused the same way), nothing moved and the account
// as it was. A fresh consent is refused the same way, and the payer can
// decline the request.
func TestConsentWithAssetWalletTaken(t *testing.T) {
	ctx := context.Background()
	for _, manual := range []bool{false, true} {
		for _, c := range takenWalletCases {
			t.Run(fmt.Sprintf("%s manual %v", c.name, manual), func(t *testing.T) {
				s := newShop(t, manual, paytest.Options{})
				id, found := takeWallet(t, s, c.set)
				v := unopenedTicketRequest(t, s)
				before := s.untakenBalances(t)

				consent := s.consent(t, v.ID)
				_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
				requireRefusedPending(t, s, err, takenWalletError(id, c.result), v.ID)
				assert.Equal(t, 409, payflow.AsError(err).Status)
				assert.Equal(t, before, s.untakenBalances(t), "nothing moved")
				requireUntouched(t, s, id, found, v.ID)

				_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
				requireRefusedPending(t, s, err, takenWalletError(id, c.result), v.ID)
				assert.Equal(t, before, s.untakenBalances(t), "the same consent sent again: nothing moved")
				_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
				require.ErrorIs(t, err, payflow.ErrConflict)
				assert.EqualError(t, err, takenWalletError(id, c.result))
				dv, err := s.Platform.Decline(ctx, s.shopper.Token, v.ID)
				require.NoError(t, err)
				assert.Equal(t, payflow.StateDeclined, dv.State)
				assert.Equal(t, before, s.untakenBalances(t))
				requireUntouched(t, s, id, found, v.ID)
			})
		}
	}
}

// TestApprovingWithAssetWalletTaken: a request whose consent an earlier
// version accepted although the payer's ticket wallet ID was taken, left
// approving, is ended by the recovery sweep or by that consent sent
// again (before or after its nonce expired) as a refused hold is: pending
// again (cancelled when a pairing of the session's seller card marked
// it), the consent spent, nothing moved, the sent consent answered
// conflict. Then it can be declined, cancelled or expire.
func TestApprovingWithAssetWalletTaken(t *testing.T) {
	ctx := context.Background()
	c := takenWalletCases[0]
	for _, via := range []string{"retry", "late retry", "sweep"} {
		sweep, late := via == "sweep", via == "late retry"
		for _, end := range []string{payflow.StateDeclined, payflow.StateCancelled, payflow.StateExpired, "paired"} {
			if late && end != payflow.StateExpired && end != "paired" {
				continue // past its expiry, the request can only expire
			}
			t.Run(fmt.Sprintf("%s %s", via, end), func(t *testing.T) {
				s := newShop(t, false, paytest.Options{})
				id, found := takeWallet(t, s, c.set)
				v := unopenedTicketRequest(t, s)
				before := s.untakenBalances(t)
				consent := s.consent(t, v.ID)
				voidTo := ""
				if end == "paired" {
					voidTo = payflow.StateCancelled // as a pairing marks it
				}
				s.recordConsent(t, v.ID, consent, voidTo)
				_, err := s.Platform.Decline(ctx, s.shopper.Token, v.ID)
				require.ErrorIs(t, err, payflow.ErrConflict, "a settlement under way")

				if late {
					s.Clock.Advance(payflow.DefaultRequestTTL + pki.DefaultNonceTTL + time.Second)
				} else {
					s.Clock.Advance(payflow.DefaultRecoverAfter)
				}
				if sweep {
					s.sweep(t, 1)
				} else {
					_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
					require.ErrorIs(t, err, payflow.ErrConflict)
					assert.EqualError(t, err, takenWalletError(id, c.result))
				}
				rec, err := s.Store.Payment(ctx, v.ID)
				require.NoError(t, err)
				want := payflow.StatePending
				if end == "paired" {
					want = payflow.StateCancelled
				}
				assert.Equal(t, want, rec.State)
				assert.Nil(t, rec.Consent)
				h := record.Hash(consent)
				assert.Equal(t, h[:], rec.ConsentHash)
				assert.Equal(t, before, s.untakenBalances(t), "nothing moved")
				requireUntouched(t, s, id, found, v.ID)
				s.sweep(t, 0, "nothing left to recover")
				_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
				if late {
					assert.ErrorIs(t, err, payflow.ErrReplay, "the consent is spent")
					if want == payflow.StatePending {
						want = payflow.StateExpired // past its expiry
					}
					pv, err := s.Platform.Payment(ctx, s.seller.Token, v.ID)
					require.NoError(t, err)
					assert.Equal(t, want, pv.State)
					assert.Equal(t, before, s.untakenBalances(t))
					return
				}
				if end == "paired" {
					assert.ErrorIs(t, err, payflow.ErrFinal)
					return
				}
				assert.ErrorIs(t, err, payflow.ErrReplay, "the consent is spent")
				_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
				require.ErrorIs(t, err, payflow.ErrConflict, "a fresh consent is refused before it is accepted")
				assert.EqualError(t, err, takenWalletError(id, c.result))
				s.requireState(t, v.ID, payflow.StatePending)

				var got *payflow.PaymentView
				switch end {
				case payflow.StateDeclined:
					got, err = s.Platform.Decline(ctx, s.shopper.Token, v.ID)
				case payflow.StateCancelled:
					got, err = s.Platform.Cancel(ctx, s.seller.Token, v.ID)
				case payflow.StateExpired:
					s.Clock.Advance(rec.ExpiresAt.Sub(s.Clock.Now()))
					var n int
					n, err = s.Platform.ExpireDue(ctx, 0)
					assert.Equal(t, 1, n)
					got = &payflow.PaymentView{State: payflow.StateExpired}
				}
				require.NoError(t, err)
				assert.Equal(t, end, got.State)
				s.requireState(t, v.ID, end)
				assert.Equal(t, before, s.untakenBalances(t))
				requireUntouched(t, s, id, found, v.ID)
			})
		}
	}
}

// TestConsentWalletCreationFails: a consent whose creation of the
// payer's ticket wallet fails for want of the ledger is unavailable and
// spends nothing: the request stays pending and the same consent, sent
// again, pays it, creating the wallet.
func TestConsentWalletCreationFails(t *testing.T) {
	ctx := context.Background()
	fl := &downLedger{Store: ledgermemory.New()}
	s := newShopOnLedger(t, memory.New(), fl, false, paytest.Options{})
	v := unopenedTicketRequest(t, s)
	consent := s.consent(t, v.ID)

	fl.updates.failNext() // as a ledger that cannot be reached fails it
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.ErrorContains(t, err, "connection lost")
	rec, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, rec.State)
	assert.Zero(t, rec.Attempt)
	_, err = s.Platform.Balance(ctx, s.shopper.ID, paytest.Ticket)
	require.ErrorIs(t, err, payflow.ErrNotFound, "no ticket wallet yet")

	done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, done.State)
	assert.Equal(t, paid, s.allBalances(t))
	require.NoError(t, s.Ledger.Verify(ctx))
}

// takenLegAccountCases are accounts that the ledger holds under the ID
// of the merchant's account in an asset that the merchant was never
// issued, with other fields than that account's, and the ledger's answer
// to its creation. Without the account's flag, the ledger would let the
// merchant deliver tickets it does not have; in another ledger, it
// refuses the hold chain as malformed.
var takenLegAccountCases = []accountCase{
	{"flags", func(a *ledger.Account) { a.Flags = 0 }, ledger.AccountExistsWithDifferentFlags},
	{"ledger", func(a *ledger.Account) { a.Ledger = 100_003 }, ledger.AccountExistsWithDifferentLedger},
}

// requireRefusedPending checks that err, the answer to a consent to the
// request id, is the conflict want, and that the request stayed pending,
// refused before the consent was accepted.
func requireRefusedPending(t *testing.T, s *shop, err error, want string, id payflow.ID) {
	t.Helper()
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, want)
	rec, err := s.Store.Payment(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, rec.State, "refused before it is accepted")
	assert.Zero(t, rec.Attempt)
	assert.Nil(t, rec.Consent)
	assert.Nil(t, rec.ConsentHash)
}

// TestMerchantAssetAccountTaken: a consent to a request with a leg in an
// asset whose merchant's account ID the ledger holds with other fields
// is refused with conflict before it is accepted, as for a taken payer's
// wallet: the request stays pending, the consent spent, nothing moved or
// created (no ticket delivered from nothing), no settlement left to the
// recovery sweep, and the payer can decline the request.
func TestMerchantAssetAccountTaken(t *testing.T) {
	ctx := context.Background()
	const asset, lc = "ticket:theatre", uint32(100_002)
	for _, c := range takenLegAccountCases {
		t.Run(c.name, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{})
			require.NoError(t, s.Platform.RegisterAsset(ctx, asset, lc))
			id := payflow.AccountID(payflow.AccountMerchant, lc, merchantID)
			found := c.take(t, s, ledger.Account{ID: id, Ledger: lc, Code: payflow.AccountMerchant, Flags: ledger.AccountDebitsMustNotExceedCredits})
			r := paytest.Request(s.session, "EUR", 690, record.Item{SKU: "apple", Quantity: 2}, record.Item{SKU: "bread", Quantity: 1})
			r.Legs = []record.Leg{{Asset: asset, Amount: 5}}
			v, err := s.Create(r)
			require.NoError(t, err)
			before := s.balances(t)

			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
			requireRefusedPending(t, s, err, takenError(id, payflow.AccountMerchant, lc, c.result), v.ID)
			assert.Equal(t, before, s.balances(t), "no money moved")
			_, err = s.Platform.Balance(ctx, s.shopper.ID, asset)
			assert.ErrorIs(t, err, payflow.ErrNotFound, "no ticket wallet created, no ticket delivered")
			requireUntouched(t, s, id, found, v.ID)

			s.Clock.Advance(payflow.DefaultRecoverAfter)
			s.sweep(t, 0, "no settlement left that fails at every try")
			dv, err := s.Platform.Decline(ctx, s.shopper.Token, v.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateDeclined, dv.State)
			assert.Equal(t, before, s.balances(t))
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// takenWalletRequest enrols Bob, whose EUR wallet ID the ledger holds
// without the wallet's flag (written by another client of the ledger),
// pairs him with the seller and returns his card, that wallet's ID and
// a pending request of the basket (690) to him.
func takenWalletRequest(t *testing.T, s *shop) (*paytest.Card, ledger.ID, *payflow.PaymentView) {
	t.Helper()
	ctx := context.Background()
	f := s.Fixture
	bob := f.NewCard("Bob")
	id := payflow.AccountID(payflow.AccountWallet, eurLedger, bob.ID)
	res, err := s.Ledger.CreateAccounts(ctx, []ledger.Account{{ID: id, Ledger: eurLedger, Code: payflow.AccountWallet}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated}, res)
	bob.Login(record.RoleShopper)
	s.seller.Login(record.RoleSeller)
	sess := f.Pair(bob, s.seller)
	v, err := f.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(paytest.Request(sess, "EUR", 690,
		record.Item{SKU: "apple", Quantity: 2}, record.Item{SKU: "bread", Quantity: 1}))})
	require.NoError(t, err)
	return bob, id, v
}

// TestPayerWalletTakenMoneyLeg: a consent whose payer's wallet in the
// request's currency the ledger holds without its flag (which OpenAccount
// refuses as taken) is refused with conflict before it is accepted,
// rather than let the payer spend money the wallet does not hold: the
// request stays pending, nothing moved, and the payer can decline it.
func TestPayerWalletTakenMoneyLeg(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	f := s.Fixture
	bob, id, v := takenWalletRequest(t, s)
	assert.ErrorIs(t, f.Platform.OpenAccount(ctx, bob.ID, "EUR"), payflow.ErrConflict, "OpenAccount sees the wallet taken")
	merchant, err := f.Platform.Balance(ctx, merchantID, "EUR")
	require.NoError(t, err)

	pv, err := f.Platform.Payment(ctx, bob.Token, v.ID)
	require.NoError(t, err)
	_, err = f.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: bob.MustSign(paytest.Consent(pv))})
	requireRefusedPending(t, s, err, takenError(id, payflow.AccountWallet, eurLedger, ledger.AccountExistsWithDifferentFlags), v.ID)
	accs, err := s.Ledger.LookupAccounts(ctx, []ledger.ID{id})
	require.NoError(t, err)
	require.Len(t, accs, 1)
	assert.Zero(t, accs[0].DebitsPending+accs[0].DebitsPosted, "nothing out of the wallet")
	after, err := f.Platform.Balance(ctx, merchantID, "EUR")
	require.NoError(t, err)
	assert.Equal(t, merchant, after, "nothing to the merchant")
	dv, err := f.Platform.Decline(ctx, bob.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateDeclined, dv.State)
	require.NoError(t, s.Ledger.Verify(ctx))
}

// approvingWithWalletTaken returns a shop whose merchant captures manually
// and whose payer's ticket wallet ID the ledger holds without
// debits_must_not_exceed_credits (its ID and the ledger's account), and a
// ticket request of that shop left approving by a consent that an earlier
// version accepted without looking at the accounts.
func approvingWithWalletTaken(t *testing.T) (*shop, ledger.ID, []ledger.Account, *payflow.PaymentView) {
	t.Helper()
	s := newShop(t, true, paytest.Options{})
	wallet, taken := takeWallet(t, s, takenWalletCases[0].set)
	v := unopenedTicketRequest(t, s)
	s.recordConsent(t, v.ID, s.consent(t, v.ID), "")
	return s, wallet, taken, v
}

// TestApprovingWithAccountTakenHoldMade: a request whose consent an
// earlier version accepted although the payer's ticket wallet ID was
// taken, and whose holds that version made before the record of its
// outcome was lost, is driven on by the recovery sweep as made (held,
// the holds answered exists), not put back to pending over holds that
// the ledger keeps.
func TestApprovingWithAccountTakenHoldMade(t *testing.T) {
	ctx := context.Background()
	s, wallet, _, v := approvingWithWalletTaken(t)
	rec, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	timeout := uint32((rec.HoldExpiresAt.Sub(rec.UpdatedAt) + time.Second - 1) / time.Second)
	holds := []ledger.Transfer{
		{
			ID: payflow.TransferID(v.ID, 1, 0, 1), DebitAccountID: payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID),
			CreditAccountID: payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID), Amount: 240,
			UserData128: ledger.ID(v.ID), Timeout: timeout, Ledger: eurLedger, Code: payflow.TransferPayment,
			Flags: ledger.TransferPending | ledger.TransferLinked,
		},
		{
			ID: payflow.TransferID(v.ID, 1, 1, 1), DebitAccountID: payflow.AccountID(payflow.AccountMerchant, ticketLedger, merchantID),
			CreditAccountID: wallet, Amount: 1, UserData128: ledger.ID(v.ID), Timeout: timeout, Ledger: ticketLedger,
			Code: payflow.TransferPayment, Flags: ledger.TransferPending,
		},
	}
	res, err := s.Ledger.CreateTransfers(ctx, holds)
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, res)
	before := s.untakenBalances(t)

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 1)
	s.requireState(t, v.ID, payflow.StateHeld)
	assert.Equal(t, before, s.untakenBalances(t), "the holds as the ledger made them, nothing more")
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestApprovingWithAccountTakenHoldIDTaken: a consent that an earlier
// version accepted to a request with a taken account of its legs, whose
// hold ID the ledger holds as a transfer that another client of the
// ledger wrote (not the hold as the platform makes it), is ended by the
// recovery sweep as a refused hold: the request pending without its
// consent, nothing moved, the transfer under the hold ID left as it was.
func TestApprovingWithAccountTakenHoldIDTaken(t *testing.T) {
	ctx := context.Background()
	s, wallet, taken, v := approvingWithWalletTaken(t)
	hold := payflow.TransferID(v.ID, 1, 0, 1)
	s.takeID(t, hold)
	before := s.untakenBalances(t)

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 1)
	r, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, r.State)
	assert.Nil(t, r.Consent)
	assert.Equal(t, before, s.untakenBalances(t), "nothing moved")
	found, err := s.Ledger.LookupAccounts(ctx, []ledger.ID{wallet})
	require.NoError(t, err)
	assert.Equal(t, taken, found, "the taken wallet as it was")
	ts, err := s.Ledger.LookupTransfers(ctx, []ledger.ID{hold, payflow.TransferID(v.ID, 1, 1, 1)})
	require.NoError(t, err)
	require.Len(t, ts, 1)
	assert.Equal(t, uint64(1), ts[0].Amount, "the other client's transfer under the hold ID")
	require.NoError(t, s.Ledger.Verify(ctx))
}

// accountLookups is a ledger store that records the IDs of each account
// look-up (LookupAccounts reads them in a View).
type accountLookups struct {
	ledger.Store

	mu      sync.Mutex
	lookups [][]ledger.ID
}

func (s *accountLookups) View(ctx context.Context, fn func(ledger.ReadTx) error) error {
	return s.Store.View(ctx, func(tx ledger.ReadTx) error { return fn(lookupsTx{tx, s}) })
}

type lookupsTx struct {
	ledger.ReadTx
	s *accountLookups
}

func (tx lookupsTx) Accounts(ids []ledger.ID) ([]ledger.Account, error) {
	tx.s.mu.Lock()
	tx.s.lookups = append(tx.s.lookups, slices.Clone(ids))
	tx.s.mu.Unlock()
	return tx.ReadTx.Accounts(ids)
}

// take returns the look-ups recorded since its last call.
func (s *accountLookups) take() [][]ledger.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lookups
	s.lookups = nil
	return l
}

// lookup is the look-up of ids as the ledger makes it: in ascending order.
func lookup(ids ...ledger.ID) [][]ledger.ID {
	return [][]ledger.ID{slices.SortedFunc(slices.Values(ids), func(a, b ledger.ID) int { return bytes.Compare(a[:], b[:]) })}
}

// TestConsentLooksUpAccountsOnce: a consent looks up only the accounts of
// its legs that its platform has not found to be its own before. A
// second platform on the same store and ledger looks up the payer's
// wallet and the merchant's account at its first consent and at none
// after; the platform that opened them (enrolment, OpenAccount, Issue)
// looks up none, but for a payer's ticket wallet that the ledger does
// not hold, which it looks up once and creates. Every purchase is paid.
func TestConsentLooksUpAccountsOnce(t *testing.T) {
	ctx := context.Background()
	ls := &accountLookups{Store: ledgermemory.New()}
	s := newShopOnLedger(t, memory.New(), ls, false, paytest.Options{})
	other := s.newProcess(t, payflow.PlatformOptions{})
	approve := func(p *payflow.Platform, id payflow.ID) {
		t.Helper()
		consent := s.consent(t, id)
		ls.take()
		v, err := p.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
		require.NoError(t, err)
		require.Equal(t, payflow.StateCaptured, v.State)
	}
	wallet := payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID)
	merchant := payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID)

	v, _ := s.request(t)
	approve(other, v.ID)
	assert.Equal(t, lookup(wallet, merchant), ls.take(), "a platform new to the accounts looks them up")
	v, _ = s.request(t)
	approve(other, v.ID)
	assert.Empty(t, ls.take(), "and then no more")
	v, _ = s.request(t)
	approve(s.Platform, v.ID)
	assert.Empty(t, ls.take(), "the platform that opened them never")

	for i := range 2 {
		r := paytest.Request(s.session, "EUR", 240, record.Item{SKU: "apple", Quantity: 2})
		r.Legs = []record.Leg{{Asset: paytest.Ticket, Amount: 1}}
		v, err := s.Create(r)
		require.NoError(t, err)
		approve(s.Platform, v.ID)
		if i == 0 {
			assert.Equal(t, lookup(payflow.AccountID(payflow.AccountWallet, paytest.TicketCode, s.shopper.ID)), ls.take(),
				"the payer's ticket wallet, which the consent creates")
		} else {
			assert.Empty(t, ls.take(), "the ticket wallet created")
		}
	}
	assert.Equal(t, [2][2]payflow.Balance{{{Posted: funds - 3*690 - 2*240}, {Posted: 3*690 + 2*240}}, {{Posted: 2}, {Posted: 8}}},
		s.allBalances(t))
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestOwnAccountsKeptWithoutCache: a negative CacheTTL, no caching of
// cards and merchants, leaves the set of the platform's own accounts
// kept, as CacheTTL's godoc says: a second platform with it on the same
// store and ledger looks up the payer's wallet and the merchant's account
// at its first consent and at none after, also once another client of
// the ledger closed that wallet, which the ledger refuses the hold for
// (insufficient_funds, the request pending) as it would after a look-up;
// once the wallet is reopened, a consent pays without a look-up.
func TestOwnAccountsKeptWithoutCache(t *testing.T) {
	ctx := context.Background()
	ls := &accountLookups{Store: ledgermemory.New()}
	s := newShopOnLedger(t, memory.New(), ls, false, paytest.Options{Platform: payflow.PlatformOptions{CacheTTL: -1}})
	other := s.newProcess(t, payflow.PlatformOptions{CacheTTL: -1})
	approve := func(id payflow.ID) (*payflow.PaymentView, error) {
		consent := s.consent(t, id)
		ls.take()
		return other.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	}
	wallet := payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID)
	merchant := payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID)

	v, _ := s.request(t)
	got, err := approve(v.ID)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, got.State)
	assert.Equal(t, lookup(wallet, merchant), ls.take(), "a platform new to the accounts looks them up")

	closing := closeAccount(t, s, wallet, eurLedger)
	v, _ = s.request(t)
	_, err = approve(v.ID)
	require.ErrorIs(t, err, payflow.ErrFunds)
	assert.EqualError(t, err, fmt.Sprintf("payflow: insufficient funds: ledger: account %v is closed: %v", wallet, ledger.TransferDebitAccountAlreadyClosed))
	assert.Empty(t, ls.take(), "the closed wallet is not looked up")
	s.requireState(t, v.ID, payflow.StatePending)

	reopenAccount(t, s, closing)
	v, _ = s.request(t)
	got, err = approve(v.ID)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, got.State)
	assert.Empty(t, ls.take(), "nor the reopened one")
	assert.Equal(t, [2]payflow.Balance{{Posted: funds - 2*690}, {Posted: 2 * 690}}, s.balances(t))
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestConsentLooksUpTakenAccountAgain: a payer's wallet whose ID the
// ledger holds with other flags is looked up at every consent, never
// kept as the platform's own: each consent is refused with conflict and
// the request stays pending, while the merchant's account, the
// platform's, is not looked up.
func TestConsentLooksUpTakenAccountAgain(t *testing.T) {
	ctx := context.Background()
	ls := &accountLookups{Store: ledgermemory.New()}
	s := newShopOnLedger(t, memory.New(), ls, false, paytest.Options{})
	f := s.Fixture
	bob, id, v := takenWalletRequest(t, s)
	for range 2 {
		pv, err := f.Platform.Payment(ctx, bob.Token, v.ID)
		require.NoError(t, err)
		consent := bob.MustSign(paytest.Consent(pv))
		ls.take()
		_, err = f.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
		requireRefusedPending(t, s, err, takenError(id, payflow.AccountWallet, eurLedger, ledger.AccountExistsWithDifferentFlags), v.ID)
		assert.Equal(t, lookup(id), ls.take())
	}
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestConsentOfPayerWithoutWalletCreatesNone: a payer card that has no
// wallet in the request's currency is refused ErrFunds, the request left
// pending, and the platform leaves that wallet to the ledger: it creates
// no wallet account for the payer (asset wallets it does create).
func TestConsentOfPayerWithoutWalletCreatesNone(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	s := paytest.NewShop(f, false)
	bob := f.NewCard("Bob")
	bob.Login(record.RoleShopper)
	session := f.Pair(bob, s.Seller)
	r := paytest.Request(session, "EUR", 690, record.Item{SKU: "apple", Quantity: 2}, record.Item{SKU: "bread", Quantity: 1})
	v, err := f.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.Seller.MustSign(r)})
	require.NoError(t, err)
	pv, err := f.Platform.Payment(ctx, bob.Token, v.ID)
	require.NoError(t, err)

	_, err = f.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: bob.MustSign(paytest.Consent(pv))})
	require.ErrorIs(t, err, payflow.ErrFunds)
	assert.EqualError(t, err, "payflow: insufficient funds: ledger: debit_account_not_found")
	pv, err = f.Platform.Payment(ctx, s.Seller.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, pv.State)
	wallet := payflow.AccountID(payflow.AccountWallet, eurLedger, bob.ID)
	accounts, err := f.Ledger.LookupAccounts(ctx, []ledger.ID{wallet})
	require.NoError(t, err)
	assert.Empty(t, accounts, "no wallet account made for the payer")
	assert.Equal(t, payflow.Balance{}, s.Balances("EUR")[1], "the merchant got nothing")
}
