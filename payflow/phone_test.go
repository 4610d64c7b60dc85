package payflow_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/queue"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

const (
	phoneMerchant = "corner-shop"
	phoneFunds    = 5_000
)

var phoneCatalog = []payflow.CatalogItem{
	{SKU: "apple", Name: "Apple", UnitPrice: 120},
	{SKU: "bread", Name: "Sourdough bread", UnitPrice: 450},
}

// phoneWorld is a platform with a funded shopper and a merchant, each with
// a virtual CA-SIM in a phone that talks to the platform through api.
type phoneWorld struct {
	f                       *paytest.Fixture
	shopperCard, sellerCard *simcardtest.Virtual
	shopper                 *payflow.Shopper
	seller                  *payflow.Seller
	// pinned has useShopper and useSeller make phones that trust the
	// platform's receipt key pinned instead of its certificate chain.
	pinned bool
}

// phoneOptions are the options of the phones of a world.
func phoneOptions(f *paytest.Fixture, api payflow.API) payflow.PhoneOptions {
	return payflow.PhoneOptions{API: api, Verifier: f.PlatformVerifier, Now: f.Clock.Now, PollInterval: 2 * time.Millisecond, RateLimitPause: time.Millisecond, MaxRateLimitPause: time.Millisecond}
}

// enrolPhoneCard personalises a virtual card and enrols it under name.
func enrolPhoneCard(tb testing.TB, f *paytest.Fixture, name string) *simcardtest.Virtual {
	tb.Helper()
	v, err := simcardtest.NewCard(f.Issuer, simcardtest.Options{})
	require.NoError(tb, err)
	_, err = f.Platform.EnrollCard(context.Background(), v.Enrolment.Chain, v.Enrolment.AdvertisingSecret, name)
	require.NoError(tb, err)
	return v
}

// newPhoneWorld enrols the cards and the merchant on f's platform; api is
// what the phones talk to (the platform itself when nil).
func newPhoneWorld(tb testing.TB, f *paytest.Fixture, api payflow.API, manual bool) *phoneWorld {
	tb.Helper()
	ctx := context.Background()
	if api == nil {
		api = f.Platform
	}
	w := &phoneWorld{f: f, sellerCard: enrolPhoneCard(tb, f, "Till 1")}
	require.NoError(tb, f.Platform.EnrollMerchant(ctx, payflow.Merchant{
		ID: phoneMerchant, Name: "Corner Shop", Currency: "EUR", ManualCapture: manual,
		SellerCardIDs: []string{w.sellerCard.Enrolment.ICCID},
	}))
	require.NoError(tb, f.Platform.SetCatalog(ctx, phoneMerchant, phoneCatalog))
	w.shopperCard, w.shopper = enrolShopper(tb, f, api, "Alice", payflow.ID{0xf1})
	var err error
	w.seller, err = payflow.NewSeller(w.sellerCard.Card, phoneOptions(f, api))
	require.NoError(tb, err)
	return w
}

// enrolShopper enrols a shopper's card under name, funds its account with
// phoneFunds by the funding fund, and returns the card and its phone,
// which talks to api.
func enrolShopper(tb testing.TB, f *paytest.Fixture, api payflow.API, name string, fund payflow.ID) (*simcardtest.Virtual, *payflow.Shopper) {
	tb.Helper()
	ctx := context.Background()
	card := enrolPhoneCard(tb, f, name)
	require.NoError(tb, f.Platform.OpenAccount(ctx, card.Enrolment.ICCID, "EUR"))
	require.NoError(tb, f.Platform.Fund(ctx, fund, card.Enrolment.ICCID, "EUR", phoneFunds))
	shopper, err := payflow.NewShopper(card.Card, phoneOptions(f, api))
	require.NoError(tb, err)
	return card, shopper
}

// withShopper returns a world of w's platform and seller phone with
// another shopper, enrolled under name and funded by fund
// (enrolShopper), whose phone talks to the platform.
func (w *phoneWorld) withShopper(tb testing.TB, name string, fund payflow.ID) *phoneWorld {
	tb.Helper()
	o := *w
	o.shopperCard, o.shopper = enrolShopper(tb, w.f, w.f.Platform, name, fund)
	return &o
}

func newMemoryPhoneWorld(t *testing.T, manual bool) *phoneWorld {
	t.Helper()
	return newPhoneWorld(t, paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{}), nil, manual)
}

// newTamperWorld returns a world on the memory stores whose phones talk
// to the platform through a tamperAPI, which it returns too.
func newTamperWorld(t *testing.T) (*phoneWorld, *tamperAPI) {
	t.Helper()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	api := &tamperAPI{API: f.Platform}
	return newPhoneWorld(t, f, api, false), api
}

// phoneOptions are the options of a phone of w that talks to api, which
// pins the platform's key when w.pinned.
func (w *phoneWorld) phoneOptions(api payflow.API) payflow.PhoneOptions {
	opts := phoneOptions(w.f, api)
	if w.pinned {
		opts.Verifier, opts.PlatformKey = nil, &w.f.Key.PublicKey
	}
	return opts
}

// useShopper replaces the shopper phone with one that talks to api.
func (w *phoneWorld) useShopper(tb testing.TB, api payflow.API) {
	tb.Helper()
	shopper, err := payflow.NewShopper(w.shopperCard.Card, w.phoneOptions(api))
	require.NoError(tb, err)
	w.shopper = shopper
}

// useSeller replaces the seller phone with one that talks to api.
func (w *phoneWorld) useSeller(tb testing.TB, api payflow.API) {
	tb.Helper()
	w.useSellerWaiting(tb, api, 0)
}

// useSellerWaiting replaces the seller phone with one that talks to api
// and sends a cancellation that the platform answers ErrConflict again
// for settleWait (PhoneOptions.SettleWait; zero: the default).
func (w *phoneWorld) useSellerWaiting(tb testing.TB, api payflow.API, settleWait time.Duration) {
	tb.Helper()
	opts := w.phoneOptions(api)
	opts.SettleWait = settleWait
	seller, err := payflow.NewSeller(w.sellerCard.Card, opts)
	require.NoError(tb, err)
	w.seller = seller
}

// approveHeld has the shopper approve the payment on screen of a merchant
// that captures manually and stop waiting for the capture once the seller
// sees it held; it returns the payment's ID.
func (w *phoneWorld) approveHeld(tb testing.TB) payflow.ID {
	tb.Helper()
	ctx, cancel := withCancelCause(context.Background())
	approved := make(chan error, 1)
	go func() {
		_, err := w.shopper.Approve(ctx, simcardtest.PIN)
		approved <- err
	}()
	view, _, err := w.seller.Wait(context.Background())
	require.NoError(tb, err)
	require.Equal(tb, payflow.StateHeld, view.State)
	cancel() // the shopper stops waiting for the capture
	require.ErrorIs(tb, <-approved, context.Canceled)
	return view.ID
}

// pairAndHold pairs the phones of a merchant that captures manually, has
// the seller ask for basket and the shopper approve it (approveHeld), and
// returns the held request's ID.
func (w *phoneWorld) pairAndHold(tb testing.TB) payflow.ID {
	tb.Helper()
	w.pair(tb)
	w.request(tb)
	return w.approveHeld(tb)
}

// hear has each phone's scanner report the other's advert.
func (w *phoneWorld) hear(tb testing.TB) {
	tb.Helper()
	observe := func(advert func() ([]byte, error), q *queue.Queue) {
		raw, err := advert()
		require.NoError(tb, err)
		p, err := adv.Parse(raw)
		require.NoError(tb, err)
		require.NoError(tb, q.Observe(p, -55, time.Time{}))
	}
	observe(w.seller.Advert, w.shopper.Queue())
	observe(w.shopper.Advert, w.seller.Queue())
}

// shopperHearsSeller has the shopper's scanner report card's advert as a
// seller's, at rssi, and returns it.
func (w *phoneWorld) shopperHearsSeller(tb testing.TB, card *simcardtest.Virtual, rssi int) adv.Packet {
	tb.Helper()
	return w.hears(tb, w.shopper.Queue(), card, adv.Seller, rssi)
}

// hears has the scanner that feeds q report card's advert as one of
// role, at rssi, and returns it.
func (w *phoneWorld) hears(tb testing.TB, q *queue.Queue, card *simcardtest.Virtual, role adv.Role, rssi int) adv.Packet {
	tb.Helper()
	raw, err := card.Card.Advert(adv.Epoch(w.f.Clock.Now()), role, 0)
	require.NoError(tb, err)
	p, err := adv.Parse(raw)
	require.NoError(tb, err)
	require.NoError(tb, q.Observe(p, rssi, time.Time{}))
	return p
}

// pair walks both phones through the queue and confirmation screens.
func (w *phoneWorld) pair(tb testing.TB) *payflow.Confirmation {
	tb.Helper()
	ctx := context.Background()
	w.hear(tb)
	sellerEID, err := w.seller.EID()
	require.NoError(tb, err)
	shopperEID, err := w.shopper.EID()
	require.NoError(tb, err)
	_, err = w.shopper.Select(ctx, sellerEID)
	require.NoError(tb, err)
	c2, err := w.seller.Select(ctx, shopperEID)
	require.NoError(tb, err)
	require.True(tb, c2.Paired)
	c1, err := w.shopper.WaitPaired(ctx)
	require.NoError(tb, err)
	require.Equal(tb, c1.PairingCode, c2.PairingCode)
	return c1
}

// shopperSelects has the shopper hear the seller and select it, which
// opens a session not yet paired, and returns the shopper's EID, for the
// seller to select back, and the shopper's confirmation.
func (w *phoneWorld) shopperSelects(tb testing.TB) (adv.EID, *payflow.Confirmation) {
	tb.Helper()
	return w.selectsFirst(tb, adv.Shopper)
}

// pairPastARequest pairs the phones, has the seller ask for a payment and
// cancel it, so that the session's next request index is 1, and moves the
// clock to the next EID epoch, where pairing again opens another session.
// It returns the confirmation of the session.
func (w *phoneWorld) pairPastARequest(tb testing.TB) *payflow.Confirmation {
	tb.Helper()
	ctx := context.Background()
	c := w.pair(tb)
	_, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(tb, err)
	_, err = w.seller.Cancel(ctx)
	require.NoError(tb, err)
	toNextEpoch(tb, w.f, 0)
	return c
}

// requireFirstRequest checks that sv, the seller's request of basket, is
// the first request of session c, and that the shopper's wait finds it.
func (w *phoneWorld) requireFirstRequest(tb testing.TB, c *payflow.Confirmation, sv *payflow.PaymentView) {
	tb.Helper()
	require.Equal(tb, payflow.SessionRequestID(c.SessionID, 0), sv.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(tb, err)
	assert.Equal(tb, sv.ID, screen.ID)
	assert.Equal(tb, uint64(690), screen.Amount)
}

// requireSellerCaptured checks that the seller's Wait shows the request
// on screen captured, with rc, the shopper's receipt, and returns its view.
func (w *phoneWorld) requireSellerCaptured(tb testing.TB, rc *payflow.Receipt) *payflow.PaymentView {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	view, src, err := w.seller.Wait(ctx)
	require.NoError(tb, err)
	require.Equal(tb, payflow.StateCaptured, view.State)
	require.Equal(tb, rc.Signed, src.Signed)
	return view
}

func (w *phoneWorld) balance(tb testing.TB, owner string) payflow.Balance {
	tb.Helper()
	b, err := w.f.Platform.Balance(context.Background(), owner, "EUR")
	require.NoError(tb, err)
	return b
}

// basket is 2 apples and a loaf: 690.
var basket = payflow.Charge{Items: []record.Item{{SKU: "apple", Quantity: 2}, {SKU: "bread", Quantity: 1}}}

// request has the seller ask for basket and waits for the shopper's
// payment screen; it returns the seller's view and the shopper's.
func (w *phoneWorld) request(tb testing.TB) (sv, screen *payflow.PaymentView) {
	tb.Helper()
	ctx := context.Background()
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(tb, err)
	screen, err = w.shopper.WaitPayment(ctx)
	require.NoError(tb, err)
	return sv, screen
}

// purchase runs one purchase of basket between the paired phones and
// checks everything both screens show.
func (w *phoneWorld) purchase(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(tb, err)
	require.Equal(tb, payflow.StatePending, sv.State)
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(tb, err)
	require.Equal(tb, sv.ID, screen.ID)
	rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(tb, err)
	require.Equal(tb, uint64(690), rc.Amount)
	view, src, err := w.seller.Wait(ctx)
	require.NoError(tb, err)
	require.Equal(tb, payflow.StateCaptured, view.State)
	require.Equal(tb, rc.Signed, src.Signed)
}

func TestPhonesPurchase(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	ctx := context.Background()
	shopperID := w.shopperCard.Enrolment.ICCID

	// Queue screens: each phone names the other through the platform.
	w.hear(t)
	sellerEID, err := w.seller.EID()
	require.NoError(t, err)
	shopperEID, err := w.shopper.EID()
	require.NoError(t, err)
	peers, err := w.shopper.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	assert.Equal(t, payflow.QueueEntry{EID: sellerEID, Name: "Corner Shop", MerchantID: phoneMerchant, RSSI: -55, Level: -55}, peers[0])
	peers, err = w.seller.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	assert.Equal(t, payflow.QueueEntry{EID: shopperEID, Name: "Alice", RSSI: -55, Level: -55}, peers[0])

	// Confirmation screens: the names and the same code on both.
	c1, err := w.shopper.Select(ctx, sellerEID)
	require.NoError(t, err)
	assert.False(t, c1.Paired)
	assert.Equal(t, "Corner Shop", c1.Name)
	assert.Equal(t, adv.PairingCode(shopperEID, sellerEID), c1.PairingCode)
	c2, err := w.seller.Select(ctx, shopperEID)
	require.NoError(t, err)
	assert.True(t, c2.Paired)
	assert.Equal(t, "Alice", c2.Name)
	assert.Equal(t, c1.PairingCode, c2.PairingCode)
	assert.Equal(t, c1.SessionID, c2.SessionID)
	c1, err = w.shopper.WaitPaired(ctx)
	require.NoError(t, err)
	assert.True(t, c1.Paired)
	peers, err = w.shopper.Peers(ctx)
	require.NoError(t, err)
	assert.True(t, peers[0].Selected)

	// The seller asks for the basket; the shopper's payment screen shows it.
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c1.SessionID, 0), sv.ID)
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	assert.Equal(t, "Corner Shop", screen.MerchantName)
	assert.Equal(t, uint64(690), screen.Amount)
	assert.Equal(t, "EUR", screen.Currency)
	assert.Equal(t, []payflow.Line{
		{SKU: "apple", Name: "Apple", Quantity: 2, UnitPrice: 120, Amount: 240},
		{SKU: "bread", Name: "Sourdough bread", Quantity: 1, UnitPrice: 450, Amount: 450},
	}, screen.Lines)

	// A wrong PIN is the card's refusal and moves nothing.
	_, err = w.shopper.Approve(ctx, "000000")
	require.ErrorIs(t, err, simcard.ErrWrongPIN)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, shopperID))
	view, err := w.seller.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, view.State)

	rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, record.ReceiptPayment, rc.Kind)
	assert.Equal(t, uint64(690), rc.Amount)
	assert.Equal(t, shopperID, rc.PayerCardID)
	assert.Equal(t, phoneMerchant, rc.MerchantID)
	assert.Equal(t, []record.Line{{SKU: "apple", Name: "Apple", Quantity: 2, UnitPrice: 120}, {SKU: "bread", Name: "Sourdough bread", Quantity: 1, UnitPrice: 450}}, rc.Lines)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, shopperID))
	assert.Equal(t, payflow.Balance{Posted: 690}, w.balance(t, phoneMerchant))

	view, src, err := w.seller.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, view.State)
	assert.Equal(t, rc.Signed, src.Signed)

	// A partial refund, with its own receipt.
	rr, err := w.seller.Refund(ctx, 240)
	require.NoError(t, err)
	assert.Equal(t, record.ReceiptRefund, rr.Kind)
	assert.Equal(t, uint64(240), rr.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 450}, w.balance(t, shopperID))
	_, err = w.seller.Refund(ctx, 451)
	require.ErrorIs(t, err, payflow.ErrLimit)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 450}, w.balance(t, shopperID))

	// The next request of the session: an amount, declined.
	sv, err = w.seller.Request(ctx, payflow.Charge{Amount: 999, Currency: "EUR"})
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c1.SessionID, 1), sv.ID)
	screen, err = w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	assert.Equal(t, sv.ID, screen.ID)
	assert.Empty(t, screen.Lines)
	dv, err := w.shopper.Decline(ctx)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateDeclined, dv.State)
	view, src, err = w.seller.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateDeclined, view.State)
	assert.Nil(t, src)
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrNoPayment)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 450}, w.balance(t, shopperID))
}

func TestPhonesManualCapture(t *testing.T) {
	w := newMemoryPhoneWorld(t, true)
	ctx := context.Background()
	w.pair(t)
	w.request(t)

	type result struct {
		rc  *payflow.Receipt
		err error
	}
	approved := make(chan result, 1)
	go func() {
		rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
		approved <- result{rc, err}
	}()
	view, rc, err := w.seller.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, payflow.StateHeld, view.State)
	assert.Nil(t, rc)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds, Held: 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))

	rc, err = w.seller.Capture(ctx, 600)
	require.NoError(t, err)
	assert.Equal(t, uint64(600), rc.Amount)
	got := <-approved
	require.NoError(t, got.err)
	assert.Equal(t, rc.Signed, got.rc.Signed)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 600}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

func TestPhonesRefusals(t *testing.T) {
	ctx := context.Background()

	t.Run("approve after cancel is refused and never charged", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.pair(t)
		w.request(t)
		v, err := w.seller.Cancel(ctx)
		require.NoError(t, err)
		assert.Equal(t, payflow.StateCancelled, v.State)
		_, err = w.shopper.Approve(ctx, simcardtest.PIN)
		require.ErrorIs(t, err, payflow.ErrFinal)
		assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	})
	t.Run("unknown adverts are left out of the queue", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.hear(t)
		forged := adv.Packet{Role: adv.Seller, EID: adv.EID{1, 2, 3}}
		require.NoError(t, w.shopper.Queue().Observe(forged, -30, time.Time{}))
		peers, err := w.shopper.Peers(ctx)
		require.NoError(t, err)
		require.Len(t, peers, 1)
		assert.Equal(t, "Corner Shop", peers[0].Name)
		_, err = w.shopper.Select(ctx, forged.EID)
		require.ErrorIs(t, err, payflow.ErrNotFound)
	})
	t.Run("a shopper card advertising as a seller is left out", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.shopperHearsSeller(t, enrolPhoneCard(t, w.f, "Mallory"), -30)
		peers, err := w.shopper.Peers(ctx)
		require.NoError(t, err)
		assert.Empty(t, peers)
	})
	t.Run("no payment before pairing", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		_, err := w.seller.Request(ctx, basket)
		require.ErrorIs(t, err, payflow.ErrNotPaired)
		_, err = w.shopper.WaitPayment(ctx)
		require.ErrorIs(t, err, payflow.ErrNotPaired)
		_, err = w.shopper.WaitPaired(ctx)
		require.ErrorIs(t, err, payflow.ErrNotPaired)
	})
	t.Run("an item not in the catalog", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.pair(t)
		_, err := w.seller.Request(ctx, payflow.Charge{Items: []record.Item{{SKU: "caviar", Quantity: 1}}})
		require.ErrorIs(t, err, payflow.ErrInvalid)
	})
	t.Run("waiting ends with the context", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.pair(t)
		cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err := w.shopper.WaitPayment(cctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("the session expires while waiting for a request", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.pair(t)
		w.f.Clock.Advance(payflow.DefaultSessionTTL)
		_, err := w.shopper.WaitPayment(ctx)
		require.ErrorIs(t, err, payflow.ErrExpired)
	})
	t.Run("options without a way to verify receipts", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		_, err := payflow.NewShopper(w.shopperCard.Card, payflow.PhoneOptions{API: w.f.Platform})
		require.ErrorIs(t, err, payflow.ErrInvalid)
		_, err = payflow.NewSeller(w.sellerCard.Card, payflow.PhoneOptions{Verifier: w.f.PlatformVerifier})
		require.ErrorIs(t, err, payflow.ErrInvalid)
	})
	t.Run("a nil pointer for the card or the API", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		var nilCard *simcard.Card
		for _, tc := range []struct {
			name            string
			shopper, seller *simcard.Card
			api             payflow.API
			want            string
		}{
			{"card", nilCard, nilCard, w.f.Platform, "payflow: invalid request: the phone's card is a nil *simcard.Card"},
			{"platform", w.shopperCard.Card, w.sellerCard.Card, (*payflow.Platform)(nil), "payflow: invalid request: the phone's API is a nil *payflow.Platform"},
			{"client", w.shopperCard.Card, w.sellerCard.Card, (*payflow.Client)(nil), "payflow: invalid request: the phone's API is a nil *payflow.Client"},
		} {
			opts := phoneOptions(w.f, tc.api)
			_, err := payflow.NewShopper(tc.shopper, opts)
			require.ErrorIs(t, err, payflow.ErrInvalid, "shopper, nil %s", tc.name)
			assert.EqualError(t, err, tc.want, "shopper, nil %s", tc.name)
			_, err = payflow.NewSeller(tc.seller, opts)
			require.ErrorIs(t, err, payflow.ErrInvalid, "seller, nil %s", tc.name)
			assert.EqualError(t, err, tc.want, "seller, nil %s", tc.name)
		}
	})
	// A PlatformKey that no receipt can verify under: the phone would
	// move money and then refuse every receipt (ErrSignature).
	t.Run("a PlatformKey that is no P-256 key", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		raw, err := w.f.Key.PublicKey.Bytes() // 0x04 || X || Y
		require.NoError(t, err)
		x, y := new(big.Int).SetBytes(raw[1:33]), new(big.Int).SetBytes(raw[33:])
		for _, tc := range []struct {
			name string
			key  *ecdsa.PublicKey
			want string
		}{
			{"no curve", rawKey(nil, x, y), "payflow: invalid request: the phone's PlatformKey has no curve (a receipt key is ECDSA P-256)"},
			{"P-384", rawKey(elliptic.P384(), x, y), "payflow: invalid request: the phone's PlatformKey is on P-384 (a receipt key is ECDSA P-256)"},
			{"P-256 parameters", rawKey(elliptic.P256().Params(), x, y), "payflow: invalid request: the phone's PlatformKey is on a P-256 curve other than elliptic.P256() (a receipt key is ECDSA P-256)"},
			{"a curve without parameters", rawKey(noParamsCurve{elliptic.P256()}, x, y), "payflow: invalid request: the phone's PlatformKey is on another curve (a receipt key is ECDSA P-256)"},
			{"no point", rawKey(elliptic.P256(), nil, y), "payflow: invalid request: the phone's PlatformKey has no point"},
			{"off the curve", rawKey(elliptic.P256(), new(big.Int).Add(x, big.NewInt(1)), y), "payflow: invalid request: the phone's PlatformKey is no point of P-256"},
		} {
			for _, verifier := range []*pki.Verifier{nil, w.f.PlatformVerifier} {
				opts := phoneOptions(w.f, w.f.Platform)
				opts.Verifier, opts.PlatformKey = verifier, tc.key
				_, err := payflow.NewShopper(w.shopperCard.Card, opts)
				require.ErrorIs(t, err, payflow.ErrInvalid, "shopper, %s", tc.name)
				assert.EqualError(t, err, tc.want, "shopper, %s", tc.name)
				_, err = payflow.NewSeller(w.sellerCard.Card, opts)
				require.ErrorIs(t, err, payflow.ErrInvalid, "seller, %s", tc.name)
				assert.EqualError(t, err, tc.want, "seller, %s", tc.name)
			}
		}
		opts := phoneOptions(w.f, w.f.Platform)
		opts.Verifier, opts.PlatformKey = nil, &w.f.Key.PublicKey
		_, err = payflow.NewShopper(w.shopperCard.Card, opts)
		require.NoError(t, err, "the platform's key")
		_, err = payflow.NewSeller(w.sellerCard.Card, opts)
		require.NoError(t, err, "the platform's key")
	})
}

// rawKey returns the public key of curve with the coordinates x and y, as
// given: a key without a curve, without a point or off its curve.
func rawKey(curve elliptic.Curve, x, y *big.Int) *ecdsa.PublicKey {
	//lint:ignore SA1019 only the raw coordinates build a key without a point or off its curve, which crypto/ecdsa parses no other way
	return &ecdsa.PublicKey{Curve: curve, X: x, Y: y}
}

// noParamsCurve is a curve whose Params are nil.
type noParamsCurve struct{ elliptic.Curve }

func (noParamsCurve) Params() *elliptic.CurveParams { return nil }

// TestLoginAfterLostReply: a login whose reply was lost is answered
// ErrReplay on its resend (login replies are never stored), and the phone
// logs in again over a new challenge.
func TestLoginAfterLostReply(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	api := &faultAPI{API: w.f.Platform}
	api.login.resend = true
	api.login.reply.failNext()
	shopper, err := payflow.NewShopper(w.shopperCard.Card, phoneOptions(w.f, api))
	require.NoError(t, err)
	l, err := shopper.Login(context.Background())
	require.NoError(t, err)
	assert.NotZero(t, api.login.reply.made(), "the first login's reply lost")
	assert.NotEmpty(t, l.Token)
}

// TestLoginTries: a login sends LoginTries proofs at most while each is
// answered as spent, then fails with ErrReplay; LoginWithRetry sends as
// many as it is told, and none once the card fails to sign.
func TestLoginTries(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &faultAPI{API: w.f.Platform}
	api.login.send.failAllWith(payflow.ErrReplay) // as the platform answers a proof whose login's reply was lost
	w.useShopper(t, api)
	_, err := w.shopper.Login(ctx)
	require.ErrorIs(t, err, payflow.ErrReplay)
	assert.Equal(t, payflow.LoginTries, api.login.send.made())

	proofs := 0
	_, err = payflow.LoginWithRetry(ctx, api, 5, func() ([]byte, error) { proofs++; return []byte{0xa0}, nil })
	require.ErrorIs(t, err, payflow.ErrReplay)
	assert.Equal(t, 5, proofs)
	assert.Equal(t, payflow.LoginTries+5, api.login.send.made())

	_, err = payflow.LoginWithRetry(ctx, api, 5, func() ([]byte, error) { return nil, errCardIO })
	require.ErrorIs(t, err, errCardIO)
	assert.Equal(t, payflow.LoginTries+5, api.login.send.made(), "nothing sent")
}

// swapAPI answers the status of the requests in swap with the views of
// others, as a network or platform that mixes requests up would.
type swapAPI struct {
	payflow.API
	swap map[payflow.ID]payflow.ID
}

func (a *swapAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	if other, ok := a.swap[id]; ok {
		id = other
	}
	return a.API.Payment(ctx, token, id)
}

// TestSellerRefusesAnotherRequestsView: the seller's status of the request
// on screen answered with an earlier request's captured view and genuine
// receipt is ErrMismatch, not a capture.
func TestSellerRefusesAnotherRequestsView(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &swapAPI{API: w.f.Platform, swap: map[payflow.ID]payflow.ID{}}
	w.useSeller(t, api)
	w.pair(t)
	w.purchase(t)
	first, err := w.seller.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, first.State)

	second, err := w.seller.Request(ctx, payflow.Charge{Amount: 4000, Currency: "EUR"})
	require.NoError(t, err)
	api.swap[second.ID] = first.ID
	_, _, err = w.seller.Wait(ctx)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	_, err = w.seller.Status(ctx)
	require.ErrorIs(t, err, payflow.ErrMismatch)
}

// TestApproveGivingUpLeavesNoPIN: an Approve that gives up before the card
// signs (the request was cancelled) leaves no verified PIN on the card.
func TestApproveGivingUpLeavesNoPIN(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	w.request(t)
	_, err := w.seller.Cancel(ctx)
	require.NoError(t, err)
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrFinal)
	ok, err := w.shopperCard.Card.PINVerified()
	require.NoError(t, err)
	assert.False(t, ok)
}

// TestPairingAcrossEpochChange: selections on either side of an EID
// rotation open two sessions, each waiting (PROTOCOL.md §6.1); selecting
// the peer again under the new EIDs pairs the phones.
func TestPairingAcrossEpochChange(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	toNextEpoch(t, w.f, -2*time.Second)
	w.hear(t)
	sellerEID, err := w.seller.EID()
	require.NoError(t, err)
	first, err := w.shopper.Select(ctx, sellerEID)
	require.NoError(t, err)
	require.False(t, first.Paired)

	w.f.Clock.Advance(4 * time.Second) // both cards rotate their EIDs
	w.hear(t)
	shopperEID, err := w.shopper.EID()
	require.NoError(t, err)
	c, err := w.seller.Select(ctx, shopperEID)
	require.NoError(t, err)
	require.False(t, c.Paired, "the seller's proof names the new EIDs: another session")
	require.NotEqual(t, first.SessionID, c.SessionID)

	sellerEID, err = w.seller.EID()
	require.NoError(t, err)
	again, err := w.shopper.Select(ctx, sellerEID)
	require.NoError(t, err)
	assert.True(t, again.Paired)
	assert.Equal(t, c.SessionID, again.SessionID)
	assert.Equal(t, c.PairingCode, again.PairingCode)
}

// TestApproveFailedSignatureLeavesNoPIN: when the card refuses to sign
// after the PIN was verified (here: a consent nonce of the wrong size),
// Approve selects the applet again, which clears the PIN.
func TestApproveFailedSignatureLeavesNoPIN(t *testing.T) {
	ctx := context.Background()
	w, api := newTamperWorld(t)
	w.pair(t)
	w.request(t)
	api.payment = func(v *payflow.PaymentView) { v.ConsentNonce = []byte{1, 2, 3} }
	_, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.Error(t, err)
	ok, err := w.shopperCard.Card.PINVerified()
	require.NoError(t, err)
	assert.False(t, ok)
}

// lateAPI runs a hook before each pairing reaches the platform.
type lateAPI struct {
	payflow.API
	beforePair func()
}

func (a *lateAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	a.beforePair()
	return a.API.Pair(ctx, req)
}

// TestSelectAcrossEpochEnd: an EID epoch that ends while a selection is
// on its way to the platform does not make the phone doubt the session it
// gets back: it checks the session against the EID its proof named.
func TestSelectAcrossEpochEnd(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	api := &lateAPI{API: f.Platform, beforePair: func() {}}
	w := newPhoneWorld(t, f, api, false)
	toNextEpoch(t, f, -2*time.Second)
	w.hear(t)
	sellerEID, err := w.seller.EID()
	require.NoError(t, err)
	api.beforePair = func() { f.Clock.Advance(3 * time.Second) } // into the next epoch
	c, err := w.shopper.Select(ctx, sellerEID)
	require.NoError(t, err)
	assert.False(t, c.Paired)
	assert.NotEmpty(t, c.PairingCode)
}

// switchAPI is the platform a phone reaches, switched by the test.
type switchAPI struct {
	mu sync.Mutex
	payflow.API
}

func (a *switchAPI) to(api payflow.API) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.API = api
}

// newSwitchWorld returns a fixture and its phone world, whose phones
// reach the platform through a switchAPI, which starts at f's platform.
func newSwitchWorld(t *testing.T) (*paytest.Fixture, *switchAPI, *phoneWorld) {
	t.Helper()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	api := &switchAPI{API: f.Platform}
	return f, api, newPhoneWorld(t, f, api, false)
}

// TestReceiptKeyRenewed: when the platform renews its certificate and key,
// the phones verify the new receipts by the chain they carry; when that
// certificate expires, a receipt it signed no longer verifies
// (ErrSignature, the chain expired).
func TestReceiptKeyRenewed(t *testing.T) {
	ctx := context.Background()
	f, api, w := newSwitchWorld(t)
	w.pair(t)
	w.purchase(t) // both phones keep the first chain

	api.to(renewedPlatform(t, f))
	w.purchase(t)

	f.Clock.Advance(time.Hour + pki.DefaultSkew + time.Second)
	_, _, err := w.seller.Wait(ctx)
	require.ErrorIs(t, err, payflow.ErrSignature, "the renewed certificate expired")
	assert.ErrorIs(t, err, pki.ErrExpired)
}

// TestReceiptOfReplacedKeyVerified: a receipt signed before the platform
// replaced its receipt key and certificate (a new chain under the same
// root) still verifies on a phone with a Verifier, by the chain it
// carries, though the phone trusts the new chain of Info: the seller
// phone, which asks Info only once the key changed, takes the receipt of
// the request captured under the former key, and both phones the
// receipts of the new key after it; each receipt carries the chain of
// the key that signed it.
func TestReceiptOfReplacedKeyVerified(t *testing.T) {
	ctx := context.Background()
	f, api, w := newSwitchWorld(t)
	w.pair(t)
	sv, _ := w.request(t)
	former, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)
	chain, err := record.ReceiptChain(former.Signed)
	require.NoError(t, err)
	require.Equal(t, f.PlatformChain, chain)

	renewed := renewedPlatform(t, f)
	api.to(renewed)
	info, err := renewed.Info(ctx)
	require.NoError(t, err)
	require.NotEqual(t, f.PlatformChain[0], info.Chain[0])
	view, rc, err := w.seller.Wait(ctx)
	require.NoError(t, err, "the receipt of the former key")
	assert.Equal(t, sv.ID, view.ID)
	assert.Equal(t, payflow.StateCaptured, view.State)
	assert.Equal(t, former.Signed, rc.Signed)
	assert.Equal(t, uint64(690), rc.Amount)

	w.purchase(t) // receipts of the new key, on both phones
	refund, err := w.seller.RefundPayment(ctx, sv.ID, 90)
	require.NoError(t, err, "a refund of the request of the former key, signed by the new")
	assert.Equal(t, uint64(90), refund.Amount)
	assert.Equal(t, record.ReceiptRefund, refund.Kind)
	chain, err = record.ReceiptChain(refund.Signed)
	require.NoError(t, err)
	assert.Equal(t, info.Chain, chain)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 2*690 + 90}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestReceiptOfRevokedReplacedKey: once the platform replaced its receipt
// key and the CA revoked the replaced certificate, a phone whose Verifier
// holds the CRLs that list it (and the intermediate that signs them)
// refuses a receipt of the replaced key as a bad signature
// (ErrSignature, pki.ErrRevoked: the chain it carries is revoked), though
// the platform's answer is otherwise the one it signed; the receipts of
// the new key verify on the same phones.
func TestReceiptOfRevokedReplacedKey(t *testing.T) {
	ctx := context.Background()
	f, api, w := newSwitchWorld(t)
	v, revokePlatform := crlVerifier(t, f)
	opts := phoneOptions(f, api)
	opts.Verifier = v
	var err error
	w.seller, err = payflow.NewSeller(w.sellerCard.Card, opts)
	require.NoError(t, err)
	w.shopper, err = payflow.NewShopper(w.shopperCard.Card, opts)
	require.NoError(t, err)
	w.pair(t)
	sv, _ := w.request(t)
	former, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)

	api.to(renewedPlatform(t, f))
	revokePlatform()
	_, _, err = w.seller.Wait(ctx)
	require.ErrorIs(t, err, payflow.ErrSignature, "the receipt of the revoked certificate")
	assert.ErrorIs(t, err, pki.ErrRevoked)
	stored, err := f.Store.Payment(ctx, sv.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, stored.State)
	assert.Equal(t, former.Signed, stored.Receipt, "the receipt of the replaced key, as signed")

	w.purchase(t) // receipts of the new key, on both phones
}

// TestReceiptChainPinnedKey: a phone that pins the platform's key
// (PhoneOptions.PlatformKey, no Verifier) verifies every receipt with that
// key alone, whatever chain the receipt carries: once the platform signs
// with another key, the receipts of that key are ErrSignature there, and
// verify on the phone with a Verifier.
func TestReceiptChainPinnedKey(t *testing.T) {
	ctx := context.Background()
	f, api, w := newSwitchWorld(t)
	w.pinned = true
	w.useShopper(t, api)
	w.pair(t)
	w.purchase(t)

	api.to(renewedPlatform(t, f))
	sv, _ := w.request(t)
	_, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrSignature, "the pinned phone: another key")
	assert.ErrorIs(t, err, record.ErrSignature)
	view, rc, err := w.seller.Wait(ctx)
	require.NoError(t, err, "the phone with a Verifier: by the chain carried")
	assert.Equal(t, sv.ID, view.ID)
	assert.Equal(t, payflow.StateCaptured, view.State)
	assert.Equal(t, uint64(690), rc.Amount)
}

// renewedPlatform is a platform on f's state with a new receipt key,
// whose certificate is valid for an hour from f's clock.
func renewedPlatform(t *testing.T, f *paytest.Fixture) *payflow.Platform {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	cert, err := f.Issuer.IssuePlatform(key.Public(), "casimpay renewed platform", pki.IssueOptions{Validity: time.Hour})
	require.NoError(t, err)
	renewed, err := payflow.NewPlatform(payflow.PlatformOptions{Ledger: f.Ledger, Store: f.Store, Verifier: f.Verifier,
		Key: key, Chain: append([][]byte{cert}, f.Issuer.Chain()...), Now: f.Clock.Now})
	require.NoError(t, err)
	return renewed
}

// tamperAPI changes what the platform answers, as a compromised network
// or platform would.
type tamperAPI struct {
	payflow.API
	payment func(*payflow.PaymentView)
	pair    func(*payflow.SessionView)
	session func(*payflow.SessionView)
	approve func(*payflow.PaymentView)
	decline func(*payflow.PaymentView)
	login   func(*payflow.LoginResponse)
	catalog func(*payflow.Catalog) // alters a copy of the catalog and its items
}

func (a *tamperAPI) Login(ctx context.Context, req *payflow.LoginRequest) (*payflow.LoginResponse, error) {
	l, err := a.API.Login(ctx, req)
	if err == nil && a.login != nil {
		a.login(l)
	}
	return l, err
}

func (a *tamperAPI) Catalog(ctx context.Context, token string, merchantID string) (*payflow.Catalog, error) {
	c, err := a.API.Catalog(ctx, token, merchantID)
	if err == nil && a.catalog != nil {
		altered := *c
		altered.Items = slices.Clone(c.Items)
		a.catalog(&altered)
		c = &altered
	}
	return c, err
}

func (a *tamperAPI) Decline(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	v, err := a.API.Decline(ctx, token, id)
	if err == nil && a.decline != nil {
		a.decline(v)
	}
	return v, err
}

func (a *tamperAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	v, err := a.API.Payment(ctx, token, id)
	if err == nil && a.payment != nil {
		a.payment(v)
	}
	return v, err
}

func (a *tamperAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	v, err := a.API.Pair(ctx, req)
	if err == nil && a.pair != nil {
		a.pair(v)
	}
	return v, err
}

func (a *tamperAPI) Session(ctx context.Context, token string, id payflow.ID) (*payflow.SessionView, error) {
	v, err := a.API.Session(ctx, token, id)
	if err == nil && a.session != nil {
		a.session(v)
	}
	return v, err
}

func (a *tamperAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	v, err := a.API.Approve(ctx, req)
	if err == nil && a.approve != nil {
		a.approve(v)
	}
	return v, err
}

func TestPhonesDetectTampering(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T, api *tamperAPI) *phoneWorld {
		f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
		api.API = f.Platform
		w := newPhoneWorld(t, f, api, false)
		return w
	}
	t.Run("pairing code", func(t *testing.T) {
		w := setup(t, &tamperAPI{pair: func(s *payflow.SessionView) { s.PairingCode = "000000" }})
		w.hear(t)
		eid, err := w.seller.EID()
		require.NoError(t, err)
		_, err = w.shopper.Select(ctx, eid)
		require.ErrorIs(t, err, payflow.ErrMismatch)
	})
	tests := []struct {
		name   string
		tamper func(*payflow.PaymentView)
	}{
		{"amount", func(v *payflow.PaymentView) { v.Amount-- }},
		{"line", func(v *payflow.PaymentView) { v.Lines[0].Quantity = 1 }},
		{"merchant", func(v *payflow.PaymentView) { v.MerchantID = "other" }},
		{"merchant name", func(v *payflow.PaymentView) { v.MerchantName = "Other Shop" }},
		{"request hash", func(v *payflow.PaymentView) { v.RequestHash[0] ^= 1 }},
		{"signed request", func(v *payflow.PaymentView) { v.Request[len(v.Request)-1] ^= 1 }},
		// Unit prices and line amounts whose products and sum wrap around
		// 2^64 to what the seller signed.
		{"unit price wrapping", func(v *payflow.PaymentView) { v.Lines[0].UnitPrice += 1 << 63 }},
		{"line amounts wrapping", func(v *payflow.PaymentView) {
			v.Lines[0].UnitPrice += 1 << 62
			v.Lines[0].Amount += 1 << 63
			v.Lines[1].UnitPrice += 1 << 63
			v.Lines[1].Amount += 1 << 63
		}},
	}
	for _, tt := range tests {
		t.Run("payment screen "+tt.name, func(t *testing.T) {
			api := &tamperAPI{}
			w := setup(t, api)
			w.pair(t)
			_, err := w.seller.Request(ctx, basket)
			require.NoError(t, err)
			api.payment = tt.tamper
			_, err = w.shopper.WaitPayment(ctx)
			require.ErrorIs(t, err, payflow.ErrMismatch)
		})
	}
	t.Run("declined view of another request", func(t *testing.T) {
		api := &tamperAPI{decline: func(v *payflow.PaymentView) { v.ID[0] ^= 1 }}
		w := setup(t, api)
		w.pair(t)
		w.request(t)
		_, err := w.shopper.Decline(ctx)
		require.ErrorIs(t, err, payflow.ErrMismatch)
	})
	t.Run("receipt signature", func(t *testing.T) {
		api := &tamperAPI{approve: func(v *payflow.PaymentView) { v.Receipt[len(v.Receipt)-1] ^= 1 }}
		w := setup(t, api)
		w.pair(t)
		w.request(t)
		_, err := w.shopper.Approve(ctx, simcardtest.PIN)
		require.ErrorIs(t, err, payflow.ErrSignature)
	})
	t.Run("receipt payload", func(t *testing.T) {
		// A byte of the request hash that the receipt names changed, its
		// signature kept: refused for the signature, before the hash is
		// compared with the request's.
		api := &tamperAPI{approve: func(v *payflow.PaymentView) {
			i := bytes.Index(v.Receipt, v.RequestHash)
			require.Positive(t, i)
			v.Receipt[i] ^= 1
		}}
		w := setup(t, api)
		w.pair(t)
		w.request(t)
		_, err := w.shopper.Approve(ctx, simcardtest.PIN)
		require.ErrorIs(t, err, payflow.ErrSignature)
		require.ErrorIs(t, err, record.ErrSignature)
		assert.NotErrorIs(t, err, payflow.ErrMismatch)
	})
	t.Run("receipt of another key", func(t *testing.T) {
		f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
		w := newPhoneWorld(t, f, nil, false)
		other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		opts := phoneOptions(f, f.Platform)
		opts.Verifier, opts.PlatformKey = nil, &other.PublicKey
		w.shopper, err = payflow.NewShopper(w.shopperCard.Card, opts)
		require.NoError(t, err)
		w.pair(t)
		w.request(t)
		_, err = w.shopper.Approve(ctx, simcardtest.PIN)
		require.ErrorIs(t, err, payflow.ErrSignature)
		require.ErrorIs(t, err, record.ErrSignature)
	})
	t.Run("pinned platform key", func(t *testing.T) {
		f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
		w := newPhoneWorld(t, f, nil, false)
		w.pinned = true
		w.useShopper(t, f.Platform)
		w.pair(t)
		w.purchase(t)
	})
}

// TestPhonesRefuseSessionOfAnotherID: a pairing answered with the view of
// the session that the two EIDs name but the ID of another session (one
// of the same two cards under the EIDs of the epoch before, or one of the
// seller with another shopper) is ErrMismatch for either phone, which
// selects nothing, where it took that ID and the seller card signed the
// requests of the session selected as requests of the other one: the
// paired view that the phone selecting second gets, and the waiting view
// that the phone selecting first gets, whose ID derives from the two EIDs
// as the paired one's does, though it shows no card ID of the peer. The
// same pairing answered as the platform made it selects the session whose
// ID derives from the EIDs of the proof.
func TestPhonesRefuseSessionOfAnotherID(t *testing.T) {
	ctx := context.Background()
	earlier := []struct {
		name    string
		session func(t *testing.T, w *phoneWorld) payflow.ID
	}{
		{"of the epoch before", func(t *testing.T, w *phoneWorld) payflow.ID {
			return w.pairPastARequest(t).SessionID
		}},
		{"with another shopper", func(t *testing.T, w *phoneWorld) payflow.ID {
			return w.withShopper(t, "Bob", payflow.ID{0xf2}).pair(t).SessionID
		}},
	}
	for _, e := range earlier {
		for _, role := range []adv.Role{adv.Shopper, adv.Seller} {
			for _, paired := range []bool{false, true} {
				name := role.String() + " waiting " + e.name
				if paired {
					name = role.String() + " paired " + e.name
				}
				t.Run(name, func(t *testing.T) {
					w, api := newTamperWorld(t)
					other := e.session(t, w)
					// The phone of role selects second to get the paired
					// view, first to get the waiting one.
					last := role
					if !paired {
						last = adv.Shopper + adv.Seller - role
					}
					first, second, shopperEID, sellerEID := w.selections(t, last)
					selectPeer := second
					if paired {
						_, err := first(ctx)
						require.NoError(t, err)
					} else {
						selectPeer = first
					}
					want := payflow.SessionID(shopperEID[:], sellerEID[:])
					require.NotEqual(t, want, other)

					api.pair = func(s *payflow.SessionView) { s.ID = other }
					c, err := selectPeer(ctx)
					require.ErrorIs(t, err, payflow.ErrMismatch)
					assert.Nil(t, c)

					api.pair = nil
					c, err = selectPeer(ctx)
					require.NoError(t, err)
					assert.Equal(t, want, c.SessionID)
					assert.Equal(t, paired, c.Paired)
				})
			}
		}
	}
}

// selections has the phones hear each other and returns their Selects of
// each other, the one of the phone of role last, and the EIDs they heard.
func (w *phoneWorld) selections(tb testing.TB, last adv.Role) (first, second func(context.Context) (*payflow.Confirmation, error), shopperEID, sellerEID adv.EID) {
	tb.Helper()
	w.hear(tb)
	sellerEID, err := w.seller.EID()
	require.NoError(tb, err)
	shopperEID, err = w.shopper.EID()
	require.NoError(tb, err)
	first = func(ctx context.Context) (*payflow.Confirmation, error) { return w.seller.Select(ctx, shopperEID) }
	second = func(ctx context.Context) (*payflow.Confirmation, error) { return w.shopper.Select(ctx, sellerEID) }
	if last == adv.Seller {
		first, second = second, first
	}
	return first, second, shopperEID, sellerEID
}

// hidePeerCardID returns a tamperAPI hook that empties the card ID of the
// peer of the phone of role in a session view.
func hidePeerCardID(role adv.Role) func(*payflow.SessionView) {
	return func(s *payflow.SessionView) {
		if role == adv.Seller {
			s.ShopperCardID = ""
		} else {
			s.SellerCardID = ""
		}
	}
}

// relabelAPI shows every session under the ID with the first bit of its
// own flipped: the pairing's answer, and the reads of the session under
// the ID it showed.
type relabelAPI struct{ payflow.API }

func relabel(id payflow.ID) payflow.ID {
	id[0] ^= 1
	return id
}

func (a relabelAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	v, err := a.API.Pair(ctx, req)
	if err == nil {
		v.ID = relabel(v.ID)
	}
	return v, err
}

func (a relabelAPI) Session(ctx context.Context, token string, id payflow.ID) (*payflow.SessionView, error) {
	v, err := a.API.Session(ctx, token, relabel(id))
	if err == nil {
		v.ID = relabel(v.ID)
	}
	return v, err
}

// TestPhonesCheckWaitingSessionOncePaired: the view of a session that only
// the phone's card has confirmed shows no card ID of the peer; the phone
// takes it with its own card ID, the pairing code of the two EIDs, the
// peer as the platform named it and the ID that the two EIDs derive, and
// checks the peer's card ID once the paired view shows it. A platform
// that shows the session under another ID than the one the EIDs derive,
// waiting and paired, is ErrMismatch at once: the phone selects nothing.
// A paired view that shows no card ID of the peer is ErrMismatch for
// WaitPaired, where the seller would sign requests for no payer:
// WaitPaired then confirms nothing, and the seller makes no request
// (ErrNotPaired).
func TestPhonesCheckWaitingSessionOncePaired(t *testing.T) {
	ctx := context.Background()
	for _, role := range []adv.Role{adv.Shopper, adv.Seller} {
		for _, tt := range []struct {
			name string
			// api is what the phone of role, which selects first, talks
			// to; the other talks to the platform.
			api func(f *paytest.Fixture) payflow.API
			// waiting is whether the phone takes the waiting view.
			waiting bool
		}{
			{"under another ID", func(f *paytest.Fixture) payflow.API { return relabelAPI{f.Platform} }, false},
			{"without the peer's card ID", func(f *paytest.Fixture) payflow.API {
				return &tamperAPI{API: f.Platform, session: hidePeerCardID(role)}
			}, true},
		} {
			t.Run(role.String()+" "+tt.name, func(t *testing.T) {
				f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
				w := newPhoneWorld(t, f, nil, false)
				if role == adv.Seller {
					w.useSeller(t, tt.api(f))
				} else {
					w.useShopper(t, tt.api(f))
				}
				wait, last := w.shopper.WaitPaired, adv.Seller
				if role == adv.Seller {
					wait, last = w.seller.WaitPaired, adv.Shopper
				}
				first, second, shopperEID, sellerEID := w.selections(t, last)
				c, err := first(ctx)
				if tt.waiting {
					require.NoError(t, err, "a waiting view shows no card ID of the peer")
					assert.False(t, c.Paired)
					assert.Equal(t, adv.PairingCode(shopperEID, sellerEID), c.PairingCode)
					assert.Equal(t, payflow.SessionID(shopperEID[:], sellerEID[:]), c.SessionID)
					c, err = second(ctx)
					require.NoError(t, err)
					require.True(t, c.Paired)
					c, err = wait(ctx)
					require.ErrorIs(t, err, payflow.ErrMismatch)
				} else {
					require.ErrorIs(t, err, payflow.ErrMismatch)
					assert.Nil(t, c)
					c, err = wait(ctx)
					require.ErrorIs(t, err, payflow.ErrNotPaired, "nothing selected")
				}
				assert.Nil(t, c)
				if role == adv.Seller {
					_, err = w.seller.Request(ctx, basket)
					assert.ErrorIs(t, err, payflow.ErrNotPaired)
				}
			})
		}
	}
}

// TestPhonesRefusePairedSessionWithoutPeerCardID: a paired view answered
// to a pairing without the card ID of the peer is ErrMismatch, and the
// phone selects nothing; a waiting view without it is taken.
func TestPhonesRefusePairedSessionWithoutPeerCardID(t *testing.T) {
	ctx := context.Background()
	for _, role := range []adv.Role{adv.Shopper, adv.Seller} {
		t.Run(role.String(), func(t *testing.T) {
			w, api := newTamperWorld(t)
			first, selectPeer, _, _ := w.selections(t, role)
			c, err := first(ctx)
			require.NoError(t, err)
			require.False(t, c.Paired)

			api.pair = hidePeerCardID(role)
			c, err = selectPeer(ctx)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.Nil(t, c)
			if role == adv.Seller {
				_, err = w.seller.Request(ctx, basket)
				assert.ErrorIs(t, err, payflow.ErrNotPaired)
			}
		})
	}
}

// loginCounter counts the logins that reach the platform.
type loginCounter struct {
	payflow.API
	logins atomic.Int32
}

func (a *loginCounter) Login(ctx context.Context, req *payflow.LoginRequest) (*payflow.LoginResponse, error) {
	a.logins.Add(1)
	return a.API.Login(ctx, req)
}

func TestPhonesLogInAgainWhenTheTokenExpires(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	api := &loginCounter{API: f.Platform}
	w := newPhoneWorld(t, f, api, false)
	w.hear(t)
	peers, err := w.shopper.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	assert.Equal(t, int32(1), api.logins.Load())

	// An hour later the token has expired and the EIDs have rotated.
	f.Clock.Advance(payflow.DefaultTokenTTL)
	w.hear(t)
	peers, err = w.shopper.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	assert.Equal(t, "Corner Shop", peers[0].Name)
	assert.Equal(t, int32(2), api.logins.Load(), "the shopper logged in again; advertising needs no login")
}

// TestNoMoneyMovesWithoutTrustedPlatform: once the platform's certificate
// expired, the shopper's Approve and the seller's Refund and Capture fail
// with ErrCard before anything is signed or sent, and no money moves,
// instead of moving it and then refusing the receipt.
func TestNoMoneyMovesWithoutTrustedPlatform(t *testing.T) {
	ctx := context.Background()
	for _, manual := range []bool{false, true} {
		t.Run(map[bool]string{false: "refund", true: "manual capture"}[manual], func(t *testing.T) {
			f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
			api := &switchAPI{API: f.Platform}
			w := newPhoneWorld(t, f, api, manual)
			api.to(renewedPlatform(t, f))
			w.pair(t)
			var held payflow.ID
			if manual {
				w.request(t)
				held = w.approveHeld(t)
			} else {
				w.purchase(t) // to refund later
			}
			posted := w.balance(t, w.shopperCard.Enrolment.ICCID).Posted

			f.Clock.Advance(time.Hour + pki.DefaultSkew + time.Second)
			if manual {
				_, err := w.seller.Capture(ctx, 0)
				require.ErrorIs(t, err, payflow.ErrCard)
				r, err := f.Store.Payment(ctx, held)
				require.NoError(t, err)
				assert.Equal(t, payflow.StateHeld, r.State, "no capture was sent")
			} else {
				_, err := w.seller.Refund(ctx, 100)
				require.ErrorIs(t, err, payflow.ErrCard)
			}
			assert.Equal(t, posted, w.balance(t, w.shopperCard.Enrolment.ICCID).Posted, "nothing captured or refunded")

			w.pair(t) // the session and the EIDs of an hour ago are gone
			sv, err := w.seller.Request(ctx, basket)
			require.NoError(t, err)
			_, err = w.shopper.WaitPayment(ctx)
			require.NoError(t, err)
			// (A consent that went through would wait for a manual capture.)
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_, err = w.shopper.Approve(actx, simcardtest.PIN)
			require.ErrorIs(t, err, payflow.ErrCard)
			r, err := f.Store.Payment(ctx, sv.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StatePending, r.State, "no consent was sent")
			assert.Equal(t, posted, w.balance(t, w.shopperCard.Enrolment.ICCID).Posted)
		})
	}
}

// TestRefundResendsNothingWithoutTrustedPlatform: a refund kept because it
// got no answer is not sent again once the platform's certificate
// expired: Refund fails with ErrCard and no money moves.
func TestRefundResendsNothingWithoutTrustedPlatform(t *testing.T) {
	ctx := context.Background()
	f, api, w := newSwitchWorld(t)
	api.to(renewedPlatform(t, f))
	neverSent := &faultAPI{API: api}
	neverSent.refund.send.failNextWith(payflow.ErrUnavailable)
	w.useSeller(t, neverSent)
	w.pair(t)
	w.purchase(t)
	_, err := w.seller.Refund(ctx, 240)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	paid := w.balance(t, w.shopperCard.Enrolment.ICCID)

	f.Clock.Advance(time.Hour + pki.DefaultSkew + time.Second)
	_, err = w.seller.Refund(ctx, 240)
	require.ErrorIs(t, err, payflow.ErrCard)
	assert.Equal(t, paid, w.balance(t, w.shopperCard.Enrolment.ICCID), "the kept refund was not sent")
}

// TestSellerRefundTrustsThePlatformAtItsTurn: refunds run one at a time,
// and the platform's certificate may expire while a refund waits for its
// turn. The refund checks the certificate once its turn came: it fails
// with ErrCard, the card signing no refund and the platform refunding
// nothing, instead of moving money for a receipt that the phone refuses.
func TestSellerRefundTrustsThePlatformAtItsTurn(t *testing.T) {
	ctx := context.Background()
	f, api, w := newSwitchWorld(t)
	api.to(renewedPlatform(t, f))
	w.pair(t)
	w.purchase(t)
	paid := w.balance(t, w.shopperCard.Enrolment.ICCID)
	counter, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)

	waits := 0
	payflow.OnRefundTurn(w.seller, func() {
		if waits++; waits == 1 { // the certificate expires while the refund waits
			f.Clock.Advance(time.Hour + pki.DefaultSkew + time.Second)
		}
	})
	_, err = w.seller.Refund(ctx, 240)
	require.ErrorIs(t, err, payflow.ErrCard)
	assert.Equal(t, 1, waits)
	assert.Equal(t, paid, w.balance(t, w.shopperCard.Enrolment.ICCID), "nothing refunded")
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, counter, after, "the card signed no refund")
}

// TestSelectChecksThePeer: a session that the platform or the network
// answers with another merchant, merchant name or shopper name than the
// advert the user picked, or with other parties later, is ErrMismatch, and
// the phone keeps no session to pay in. (The peer's card ID, which no
// waiting view shows and the session's ID does not bind, shows first on
// the paired view: TestPhonesCheckWaitingSessionOncePaired.)
func TestSelectChecksThePeer(t *testing.T) {
	ctx := context.Background()
	// setup returns phones that heard each other, with their EIDs.
	setup := func(t *testing.T) (w *phoneWorld, api *tamperAPI, shopperEID, sellerEID adv.EID) {
		w, api = newTamperWorld(t)
		w.hear(t)
		shopperEID, err := w.shopper.EID()
		require.NoError(t, err)
		sellerEID, err = w.seller.EID()
		require.NoError(t, err)
		return w, api, shopperEID, sellerEID
	}
	for name, tamper := range map[string]func(*payflow.SessionView){
		"another merchant":      func(s *payflow.SessionView) { s.MerchantID = "other-shop" },
		"another merchant name": func(s *payflow.SessionView) { s.MerchantName = "Other Shop" },
	} {
		t.Run("shopper: "+name, func(t *testing.T) {
			w, api, _, sellerEID := setup(t)
			api.pair = tamper
			_, err := w.shopper.Select(ctx, sellerEID)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			_, err = w.shopper.WaitPaired(ctx)
			require.ErrorIs(t, err, payflow.ErrNotPaired, "no session kept")
		})
	}
	t.Run("shopper: merchant renamed since the queue named it", func(t *testing.T) {
		w, _, _, sellerEID := setup(t)
		peers, err := w.shopper.Peers(ctx)
		require.NoError(t, err)
		require.Len(t, peers, 1)
		require.Equal(t, "Corner Shop", peers[0].Name)
		require.NoError(t, w.f.Platform.EnrollMerchant(ctx, payflow.Merchant{
			ID: phoneMerchant, Name: "Corner Shop & Co", Currency: "EUR",
			SellerCardIDs: []string{w.sellerCard.Enrolment.ICCID},
		}))
		_, err = w.shopper.Select(ctx, sellerEID)
		require.ErrorIs(t, err, payflow.ErrMismatch, "the user picked another name")
		peers, err = w.shopper.Peers(ctx)
		require.NoError(t, err)
		require.Len(t, peers, 1)
		assert.Equal(t, "Corner Shop & Co", peers[0].Name, "the platform is asked again")
		c, err := w.shopper.Select(ctx, sellerEID)
		require.NoError(t, err)
		assert.Equal(t, "Corner Shop & Co", c.Name)
	})
	for name, tamper := range map[string]func(*payflow.SessionView){
		"another shopper name": func(s *payflow.SessionView) { s.ShopperName = "Mallory" },
		"another merchant":     func(s *payflow.SessionView) { s.MerchantID = "other-shop" },
	} {
		t.Run("seller: "+name, func(t *testing.T) {
			w, api, shopperEID, sellerEID := setup(t)
			_, err := w.shopper.Select(ctx, sellerEID)
			require.NoError(t, err)
			api.pair = tamper
			_, err = w.seller.Select(ctx, shopperEID)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			_, err = w.seller.Request(ctx, basket)
			require.ErrorIs(t, err, payflow.ErrNotPaired, "no session kept")
		})
	}
	for name, tamper := range map[string]func(*payflow.SessionView){
		"merchant":      func(s *payflow.SessionView) { s.MerchantID = "other-shop" },
		"merchant name": func(s *payflow.SessionView) { s.MerchantName = "Other Shop" },
		"shopper card":  func(s *payflow.SessionView) { s.ShopperCardID = "8901000000000000000" },
		"shopper name":  func(s *payflow.SessionView) { s.ShopperName = "Mallory" },
	} {
		t.Run("waiting: "+name, func(t *testing.T) {
			w, api, shopperEID, sellerEID := setup(t)
			c, err := w.shopper.Select(ctx, sellerEID)
			require.NoError(t, err)
			require.False(t, c.Paired)
			_, err = w.seller.Select(ctx, shopperEID)
			require.NoError(t, err)
			api.session = tamper
			_, err = w.shopper.WaitPaired(ctx)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			_, err = w.shopper.WaitPayment(ctx)
			require.ErrorIs(t, err, payflow.ErrNotPaired, "the session was not confirmed")
		})
	}
}

// selectedEID returns the EID of the peer selected in q, the zero EID
// when there is none.
func selectedEID(q *queue.Queue) adv.EID {
	p, _ := q.Selected()
	return p.Packet.EID
}

// withBob has the phones of w and a second shopper's, Bob's, hear one
// another, and returns the EIDs of w's shopper, Alice, and of Bob.
func (w *phoneWorld) withBob(tb testing.TB) (aliceEID, bobEID adv.EID) {
	tb.Helper()
	bob := w.withShopper(tb, "Bob", payflow.ID{0xf2})
	w.hear(tb)
	bob.hear(tb)
	aliceEID, err := w.shopper.EID()
	require.NoError(tb, err)
	bobEID, err = bob.shopper.EID()
	require.NoError(tb, err)
	return aliceEID, bobEID
}

// TestFailedSelectKeepsQueueSelection: a Select that fails selects no
// session, and the queue shows selected the peer of the session selected
// before, or none when there is none or that peer left the queue while
// the Select ran, where it showed the peer of the failed Select, kept
// there past its TTL.
func TestFailedSelectKeepsQueueSelection(t *testing.T) {
	ctx := context.Background()
	// stray has the shopper hear a seller card that the platform does
	// not know, and returns its EID.
	stray := func(t *testing.T, w *phoneWorld) adv.EID {
		card, err := simcardtest.NewCard(w.f.Issuer, simcardtest.Options{})
		require.NoError(t, err)
		return w.shopperHearsSeller(t, card, -40).EID
	}
	t.Run("no session before", func(t *testing.T) {
		w, api := newTamperWorld(t)
		w.hear(t)
		sellerEID, err := w.seller.EID()
		require.NoError(t, err)
		api.pair = func(s *payflow.SessionView) { s.PairingCode = "000000" }
		_, err = w.shopper.Select(ctx, sellerEID)
		require.ErrorIs(t, err, payflow.ErrMismatch)
		assert.Equal(t, adv.EID{}, selectedEID(w.shopper.Queue()), "no peer selected")
		peers, err := w.shopper.Peers(ctx)
		require.NoError(t, err)
		require.Len(t, peers, 1)
		assert.False(t, peers[0].Selected)
	})
	ended, cancel := withCancelCause(ctx)
	cancel()
	for _, tt := range []struct {
		name string
		ctx  context.Context
		err  error
	}{
		{"peer unknown to the platform", ctx, payflow.ErrNotFound},
		{"context ended", ended, context.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := newTamperWorld(t)
			c := w.pair(t)
			sellerEID, err := w.seller.EID()
			require.NoError(t, err)
			_, err = w.shopper.Select(tt.ctx, stray(t, w))
			require.ErrorIs(t, err, tt.err)
			assert.Equal(t, sellerEID, selectedEID(w.shopper.Queue()), "the session's peer selected")
			still, err := w.shopper.WaitPaired(ctx)
			require.NoError(t, err)
			assert.Equal(t, c.SessionID, still.SessionID, "the session selected before")
			// The stray peer is no longer kept past its TTL, the
			// session's peer is.
			w.f.Clock.Advance(queue.DefaultTTL + time.Second)
			snap := w.shopper.Queue().Snapshot()
			require.Len(t, snap, 1)
			assert.Equal(t, sellerEID, snap[0].Packet.EID)
			assert.True(t, snap[0].Selected)
		})
	}
	t.Run("pairing refused", func(t *testing.T) {
		w, api := newTamperWorld(t)
		aliceEID, bobEID := w.withBob(t)
		w.pair(t)
		api.pair = func(s *payflow.SessionView) { s.ShopperName = "Mallory" }
		_, err := w.seller.Select(ctx, bobEID)
		require.ErrorIs(t, err, payflow.ErrMismatch)
		assert.Equal(t, aliceEID, selectedEID(w.seller.Queue()), "the session's peer selected")
		peers, err := w.seller.Peers(ctx)
		require.NoError(t, err)
		require.Len(t, peers, 2)
		for _, p := range peers {
			assert.Equal(t, p.EID == aliceEID, p.Selected, p.Name)
		}
	})
	t.Run("session's peer gone meanwhile", func(t *testing.T) {
		w, _ := newTamperWorld(t)
		c := w.pair(t)
		// The seller, not heard for longer than the TTL, stays while
		// selected.
		w.f.Clock.Advance(queue.DefaultTTL + time.Second)
		_, err := w.shopper.Select(ctx, stray(t, w))
		require.ErrorIs(t, err, payflow.ErrNotFound)
		assert.Equal(t, adv.EID{}, selectedEID(w.shopper.Queue()), "no peer selected")
		assert.Len(t, w.shopper.Queue().Snapshot(), 1, "the seller left the queue")
		still, err := w.shopper.WaitPaired(ctx)
		require.NoError(t, err)
		assert.Equal(t, c.SessionID, still.SessionID, "the session selected before")
	})
	// Two Selects of the seller at once, Alice's accepted and Bob's
	// refused, the first one's pairing answered once the second ended:
	// the queue shows the peer of the Select that started last while it
	// is under way, and that of the session once it selected one, where
	// it showed Bob's after Bob's Select failed.
	for _, aliceFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("two at once, Alice's first %v", aliceFirst), func(t *testing.T) {
			w, api := newTamperWorld(t)
			aliceEID, bobEID := w.withBob(t)
			first, firstName, second := aliceEID, "Alice", bobEID
			if !aliceFirst {
				first, firstName, second = bobEID, "Bob", aliceEID
			}
			held, release := make(chan struct{}, 1), make(chan struct{})
			unhold := sync.OnceFunc(func() { close(release) })
			t.Cleanup(unhold)
			api.pair = func(s *payflow.SessionView) {
				if s.ShopperName == firstName {
					held <- struct{}{}
					<-release
				}
				if s.ShopperName == "Bob" {
					s.ShopperName = "Mallory"
				}
			}
			done := make(chan error, 1)
			go func() {
				_, err := w.seller.Select(ctx, first)
				done <- err
			}()
			within(t, held, "the first pairing answered")
			_, err := w.seller.Select(ctx, second)
			if aliceFirst {
				require.ErrorIs(t, err, payflow.ErrMismatch)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, aliceEID, selectedEID(w.seller.Queue()), "Alice selected")
			unhold()
			err = within(t, done, "the first Select")
			if aliceFirst {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, payflow.ErrMismatch)
			}
			assert.Equal(t, aliceEID, selectedEID(w.seller.Queue()), "Alice's session selected")
		})
	}
}

// hookAPI runs each of its hooks once: payment before the platform
// answers the first view of request paymentID, create after the platform
// recorded a payment request and before its answer reaches the phone,
// session before the platform answers the first view of a session, pair
// after the platform accepted a pairing and before its answer reaches the
// phone, and cancel before the platform answers a cancellation.
type hookAPI struct {
	payflow.API
	mu                             sync.Mutex
	paymentID                      payflow.ID
	paymentErr                     error                      // the answer to the next Payment of paymentID, if set
	cancelErr                      error                      // the answer to the next Cancel, not sent, if set
	createErr                      func() error               // the answer to a CreateRequest, not sent, if it returns one
	view                           func(*payflow.PaymentView) // alters the view answering the next CreateRequest made
	payment, create, session, pair func()
	cancel                         func()
	// answered runs after the platform answered the next Payment of
	// paymentID, before that answer goes on.
	answered func()
	// createView answers a CreateRequest, not sent, with the view it
	// returns, if any.
	createView func(*payflow.CreateRequest) *payflow.PaymentView
}

// run runs the hook *fn, if any, and takes it away.
func (a *hookAPI) run(fn *func()) {
	a.mu.Lock()
	hook := *fn
	*fn = nil
	a.mu.Unlock()
	if hook != nil {
		hook()
	}
}

// take returns the error *err, if any, and takes it away.
func (a *hookAPI) take(err *error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := *err
	*err = nil
	return e
}

func (a *hookAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	if id == a.paymentID {
		a.run(&a.payment)
		if err := a.take(&a.paymentErr); err != nil {
			return nil, err
		}
		v, err := a.API.Payment(ctx, token, id)
		a.run(&a.answered)
		return v, err
	}
	return a.API.Payment(ctx, token, id)
}

func (a *hookAPI) CreateRequest(ctx context.Context, req *payflow.CreateRequest) (*payflow.PaymentView, error) {
	a.mu.Lock()
	fail := a.createErr
	a.mu.Unlock()
	if fail != nil {
		if err := fail(); err != nil {
			return nil, err
		}
	}
	a.mu.Lock()
	answer := a.createView
	a.mu.Unlock()
	if answer != nil {
		if v := answer(req); v != nil {
			return v, nil
		}
	}
	v, err := a.API.CreateRequest(ctx, req)
	a.run(&a.create)
	if err == nil {
		a.mu.Lock()
		alter := a.view
		a.view = nil
		a.mu.Unlock()
		if alter != nil {
			altered := *v
			alter(&altered)
			v = &altered
		}
	}
	return v, err
}

func (a *hookAPI) Session(ctx context.Context, token string, id payflow.ID) (*payflow.SessionView, error) {
	a.run(&a.session)
	return a.API.Session(ctx, token, id)
}

func (a *hookAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	s, err := a.API.Pair(ctx, req)
	if err == nil {
		a.run(&a.pair)
	}
	return s, err
}

func (a *hookAPI) Cancel(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	a.run(&a.cancel)
	if err := a.take(&a.cancelErr); err != nil {
		return nil, err
	}
	return a.API.Cancel(ctx, token, id)
}

// shopperSelectsNextEpoch moves the clock to the next EID epoch, has the
// shopper hear the seller's advert of it and select it, and returns the
// shopper's confirmation of that new session.
func (w *phoneWorld) shopperSelectsNextEpoch(tb testing.TB) *payflow.Confirmation {
	tb.Helper()
	toNextEpoch(tb, w.f, 0)
	w.hear(tb)
	next, err := w.seller.EID()
	require.NoError(tb, err)
	c, err := w.shopper.Select(context.Background(), next)
	require.NoError(tb, err)
	return c
}

// TestWaitPairedAcrossSelect: a WaitPaired of a session that the peer
// confirms after the user selected another session fails with
// ErrNotPaired instead of showing the first session as paired, and the
// phone stays on the session selected last.
func TestWaitPairedAcrossSelect(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &hookAPI{API: w.f.Platform}
	w.useShopper(t, api)
	shopperEID, first := w.shopperSelects(t)
	var second *payflow.Confirmation
	api.session = func() {
		// The seller confirms the first session, and the shopper has
		// meanwhile selected the seller again under the next epoch's EIDs.
		c, err := w.seller.Select(ctx, shopperEID)
		require.NoError(t, err)
		require.True(t, c.Paired)
		second = w.shopperSelectsNextEpoch(t)
	}
	_, err := w.shopper.WaitPaired(ctx)
	require.ErrorIs(t, err, payflow.ErrNotPaired)
	require.NotNil(t, second)
	require.NotEqual(t, first.SessionID, second.SessionID)
	assert.False(t, second.Paired)
	_, err = w.shopper.WaitPayment(ctx)
	require.ErrorIs(t, err, payflow.ErrNotPaired, "the session selected last is not paired")
}

// TestPeersAskAgainAboutUnknownAdverts: an advert that the platform could
// not name as a seller (here a card not yet a merchant's seller card) is
// left out of the queue for UnknownPeerTTL only, not for the rest of its
// EID's epoch: once the card is a seller card, the queue names it.
func TestPeersAskAgainAboutUnknownAdverts(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	// Well inside an epoch, so that the EID stays the same.
	toNextEpoch(t, w.f, time.Minute)
	till := enrolPhoneCard(t, w.f, "Till 2")
	p := w.shopperHearsSeller(t, till, -40)
	peers, err := w.shopper.Peers(ctx)
	require.NoError(t, err)
	assert.Empty(t, peers, "not a seller card yet")

	require.NoError(t, w.f.Platform.EnrollMerchant(ctx, payflow.Merchant{
		ID: phoneMerchant, Name: "Corner Shop", Currency: "EUR",
		SellerCardIDs: []string{w.sellerCard.Enrolment.ICCID, till.Enrolment.ICCID},
	}))
	w.f.Clock.Advance(payflow.UnknownPeerTTL - time.Second)
	w.shopperHearsSeller(t, till, -40)
	peers, err = w.shopper.Peers(ctx)
	require.NoError(t, err)
	assert.Empty(t, peers, "the platform's answer is kept a while")
	w.f.Clock.Advance(time.Second)
	w.shopperHearsSeller(t, till, -40)
	peers, err = w.shopper.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	assert.Equal(t, payflow.QueueEntry{EID: p.EID, Name: "Corner Shop", MerchantID: phoneMerchant, RSSI: -40, Level: -40}, peers[0])
}

// TestResolveAnsweredNotByThePlatform: a bare 404 on a resolution, as a
// gateway or proxy answers in the platform's stead (no error body), is no
// verdict of the platform on the EID: the phone keeps no answer, fails the
// call with the error, and the next call asks again and names the peer. The
// platform's own not_found is kept for UnknownPeerTTL.
func TestResolveAnsweredNotByThePlatform(t *testing.T) {
	ctx := context.Background()
	// setup has the shopper, over a middlebox, hear the seller and has
	// the middlebox answer the next resolution with answer.
	setup := func(t *testing.T, answer middleAnswer) (*phoneWorld, adv.Packet) {
		w := newMemoryPhoneWorld(t, false)
		// Well inside an epoch, so that the EID stays the same.
		toNextEpoch(t, w.f, time.Minute)
		mb := newMiddlebox(t, w.f.Platform)
		w.useShopper(t, mb.client(t))
		p := w.shopperHearsSeller(t, w.sellerCard, -40)
		mb.answer("/v1/resolve", answer)
		return w, p
	}
	t.Run("Peers", func(t *testing.T) {
		w, p := setup(t, bareReply(http.StatusNotFound))
		_, err := w.shopper.Peers(ctx)
		require.ErrorIs(t, err, payflow.ErrNotFound)
		peers, err := w.shopper.Peers(ctx)
		require.NoError(t, err)
		require.Len(t, peers, 1)
		assert.Equal(t, payflow.QueueEntry{EID: p.EID, Name: "Corner Shop", MerchantID: phoneMerchant, RSSI: -40, Level: -40}, peers[0])
	})
	t.Run("Select", func(t *testing.T) {
		w, p := setup(t, bareReply(http.StatusNotFound))
		_, err := w.shopper.Select(ctx, p.EID)
		require.ErrorIs(t, err, payflow.ErrNotFound)
		c, err := w.shopper.Select(ctx, p.EID)
		require.NoError(t, err)
		assert.Equal(t, "Corner Shop", c.Name)
	})
	t.Run("the platform's not_found is kept", func(t *testing.T) {
		w, p := setup(t, codeReply(t, "not_found"))
		for range 2 {
			peers, err := w.shopper.Peers(ctx)
			require.NoError(t, err)
			assert.Empty(t, peers)
		}
		w.f.Clock.Advance(payflow.UnknownPeerTTL)
		require.NoError(t, w.shopper.Queue().Observe(p, -40, time.Time{}))
		peers, err := w.shopper.Peers(ctx)
		require.NoError(t, err)
		assert.Len(t, peers, 1)
	})
}

// TestPeersForgetStaleAdverts: the platform's name for an advert is kept
// for PeerNameTTL at most, so that an advert heard again long after its
// epoch (a replay) or of a card revoked since is left out once the
// platform no longer names it; while the platform refuses to name it
// again because of the rate, for PeerNameTTL more at most.
func TestPeersForgetStaleAdverts(t *testing.T) {
	ctx := context.Background()
	named := func(t *testing.T, w *phoneWorld, p adv.Packet) {
		t.Helper()
		peers, err := w.shopper.Peers(ctx)
		require.NoError(t, err)
		require.Len(t, peers, 1)
		assert.Equal(t, payflow.QueueEntry{EID: p.EID, Name: "Corner Shop", MerchantID: phoneMerchant, RSSI: -40, Level: -40}, peers[0])
	}
	t.Run("replayed", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		p := w.shopperHearsSeller(t, w.sellerCard, -40)
		named(t, w, p)
		w.f.Clock.Advance(time.Hour)
		require.NoError(t, w.shopper.Queue().Observe(p, -40, time.Time{}))
		peers, err := w.shopper.Peers(ctx)
		require.NoError(t, err)
		assert.Empty(t, peers, "an EID of an epoch the platform no longer resolves")
	})
	t.Run("revoked", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		// Well inside an epoch, so that the EID stays the same.
		toNextEpoch(t, w.f, time.Minute)
		p := w.shopperHearsSeller(t, w.sellerCard, -40)
		named(t, w, p)
		w.f.Revoke(&paytest.Card{Chain: w.sellerCard.Enrolment.Chain})
		w.f.Clock.Advance(payflow.PeerNameTTL - time.Second)
		w.shopperHearsSeller(t, w.sellerCard, -40)
		named(t, w, p) // the platform's answer is kept a while
		w.f.Clock.Advance(time.Second)
		w.shopperHearsSeller(t, w.sellerCard, -40)
		peers, err := w.shopper.Peers(ctx)
		require.NoError(t, err)
		assert.Empty(t, peers, "a revoked card")
	})
	t.Run("rate limited", func(t *testing.T) {
		f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
		api := &resolveRefusals{API: f.Platform}
		w := newPhoneWorld(t, f, api, false)
		p := w.shopperHearsSeller(t, w.sellerCard, -40)
		named(t, w, p)
		api.refuse.Store(true)
		w.f.Clock.Advance(2*payflow.PeerNameTTL - time.Second)
		require.NoError(t, w.shopper.Queue().Observe(p, -40, time.Time{}))
		named(t, w, p) // expired less than PeerNameTTL ago
		w.f.Clock.Advance(time.Second)
		require.NoError(t, w.shopper.Queue().Observe(p, -40, time.Time{}))
		peers, err := w.shopper.Peers(ctx)
		require.NoError(t, err)
		assert.Empty(t, peers, "a name that expired PeerNameTTL ago")
		w.f.Clock.Advance(time.Hour)
		require.NoError(t, w.shopper.Queue().Observe(p, -40, time.Time{}))
		peers, err = w.shopper.Peers(ctx)
		require.NoError(t, err)
		assert.Empty(t, peers, "a replay an hour later")
		assert.Equal(t, int32(3), api.refused.Load())
	})
}

// resolveRefusals counts the resolutions that the platform refuses for the
// card's rate; while refuse is set, it refuses them all so itself.
type resolveRefusals struct {
	payflow.API
	refused atomic.Int32
	refuse  atomic.Bool
}

func (a *resolveRefusals) Resolve(ctx context.Context, token string, req *payflow.ResolveRequest) (*payflow.ResolveResponse, error) {
	var (
		r   *payflow.ResolveResponse
		err error = &payflow.RateLimitedError{Err: payflow.ErrRateLimited, RetryAfter: time.Second}
	)
	if !a.refuse.Load() {
		r, err = a.API.Resolve(ctx, token, req)
	}
	if errors.Is(err, payflow.ErrRateLimited) {
		a.refused.Add(1)
	}
	return r, err
}

// heldResolveAPI holds the platform's answer to the first resolution:
// once the platform answered it, it signals answered and waits for
// release before the answer reaches the phone. It counts the resolutions.
type heldResolveAPI struct {
	payflow.API
	calls             atomic.Int32
	answered, release chan struct{}
}

func (a *heldResolveAPI) Resolve(ctx context.Context, token string, req *payflow.ResolveRequest) (*payflow.ResolveResponse, error) {
	n := a.calls.Add(1)
	r, err := a.API.Resolve(ctx, token, req)
	if n == 1 {
		a.answered <- struct{}{}
		<-a.release
	}
	return r, err
}

// slowPeers is a shopper phone that heard the seller well inside an EID
// epoch, over a heldResolveAPI, with Peers running in the background until
// the platform answered its resolution, at t0.
type slowPeers struct {
	w     *phoneWorld
	api   *heldResolveAPI
	heard adv.Packet                  // the seller's advert
	slow  <-chan []payflow.QueueEntry // what that Peers returns
	// release lets the answer reach the phone (the first call; it is
	// called at the test's end too).
	release func()
}

func newSlowPeers(t *testing.T) *slowPeers {
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	api := &heldResolveAPI{API: f.Platform, answered: make(chan struct{}), release: make(chan struct{})}
	w := newPhoneWorld(t, f, api, false)
	// Well inside an epoch, so that the EID stays the same.
	toNextEpoch(t, f, time.Minute)
	s := &slowPeers{w: w, api: api, heard: w.shopperHearsSeller(t, w.sellerCard, -40), release: sync.OnceFunc(func() { close(api.release) })}
	t.Cleanup(s.release)
	slow := make(chan []payflow.QueueEntry, 1)
	s.slow = slow
	go func() {
		got, err := w.shopper.Peers(context.Background())
		assert.NoError(t, err)
		slow <- got
	}()
	select {
	case <-api.answered: // the platform named the seller at t0
	case got := <-slow:
		require.FailNow(t, "Peers ended before the platform answered", "%v", got)
	}
	return s
}

// TestPeersSlowName: the platform's name for an advert is kept for
// PeerNameTTL from when the phone asked, not from when the answer
// arrived, and an answer never replaces the answer to a resolution sent
// later, also when the clock read the same when the phone sent both: a
// slow name does not bring back, or keep on the queue screen, a card that
// the platform said since it could not name, not even the screen of the
// call that waited for it, which shows the newer answer.
func TestPeersSlowName(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		revoked bool
		after   time.Duration // from t0 to the second resolution
	}{
		{"named", false, 0},
		{"revoked meanwhile", true, time.Second},
		{"revoked at the same clock reading", true, 0},
	} {
		revoked := tt.revoked
		t.Run(tt.name, func(t *testing.T) {
			s := newSlowPeers(t)
			w, f, api, slow, release := s.w, s.w.f, s.api, s.slow, s.release
			want := []payflow.QueueEntry{{EID: s.heard.EID, Name: "Corner Shop", MerchantID: phoneMerchant, RSSI: -40, Level: -40}}
			peers := func(msg string) []payflow.QueueEntry {
				t.Helper()
				w.shopperHearsSeller(t, w.sellerCard, -40)
				got, err := w.shopper.Peers(ctx)
				require.NoError(t, err, msg)
				return got
			}
			if revoked {
				f.Revoke(&paytest.Card{Chain: w.sellerCard.Enrolment.Chain})
				f.Clock.Advance(tt.after)
				assert.Empty(t, peers("t0+after"), "the platform no longer names the card")
				require.Equal(t, int32(2), api.calls.Load())
				f.Clock.Advance(21*time.Second - tt.after)
			} else {
				f.Clock.Advance(21 * time.Second)
			}
			release() // the name arrives at t0+21 s
			if revoked {
				assert.Empty(t, <-slow, "the slow screen shows the answer to the later resolution")
				assert.Empty(t, peers("t0+21 s"), "the answer to the later resolution is kept")
				assert.Equal(t, int32(2), api.calls.Load())
				f.Clock.Advance(20 * time.Second)
				assert.Empty(t, peers("t0+41 s"), "the platform does not name the card")
				assert.Equal(t, int32(3), api.calls.Load())
				return
			}
			assert.Equal(t, want, <-slow)
			f.Clock.Advance(payflow.PeerNameTTL - 21*time.Second - time.Nanosecond)
			assert.Equal(t, want, peers("just before t0+PeerNameTTL"))
			assert.Equal(t, int32(1), api.calls.Load(), "the name is kept")
			f.Clock.Advance(time.Nanosecond)
			assert.Equal(t, want, peers("t0+PeerNameTTL"))
			assert.Equal(t, int32(2), api.calls.Load(), "the name expired PeerNameTTL after the phone asked")
		})
	}
}

// TestSelectAfterMismatchDropsOlderNames: once Select found the session
// with another name than the one it had for the peer (ErrMismatch), a
// name that the platform gave to a resolution sent before is not kept
// when it arrives: the call that waited for it asks the platform again,
// and the queue screen it returns and the next Select show the name the
// platform gives now, rather than Select failing with ErrMismatch again
// for PeerNameTTL.
func TestSelectAfterMismatchDropsOlderNames(t *testing.T) {
	ctx := context.Background()
	s := newSlowPeers(t) // the platform named the seller "Corner Shop" at t0
	w, f, api, p := s.w, s.w.f, s.api, s.heard
	f.Clock.Advance(time.Second)
	peers, err := w.shopper.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	require.Equal(t, "Corner Shop", peers[0].Name)
	require.NoError(t, f.Platform.EnrollMerchant(ctx, payflow.Merchant{
		ID: phoneMerchant, Name: "Corner Shop & Co", Currency: "EUR",
		SellerCardIDs: []string{w.sellerCard.Enrolment.ICCID},
	}))
	_, err = w.shopper.Select(ctx, p.EID)
	require.ErrorIs(t, err, payflow.ErrMismatch, "the user picked another name")
	require.Equal(t, int32(2), api.calls.Load())

	s.release() // the name of t0 arrives after the mismatch
	slow := <-s.slow
	require.Len(t, slow, 1)
	assert.Equal(t, "Corner Shop & Co", slow[0].Name, "the name of t0 is not shown")
	assert.Equal(t, int32(3), api.calls.Load(), "the platform is asked again")
	c, err := w.shopper.Select(ctx, p.EID)
	require.NoError(t, err, "the name of t0 is not kept")
	assert.Equal(t, "Corner Shop & Co", c.Name)
	assert.Equal(t, int32(3), api.calls.Load(), "the name given since is kept")
}

// TestPeersAcrossEpochChange: 60 sellers heard every second stay on the
// queue screen across a change of EID epoch, when each starts advertising
// a new EID while the old one stays in the queue for its TTL, although the
// platform's default budget (DefaultResolveBurst, then DefaultResolveRate
// a second) names at most 20 EIDs at once: the names of the old EIDs are
// not dropped at the epoch change, since the platform names them
// throughout the next epoch, and a name that the phone cannot renew
// because of the rate is shown for PeerNameTTL more. Once refused, a pass
// of Peers sends no more resolutions.
func TestPeersAcrossEpochChange(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	api := &resolveRefusals{API: f.Platform}
	w := newPhoneWorld(t, f, api, false)
	const sellers = 60
	cards := make([]*simcardtest.Virtual, sellers)
	seller := make(map[string]int, sellers) // merchant ID → seller
	for i := range cards {
		cards[i] = enrolPhoneCard(t, f, fmt.Sprintf("Till %02d", i))
		m := payflow.Merchant{ID: fmt.Sprintf("shop-%02d", i), Name: fmt.Sprintf("Shop %02d", i), Currency: "EUR", SellerCardIDs: []string{cards[i].Enrolment.ICCID}}
		require.NoError(t, f.Platform.EnrollMerchant(ctx, m))
		seller[m.ID] = i
	}
	adverts := make(map[uint32][]adv.Packet) // each seller's advert, by epoch
	advertsOf := func(e uint32) []adv.Packet {
		if ps, ok := adverts[e]; ok {
			return ps
		}
		ps := make([]adv.Packet, sellers)
		for i, c := range cards {
			raw, err := c.Card.Advert(e, adv.Seller, 0)
			require.NoError(t, err)
			ps[i], err = adv.Parse(raw)
			require.NoError(t, err)
		}
		adverts[e] = ps
		return ps
	}

	// From two minutes before an epoch ends to 30 s after, a Peers call a
	// second. The phone names 20 sellers at the first call, then 5 more a
	// second; from then on, all of them. After the change, the old EIDs
	// stay in the queue for its TTL after they were last heard, all
	// named, while the phone names the new ones at the same pace.
	now := f.Clock.Now()
	change := adv.EpochStart(adv.Epoch(now) + 2)
	f.Clock.Advance(change.Add(-2 * time.Minute).Sub(now))
	named := func(d time.Duration) int {
		return min(sellers, payflow.DefaultResolveBurst+payflow.DefaultResolveRate*int(d/time.Second))
	}
	for step := range 150 {
		now := f.Clock.Now()
		e, since := adv.Epoch(now), now.Sub(change)
		for i, p := range advertsOf(e) {
			require.NoError(t, w.shopper.Queue().Observe(p, -40-i, time.Time{}))
		}
		wantOld, wantNew := 0, named(time.Duration(step)*time.Second)
		if since >= 0 {
			wantNew = named(since)
			if since+time.Second <= queue.DefaultTTL {
				wantOld = sellers
			}
		}
		refused := api.refused.Load()
		peers, err := w.shopper.Peers(ctx)
		require.NoError(t, err)
		shown := make(map[int]bool, sellers)
		var oldShown, newShown int
		for _, p := range peers {
			i, ok := seller[p.MerchantID]
			require.True(t, ok, "a seller's merchant")
			require.Equal(t, fmt.Sprintf("Shop %02d", i), p.Name)
			switch p.EID {
			case advertsOf(e)[i].EID:
				newShown++
			case advertsOf(e - 1)[i].EID:
				oldShown++
			default:
				require.Fail(t, "an EID of another seller", "%x named as seller %d", p.EID, i)
			}
			shown[i] = true
		}
		assert.Equal(t, named(time.Duration(step)*time.Second), len(shown), "sellers shown %v from the epoch change", since)
		assert.Equal(t, wantNew, newShown, "adverts of the epoch shown %v from the change", since)
		assert.Equal(t, wantOld, oldShown, "adverts of the epoch before shown %v from the change", since)
		assert.LessOrEqual(t, api.refused.Load()-refused, int32(1), "resolutions sent after a refusal")
		f.Clock.Advance(time.Second)
	}
}

// refillAPI records the pairing proofs sent and, after a pairing that the
// platform answers ErrRateLimited, runs refill (as time passing refills
// the card's budget of EID resolutions).
type refillAPI struct {
	payflow.API
	refill func()
	mu     sync.Mutex
	proofs [][]byte
}

func (a *refillAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	a.mu.Lock()
	a.proofs = append(a.proofs, req.Proof)
	a.mu.Unlock()
	s, err := a.API.Pair(ctx, req)
	if errors.Is(err, payflow.ErrRateLimited) {
		a.refill()
	}
	return s, err
}

// TestSelectRateLimited: a Select whose pairing the platform answers
// rate_limited (the card's budget of EID resolutions is spent) sends the
// same proof again after PhoneOptions.RateLimitPause, up to
// RateLimitTries times in all: once the budget refilled, the session is
// paired; while it stays spent, Select fails with ErrRateLimited.
func TestSelectRateLimited(t *testing.T) {
	ctx := context.Background()
	for _, refills := range []bool{true, false} {
		t.Run(map[bool]string{true: "the budget refills", false: "the budget stays spent"}[refills], func(t *testing.T) {
			f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{
				Platform: payflow.PlatformOptions{ResolveRate: 1, ResolveBurst: 2},
			})
			api := &refillAPI{API: f.Platform, refill: func() {}}
			w := newPhoneWorld(t, f, api, false)
			w.hear(t)
			_, err := w.shopper.Peers(ctx) // resolves the seller's EID, once
			require.NoError(t, err)
			_, err = w.seller.Peers(ctx)
			require.NoError(t, err)
			// The shopper card spends what is left of its budget.
			l, err := w.shopper.Login(ctx)
			require.NoError(t, err)
			_, err = f.Platform.Resolve(ctx, l.Token, &payflow.ResolveRequest{EID: make([]byte, 16)})
			require.ErrorIs(t, err, payflow.ErrNotFound)
			calls := 0
			api.refill = func() {
				calls++
				if refills && calls == payflow.RateLimitTries-1 {
					f.Clock.Advance(time.Second)
				}
			}
			sellerEID, err := w.seller.EID()
			require.NoError(t, err)
			c, err := w.shopper.Select(ctx, sellerEID)
			if !refills {
				require.ErrorIs(t, err, payflow.ErrRateLimited)
				assert.Len(t, api.proofs, payflow.RateLimitTries)
				_, err = w.shopper.WaitPaired(ctx)
				require.ErrorIs(t, err, payflow.ErrNotPaired)
				return
			}
			require.NoError(t, err)
			require.Len(t, api.proofs, payflow.RateLimitTries)
			for _, p := range api.proofs[1:] {
				assert.Equal(t, api.proofs[0], p, "the proof, unspent, is sent again")
			}
			shopperEID, err := w.shopper.EID()
			require.NoError(t, err)
			c2, err := w.seller.Select(ctx, shopperEID)
			require.NoError(t, err)
			assert.True(t, c2.Paired)
			assert.Equal(t, c.SessionID, c2.SessionID)
		})
	}
}

// TestPhonesKeepHoldsUntilThePlatformExpiresThem: over HTTP, where times
// are whole seconds, a hold whose expiry the platform recorded with a
// fraction of a second (T) is shown to the phones with its expiry rounded
// up to the next second, so that neither phone takes it as expired
// before the platform does. One nanosecond before T, the seller keeps it
// (Held reads it, and the platform still holds it) and the shopper waits
// for its capture; at the rounded second the seller leaves it out
// without reading it, the platform having expired it meanwhile.
func TestPhonesKeepHoldsUntilThePlatformExpiresThem(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{Platform: payflow.PlatformOptions{HoldTTL: time.Minute}})
	client := mustClient(t, serve(t, f), payflow.ClientOptions{})
	w := newPhoneWorld(t, f, client, true)
	api := &readCounter{API: client}
	w.useSeller(t, api)
	// The consent is accepted 0.3 s into a second.
	advanceIntoSecond(t, f)
	id := w.pairAndHold(t)
	r, err := f.Platform.Store().Payment(ctx, id)
	require.NoError(t, err)
	expiry, shown := wireExpiry(t, r.HoldExpiresAt) // the platform's, T, and the view's
	moveTo := func(at time.Time) { advanceTo(t, f, at) }

	moveTo(expiry.Add(-time.Nanosecond))
	api.take()
	held, err := w.seller.Held(ctx)
	require.NoError(t, err)
	require.Len(t, held, 1, "a hold the platform still holds is kept")
	assert.Equal(t, id, held[0].ID)
	assert.True(t, shown.Equal(held[0].HoldExpiresAt), "the view's hold expiry %v is T rounded up", held[0].HoldExpiresAt)
	assert.Equal(t, map[payflow.ID]int{id: 1}, api.take())
	wait, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = w.shopper.Approve(wait, simcardtest.PIN)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the shopper waits for the capture")
	r, err = f.Platform.Store().Payment(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateHeld, r.State)

	moveTo(shown)
	held, err = w.seller.Held(ctx)
	require.NoError(t, err)
	assert.Empty(t, held, "past the view's hold expiry")
	assert.Empty(t, api.take(), "left out without a read")
	r, err = f.Platform.Store().Payment(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateHeld, r.State, "not read since, so the store still shows it held")
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrFinal, "the read at the hold's expiry has the platform expire it")
	_, err = w.seller.CaptureHeld(ctx, id, 0)
	require.ErrorIs(t, err, payflow.ErrExpired)
	r, err = f.Platform.Store().Payment(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateExpired, r.State)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// wireExpiry returns an expiry that the platform recorded 0.3 s into a
// second, T, and the same rounded up to the next whole second, as the
// HTTP wire shows it (PROTOCOL.md §5.1).
func wireExpiry(tb testing.TB, t time.Time) (platform, shown time.Time) {
	tb.Helper()
	require.Equal(tb, 300_000_000, t.Nanosecond(), "the platform's expiry %v", t)
	return t, time.Unix(t.Unix()+1, 0)
}

// advanceIntoSecond moves f's clock forward to 0.3 s into the next
// second.
func advanceIntoSecond(tb testing.TB, f *paytest.Fixture) {
	tb.Helper()
	now := f.Clock.Now()
	advanceTo(tb, f, time.Unix(now.Unix()+1, 300_000_000))
}

// toNextEpoch moves f's clock to d after the start of the next EID
// epoch (before it, when d is negative).
func toNextEpoch(tb testing.TB, f *paytest.Fixture, d time.Duration) {
	tb.Helper()
	now := f.Clock.Now()
	f.Clock.Advance(adv.EpochStart(adv.Epoch(now) + 1).Add(d).Sub(now))
}

// advanceTo moves f's clock forward to at.
func advanceTo(tb testing.TB, f *paytest.Fixture, at time.Time) {
	tb.Helper()
	require.False(tb, at.Before(f.Clock.Now()), "%v is past", at)
	f.Clock.Advance(at.Sub(f.Clock.Now()))
}

// httpSessionWorld is a phoneWorld over HTTP whose sessions last a
// minute, its clock 1.3 s into an EID epoch, so that a session opened now
// expires 0.3 s into a second and in the same epoch.
func httpSessionWorld(t *testing.T) *phoneWorld {
	t.Helper()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{Platform: payflow.PlatformOptions{SessionTTL: time.Minute}})
	w := newPhoneWorld(t, f, mustClient(t, serve(t, f), payflow.ClientOptions{}), false)
	now := f.Clock.Now()
	advanceTo(t, f, adv.EpochStart(adv.Epoch(now)+1).Add(1300*time.Millisecond))
	return w
}

// TestPhonesWaitInSessionsUntilThePlatformExpiresThem: over HTTP, where
// times are whole seconds, a session whose expiry the platform recorded
// with a fraction of a second (T) is shown to the phones (SessionView key
// 9, Confirmation.ExpiresAt) with its expiry rounded up to the next
// second, so that no phone gives up on it before the platform does. One
// nanosecond before T the shopper waits on, for the seller's selection
// (WaitPaired) or for its request (WaitPayment), and the platform still
// takes that selection or request, which ends the wait; at the rounded
// second the wait ends with ErrExpired, and the platform refuses the
// seller's selection or request as expired.
func TestPhonesWaitInSessionsUntilThePlatformExpiresThem(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		paired bool // the shopper waits for a request, else for the seller's selection
		late   bool // the seller acts at the rounded second, else at T − 1 ns
	}{
		{name: "selected before the expiry"},
		{name: "selected at the rounded expiry", late: true},
		{name: "asked before the expiry", paired: true},
		{name: "asked at the rounded expiry", paired: true, late: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := httpSessionWorld(t)
			shopperEID, c := w.shopperSelects(t)
			wait := func(ctx context.Context) error {
				_, err := w.shopper.WaitPaired(ctx)
				return err
			}
			act := func() error {
				w.hear(t) // the queue forgot the shopper's advert since
				_, err := w.seller.Select(ctx, shopperEID)
				return err
			}
			if tt.paired {
				_, err := w.seller.Select(ctx, shopperEID)
				require.NoError(t, err)
				c, err = w.shopper.WaitPaired(ctx)
				require.NoError(t, err)
				require.True(t, c.Paired)
				wait = func(ctx context.Context) error {
					_, err := w.shopper.WaitPayment(ctx)
					return err
				}
				act = func() error {
					_, err := w.seller.Request(ctx, basket)
					return err
				}
			}
			s, err := w.f.Platform.Store().Session(ctx, c.SessionID)
			require.NoError(t, err)
			expiry, shown := wireExpiry(t, s.ExpiresAt)
			assert.True(t, shown.Equal(c.ExpiresAt), "the confirmation's expiry %v is T rounded up", c.ExpiresAt)

			advanceTo(t, w.f, expiry.Add(-time.Nanosecond))
			short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			require.ErrorIs(t, wait(short), context.DeadlineExceeded, "the shopper waits in a session the platform keeps")

			if !tt.late {
				require.NoError(t, act(), "the platform keeps the session")
				require.NoError(t, wait(ctx), "the wait ends with the seller's action")
				return
			}
			advanceTo(t, w.f, shown)
			require.ErrorIs(t, wait(ctx), payflow.ErrExpired)
			require.ErrorIs(t, act(), payflow.ErrExpired, "the platform expired the session")
		})
	}
}

// TestShopperSeesRequestsUnexpiredUntilThePlatformExpiresThem: over HTTP,
// where times are whole seconds, a payment request whose expiry the
// platform recorded with a fraction of a second (T) is shown to both
// phones (PaymentView key 14) with its expiry rounded up to the next
// second, so that a payment screen never shows it expired while the
// platform still takes a consent to it. One nanosecond before T the
// screen shows it unexpired and the shopper pays it; at the rounded
// second the screen shows it expired and the platform refuses the
// consent as expired, no money moving.
func TestShopperSeesRequestsUnexpiredUntilThePlatformExpiresThem(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		late bool // the shopper approves at the rounded second, else at T − 1 ns
	}{
		{name: "approved before the expiry"},
		{name: "approved at the rounded expiry", late: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
			w := newPhoneWorld(t, f, mustClient(t, serve(t, f), payflow.ClientOptions{}), false)
			w.pair(t)
			// The request is made 0.3 s into a second.
			advanceIntoSecond(t, f)
			sv, err := w.seller.Request(ctx, basket)
			require.NoError(t, err)
			r, err := f.Platform.Store().Payment(ctx, sv.ID)
			require.NoError(t, err)
			expiry, shown := wireExpiry(t, r.ExpiresAt)
			assert.True(t, shown.Equal(sv.ExpiresAt), "the seller's view's expiry %v is T rounded up", sv.ExpiresAt)
			screen, err := w.shopper.WaitPayment(ctx)
			require.NoError(t, err)
			assert.True(t, shown.Equal(screen.ExpiresAt), "the payment screen's expiry %v is T rounded up", screen.ExpiresAt)

			advanceTo(t, f, expiry.Add(-time.Nanosecond))
			if !tt.late {
				assert.True(t, f.Clock.Now().Before(screen.ExpiresAt), "the screen shows the request unexpired")
				rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
				require.NoError(t, err, "the platform takes the consent")
				assert.Equal(t, uint64(690), rc.Amount)
				assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
				return
			}
			advanceTo(t, f, shown)
			assert.False(t, f.Clock.Now().Before(screen.ExpiresAt), "the screen shows the request expired")
			_, err = w.shopper.Approve(ctx, simcardtest.PIN)
			require.ErrorIs(t, err, payflow.ErrFinal, "the platform expired the request")
			r, err = f.Platform.Store().Payment(ctx, sv.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateExpired, r.State)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))
		})
	}
}

// scribble writes into v as an app may write into a view it got: into
// its byte strings, lines and legs, and its amount.
func scribble(v *payflow.PaymentView) {
	for _, b := range [][]byte{v.Request, v.RequestHash, v.ConsentNonce, v.Receipt} {
		if len(b) > 0 {
			b[0] ^= 0xff
		}
	}
	for i := range v.Lines {
		v.Lines[i].SKU, v.Lines[i].Amount = "scribbled", v.Lines[i].Amount+1
	}
	for i := range v.Legs {
		v.Legs[i].Amount++
	}
	v.Amount++
}

// requireSameRequest checks that v shows the request of want, a view of
// it that no one wrote into: its signed request, hash, amount and lines.
func requireSameRequest(tb testing.TB, want, v *payflow.PaymentView) {
	tb.Helper()
	require.Equal(tb, want.ID, v.ID)
	require.Equal(tb, want.Request, v.Request)
	require.Equal(tb, want.RequestHash, v.RequestHash)
	require.Equal(tb, want.Amount, v.Amount)
	require.Equal(tb, want.Lines, v.Lines)
	require.Equal(tb, want.Legs, v.Legs)
}
