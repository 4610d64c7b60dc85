package paytest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// Shop is a fixture with a funded shopper and a merchant whose seller card
// is logged in and paired with the shopper's.
type Shop struct {
	*Fixture
	Shopper, Seller *Card
	Session         *payflow.SessionView
}

// Names and amounts of a Shop.
const (
	MerchantID = "grocer-1"
	Funds      = 10_000
	Ticket     = "ticket:concert"
	TicketCode = 100_001
)

// Catalog is the catalog of a Shop's merchant.
var Catalog = []payflow.CatalogItem{
	{SKU: "apple", Name: "Apple", UnitPrice: 120},
	{SKU: "bread", Name: "Sourdough bread", UnitPrice: 450},
}

// NewShop enrols a shopper (funded with Funds EUR) and a merchant (EUR,
// Catalog, manual capture if asked, 10 tickets in stock), logs both cards
// in and pairs them.
func NewShop(f *Fixture, manual bool) *Shop {
	tb := f.TB
	tb.Helper()
	ctx := context.Background()
	s := &Shop{Fixture: f, Shopper: f.NewCard("Alice"), Seller: f.NewCard("Till 1")}
	must(tb, f.Platform.EnrollMerchant(ctx, payflow.Merchant{
		ID: MerchantID, Name: "Corner Grocer", Currency: "EUR", ManualCapture: manual, SellerCardIDs: []string{s.Seller.ID},
	}))
	must(tb, f.Platform.SetCatalog(ctx, MerchantID, Catalog))
	must(tb, f.Platform.OpenAccount(ctx, s.Shopper.ID, "EUR"))
	must(tb, f.Platform.Fund(ctx, payflow.ID{1}, s.Shopper.ID, "EUR", Funds))
	must(tb, f.Platform.RegisterAsset(ctx, Ticket, TicketCode))
	must(tb, f.Platform.Issue(ctx, payflow.ID{2}, MerchantID, Ticket, 10))
	s.Shopper.Login(record.RoleShopper)
	s.Seller.Login(record.RoleSeller)
	s.Session = f.Pair(s.Shopper, s.Seller)
	return s
}

// Balances returns the shopper's and the merchant's balances in unit.
func (s *Shop) Balances(unit string) [2]payflow.Balance {
	s.TB.Helper()
	a, err := s.Platform.Balance(context.Background(), s.Shopper.ID, unit)
	must(s.TB, err)
	b, err := s.Platform.Balance(context.Background(), MerchantID, unit)
	must(s.TB, err)
	return [2]payflow.Balance{a, b}
}

// Create has the seller sign r and creates it.
func (s *Shop) Create(r *record.PaymentRequest) (*payflow.PaymentView, error) {
	msg, err := s.Seller.Sign(r)
	if err != nil {
		return nil, err
	}
	return s.Platform.CreateRequest(context.Background(), &payflow.CreateRequest{Request: msg})
}

// createPending has the seller sign a request of amount EUR in the
// shop's session, with legs, and creates it, pending.
func (s *Shop) createPending(amount uint64, legs ...record.Leg) *payflow.PaymentView {
	s.TB.Helper()
	r := Request(s.Session, "EUR", amount)
	r.Legs = legs
	v, err := s.Create(r)
	must(s.TB, err)
	require.Equal(s.TB, payflow.StatePending, v.State)
	return v
}

// createHeld creates a request of amount EUR with legs as createPending
// does and has the shopper approve it, for a shop whose merchant
// captures manually: the request is held.
func (s *Shop) createHeld(amount uint64, legs ...record.Leg) *payflow.PaymentView {
	s.TB.Helper()
	v, err := s.Platform.Approve(context.Background(), &payflow.ApproveRequest{Consent: s.Consent(s.createPending(amount, legs...).ID)})
	must(s.TB, err)
	require.Equal(s.TB, payflow.StateHeld, v.State)
	return v
}

// createSigned creates a request of amount EUR as createPending does
// and returns the seller-signed request, for the test to send again.
func (s *Shop) createSigned(amount uint64) []byte {
	s.TB.Helper()
	msg, err := s.Seller.Sign(Request(s.Session, "EUR", amount))
	must(s.TB, err)
	_, err = s.Platform.CreateRequest(context.Background(), &payflow.CreateRequest{Request: msg})
	must(s.TB, err)
	return msg
}

// VerifiedReceipt verifies the platform's receipt msg as a phone does,
// offline (by the chain it carries, or the platform's chain for one
// without), and returns it.
func (f *Fixture) VerifiedReceipt(t *testing.T, msg []byte) *record.Receipt {
	t.Helper()
	var rc record.Receipt
	_, err := f.PlatformVerifier.VerifyReceipt(msg, f.PlatformChain, &rc)
	require.NoError(t, err)
	return &rc
}

// expireOne advances the clock by d, refreshes the CRLs, and checks that
// ExpireDue then expires one request or hold of the shop: request id,
// stored expired.
func (s *Shop) expireOne(t *testing.T, d time.Duration, id payflow.ID) {
	t.Helper()
	s.Clock.Advance(d)
	s.RefreshCRLs()
	n, err := s.Platform.ExpireDue(context.Background(), 0)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "one expired")
	assert.Equal(t, payflow.StateExpired, s.storedState(id))
}

// storedState is the state in which the store holds request id.
func (s *Shop) storedState(id payflow.ID) string {
	s.TB.Helper()
	r, err := s.Store.Payment(context.Background(), id)
	must(s.TB, err)
	return r.State
}

// unposted checks that the ledger holds no post of the holds of request
// id's first consent, of its money and of one asset leg.
func (s *Shop) unposted(t *testing.T, id payflow.ID) {
	t.Helper()
	found, err := s.Ledger.LookupTransfers(context.Background(), []ledger.ID{
		payflow.TransferID(id, 1, 0, kindPost), payflow.TransferID(id, 1, 1, kindPost),
	})
	require.NoError(t, err)
	assert.Empty(t, found, "no post of the hold")
}

// Consent fetches the payer's view of request id and signs a consent to it.
func (s *Shop) Consent(id payflow.ID) []byte {
	s.TB.Helper()
	c, err := s.consent(id)
	must(s.TB, err)
	return c
}

func (s *Shop) consent(id payflow.ID) ([]byte, error) {
	pv, err := s.Platform.Payment(context.Background(), s.Shopper.Token, id)
	if err != nil {
		return nil, err
	}
	return s.Shopper.Sign(Consent(pv))
}

// RunPlatform runs purchases end to end on the platforms that newFixture
// builds (one per subtest, over the store under test and a ledger in the
// same database): a catalog purchase with refunds, an e-ticket sold with
// its price all or nothing, manual capture, a seller card pairing again in
// its session (before or during an approval), a pairing into a session
// that has expired, a request that expires during an approval, a capture
// left under way until the ledger expired its hold, a hold posted while
// its request was recorded held, holds posted or post IDs taken by
// transfers the platform did not make, the IDs of an approval's hold chain
// so taken (some of its holds made), a refund's transfer ID so taken,
// refunds of a capture in part sent at once by several seller cards (never
// more than captured), a leg's merchant account that the ledger holds with
// other fields, a merchant whose account in its currency the ledger does
// not hold, a hold that expires during a capture, a request or a hold that
// expires during a decline or a cancellation, a pending request left with
// a pairing's mark, the requests of a seller card revoked after it signed
// them, the requests of a shopper card revoked, a consent sent again after
// its nonce expired while its settlement's record was lost, recovery
// sweeps that go past settlements and refunds failing at every try, a
// settlement deferred by a sweep that a call then moves on (no longer
// deferred), and approve racing cancel and a capture sent twice racing
// cancel on two platforms sharing the database.
func RunPlatform(t *testing.T, newFixture func(t *testing.T) *Fixture) {
	ctx := context.Background()
	t.Run("PurchaseAndRefund", func(t *testing.T) {
		s := NewShop(newFixture(t), false)
		v, err := s.Create(Request(s.Session, "EUR", 690, record.Item{SKU: "apple", Quantity: 2}, record.Item{SKU: "bread", Quantity: 1}))
		require.NoError(t, err)
		done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(v.ID)})
		require.NoError(t, err)
		assert.Equal(t, payflow.StateCaptured, done.State)
		assert.Equal(t, uint64(690), s.VerifiedReceipt(t, done.Receipt).Amount)
		assert.Equal(t, [2]payflow.Balance{{Posted: Funds - 690}, {Posted: 690}}, s.Balances("EUR"))
		ref := &record.RefundRequest{RefundID: []byte("refund-000000001"), RequestID: v.ID[:], Amount: 690, Currency: "EUR"}
		msg := s.Seller.MustSign(ref)
		for range 2 {
			rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.NoError(t, err)
			assert.Equal(t, uint64(690), rv.Refunded)
		}
		ref.RefundID = []byte("refund-000000002")
		ref.Amount = 1
		_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: s.Seller.MustSign(ref)})
		assert.ErrorIs(t, err, payflow.ErrLimit)
		assert.Equal(t, [2]payflow.Balance{{Posted: Funds}, {Posted: 0}}, s.Balances("EUR"))
	})
	t.Run("TicketAllOrNothing", func(t *testing.T) {
		s := NewShop(newFixture(t), false)
		r := Request(s.Session, "EUR", 2500)
		r.Legs = []record.Leg{{Asset: Ticket, Amount: 2}}
		v, err := s.Create(r)
		require.NoError(t, err)
		done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(v.ID)})
		require.NoError(t, err)
		assert.Equal(t, payflow.StateCaptured, done.State)
		assert.Equal(t, [2]payflow.Balance{{Posted: 2}, {Posted: 8}}, s.Balances(Ticket))
		assert.Equal(t, [2]payflow.Balance{{Posted: Funds - 2500}, {Posted: 2500}}, s.Balances("EUR"))
		var rc record.Receipt
		require.NoError(t, record.Open(done.Receipt, &rc))
		assert.Len(t, rc.TransferIDs, 2)
		assert.Equal(t, []record.Leg{{Asset: Ticket, Amount: 2}}, rc.Legs)

		// More tickets than in stock: neither leg moves.
		r = Request(s.Session, "EUR", 100)
		r.Legs = []record.Leg{{Asset: Ticket, Amount: 9}}
		v, err = s.Create(r)
		require.NoError(t, err)
		_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(v.ID)})
		assert.ErrorIs(t, err, payflow.ErrFunds)
		assert.Equal(t, [2]payflow.Balance{{Posted: 2}, {Posted: 8}}, s.Balances(Ticket))
		assert.Equal(t, [2]payflow.Balance{{Posted: Funds - 2500}, {Posted: 2500}}, s.Balances("EUR"))

		// An unregistered asset is refused at creation.
		r = Request(s.Session, "EUR", 100)
		r.Legs = []record.Leg{{Asset: "ticket:unknown", Amount: 1}}
		_, err = s.Create(r)
		assert.ErrorIs(t, err, payflow.ErrInvalid)
	})
	t.Run("ManualCapture", func(t *testing.T) {
		s := NewShop(newFixture(t), true)
		v, err := s.Create(Request(s.Session, "EUR", 1000))
		require.NoError(t, err)
		held, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(v.ID)})
		require.NoError(t, err)
		assert.Equal(t, payflow.StateHeld, held.State)
		assert.Equal(t, [2]payflow.Balance{{Posted: Funds, Held: 1000}, {Incoming: 1000}}, s.Balances("EUR"))
		c, err := s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: v.ID, Amount: 800})
		require.NoError(t, err)
		assert.Equal(t, uint64(800), c.Captured)
		assert.Equal(t, [2]payflow.Balance{{Posted: Funds - 800}, {Posted: 800}}, s.Balances("EUR"))
	})
	t.Run("SellerPairsAgain", func(t *testing.T) { sellerPairsAgain(t, NewShop(newFixture(t), true)) })
	t.Run("PairingIntoExpiredSession", func(t *testing.T) { pairingIntoExpiredSession(t, NewShop(newFixture(t), false)) })
	t.Run("SellerPairsDuringApproval", func(t *testing.T) { sellerPairsDuringApproval(t, newFixture(t)) })
	t.Run("ExpiryDuringApproval", func(t *testing.T) { expiryDuringApproval(t, newFixture(t)) })
	t.Run("CaptureMeetsExpiredHold", func(t *testing.T) { captureMeetsExpiredHold(t, NewShop(newFixture(t), true)) })
	t.Run("HoldPostedWhileHeld", func(t *testing.T) { holdPostedWhileHeld(t, NewShop(newFixture(t), true)) })
	t.Run("HoldPostedOtherwise", func(t *testing.T) {
		holdPostedOtherwise(t, func(t *testing.T) *Shop { return NewShop(newFixture(t), true) })
	})
	t.Run("PostsTaken", func(t *testing.T) { postsTaken(t, NewShop(newFixture(t), true)) })
	t.Run("ApprovalIDTaken", func(t *testing.T) {
		approvalIDTaken(t, func(t *testing.T, manual bool) *Shop { return NewShop(newFixture(t), manual) })
	})
	t.Run("RefundIDTaken", func(t *testing.T) { refundIDTaken(t, NewShop(newFixture(t), false)) })
	t.Run("RefundsAtOnce", func(t *testing.T) { refundsAtOnce(t, NewShop(newFixture(t), true)) })
	t.Run("LegAccountTaken", func(t *testing.T) { legAccountTaken(t, NewShop(newFixture(t), false)) })
	t.Run("MerchantAccountMissing", func(t *testing.T) { merchantAccountMissing(t, NewShop(newFixture(t), false)) })
	t.Run("ExpiryDuringCapture", func(t *testing.T) { expiryDuringCapture(t, NewShop(newFixture(t), true)) })
	t.Run("ExpiryDuringDecline", func(t *testing.T) { expiryDuringDecline(t, NewShop(newFixture(t), false)) })
	t.Run("ExpiryDuringCancellation", func(t *testing.T) { expiryDuringCancellation(t, NewShop(newFixture(t), true)) })
	t.Run("StaleMark", func(t *testing.T) { staleMark(t, NewShop(newFixture(t), false)) })
	t.Run("RevokedSellerCard", func(t *testing.T) { revokedSellerCard(t, newFixture(t)) })
	t.Run("RevokedShopperCard", func(t *testing.T) { revokedShopperCard(t, NewShop(newFixture(t), true)) })
	t.Run("ConsentSentAgainLate", func(t *testing.T) { consentSentAgainLate(t, newFixture(t)) })
	t.Run("SweepPastFailures", func(t *testing.T) { sweepPastFailures(t, NewShop(newFixture(t), false)) })
	t.Run("SweepPastFailedRefunds", func(t *testing.T) { sweepPastFailedRefunds(t, NewShop(newFixture(t), false)) })
	t.Run("DeferralClearedByNextStep", func(t *testing.T) { deferralClearedByNextStep(t, NewShop(newFixture(t), true)) })
	t.Run("CaptureCancelRace", func(t *testing.T) {
		f := newFixture(t)
		captureCancelRace(t, NewShop(f, true), f.otherPlatform(f.Store))
	})
	t.Run("ApproveCancelRace", func(t *testing.T) {
		f := newFixture(t)
		s := NewShop(f, false)
		other, err := payflow.NewPlatform(payflow.PlatformOptions{
			Ledger: f.Ledger, Store: f.Store, Verifier: f.Verifier, Key: f.Key, Chain: f.PlatformChain, Now: f.Clock.Now,
		})
		require.NoError(t, err)
		for range 5 {
			RaceApproveCancel(t, s, other)
		}
	})
}

// legAccountTaken: a consent to a request with a leg in an asset whose
// merchant's account ID the ledger holds with other fields (without
// debits_must_not_exceed_credits, or in another ledger) is refused with
// ErrConflict before it is accepted: the consent is unspent (sent again,
// it is refused alike), the request stays pending, nothing moves, no
// ticket wallet is created, and the recovery sweep finds no settlement
// left.
func legAccountTaken(t *testing.T, s *Shop) {
	ctx := context.Background()
	for i, taken := range []ledger.Account{
		{Ledger: 100_002, Code: payflow.AccountMerchant},
		{Ledger: 100_004, Code: payflow.AccountMerchant, Flags: ledger.AccountDebitsMustNotExceedCredits},
	} {
		asset, lc := fmt.Sprintf("ticket:taken-%d", i), uint32(100_002+i)
		require.NoError(t, s.Platform.RegisterAsset(ctx, asset, lc))
		taken.ID = payflow.AccountID(payflow.AccountMerchant, lc, MerchantID)
		res, err := s.Ledger.CreateAccounts(ctx, []ledger.Account{taken})
		require.NoError(t, err)
		require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated}, res)
		r := Request(s.Session, "EUR", 120, record.Item{SKU: "apple", Quantity: 1})
		r.Legs = []record.Leg{{Asset: asset, Amount: 5}}
		v, err := s.Create(r)
		require.NoError(t, err)
		before := s.Balances("EUR")

		consent := s.Consent(v.ID)
		_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
		require.ErrorIs(t, err, payflow.ErrConflict, asset)
		_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
		require.ErrorIs(t, err, payflow.ErrConflict, "the consent, unspent, sent again: %s", asset)
		assert.Equal(t, payflow.StatePending, s.storedState(v.ID), asset)
		assert.Equal(t, before, s.Balances("EUR"), asset)
		_, err = s.Platform.Balance(ctx, s.Shopper.ID, asset)
		assert.ErrorIs(t, err, payflow.ErrNotFound, "no ticket wallet: %s", asset)
	}
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 0, nil, "no settlement left")
	require.NoError(t, s.Ledger.Verify(ctx))
}

// merchantAccountMissing: a consent to a request of a merchant whose
// account in the currency the ledger does not hold (the merchant written
// to the store without its enrolment's account, as a ledger restored from
// an older copy leaves it) is refused with ErrFunds, as a hold the ledger
// refuses for a missing account (credit_account_not_found): the request is
// pending again, the consent spent, nothing moved, and the recovery sweep
// finds nothing under way. Another consent is refused alike, under the
// next attempt's IDs; the merchant can cancel the request, and one left
// alone expires.
func merchantAccountMissing(t *testing.T, s *Shop) {
	ctx := context.Background()
	till := s.NewCard("Till 9")
	require.NoError(t, s.Store.PutMerchant(ctx, &payflow.Merchant{
		ID: "grocer-9", Name: "Grocer without an account", Currency: "EUR", SellerCardIDs: []string{till.ID},
	}))
	till.Login(record.RoleSeller)
	session := s.Pair(s.Shopper, till)
	create := func() payflow.ID {
		t.Helper()
		v, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: till.MustSign(Request(session, "EUR", 100))})
		require.NoError(t, err)
		return v.ID
	}
	refused := func(id payflow.ID, attempt uint32) {
		t.Helper()
		consent := s.Consent(id)
		_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
		require.ErrorIs(t, err, payflow.ErrFunds)
		assert.ErrorContains(t, err, "credit_account_not_found")
		r, err := s.Store.Payment(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, payflow.StatePending, r.State, "pending again")
		assert.Nil(t, r.Consent, "the consent spent")
		assert.Equal(t, attempt, r.Attempt)
		assert.Equal(t, untouchedEUR, s.Balances("EUR"), "nothing moved")
		_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
		assert.ErrorIs(t, err, payflow.ErrReplay, "the consent sent again")
	}

	cancelled, expiring := create(), create()
	refused(cancelled, 1)
	refused(expiring, 1)
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 0, nil, "nothing under way")
	refused(cancelled, 2)
	v, err := s.Platform.Cancel(ctx, till.Token, cancelled)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, v.State)
	s.expireOne(t, payflow.DefaultRequestTTL, expiring)
	assert.Equal(t, untouchedEUR, s.Balances("EUR"), "nothing moved")
	require.NoError(t, s.Ledger.Verify(ctx))
}

// sellerPairsAgain: the seller card's new pairing proof in a paired
// session cancels the session's pending requests, as a seller's cancel
// does (a consent to one is ErrFinal and moves nothing), and leaves a held
// one; the shopper card's cancels nothing.
func sellerPairsAgain(t *testing.T, s *Shop) {
	ctx := context.Background()
	pair := func(c *Card, role record.Role, peer *Card) {
		t.Helper()
		v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: c.Proof(role, peer.EID())})
		require.NoError(t, err)
		require.Equal(t, s.Session.ID, v.ID, "the same session")
		require.Equal(t, payflow.SessionPaired, v.State)
	}
	state := func(id payflow.ID) string {
		t.Helper()
		v, err := s.Platform.Payment(ctx, s.Seller.Token, id)
		require.NoError(t, err)
		return v.State
	}
	held, err := s.Create(Request(s.Session, "EUR", 1000))
	require.NoError(t, err)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(held.ID)})
	require.NoError(t, err)
	left, err := s.Create(Request(s.Session, "EUR", 300))
	require.NoError(t, err)
	stale, err := s.Create(Request(s.Session, "EUR", 200))
	require.NoError(t, err)
	leftConsent := s.Consent(left.ID)
	// The shopper's screen shows stale, with its consent nonce; the card
	// signs the consent later.
	staleView, err := s.Platform.Payment(ctx, s.Shopper.Token, stale.ID)
	require.NoError(t, err)
	before := s.Balances("EUR")
	require.Equal(t, [2]payflow.Balance{{Posted: Funds, Held: 1000}, {Incoming: 1000}}, before)

	// A seller's cancel, for comparison.
	_, err = s.Platform.Cancel(ctx, s.Seller.Token, left.ID)
	require.NoError(t, err)
	_, cancelledErr := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: leftConsent})
	require.ErrorIs(t, cancelledErr, payflow.ErrFinal)

	pair(s.Shopper, record.RoleShopper, s.Seller)
	assert.Equal(t, payflow.StatePending, state(stale.ID), "the shopper's pairing proof cancels nothing")
	pair(s.Seller, record.RoleSeller, s.Shopper)
	assert.Equal(t, payflow.StateCancelled, state(stale.ID), "the seller's pairing proof cancels the pending request")
	assert.Equal(t, payflow.StateHeld, state(held.ID), "and leaves the held one")
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.Shopper.MustSign(Consent(staleView))})
	assert.ErrorIs(t, err, payflow.ErrFinal, "as after a seller's cancel (%v)", cancelledErr)
	assert.Equal(t, before, s.Balances("EUR"), "no money moved")

	// The held one is captured as before; a new request is pending.
	_, err = s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: held.ID})
	require.NoError(t, err)
	assert.Equal(t, [2]payflow.Balance{{Posted: Funds - 1000}, {Posted: 1000}}, s.Balances("EUR"))
	fresh, err := s.Create(Request(s.Session, "EUR", 100))
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, fresh.State)
}

// pairingIntoExpiredSession: a pairing proof into a session that has
// expired is ErrExpired and spends its nonce and counter, as any record
// refused for good does, but writes nothing: the seller card's cancels no
// pending request of the session, a shopper card's sets no confirmation.
func pairingIntoExpiredSession(t *testing.T, s *Shop) {
	ctx := context.Background()
	proof := func(c *Card, role record.Role, eid, peerEID []byte) []byte {
		t.Helper()
		ch, err := s.Platform.Challenge(ctx, &payflow.ChallengeRequest{CardID: c.ID})
		require.NoError(t, err)
		return c.MustSign(&record.AuthProof{Nonce: ch.Nonce, Role: role, EID: eid, PeerEID: peerEID})
	}
	// The EIDs that name the sessions, still the cards' own once the next
	// epoch has begun.
	shopperEID, sellerEID := s.Shopper.EID(), s.Seller.EID()
	r := Request(s.Session, "EUR", 300)
	r.TTL = 900 // outlives the session
	v, err := s.Create(r)
	require.NoError(t, err)
	// A session that the seller card opened with another shopper, who
	// has not confirmed it.
	bob := s.NewCard("Bob")
	bobEID := bob.EID()
	w, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof(s.Seller, record.RoleSeller, sellerEID, bobEID)})
	require.NoError(t, err)
	require.Equal(t, payflow.SessionWaiting, w.State)

	s.Clock.Advance(10 * time.Minute) // both sessions expire
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof(bob, record.RoleShopper, bobEID, sellerEID)})
	require.ErrorIs(t, err, payflow.ErrExpired)
	stored, err := s.Store.Session(ctx, w.ID)
	require.NoError(t, err)
	assert.False(t, stored.ShopperConfirmed, "an expired session is not confirmed")

	earlier := proof(s.Seller, record.RoleSeller, sellerEID, shopperEID)
	refused := proof(s.Seller, record.RoleSeller, sellerEID, shopperEID)
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: refused})
	require.ErrorIs(t, err, payflow.ErrExpired)
	pv, err := s.Platform.Payment(ctx, s.Seller.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, pv.State, "an expired session's pairing cancels nothing")
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: refused})
	assert.ErrorIs(t, err, payflow.ErrReplay, "the refused proof's nonce is spent")
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: earlier})
	assert.ErrorIs(t, err, payflow.ErrClone, "and its counter")
}

// sellerPairsDuringApproval: the seller card pairs again in its session
// while an approval is under way there (the ledger has answered, the
// request is still approving). When the ledger refused the hold, the
// request ends cancelled instead of pending: the approval fails with
// ErrFunds, a later consent with ErrFinal, and no money moves, although
// the wallet covers the amount by then. When the ledger held and
// captured, the capture stands and its money moved once.
func sellerPairsDuringApproval(t *testing.T, f *Fixture) {
	ctx := context.Background()
	s := NewShop(f, false)
	hooked := &hookedStore{Store: f.Store, from: payflow.StateApproving}
	other, err := payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: f.Ledger, Store: hooked, Verifier: f.Verifier, Key: f.Key, Chain: f.PlatformChain, Now: f.Clock.Now,
	})
	require.NoError(t, err)
	hooked.hook = func() error {
		v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.Seller.Proof(record.RoleSeller, s.Shopper.EID())})
		require.NoError(t, err)
		require.Equal(t, s.Session.ID, v.ID, "the same session")
		return nil
	}

	v, err := s.Create(Request(s.Session, "EUR", Funds+1))
	require.NoError(t, err)
	first, later := s.Consent(v.ID), s.Consent(v.ID)
	before := s.Balances("EUR")
	_, err = other.Approve(ctx, &payflow.ApproveRequest{Consent: first})
	require.ErrorIs(t, err, payflow.ErrFunds)
	pv, err := s.Platform.Payment(ctx, s.Shopper.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, pv.State, "a refused hold of an approval under way at the pairing ends it cancelled")
	assert.Nil(t, pv.ConsentNonce)
	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{3}, s.Shopper.ID, "EUR", Funds))
	funded := s.Balances("EUR")
	require.Equal(t, before[0].Posted+Funds, funded[0].Posted)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: later})
	assert.ErrorIs(t, err, payflow.ErrFinal, "a later consent")
	assert.Equal(t, funded, s.Balances("EUR"), "no money moved")

	hooked.once = sync.Once{}
	v, err = s.Create(Request(s.Session, "EUR", 100))
	require.NoError(t, err)
	done, err := other.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(v.ID)})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, done.State, "a hold made before the pairing is captured")
	assert.Equal(t, uint64(100), s.VerifiedReceipt(t, done.Receipt).Amount)
	assert.Equal(t, [2]payflow.Balance{{Posted: funded[0].Posted - 100}, {Posted: funded[1].Posted + 100}}, s.Balances("EUR"))
}

// untouchedEUR and untouchedTickets are the payer's and the merchant's
// balances of a shop in which nothing moved, or every hold was voided:
// Funds with the payer, the 10 tickets with the merchant.
var (
	untouchedEUR     = [2]payflow.Balance{{Posted: Funds}, {}}
	untouchedTickets = [2]payflow.Balance{{}, {Posted: 10}}
)

// expiryDuringApproval: a consent that arrives before the request's
// expiry, whose approval reaches the request's expiry while it reads the
// assets of the legs (before it accepts the consent), is refused
// ErrExpired, as a consent sent at the expiry is: the request ends
// expired, no money and no ticket moves, nothing is held, and the
// consent is spent (sent again it is ErrReplay, as a late consent sent
// again is).
func expiryDuringApproval(t *testing.T, f *Fixture) {
	ctx := context.Background()
	s := NewShop(f, false)
	slow := &slowAssets{Store: f.Store, clock: f.Clock}
	other, err := payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: f.Ledger, Store: slow, Verifier: f.Verifier, Key: f.Key, Chain: f.PlatformChain, Now: f.Clock.Now,
	})
	require.NoError(t, err)
	request := func() (*payflow.PaymentView, []byte) {
		t.Helper()
		r := Request(s.Session, "EUR", 2500)
		r.TTL = 10
		r.Legs = []record.Leg{{Asset: Ticket, Amount: 1}}
		v, err := s.Create(r)
		require.NoError(t, err)
		require.True(t, s.Clock.Now().Add(10*time.Second).Equal(v.ExpiresAt), v.ExpiresAt)
		return v, s.Consent(v.ID)
	}
	eur, tickets := untouchedEUR, untouchedTickets

	// For comparison, a consent sent at the request's expiry.
	late, lateConsent := request()
	s.Clock.Advance(10 * time.Second)
	_, lateErr := other.Approve(ctx, &payflow.ApproveRequest{Consent: lateConsent})
	require.ErrorIs(t, lateErr, payflow.ErrExpired)
	assert.Equal(t, payflow.StateExpired, s.storedState(late.ID))
	_, err = other.Approve(ctx, &payflow.ApproveRequest{Consent: lateConsent})
	require.ErrorIs(t, err, payflow.ErrReplay, "a late consent is spent")

	v, consent := request()
	s.Clock.Advance(10*time.Second - 100*time.Millisecond)
	require.Equal(t, eur, s.Balances("EUR"))
	slow.step.Store(int64(200 * time.Millisecond))
	_, err = other.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.ErrorIs(t, err, payflow.ErrExpired, "as a consent sent at the expiry (%v)", lateErr)
	assert.Equal(t, payflow.AsError(lateErr).Code, payflow.AsError(err).Code)
	assert.Zero(t, slow.step.Load(), "the approval read an asset")
	assert.Equal(t, payflow.StateExpired, s.storedState(v.ID))
	assert.Equal(t, eur, s.Balances("EUR"), "no money moved or held")
	assert.Equal(t, tickets, s.Balances(Ticket), "no ticket moved or held")
	_, err = other.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	assert.ErrorIs(t, err, payflow.ErrReplay, "the consent is spent")
	pv, err := s.Platform.Payment(ctx, s.Shopper.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateExpired, pv.State)
	assert.Nil(t, pv.ConsentNonce)
	n, err := s.Platform.RecoverSweep(ctx, 0)
	require.NoError(t, err)
	assert.Zero(t, n, "no settlement left to finish")
	assert.Equal(t, eur, s.Balances("EUR"))
}

// slowAssets is a Store whose Asset moves the clock forward by step (in
// nanoseconds; zero, the clock stays) before it reads, as a read that
// slow would take, and sets step to zero.
type slowAssets struct {
	payflow.Store
	clock *Clock
	step  atomic.Int64
}

func (s *slowAssets) Asset(ctx context.Context, name string) (payflow.Asset, error) {
	s.clock.Advance(time.Duration(s.step.Swap(0)))
	return s.Store.Asset(ctx, name)
}

// captureMeetsExpiredHold: a manual capture left under way (capturing,
// as a platform process leaves it when it dies after its compare-and-set)
// until past the ledger's timeout of the hold meets the hold expired in
// the ledger (pending_transfer_expired), both when the same capture is
// sent again and when the recovery sweep finishes it. Nothing is posted:
// the request ends expired, the ledger has released the hold, so the
// money and the ticket are back with their owners, and no post of the
// hold is in the ledger. The capture fails ErrExpired, with the code of
// a capture after the hold's expiry; the sweep counts the settlement
// finished.
func captureMeetsExpiredHold(t *testing.T, s *Shop) {
	ctx := context.Background()
	capturing := func(amount uint64) payflow.ID {
		t.Helper()
		id := s.createHeld(2500, record.Leg{Asset: Ticket, Amount: 1}).ID
		p, err := s.Store.Payment(ctx, id)
		require.NoError(t, err)
		p.State, p.CaptureAmount, p.UpdatedAt = "capturing", amount, s.Clock.Now()
		require.NoError(t, s.Store.UpdatePayment(ctx, p, payflow.StateHeld))
		return id
	}
	eur, tickets := untouchedEUR, untouchedTickets
	// For comparison, a capture of a held request after its hold's expiry.
	late := s.createHeld(100).ID
	retried, swept := capturing(2000), capturing(2500)
	require.Equal(t, [2]payflow.Balance{{Posted: Funds, Held: 5100}, {Incoming: 5100}}, s.Balances("EUR"))
	require.Equal(t, [2]payflow.Balance{{Incoming: 2}, {Posted: 10, Held: 2}}, s.Balances(Ticket))

	// Past the ledger's timeout of the holds, which is whole seconds from
	// the ledger's timestamp of each, no earlier than the request's update.
	s.Clock.Advance(payflow.DefaultHoldTTL + time.Second)
	s.RefreshCRLs()
	s.Seller.Login(record.RoleSeller)
	_, lateErr := s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: late})
	require.ErrorIs(t, lateErr, payflow.ErrExpired)
	require.Equal(t, payflow.StateExpired, s.storedState(late))

	_, err := s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: retried, Amount: 2000})
	require.ErrorIs(t, err, payflow.ErrExpired, "the capture sent again")
	assert.Equal(t, payflow.AsError(lateErr).Code, payflow.AsError(err).Code, "as a capture after the hold's expiry (%v)", lateErr)
	assert.Equal(t, payflow.StateExpired, s.storedState(retried))
	assert.Equal(t, "capturing", s.storedState(swept), "the other left to the sweep")
	s.unposted(t, retried)
	_, err = s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: retried, Amount: 2000})
	assert.ErrorIs(t, err, payflow.ErrExpired, "and again, expired")

	n, err := s.Platform.RecoverSweep(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the sweep finished the settlement")
	assert.Equal(t, payflow.StateExpired, s.storedState(swept))
	s.unposted(t, swept)
	n, err = s.Platform.RecoverSweep(ctx, 0)
	require.NoError(t, err)
	assert.Zero(t, n, "none left")
	pv, err := s.Platform.Payment(ctx, s.Seller.Token, swept)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateExpired, pv.State)
	assert.Zero(t, pv.Captured)

	assert.Equal(t, eur, s.Balances("EUR"), "no money moved, none held")
	assert.Equal(t, tickets, s.Balances(Ticket), "no ticket moved, none held")
}

// expiryDuringCapture: a capture that arrives before the hold's expiry,
// whose call reaches the expiry after it read the request held and
// before it records the capture, is refused ErrExpired, as a capture sent
// at the expiry is, although the ledger would still post the hold (a
// hold TTL of 10.5 s, which the ledger times out in whole seconds, 11 s
// from its own timestamp): the hold is voided and the request expired,
// nothing posted, and the money and the ticket are back where they were.
func expiryDuringCapture(t *testing.T, s *Shop) {
	ctx := context.Background()
	late, other := s.latePlatform(t)
	held := func() payflow.ID {
		t.Helper()
		v := s.createPending(2500, record.Leg{Asset: Ticket, Amount: 1})
		h, err := other.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(v.ID)})
		require.NoError(t, err)
		require.Equal(t, payflow.StateHeld, h.State)
		require.True(t, s.Clock.Now().Add(10*time.Second+500*time.Millisecond).Equal(h.HoldExpiresAt), h.HoldExpiresAt)
		return v.ID
	}
	eur, tickets := untouchedEUR, untouchedTickets

	// For comparison, a capture sent at the hold's expiry.
	id := held()
	s.Clock.Advance(10*time.Second + 500*time.Millisecond)
	_, lateErr := other.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: id})
	require.ErrorIs(t, lateErr, payflow.ErrExpired)
	assert.Equal(t, payflow.StateExpired, s.storedState(id))
	s.unposted(t, id)
	require.Equal(t, eur, s.Balances("EUR"))

	id = held()
	s.Clock.Advance(10*time.Second + 400*time.Millisecond)
	late.step.Store(int64(200 * time.Millisecond))
	_, err := other.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: id})
	require.ErrorIs(t, err, payflow.ErrExpired, "as a capture sent at the expiry (%v)", lateErr)
	assert.Equal(t, payflow.AsError(lateErr).Code, payflow.AsError(err).Code)
	assert.Zero(t, late.step.Load(), "the clock passed the expiry during the capture")
	assert.Equal(t, payflow.StateExpired, s.storedState(id))
	s.unposted(t, id)
	assert.Equal(t, eur, s.Balances("EUR"), "no money moved, none held")
	assert.Equal(t, tickets, s.Balances(Ticket), "no ticket moved, none held")
	_, err = other.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: id})
	assert.ErrorIs(t, err, payflow.ErrExpired, "sent again")
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 0, nil, "no settlement left to finish")
	assert.Equal(t, eur, s.Balances("EUR"))
}

// expiryDuringDecline: a decline that arrives before the request's
// expiry, whose call reaches the expiry after it read the request pending
// and before it records the decline, is refused ErrExpired, as a decline
// sent at the expiry is: the request ends expired, not declined, and no
// money moves or is held. A decline that takes as long well before the
// expiry declines the request.
func expiryDuringDecline(t *testing.T, s *Shop) {
	ctx := context.Background()
	late, other := s.latePlatform(t)
	eur := [2]payflow.Balance{{Posted: Funds}, {}}
	untilExpiry := func(v *payflow.PaymentView) time.Duration { return v.ExpiresAt.Sub(s.Clock.Now()) }

	// For comparison, a decline sent at the request's expiry.
	v := s.createPending(2500)
	s.Clock.Advance(untilExpiry(v))
	_, lateErr := other.Decline(ctx, s.Shopper.Token, v.ID)
	require.ErrorIs(t, lateErr, payflow.ErrExpired)
	assert.Equal(t, payflow.StateExpired, s.storedState(v.ID))

	v = s.createPending(2500)
	s.Clock.Advance(untilExpiry(v) - 100*time.Millisecond)
	late.step.Store(int64(200 * time.Millisecond))
	_, err := other.Decline(ctx, s.Shopper.Token, v.ID)
	require.ErrorIs(t, err, payflow.ErrExpired, "as a decline sent at the expiry (%v)", lateErr)
	assert.Equal(t, payflow.AsError(lateErr).Code, payflow.AsError(err).Code)
	assert.Zero(t, late.step.Load(), "the clock passed the expiry during the decline")
	assert.Equal(t, payflow.StateExpired, s.storedState(v.ID))
	assert.Equal(t, eur, s.Balances("EUR"), "no money moved, none held")
	_, err = other.Decline(ctx, s.Shopper.Token, v.ID)
	assert.ErrorIs(t, err, payflow.ErrExpired, "sent again")

	v = s.createPending(2500)
	late.step.Store(int64(200 * time.Millisecond))
	d, err := other.Decline(ctx, s.Shopper.Token, v.ID)
	require.NoError(t, err, "a decline well before the expiry")
	assert.Zero(t, late.step.Load(), "the clock moved during the decline")
	assert.Equal(t, payflow.StateDeclined, d.State)
	assert.Equal(t, payflow.StateDeclined, s.storedState(v.ID))
	assert.Equal(t, eur, s.Balances("EUR"))
}

// expiryDuringCancellation: a cancellation that arrives before the
// expiry, whose call reaches it after it read the request and before it
// records the cancellation, is refused ErrExpired, as a cancellation sent
// at the expiry is: a held request's hold (its hold TTL of 10.5 s, which
// the ledger keeps 11 s, see latePlatform) is voided and the request
// expired, nothing posted, the money and the ticket back where they
// were; a pending request ends expired. A cancellation that takes as long
// well before the expiry cancels the request, and so does one of a held
// request past the request's expiry but before its hold's.
func expiryDuringCancellation(t *testing.T, s *Shop) {
	ctx := context.Background()
	late, other := s.latePlatform(t)
	held := func(ttl uint32) *payflow.PaymentView {
		t.Helper()
		r := Request(s.Session, "EUR", 2500)
		r.TTL, r.Legs = ttl, []record.Leg{{Asset: Ticket, Amount: 1}}
		v, err := s.Create(r)
		require.NoError(t, err)
		h, err := other.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(v.ID)})
		require.NoError(t, err)
		require.Equal(t, payflow.StateHeld, h.State)
		require.True(t, s.Clock.Now().Add(10*time.Second+500*time.Millisecond).Equal(h.HoldExpiresAt), h.HoldExpiresAt)
		return h
	}
	cancel := func(id payflow.ID) (*payflow.PaymentView, error) {
		t.Helper()
		late.step.Store(int64(200 * time.Millisecond))
		v, err := other.Cancel(ctx, s.Seller.Token, id)
		assert.Zero(t, late.step.Load(), "the clock moved during the cancellation")
		return v, err
	}
	eur, tickets := untouchedEUR, untouchedTickets
	restored := func(msg string) {
		t.Helper()
		assert.Equal(t, eur, s.Balances("EUR"), "no money moved, none held: %s", msg)
		assert.Equal(t, tickets, s.Balances(Ticket), "no ticket moved, none held: %s", msg)
	}

	// For comparison, a cancellation sent at the hold's expiry.
	id := held(0).ID
	s.Clock.Advance(10*time.Second + 500*time.Millisecond)
	_, lateErr := other.Cancel(ctx, s.Seller.Token, id)
	require.ErrorIs(t, lateErr, payflow.ErrExpired)
	assert.Equal(t, payflow.StateExpired, s.storedState(id))
	s.unposted(t, id)
	restored("a cancellation at the expiry")

	id = held(0).ID
	s.Clock.Advance(10*time.Second + 400*time.Millisecond)
	_, err := cancel(id)
	require.ErrorIs(t, err, payflow.ErrExpired, "held, as a cancellation sent at the expiry (%v)", lateErr)
	assert.Equal(t, payflow.AsError(lateErr).Code, payflow.AsError(err).Code)
	assert.Equal(t, payflow.StateExpired, s.storedState(id))
	s.unposted(t, id)
	restored("held")
	_, err = other.Cancel(ctx, s.Seller.Token, id)
	assert.ErrorIs(t, err, payflow.ErrExpired, "sent again")

	v := s.createPending(2500)
	s.Clock.Advance(v.ExpiresAt.Sub(s.Clock.Now()) - 100*time.Millisecond)
	_, err = cancel(v.ID)
	require.ErrorIs(t, err, payflow.ErrExpired, "pending, as a cancellation sent at the expiry (%v)", lateErr)
	assert.Equal(t, payflow.AsError(lateErr).Code, payflow.AsError(err).Code)
	assert.Equal(t, payflow.StateExpired, s.storedState(v.ID))
	restored("pending")

	// Well before the expiry that applies: the request's when it is
	// pending, its hold's when it is held.
	v = s.createPending(2500)
	c, err := cancel(v.ID)
	require.NoError(t, err, "pending, well before the expiry")
	assert.Equal(t, payflow.StateCancelled, c.State)
	assert.Equal(t, payflow.StateCancelled, s.storedState(v.ID))
	h := held(10)
	s.Clock.Advance(10*time.Second + 100*time.Millisecond)
	require.False(t, s.Clock.Now().Before(h.ExpiresAt), "past the request's expiry")
	c, err = cancel(h.ID)
	require.NoError(t, err, "held, before the hold's expiry")
	assert.Equal(t, payflow.StateCancelled, c.State)
	assert.Equal(t, payflow.StateCancelled, s.storedState(h.ID))
	s.unposted(t, h.ID)
	restored("cancelled")

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 0, nil, "no settlement left to finish")
	restored("after the sweep")
}

// latePlatform returns a platform over s's ledger and store whose store
// and clock are late's, a lateClock over s's store and clock, with a hold
// TTL of 10.5 s, which the ledger times out in whole seconds (11 s from
// its own timestamp): a call that reaches the hold's expiry still finds
// the hold in the ledger.
func (s *Shop) latePlatform(t *testing.T) (*lateClock, *payflow.Platform) {
	t.Helper()
	late := &lateClock{Store: s.Store, clock: s.Clock}
	p, err := payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: s.Ledger, Store: late, Verifier: s.Verifier, Key: s.Key, Chain: s.PlatformChain, Now: late.Now,
		HoldTTL: 10*time.Second + 500*time.Millisecond,
	})
	require.NoError(t, err)
	return late, p
}

// lateClock is a Store and a clock (Now) for a platform whose call
// reaches a time between reading a payment and recording its change:
// once step is set (in nanoseconds), the next read of a payment arms it;
// the clock's first reading after that read (at which the call checks
// the expiry) is the clock's time, and its second moves the clock forward
// by step first, as a call that took that long between them would, and
// sets step to zero.
type lateClock struct {
	payflow.Store
	clock *Clock
	step  atomic.Int64
	left  atomic.Int32 // readings of the clock until the step, once armed
}

func (s *lateClock) Payment(ctx context.Context, id payflow.ID) (*payflow.PaymentRecord, error) {
	if s.step.Load() != 0 {
		s.left.Store(2)
	}
	return s.Store.Payment(ctx, id)
}

// Now is the platform's clock.
func (s *lateClock) Now() time.Time {
	if s.left.Load() > 0 && s.left.Add(-1) == 0 {
		s.clock.Advance(time.Duration(s.step.Swap(0)))
	}
	return s.clock.Now()
}

// staleMark: a pending request that holds a pairing's mark (VoidTo
// cancelled), as a platform process from before the mark existed leaves
// an approving request that a pairing marked when the ledger refuses its
// hold, is approved as one without it: the pairing came before this
// approval began, so a refused hold leaves it pending, and a later
// consent, once the wallet covers it, captures it.
func staleMark(t *testing.T, s *Shop) {
	ctx := context.Background()
	v, err := s.Create(Request(s.Session, "EUR", Funds+1))
	require.NoError(t, err)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(v.ID)})
	require.ErrorIs(t, err, payflow.ErrFunds)
	r, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, payflow.StatePending, r.State)
	r.VoidTo = payflow.StateCancelled
	require.NoError(t, s.Store.UpdatePayment(ctx, r, payflow.StatePending))
	before := s.Balances("EUR")

	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(v.ID)})
	require.ErrorIs(t, err, payflow.ErrFunds)
	pv, err := s.Platform.Payment(ctx, s.Shopper.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, pv.State, "a refused hold leaves it pending, as an unmarked request")
	assert.NotNil(t, pv.ConsentNonce, "open to another consent")
	r, err = s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Empty(t, r.VoidTo, "the approval spent the mark")
	assert.Equal(t, before, s.Balances("EUR"), "no money moved")

	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{3}, s.Shopper.ID, "EUR", 1))
	done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(v.ID)})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, done.State)
	assert.Equal(t, [2]payflow.Balance{{Posted: 0}, {Posted: before[1].Posted + Funds + 1}}, s.Balances("EUR"))
}

// revokedSellerCard: the merchant captures manually with two seller
// cards, and the first, which signed every request, is revoked while an
// approval it signed the request of is under way (its hold placed). That
// approval is settled as it began: the request is held. From then on a
// pending request that the revoked card signed is cancelled by the first
// call that reads it or acts on it before it expires: a consent to it is
// final_state, with the reply of a consent to a request that the merchant
// cancelled, spends its nonce and moves nothing; the payer's screen shows
// it cancelled without a consent nonce, declining another is final_state,
// and another sent again by the seller's phone is card_not_trusted, as a
// new request of the card, with no view; one that no call reads before its
// expiry expires. A held request stays held: the revoked card's token is
// card_not_trusted and captures nothing, the merchant's other seller card
// captures it, and one that nobody captures expires at its hold expiry,
// its hold voided.
func revokedSellerCard(t *testing.T, f *Fixture) {
	ctx := context.Background()
	s := NewShop(f, true)
	till2 := s.NewCard("Till 2")
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{
		ID: MerchantID, Name: "Corner Grocer", Currency: "EUR", ManualCapture: true, SellerCardIDs: []string{s.Seller.ID, till2.ID},
	}))
	till2.Login(record.RoleSeller)
	create, state := s.createPending, s.storedState
	withdrawn := create(100)
	withdrawnConsent := s.Consent(withdrawn.ID)
	_, err := s.Platform.Cancel(ctx, till2.Token, withdrawn.ID)
	require.NoError(t, err)
	_, cancelledErr := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: withdrawnConsent})
	require.ErrorIs(t, cancelledErr, payflow.ErrFinal, "a consent to a request the merchant cancelled")

	pending, other, unread := create(300), create(200), create(50)
	resent := s.createSigned(70)
	// The payer's screen shows it pending, with its consent nonce; the
	// card signs the consent after the revocation.
	screen, err := s.Platform.Payment(ctx, s.Shopper.Token, pending.ID)
	require.NoError(t, err)
	captured := s.createHeld(1000)

	hooked := &hookedStore{Store: f.Store, from: payflow.StateApproving, hook: func() error { s.Revoke(s.Seller); return nil }}
	approving, err := payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: f.Ledger, Store: hooked, Verifier: f.Verifier, Key: f.Key, Chain: f.PlatformChain, Now: f.Clock.Now,
	})
	require.NoError(t, err)
	lapsed := create(500)
	v, err := approving.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(lapsed.ID)})
	require.NoError(t, err, "an approval under way at the revocation")
	require.Equal(t, payflow.StateHeld, v.State)
	_, err = s.Platform.Login(ctx, &payflow.LoginRequest{Proof: s.Seller.Proof(record.RoleSeller, nil)})
	require.ErrorIs(t, err, payflow.ErrCard, "the seller card is revoked")
	before := s.Balances("EUR")
	require.Equal(t, [2]payflow.Balance{{Posted: Funds, Held: 1500}, {Incoming: 1500}}, before)

	consent := s.Shopper.MustSign(Consent(screen))
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.ErrorIs(t, err, payflow.ErrFinal, "a consent to a pending request of the revoked card")
	assert.Equal(t, payflow.AsError(cancelledErr), payflow.AsError(err), "the reply of a consent to a cancelled request")
	assert.Equal(t, payflow.StateCancelled, state(pending.ID))
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	assert.ErrorIs(t, err, payflow.ErrReplay, "the refused consent is spent")
	pv, err := s.Platform.Payment(ctx, s.Shopper.Token, pending.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, pv.State)
	assert.Nil(t, pv.ConsentNonce)
	require.Equal(t, payflow.StatePending, state(other.ID), "stored pending until read")
	_, err = s.Platform.Decline(ctx, s.Shopper.Token, other.ID)
	require.ErrorIs(t, err, payflow.ErrFinal, "declining another")
	assert.Equal(t, payflow.StateCancelled, state(other.ID))
	v, err = s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: resent})
	require.ErrorIs(t, err, payflow.ErrCard, "the signed request sent again")
	assert.Nil(t, v, "no view of it")
	assert.Equal(t, before, s.Balances("EUR"), "no money moved")

	_, err = s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: captured.ID})
	require.ErrorIs(t, err, payflow.ErrCard, "a capture with the revoked card's token")
	assert.Equal(t, payflow.StateHeld, state(captured.ID))
	assert.Equal(t, before, s.Balances("EUR"), "no money moved")
	v, err = s.Platform.Capture(ctx, till2.Token, &payflow.CaptureRequest{RequestID: captured.ID})
	require.NoError(t, err, "a capture by the merchant's other seller card")
	assert.Equal(t, payflow.StateCaptured, v.State)
	assert.Equal(t, [2]payflow.Balance{{Posted: Funds - 1000, Held: 500}, {Posted: 1000, Incoming: 500}}, s.Balances("EUR"))

	s.Clock.Advance(payflow.DefaultHoldTTL)
	s.RefreshCRLs()
	s.Shopper.Login(record.RoleShopper)
	v, err = s.Platform.Payment(ctx, s.Shopper.Token, lapsed.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateExpired, v.State, "a hold nobody captured expires")
	assert.Equal(t, [2]payflow.Balance{{Posted: Funds - 1000}, {Posted: 1000}}, s.Balances("EUR"))
	v, err = s.Platform.Payment(ctx, s.Shopper.Token, unread.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateExpired, v.State, "a pending request that no call read before its expiry")
}

// revokedShopperCard: a pending request whose shopper card is revoked is
// cancelled by the first call that reads it (the seller's screen, a
// capture, the signed request sent again), moving no money; the
// revoked card's consent and token are ErrCard and change nothing; a held
// request stays held for the merchant to capture, a final one stays
// final, and one that no call reads before its expiry expires.
func revokedShopperCard(t *testing.T, s *Shop) {
	ctx := context.Background()
	create, state := s.createPending, s.storedState
	declined := create(10)
	_, err := s.Platform.Decline(ctx, s.Shopper.Token, declined.ID)
	require.NoError(t, err)
	held := s.createHeld(1000)
	pending, other, unread := create(300), create(200), create(50)
	otherConsent := s.Consent(other.ID)
	resent := s.createSigned(70)

	s.Revoke(s.Shopper)
	before := s.Balances("EUR")
	require.Equal(t, [2]payflow.Balance{{Posted: Funds, Held: 1000}, {Incoming: 1000}}, before)

	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: otherConsent})
	require.ErrorIs(t, err, payflow.ErrCard, "the revoked card's consent")
	assert.Equal(t, payflow.StatePending, state(other.ID), "stored pending until read")
	_, err = s.Platform.Payment(ctx, s.Shopper.Token, pending.ID)
	require.ErrorIs(t, err, payflow.ErrCard, "the revoked card's token")
	_, err = s.Platform.Decline(ctx, s.Shopper.Token, pending.ID)
	require.ErrorIs(t, err, payflow.ErrCard)
	assert.Equal(t, payflow.StatePending, state(pending.ID), "stored pending until read")

	v, err := s.Platform.Payment(ctx, s.Seller.Token, pending.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, v.State, "the seller's screen")
	assert.Equal(t, payflow.StateCancelled, state(pending.ID))
	_, err = s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: other.ID})
	require.ErrorIs(t, err, payflow.ErrFinal, "a capture finds the request cancelled, not pending")
	assert.Equal(t, payflow.StateCancelled, state(other.ID))
	v, err = s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: resent})
	require.NoError(t, err, "the signed request sent again")
	assert.Equal(t, payflow.StateCancelled, v.State)
	v, err = s.Platform.Payment(ctx, s.Seller.Token, declined.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateDeclined, v.State, "a final state stays")
	v, err = s.Platform.Payment(ctx, s.Seller.Token, held.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateHeld, v.State, "a held request stays held")
	assert.Equal(t, before, s.Balances("EUR"), "no money moved")

	v, err = s.Platform.Capture(ctx, s.Seller.Token, &payflow.CaptureRequest{RequestID: held.ID})
	require.NoError(t, err, "the merchant captures the held request")
	assert.Equal(t, payflow.StateCaptured, v.State)
	assert.Equal(t, [2]payflow.Balance{{Posted: Funds - 1000}, {Posted: 1000}}, s.Balances("EUR"))

	s.Clock.Advance(payflow.DefaultHoldTTL)
	_, err = s.Platform.ExpireDue(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateExpired, state(unread.ID), "a pending request that no call read before its expiry")
}

// hookedStore is a Store that runs hook once, before the first
// UpdatePayment from the state from. An error of hook is returned instead
// of that update, as a lost connection to the database would lose it.
type hookedStore struct {
	payflow.Store
	from string
	hook func() error
	once sync.Once
}

func (s *hookedStore) UpdatePayment(ctx context.Context, p *payflow.PaymentRecord, from string) error {
	if from == s.from {
		var err error
		s.once.Do(func() { err = s.hook() })
		if err != nil {
			return err
		}
	}
	return s.Store.UpdatePayment(ctx, p, from)
}

// RaceApproveCancel has the seller create a request of 100 EUR, then s's
// platform approve it while other cancels it, at once, and returns the
// state the request ends in (read through other's store). Exactly one
// wins: captured, approve succeeded, cancel met the payment captured or
// still settling, and the shopper paid 100; cancelled, cancel succeeded,
// approve failed with ErrFinal and no balance moved.
func RaceApproveCancel(t *testing.T, s *Shop, other *payflow.Platform) string {
	t.Helper()
	ctx := context.Background()
	before := s.Balances("EUR")
	v, err := s.Create(Request(s.Session, "EUR", 100))
	require.NoError(t, err)
	c := s.Consent(v.ID)
	var wg sync.WaitGroup
	var approveErr, cancelErr error
	wg.Add(2)
	go func() { defer wg.Done(); _, approveErr = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c}) }()
	go func() { defer wg.Done(); _, cancelErr = other.Cancel(ctx, s.Seller.Token, v.ID) }()
	wg.Wait()
	r, err := other.Store().Payment(ctx, v.ID)
	require.NoError(t, err)
	after := s.Balances("EUR")
	switch r.State {
	case payflow.StateCaptured:
		require.NoError(t, approveErr, "request %x", v.ID)
		assert.True(t, errors.Is(cancelErr, payflow.ErrFinal) || errors.Is(cancelErr, payflow.ErrConflict), "request %x: %v", v.ID, cancelErr)
		assert.Equal(t, before[0].Posted-100, after[0].Posted)
	case payflow.StateCancelled:
		require.NoError(t, cancelErr, "request %x", v.ID)
		assert.ErrorIs(t, approveErr, payflow.ErrFinal, "request %x", v.ID)
		assert.Equal(t, before, after)
	default:
		t.Fatalf("request %x: state %s (approve: %v, cancel: %v)", v.ID, r.State, approveErr, cancelErr)
	}
	return r.State
}
