package payflow_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// staleShop returns a shop, a second platform process on its store, and
// a shopper card Bob logged in.
func staleShop(t *testing.T) (*shop, *payflow.Platform, *paytest.Card) {
	t.Helper()
	s := newShop(t, false, paytest.Options{})
	stale := s.newProcess(t, payflow.PlatformOptions{})
	bob := s.NewCard("Bob")
	bob.Login(record.RoleShopper)
	return s, stale, bob
}

// TestPairingOfMovedSellerCard: a seller card moved to another merchant
// pairs, through a process that knows of the move, into a session stored
// with the new merchant; a shopper's proof into that session through a
// process whose card cache still holds the card with its former merchant,
// which that process showed the shopper (Resolve), is ErrConflict and
// confirms nothing, spending nothing: the shopper confirmed the former
// merchant, not the one of the session. The seller card's payment request
// of the new merchant into the session, priced from the new merchant's
// catalog and payable to its account, is then refused as into a session
// not paired (ErrConflict). Once that process has read the card again,
// the same proof pairs the session, the shopper having been shown the new
// merchant, and the request is taken.
func TestPairingOfMovedSellerCard(t *testing.T) {
	ctx := context.Background()
	s, stale, bob := staleShop(t)
	shown, err := stale.Resolve(ctx, bob.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
	require.NoError(t, err)
	require.Equal(t, merchantID, shown.MerchantID, "the process caches the seller card of its merchant")

	const bakery = "bakery-2"
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{
		ID: bakery, Name: "Bakery", Currency: "EUR", SellerCardIDs: []string{s.seller.ID},
	}))
	require.NoError(t, s.Platform.SetCatalog(ctx, bakery, []payflow.CatalogItem{{SKU: "apple", Name: "Apple", UnitPrice: 999}}))
	shown, err = stale.Resolve(ctx, bob.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
	require.NoError(t, err)
	require.Equal(t, merchantID, shown.MerchantID, "the process still shows the former merchant")

	waiting, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.seller.Proof(record.RoleSeller, bob.EID())})
	require.NoError(t, err)
	require.Equal(t, bakery, waiting.MerchantID)
	proof := bob.Proof(record.RoleShopper, s.seller.EID())
	_, err = stale.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrConflict, "a shopper's proof shown another merchant than the session's")
	v, err := s.Platform.Session(ctx, s.seller.Token, waiting.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionWaiting, v.State, "the shopper confirmed nothing")
	session := *waiting
	session.ShopperCardID = bob.ID
	r := paytest.Request(&session, "EUR", 999, record.Item{SKU: "apple", Quantity: 1})
	_, err = s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(r)})
	assert.ErrorIs(t, err, payflow.ErrConflict, "a request into the session, which the shopper did not confirm")

	// Read again, the card shows its new merchant, and the same proof
	// (unspent) pairs the session.
	s.Clock.Advance(payflow.DefaultCacheTTL + 1)
	shown, err = stale.Resolve(ctx, bob.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
	require.NoError(t, err)
	require.Equal(t, bakery, shown.MerchantID)
	paired, err := stale.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionPaired, paired.State)
	assert.Equal(t, bakery, paired.MerchantID)
	r = paytest.Request(paired, "EUR", 999, record.Item{SKU: "apple", Quantity: 1})
	p, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(r)})
	require.NoError(t, err)
	assert.Equal(t, bakery, p.MerchantID)
}

// TestPairingIntoSessionOfFormerMerchant: the other way round from
// TestPairingOfMovedSellerCard. A shopper's proof through a process whose
// card cache still holds the seller card with its former merchant stores
// the session with that merchant; the seller card's proof into it through
// a process that knows of the move is ErrConflict, spending nothing, and
// so are it and a new proof of the shopper sent again once both processes
// have read the card again: a stored session's merchant never changes.
// Once the session has expired, the two cards pair with the new merchant.
func TestPairingIntoSessionOfFormerMerchant(t *testing.T) {
	ctx := context.Background()
	s, stale, bob := staleShop(t)
	shown, err := stale.Resolve(ctx, bob.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
	require.NoError(t, err)
	require.Equal(t, merchantID, shown.MerchantID)

	const bakery = "bakery-2"
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{
		ID: bakery, Name: "Bakery", Currency: "EUR", SellerCardIDs: []string{s.seller.ID},
	}))
	waiting, err := stale.Pair(ctx, &payflow.PairRequest{Proof: bob.Proof(record.RoleShopper, s.seller.EID())})
	require.NoError(t, err)
	require.Equal(t, merchantID, waiting.MerchantID, "stored with the former merchant")

	proof := s.seller.Proof(record.RoleSeller, bob.EID())
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, fmt.Sprintf("payflow: conflicting request: session %x is stored with another merchant", waiting.ID[:]))

	s.Clock.Advance(payflow.DefaultCacheTTL + 1)
	shown, err = stale.Resolve(ctx, bob.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
	require.NoError(t, err)
	require.Equal(t, bakery, shown.MerchantID, "both processes read the card again")
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrConflict, "the seller card's proof sent again")
	_, err = stale.Pair(ctx, &payflow.PairRequest{Proof: bob.Proof(record.RoleShopper, s.seller.EID())})
	require.ErrorIs(t, err, payflow.ErrConflict, "a new proof of the shopper, shown the new merchant")

	s.Clock.Advance(payflow.DefaultSessionTTL)
	s.seller.Login(record.RoleSeller)
	bob.Login(record.RoleShopper)
	_, err = stale.Pair(ctx, &payflow.PairRequest{Proof: bob.Proof(record.RoleShopper, s.seller.EID())})
	require.NoError(t, err, "the shopper's proof once the session expired")
	paired, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.seller.Proof(record.RoleSeller, bob.EID())})
	require.NoError(t, err, "the seller card's proof once the session expired")
	assert.Equal(t, bakery, paired.MerchantID)
	assert.Equal(t, payflow.SessionPaired, paired.State)
}
