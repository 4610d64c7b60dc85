package payflow_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestEnrollCardFirstFault: of an enrolment with two faults, the chain's
// is told first: a card of another issuer is ErrCard whatever its secret
// and name; then the secret's, ErrInvalid matching adv.ErrSecret, before
// the name's, one that no Store keeps included. Nothing is stored.
func TestEnrollCardFirstFault(t *testing.T) {
	ctx := context.Background()
	st := &cardPuts{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	_, issuer, err := simcardtest.NewCA()
	require.NoError(t, err)
	stranger, err := simcardtest.NewCard(issuer, simcardtest.Options{})
	require.NoError(t, err)
	own, err := simcardtest.NewCard(s.Issuer, simcardtest.Options{})
	require.NoError(t, err)
	short, badName := bytes.Repeat([]byte{0x3a}, adv.SecretSize-1), "Carol\x00"
	before := st.count()

	_, err = s.Platform.EnrollCard(ctx, stranger.Enrolment.Chain, short, "Mallory")
	assert.ErrorIs(t, err, payflow.ErrCard, "another issuer's card with a short secret")
	_, err = s.Platform.EnrollCard(ctx, stranger.Enrolment.Chain, stranger.Enrolment.AdvertisingSecret, badName)
	assert.ErrorIs(t, err, payflow.ErrCard, "another issuer's card with a name receipts cannot carry")
	_, err = s.Platform.EnrollCard(ctx, own.Enrolment.Chain, short, badName)
	assert.ErrorIs(t, err, adv.ErrSecret, "a short secret and a name receipts cannot carry")
	assert.ErrorIs(t, err, payflow.ErrInvalid)
	assert.Equal(t, before, st.count(), "no write reached the store")
}

// TestEnrollCardReadFailsCacheForgotten: a card enrolled again with
// another certificate, whose read back from the store fails, is stored:
// this process no longer holds the former certificate in its card cache,
// so that the token of a login with the former key authenticates nothing
// at once, as after an enrolment that read it back.
func TestEnrollCardReadFailsCacheForgotten(t *testing.T) {
	ctx := context.Background()
	st := &enrolReads{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	require.NoError(t, s.Platform.CheckToken(ctx, s.shopper.Token), "the card cached with its certificate")
	_, chain := newKeyChain(t, s, s.shopper.ID)
	st.mu.Lock()
	st.fail = errLost
	st.mu.Unlock()
	_, err := s.Platform.EnrollCard(ctx, chain, s.shopper.Secret, s.shopper.Name)
	require.ErrorIs(t, err, errLost)
	c, err := s.Store.Card(ctx, s.shopper.ID)
	require.NoError(t, err)
	require.Equal(t, chain[0], c.Chain[0], "the new certificate stored")
	assert.ErrorIs(t, s.Platform.CheckToken(ctx, s.shopper.Token), payflow.ErrCard)
}

// TestCatalogInvalidMerchantDrawsOnBudget: a catalog read of a merchant
// ID that is not UTF-8 draws on the card's budget as any read once the
// token is checked, and is not given back; past the budget, such a read
// is refused as rate limited, as any other.
func TestCatalogInvalidMerchantDrawsOnBudget(t *testing.T) {
	s := newShop(t, false, paytest.Options{Platform: payflow.PlatformOptions{CatalogBurst: 2, CatalogRate: 1}})
	ctx := context.Background()
	for i := range 2 {
		_, err := s.Platform.Catalog(ctx, s.seller.Token, merchantID+"\xff")
		require.ErrorIs(t, err, payflow.ErrInvalid, "read %d", i)
	}
	_, err := s.Platform.Catalog(ctx, s.seller.Token, merchantID)
	requireRateLimited(t, err, "catalog reads", time.Second)
	_, err = s.Platform.Catalog(ctx, s.seller.Token, merchantID+"\xff")
	requireRateLimited(t, err, "catalog reads", time.Second)
}

// TestEnrollMerchantFirstFault: of an enrolment with several bad fields,
// the merchant ID's is told first, then the name's, then the currency's.
func TestEnrollMerchantFirstFault(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	err := s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: "café", Name: "Café\u202e", Currency: "EURO"})
	assert.EqualError(t, err, "payflow: invalid request: record: merchant ID must be printable ASCII")
	err = s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: "kiosk", Name: "Kiosk\u202e", Currency: "EURO"})
	assert.EqualError(t, err, "payflow: invalid request: record: merchant name must not contain bidirectional formatting characters or a byte-order mark")
}

// TestEnrollMerchantOtherCurrencyFirst: an enrolment of a merchant in
// another currency than its own is refused as such (ErrConflict naming
// its currency) even when it lists a seller card that is not enrolled.
func TestEnrollMerchantOtherCurrencyFirst(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	err := s.Platform.EnrollMerchant(context.Background(),
		payflow.Merchant{ID: merchantID, Name: "Corner Grocer", Currency: "USD", SellerCardIDs: []string{"8900000000000000009"}})
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, `payflow: conflicting request: merchant "`+merchantID+`" is enrolled in EUR`)
}

// TestEnrollMerchantRefusedKeepsRoles: an enrolment that the store
// refuses leaves the cards' roles in the EID resolver as the store holds
// them: the merchant's seller card, left out of the refused list, still
// resolves for a shopper card, and the shopper card listed in its place
// stays hidden from shopper cards.
func TestEnrollMerchantRefusedKeepsRoles(t *testing.T) {
	ctx := context.Background()
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	bob := s.NewCard("Bob")
	st.putMerchant.failAll()
	err := s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: merchantID, Name: "Corner Grocer", Currency: "EUR", SellerCardIDs: []string{bob.ID}})
	st.putMerchant.disarm()
	require.ErrorIs(t, err, errLost)
	r, err := s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
	require.NoError(t, err, "the seller card")
	assert.Equal(t, "Corner Grocer", r.DisplayName, "the merchant's name")
	_, err = s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: bob.EID()})
	assert.ErrorIs(t, err, payflow.ErrNotFound, "Bob's card, a shopper card")
}

// TestOpenAccountUnknownCardFirst: a wallet of a card that is not
// enrolled, in a unit that is neither a currency nor an asset, is
// ErrNotFound for the card.
func TestOpenAccountUnknownCardFirst(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	assert.ErrorIs(t, s.Platform.OpenAccount(context.Background(), "8900000000000000009", "NOPE"), payflow.ErrNotFound)
}
