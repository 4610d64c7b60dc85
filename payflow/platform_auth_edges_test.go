package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestLoginProofNamingPeerIsInvalid: a login proof that names a peer's
// EID is ErrInvalid (invalid), issues no token, and leaves the proof
// unspent: the same proof then pairs.
func TestLoginProofNamingPeerIsInvalid(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	proof := s.shopper.Proof(record.RoleShopper, s.seller.EID())
	resp, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrInvalid)
	assert.Equal(t, "invalid", payflow.AsError(err).Code)
	assert.Nil(t, resp)
	v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.NoError(t, err)
	assert.Equal(t, s.session.ID, v.ID)
}

// TestResolveShortEIDIsInvalid: an EID shorter or longer than
// record.EIDSize is ErrInvalid (invalid) and names no card.
func TestResolveShortEIDIsInvalid(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	for _, eid := range [][]byte{nil, s.seller.EID()[:record.EIDSize-1], append(s.seller.EID(), 0)} {
		r, err := s.Platform.Resolve(context.Background(), s.shopper.Token, &payflow.ResolveRequest{EID: eid})
		require.ErrorIs(t, err, payflow.ErrInvalid, "EID of %d bytes", len(eid))
		assert.Equal(t, "invalid", payflow.AsError(err).Code)
		assert.Nil(t, r)
	}
}

// TestStoredTokenExpiresAtItsTime: a token that a process reads from the
// store (issued by another process) serves until the instant before its
// ExpiresAt and is ErrUnauthorized (unauthorized) at it.
func TestStoredTokenExpiresAtItsTime(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	resp := s.shopper.Login(record.RoleShopper)
	s.Clock.Advance(resp.ExpiresAt.Sub(s.Clock.Now()) - 1)
	require.NoError(t, renewedPlatform(t, s.Fixture).CheckToken(ctx, resp.Token))
	s.Clock.Advance(1)
	require.Equal(t, resp.ExpiresAt, s.Clock.Now())
	err := renewedPlatform(t, s.Fixture).CheckToken(ctx, resp.Token)
	require.ErrorIs(t, err, payflow.ErrUnauthorized)
	assert.Equal(t, "unauthorized", payflow.AsError(err).Code)
}

// TestPairProofNamingNoPeerIsInvalid: a pairing proof whose peer EID is
// zero (as a login proof's) is ErrInvalid (invalid) and leaves the proof
// unspent: the same proof then logs the card in.
func TestPairProofNamingNoPeerIsInvalid(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	proof := s.shopper.Proof(record.RoleShopper, nil)
	v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrInvalid)
	assert.Equal(t, "invalid", payflow.AsError(err).Code)
	assert.Nil(t, v)
	resp, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: proof})
	require.NoError(t, err)
	assert.Equal(t, s.shopper.ID, resp.CardID)
}

// TestPairProofWithOtherEIDIsMismatch: a pairing proof whose own EID is
// not the signing card's (here the peer's) is ErrMismatch (mismatch) and
// spends the proof: sent again, it is ErrReplay.
func TestPairProofWithOtherEIDIsMismatch(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	ch, err := s.Platform.Challenge(ctx, &payflow.ChallengeRequest{CardID: s.shopper.ID})
	require.NoError(t, err)
	proof := s.shopper.MustSign(&record.AuthProof{Nonce: ch.Nonce, Role: record.RoleShopper, EID: s.seller.EID(), PeerEID: s.seller.EID()})
	v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Equal(t, "mismatch", payflow.AsError(err).Code)
	assert.Nil(t, v)
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrReplay)
}

// TestPairSellerRoleWithoutMerchantIsForbidden: a pairing proof of the
// seller role signed by a card that belongs to no merchant is
// ErrForbidden (forbidden) and spends the proof: sent again, it is
// ErrReplay.
func TestPairSellerRoleWithoutMerchantIsForbidden(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	proof := s.shopper.Proof(record.RoleSeller, s.seller.EID())
	v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrForbidden)
	assert.Equal(t, "forbidden", payflow.AsError(err).Code)
	assert.Nil(t, v)
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrReplay)
}

// TestSessionCardReadFailureIsInternal: a session whose other card the
// store fails to read is answered with the store's error (internal), not
// as a session of cards that are not revoked.
func TestSessionCardReadFailureIsInternal(t *testing.T) {
	s, st := outageShop(t)
	st.card = s.seller.ID
	v, err := s.Platform.Session(context.Background(), s.shopper.Token, s.session.ID)
	require.ErrorIs(t, err, errLost)
	assert.Equal(t, "internal", payflow.AsError(err).Code)
	assert.Nil(t, v)
	st.card = ""
	v, err = s.Platform.Session(context.Background(), s.shopper.Token, s.session.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionPaired, v.State)
}

// TestResolveMissReloadsWhenClockWentBack: an EID that the process does
// not know reloads the cards at once when the clock reads a time before
// the start of the last reload, as when a second has passed since it: a
// card enrolled through another process is named.
func TestResolveMissReloadsWhenClockWentBack(t *testing.T) {
	s, other, _, bob, _ := aliceElsewhere(t, memory.New())
	ctx := context.Background()
	_, err := s.Platform.EnrollCard(ctx, bob.Enrolment.Chain, bob.Enrolment.AdvertisingSecret, "Bob")
	require.NoError(t, err)
	k, err := adv.NewEIDKey(bob.Enrolment.AdvertisingSecret)
	require.NoError(t, err)
	s.Clock.Advance(-time.Millisecond)
	eid := k.EID(adv.Epoch(s.Clock.Now()))
	r, err := other.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: eid[:]})
	require.NoError(t, err)
	assert.Equal(t, "Bob", r.DisplayName)
}
