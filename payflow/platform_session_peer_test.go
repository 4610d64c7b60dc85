package payflow_test

import (
	"context"
	"crypto/sha256"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestWaitingSessionShowsNoPeerCardID: a card that names an EID it heard
// learns the card ID behind it only once that card has named it too.
// Until the session is paired, every view of it (the pairing's answer,
// Session, over HTTP too) shows the asking card its own card ID, the
// merchant and the names, and no card ID of the other card; the paired
// session shows both card IDs to both cards.
func TestWaitingSessionShowsNoPeerCardID(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		// prober is the role of the card that names the other's EID.
		prober record.Role
	}{
		{"seller names a passer-by", record.RoleSeller},
		{"shopper names a till", record.RoleShopper},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{})
			client, err := payflow.NewClient(serve(t, s.Fixture), payflow.ClientOptions{})
			require.NoError(t, err)
			passer := s.NewCard("Passer-by")
			passer.Login(record.RoleShopper)
			shopper, seller := passer, s.seller
			prober, victim := seller, shopper
			if tt.prober == record.RoleShopper {
				prober, victim = shopper, seller
			}
			victimRole := record.RoleShopper + record.RoleSeller - tt.prober
			waiting := &payflow.SessionView{
				ID:            payflow.SessionID(shopper.EID(), seller.EID()),
				State:         payflow.SessionWaiting,
				PairingCode:   adv.PairingCode(adv.EID(shopper.EID()), adv.EID(seller.EID())),
				ShopperCardID: shopper.ID, SellerCardID: seller.ID, MerchantID: merchantID,
				ShopperName: "Passer-by", MerchantName: "Corner Grocer",
			}
			if tt.prober == record.RoleSeller {
				waiting.ShopperCardID = ""
			} else {
				waiting.SellerCardID = ""
			}

			v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: prober.Proof(tt.prober, victim.EID())})
			require.NoError(t, err)
			waiting.ExpiresAt = v.ExpiresAt
			assert.Equal(t, waiting, v, "the pairing's answer")
			v, err = s.Platform.Session(ctx, prober.Token, waiting.ID)
			require.NoError(t, err)
			assert.Equal(t, waiting, v, "the session read")
			v, err = client.Session(ctx, prober.Token, waiting.ID)
			require.NoError(t, err)
			assert.Equal(t, sameExpiry(waiting, v), v, "the session read over HTTP")
			// The card named sees the session too, with its own card ID
			// only.
			v, err = s.Platform.Session(ctx, victim.Token, waiting.ID)
			require.NoError(t, err)
			assert.Equal(t, victim.ID, v.ShopperCardID+v.SellerCardID, "the other card's view shows its own card ID alone")

			// Once the card named confirms, both see both card IDs.
			paired := *waiting
			paired.State, paired.ShopperCardID, paired.SellerCardID = payflow.SessionPaired, shopper.ID, seller.ID
			v, err = client.Pair(ctx, &payflow.PairRequest{Proof: victim.Proof(victimRole, prober.EID())})
			require.NoError(t, err)
			assert.Equal(t, sameExpiry(&paired, v), v, "the pairing's answer over HTTP")
			for _, c := range []*paytest.Card{prober, victim} {
				v, err = s.Platform.Session(ctx, c.Token, waiting.ID)
				require.NoError(t, err)
				assert.Equal(t, sameExpiry(&paired, v), v, "the paired session read by %s", c.ID)
			}
		})
	}
}

// sameExpiry returns a copy of want with got's expiry, which an answer
// over HTTP rounds up to the second.
func sameExpiry(want, got *payflow.SessionView) *payflow.SessionView {
	c := *want
	c.ExpiresAt = got.ExpiresAt
	return &c
}

// TestWaitingSessionIDHidesPeerCardID: the ID of a session derives from
// its two EIDs alone (PROTOCOL.md §6.1), so that the waiting view that a
// card gets by naming an EID it heard, which shows no card ID of the
// other card, tells it none through its ID either: a seller card that
// names a passer-by's EID, knowing its own card ID and both EIDs, finds
// no card ID that derives the view's ID with them, the passer-by's
// among the ones it tries, where it found the passer-by's by trying the
// card IDs of its issuer's few ranges.
func TestWaitingSessionIDHidesPeerCardID(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	passer := s.NewCard("Passer-by")
	passer.Login(record.RoleShopper)

	v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.seller.Proof(record.RoleSeller, passer.EID())})
	require.NoError(t, err)
	require.Equal(t, payflow.SessionWaiting, v.State)
	require.Empty(t, v.ShopperCardID)
	assert.Equal(t, eidSessionID(passer.EID(), s.seller.EID()), v.ID)
	assert.Equal(t, payflow.SessionID(passer.EID(), s.seller.EID()), v.ID)
	for _, c := range []string{passer.ID, s.shopper.ID, s.seller.ID} {
		assert.NotEqual(t, cardSessionID(c, s.seller.ID, passer.EID(), s.seller.EID()), v.ID, "card ID %s", c)
	}
}

// eidSessionID is the session ID of PROTOCOL.md §6.1 as the document
// writes it: SHA-256("CASIM-SESSION2" || shopperEID || sellerEID)[0:16].
func eidSessionID(shopperEID, sellerEID []byte) payflow.ID {
	sum := sha256.Sum256(slices.Concat([]byte("CASIM-SESSION2"), shopperEID, sellerEID))
	return payflow.ID(sum[:16])
}

// cardSessionID is what a card that knows its own card ID and the two
// EIDs tries for a card ID c of the other card: the ID that binds both
// card IDs, SHA-256("CASIM-SESSION" || len(c) || c || len(seller) ||
// seller || shopperEID || sellerEID)[0:16].
func cardSessionID(c, seller string, shopperEID, sellerEID []byte) payflow.ID {
	sum := sha256.Sum256(slices.Concat([]byte("CASIM-SESSION"), []byte{byte(len(c))}, []byte(c),
		[]byte{byte(len(seller))}, []byte(seller), shopperEID, sellerEID))
	return payflow.ID(sum[:16])
}

// TestSessionOfOtherCardsAnswersAsUnknown: a session ID derives from two
// EIDs alone, so any card that hears a shopper's EID and a till's can
// compute the ID of their session. A card of neither side of a stored
// session, a shopper card, another merchant's seller card or another till
// of the same merchant, gets the reply of a session that does not exist
// (not_found, the same code and message) for a view of it and for a
// payment request into it, so that it learns neither that the two EIDs
// paired nor that the shopper's EID is an enrolled shopper card's.
func TestSessionOfOtherCardsAnswersAsUnknown(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	client, err := payflow.NewClient(serve(t, s.Fixture), payflow.ClientOptions{})
	require.NoError(t, err)
	till, other, bob := s.thirdCards(t)

	never := payflow.ID{0xee} // no session of this ID is stored
	for _, c := range []*paytest.Card{bob, other, till} {
		for _, api := range []payflow.API{s.Platform, client} {
			_, unknown := api.Session(ctx, c.Token, never)
			require.ErrorIs(t, unknown, payflow.ErrNotFound, c.Name)
			view, err := api.Session(ctx, c.Token, s.session.ID)
			assert.Nil(t, view, c.Name)
			require.ErrorIs(t, err, payflow.ErrNotFound, "asked by %s", c.Name)
			assert.Equal(t, payflow.AsError(unknown).Message, payflow.AsError(err).Message, "asked by %s", c.Name)
		}
	}

	for _, c := range []*paytest.Card{other, till} {
		m := merchantID
		if c == other {
			m = "other"
		}
		into := func(id payflow.ID) error {
			r := paytest.Request(s.session, "EUR", 240, record.Item{SKU: "apple", Quantity: 2})
			r.SessionID, r.MerchantID = id[:], m
			_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: c.MustSign(r)})
			return err
		}
		unknown := into(never)
		require.ErrorIs(t, unknown, payflow.ErrNotFound, c.Name)
		err := into(s.session.ID)
		require.ErrorIs(t, err, payflow.ErrNotFound, "signed by %s", c.Name)
		assert.Equal(t, payflow.AsError(unknown), payflow.AsError(err), "signed by %s", c.Name)
	}
}

// TestSessionOfEarlierDerivationKept pins PROTOCOL.md §6.1: a session
// stored by an earlier version, under the ID that version derived from
// the card IDs and EIDs (CASIM-SESSION), keeps its ID: a view of it and a
// payment request into it find it until it expires. A pairing proof of
// the same EIDs names the session of this derivation, and the seller
// card's, which cancels that session's pending request, cancels none of
// the earlier session's, which stays payable.
func TestSessionOfEarlierDerivationKept(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	stored, err := s.Store.Session(ctx, s.session.ID)
	require.NoError(t, err)
	earlier := *stored
	earlier.ID = cardSessionID(s.shopper.ID, s.seller.ID, stored.ShopperEID, stored.SellerEID)
	require.NoError(t, s.Store.Accept(ctx, &payflow.Acceptance{CardID: "a card of the earlier version", Counter: 1, Session: &earlier, Now: s.Clock.Now()}))
	earlierView := *s.session
	earlierView.ID = earlier.ID

	for _, c := range []*paytest.Card{s.shopper, s.seller} {
		v, err := s.Platform.Session(ctx, c.Token, earlier.ID)
		require.NoError(t, err, c.Name)
		current, err := s.Platform.Session(ctx, c.Token, s.session.ID)
		require.NoError(t, err, c.Name)
		current.ID = earlier.ID
		assert.Equal(t, current, v, "%s: the earlier session's view is the current one's under its ID", c.Name)
	}
	into := func(session *payflow.SessionView) (*payflow.PaymentView, error) {
		return s.Platform.CreateRequest(ctx, &payflow.CreateRequest{
			Request: s.seller.MustSign(paytest.Request(session, "EUR", 240, record.Item{SKU: "apple", Quantity: 2})),
		})
	}
	old, err := into(&earlierView)
	require.NoError(t, err)
	require.Equal(t, payflow.StatePending, old.State)
	assert.Equal(t, earlier.ID, old.SessionID)
	current, err := into(s.session)
	require.NoError(t, err)

	v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.seller.Proof(record.RoleSeller, s.shopper.EID())})
	require.NoError(t, err)
	assert.Equal(t, s.session.ID, v.ID, "the pairing names the session of this derivation")
	s.requireState(t, current.ID, payflow.StateCancelled)
	s.requireState(t, old.ID, payflow.StatePending)
	pv, err := s.Platform.Payment(ctx, s.shopper.Token, old.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, pv.State)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.shopper.MustSign(paytest.Consent(pv))})
	require.NoError(t, err)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds - 240}, {Posted: 240}}, s.balances(t))

	s.Clock.Advance(earlier.ExpiresAt.Sub(s.Clock.Now()))
	_, err = into(&earlierView)
	require.ErrorIs(t, err, payflow.ErrExpired, "a request into the earlier session once it expired")
	assert.EqualError(t, err, "payflow: expired: session")
}
