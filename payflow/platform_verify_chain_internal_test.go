package payflow

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVerifyRecordAgainForChainOfSameLengths: the verification that
// CheckRecord gave a record holds only for the chain it verified, octet
// for octet: a chain of certificates of the same lengths with one octet
// changed (the last of the card's certificate's signature) is verified
// again, and refused (ErrCard).
func TestVerifyRecordAgainForChainOfSameLengths(t *testing.T) {
	const alice = "8944000000000000001"
	ca := newTestCA(t)
	p := cachedPlatform(&Platform{verifier: ca.verifier, now: time.Now}, time.Hour)
	key, chain := issuedCard(t, ca, alice)
	msg, r := signedProof(t, key, alice)
	ctx, err := p.verified(context.Background(), &CardRecord{ID: alice, Chain: chain}, msg, r, nil, nil)
	require.NoError(t, err)

	forged := cloneChain(chain)
	forged[0][len(forged[0])-1] ^= 1
	require.False(t, bytes.Equal(chain[0], forged[0]))
	err = p.verifyRecord(ctx, &CardRecord{ID: alice, Chain: forged}, msg, r)
	assert.ErrorIs(t, err, ErrCard)
	assert.NoError(t, p.verifyRecord(ctx, &CardRecord{ID: alice, Chain: cloneChain(chain)}, msg, r), "the same chain, copied")
}
