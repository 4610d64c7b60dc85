package payflow_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// storedNonceKey is a Store whose nonce key is key, whatever the
// candidate, as a database written by another program may hold.
type storedNonceKey struct {
	payflow.Store
	key []byte
}

func (s *storedNonceKey) NonceKey(context.Context, []byte) ([]byte, error) {
	return bytes.Clone(s.key), nil
}

// TestNewPlatformRefusesNonceKeyOfAnotherSize: NewPlatform refuses a
// nonce key from its Store that is not 32 octets, shorter or longer,
// rather than mint challenges under a key that a short one would let
// anyone guess; a key of 32 octets starts it.
func TestNewPlatformRefusesNonceKeyOfAnotherSize(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	for _, n := range []int{1, 16, 31, 33, 64} {
		st := &storedNonceKey{Store: memory.New(), key: bytes.Repeat([]byte{0x4b}, n)}
		opts := payflow.PlatformOptions{Ledger: s.Ledger, Store: st, Verifier: s.Verifier, Key: s.Key, Chain: s.PlatformChain, Now: s.Clock.Now}
		_, err := payflow.NewPlatform(opts)
		assert.EqualError(t, err, fmt.Sprintf("payflow: nonce key of %d bytes", n))
	}
	st := &storedNonceKey{Store: memory.New(), key: bytes.Repeat([]byte{0x4b}, 32)}
	p, err := payflow.NewPlatform(payflow.PlatformOptions{Ledger: s.Ledger, Store: st, Verifier: s.Verifier, Key: s.Key, Chain: s.PlatformChain, Now: s.Clock.Now})
	require.NoError(t, err)
	c, err := p.Challenge(context.Background(), &payflow.ChallengeRequest{CardID: s.shopper.ID})
	require.NoError(t, err)
	assert.Len(t, c.Nonce, 32)
}
