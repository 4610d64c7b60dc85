package payflow_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

// TestLoginTokenForm: a login's token is 32 random bytes in unpadded
// base64url, stored by its SHA-256 alone, for the card, until an hour
// after the login.
func TestLoginTokenForm(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	s.Clock.Advance(time.Minute)
	at := s.Clock.Now()
	resp, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: s.shopper.Proof(record.RoleShopper, nil)})
	require.NoError(t, err)
	raw, err := base64.RawURLEncoding.Strict().DecodeString(resp.Token)
	require.NoError(t, err, "unpadded base64url")
	assert.Len(t, raw, 32)
	assert.Equal(t, at.Add(time.Hour), resp.ExpiresAt)
	h := sha256.Sum256([]byte(resp.Token))
	stored, err := s.Store.Token(ctx, h[:])
	require.NoError(t, err, "found by the token's SHA-256")
	assert.Equal(t, s.shopper.ID, stored.CardID)
	assert.Equal(t, at.Add(time.Hour), stored.ExpiresAt)
	_, err = s.Store.Token(ctx, raw)
	assert.ErrorIs(t, err, payflow.ErrNotFound, "the token's bytes are not its key")
}

// TestLoginStaleNonceDrawsNothing: a login proof over a nonce that has
// expired, or that was issued for another card ID, is nonce_replayed
// before the login draws on the card's budget: a card whose budget holds
// one login is refused so any number of times and then logs in, once.
func TestLoginStaleNonceDrawsNothing(t *testing.T) {
	s := newShop(t, false, paytest.Options{Platform: payflow.PlatformOptions{LoginBurst: 1, LoginRate: 1.0 / 7200}})
	ctx := context.Background()
	login := loginWith(s)
	s.Clock.Advance(2 * time.Hour) // refills what the shop's login drew
	stale := s.shopper.Proof(record.RoleShopper, nil)
	s.Clock.Advance(pki.DefaultNonceTTL)
	for i := range 3 {
		err := login(stale)
		require.ErrorIs(t, err, payflow.ErrReplay, "login %d", i)
		assert.NotErrorIs(t, err, payflow.ErrRateLimited, "login %d", i)
	}
	ch, err := s.Platform.Challenge(ctx, &payflow.ChallengeRequest{CardID: s.seller.ID})
	require.NoError(t, err)
	other := s.shopper.MustSign(&record.AuthProof{Nonce: ch.Nonce, Role: record.RoleShopper, EID: s.shopper.EID(), PeerEID: make([]byte, record.EIDSize)})
	for i := range 3 {
		err := login(other)
		require.ErrorIs(t, err, payflow.ErrReplay, "login over the seller card's nonce %d", i)
		assert.NotErrorIs(t, err, payflow.ErrRateLimited, "login over the seller card's nonce %d", i)
	}
	require.NoError(t, login(s.shopper.Proof(record.RoleShopper, nil)), "the refused logins drew nothing")
	requireRateLimited(t, login(s.shopper.Proof(record.RoleShopper, nil)), "logins", 7200*time.Second)
}

// TestSessionLifetimeFromFirstProof: a session lives SessionTTL from the
// pairing proof that stored it; the other card's proof, later, pairs it
// and does not extend it.
func TestSessionLifetimeFromFirstProof(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	bob := s.NewCard("Bob")
	at := s.Clock.Now()
	w, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: bob.Proof(record.RoleShopper, s.seller.EID())})
	require.NoError(t, err)
	require.Equal(t, payflow.SessionWaiting, w.State)
	assert.Equal(t, at.Add(payflow.DefaultSessionTTL), w.ExpiresAt)

	// The seller card names the EIDs of the first proof's time, which
	// the platform takes within the epoch after theirs too.
	bobEID, sellerEID := bob.EID(), s.seller.EID()
	s.Clock.Advance(payflow.DefaultSessionTTL / 4)
	proof := s.seller.ProofNaming(record.RoleSeller, sellerEID, bobEID)
	v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.NoError(t, err)
	require.Equal(t, w.ID, v.ID)
	assert.Equal(t, payflow.SessionPaired, v.State)
	assert.Equal(t, w.ExpiresAt, v.ExpiresAt, "the later proof does not extend the session")
	stored, err := s.Store.Session(ctx, w.ID)
	require.NoError(t, err)
	assert.Equal(t, w.ExpiresAt, stored.ExpiresAt)
}

// TestProofPeerRefusalSpendsNothing: a login proof that names a peer, and
// a pairing proof that names none, are invalid before their signature is
// verified and spend nothing: the card's counter stays where it was, so
// that a proof the card signed before them is taken after them.
func TestProofPeerRefusalSpendsNothing(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	earlier := s.shopper.Proof(record.RoleShopper, nil)
	_, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: s.shopper.Proof(record.RoleShopper, s.seller.EID())})
	require.EqualError(t, err, "payflow: invalid request: a login proof names a peer")
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.Proof(record.RoleShopper, make([]byte, record.EIDSize))})
	require.EqualError(t, err, "payflow: invalid request: a pairing proof names no peer")
	_, err = s.Platform.Login(ctx, &payflow.LoginRequest{Proof: earlier})
	require.NoError(t, err, "the refused proofs advanced no counter")
}

// TestShopperEIDAnsweredAsUnknown: to a shopper card, another shopper
// card's EID, and its own in a resolution, get the reply (code, message
// and status) of an EID never enrolled, whether resolved or named by a
// pairing proof.
func TestShopperEIDAnsweredAsUnknown(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	bob := s.NewCard("Bob")
	bob.Login(record.RoleShopper)
	reply := func(err error) payflow.Error {
		t.Helper()
		require.ErrorIs(t, err, payflow.ErrNotFound)
		return *payflow.AsError(err)
	}
	resolve := func(eid []byte) payflow.Error {
		t.Helper()
		_, err := s.Platform.Resolve(ctx, bob.Token, &payflow.ResolveRequest{EID: eid})
		return reply(err)
	}
	pair := func(eid []byte) payflow.Error {
		t.Helper()
		_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: bob.Proof(record.RoleShopper, eid)})
		return reply(err)
	}
	unknown := make([]byte, record.EIDSize)
	unknown[0] = 7
	want := resolve(unknown)
	assert.Equal(t, "not_found", want.Code)
	assert.Equal(t, want, resolve(s.shopper.EID()), "another shopper card's EID, resolved")
	assert.Equal(t, want, resolve(bob.EID()), "the card's own EID, resolved")
	assert.Equal(t, want, pair(unknown), "an unknown EID, named by a pairing proof")
	assert.Equal(t, want, pair(s.shopper.EID()), "another shopper card's EID, named by a pairing proof")
}

// TestSpentLoginProofWhileBudgetEmpty: a login proof sent again after it
// was accepted is rate_limited while the card's budget is empty, the
// store reading it among the spent ones only after the draw, and
// nonce_replayed once the budget holds a login, which that refusal gives
// back.
func TestSpentLoginProofWhileBudgetEmpty(t *testing.T) {
	s := newShop(t, false, paytest.Options{Platform: payflow.PlatformOptions{LoginBurst: 1, LoginRate: 1.0 / 60}})
	login := loginWith(s)
	s.Clock.Advance(time.Minute) // refills what the shop's login drew
	proof := s.shopper.Proof(record.RoleShopper, nil)
	require.NoError(t, login(proof))
	requireRateLimited(t, login(proof), "logins", time.Minute)
	s.Clock.Advance(time.Minute) // within the nonce's lifetime
	require.ErrorIs(t, login(proof), payflow.ErrReplay)
	require.NoError(t, login(s.shopper.Proof(record.RoleShopper, nil)), "the replayed login gave its draw back")
}
