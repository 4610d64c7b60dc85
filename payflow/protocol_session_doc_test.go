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
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

// The tests of this file pin clauses of PROTOCOL.md §6.1 "Login, pairing
// and sessions".

// otherEpochEID returns card c's EID of the epoch two after the clock's,
// which the platform takes for no proof now.
func otherEpochEID(s *shop, c *paytest.Card) []byte {
	return c.EIDAt(adv.Epoch(s.Clock.Now()) + 2)
}

// TestLoginRefusedForItsEIDKeepsItsDraw pins PROTOCOL.md §6.1: a login
// refused for its EID (mismatch) keeps the draw it made on the card's
// budget of logins, as one refused for its role does; it spends its
// proof, which sent again once the budget holds a login is
// nonce_replayed, a refusal that gives its draw back.
func TestLoginRefusedForItsEIDKeepsItsDraw(t *testing.T) {
	s, _ := loginShop(t) // a budget of 2 logins, one every 10 s
	login := loginWith(s)
	refused := s.shopper.ProofNaming(record.RoleShopper, otherEpochEID(s, s.shopper), nil)
	err := login(refused)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.EqualError(t, err, "payflow: does not match the request: EID is not the card's current one")
	require.NoError(t, login(s.shopper.Proof(record.RoleShopper, nil)))
	requireRateLimited(t, login(s.shopper.Proof(record.RoleShopper, nil)), "logins", 10*time.Second)

	s.Clock.Advance(10 * time.Second)
	require.ErrorIs(t, login(refused), payflow.ErrReplay, "the refused proof is spent")
	require.NoError(t, login(s.shopper.Proof(record.RoleShopper, nil)), "the replayed proof gave its draw back")
}

// TestPairBudgetAfterSignersEIDAndRole pins PROTOCOL.md §6.1: a pairing
// draws on the signing card's budget of EID resolutions after its own EID
// and its role are checked and before the peer's EID is: with the budget
// spent, a proof of another epoch's EID is still mismatch, and one of a
// role the card may not take forbidden, while one naming the signer's
// own EID, which only the peer's resolution finds, is rate_limited; with
// one resolution in the budget, those refusals draw none of it.
func TestPairBudgetAfterSignersEIDAndRole(t *testing.T) {
	s := limitedShop(t)
	ctx := context.Background()
	for range 3 {
		_, err := s.Platform.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: s.shopper.EID()})
		require.NoError(t, err)
	}
	spendBudget(t, s)
	pair := pairWith(s)
	refusals := func(t *testing.T) {
		t.Helper()
		err := pair(s.shopper.ProofNaming(record.RoleShopper, otherEpochEID(s, s.shopper), s.seller.EID()))
		require.ErrorIs(t, err, payflow.ErrMismatch, "the signer's EID of another epoch")
		assert.EqualError(t, err, "payflow: does not match the request: EID is not the card's current one")
		err = pair(s.shopper.Proof(record.RoleSeller, s.seller.EID()))
		require.ErrorIs(t, err, payflow.ErrForbidden, "a seller role for a card of no merchant")
		assert.EqualError(t, err, "payflow: forbidden: card "+s.shopper.ID+" belongs to no merchant")
		err = pair(s.seller.Proof(record.RoleShopper, s.shopper.EID()))
		require.ErrorIs(t, err, payflow.ErrForbidden, "a shopper role for a seller card")
		assert.EqualError(t, err, "payflow: forbidden: card "+s.seller.ID+" is a merchant's seller card, not a shopper")
	}
	refusals(t)
	requireRateLimited(t, pair(s.shopper.Proof(record.RoleShopper, s.shopper.EID())), "EID resolutions", time.Second)

	s.Clock.Advance(time.Second) // one resolution for each card
	refusals(t)
	_, err := s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
	require.NoError(t, err, "the refusals drew nothing of the shopper card's budget")
	_, err = s.Platform.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: s.shopper.EID()})
	require.NoError(t, err, "nor of the seller card's")
	_, err = s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
	require.ErrorIs(t, err, payflow.ErrRateLimited)
}

// staleCRLs hands s's verifier CRLs of both CAs (with what Revoke
// recorded) that are stale from a minute and the verifier's skew on, and
// moves the clock past that.
func staleCRLs(s *shop) {
	s.AddCRLs(s.Clock.Now().Add(time.Minute))
	s.Clock.Advance(time.Minute + pki.DefaultSkew + time.Second)
}

// futureCRLs hands s's verifier CRLs of both CAs (with what Revoke
// recorded) whose this update is a second past the verifier's skew ahead
// of s's clock, as a clock set back after they were accepted finds them:
// not yet valid. The clock ends where it was.
func futureCRLs(s *shop) {
	ahead := pki.DefaultSkew + time.Second
	s.Clock.Advance(ahead)
	s.RefreshCRLs()
	s.Clock.Advance(-ahead)
}

// unfreshCRLs are the ways that the CRLs a platform holds may not be
// fresh: stale or not yet valid. Either way they decide the revocation of
// the cards they list and leave the others undecided.
var unfreshCRLs = map[string]func(*shop){"stale": staleCRLs, "not yet valid": futureCRLs}

// TestUnfreshCRLsJudgeRevocationOnly pins PROTOCOL.md §6.1: the CRLs that
// a token's call and a resolution are checked with are those the platform
// holds, fresh, stale or not yet valid. Not fresh, they still revoke the
// card they list: its token is card_not_trusted at every call, with the
// reply of its login, its EID is not_found to another card with the reply
// of an EID never enrolled, and its session not_found with that of an
// unknown session. They refuse no other card, which they leave
// undecided: its login is card_not_trusted (the CRLs stale or not yet
// valid), but its token serves and its EID resolves.
func TestUnfreshCRLsJudgeRevocationOnly(t *testing.T) {
	for kind, unfresh := range unfreshCRLs {
		t.Run(kind, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{})
			ctx := context.Background()
			bob := s.NewCard("Bob")
			bob.Login(record.RoleShopper)
			v, _ := s.request(t)
			s.Revoke(s.shopper)
			unfresh(s)

			_, loginErr := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: s.shopper.Proof(record.RoleShopper, nil)})
			require.ErrorIs(t, loginErr, payflow.ErrCard)
			assert.Contains(t, loginErr.Error(), "revoked", "the revoked card's login")
			for name, call := range map[string]func() error{
				"resolve": func() error {
					_, err := s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
					return err
				},
				"session": func() error { _, err := s.Platform.Session(ctx, s.shopper.Token, s.session.ID); return err },
				"payment": func() error { _, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID); return err },
				"decline": func() error { _, err := s.Platform.Decline(ctx, s.shopper.Token, v.ID); return err },
			} {
				err := call()
				require.ErrorIs(t, err, payflow.ErrCard, name)
				assert.Equal(t, payflow.AsError(loginErr), payflow.AsError(err), "%s: the reply of the card's login", name)
			}

			_, sellerLogin := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: s.seller.Proof(record.RoleSeller, nil)})
			require.ErrorIs(t, sellerLogin, payflow.ErrCard, "a login checks the CRLs' freshness")
			assert.NotContains(t, sellerLogin.Error(), "revoked")
			assert.Contains(t, sellerLogin.Error(), kind)
			cat, err := s.Platform.Catalog(ctx, s.seller.Token, merchantID)
			require.NoError(t, err, "the token of a card the CRLs do not list")
			assert.Equal(t, paytest.Catalog, cat.Items)
			_, unknownEID := s.Platform.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: bytes.Repeat([]byte{7}, record.EIDSize)})
			require.ErrorIs(t, unknownEID, payflow.ErrNotFound)
			_, err = s.Platform.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: s.shopper.EID()})
			require.ErrorIs(t, err, payflow.ErrNotFound, "the revoked card's EID")
			assert.Equal(t, payflow.AsError(unknownEID), payflow.AsError(err), "the reply of an EID never enrolled")
			_, unknownSession := s.Platform.Session(ctx, s.seller.Token, payflow.ID{0xee})
			require.ErrorIs(t, unknownSession, payflow.ErrNotFound)
			_, err = s.Platform.Session(ctx, s.seller.Token, s.session.ID)
			require.ErrorIs(t, err, payflow.ErrNotFound, "the revoked card's session")
			assert.Equal(t, payflow.AsError(unknownSession), payflow.AsError(err), "the reply of an unknown session")

			who, err := s.Platform.Resolve(ctx, bob.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
			require.NoError(t, err, "the EID of a card the CRLs do not list")
			assert.Equal(t, &payflow.ResolveResponse{DisplayName: "Corner Grocer", Role: uint8(record.RoleSeller), MerchantID: merchantID}, who)
		})
	}
}

// TestExpiredCardNotHidden pins PROTOCOL.md §6.1: the EIDs and sessions
// of a card whose certificate has expired (past the verifier's skew) are
// not hidden for that expiry, although its token is card_not_trusted: its
// EID still resolves to its name, and its session is still shown to the
// other card.
func TestExpiredCardNotHidden(t *testing.T) {
	s := newShop(t, true, paytest.Options{})
	ctx := context.Background()
	login := s.newSellerCard(t, 2*time.Minute) // Till 2, secret of sevens
	lr, err := login()
	require.NoError(t, err)
	eid := func() []byte {
		e, err := adv.DeriveEID(bytes.Repeat([]byte{7}, adv.SecretSize), adv.Epoch(s.Clock.Now()))
		require.NoError(t, err)
		return e[:]
	}
	w, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.Proof(record.RoleShopper, eid())})
	require.NoError(t, err)
	require.Equal(t, payflow.SessionWaiting, w.State)

	s.Clock.Advance(2*time.Minute + pki.DefaultSkew + time.Minute) // past the certificate's end and the skew
	s.RefreshCRLs()
	_, err = login()
	require.ErrorIs(t, err, payflow.ErrCard)
	require.Contains(t, err.Error(), pki.ErrExpired.Error(), "the card's login is refused for the expiry")
	_, err = s.Platform.Catalog(ctx, lr.Token, merchantID)
	require.ErrorIs(t, err, payflow.ErrCard, "the expired card's token")

	who, err := s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: eid()})
	require.NoError(t, err, "the expired card's EID")
	assert.Equal(t, &payflow.ResolveResponse{DisplayName: "Corner Grocer", Role: uint8(record.RoleSeller), MerchantID: merchantID}, who)
	v, err := s.Platform.Session(ctx, s.shopper.Token, w.ID)
	require.NoError(t, err, "the expired card's session")
	assert.Equal(t, w, v)
}

// TestPairingAfterExpireDueStoresAnew pins PROTOCOL.md §6.1: a pairing
// proof into the stored session of its EIDs once that session expired is
// expired; once ExpireDue has deleted the session, a proof naming the
// same EIDs stores it anew, waiting for the other card, for a session's
// lifetime from that proof.
func TestPairingAfterExpireDueStoresAnew(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	shopperEID, sellerEID := s.shopper.EID(), s.seller.EID() // the shop's session's
	s.Clock.Advance(payflow.DefaultSessionTTL)               // still the EIDs of a card: the epoch before the clock's at most
	_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.ProofNaming(record.RoleShopper, shopperEID, sellerEID)})
	require.ErrorIs(t, err, payflow.ErrExpired)

	_, err = s.Platform.ExpireDue(ctx, 0)
	require.NoError(t, err)
	_, err = s.Store.Session(ctx, s.session.ID)
	require.ErrorIs(t, err, payflow.ErrNotFound, "the expired session deleted")
	v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.ProofNaming(record.RoleShopper, shopperEID, sellerEID)})
	require.NoError(t, err, "the same EIDs once the session is deleted")
	assert.Equal(t, s.session.ID, v.ID)
	assert.Equal(t, payflow.SessionWaiting, v.State)
	assert.Equal(t, s.Clock.Now().Add(payflow.DefaultSessionTTL), v.ExpiresAt)
	assert.Empty(t, v.SellerCardID, "the seller card has not confirmed it anew")
}

// TestSellerPairingLeavesDueApprovalUnmarked pins PROTOCOL.md §6.1: the
// seller card's pairing marks a request of the session whose approval is
// under way so that a refused hold ends it cancelled, but not one at or
// past its expiry: its refused hold puts it back pending, past its
// expiry, and it ends expired.
func TestSellerPairingLeavesDueApprovalUnmarked(t *testing.T) {
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	ctx := context.Background()
	shopperEID, sellerEID := s.shopper.EID(), s.seller.EID()
	// Two requests the wallet cannot cover, whose refused holds the store
	// fails to record: both stay approving.
	approving := func(ttl uint32) payflow.ID {
		t.Helper()
		r := paytest.Request(s.session, "EUR", funds+1)
		r.TTL = ttl
		v, err := s.Create(r)
		require.NoError(t, err)
		loseNextUpdateFrom(st, payflow.StateApproving)
		_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
		require.ErrorIs(t, err, errLost)
		s.requireState(t, v.ID, payflow.StateApproving)
		return v.ID
	}
	due := approving(60)
	live := approving(300)

	s.Clock.Advance(time.Minute) // due's expiry
	_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.seller.ProofNaming(record.RoleSeller, sellerEID, shopperEID)})
	require.NoError(t, err)
	for id, voidTo := range map[payflow.ID]string{due: "", live: payflow.StateCancelled} {
		p, err := s.Store.Payment(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, payflow.StateApproving, p.State)
		assert.Equal(t, voidTo, p.VoidTo, "request %v", id)
	}

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	_, err = s.Platform.RecoverSweep(ctx, 0)
	require.NoError(t, err)
	s.requireState(t, due, payflow.StatePending)
	pv, err := s.Platform.Payment(ctx, s.seller.Token, due)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateExpired, pv.State, "the next read expires it")
	s.requireState(t, due, payflow.StateExpired)
	s.requireState(t, live, payflow.StateCancelled)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "no money moved")
}

// TestReenrolledCardElsewhere pins PROTOCOL.md §6.1: once a card is
// enrolled again with another certificate, the token of its former key
// is card_not_trusted at once in the process that enrolled it, and within
// the card cache's lifetime in another process, which until then still
// holds the former chain and takes the former key's records: what they
// store then is not withdrawn (the session that the former key's pairing
// stored there stays, and the seller card pairs into it).
func TestReenrolledCardElsewhere(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	other := renewedPlatform(t, s.Fixture) // another process on the same database
	old := s.shopper.Token
	require.NoError(t, other.CheckToken(ctx, old), "the other process holds the card")
	pairing := s.shopper.Proof(record.RoleShopper, s.seller.EID()) // of the former key
	rekey(t, s, s.shopper)
	err := s.Platform.CheckToken(ctx, old)
	require.ErrorIs(t, err, payflow.ErrCard, "at once in the process that enrolled the card")
	assert.EqualError(t, err, "payflow: card not trusted: card "+s.shopper.ID+" is not enrolled with the certificate of the token's login")
	_, err = s.Store.Session(ctx, s.session.ID)
	require.ErrorIs(t, err, payflow.ErrNotFound, "the enrolment deleted the card's session")

	require.NoError(t, other.CheckToken(ctx, old), "within the card cache's lifetime elsewhere")
	v, err := other.Pair(ctx, &payflow.PairRequest{Proof: pairing})
	require.NoError(t, err, "the former key's pairing, elsewhere")
	require.Equal(t, s.session.ID, v.ID)
	require.Equal(t, payflow.SessionWaiting, v.State)

	s.Clock.Advance(payflow.DefaultCacheTTL + time.Second)
	err = other.CheckToken(ctx, old)
	require.ErrorIs(t, err, payflow.ErrCard, "once the other process's entry expired")
	assert.EqualError(t, err, "payflow: card not trusted: card "+s.shopper.ID+" is not enrolled with the certificate of the token's login")
	stored, err := s.Store.Session(ctx, v.ID)
	require.NoError(t, err, "the session the former key stored is not withdrawn")
	assert.True(t, stored.ShopperConfirmed)
	paired, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.seller.Proof(record.RoleSeller, s.shopper.EID())})
	require.NoError(t, err)
	assert.Equal(t, v.ID, paired.ID)
	assert.Equal(t, payflow.SessionPaired, paired.State)
}

// TestPeerEIDWithinThreeEpochs pins PROTOCOL.md §6.1: an EID resolves,
// and a pairing proof's peer EID names its card, when it is the card's of
// the current epoch or of the one before or after it; the card's EID of
// an epoch further off is not_found, the reply of an EID never enrolled.
func TestPeerEIDWithinThreeEpochs(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	_, unknown := s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: bytes.Repeat([]byte{7}, record.EIDSize)})
	require.ErrorIs(t, unknown, payflow.ErrNotFound)
	now := int64(adv.Epoch(s.Clock.Now()))
	for _, offset := range []int64{-2, -1, 0, 1, 2} {
		eid := s.seller.EIDAt(uint32(now + offset))
		who, err := s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: eid})
		v, pairErr := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.Proof(record.RoleShopper, eid)})
		if offset == -2 || offset == 2 {
			require.ErrorIs(t, err, payflow.ErrNotFound, "epoch %+d", offset)
			assert.Equal(t, payflow.AsError(unknown), payflow.AsError(err), "epoch %+d: the reply of an unknown EID", offset)
			require.ErrorIs(t, pairErr, payflow.ErrNotFound, "epoch %+d", offset)
			assert.Equal(t, payflow.AsError(unknown), payflow.AsError(pairErr), "epoch %+d: the reply of an unknown EID", offset)
			continue
		}
		require.NoError(t, err, "epoch %+d", offset)
		assert.Equal(t, "Corner Grocer", who.DisplayName, "epoch %+d", offset)
		require.NoError(t, pairErr, "epoch %+d", offset)
		assert.Equal(t, payflow.SessionID(s.shopper.EID(), eid), v.ID, "epoch %+d", offset)
		assert.Equal(t, merchantID, v.MerchantID, "epoch %+d: the session of the seller card's merchant", offset)
	}
}

// TestProofEIDCheckedBeforeRole pins the order of PROTOCOL.md §6.1: a
// proof's own EID is checked before its role, so that a login or pairing
// proof of a card of no merchant that names the seller role and its EID
// of another epoch is mismatch, not forbidden, and spends the proof.
func TestProofEIDCheckedBeforeRole(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	for _, tc := range []struct {
		name string
		call func(proof []byte) error
		peer []byte
	}{
		{"login", loginWith(s), nil},
		{"pairing", pairWith(s), s.seller.EID()},
	} {
		proof := s.shopper.ProofNaming(record.RoleSeller, otherEpochEID(s, s.shopper), tc.peer)
		err := tc.call(proof)
		require.ErrorIs(t, err, payflow.ErrMismatch, tc.name)
		assert.EqualError(t, err, "payflow: does not match the request: EID is not the card's current one", tc.name)
		require.ErrorIs(t, tc.call(proof), payflow.ErrReplay, "%s: the proof is spent", tc.name)
	}
}
