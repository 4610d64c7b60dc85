package payflow_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// hiddenCalls resolves EIDs on s's platform: by Resolve with a card's
// token, and as the peer's EID of a card's pairing proof of the shopper
// role. Its store st counts the reads of each card; bob is a second
// shopper card, logged in, and unknown an EID of no card.
type hiddenCalls struct {
	t       *testing.T
	s       *shop
	st      *cardReads
	bob     *paytest.Card
	unknown []byte
}

// newHiddenCalls returns the hiddenCalls of a new shop on a memory store,
// with automatic capture.
func newHiddenCalls(t *testing.T) hiddenCalls {
	t.Helper()
	st := &cardReads{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	bob := s.NewCard("Bob")
	bob.Login(record.RoleShopper)
	return hiddenCalls{t: t, s: s, st: st, bob: bob, unknown: bytes.Repeat([]byte{7}, record.EIDSize)}
}

func (h hiddenCalls) resolve(c *paytest.Card, eid []byte) (*payflow.ResolveResponse, error) {
	h.t.Helper()
	return h.s.Platform.Resolve(context.Background(), c.Token, &payflow.ResolveRequest{EID: eid})
}

func (h hiddenCalls) pair(c *paytest.Card, eid []byte) error {
	h.t.Helper()
	_, err := h.s.Platform.Pair(context.Background(), &payflow.PairRequest{Proof: c.Proof(record.RoleShopper, eid)})
	return err
}

// requireUnknownEID requires err to be the answer want of an EID never
// enrolled: ErrNotFound, with want's message.
func requireUnknownEID(t *testing.T, err, want error, what string) {
	t.Helper()
	require.ErrorIs(t, err, payflow.ErrNotFound, what)
	assert.EqualError(t, err, want.Error(), what)
}

// TestHiddenEIDReadsNoCard: a shopper card's EID, which Resolve and the
// peer's EID of a pairing proof answer another shopper card as an EID
// never enrolled (ErrNotFound, with its message), is so answered without
// a read of the card it names, once the card cache's entry of that card
// has expired, as an unknown EID reads none; a seller card resolving the
// same EID gets the name from a read of the card.
func TestHiddenEIDReadsNoCard(t *testing.T) {
	h := newHiddenCalls(t)
	s, st, alice, bob, unknown := h.s, h.st, h.s.shopper, h.bob, h.unknown

	_, unknownResolve := h.resolve(bob, unknown)
	require.ErrorIs(t, unknownResolve, payflow.ErrNotFound)
	unknownPair := h.pair(bob, unknown)
	require.ErrorIs(t, unknownPair, payflow.ErrNotFound)

	s.Clock.Advance(payflow.DefaultCacheTTL)
	reads := st.reads(alice.ID)
	_, err := h.resolve(bob, alice.EID())
	requireUnknownEID(t, err, unknownResolve, "Alice's EID resolved by Bob")
	assert.Equal(t, reads, st.reads(alice.ID), "Alice's card read for Bob's resolution")

	s.Clock.Advance(payflow.DefaultCacheTTL)
	reads = st.reads(alice.ID)
	requireUnknownEID(t, h.pair(bob, alice.EID()), unknownPair, "Alice's EID named by Bob's pairing proof")
	assert.Equal(t, reads, st.reads(alice.ID), "Alice's card read for Bob's pairing proof")

	s.Clock.Advance(payflow.DefaultCacheTTL)
	reads = st.reads(alice.ID)
	r, err := h.resolve(s.seller, alice.EID())
	require.NoError(t, err, "Alice's EID resolved by the seller card")
	assert.Equal(t, &payflow.ResolveResponse{DisplayName: "Alice", Role: uint8(record.RoleShopper)}, r)
	assert.Equal(t, reads+1, st.reads(alice.ID), "Alice's card read for the seller card's resolution")
}

// TestHiddenEIDFollowsRoleChange: a card made a seller card, or no
// longer one, is answered to a shopper card by its new role: at once when
// this process enrols the merchant, and when another process on the same
// store does, a shopper card that it was made a seller card is named at
// the first resolution of it that reloads the cards (CardReloadInterval
// after the asker's last reload at the latest) and answered as an EID
// never enrolled before; one that it is no longer a seller card is
// answered so once the card cache's entry of it has expired, the card
// read for it once, which sets its role, and not after; a login of the
// card here names it at once by the role it logged in with.
func TestHiddenEIDFollowsRoleChange(t *testing.T) {
	ctx := context.Background()
	h := newHiddenCalls(t)
	s, st, alice, bob, unknown := h.s, h.st, h.s.shopper, h.bob, h.unknown
	other := renewedPlatform(t, s.Fixture)
	stall := payflow.Merchant{ID: "fruit-stall", Name: "Fruit Stall", Currency: "EUR"}
	named := &payflow.ResolveResponse{DisplayName: stall.Name, Role: uint8(record.RoleSeller), MerchantID: stall.ID}
	shopper := &payflow.ResolveResponse{DisplayName: "Bob", Role: uint8(record.RoleShopper)}

	// Alice's miss reloads the cards: within the next second, and within
	// her interval, none of her misses reloads them.
	s.Clock.Advance(payflow.CardReloadInterval)
	_, unknownResolve := h.resolve(alice, unknown)
	require.ErrorIs(t, unknownResolve, payflow.ErrNotFound)
	_, err := h.resolve(alice, bob.EID())
	requireUnknownEID(t, err, unknownResolve, "Bob, a shopper card")

	// Through this process: at once.
	stall.SellerCardIDs = []string{bob.ID}
	require.NoError(t, s.Platform.EnrollMerchant(ctx, stall))
	r, err := h.resolve(alice, bob.EID())
	require.NoError(t, err, "Bob made a seller card here")
	assert.Equal(t, named, r)
	stall.SellerCardIDs = nil
	require.NoError(t, s.Platform.EnrollMerchant(ctx, stall))
	reads := st.reads(bob.ID)
	_, err = h.resolve(alice, bob.EID())
	requireUnknownEID(t, err, unknownResolve, "Bob no longer a seller card here")
	assert.Equal(t, reads, st.reads(bob.ID), "Bob's card read, no longer a seller card here")

	// Through another process, shopper to seller: answered as an unknown
	// EID, reading no card, until the reload of Alice's next miss.
	stall.SellerCardIDs = []string{bob.ID}
	require.NoError(t, other.EnrollMerchant(ctx, stall))
	s.Clock.Advance(payflow.DefaultCacheTTL)
	reads = st.reads(bob.ID)
	_, err = h.resolve(alice, bob.EID())
	requireUnknownEID(t, err, unknownResolve, "Bob made a seller card elsewhere, within Alice's interval")
	assert.Equal(t, reads, st.reads(bob.ID), "Bob's card read within Alice's interval")
	s.Clock.Advance(payflow.CardReloadInterval)
	r, err = h.resolve(alice, bob.EID())
	require.NoError(t, err, "Bob made a seller card elsewhere, after Alice's interval")
	assert.Equal(t, named, r)

	// Through another process, seller to shopper: named until the card
	// cache's entry expires, then answered as an unknown EID; the card
	// read until a reload (that of Alice's next miss) loads its role.
	stall.SellerCardIDs = nil
	require.NoError(t, other.EnrollMerchant(ctx, stall))
	r, err = h.resolve(alice, bob.EID())
	require.NoError(t, err, "Bob no longer a seller card elsewhere, within CacheTTL")
	assert.Equal(t, named, r)
	s.Clock.Advance(payflow.DefaultCacheTTL)
	reads = st.reads(bob.ID)
	_, err = h.resolve(alice, bob.EID())
	requireUnknownEID(t, err, unknownResolve, "Bob no longer a seller card elsewhere, after CacheTTL")
	assert.Equal(t, reads+1, st.reads(bob.ID), "Bob's card read once")
	s.Clock.Advance(payflow.DefaultCacheTTL)
	_, err = h.resolve(alice, bob.EID())
	requireUnknownEID(t, err, unknownResolve, "Bob no longer a seller card elsewhere, read once")
	assert.Equal(t, reads+1, st.reads(bob.ID), "Bob's card read again, its role read")
	s.Clock.Advance(payflow.CardReloadInterval)
	_, err = h.resolve(alice, bob.EID())
	requireUnknownEID(t, err, unknownResolve, "Bob no longer a seller card elsewhere, at Alice's reload")
	assert.Equal(t, reads+1, st.reads(bob.ID), "Bob's card read at Alice's reload")
	r, err = h.resolve(s.seller, bob.EID())
	require.NoError(t, err, "Bob resolved by the seller card")
	assert.Equal(t, shopper, r)

	// Through another process, shopper to seller, and Bob's login here:
	// named at once, within Alice's interval.
	stall.SellerCardIDs = []string{bob.ID}
	require.NoError(t, other.EnrollMerchant(ctx, stall))
	s.Clock.Advance(payflow.DefaultCacheTTL)
	_, err = h.resolve(alice, bob.EID())
	requireUnknownEID(t, err, unknownResolve, "Bob made a seller card elsewhere again, within Alice's interval")
	assert.Equal(t, stall.ID, bob.Login(record.RoleSeller).MerchantID)
	r, err = h.resolve(alice, bob.EID())
	require.NoError(t, err, "Bob made a seller card elsewhere again, logged in here")
	assert.Equal(t, named, r)
}
