package payflow_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestEnrollCardFirstFault: of an enrolment with two faults, the chain's
// is told first: a card of another issuer is ErrCard whatever its secret
// and name; then the secret's, ErrInvalid matching adv.ErrSecret, before
// the name's. Nothing is stored.
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
	short, badName := bytes.Repeat([]byte{0x3a}, adv.SecretSize-1), "Carol\u202e"
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
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	cert, err := s.Issuer.IssueCard(key.Public(), s.shopper.ID, pki.IssueOptions{})
	require.NoError(t, err)
	st.mu.Lock()
	st.fail = errLost
	st.mu.Unlock()
	_, err = s.Platform.EnrollCard(ctx, append([][]byte{cert}, s.Issuer.Chain()...), s.shopper.Secret, s.shopper.Name)
	require.ErrorIs(t, err, errLost)
	c, err := s.Store.Card(ctx, s.shopper.ID)
	require.NoError(t, err)
	require.Equal(t, cert, c.Chain[0], "the new certificate stored")
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
