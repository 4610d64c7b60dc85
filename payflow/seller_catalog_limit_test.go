package payflow_test

import (
	"context"
	"errors"
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

// TestSellerCatalogRateLimited: a seller phone whose fetch of the catalog
// the platform refuses for the card's budget of catalog reads fails with
// that refusal and its retry time when it keeps no catalog, and prices
// with the catalog it dropped (after a charge it could not price) when it
// has one, so that the till goes on charging while the budget refills.
func TestSellerCatalogRateLimited(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{Platform: payflow.PlatformOptions{CatalogBurst: 1, CatalogRate: 0.5}})
	w := newPhoneWorld(t, f, nil, false)
	w.pair(t)
	l, err := w.seller.Login(ctx)
	require.NoError(t, err)
	_, err = w.f.Platform.Catalog(ctx, l.Token, phoneMerchant) // spends the card's budget
	require.NoError(t, err)

	_, err = w.seller.Catalog(ctx)
	require.ErrorIs(t, err, payflow.ErrRateLimited, "no catalog to fall back on")
	rl, ok := errors.AsType[*payflow.RateLimitedError](err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, 2*time.Second, rl.RetryAfter)

	f.Clock.Advance(2 * time.Second)
	_, err = w.seller.Request(ctx, payflow.Charge{Items: []record.Item{{SKU: "pear", Quantity: 1}}})
	require.ErrorIs(t, err, payflow.ErrInvalid, "no pear in the catalog")
	v, err := w.seller.Request(ctx, payflow.Charge{Items: []record.Item{{SKU: "apple", Quantity: 2}}})
	require.NoError(t, err, "priced with the catalog dropped while its fetch is refused")
	assert.Equal(t, uint64(240), v.Amount)
	c, err := w.seller.Catalog(ctx)
	require.NoError(t, err)
	assert.Len(t, c.Items, len(phoneCatalog))
}

// TestSellerCatalogRateLimitedAfterMismatch: a seller phone whose charge
// the platform refused as priced otherwise (ErrMismatch: the merchant
// changed a price) does not price with the catalog it dropped then while
// its fetch again is refused for the card's budget of catalog reads: the
// charge fails with that refusal and its retry time, the card signing
// nothing, and is priced with the catalog fetched once the budget holds a
// read.
func TestSellerCatalogRateLimitedAfterMismatch(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{Platform: payflow.PlatformOptions{CatalogBurst: 1, CatalogRate: 0.5}})
	w := newPhoneWorld(t, f, nil, false)
	w.pair(t)
	apples := payflow.Charge{Items: []record.Item{{SKU: "apple", Quantity: 2}}}
	v, err := w.seller.Request(ctx, apples)
	require.NoError(t, err)
	require.Equal(t, uint64(240), v.Amount)
	_, err = w.seller.Cancel(ctx)
	require.NoError(t, err)

	dearer := append([]payflow.CatalogItem(nil), phoneCatalog...)
	dearer[0].UnitPrice = 130
	require.NoError(t, f.Platform.SetCatalog(ctx, phoneMerchant, dearer))
	_, err = w.seller.Request(ctx, apples)
	require.ErrorIs(t, err, payflow.ErrMismatch, "priced with the catalog of before")

	counter, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	_, err = w.seller.Request(ctx, apples)
	require.ErrorIs(t, err, payflow.ErrRateLimited, "the catalog dropped for its prices is no fallback")
	rl, ok := errors.AsType[*payflow.RateLimitedError](err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, 2*time.Second, rl.RetryAfter)
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, counter, after, "the card signed nothing")

	f.Clock.Advance(2 * time.Second)
	v, err = w.seller.Request(ctx, apples)
	require.NoError(t, err)
	assert.Equal(t, uint64(260), v.Amount)
}

// TestPeersLoginRateLimited: a phone whose login again (its token
// expired) the platform refuses for the card's budget of logins fails
// Peers with that refusal and its retry time, as it fails any call that
// needs a token then, rather than show a service queue without the peers
// heard as if the platform had refused their resolutions.
func TestPeersLoginRateLimited(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{Platform: payflow.PlatformOptions{LoginBurst: 1, LoginRate: 1.0 / 7200}})
	w := newPhoneWorld(t, f, nil, false)
	_, err := w.shopper.Login(ctx)
	require.NoError(t, err)
	f.Clock.Advance(time.Hour + time.Second) // the token expired
	w.hear(t)
	entries, err := w.shopper.Peers(ctx)
	requireRateLimited(t, err, "logins", time.Hour-time.Second)
	assert.Empty(t, entries)
}
