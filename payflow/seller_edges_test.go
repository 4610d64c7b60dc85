package payflow_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// newCatalogBudgetWorld returns a paired world whose platform grants each
// card one catalog read, and one more every 2 seconds.
func newCatalogBudgetWorld(t *testing.T) *phoneWorld {
	t.Helper()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{Platform: payflow.PlatformOptions{CatalogBurst: 1, CatalogRate: 0.5}})
	w := newPhoneWorld(t, f, nil, false)
	w.pair(t)
	return w
}

// dearerApples sets the catalog of w's merchant with apples at 130.
func dearerApples(t *testing.T, w *phoneWorld) {
	t.Helper()
	dearer := append([]payflow.CatalogItem(nil), phoneCatalog...)
	dearer[0].UnitPrice = 130
	require.NoError(t, w.f.Platform.SetCatalog(context.Background(), phoneMerchant, dearer))
}

// TestSellerCatalogRefusedIsNoFallback: a charge that the platform refuses
// as priced otherwise (ErrMismatch) leaves the phone with no catalog to
// fall back on while its fetch is refused for the card's budget of
// catalog reads, Catalog failing with ErrRateLimited: whether the charge
// was priced with the catalog dropped before (after a charge it could not
// price), or with the one fetched since, which no catalog dropped before
// stands in for.
func TestSellerCatalogRefusedIsNoFallback(t *testing.T) {
	ctx := context.Background()
	for _, fetched := range []bool{false, true} {
		t.Run(map[bool]string{false: "priced with the fallback", true: "fetched again"}[fetched], func(t *testing.T) {
			w := newCatalogBudgetWorld(t)
			_, err := w.seller.Request(ctx, payflow.Charge{Items: []record.Item{{SKU: "pear", Quantity: 1}}})
			require.ErrorIs(t, err, payflow.ErrInvalid, "no pear in the catalog: the catalog dropped")
			if fetched {
				w.f.Clock.Advance(2 * time.Second)
				_, err = w.seller.Catalog(ctx)
				require.NoError(t, err)
			}
			dearerApples(t, w)
			_, err = w.seller.Request(ctx, payflow.Charge{Items: []record.Item{{SKU: "apple", Quantity: 2}}})
			require.ErrorIs(t, err, payflow.ErrMismatch, "priced with the catalog of before")
			c, err := w.seller.Catalog(ctx)
			require.ErrorIs(t, err, payflow.ErrRateLimited, "no fallback")
			assert.Nil(t, c)
		})
	}
}

// TestSellerCatalogFallbackOfAnotherMerchant: the catalog dropped before
// is no fallback once the card's login names another merchant: a fetch
// then refused for the card's budget of catalog reads fails Catalog with
// ErrRateLimited.
func TestSellerCatalogFallbackOfAnotherMerchant(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{Platform: payflow.PlatformOptions{CatalogBurst: 1, CatalogRate: 1.0 / 7200}})
	api := &tamperAPI{API: f.Platform}
	w := newPhoneWorld(t, f, api, false)
	w.pair(t)
	_, err := w.seller.Request(ctx, payflow.Charge{Items: []record.Item{{SKU: "pear", Quantity: 1}}})
	require.ErrorIs(t, err, payflow.ErrInvalid, "no pear in the catalog: the catalog dropped")

	api.login = func(l *payflow.LoginResponse) { l.MerchantID = "other-shop" }
	f.Clock.Advance(time.Hour + time.Second) // the token expired
	c, err := w.seller.Catalog(ctx)
	require.ErrorIs(t, err, payflow.ErrRateLimited, "the catalog of corner-shop is no fallback for other-shop")
	assert.Nil(t, c)
}

// TestSellerRefusesRequestViewOfAnotherIDOrHash: a platform's view of a
// payment request that the seller's card signed, or of one sent again
// after its reply was lost, that carries the signed request under another
// request ID or request hash is ErrMismatch: the request goes on no
// screen and is not taken as held.
func TestSellerRefusesRequestViewOfAnotherIDOrHash(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		alter func(v *payflow.PaymentView, rc *record.Receipt)
	}{
		{"ID", func(v *payflow.PaymentView, _ *record.Receipt) { v.ID[0] ^= 1 }},
		{"hash", func(v *payflow.PaymentView, _ *record.Receipt) {
			v.RequestHash = slices.Clone(v.RequestHash)
			v.RequestHash[0] ^= 1
		}},
	} {
		for _, lost := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: "/answered", true: "/sent again"}[lost], func(t *testing.T) {
				w := newMemoryPhoneWorld(t, false)
				var api payflow.API = &misfiledAPI{API: w.f.Platform, key: w.f.Key, alter: tc.alter}
				if lost {
					api = loseFirstCreate(api, payflow.ErrUnavailable)
				}
				w.useSeller(t, api)
				w.pair(t)
				_, err := w.seller.Request(ctx, basket)
				if lost {
					require.ErrorIs(t, err, payflow.ErrUnavailable)
					_, err = w.seller.Request(ctx, basket)
				}
				require.ErrorIs(t, err, payflow.ErrMismatch)
				_, err = w.seller.Status(ctx)
				require.ErrorIs(t, err, payflow.ErrNoPayment)
				assert.Empty(t, mustHeld(t, w.seller))
			})
		}
	}
}

// TestSellerRequestOverflowingTotalSignsNothing: a charge of items whose
// total at catalog prices overflows 64 bits (2 apples at 120 whose product
// wraps to 104) is ErrInvalid, and the card signs nothing.
func TestSellerRequestOverflowingTotalSignsNothing(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	counter, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	v, err := w.seller.Request(ctx, payflow.Charge{Items: []record.Item{{SKU: "apple", Quantity: 153722867280912931}}})
	require.ErrorIs(t, err, payflow.ErrInvalid)
	assert.Nil(t, v)
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, counter, after, "the card signed nothing")
}

// TestSellerRefusedRequestIsNotSentAgain: a payment request that the
// platform refused (ErrMismatch: priced with a catalog whose prices
// changed) was never recorded: the next Request sends its own request
// only.
func TestSellerRefusedRequestIsNotSentAgain(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	var created atomic.Int32
	w.useSeller(t, &hookAPI{API: w.f.Platform, createErr: func() error { created.Add(1); return nil }})
	w.pair(t)
	_, err := w.seller.Catalog(ctx)
	require.NoError(t, err)
	dearerApples(t, w)
	apples := payflow.Charge{Items: []record.Item{{SKU: "apple", Quantity: 2}}}
	_, err = w.seller.Request(ctx, apples)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	require.Equal(t, int32(1), created.Load())

	sv, err := w.seller.Request(ctx, apples)
	require.NoError(t, err)
	assert.Equal(t, int32(2), created.Load(), "one payment request sent")
	assert.Equal(t, uint64(260), sv.Amount)
}

// TestSellerRequestAnsweredAfterAnotherSelectedWithdrawalUnanswered: a
// Request answered after another shopper was selected, whose withdrawal
// of its request the platform does not answer, fails with ErrNotPaired
// joined with the platform's error, and the request, kept, is cancelled
// by the next Request before it asks.
func TestSellerRequestAnsweredAfterAnotherSelectedWithdrawalUnanswered(t *testing.T) {
	ctx := context.Background()
	a, b, api := hookedSellerWorlds(t)
	ca := a.pair(t)
	var cb *payflow.Confirmation
	api.create = func() {
		cb = b.pair(t)
		api.mu.Lock()
		api.cancelErr = payflow.ErrUnavailable
		api.mu.Unlock()
	}
	_, err := a.seller.Request(ctx, payflow.Charge{Amount: 200, Currency: "EUR"})
	require.ErrorIs(t, err, payflow.ErrNotPaired)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	require.NotNil(t, cb)
	old := payflow.SessionRequestID(ca.SessionID, 0)
	a.assertState(t, old, payflow.StatePending)
	b.requireServedNext(t, cb, a, 0)
	a.assertState(t, old, payflow.StateCancelled, "withdrawn before the other shopper's request")
}

// TestSellerCancelPaidFoundAtTakenIndex: the paid request that a Request
// of a seller phone started again found at a taken index, and put on the
// empty screen, is the one that Cancel withdraws: Cancel fails with
// ErrFinal and leaves it on screen, captured.
func TestSellerCancelPaidFoundAtTakenIndex(t *testing.T) {
	ctx := context.Background()
	w, c, killed := restartedSellerWorld(t)
	w.shopperApproves(t)
	require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")
	_, err := w.seller.Request(ctx, basket)
	requirePaid(t, err, killed.ID)
	v, err := w.seller.Cancel(ctx)
	require.ErrorIs(t, err, payflow.ErrFinal)
	assert.Nil(t, v)
	w.requireShownCaptured(t, killed.ID, 100)
}

// TestSellerRequestWithdrawsRequestThatExpiresMeanwhile: a Request whose
// cancellation of the request on screen, read pending, the platform
// answers ErrExpired (the request expired between the read and the
// cancellation) takes the request off the screen as expired and asks at
// the session's next index.
func TestSellerRequestWithdrawsRequestThatExpiresMeanwhile(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &hookAPI{API: w.f.Platform}
	w.useSeller(t, api)
	c := w.pair(t)
	sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	api.mu.Lock()
	api.paymentID = sv.ID
	api.answered = func() { w.f.Clock.Advance(payflow.DefaultRequestTTL) }
	api.mu.Unlock()
	next, err := w.seller.Request(ctx, payflow.Charge{Amount: 200, Currency: "EUR"})
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), next.ID)
	w.assertState(t, sv.ID, payflow.StateExpired)
}

// TestSellerRequestFailingLeavesHeldOnScreen: a Request that finds the
// request on screen, last seen pending, held by now (a merchant that
// captures manually) leaves it on screen while its own payment request
// gets no answer: Status shows it held, and Capture captures it.
func TestSellerRequestFailingLeavesHeldOnScreen(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	api := &hookAPI{API: w.f.Platform}
	w.useSeller(t, api)
	approvals := &tamperAPI{API: w.f.Platform}
	w.useShopper(t, approvals)
	w.pair(t)
	sv, _ := w.request(t)
	// The seller's phone, which last saw the request pending, is not
	// asked: the shopper's phone is told when the approval has held it.
	w.approvesHeld(t, approvals)()
	w.assertState(t, sv.ID, payflow.StateHeld)

	api.mu.Lock()
	api.createErr = func() error { return payflow.ErrUnavailable }
	api.mu.Unlock()
	_, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	on, err := w.seller.Status(ctx)
	require.NoError(t, err, "still on screen")
	assert.Equal(t, sv.ID, on.ID)
	assert.Equal(t, payflow.StateHeld, on.State)
	rc, err := w.seller.Capture(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, sv.ID[:], rc.RequestID)
	assert.Equal(t, uint64(690), rc.Amount)
}

// resignedAPI answers the refunds and captures that the platform makes
// with their receipts altered by refund and capture, when set, and signed
// again with the platform's receipt key, as a platform that signs what it
// should not would.
type resignedAPI struct {
	payflow.API
	key     *ecdsa.PrivateKey
	refund  func(*record.Receipt)
	capture func(*payflow.PaymentView, *record.Receipt)
}

func (a *resignedAPI) Refund(ctx context.Context, req *payflow.RefundRequest) (*payflow.RefundView, error) {
	v, err := a.API.Refund(ctx, req)
	if err != nil || a.refund == nil {
		return v, err
	}
	altered := *v
	if altered.Receipt, err = resignReceipt(a.key, v.Receipt, a.refund); err != nil {
		return nil, err
	}
	return &altered, nil
}

func (a *resignedAPI) Capture(ctx context.Context, token string, req *payflow.CaptureRequest) (*payflow.PaymentView, error) {
	v, err := a.API.Capture(ctx, token, req)
	if err != nil || a.capture == nil {
		return v, err
	}
	return resignView(a.key, v, a.capture)
}

// TestSellerRefusesRefundReceiptOfOtherFields: a refund that the platform
// answers with a receipt that verifies but names another refund ID,
// refund hash, amount, request, merchant or currency than the refund sent
// fails Refund with ErrMismatch, whose message says that the refund may
// have been made and that the phone keeps it.
func TestSellerRefusesRefundReceiptOfOtherFields(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		alter func(*record.Receipt)
	}{
		{"refund ID", func(rc *record.Receipt) { rc.RefundID = slices.Clone(rc.RefundID); rc.RefundID[0] ^= 1 }},
		{"refund hash", func(rc *record.Receipt) { rc.RefundHash = slices.Clone(rc.RefundHash); rc.RefundHash[0] ^= 1 }},
		{"amount", func(rc *record.Receipt) { rc.Amount++ }},
		{"request", func(rc *record.Receipt) { rc.RequestID = slices.Clone(rc.RequestID); rc.RequestID[0] ^= 1 }},
		{"merchant", func(rc *record.Receipt) { rc.MerchantID = "other-shop" }},
		{"currency", func(rc *record.Receipt) { rc.Currency = "USD" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			api := &resignedAPI{API: w.f.Platform, key: w.f.Key, refund: tc.alter}
			w.useSeller(t, api)
			w.pair(t)
			w.purchase(t)
			rc, err := w.seller.Refund(ctx, 100)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.Nil(t, rc)
			assert.Contains(t, err.Error(), "may have been made")
			assert.Contains(t, err.Error(), "the phone keeps it")
		})
	}
}

// TestSellerRefusesCaptureReceiptOfOtherAmount: a capture of a held
// request that the platform answers with a receipt that verifies for
// another amount than the view shows captured (a capture of all), or,
// with the view, for another amount than asked (a capture of 400),
// fails with ErrMismatch, and the request stays kept (Held) for its
// receipt.
func TestSellerRefusesCaptureReceiptOfOtherAmount(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		amount uint64 // asked to capture
		alter  func(*payflow.PaymentView, *record.Receipt)
	}{
		{"receipt", 0, func(_ *payflow.PaymentView, rc *record.Receipt) { rc.Amount-- }},
		{"view and receipt", 400, func(v *payflow.PaymentView, rc *record.Receipt) { v.Captured--; rc.Amount-- }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, true)
			api := &resignedAPI{API: w.f.Platform, key: w.f.Key}
			w.useSeller(t, api)
			id := w.pairAndHold(t)
			api.capture = tc.alter
			rc, err := w.seller.CaptureHeld(ctx, id, tc.amount)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.Nil(t, rc)
			held := mustHeld(t, w.seller)
			require.Len(t, held, 1)
			assert.Equal(t, id, held[0].ID)
		})
	}
}

// TestSellerCaptureAnsweredWithAnotherRequestInUnknownState: a capture
// that the platform answers with the view of another request, in a state
// that no request's view has, is ErrMismatch, as the view of another
// request is: the request stays kept (Held) for its receipt.
func TestSellerCaptureAnsweredWithAnotherRequestInUnknownState(t *testing.T) {
	w := newMemoryPhoneWorld(t, true)
	api := &resignedAPI{API: w.f.Platform, key: w.f.Key}
	w.useSeller(t, api)
	id := w.pairAndHold(t)
	api.capture = func(v *payflow.PaymentView, _ *record.Receipt) {
		v.Amount++
		v.State = "settling"
	}
	rc, err := w.seller.CaptureHeld(context.Background(), id, 0)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Nil(t, rc)
	held := mustHeld(t, w.seller)
	require.Len(t, held, 1)
	assert.Equal(t, id, held[0].ID)
}

// paidTwiceByAnotherRun has the shopper of a paired world pay basket
// twice and replaces the seller phone with one over api, which keeps
// neither request; it returns the world and the two requests' IDs.
func paidTwiceByAnotherRun(t *testing.T, api func(payflow.API) payflow.API) (w *phoneWorld, first, second payflow.ID) {
	t.Helper()
	w = newMemoryPhoneWorld(t, false)
	w.pair(t)
	ids := make([]payflow.ID, 2)
	for i := range ids {
		w.purchase(t)
		sv, err := w.seller.Status(context.Background())
		require.NoError(t, err)
		ids[i] = sv.ID
	}
	w.useSeller(t, api(w.f.Platform))
	return w, ids[0], ids[1]
}

// TestSellerRefundPaymentRefusesReadOfAnother: RefundPayment of a request
// whose read the platform answers with the view of another request of the
// merchant, or with a view that does not show the signed request it
// carries (another amount), is ErrMismatch: the card signs no refund and
// the shopper is refunded nothing.
func TestSellerRefundPaymentRefusesReadOfAnother(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		alter func(v, other *payflow.PaymentView)
	}{
		{"another request", func(v, other *payflow.PaymentView) { *v = *other }},
		{"another amount", func(v, _ *payflow.PaymentView) { v.Amount++ }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reads := &tamperAPI{}
			w, first, second := paidTwiceByAnotherRun(t, func(p payflow.API) payflow.API { reads.API = p; return reads })
			l, err := w.seller.Login(ctx)
			require.NoError(t, err)
			other, err := w.f.Platform.Payment(ctx, l.Token, second)
			require.NoError(t, err)
			reads.payment = func(v *payflow.PaymentView) { tc.alter(v, other) }
			counter, err := w.sellerCard.Card.Counter()
			require.NoError(t, err)
			rc, err := w.seller.RefundPayment(ctx, first, 100)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.Nil(t, rc)
			after, err := w.sellerCard.Card.Counter()
			require.NoError(t, err)
			assert.Equal(t, counter, after, "the card signed no refund")
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 2*690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
		})
	}
}

// TestSellerRefundOfAnotherRequestAfterLostReply: a refund whose reply
// was lost, and which the platform made, is not taken for a refund of the
// same amount of another request: that RefundPayment fails with a
// *RefundMadeError carrying the receipt of the refund made and its
// request, and the next one makes its refund.
func TestSellerRefundOfAnotherRequestAfterLostReply(t *testing.T) {
	ctx := context.Background()
	w, first, second := paidTwiceByAnotherRun(t, func(p payflow.API) payflow.API {
		return loseFirstRefund(p)
	})
	_, err := w.seller.RefundPayment(ctx, second, 240)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	rc, err := w.seller.RefundPayment(ctx, first, 240)
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.Nil(t, rc)
	made, ok := errors.AsType[*payflow.RefundMadeError](err)
	require.True(t, ok, "%v is a *RefundMadeError", err)
	assert.Equal(t, second, made.RequestID)
	assert.Equal(t, second[:], made.Receipt.RequestID)
	assert.Equal(t, uint64(240), made.Receipt.Amount)
	rc, err = w.seller.RefundPayment(ctx, first, 240)
	require.NoError(t, err)
	assert.Equal(t, first[:], rc.RequestID)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 2*690 + 480}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestSellerWaitTakesDeclinedOffScreen: a Wait that finds the request on
// screen declined returns its view without a receipt and takes it off the
// screen: Status, Cancel and Refund then find no payment.
func TestSellerWaitTakesDeclinedOffScreen(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	sv, _ := w.request(t)
	_, err := w.shopper.Decline(ctx)
	require.NoError(t, err)
	v, rc, err := w.seller.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, sv.ID, v.ID)
	assert.Equal(t, payflow.StateDeclined, v.State)
	assert.Nil(t, rc)
	_, err = w.seller.Status(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment)
	_, err = w.seller.Cancel(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment)
	_, err = w.seller.Refund(ctx, 100)
	require.ErrorIs(t, err, payflow.ErrNoPayment)
}

// refiled returns the signed payment request of v, opened and altered by
// alter and signed again with key, and its hash: a request that names
// what alter gives it, as a platform that forges one would show it.
func refiled(t *testing.T, v *payflow.PaymentView, key *ecdsa.PrivateKey, alter func(*record.PaymentRequest)) ([]byte, []byte) {
	t.Helper()
	return resignRequest(t, v, alter, func(r *record.PaymentRequest) ([]byte, error) { return record.Sign(rand.Reader, key, r) })
}

// TestSellerRequestRefusesTakenIndexFiledOtherwise: a Request that finds
// the index it asks at taken and reads there, under the request ID that
// it asked with, the view of a request of another session or of another
// merchant (its signed request naming that session or merchant too) is
// ErrMismatch: it asks at no further index and nothing goes on screen.
func TestSellerRequestRefusesTakenIndexFiledOtherwise(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		alter func(*payflow.PaymentView, *record.PaymentRequest)
	}{
		{"session", func(v *payflow.PaymentView, r *record.PaymentRequest) {
			v.SessionID[0] ^= 1
			r.SessionID = v.SessionID[:]
		}},
		{"merchant", func(v *payflow.PaymentView, r *record.PaymentRequest) {
			v.MerchantID = "other-shop"
			r.MerchantID = v.MerchantID
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, c, earlier := restartedSellerWorld(t)
			api := &tamperAPI{API: w.f.Platform}
			api.payment = func(v *payflow.PaymentView) {
				v.Request, v.RequestHash = refiled(t, v, w.f.Key, func(r *record.PaymentRequest) { tc.alter(v, r) })
			}
			w.useSeller(t, api)
			require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")
			sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 200, Currency: "EUR"})
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.Nil(t, sv)
			require.Equal(t, payflow.SessionRequestID(c.SessionID, 0), earlier.ID)
			_, err = w.f.Platform.Store().Payment(ctx, payflow.SessionRequestID(c.SessionID, 1))
			require.ErrorIs(t, err, payflow.ErrNotFound, "no request at the next index")
			_, err = w.seller.Status(ctx)
			require.ErrorIs(t, err, payflow.ErrNoPayment)
			assert.Empty(t, mustHeld(t, w.seller))
		})
	}
}

// keptHeld returns what Held lists of s without reading the platform (a
// Held whose ctx ended, which returns the requests kept as last seen).
func keptHeld(t *testing.T, s *payflow.Seller) []payflow.ID {
	t.Helper()
	ctx, cancel := withCancelCause(context.Background())
	cancel()
	held, err := s.Held(ctx)
	require.ErrorIs(t, err, errCallerGone)
	ids := make([]payflow.ID, len(held))
	for i, v := range held {
		ids[i] = v.ID
	}
	return ids
}

// TestSellerRefundPaymentOfScreenCapturedInPartByLaterView: RefundPayment
// of the request on screen, paid in full by a merchant that captures at
// once, whose read shows it captured for part of its amount by a merchant
// that captures manually, is ErrMismatch (the view on screen does not say
// that the merchant captures manually): the card signs no refund and the
// shopper is refunded nothing.
func TestSellerRefundPaymentOfScreenCapturedInPartByLaterView(t *testing.T) {
	refundPaymentOfScreenReadRefused(t, func(_ *phoneWorld, v *payflow.PaymentView) { v.ManualCapture, v.Captured = true, v.Amount-1 })
}

// refundPaymentOfScreenReadRefused has the shopper of a paired world pay
// basket, and checks that RefundPayment of 100 of the paid request on
// screen, whose read alter alters, is ErrMismatch: the card signs no
// refund, the shopper is refunded nothing, and the screen is as it was.
func refundPaymentOfScreenReadRefused(t *testing.T, alter func(*phoneWorld, *payflow.PaymentView)) {
	t.Helper()
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	reads := &tamperAPI{API: w.f.Platform}
	w.useSeller(t, reads)
	w.pair(t)
	w.purchase(t)
	on := payflow.Screen(w.seller)
	require.NotNil(t, on)
	reads.payment = func(v *payflow.PaymentView) { alter(w, v) }
	counter, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	rc, err := w.seller.RefundPayment(ctx, on.ID, 100)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Nil(t, rc)
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, counter, after, "the card signed no refund")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	assert.Equal(t, on, payflow.Screen(w.seller), "the screen as it was")
}

// TestSellerRefundPaymentOfHeldNotesReadAgain: RefundPayment of the held
// request on screen, which the platform shows cancelled when read again
// (the merchant cancelled it elsewhere after the first read), fails with
// ErrFinal and takes note of that read as Status does: the request is no
// longer kept as held (Held lists nothing, even without a read), and the
// screen shows it cancelled.
func TestSellerRefundPaymentOfHeldNotesReadAgain(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	api := &hookAPI{API: w.f.Platform}
	w.useSeller(t, api)
	id := w.pairAndHold(t)
	l, err := w.seller.Login(ctx)
	require.NoError(t, err)
	api.mu.Lock()
	api.paymentID = id
	api.answered = func() {
		_, err := w.f.Platform.Cancel(ctx, l.Token, id)
		require.NoError(t, err)
	}
	api.mu.Unlock()
	rc, err := w.seller.RefundPayment(ctx, id, 100)
	require.ErrorIs(t, err, payflow.ErrFinal)
	assert.Nil(t, rc)
	assert.Empty(t, keptHeld(t, w.seller))
	require.NotNil(t, payflow.Screen(w.seller))
	assert.Equal(t, payflow.StateCancelled, payflow.Screen(w.seller).State)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestSellerHeldAfterCancelHeldAndEndedCapture: a held request that
// CancelHeld cancels, or whose capture the platform answers with its view
// expired, is no longer kept: Held lists nothing, even without a read.
func TestSellerHeldAfterCancelHeldAndEndedCapture(t *testing.T) {
	ctx := context.Background()
	t.Run("cancelled", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, true)
		id := w.pairAndHold(t)
		require.Equal(t, []payflow.ID{id}, keptHeld(t, w.seller))
		v, err := w.seller.CancelHeld(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, payflow.StateCancelled, v.State)
		assert.Empty(t, keptHeld(t, w.seller))
		w.assertState(t, id, payflow.StateCancelled)
	})
	t.Run("capture answered expired", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, true)
		api := &resignedAPI{API: w.f.Platform, key: w.f.Key}
		w.useSeller(t, api)
		id := w.pairAndHold(t)
		api.capture = func(v *payflow.PaymentView, _ *record.Receipt) { v.State = payflow.StateExpired }
		rc, err := w.seller.CaptureHeld(ctx, id, 0)
		require.ErrorIs(t, err, payflow.ErrFinal)
		assert.Nil(t, rc)
		assert.Empty(t, keptHeld(t, w.seller))
	})
}

// TestSellerKeptRefundAnsweredIsNotSentAgain: a refund whose reply was
// lost and which a Refund of the same request and amount then got the
// receipt of is no longer kept: the next Refund, of another amount, makes
// its own refund rather than failing with a *RefundMadeError.
func TestSellerKeptRefundAnsweredIsNotSentAgain(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.useSeller(t, loseFirstRefund(w.f.Platform))
	w.pair(t)
	w.purchase(t)
	_, err := w.seller.Refund(ctx, 240)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	rc, err := w.seller.Refund(ctx, 240)
	require.NoError(t, err)
	assert.Equal(t, uint64(240), rc.Amount)
	rc, err = w.seller.Refund(ctx, 100)
	require.NoError(t, err)
	assert.Equal(t, uint64(100), rc.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 340}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestSellerChecksWithTheCardsNextCounterLonger: the check that Request
// makes before the card signs measures the payment request with the
// card's next counter, not the last one it used: with the last counter
// 23 (one octet) and the next 24 (two octets), the first request that the
// check lets through is one the card signs, and the one before it one
// that the card refuses.
func TestSellerChecksWithTheCardsNextCounterLonger(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	c := w.pair(t)
	card := w.sellerCard.Card
	id := payflow.SessionRequestID(c.SessionID, 0)
	for {
		counter, err := card.Counter()
		require.NoError(t, err)
		require.LessOrEqual(t, counter, uint64(23))
		if counter == 23 {
			break
		}
		_, err = card.SignPaymentRequest(&record.PaymentRequest{
			RequestID: id[:], SessionID: c.SessionID[:], PayerCardID: w.shopperCard.Enrolment.ICCID,
			MerchantID: phoneMerchant, Currency: "EUR", Amount: 1,
		})
		require.NoError(t, err)
	}
	checksWithTheCardsOwnHeader(t, w, c)
}

// lapsedMaxHeld returns a world of a merchant that captures manually
// whose seller kept MaxHeld held requests of session c, made at indexes
// 0 to MaxHeld-1, and whose clock then passed their hold expiry: Held
// shows none of them.
func lapsedMaxHeld(t *testing.T) (w *phoneWorld, c *payflow.Confirmation) {
	t.Helper()
	w = newMemoryPhoneWorld(t, true)
	c = w.pair(t)
	for i := range payflow.MaxHeld {
		w.holdAt(t, c, i)
	}
	require.Len(t, mustHeld(t, w.seller), payflow.MaxHeld)
	w.f.Clock.Advance(payflow.DefaultHoldTTL)
	w.f.RefreshCRLs()
	require.Empty(t, mustHeld(t, w.seller), "every hold past its expiry")
	return w, c
}

// TestSellerKeepsMaxHeldLapsed: of MaxHeld held requests that Held left
// out as past their hold expiry, the seller keeps every one, the oldest
// too: a CancelHeld of the oldest is sent to the platform, which answers
// ErrExpired (its hold voided), and it is no longer kept.
func TestSellerKeepsMaxHeldLapsed(t *testing.T) {
	ctx := context.Background()
	w, c := lapsedMaxHeld(t)
	oldest := payflow.SessionRequestID(c.SessionID, 0)
	v, err := w.seller.CancelHeld(ctx, oldest)
	require.ErrorIs(t, err, payflow.ErrExpired)
	assert.Nil(t, v)
	w.assertState(t, oldest, payflow.StateExpired)
	_, err = w.seller.CancelHeld(ctx, oldest)
	require.ErrorIs(t, err, payflow.ErrNoPayment, "no longer kept")
}

// TestSellerDropsTheOldestLapsedPastMaxHeld: a held request that lapses
// while the seller keeps MaxHeld lapsed ones makes it drop the oldest of
// them: a CancelHeld of that one is ErrNoPayment, sending nothing, while
// one of the others kept is still sent (ErrExpired) and the one that
// lapsed last is kept too.
func TestSellerDropsTheOldestLapsedPastMaxHeld(t *testing.T) {
	ctx := context.Background()
	w, c := lapsedMaxHeld(t)
	later := w.pair(t)
	w.holdAt(t, later, 0)
	w.f.Clock.Advance(payflow.DefaultHoldTTL)
	w.f.RefreshCRLs()
	require.Empty(t, mustHeld(t, w.seller))

	oldest := payflow.SessionRequestID(c.SessionID, 0)
	_, err := w.seller.CancelHeld(ctx, oldest)
	require.ErrorIs(t, err, payflow.ErrNoPayment, "dropped")
	w.assertState(t, oldest, payflow.StateHeld) // nothing sent: the platform has not expired it yet
	for _, id := range []payflow.ID{payflow.SessionRequestID(c.SessionID, 1), payflow.SessionRequestID(later.SessionID, 0)} {
		_, err = w.seller.CancelHeld(ctx, id)
		require.ErrorIs(t, err, payflow.ErrExpired, "kept")
		w.assertState(t, id, payflow.StateExpired)
	}
}

// cancelViewAPI answers the cancellations that the platform makes with
// their views altered by alter, when set.
type cancelViewAPI struct {
	payflow.API
	alter func(*payflow.PaymentView)
}

func (a *cancelViewAPI) Cancel(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	v, err := a.API.Cancel(ctx, token, id)
	if err != nil || a.alter == nil {
		return v, err
	}
	altered := *v
	a.alter(&altered)
	return &altered, nil
}

// TestSellerTakenIndexPaidInPartAfterCancel: a Request that cancels the
// pending request it finds at a taken index (one that the seller's card
// signed in another run, made at index 0, for a merchant that captures at
// once), whose cancellation the platform answers with the request
// captured and whose read after it shows part of its amount captured by
// a merchant that captures manually, is ErrMismatch, as that read is
// checked against the first one, which says otherwise: it is no
// *PaidError, asks at no further index and puts nothing on screen.
func TestSellerTakenIndexPaidInPartAfterCancel(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	reads := &tamperAPI{API: w.f.Platform}
	api := &cancelViewAPI{API: reads}
	w.useSeller(t, api)
	c := w.pair(t)
	taken := payflow.SessionRequestID(c.SessionID, 0)
	msg, err := w.sellerCard.Card.SignPaymentRequest(&record.PaymentRequest{
		RequestID: taken[:], SessionID: c.SessionID[:], PayerCardID: w.shopperCard.Enrolment.ICCID,
		MerchantID: phoneMerchant, Currency: "EUR", Amount: 150,
	})
	require.NoError(t, err)
	_, err = w.f.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.NoError(t, err)

	api.alter = func(v *payflow.PaymentView) {
		v.State = payflow.StateCaptured
		reads.payment = func(v *payflow.PaymentView) {
			v.State, v.ManualCapture, v.Captured = payflow.StateCaptured, true, v.Amount-1
		}
	}
	requestRefusedAtTakenIndex(t, w, c, payflow.ErrFinal)
	assert.Nil(t, payflow.Screen(w.seller))
	assert.False(t, payflow.SawPaid(w.seller, taken))
}

// requestRefusedAtTakenIndex checks that a Request of 200 EUR of w's
// seller, in the session of c, whose index 0 is taken, fails with
// ErrMismatch and not with other, and asks at no further index.
func requestRefusedAtTakenIndex(t *testing.T, w *phoneWorld, c *payflow.Confirmation, other error) {
	t.Helper()
	ctx := context.Background()
	sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 200, Currency: "EUR"})
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.NotErrorIs(t, err, other)
	assert.Nil(t, sv)
	_, err = w.f.Platform.Store().Payment(ctx, payflow.SessionRequestID(c.SessionID, 1))
	require.ErrorIs(t, err, payflow.ErrNotFound, "no request at the next index")
}

// TestSellerRemembersLastPaidRequests: a seller phone remembers the last
// 256 requests that it saw paid, the first of 256 paid one after the
// other among them, each once however often it saw it paid (Wait, and
// Status after it).
func TestSellerRemembersLastPaidRequests(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	var first payflow.ID
	for i := range 256 {
		sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 1, Currency: "EUR"})
		require.NoError(t, err)
		w.shopperApproves(t)
		v, rc, err := w.seller.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, payflow.StateCaptured, v.State)
		require.NotNil(t, rc)
		v, err = w.seller.Status(ctx)
		require.NoError(t, err)
		require.Equal(t, sv.ID, v.ID)
		if i == 0 {
			first = sv.ID
		}
	}
	assert.True(t, payflow.SawPaid(w.seller, first))
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 256}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestSellerCatalogFetchedWhileRefusedRequestKept: a Request priced with
// the catalog dropped before (a fetch of it refused for the card's budget
// of catalog reads) that the platform refuses as priced otherwise
// (ErrMismatch) leaves the catalog that a Catalog fetched while that
// Request was under way kept: the next Catalog returns it, with the
// merchant's new prices, without a fetch (which the budget, spent, would
// refuse), and the next Request prices with it and goes through.
func TestSellerCatalogFetchedWhileRefusedRequestKept(t *testing.T) {
	ctx := context.Background()
	w := newCatalogBudgetWorld(t)
	api := &hookAPI{API: w.f.Platform}
	w.useSeller(t, api)
	w.pair(t)
	_, err := w.seller.Request(ctx, payflow.Charge{Items: []record.Item{{SKU: "pear", Quantity: 1}}})
	require.ErrorIs(t, err, payflow.ErrInvalid, "no pear in the catalog: the catalog dropped")
	dearerApples(t, w)

	var fetched *payflow.Catalog
	var fetchErr error
	api.mu.Lock()
	api.createErr = func() error {
		api.mu.Lock()
		api.createErr = nil
		api.mu.Unlock()
		w.f.Clock.Advance(2 * time.Second) // one catalog read more
		fetched, fetchErr = w.seller.Catalog(ctx)
		return nil
	}
	api.mu.Unlock()
	apples := payflow.Charge{Items: []record.Item{{SKU: "apple", Quantity: 2}}}
	_, err = w.seller.Request(ctx, apples)
	require.ErrorIs(t, err, payflow.ErrMismatch, "priced with the catalog dropped, apples at 120")
	require.NoError(t, fetchErr)
	require.Equal(t, uint64(130), fetched.Items[0].UnitPrice)

	c, err := w.seller.Catalog(ctx)
	require.NoError(t, err, "the catalog fetched is kept: no fetch")
	assert.Equal(t, "apple", c.Items[0].SKU)
	assert.Equal(t, uint64(130), c.Items[0].UnitPrice)
	sv, err := w.seller.Request(ctx, apples)
	require.NoError(t, err)
	assert.Equal(t, uint64(260), sv.Amount)
}

// counterHookCard is a SellerCard that runs hook, when set, once, as the
// phone next reads the card's signature counter (the check before the
// card signs), before the card answers.
type counterHookCard struct {
	payflow.SellerCard
	hook func()
}

func (c *counterHookCard) Counter() (uint64, error) {
	if h := c.hook; h != nil {
		c.hook = nil
		h()
	}
	return c.SellerCard.Counter()
}

// TestSellerCatalogForgottenAfterFetchMeanwhileIsNoFallback: a Request
// priced with the catalog dropped before (its fetch refused for the
// card's budget of catalog reads), refused before the card signs as its
// receipt would be too long, while a Catalog of another call fetched the
// catalog again, leaves the phone with that catalog alone: once a Request
// priced with it is refused as priced otherwise (ErrMismatch), Catalog,
// whose fetch the budget refuses, has no catalog to fall back on and
// fails with ErrRateLimited.
func TestSellerCatalogForgottenAfterFetchMeanwhileIsNoFallback(t *testing.T) {
	ctx := context.Background()
	w := newCatalogBudgetWorld(t)
	card := &counterHookCard{SellerCard: w.sellerCard.Card}
	var err error
	w.seller, err = payflow.NewSeller(card, phoneOptions(w.f, w.f.Platform))
	require.NoError(t, err)
	catalog, _ := longestItems()
	for i := range catalog {
		catalog[i].Name = strings.Repeat("n", record.MaxText)
	}
	require.NoError(t, w.f.Platform.SetCatalog(ctx, phoneMerchant, catalog))
	w.pair(t)
	_, err = w.seller.Request(ctx, payflow.Charge{Items: []record.Item{{SKU: "pear", Quantity: 1}}})
	require.ErrorIs(t, err, payflow.ErrInvalid, "no pear in the catalog: the catalog dropped")

	var fetchErr error
	card.hook = func() {
		w.f.Clock.Advance(2 * time.Second) // one catalog read more
		_, fetchErr = w.seller.Catalog(ctx)
	}
	items := make([]record.Item, len(catalog))
	for i, it := range catalog {
		items[i] = record.Item{SKU: it.SKU, Quantity: 1}
	}
	_, err = w.seller.Request(ctx, payflow.Charge{Items: items})
	require.ErrorIs(t, err, payflow.ErrInvalid, "its receipt does not fit")
	require.NoError(t, fetchErr)
	require.Nil(t, card.hook, "the check before the card signs ran")

	for i := range catalog {
		catalog[i].UnitPrice = 2
	}
	require.NoError(t, w.f.Platform.SetCatalog(ctx, phoneMerchant, catalog))
	_, err = w.seller.Request(ctx, payflow.Charge{Items: items[:1]})
	require.ErrorIs(t, err, payflow.ErrMismatch, "priced with the catalog fetched meanwhile, at 1")
	c, err := w.seller.Catalog(ctx)
	require.ErrorIs(t, err, payflow.ErrRateLimited, "no fallback")
	assert.Nil(t, c)
}

// gatedCaptureAPI holds the first capture that reaches it until release
// is closed, having sent entered, and then passes it on to the platform
// and loses its reply, as a connection that drops after the call went
// out: it fails with ErrUnavailable. The captures after it go through its
// faultAPI, which loses their replies, refusals too, as its plan says.
type gatedCaptureAPI struct {
	*faultAPI
	entered, release chan struct{}
	calls            atomic.Int32
}

func newGatedCaptureAPI(api payflow.API) *gatedCaptureAPI {
	a := &gatedCaptureAPI{
		faultAPI: &faultAPI{API: api},
		entered:  make(chan struct{}),
		release:  make(chan struct{}),
	}
	a.capture.refusals = true
	return a
}

func (a *gatedCaptureAPI) Capture(ctx context.Context, token string, req *payflow.CaptureRequest) (*payflow.PaymentView, error) {
	if a.calls.Add(1) > 1 {
		return a.faultAPI.Capture(ctx, token, req)
	}
	close(a.entered)
	<-a.release
	_, _ = a.API.Capture(ctx, token, req)
	return nil, payflow.ErrUnavailable
}

// heldGatedCapture pairs the phones of a merchant that captures manually,
// the seller's talking to the platform through a gatedCaptureAPI, and has
// the shopper approve basket, held (pairAndHold); it then has the seller
// capture all of the held request on screen in another goroutine, and
// returns the world, the API, the request's ID and the channel of that
// capture's error once the API holds it.
func heldGatedCapture(t *testing.T) (*phoneWorld, *gatedCaptureAPI, payflow.ID, <-chan error) {
	t.Helper()
	w := newMemoryPhoneWorld(t, true)
	api := newGatedCaptureAPI(w.f.Platform)
	w.useSeller(t, api)
	id := w.pairAndHold(t)
	done := make(chan error, 1)
	go func() {
		_, err := w.seller.Capture(context.Background(), 0)
		done <- err
	}()
	within(t, api.entered, "the first capture sent")
	return w, api, id, done
}

// TestSellerCaptureUnansweredAfterOverlappingCaptureReceipt: of two
// captures of the held request on screen under way at once, one that gets
// no answer after the other returned the receipt of the capture made does
// not keep the request for a receipt: it fails with ErrUnavailable, Held
// keeps nothing, the screen shows the request captured, and the shopper
// was charged once.
func TestSellerCaptureUnansweredAfterOverlappingCaptureReceipt(t *testing.T) {
	ctx := context.Background()
	w, api, id, first := heldGatedCapture(t)

	rc, err := w.seller.CaptureHeld(ctx, id, 0)
	require.NoError(t, err)
	assert.Equal(t, uint64(690), rc.Amount)
	close(api.release)
	require.ErrorIs(t, within(t, first, "the first capture"), payflow.ErrUnavailable)

	assert.Empty(t, keptHeld(t, w.seller), "the receipt of the capture made was returned")
	assert.Empty(t, mustHeld(t, w.seller))
	require.NotNil(t, payflow.Screen(w.seller))
	assert.Equal(t, payflow.StateCaptured, payflow.Screen(w.seller).State)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestSellerCaptureUnansweredBegunAfterOverlappingReceipt: a capture of
// the request on screen that begins after another capture of it returned
// its receipt, while a third capture of it is still under way, and that
// gets no answer, keeps the request for the receipt of its capture (it
// may have been made): Held lists it captured until a CaptureHeld of the
// captured amount returns that receipt. The third, then answered with no
// reply either, keeps nothing more.
func TestSellerCaptureUnansweredBegunAfterOverlappingReceipt(t *testing.T) {
	ctx := context.Background()
	w, api, id, third := heldGatedCapture(t)

	_, err := w.seller.CaptureHeld(ctx, id, 0)
	require.NoError(t, err)
	api.capture.reply.failAllWith(payflow.ErrUnavailable)
	_, err = w.seller.Capture(ctx, 0)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	require.Equal(t, []payflow.ID{id}, keptHeld(t, w.seller), "its capture's receipt due")
	close(api.release)
	require.ErrorIs(t, within(t, third, "the third capture"), payflow.ErrUnavailable)

	held := mustHeld(t, w.seller)
	require.Len(t, held, 1)
	assert.Equal(t, id, held[0].ID)
	assert.Equal(t, payflow.StateCaptured, held[0].State)
	api.capture.reply.disarm()
	rc, err := w.seller.CaptureHeld(ctx, id, 690)
	require.NoError(t, err)
	assert.Equal(t, uint64(690), rc.Amount)
	assert.Empty(t, mustHeld(t, w.seller))
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestSellerTakenIndexCancelledCheckedAgainstScreen: a Request that finds
// the index it asks at taken by the paid request on screen (the card
// signed another request under its ID: keptPaidShown), which the platform
// shows pending to a merchant that captures manually, cancels it, and
// then reads it captured for part of its amount, is ErrMismatch: the view
// on screen, captured in full by a merchant that captures at once, does
// not say that the merchant captures manually, so the part is not taken
// as captured. It asks at no further index, and the screen keeps the
// request captured in full, as the shopper paid it.
func TestSellerTakenIndexCancelledCheckedAgainstScreen(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	reads := &tamperAPI{API: w.f.Platform}
	charge := payflow.Charge{Amount: 100, Currency: "EUR"}
	c, _ := w.keptPaidShown(t, &hookAPI{API: reads}, charge)
	paid := payflow.SessionRequestID(c.SessionID, 0)

	var n atomic.Int32
	reads.payment = func(v *payflow.PaymentView) {
		v.ManualCapture = true
		if n.Add(1) == 1 { // the read at the taken index
			v.State, v.Captured, v.Receipt = payflow.StatePending, 0, nil
			return
		}
		v.Captured = v.Amount - 1 // the read after the cancellation
	}
	sv, err := w.seller.Request(ctx, charge)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.NotErrorIs(t, err, payflow.ErrFinal)
	assert.Nil(t, sv)
	assert.Equal(t, int32(2), n.Load(), "read at the taken index and after the cancellation")
	_, err = w.f.Platform.Store().Payment(ctx, payflow.SessionRequestID(c.SessionID, 1))
	require.ErrorIs(t, err, payflow.ErrNotFound, "no request at the next index")

	on := payflow.Screen(w.seller)
	require.NotNil(t, on)
	assert.Equal(t, paid, on.ID)
	assert.Equal(t, payflow.StateCaptured, on.State)
	assert.Equal(t, uint64(100), on.Captured)
	assert.False(t, on.ManualCapture)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 100}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestSellerRefundPaymentRefusesReadOfAnotherUnderScreenID: RefundPayment
// of the paid request on screen whose read the platform answers with the
// view of another signed request under its ID (one that shows the signed
// request it carries, of the same amount, signed again) is ErrMismatch, as
// it is not the request on screen: the card signs no refund, the shopper
// is refunded nothing, and the screen keeps the request paid.
func TestSellerRefundPaymentRefusesReadOfAnotherUnderScreenID(t *testing.T) {
	refundPaymentOfScreenReadRefused(t, func(w *phoneWorld, v *payflow.PaymentView) {
		v.Request, v.RequestHash = refiled(t, v, w.f.Key, func(*record.PaymentRequest) {})
	})
}

// TestSellerTakenIndexViewOfMalformedCurrencyInUnknownState: a Request
// that reads, at the index it finds taken, a view in a currency of a form
// that no record carries is ErrMismatch, also when the view's state is
// one that no request's view has (no ErrInternal): it asks at no further
// index and nothing goes on screen.
func TestSellerTakenIndexViewOfMalformedCurrencyInUnknownState(t *testing.T) {
	w, c, _ := restartedSellerWorld(t)
	api := &tamperAPI{API: w.f.Platform}
	api.payment = func(v *payflow.PaymentView) { v.Currency, v.State = "eur", "settling" }
	w.useSeller(t, api)
	require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")
	requestRefusedAtTakenIndex(t, w, c, payflow.ErrInternal)
	assert.Nil(t, payflow.Screen(w.seller))
}

// TestSellerRefusesCaptureReceiptOfOtherFields: a capture of a held
// request that the platform answers with a receipt that verifies but
// names another request ID, request hash, merchant, currency or payer
// than the request's view, or carries other lines or another count of
// ledger transfer IDs than the card signed, fails with ErrMismatch, and
// the request stays kept (Held) for the receipt of its capture.
func TestSellerRefusesCaptureReceiptOfOtherFields(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		alter func(w *phoneWorld, rc *record.Receipt)
	}{
		{"request ID", func(_ *phoneWorld, rc *record.Receipt) {
			rc.RequestID = slices.Clone(rc.RequestID)
			rc.RequestID[0] ^= 1
		}},
		{"request hash", func(_ *phoneWorld, rc *record.Receipt) {
			rc.RequestHash = slices.Clone(rc.RequestHash)
			rc.RequestHash[0] ^= 1
		}},
		{"merchant", func(_ *phoneWorld, rc *record.Receipt) { rc.MerchantID = "other-shop" }},
		{"currency", func(_ *phoneWorld, rc *record.Receipt) { rc.Currency = "USD" }},
		{"payer", func(w *phoneWorld, rc *record.Receipt) { rc.PayerCardID = w.sellerCard.Enrolment.ICCID }},
		{"lines", func(_ *phoneWorld, rc *record.Receipt) { rc.Lines = slices.Clone(rc.Lines); rc.Lines[0].Quantity++ }},
		{"transfer IDs", func(_ *phoneWorld, rc *record.Receipt) {
			rc.TransferIDs = append(slices.Clone(rc.TransferIDs), rc.TransferIDs[0])
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, true)
			api := &resignedAPI{API: w.f.Platform, key: w.f.Key}
			w.useSeller(t, api)
			id := w.pairAndHold(t)
			api.capture = func(_ *payflow.PaymentView, rc *record.Receipt) { tc.alter(w, rc) }
			rc, err := w.seller.CaptureHeld(ctx, id, 0)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.Nil(t, rc)
			assert.Equal(t, []payflow.ID{id}, keptHeld(t, w.seller), "kept for its capture's receipt")
		})
	}
}

// TestSellerCancelOfPaidTakesNoteOfReadAsStatus: a Cancel of the request
// on screen that the shopper paid meanwhile, which the platform answers
// ErrFinal, reads the request again and takes that read as Status takes a
// view: one captured for part of the amount, as by a merchant that
// captures manually (the view on screen says otherwise), is ErrMismatch,
// and one in a state that no request's view has ErrInternal, each joined
// to ErrFinal; the screen then keeps the request as last seen, pending,
// and it is not taken as seen paid.
func TestSellerCancelOfPaidTakesNoteOfReadAsStatus(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		alter func(*payflow.PaymentView)
		want  error
	}{
		{"captured in part", func(v *payflow.PaymentView) { v.ManualCapture, v.Captured = true, v.Amount-1 }, payflow.ErrMismatch},
		{"unknown state", func(v *payflow.PaymentView) { v.State = "settling" }, payflow.ErrInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			reads := &tamperAPI{API: w.f.Platform}
			w.useSeller(t, reads)
			w.pair(t)
			sv, _ := w.request(t)
			_, err := w.shopper.Approve(ctx, simcardtest.PIN)
			require.NoError(t, err)
			reads.payment = tc.alter
			v, err := w.seller.Cancel(ctx)
			require.ErrorIs(t, err, payflow.ErrFinal)
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, v)
			on := payflow.Screen(w.seller)
			require.NotNil(t, on)
			assert.Equal(t, sv.ID, on.ID)
			assert.Equal(t, payflow.StatePending, on.State, "as last seen")
			assert.False(t, payflow.SawPaid(w.seller, sv.ID))
			w.assertState(t, sv.ID, payflow.StateCaptured)
		})
	}
}
