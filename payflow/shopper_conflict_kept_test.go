package payflow_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// underWay is the platform's refusal of a consent to a request that
// another consent's settlement holds: it has the platform's store show the
// request approving, passes the consent on to the platform, which refuses
// it with conflict before it accepts it, spending neither its nonce nor
// its counter, and shows the request pending again, as after another
// consent's hold that the ledger refused.
func (w *phoneWorld) underWay(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	var cs record.Consent
	if err := record.Open(req.Consent, &cs); err != nil {
		return nil, err
	}
	if err := w.setState(ctx, payflow.ID(cs.RequestID), payflow.StatePending, payflow.StateApproving); err != nil {
		return nil, err
	}
	v, err := w.f.Platform.Approve(ctx, req)
	if serr := w.setState(ctx, payflow.ID(cs.RequestID), payflow.StateApproving, payflow.StatePending); serr != nil {
		return nil, serr
	}
	return v, err
}

// setState moves request id from the state from to the state to in the
// platform's store.
func (w *phoneWorld) setState(ctx context.Context, id payflow.ID, from, to string) error {
	r, err := w.f.Store.Payment(ctx, id)
	if err != nil {
		return err
	}
	if r.State != from {
		return fmt.Errorf("request %v is %s, not %s", id, r.State, from)
	}
	r.State, r.UpdatedAt = to, w.f.Clock.Now()
	return w.f.Store.UpdatePayment(ctx, r, from)
}

// errUnderWay is the platform's refusal that underWay gets.
const errUnderWay = "payflow: conflicting request: a consent to the request is being settled"

// conflictWorld is a world whose shopper talks to a scriptedApproveAPI
// that answers the first consents with answers, paired, with the
// shopper's payment screen of a request of basket, which the card signed
// no consent for yet; it returns the card's counter then too.
func conflictWorld(t *testing.T, answers ...func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error)) (*phoneWorld, *scriptedApproveAPI, *payflow.PaymentView, uint64) {
	t.Helper()
	w := newMemoryPhoneWorld(t, false)
	api := &scriptedApproveAPI{API: w.f.Platform, approve: answers}
	w.useShopper(t, api)
	w.pair(t)
	_, screen := w.request(t)
	return w, api, screen, w.counter(t)
}

// requireConflictKept approves screen with pin, which the platform
// refuses with conflict (underWay), and checks that the approval fails
// with that refusal, the card's counter at counter, screen still on
// screen and no more money moved than screen shows captured.
func (w *phoneWorld) requireConflictKept(t *testing.T, screen *payflow.PaymentView, pin string, counter uint64) {
	t.Helper()
	_, err := w.shopper.ApproveShown(context.Background(), screen, pin)
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, errUnderWay)
	assert.Equal(t, counter, w.counter(t), "the card's counter")
	on, err := w.shopper.Payment()
	require.NoError(t, err, "the request stays on screen")
	assert.Equal(t, screen.ID, on.ID)
	assert.Equal(t, screen.State, on.State)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - screen.Captured}, w.balance(t, w.shopperCard.Enrolment.ICCID), "nothing more moved")
}

// requireSentAgainPaid approves screen with pin and checks that the
// approval sent the consent that api got first again, n consents in all,
// the card's counter still at counter, and returns its receipt, of that
// consent (requirePaidBy).
func (w *phoneWorld) requireSentAgainPaid(t *testing.T, api *scriptedApproveAPI, screen *payflow.PaymentView, pin string, counter uint64, n int) *payflow.Receipt {
	t.Helper()
	rc, err := w.shopper.ApproveShown(context.Background(), screen, pin)
	require.NoError(t, err)
	require.Len(t, api.sent, n)
	for _, c := range api.sent[1:] {
		assert.Equal(t, api.sent[0], c, "the kept consent sent again")
	}
	assert.Equal(t, counter, w.counter(t), "the card signed nothing more")
	w.requirePaidBy(t, rc, api.sent[0], screen)
	return rc
}

// requirePaidBy checks that rc is the receipt of consent, of the request
// of screen, the shopper charged once, and that the request left the
// screen.
func (w *phoneWorld) requirePaidBy(t *testing.T, rc *payflow.Receipt, consent []byte, screen *payflow.PaymentView) {
	t.Helper()
	h := record.Hash(consent)
	assert.Equal(t, h[:], rc.ConsentHash, "the receipt of that consent")
	assert.Equal(t, screen.ID[:], rc.RequestID)
	assert.Equal(t, uint64(690), rc.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
	_, err := w.shopper.Payment()
	require.ErrorIs(t, err, payflow.ErrNoPayment, "the paid request left the screen")
}

// requireSignedAgainPaid approves screen, whose consent that api got
// first the phone keeps, and checks that the approval sent that consent
// again, which the platform refused, and then a new one that the card
// signed, its counter from counter to counter+1, three consents in all,
// and returned the receipt of the new one (requirePaidBy).
func (w *phoneWorld) requireSignedAgainPaid(t *testing.T, api *scriptedApproveAPI, screen *payflow.PaymentView, counter uint64) {
	t.Helper()
	rc, err := w.shopper.ApproveShown(context.Background(), screen, simcardtest.PIN)
	require.NoError(t, err)
	require.Len(t, api.sent, 3)
	assert.Equal(t, api.sent[0], api.sent[1], "the kept consent sent again")
	assert.NotEqual(t, api.sent[0], api.sent[2], "a new consent signed")
	assert.Equal(t, counter+1, w.counter(t), "the card signed one consent")
	w.requirePaidBy(t, rc, api.sent[2], screen)
}

// TestShopperApproveKeepsConsentRefusedConflict: a consent that the
// platform refuses with conflict before it accepts it (another consent's
// settlement under way), the request read pending with a consent nonce
// then, keeps its nonce and counter unspent: the phone keeps it, and the
// next approval sends it again, byte for byte, the card signing nothing,
// and returns its receipt, whether the platform accepts it then or a copy
// of it was accepted meanwhile.
func TestShopperApproveKeepsConsentRefusedConflict(t *testing.T) {
	ctx := context.Background()
	t.Run("accepted when sent again", func(t *testing.T) {
		w, api, screen, counter := conflictWorld(t)
		api.approve = append(api.approve, w.underWay)
		w.requireConflictKept(t, screen, simcardtest.PIN, counter+1)
		w.requireSentAgainPaid(t, api, screen, simcardtest.PIN, counter+1, 2)
	})
	t.Run("a copy accepted meanwhile", func(t *testing.T) {
		w, api, screen, counter := conflictWorld(t)
		api.approve = append(api.approve, w.underWay)
		w.requireConflictKept(t, screen, simcardtest.PIN, counter+1)

		// A copy of the refused consent (a retry still on its way, a
		// middlebox) reaches the platform once the settlement is over.
		v, err := w.f.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: api.sent[0]})
		require.NoError(t, err)
		require.Equal(t, payflow.StateCaptured, v.State)

		rc := w.requireSentAgainPaid(t, api, screen, simcardtest.PIN, counter+1, 2)
		assert.Equal(t, v.Receipt, rc.Signed, "the receipt of the copy's capture")
	})
}

// TestShopperApproveKeepsConsentRefusedConflictAgain: a kept consent that
// the platform refuses with conflict again stays kept, the approval
// failing with that refusal and the card signing nothing; once the
// conflict is over, the next approval sends it again and returns its
// receipt.
func TestShopperApproveKeepsConsentRefusedConflictAgain(t *testing.T) {
	w, api, screen, counter := conflictWorld(t)
	api.approve = append(api.approve, w.underWay, w.underWay)
	w.requireConflictKept(t, screen, simcardtest.PIN, counter+1)
	w.requireConflictKept(t, screen, simcardtest.PIN, counter+1) // the card signs nothing more
	require.Len(t, api.sent, 2)
	assert.Equal(t, api.sent[0], api.sent[1], "the kept consent sent again")
	w.requireSentAgainPaid(t, api, screen, simcardtest.PIN, counter+1, 3)
}

// TestShopperApproveDropsConflictConsentRefusedOtherwise: a consent kept
// after a refusal with conflict that the platform then refuses otherwise
// (its counter passed by a login the card signed since: clone) was not
// made: the approval drops it and the card signs a new consent, which
// pays; a copy of the dropped one is refused.
func TestShopperApproveDropsConflictConsentRefusedOtherwise(t *testing.T) {
	ctx := context.Background()
	w, api, screen, counter := conflictWorld(t)
	api.approve = append(api.approve, w.underWay)
	w.requireConflictKept(t, screen, simcardtest.PIN, counter+1)
	_, err := w.shopper.Login(ctx)
	require.NoError(t, err)
	counter = w.counter(t)

	w.requireSignedAgainPaid(t, api, screen, counter)

	_, err = w.f.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: api.sent[0]})
	require.ErrorIs(t, err, payflow.ErrClone)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
}

// TestShopperApproveCountsConflictConsentKept: a consent kept after a
// refusal with conflict counts toward MaxKeptConsents: with it and
// MaxKeptConsents-1 consents held for manual captures, the approval of a
// request of another session fails with ErrLimit before the card signs.
func TestShopperApproveCountsConflictConsentKept(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	api := &scriptedApproveAPI{API: w.f.Platform}
	w.useShopper(t, api)
	first := w.pair(t)
	ask := func(ttl uint32) *payflow.PaymentView {
		sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 10, Currency: "EUR", TTL: ttl})
		require.NoError(t, err)
		screen, err := w.shopper.WaitPayment(ctx)
		require.NoError(t, err)
		require.Equal(t, sv.ID, screen.ID)
		return screen
	}
	for range payflow.MaxKeptConsents - 1 {
		ask(0)
		w.approveHeld(t)
	}
	// The request refused with conflict lives past the session's epoch,
	// which the next pairing waits for.
	api.mu.Lock()
	api.approve = append(api.approve, w.underWay, func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error) {
		return nil, payflow.ErrUnavailable // not sent
	})
	api.mu.Unlock()
	refused := ask(uint32(payflow.DefaultMaxRequestTTL / time.Second))
	_, err := w.shopper.ApproveShown(ctx, refused, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrConflict)

	// The merchant's app starts again, which leaves that request as it
	// is (the app that made it cancels it when it pairs again), and
	// pairs in the next epoch: another session.
	w.useSeller(t, w.f.Platform)
	toNextEpoch(t, w.f, time.Second)
	second := w.pair(t)
	require.NotEqual(t, first.SessionID, second.SessionID)
	counter := w.counter(t)
	screen := ask(0)
	require.Equal(t, payflow.SessionRequestID(second.SessionID, 0), screen.ID)
	_, err = w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrLimit)
	assert.EqualError(t, err, fmt.Sprintf("payflow: over limit: %d consents sent without a receipt are kept", payflow.MaxKeptConsents))
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	assert.Len(t, api.sent, payflow.MaxKeptConsents, "no consent sent for the last request")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds, Held: 10 * (payflow.MaxKeptConsents - 1)}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	r, err := w.f.Store.Payment(ctx, refused.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, r.State, "the request refused with conflict is still payable")
}

// TestApproveOfReceiptToCollectRefusedConflictStaysKept: an approval of a
// receipt to collect whose kept consent the platform then refuses with
// conflict, showing the request pending with a consent nonce, fails with
// that refusal without the card; the consent stays kept and the captured
// view on screen, and the next approval, the consent taken, returns its
// receipt.
func TestApproveOfReceiptToCollectRefusedConflictStaysKept(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	lost := loseFirstApprove(w.f.Platform, payflow.ErrUnavailable)
	first, src, screen := w.receiptToCollect(t, lost)
	api := &scriptedApproveAPI{API: &forgetfulAPI{API: w.f.Platform, id: first.ID}}
	api.approve = append(api.approve, func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error) {
		return nil, fmt.Errorf("%w: a consent to the request is being settled", payflow.ErrConflict)
	})
	lost.API = api
	counter := w.counter(t)
	w.requireConflictKept(t, screen, "", counter)

	api.API = w.f.Platform
	rc := w.requireSentAgainPaid(t, api, screen, "", counter, 2)
	assert.Equal(t, src.Signed, rc.Signed)
	assert.Equal(t, consentsSent(lost)[0], api.sent[0], "the consent that paid")
}

// TestShopperApproveDropsConflictConsentAccepted: a consent that the
// platform accepted and then refused with conflict, its hold chain
// refused (the ledger holds the hold's ID as a transfer that another
// client of the ledger wrote), is kept as one refused before it is
// accepted is, the approval failing with that conflict; the next
// approval sends it again, which the platform refuses as spent
// (nonce_replayed), drops it and has the card sign a new consent, whose
// holds take the IDs of the next attempt and which pays, the shopper
// charged once.
func TestShopperApproveDropsConflictConsentAccepted(t *testing.T) {
	ctx := context.Background()
	w, api, screen, counter := conflictWorld(t)
	res, err := w.f.Ledger.CreateTransfers(ctx, []ledger.Transfer{{
		ID:              payflow.TransferID(screen.ID, 1, 0, 1),
		DebitAccountID:  payflow.AccountID(payflow.AccountFunding, 978, ""),
		CreditAccountID: payflow.AccountID(payflow.AccountMerchant, 978, phoneMerchant),
		Amount:          1, Ledger: 978, Code: 9,
	}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)

	_, err = w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.Equal(t, counter+1, w.counter(t), "the card's counter")
	on, err := w.shopper.Payment()
	require.NoError(t, err, "the request stays on screen")
	assert.Equal(t, screen.ID, on.ID)

	w.requireSignedAgainPaid(t, api, screen, counter+1)
	_, err = w.f.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: api.sent[0]})
	require.ErrorIs(t, err, payflow.ErrReplay, "the first consent, spent")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
}
