package payflow

import (
	"bytes"
	"testing"

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
	v := verifiedAlice(t, alice)
	chain := v.card.Chain

	forged := cloneChain(chain)
	forged[0][len(forged[0])-1] ^= 1
	require.False(t, bytes.Equal(chain[0], forged[0]))
	err := v.p.verifyRecord(v.ctx, &CardRecord{ID: alice, Chain: forged}, v.msg, v.r)
	assert.ErrorIs(t, err, ErrCard)
	assert.NoError(t, v.p.verifyRecord(v.ctx, &CardRecord{ID: alice, Chain: cloneChain(chain)}, v.msg, v.r), "the same chain, copied")
}
