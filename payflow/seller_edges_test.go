package payflow_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
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
					api = &lostCreateAPI{API: api, loss: payflow.ErrUnavailable}
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
