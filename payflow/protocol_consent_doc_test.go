package payflow_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestConsentToNoRequestNotFoundWhoeverSigned pins PROTOCOL.md §6.4: a
// consent to a request that is not stored is not_found whoever signed it,
// the request being read before the signature is verified: the payer's
// consent whose signature was changed, and one under a card ID that the
// platform does not hold, are not_found as the payer's own is, not
// bad_signature. Nothing is spent.
func TestConsentToNoRequestNotFoundWhoeverSigned(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	unknown := payflow.ID{0x4e, 0x46}
	consent := func() *record.Consent {
		return &record.Consent{RequestID: unknown[:], RequestHash: bytes.Repeat([]byte{1}, 32),
			Nonce: bytes.Repeat([]byte{2}, 32), Amount: 690, Currency: "EUR", MerchantID: merchantID}
	}
	signed := s.shopper.MustSign(consent())
	flipped := s.shopper.MustSign(consent())
	flipped[len(flipped)-1] ^= 0x01
	id, err := simcardtest.RandomICCID(nil)
	require.NoError(t, err)
	unenrolled := newStranger(t, s.Fixture, id).sign(t, 1, consent())
	for _, c := range []struct {
		name string
		msg  []byte
	}{{"the payer's", signed}, {"its signature changed", flipped}, {"of a card not enrolled", unenrolled}} {
		v, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c.msg})
		require.ErrorIs(t, err, payflow.ErrNotFound, c.name)
		assert.Equal(t, "not_found", payflow.AsError(err).Code, c.name)
		assert.Nil(t, v, c.name)
	}
	requireUnspent(t, s, signed, &record.Consent{}, "the payer's consent to no request")
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
}

// TestConsentOfAnotherCardBadSignature pins PROTOCOL.md §6.4: a consent to
// a stored request signed by an enrolled card that is not the payer is
// forbidden only when its signature verifies; one whose signature does
// not is bad_signature. Either way the request stays pending and no
// money moves.
func TestConsentOfAnotherCardBadSignature(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, _ := s.request(t)
	pv, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
	require.NoError(t, err)
	mallory := s.NewCard("Mallory")
	good := mallory.MustSign(paytest.Consent(pv))
	bad := mallory.MustSign(paytest.Consent(pv))
	bad[len(bad)-1] ^= 0x01

	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: bad})
	require.ErrorIs(t, err, payflow.ErrSignature)
	assert.Equal(t, "bad_signature", payflow.AsError(err).Code)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: good})
	require.ErrorIs(t, err, payflow.ErrForbidden)
	assert.Equal(t, "forbidden", payflow.AsError(err).Code)
	s.requireState(t, v.ID, payflow.StatePending)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
}

// TestConsentWhileSettlementUnderWay pins PROTOCOL.md §6.4: a consent to a
// request that another consent is settling (approving), that it holds
// (held), or whose capture or void is under way (capturing, voiding), over
// a consent nonce that the payer's view gave while the request was
// pending, is refused conflict, naming the settlement, before it is
// accepted: it spends neither its nonce nor its counter, the same consent
// sent again is refused alike, and once that settlement ended
// (captured, or its hold voided: cancelled) the same consent is taken and
// told that the request ended (final_state), not nonce_replayed. A consent
// that names another amount is refused mismatch instead, also while
// the settlement is under way, and is spent (sent again, nonce_replayed).
// Neither moves money nor changes the request.
func TestConsentWhileSettlementUnderWay(t *testing.T) {
	ctx := context.Background()
	held := [2]payflow.Balance{{Posted: funds, Held: 690}, {Incoming: 690}}
	untouched := [2]payflow.Balance{{Posted: funds}, {}}
	for _, tt := range []struct {
		state    string // the stored state while the consent is refused
		reach    func(t *testing.T, s *shop, st *faultStore, id payflow.ID)
		balances [2]payflow.Balance // while the consent is refused
		message  string
		end      func(t *testing.T, s *shop, id payflow.ID)
		ended    string // the request's state once the settlement ended
	}{
		{payflow.StateApproving, func(t *testing.T, s *shop, _ *faultStore, id payflow.ID) {
			s.recordConsent(t, id, s.consent(t, id), "")
		}, untouched, "payflow: conflicting request: a consent to the request is being settled",
			func(t *testing.T, s *shop, id payflow.ID) {
				s.Clock.Advance(payflow.DefaultRecoverAfter)
				s.sweep(t, 1, "the approval under way finished")
				s.requireState(t, id, payflow.StateHeld)
				_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: id})
				require.NoError(t, err)
			}, payflow.StateCaptured},
		{payflow.StateHeld, func(t *testing.T, s *shop, _ *faultStore, id payflow.ID) {
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, id)})
			require.NoError(t, err)
		}, held, "payflow: conflicting request: the request is held",
			func(t *testing.T, s *shop, id payflow.ID) {
				_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: id})
				require.NoError(t, err)
			}, payflow.StateCaptured},
		{"capturing", func(t *testing.T, s *shop, _ *faultStore, id payflow.ID) {
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, id)})
			require.NoError(t, err)
			s.recordCapturing(t, id, 690)
		}, held, "payflow: conflicting request: the payment is being captured",
			func(t *testing.T, s *shop, _ payflow.ID) {
				s.Clock.Advance(payflow.DefaultRecoverAfter)
				s.sweep(t, 1, "the capture under way finished")
			}, payflow.StateCaptured},
		{"voiding", func(t *testing.T, s *shop, st *faultStore, id payflow.ID) {
			s.voidingLost(t, st, id)
		}, untouched, "payflow: conflicting request: the payment's hold is being voided",
			func(t *testing.T, s *shop, _ payflow.ID) {
				s.Clock.Advance(payflow.DefaultRecoverAfter)
				s.sweep(t, 1, "the void under way finished")
			}, payflow.StateCancelled},
	} {
		t.Run(tt.state, func(t *testing.T) {
			st := &faultStore{Store: memory.New()}
			s := newShopOn(t, st, true, paytest.Options{})
			v, _ := s.request(t)
			// Two views of the payer's while the request is pending, each
			// with its consent nonce; the consents are signed once the
			// request reached the state.
			views := make([]*payflow.PaymentView, 2)
			for i := range views {
				var err error
				views[i], err = s.Platform.Payment(ctx, s.shopper.Token, v.ID)
				require.NoError(t, err)
			}
			tt.reach(t, s, st, v.ID)
			s.requireState(t, v.ID, tt.state)
			require.Equal(t, tt.balances, s.balances(t))

			other := paytest.Consent(views[0])
			other.Amount = 69
			mismatched := s.shopper.MustSign(other)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: mismatched})
			require.ErrorIs(t, err, payflow.ErrMismatch, "a consent to another amount")
			assert.EqualError(t, err, "payflow: does not match the request: consent is for 69 EUR, the request for 690 EUR")
			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: mismatched})
			require.ErrorIs(t, err, payflow.ErrReplay, "the mismatched consent sent again: spent")

			consent := s.shopper.MustSign(paytest.Consent(views[1]))
			for _, what := range []string{"first", "sent again"} {
				got, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
				require.ErrorIs(t, err, payflow.ErrConflict, what)
				assert.EqualError(t, err, tt.message, what)
				assert.Equal(t, 409, payflow.AsError(err).Status, what)
				assert.Nil(t, got, what)
				requireUnspent(t, s, consent, &record.Consent{}, what)
				s.requireState(t, v.ID, tt.state)
				assert.Equal(t, tt.balances, s.balances(t), "nothing moved: %s", what)
			}

			tt.end(t, s, v.ID)
			s.requireState(t, v.ID, tt.ended)
			after := s.balances(t)
			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
			require.ErrorIs(t, err, payflow.ErrFinal, "taken once the settlement ended")
			assert.EqualError(t, err, "payflow: request already in a final state: the request is "+tt.ended)
			s.requireState(t, v.ID, tt.ended)
			assert.Equal(t, after, s.balances(t), "nothing moved")
			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
			assert.ErrorIs(t, err, payflow.ErrReplay, "taken, its nonce spent")
		})
	}
}

// TestVoidTransferCodeAndUserData pins PROTOCOL.md §6.4 (Legs): the void
// of a hold carries the ledger code of a payment leg (1) and, as user
// data 128, the request's ID, which the platform writes as none and the
// ledger takes from the hold, as for the post of a capture.
func TestVoidTransferCodeAndUserData(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, true, paytest.Options{})
	v := s.held(t)
	_, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
	require.NoError(t, err)
	void := payflow.TransferID(v.ID, 1, 0, 3)
	found, err := s.Ledger.LookupTransfers(ctx, []ledger.ID{void})
	require.NoError(t, err)
	require.Len(t, found, 1)
	assert.Equal(t, payflow.TransferPayment, found[0].Code)
	assert.Equal(t, ledger.ID(v.ID), found[0].UserData128)
	assert.Equal(t, payflow.TransferID(v.ID, 1, 0, 1), found[0].PendingID)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "the hold released")
}

// TestConsentToRequestOfRevokedSellerCardSpendsCounter pins PROTOCOL.md
// §6.4 (Revoked seller card): the consent to a pending request whose
// seller card was revoked since, refused final_state, spends its counter
// as well as its nonce: a record of the payer's card with that counter is
// refused for it.
func TestConsentToRequestOfRevokedSellerCardSpendsCounter(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, _ := s.request(t)
	consent := s.consent(t, v.ID)
	var cs record.Consent
	require.NoError(t, record.Open(consent, &cs))
	s.Revoke(s.seller)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.ErrorIs(t, err, payflow.ErrFinal)
	s.requireState(t, v.ID, payflow.StateCancelled)
	var ce *pki.CounterError
	require.ErrorAs(t, s.Store.Spent(ctx, nil, s.shopper.ID, cs.Counter), &ce, "the consent's counter spent")
	assert.Equal(t, cs.Counter, ce.Last)
	assert.ErrorIs(t, s.Store.Spent(ctx, cs.Nonce, s.shopper.ID, cs.Counter+1), pki.ErrNonce, "its nonce spent")
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
}

// TestOpenAccountOfClosedWallet pins PROTOCOL.md §6.4 (Ledgers and
// accounts, Closed accounts): a wallet opening whose wallet the ledger
// holds closed is conflict, naming the account and that it is closed,
// before any transfer; once the wallet is reopened, the opening takes it
// as it would create it.
func TestOpenAccountOfClosedWallet(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	id := payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID)
	closing := closeAccount(t, s, id, eurLedger)
	err := s.Platform.OpenAccount(ctx, s.shopper.ID, "EUR")
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, fmt.Sprintf("payflow: conflicting request: ledger: account %v (code 1, ledger 978) is closed", id))
	assert.Equal(t, 409, payflow.AsError(err).Status)
	reopenAccount(t, s, closing)
	require.NoError(t, s.Platform.OpenAccount(ctx, s.shopper.ID, "EUR"))
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
}

// TestRevokedSellerCardListedInUnfreshCRL pins PROTOCOL.md §6.4 (Revoked
// seller card): the CRLs that a pending request's seller card is looked up
// in are those that the platform holds as they are at the call, stale or
// not yet valid too: the payer's payment screen (a token call, which takes
// the CRLs as they are) of a request whose seller card a CRL past its next
// update, or one before its this update, lists cancels the request and
// shows it cancelled, without a consent nonce, moving no money.
func TestRevokedSellerCardListedInUnfreshCRL(t *testing.T) {
	for kind, unfresh := range unfreshCRLs {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			s := newShop(t, false, paytest.Options{Platform: payflow.PlatformOptions{RequestTTL: 15 * time.Minute}})
			v, _ := s.request(t)
			s.Revoke(s.seller)
			unfresh(s)
			pv, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateCancelled, pv.State)
			assert.Nil(t, pv.ConsentNonce)
			s.requireState(t, v.ID, payflow.StateCancelled)
			assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
		})
	}
}

// TestHeldRequestsOfRevokedShopperCardReleased pins PROTOCOL.md §6.4
// (Revoked shopper card): a held request whose payer card is revoked
// since stays held, its money held for the merchant, and a seller card of
// the merchant cancels it, its hold voided; another such request expires
// at its hold expiry, its hold voided. Either way the money is back in
// the payer's wallet.
func TestHeldRequestsOfRevokedShopperCardReleased(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, true, paytest.Options{})
	cancelled, expired := s.held(t), s.held(t)
	s.Revoke(s.shopper)
	for _, id := range []payflow.ID{cancelled.ID, expired.ID} {
		pv, err := s.Platform.Payment(ctx, s.seller.Token, id)
		require.NoError(t, err)
		assert.Equal(t, payflow.StateHeld, pv.State, "a held request stays held")
	}
	require.Equal(t, [2]payflow.Balance{{Posted: funds, Held: 2 * 690}, {Incoming: 2 * 690}}, s.balances(t))

	v, err := s.Platform.Cancel(ctx, s.seller.Token, cancelled.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, v.State)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds, Held: 690}, {Incoming: 690}}, s.balances(t), "the cancelled hold voided")

	s.Clock.Advance(payflow.DefaultHoldTTL)
	n, err := s.Platform.ExpireDue(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	s.requireState(t, expired.ID, payflow.StateExpired)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "the expired hold voided")
}
