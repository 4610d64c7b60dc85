package payflow_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestProtocolNonceOfAnotherProcess: the nonce key is made by the first
// platform on the database and kept there (PROTOCOL.md §4.6), so that
// every platform on it checks every other's nonces: a login proof over a
// challenge of one platform is taken by another on the same store, which
// drew a key of its own that the store did not keep, and the same proof
// is then nonce_replayed at the first; and the other way round.
func TestProtocolNonceOfAnotherProcess(t *testing.T) {
	protocoldoc.Says(t, "### 4.6 Proof of possession",
		"`K` is a 32-byte key made at random by the first platform process on the database and kept there "+
			"(`payflow_keys`), so that every process checks every other's nonces")
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	other := s.newProcess(t, payflow.PlatformOptions{})
	for _, tt := range []struct {
		name          string
		issuer, taker *payflow.Platform
	}{
		{"the first platform's challenge", s.Platform, other},
		{"the other platform's challenge", other, s.Platform},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := tt.issuer.Challenge(ctx, &payflow.ChallengeRequest{CardID: s.shopper.ID})
			require.NoError(t, err)
			proof := s.shopper.MustSign(&record.AuthProof{Nonce: ch.Nonce, Role: record.RoleShopper, EID: s.shopper.EID(), PeerEID: make([]byte, record.EIDSize)})
			_, err = tt.taker.Login(ctx, &payflow.LoginRequest{Proof: proof})
			require.NoError(t, err, "taken by the platform that did not issue it")
			_, err = tt.issuer.Login(ctx, &payflow.LoginRequest{Proof: proof})
			assert.ErrorIs(t, err, payflow.ErrReplay, "used once, on any platform")
		})
	}
}

// TestProtocolUnenrolledRecordCostsASignatureCheck: a record under a card
// ID that the platform does not hold is refused bad_signature at the cost
// of one signature check, as PROTOCOL.md §4.6 has it, as a record forged
// under an enrolled card's ID is (here, by the allocations of each call,
// which the check of a signature adds to): the platform verifies it under
// a key that verifies no record rather than refuse it at once, so that its
// time tells no one that the card ID is not enrolled. (The rest of the
// clause, the same reply spending nothing, is
// TestRecordOfUnenrolledCardIsBadSignature's.)
func TestProtocolUnenrolledRecordCostsASignatureCheck(t *testing.T) {
	protocoldoc.Says(t, "### 4.6 Proof of possession",
		"a record under an enrolled card's ID that does not verify under its certificate's key", "at the cost of one signature check too")
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{SoftCards: true})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	forged := func(cardID string) []byte {
		ch, err := s.Platform.Challenge(ctx, &payflow.ChallengeRequest{CardID: cardID})
		require.NoError(t, err)
		return signsAs(t, key, cardID, &record.AuthProof{Nonce: ch.Nonce, Role: record.RoleShopper, EID: s.shopper.EID(), PeerEID: make([]byte, record.EIDSize)})
	}
	allocs := func(msg []byte) float64 {
		login := func() {
			if _, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: msg}); !errors.Is(err, payflow.ErrSignature) {
				t.Error(err)
			}
		}
		login()
		return testing.AllocsPerRun(20, login)
	}
	underEnrolled := forged(s.shopper.ID)
	check := testing.AllocsPerRun(20, func() {
		if err := record.Verify(underEnrolled, &key.PublicKey, new(record.AuthProof)); err != nil {
			t.Error(err)
		}
	})
	require.Positive(t, check)
	notEnrolled, err := simcardtest.RandomICCID(nil)
	require.NoError(t, err)
	enrolled, unenrolled := allocs(underEnrolled), allocs(forged(notEnrolled))
	assert.Greater(t, unenrolled, enrolled-check/2,
		"a record under a card ID not enrolled has its signature checked (allocations: enrolled %v, a signature check %v)", enrolled, check)
}
