package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
)

// resolveTamperAPI is a tamperAPI whose resolutions resolve alters.
type resolveTamperAPI struct {
	*tamperAPI
	resolve func(*payflow.ResolveResponse)
}

func (a *resolveTamperAPI) Resolve(ctx context.Context, token string, req *payflow.ResolveRequest) (*payflow.ResolveResponse, error) {
	r, err := a.tamperAPI.Resolve(ctx, token, req)
	if err == nil && a.resolve != nil {
		a.resolve(r)
	}
	return r, err
}

// shopperSelectsHeard has the phones hear each other and the shopper
// select the seller, and returns what Select returns.
func (w *phoneWorld) shopperSelectsHeard(t *testing.T) (*payflow.Confirmation, error) {
	t.Helper()
	w.hear(t)
	sellerEID, err := w.seller.EID()
	require.NoError(t, err)
	return w.shopper.Select(context.Background(), sellerEID)
}

// TestSelectRefusesSessionOfAnotherCard: a pairing answered with a
// session that names another card as this phone's (a card ID of the right
// form, the peer's) is ErrMismatch for either phone, which selects
// nothing.
func TestSelectRefusesSessionOfAnotherCard(t *testing.T) {
	ctx := context.Background()
	t.Run("shopper", func(t *testing.T) {
		w, api := newTamperWorld(t)
		other := w.sellerCard.Enrolment.ICCID
		api.pair = func(s *payflow.SessionView) { s.ShopperCardID = other }
		c, err := w.shopperSelectsHeard(t)
		require.ErrorIs(t, err, payflow.ErrMismatch)
		require.ErrorContains(t, err, "the session is not this card's")
		require.Nil(t, c)
		_, err = w.shopper.WaitPaired(ctx)
		require.ErrorIs(t, err, payflow.ErrNotPaired)
	})
	t.Run("seller", func(t *testing.T) {
		w, api := newTamperWorld(t)
		shopperEID, _ := w.shopperSelects(t)
		other := w.shopperCard.Enrolment.ICCID
		api.pair = func(s *payflow.SessionView) { s.SellerCardID = other }
		c, err := w.seller.Select(ctx, shopperEID)
		require.ErrorIs(t, err, payflow.ErrMismatch)
		require.ErrorContains(t, err, "the session is not this card's")
		require.Nil(t, c)
		_, err = w.seller.WaitPaired(ctx)
		require.ErrorIs(t, err, payflow.ErrNotPaired)
	})
}

// TestShopperRefusesSessionOfMerchantIDNotSigned: a shopper phone refuses
// (ErrMismatch) a session whose merchant ID is not of the form that the
// records carry (record.CheckText), even when the platform named the
// seller's EID under that same merchant ID: the seller card signs the
// merchant ID in its requests, and no request could name it.
func TestShopperRefusesSessionOfMerchantIDNotSigned(t *testing.T) {
	w, tamper := newTamperWorld(t)
	const bad = "corner-shop\x01"
	api := &resolveTamperAPI{tamperAPI: tamper, resolve: func(r *payflow.ResolveResponse) { r.MerchantID = bad }}
	w.useShopper(t, api)
	tamper.pair = func(s *payflow.SessionView) { s.MerchantID = bad }
	c, err := w.shopperSelectsHeard(t)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	require.ErrorContains(t, err, "the session: record: merchant ID must be printable ASCII")
	require.Nil(t, c)
}

// TestSellerAsksAgainAfterShopperNameDiffers: a seller phone whose queue
// named the shopper otherwise than the session does (the platform renamed
// the card since) refuses the pairing (ErrMismatch) and forgets that
// name: the queue shows the name that the platform gives now, and a
// Select of the peer pairs under it.
func TestSellerAsksAgainAfterShopperNameDiffers(t *testing.T) {
	ctx := context.Background()
	w, tamper := newTamperWorld(t)
	api := &resolveTamperAPI{tamperAPI: tamper, resolve: func(r *payflow.ResolveResponse) { r.DisplayName = "Alicia" }}
	w.useSeller(t, api)
	shopperEID, _ := w.shopperSelects(t)
	peers, err := w.seller.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	require.Equal(t, "Alicia", peers[0].Name)
	api.resolve = nil
	_, err = w.seller.Select(ctx, shopperEID)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	require.ErrorContains(t, err, `the session is with shopper "Alice", not "Alicia" as picked`)
	peers, err = w.seller.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	require.Equal(t, "Alice", peers[0].Name, "the platform is asked again")
	c, err := w.seller.Select(ctx, shopperEID)
	require.NoError(t, err)
	require.True(t, c.Paired)
	require.Equal(t, "Alice", c.Name)
}

// TestWaitPairedRefusesSessionChanged: a waiting session that the
// platform shows paired under another pairing code or another ID, or
// naming another card (a card ID of the right form) or none as the
// shopper's, is ErrMismatch for the shopper phone that waits, which
// confirms no session: the user would otherwise compare a code that the
// seller's screen does not show, or the phone take a session that its
// Select did not check.
func TestWaitPairedRefusesSessionChanged(t *testing.T) {
	ctx := context.Background()
	for name, tamper := range map[string]func(w *phoneWorld, s *payflow.SessionView){
		"pairing code": func(_ *phoneWorld, s *payflow.SessionView) { s.PairingCode = "000000" },
		"ID":           func(_ *phoneWorld, s *payflow.SessionView) { s.ID[0] ^= 1 },
		"card ID":      func(w *phoneWorld, s *payflow.SessionView) { s.ShopperCardID = w.sellerCard.Enrolment.ICCID },
		"no card ID":   func(_ *phoneWorld, s *payflow.SessionView) { s.ShopperCardID = "" },
	} {
		t.Run(name, func(t *testing.T) {
			w, api := newTamperWorld(t)
			shopperEID, c := w.shopperSelects(t)
			require.NotEqual(t, "000000", c.PairingCode)
			_, err := w.seller.Select(ctx, shopperEID)
			require.NoError(t, err)
			api.session = func(s *payflow.SessionView) { tamper(w, s) }
			confirmed, err := w.shopper.WaitPaired(ctx)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			require.ErrorContains(t, err, "the session changed")
			require.Nil(t, confirmed)
			_, err = w.shopper.WaitPayment(ctx)
			require.ErrorIs(t, err, payflow.ErrNotPaired, "the session was not confirmed")
		})
	}
}

// TestSellerWaitPairedRefusesSessionOfAnotherCard: a waiting session
// that the platform shows paired naming another card (a card ID of the
// right form) as the seller's is ErrMismatch for the seller phone that
// waits, which confirms no session.
func TestSellerWaitPairedRefusesSessionOfAnotherCard(t *testing.T) {
	ctx := context.Background()
	w, api := newTamperWorld(t)
	sellerEID, _ := w.selectsFirst(t, adv.Seller)
	_, err := w.shopper.Select(ctx, sellerEID)
	require.NoError(t, err)
	other := w.shopperCard.Enrolment.ICCID
	api.session = func(s *payflow.SessionView) { s.SellerCardID = other }
	c, err := w.seller.WaitPaired(ctx)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	require.ErrorContains(t, err, "the session changed")
	require.Nil(t, c)
	_, err = w.seller.Request(ctx, basket)
	require.ErrorIs(t, err, payflow.ErrNotPaired, "the session was not confirmed")
}

// TestSellerStatusRefusesViewOfAnotherRequest: a read of the request on
// screen that the platform answers with a view of the same signed request
// that shows it under another ID, for another amount, in another
// currency, of another merchant or to another payer card is ErrMismatch:
// the seller phone shows no view of the request other than its card
// signed it, and the request on screen stays as it was.
func TestSellerStatusRefusesViewOfAnotherRequest(t *testing.T) {
	ctx := context.Background()
	for name, tamper := range map[string]func(*payflow.PaymentView){
		"ID":         func(v *payflow.PaymentView) { v.ID[0] ^= 1 },
		"amount":     func(v *payflow.PaymentView) { v.Amount-- },
		"currency":   func(v *payflow.PaymentView) { v.Currency = "USD" },
		"merchant":   func(v *payflow.PaymentView) { v.MerchantID = "other-shop" },
		"payer card": func(v *payflow.PaymentView) { v.PayerCardID = "8901000000000000000" },
	} {
		t.Run(name, func(t *testing.T) {
			w, api := newTamperWorld(t)
			w.pair(t)
			sv, err := w.seller.Request(ctx, basket)
			require.NoError(t, err)
			api.payment = tamper
			v, err := w.seller.Status(ctx)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			require.ErrorContains(t, err, "the platform's view is of another request than the one on screen")
			require.Nil(t, v)
			api.payment = nil
			v, err = w.seller.Status(ctx)
			require.NoError(t, err)
			requireSameRequest(t, sv, v)
			require.Equal(t, payflow.StatePending, v.State)
		})
	}
}

// TestSellerSelectLoginLapsesWhilePairing: a seller's login that lapses
// (by the phone's clock) while its pairing is answered is renewed to
// check the session's merchant; a renewal that fails (a login answered
// without a token: ErrMismatch) fails Select, which selects nothing.
func TestSellerSelectLoginLapsesWhilePairing(t *testing.T) {
	ctx := context.Background()
	w, api := newTamperWorld(t)
	shopperEID, _ := w.shopperSelects(t)
	api.pair = func(*payflow.SessionView) {
		w.f.Clock.Advance(payflow.DefaultTokenTTL)
		api.login = func(l *payflow.LoginResponse) { l.Token = "" }
	}
	c, err := w.seller.Select(ctx, shopperEID)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	require.Nil(t, c)
	_, err = w.seller.WaitPaired(ctx)
	require.ErrorIs(t, err, payflow.ErrNotPaired)
}
