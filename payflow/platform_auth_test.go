package payflow_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// outage is a Store some of whose calls fail, as a dropped database
// connection makes them fail.
type outage struct {
	payflow.Store
	card      string // the card whose reads fail
	cards     bool   // whether reads of all cards fail
	sessions  bool   // whether acceptances of sessions fail
	merchants bool   // whether reads of merchants fail
}

func (s *outage) Card(ctx context.Context, id string) (*payflow.CardRecord, error) {
	if id == s.card {
		return nil, errLost
	}
	return s.Store.Card(ctx, id)
}

func (s *outage) Cards(ctx context.Context, fn func(*payflow.CardRecord) error) error {
	if s.cards {
		return errLost
	}
	return s.Store.Cards(ctx, fn)
}

func (s *outage) Accept(ctx context.Context, a *payflow.Acceptance) error {
	if s.sessions && a.Session != nil {
		return errLost
	}
	return s.Store.Accept(ctx, a)
}

func (s *outage) Merchant(ctx context.Context, id string) (*payflow.Merchant, error) {
	if s.merchants {
		return nil, errLost
	}
	return s.Store.Merchant(ctx, id)
}

// outageShop is a limitedShop on an outage store, which keeps no card in
// its cache, so that every read of a card goes to the store.
func outageShop(t *testing.T) (*shop, *outage) {
	st := &outage{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{ResolveBurst: 3, ResolveRate: 1, CacheTTL: -1}})
	s.Clock.Advance(time.Second) // refills what the shop's pairing drew
	return s, st
}

// requireBudget checks that the shopper's card may resolve exactly left
// more EIDs.
func requireBudget(t *testing.T, s *shop, left int) {
	t.Helper()
	req := &payflow.ResolveRequest{EID: s.seller.EID()}
	for i := range left {
		_, err := s.Platform.Resolve(context.Background(), s.shopper.Token, req)
		require.NoError(t, err, "resolution %d of %d", i+1, left)
	}
	_, err := s.Platform.Resolve(context.Background(), s.shopper.Token, req)
	require.ErrorIs(t, err, payflow.ErrRateLimited)
}

// TestPairOutageKeepsBudget: a pairing that fails for the store, after it
// drew on the signing card's budget of EID resolutions, gives the
// resolution back, however often it fails: the platform's own failure
// costs the card nothing. A proof whose acceptance failed stays unspent;
// one accepted before the session's view failed is spent.
func TestPairOutageKeepsBudget(t *testing.T) {
	s, st := outageShop(t)
	ctx := context.Background()
	pair := func(proof []byte) error {
		_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
		return err
	}
	proof := s.shopper.Proof(record.RoleShopper, s.seller.EID())
	st.sessions, st.cards = true, true
	for i := range 5 {
		err := pair(proof)
		require.ErrorIs(t, err, errLost, "pairing %d", i)
		assert.Equal(t, "internal", payflow.AsError(err).Code)
	}
	probe := s.shopper.Proof(record.RoleShopper, bytes.Repeat([]byte{7}, record.EIDSize))
	require.ErrorIs(t, pair(probe), errLost, "the reload of the cards for an unknown EID fails")
	st.sessions, st.cards = false, false
	v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.NoError(t, err, "the proof was not spent")
	assert.Equal(t, payflow.SessionPaired, v.State)

	st.merchants = true
	for i := range 5 {
		require.ErrorIs(t, pair(s.shopper.Proof(record.RoleShopper, s.seller.EID())), errLost, "view %d", i)
	}
	st.merchants = false
	requireBudget(t, s, 2)
}

// TestResolveOutageKeepsBudget: a resolution that fails for the store
// takes nothing from the card's budget.
func TestResolveOutageKeepsBudget(t *testing.T) {
	s, st := outageShop(t)
	ctx := context.Background()
	resolve := func(eid []byte) error {
		_, err := s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: eid})
		return err
	}
	st.card, st.cards = s.seller.ID, true
	for i := range 5 {
		require.ErrorIs(t, resolve(s.seller.EID()), errLost, "resolution %d", i)
	}
	require.ErrorIs(t, resolve(bytes.Repeat([]byte{7}, record.EIDSize)), errLost, "the reload of the cards for an unknown EID fails")
	st.card, st.cards, st.merchants = "", false, true
	for i := range 5 {
		require.ErrorIs(t, resolve(s.seller.EID()), errLost, "merchant %d", i)
	}
	st.merchants = false
	requireBudget(t, s, 3)
}
