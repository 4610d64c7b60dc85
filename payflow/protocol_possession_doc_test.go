package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
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
	other, err := payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: s.Ledger, Store: s.Store, Verifier: s.Verifier, Key: s.Key, Chain: s.PlatformChain, Now: s.Clock.Now,
	})
	require.NoError(t, err)
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
