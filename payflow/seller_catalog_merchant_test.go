package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// TestSellerRefusesAnotherMerchantsCatalog: a catalog that names another
// merchant than the card's (a cache or proxy that answers with another
// merchant's) is ErrMismatch and is not kept: the seller's screen does
// not show it, the card signs no request priced with it, and the next
// call fetches the catalog again.
func TestSellerRefusesAnotherMerchantsCatalog(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &tamperAPI{API: w.f.Platform}
	w.useSeller(t, api)
	c := w.pair(t)
	api.catalog = func(c *payflow.Catalog) { c.MerchantID = "another-shop" }
	before, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	_, err = w.seller.Request(ctx, payflow.Charge{Items: []record.Item{{SKU: "apple", Quantity: 1}}})
	require.ErrorIs(t, err, payflow.ErrMismatch)
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, before, after, "nothing signed")
	cat, err := w.seller.Catalog(ctx)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Nil(t, cat)

	api.catalog = nil
	cat, err = w.seller.Catalog(ctx)
	require.NoError(t, err)
	assert.Equal(t, phoneMerchant, cat.MerchantID)
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 0), sv.ID)
	assert.Equal(t, uint64(690), sv.Amount)
}
