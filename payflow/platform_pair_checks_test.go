package payflow_test

import (
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

// TestPairRefusesACardNamingItself: a pairing proof that names the
// signing card's own EID as the peer is ErrInvalid, whichever role it
// signs: a seller card pairs with no shopper card but another, and a
// shopper card naming its own EID is told so, not answered as for an
// unknown EID, which its own is not. Nothing is paired: the card's
// sessions stay as they were.
func TestPairRefusesACardNamingItself(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	for _, c := range []struct {
		card *paytest.Card
		role record.Role
	}{{s.seller, record.RoleSeller}, {s.shopper, record.RoleShopper}} {
		_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: c.card.Proof(c.role, c.card.EID())})
		require.ErrorIs(t, err, payflow.ErrInvalid, "%s as role %d", c.card.ID, c.role)
		assert.EqualError(t, err, "payflow: invalid request: a card cannot pair with itself", "%s as role %d", c.card.ID, c.role)
	}
	_, err := s.Platform.Session(ctx, s.seller.Token, payflow.SessionID(s.seller.EID(), s.seller.EID()))
	require.ErrorIs(t, err, payflow.ErrNotFound, "no session of the seller card with itself")
}

// TestPairRefusesAMerchantCardAsShopper: a merchant's seller card is
// no session's shopper. Its pairing proof of the shopper role is
// forbidden, naming the card, whatever peer it names (a seller card of
// another merchant, or a shopper card); a seller card's proof naming the
// EID of a seller card, of another merchant or of its own, is forbidden,
// the peer not being a shopper. The other way round, a shopper card's
// proof naming a card that is not a seller card is not_found, the reply
// of an EID never enrolled (PROTOCOL.md §6.1). A seller card's login of
// the shopper role is taken all the same. Each refusal spends its
// proof (sent again, it is nonce_replayed), stores no session and moves
// nothing in the ledger.
func TestPairRefusesAMerchantCardAsShopper(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	other := s.NewCard("Till 9")
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{
		ID: "other-shop", Name: "Other Shop", Currency: "EUR", SellerCardIDs: []string{other.ID},
	}))
	// A login of the shopper role is taken: a token has no role.
	assert.Equal(t, "other-shop", other.Login(record.RoleShopper).MerchantID)
	own := s.NewCard("Till 2")
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{
		ID: merchantID, Name: "Corner Grocer", Currency: "EUR", SellerCardIDs: []string{s.seller.ID, own.ID},
	}))
	own.Login(record.RoleSeller)
	bob := s.NewCard("Bob")
	bob.Login(record.RoleShopper)
	for _, tt := range []struct {
		name         string
		signer, peer *paytest.Card
		role         record.Role
		code, msg    string
	}{
		{"seller card naming another merchant's seller card as its shopper", s.seller, other, record.RoleSeller,
			"forbidden", "payflow: forbidden: the peer is not a shopper"},
		{"seller card naming a seller card of its merchant as its shopper", s.seller, own, record.RoleSeller,
			"forbidden", "payflow: forbidden: the peer is not a shopper"},
		{"seller card as a shopper naming another merchant's seller card", other, s.seller, record.RoleShopper,
			"forbidden", "payflow: forbidden: card " + other.ID + " is a merchant's seller card, not a shopper"},
		{"seller card as a shopper naming a shopper card", s.seller, bob, record.RoleShopper,
			"forbidden", "payflow: forbidden: card " + s.seller.ID + " is a merchant's seller card, not a shopper"},
		{"shopper card naming a shopper card as its seller", s.shopper, bob, record.RoleShopper,
			"not_found", "payflow: not found: unknown or stale EID"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := s.balances(t)
			proof := tt.signer.Proof(tt.role, tt.peer.EID())
			_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
			require.Error(t, err)
			assert.Equal(t, tt.code, payflow.AsError(err).Code)
			assert.EqualError(t, err, tt.msg)
			_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
			assert.ErrorIs(t, err, payflow.ErrReplay, "the proof spent")

			id := payflow.SessionID(tt.signer.EID(), tt.peer.EID())
			if tt.role == record.RoleSeller {
				id = payflow.SessionID(tt.peer.EID(), tt.signer.EID())
			}
			_, err = s.Platform.Session(ctx, tt.signer.Token, id)
			require.ErrorIs(t, err, payflow.ErrNotFound, "no session stored")
			assert.Equal(t, before, s.balances(t), "the ledger did not move")
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// unreadSpent is a Store whose Spent finds every proof unspent, as it
// does a proof whose later one (or a copy) another process accepts just
// after the read.
type unreadSpent struct{ payflow.Store }

func (unreadSpent) Spent(context.Context, []byte, string, uint64) error { return nil }

// TestPairGivesBackForAPassedCounter: a pairing whose proof the store's
// acceptance refuses for its counter (ErrClone: a later proof of the card
// accepted between the read of the proof's counter and the acceptance)
// gives its EID resolution back, as one spent by a copy (ErrReplay) does.
func TestPairGivesBackForAPassedCounter(t *testing.T) {
	s := newShopOn(t, unreadSpent{memory.New()}, false, paytest.Options{Platform: payflow.PlatformOptions{ResolveBurst: 3, ResolveRate: 1}})
	s.Clock.Advance(time.Second) // refills what the shop's pairing drew
	ctx := context.Background()
	earlier := s.shopper.Proof(record.RoleShopper, s.seller.EID())
	_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.Proof(record.RoleShopper, s.seller.EID())})
	require.NoError(t, err)
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: earlier})
	require.ErrorIs(t, err, payflow.ErrClone)
	requireBudget(t, s, 2)
}

// TestShopperPairCancelsNothing: a shopper card's proof into its session,
// sent again (its phone started anew), leaves the session's pending
// request pending, paired as before, while the seller card's proof
// cancels it.
func TestShopperPairCancelsNothing(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	v, _ := s.request(t)
	require.Equal(t, payflow.StatePending, v.State)
	sv, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.Proof(record.RoleShopper, s.seller.EID())})
	require.NoError(t, err)
	assert.Equal(t, s.session.ID, sv.ID)
	assert.Equal(t, payflow.SessionPaired, sv.State)
	s.requireState(t, v.ID, payflow.StatePending)
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.seller.Proof(record.RoleSeller, s.shopper.EID())})
	require.NoError(t, err)
	s.requireState(t, v.ID, payflow.StateCancelled)
}
