package payflow_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// The ledgers of a shop: EUR, and its tickets.
const (
	eurLedger    = uint32(978)
	ticketLedger = uint32(paytest.TicketCode)
)

// closeAccount closes the ledger account id of a shop, as an operator
// does through the ledger's API (TigerBeetle's closing transfer): a
// pending transfer of nothing out of it, flagged closing_debit, to the
// funding source or the issuer of its ledger, without a timeout. It
// returns that transfer, whose void reopens the account (reopenAccount).
func closeAccount(t *testing.T, s *shop, id ledger.ID, lc uint32) ledger.Transfer {
	t.Helper()
	counter := payflow.AccountID(payflow.AccountFunding, lc, "")
	if lc != eurLedger {
		counter = payflow.AccountID(payflow.AccountIssuer, lc, "")
	}
	closing := ledger.Transfer{
		ID: ledger.NewID(), DebitAccountID: id, CreditAccountID: counter, Ledger: lc, Code: 9,
		Flags: ledger.TransferPending | ledger.TransferClosingDebit,
	}
	res, err := s.Ledger.CreateTransfers(context.Background(), []ledger.Transfer{closing})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
	accs, err := s.Ledger.LookupAccounts(context.Background(), []ledger.ID{id})
	require.NoError(t, err)
	require.Len(t, accs, 1)
	require.NotZero(t, accs[0].Flags&ledger.AccountClosed, "the account is closed")
	return closing
}

// reopenAccount voids the closing transfer that closeAccount made.
func reopenAccount(t *testing.T, s *shop, closing ledger.Transfer) {
	t.Helper()
	res, err := s.Ledger.CreateTransfers(context.Background(), []ledger.Transfer{{
		ID: ledger.NewID(), PendingID: closing.ID, Ledger: closing.Ledger, Code: closing.Code,
		Flags: ledger.TransferVoidPendingTransfer,
	}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
}

// toggleAccount reopens the account i of closings, the closing transfers
// of accounts that closeAccount closed by their index, if it holds one,
// or else closes the account id of ledger lc and keeps its closing
// transfer there as i.
func toggleAccount(t *testing.T, s *shop, closings map[int]ledger.Transfer, i int, id ledger.ID, lc uint32) {
	t.Helper()
	if c, ok := closings[i]; ok {
		reopenAccount(t, s, c)
		delete(closings, i)
		return
	}
	closings[i] = closeAccount(t, s, id, lc)
}

// reopenAll reopens the accounts of closings (see toggleAccount) and
// empties it.
func reopenAll(t *testing.T, s *shop, closings map[int]ledger.Transfer) {
	t.Helper()
	for i, c := range closings {
		reopenAccount(t, s, c)
		delete(closings, i)
	}
}

// closedCase names an account of a payment with a ticket leg (690 EUR
// from the payer's wallet to the merchant, 1 ticket from the merchant to
// the payer's ticket wallet) and the leg whose transfers it refuses.
type closedCase struct {
	name   string
	code   uint16 // payflow.AccountWallet (the payer's) or AccountMerchant
	lc     uint32
	leg    byte
	result ledger.CreateTransferResult // the ledger's refusal of that leg
}

var closedCases = []closedCase{
	{"payer's wallet", payflow.AccountWallet, eurLedger, 0, ledger.TransferDebitAccountAlreadyClosed},
	{"merchant's account", payflow.AccountMerchant, eurLedger, 0, ledger.TransferCreditAccountAlreadyClosed},
	{"merchant's tickets", payflow.AccountMerchant, ticketLedger, 1, ledger.TransferDebitAccountAlreadyClosed},
	{"payer's tickets", payflow.AccountWallet, ticketLedger, 1, ledger.TransferCreditAccountAlreadyClosed},
}

// account returns the ID of c's account in shop s.
func (c closedCase) account(s *shop) ledger.ID {
	owner := merchantID
	if c.code == payflow.AccountWallet {
		owner = s.shopper.ID
	}
	return payflow.AccountID(c.code, c.lc, owner)
}

// ticketRequest creates a pending request of 2 apples (240 EUR) and one
// ticket, with the payer's ticket wallet open.
func ticketRequest(t *testing.T, s *shop) *payflow.PaymentView {
	t.Helper()
	require.NoError(t, s.Platform.OpenAccount(context.Background(), s.shopper.ID, paytest.Ticket))
	r := paytest.Request(s.session, "EUR", 240, record.Item{SKU: "apple", Quantity: 2})
	r.Legs = []record.Leg{{Asset: paytest.Ticket, Amount: 1}}
	v, err := s.Create(r)
	require.NoError(t, err)
	return v
}

// allBalances returns the shopper's and the merchant's EUR and ticket
// balances.
func (s *shop) allBalances(t *testing.T) [2][2]payflow.Balance {
	t.Helper()
	return [2][2]payflow.Balance{s.Balances("EUR"), s.Balances(paytest.Ticket)}
}

// paid are the balances after a ticket request was paid in full.
var paid = [2][2]payflow.Balance{{{Posted: funds - 240}, {Posted: 240}}, {{Posted: 1}, {Posted: 9}}}

// TestHoldIntoClosedAccount: a consent whose hold the ledger refuses
// because an account of the payment is closed (the payer's wallet or the
// merchant's account, in money or in tickets) is refused as one the
// payer's funds cannot cover: insufficient_funds naming the account and
// the ledger's result, the request pending again, nothing moved (the
// linked chain is refused whole, the money leg too), the hold's ID kept
// failed by the ledger so that the refusal is final and the consent
// spent. Once the account is reopened, a new consent pays.
func TestHoldIntoClosedAccount(t *testing.T) {
	ctx := context.Background()
	for _, manual := range []bool{false, true} {
		for _, c := range closedCases {
			t.Run(fmt.Sprintf("%s manual %v", c.name, manual), func(t *testing.T) {
				s := newShop(t, manual, paytest.Options{})
				v := ticketRequest(t, s)
				before := s.allBalances(t)
				id := c.account(s)
				closing := closeAccount(t, s, id, c.lc)

				consent := s.consent(t, v.ID)
				_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
				require.ErrorIs(t, err, payflow.ErrFunds)
				assert.EqualError(t, err, fmt.Sprintf("payflow: insufficient funds: ledger: account %v is closed: %v", id, c.result))
				assert.Equal(t, 402, payflow.AsError(err).Status)
				s.requireState(t, v.ID, payflow.StatePending)
				assert.Equal(t, before, s.allBalances(t), "nothing moved")
				requireSpent(t, s, payflow.TransferID(v.ID, 1, c.leg, 1))
				_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
				assert.ErrorIs(t, err, payflow.ErrReplay, "the consent is spent")

				reopenAccount(t, s, closing)
				s.captured(t, v.ID, manual)
				assert.Equal(t, paid, s.allBalances(t))
				require.NoError(t, s.Ledger.Verify(ctx))
			})
		}
	}
}

// TestHoldIntoClosedAccountRefusalLost: when the record of a hold refused
// for a closed account is lost, the consent sent again meets the ledger's
// id_already_failed and answers insufficient_funds as the first call
// would have, and the recovery sweep counts such a settlement finished:
// the request is pending again and nothing moved.
func TestHoldIntoClosedAccountRefusalLost(t *testing.T) {
	ctx := context.Background()
	for _, sweep := range []bool{false, true} {
		t.Run(fmt.Sprintf("sweep %v", sweep), func(t *testing.T) {
			st := &updateHook{Store: memory.New()}
			s := newShopOn(t, st, false, paytest.Options{})
			v, _ := s.request(t)
			closeAccount(t, s, payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID), eurLedger)
			c := s.consent(t, v.ID)
			st.hook = loseRefusals(1)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			require.ErrorContains(t, err, "connection lost")
			s.requireState(t, v.ID, payflow.StateApproving)

			if sweep {
				s.Clock.Advance(payflow.DefaultRecoverAfter)
				s.sweep(t, 1)
			} else {
				_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
				require.ErrorIs(t, err, payflow.ErrFunds)
			}
			s.requireState(t, v.ID, payflow.StatePending)
			assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// heldTicketRequest is ticketRequest approved by the payer in a shop
// whose merchant captures by hand: the request is held.
func heldTicketRequest(t *testing.T, s *shop) *payflow.PaymentView {
	t.Helper()
	v := ticketRequest(t, s)
	held, err := s.Platform.Approve(context.Background(), &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	require.Equal(t, payflow.StateHeld, held.State)
	return held
}

// held are the balances while a ticket request is held.
var held = [2][2]payflow.Balance{{{Posted: funds, Held: 240}, {Incoming: 240}}, {{Incoming: 1}, {Posted: 10, Held: 1}}}

// requirePostsUnmade checks that the ledger holds no post of request id's
// first attempt and keeps none of their IDs failed: a capture can still
// make them.
func requirePostsUnmade(t *testing.T, s *shop, id payflow.ID) {
	t.Helper()
	ids := []ledger.ID{payflow.TransferID(id, 1, 0, 2), payflow.TransferID(id, 1, 1, 2)}
	found, err := s.Ledger.LookupTransfers(context.Background(), ids)
	require.NoError(t, err)
	assert.Empty(t, found)
}

// captureReopened reopens the account that closing closed and captures
// the held ticket request id in full.
func captureReopened(t *testing.T, s *shop, closing ledger.Transfer, id payflow.ID) {
	t.Helper()
	reopenAccount(t, s, closing)
	got, err := s.Platform.Capture(context.Background(), s.seller.Token, &payflow.CaptureRequest{RequestID: id})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, got.State)
	assert.Equal(t, paid, s.allBalances(t))
	require.NoError(t, s.Ledger.Verify(context.Background()))
}

// TestCaptureClosedAccount: a capture of a held payment one of whose
// accounts is closed is refused with conflict naming the account, before
// any post reaches the ledger: the request stays held, its hold as it
// was, and nothing moved; a capture after the account is reopened
// captures it. A held payment with a closed account can be cancelled or
// expire: the ledger voids a hold whatever its accounts, and the money
// goes back to the payer.
func TestCaptureClosedAccount(t *testing.T) {
	ctx := context.Background()
	for _, c := range closedCases {
		t.Run(c.name, func(t *testing.T) {
			s := newShop(t, true, paytest.Options{})
			v := heldTicketRequest(t, s)
			id := c.account(s)
			closing := closeAccount(t, s, id, c.lc)

			for range 2 {
				_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
				require.ErrorIs(t, err, payflow.ErrConflict)
				assert.EqualError(t, err, fmt.Sprintf("payflow: conflicting request: capture refused: ledger: account %v (code %d, ledger %d) is closed", id, c.code, c.lc))
				assert.Equal(t, 409, payflow.AsError(err).Status)
				s.requireState(t, v.ID, payflow.StateHeld)
				assert.Equal(t, held, s.allBalances(t), "nothing moved")
				requirePostsUnmade(t, s, v.ID)
			}

			captureReopened(t, s, closing, v.ID)
		})
		t.Run(c.name+" cancelled", func(t *testing.T) {
			s := newShop(t, true, paytest.Options{})
			v := heldTicketRequest(t, s)
			closeAccount(t, s, c.account(s), c.lc)
			got, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateCancelled, got.State)
			assert.Equal(t, [2][2]payflow.Balance{{{Posted: funds}, {}}, {{}, {Posted: 10}}}, s.allBalances(t), "the hold is voided")
			require.NoError(t, s.Ledger.Verify(ctx))
		})
		t.Run(c.name+" expired", func(t *testing.T) {
			s := newShop(t, true, paytest.Options{})
			v := heldTicketRequest(t, s)
			closeAccount(t, s, c.account(s), c.lc)
			s.Clock.Advance(payflow.DefaultHoldTTL)
			n, err := s.Platform.ExpireDue(ctx, 0)
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			s.requireState(t, v.ID, payflow.StateExpired)
			assert.Equal(t, [2][2]payflow.Balance{{{Posted: funds}, {}}, {{}, {Posted: 10}}}, s.allBalances(t), "the hold is voided")
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// staleLookups is a ledger store whose account lookups, while stale is
// set, show every account open: the platform reads an account that a
// closing transfer closes right after.
type staleLookups struct {
	ledger.Store
	stale bool
}

func (s *staleLookups) View(ctx context.Context, fn func(ledger.ReadTx) error) error {
	return s.Store.View(ctx, func(tx ledger.ReadTx) error {
		if s.stale {
			tx = openAccounts{tx}
		}
		return fn(tx)
	})
}

type openAccounts struct{ ledger.ReadTx }

func (tx openAccounts) Accounts(ids []ledger.ID) ([]ledger.Account, error) {
	accs, err := tx.ReadTx.Accounts(ids)
	accs = slices.Clone(accs)
	for i := range accs {
		accs[i].Flags &^= ledger.AccountClosed
	}
	return accs, err
}

// TestCaptureRefusedForClosedAccount: a post that the ledger refuses
// because an account was closed after the platform looked (the ledger
// keeps the refused post's ID failed) refuses the capture with conflict,
// for good: the request is held again, its hold as it was, and nothing
// moved; every later capture, the account reopened or not, is refused
// the same way, and the recovery sweep puts a capture left under way back
// to held. The hold is then cancelled, or expires, its money back to the
// payer.
func TestCaptureRefusedForClosedAccount(t *testing.T) {
	ctx := context.Background()
	ls := &staleLookups{Store: ledgermemory.New()}
	st := &updateHook{Store: memory.New()}
	s := newShopOnLedger(t, st, ls, true, paytest.Options{})
	v := heldTicketRequest(t, s)
	id := payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID)
	closing := closeAccount(t, s, id, eurLedger)

	ls.stale = true
	_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
	ls.stale = false
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, "payflow: conflicting request: capture refused: ledger: credit_account_already_closed (the ledger keeps the refused post's ID: the hold can only be cancelled or expire)")
	s.requireState(t, v.ID, payflow.StateHeld)
	assert.Equal(t, held, s.allBalances(t), "nothing moved")
	requireSpent(t, s, payflow.TransferID(v.ID, 1, 0, 2))

	reopenAccount(t, s, closing)
	refusedBefore := "payflow: conflicting request: capture refused: ledger: a post of this hold was refused before (an account closed, or the hold lost; the ledger keeps the refused post's ID: the hold can only be cancelled or expire)"
	_, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, refusedBefore)
	s.requireState(t, v.ID, payflow.StateHeld)

	// A capture whose refusal was not recorded is left capturing; the
	// sweep records it.
	st.hook = func(p *payflow.PaymentRecord, from string) error {
		if from == "capturing" {
			st.hook = nil
			return errLost
		}
		return nil
	}
	_, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
	require.ErrorContains(t, err, "connection lost")
	s.requireState(t, v.ID, "capturing")
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 1)
	s.requireState(t, v.ID, payflow.StateHeld)
	assert.Equal(t, held, s.allBalances(t), "nothing moved")

	got, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, got.State)
	assert.Equal(t, [2][2]payflow.Balance{{{Posted: funds}, {}}, {{}, {Posted: 10}}}, s.allBalances(t), "the hold is voided")
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestCaptureLeftUnderWayWithClosedAccount: the recovery sweep that
// finishes a capture left under way (capturing) meets an account closed
// since: it puts the request back to held, posting nothing, and counts
// the settlement finished; the capture succeeds once the account is
// reopened.
func TestCaptureLeftUnderWayWithClosedAccount(t *testing.T) {
	s := newShop(t, true, paytest.Options{})
	v := heldTicketRequest(t, s)
	s.recordCapturing(t, v.ID, 240)
	closing := closeAccount(t, s, payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID), eurLedger)

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 1)
	s.requireState(t, v.ID, payflow.StateHeld)
	assert.Equal(t, held, s.allBalances(t), "nothing moved")
	requirePostsUnmade(t, s, v.ID)

	captureReopened(t, s, closing, v.ID)
}

// TestCaptureMadeBeforeAccountClosed: a manual capture whose posts the
// ledger made but whose record was lost (the request left capturing), an
// account of the payment closed since, is finished by the recovery sweep
// or by the same capture sent again: the ledger answers posts it made
// exists whatever their accounts, so the request ends captured with its
// receipt, the money moved once, and a later cancellation is final_state.
func TestCaptureMadeBeforeAccountClosed(t *testing.T) {
	ctx := context.Background()
	for _, c := range closedCases {
		for _, sweep := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s sweep %v", c.name, sweep), func(t *testing.T) {
				st := &updateHook{Store: memory.New()}
				s := newShopOn(t, st, true, paytest.Options{})
				v := heldTicketRequest(t, s)
				st.hook = func(p *payflow.PaymentRecord, from string) error {
					if from == "capturing" {
						st.hook = nil
						return errLost
					}
					return nil
				}
				_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
				require.ErrorIs(t, err, errLost)
				s.requireState(t, v.ID, "capturing")
				require.Equal(t, paid, s.allBalances(t), "the ledger made the posts")
				closeAccount(t, s, c.account(s), c.lc)

				var got *payflow.PaymentView
				if sweep {
					s.Clock.Advance(payflow.DefaultRecoverAfter)
					s.sweep(t, 1)
					got, err = s.Platform.Payment(ctx, s.seller.Token, v.ID)
				} else {
					got, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
				}
				require.NoError(t, err)
				assert.Equal(t, payflow.StateCaptured, got.State)
				assert.Equal(t, uint64(240), got.Captured)
				rc := s.VerifiedReceipt(t, got.Receipt)
				assert.Equal(t, uint64(240), rc.Amount)
				post0, post1 := payflow.TransferID(v.ID, 1, 0, 2), payflow.TransferID(v.ID, 1, 1, 2)
				assert.Equal(t, [][]byte{post0[:], post1[:]}, rc.TransferIDs)
				assert.Equal(t, paid, s.allBalances(t), "the money moved once")

				_, err = s.Platform.Cancel(ctx, s.seller.Token, v.ID)
				require.ErrorIs(t, err, payflow.ErrFinal)
				s.requireState(t, v.ID, payflow.StateCaptured)
				s.sweep(t, 0)
				assert.Equal(t, paid, s.allBalances(t))
				require.NoError(t, s.Ledger.Verify(ctx))
			})
		}
	}
}

// TestRefundClosedAccount: a refund that the ledger refuses because the
// merchant's account or the payer's wallet is closed fails for good as
// one the merchant's balance cannot cover (insufficient_funds naming the
// account and the ledger's result): the refund is failed, its
// reservation released, nothing moved, and the same signed refund again
// gets the refusal. A new refund ID refunds once the account is reopened.
func TestRefundClosedAccount(t *testing.T) {
	ctx := context.Background()
	for _, c := range []closedCase{
		{"payer's wallet", payflow.AccountWallet, eurLedger, 0, ledger.TransferCreditAccountAlreadyClosed},
		{"merchant's account", payflow.AccountMerchant, eurLedger, 0, ledger.TransferDebitAccountAlreadyClosed},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{})
			v, _ := s.request(t)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
			require.NoError(t, err)
			before := s.balances(t)
			id := c.account(s)
			closing := closeAccount(t, s, id, c.lc)

			refundID := []byte("refund-000000001")
			msg := s.seller.MustSign(&record.RefundRequest{RefundID: refundID, RequestID: v.ID[:], Amount: 200, Currency: "EUR"})
			_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.ErrorIs(t, err, payflow.ErrFunds)
			assert.EqualError(t, err, fmt.Sprintf("payflow: insufficient funds: ledger: account %v is closed: %v", id, c.result))
			_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.ErrorIs(t, err, payflow.ErrFunds, "final")
			assert.EqualError(t, err, "payflow: insufficient funds: the ledger refused the refund: the merchant's balance did not cover it, or an account was closed or missing")
			ref, err := s.Store.Refund(ctx, payflow.ID(refundID))
			require.NoError(t, err)
			assert.Equal(t, payflow.RefundFailed, ref.State)
			assert.Equal(t, "insufficient_funds", ref.Failure)
			p, err := s.Store.Payment(ctx, v.ID)
			require.NoError(t, err)
			assert.Equal(t, uint64(0), p.Refunded, "the reservation is released")
			assert.Equal(t, before, s.balances(t), "nothing moved")
			requireSpent(t, s, payflow.TransferID(payflow.ID(refundID), 0, 0, 4))

			reopenAccount(t, s, closing)
			msg = s.seller.MustSign(&record.RefundRequest{RefundID: []byte("refund-000000002"), RequestID: v.ID[:], Amount: 200, Currency: "EUR"})
			rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.NoError(t, err)
			assert.Equal(t, uint64(200), rv.Refunded)
			assert.Equal(t, [2]payflow.Balance{{Posted: before[0].Posted + 200}, {Posted: before[1].Posted - 200}}, s.balances(t))
		})
	}
}

// TestFundClosedWallet: funding a wallet that the ledger holds closed is
// conflict naming the account, before any transfer: the funding ID is not
// spent and funds the wallet once it is reopened. A wallet closed after
// the platform looked has the ledger refuse the transfer and keep its ID
// failed: conflict, then and for every retry of that ID.
func TestFundClosedWallet(t *testing.T) {
	ctx := context.Background()
	ls := &staleLookups{Store: ledgermemory.New()}
	s := newShopOnLedger(t, memory.New(), ls, false, paytest.Options{})
	id := payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID)
	closing := closeAccount(t, s, id, eurLedger)

	err := s.Platform.Fund(ctx, payflow.ID{7}, s.shopper.ID, "EUR", 100)
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, fmt.Sprintf("payflow: conflicting request: ledger: account %v (code 1, ledger 978) is closed", id))
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))

	ls.stale = true
	err = s.Platform.Fund(ctx, payflow.ID{8}, s.shopper.ID, "EUR", 100)
	ls.stale = false
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, fmt.Sprintf("payflow: conflicting request: ledger: account %v is closed: credit_account_already_closed (the ledger keeps the refused transfer's ID: use another)", id))
	requireSpent(t, s, payflow.TransferID(payflow.ID{8}, 0, 0, 5))

	reopenAccount(t, s, closing)
	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{7}, s.shopper.ID, "EUR", 100), "the ID is not spent")
	err = s.Platform.Fund(ctx, payflow.ID{8}, s.shopper.ID, "EUR", 100)
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, "payflow: conflicting request: ledger: the transfer under this ID was refused before, its account closed (the ledger keeps the refused transfer's ID: use another)")
	assert.Equal(t, [2]payflow.Balance{{Posted: funds + 100}, {}}, s.balances(t))
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestIssueToClosedAccount: issuing an asset to a merchant whose account
// in it the ledger holds closed is conflict naming the account, before
// any transfer; the issue ID issues once the account is reopened.
func TestIssueToClosedAccount(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	id := payflow.AccountID(payflow.AccountMerchant, ticketLedger, merchantID)
	closing := closeAccount(t, s, id, ticketLedger)
	err := s.Platform.Issue(ctx, payflow.ID{9}, merchantID, paytest.Ticket, 5)
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, fmt.Sprintf("payflow: conflicting request: ledger: account %v (code 2, ledger %d) is closed", id, ticketLedger))
	reopenAccount(t, s, closing)
	require.NoError(t, s.Platform.Issue(ctx, payflow.ID{9}, merchantID, paytest.Ticket, 5))
	b, err := s.Platform.Balance(ctx, merchantID, paytest.Ticket)
	require.NoError(t, err)
	assert.Equal(t, uint64(15), b.Posted)
}

// TestFundIssueMadeBeforeAccountClosed: a funding or an asset issue that
// the ledger made, sent again under the same ID after the receiving
// account was closed (its reply lost, say), answers as the first call
// did and moves nothing more: the ledger answers a transfer it made
// exists whatever its accounts. The same ID with another amount is
// conflict, as it is with the account open.
func TestFundIssueMadeBeforeAccountClosed(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{7}, s.shopper.ID, "EUR", 100))
	closeAccount(t, s, payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID), eurLedger)
	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{7}, s.shopper.ID, "EUR", 100), "the funding was made")
	err := s.Platform.Fund(ctx, payflow.ID{7}, s.shopper.ID, "EUR", 200)
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, "payflow: conflicting request: ledger: exists_with_different_amount")
	assert.Equal(t, [2]payflow.Balance{{Posted: funds + 100}, {}}, s.balances(t), "funded once")

	require.NoError(t, s.Platform.Issue(ctx, payflow.ID{9}, merchantID, paytest.Ticket, 5))
	closeAccount(t, s, payflow.AccountID(payflow.AccountMerchant, ticketLedger, merchantID), ticketLedger)
	require.NoError(t, s.Platform.Issue(ctx, payflow.ID{9}, merchantID, paytest.Ticket, 5), "the issue was made")
	b, err := s.Platform.Balance(ctx, merchantID, paytest.Ticket)
	require.NoError(t, err)
	assert.Equal(t, uint64(15), b.Posted, "issued once")
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestCaptureRefusedWhileSweepPosts: a capture driven twice, the merchant's
// capture and the recovery sweep, where the first finds the merchant's
// account closed and no post made and the second, the account reopened
// meanwhile, makes the posts; the first records the capture refused
// (held) before the second records it captured. The second, whose
// compare-and-set fails, reads the request held, records it capturing
// again and ends it captured with its receipt: the money moved, once.
// The first call answers conflict, as it found the account closed. The
// hold's expiry then leaves the request as it is, readable.
func TestCaptureRefusedWhileSweepPosts(t *testing.T) {
	ctx := context.Background()
	st := &updateHook{Store: memory.New()}
	s := newShopOn(t, st, true, paytest.Options{})
	v := s.held(t)
	closing := closeAccount(t, s, payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID), eurLedger)
	aAt, releaseA := make(chan struct{}), make(chan struct{})
	bAt, releaseB := make(chan struct{}), make(chan struct{})
	var once, released [2]sync.Once
	release := func(i int, ch chan struct{}) { released[i].Do(func() { close(ch) }) }
	// A wait that fails the test leaves no driver blocked in its hook.
	t.Cleanup(func() { release(0, releaseA); release(1, releaseB) })
	st.hook = func(p *payflow.PaymentRecord, from string) error {
		switch {
		case from == "capturing" && p.State == payflow.StateHeld:
			once[0].Do(func() { close(aAt); <-releaseA })
		case from == "capturing" && p.State == payflow.StateCaptured:
			once[1].Do(func() { close(bAt); <-releaseB })
		}
		return nil
	}
	aDone := make(chan error, 1)
	go func() {
		_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
		aDone <- err
	}()
	// The capture found the account closed, no post made; its record waits.
	within(t, aAt, "the capture's record of the refusal (held)")
	reopenAccount(t, s, closing)
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	type swept struct {
		n   int
		err error
	}
	bDone := make(chan swept, 1)
	go func() {
		n, err := s.Platform.RecoverSweep(ctx, 0)
		bDone <- swept{n, err}
	}()
	// The sweep made the posts; its record waits.
	within(t, bAt, "the sweep's record of the capture (captured)")
	release(0, releaseA)
	errA := within(t, aDone, "the capture's return") // recorded held
	release(1, releaseB)
	b := within(t, bDone, "the sweep's return")
	require.ErrorIs(t, errA, payflow.ErrConflict, "the capture found the account closed")
	require.NoError(t, b.err)
	assert.Equal(t, 1, b.n, "the sweep finished the settlement")

	r, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, r.State, "the ledger posted the capture")
	assert.Equal(t, uint64(690), r.Captured)
	rc := s.VerifiedReceipt(t, r.Receipt)
	assert.Equal(t, uint64(690), rc.Amount)
	post := payflow.TransferID(v.ID, 1, 0, 2)
	assert.Equal(t, [][]byte{post[:]}, rc.TransferIDs)
	assert.Equal(t, basketPaid, s.balances(t), "the money moved once")

	s.Clock.Advance(payflow.DefaultHoldTTL)
	s.RefreshCRLs()
	s.seller.Login(record.RoleSeller)
	got, err := s.Platform.Payment(ctx, s.seller.Token, v.ID)
	require.NoError(t, err, "a read after the hold's expiry")
	assert.Equal(t, payflow.StateCaptured, got.State)
	assert.Equal(t, r.Receipt, got.Receipt)
	n, err := s.Platform.ExpireDue(ctx, 0)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Equal(t, basketPaid, s.balances(t))
	require.NoError(t, s.Ledger.Verify(ctx))
}
