package payflow

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheckedRecordOfCardRevokedSince: the verification that CheckRecord
// gave a call holds for that call although the card has been revoked
// since, while the record verified afresh is refused for its card.
func TestCheckedRecordOfCardRevokedSince(t *testing.T) {
	const alice = "8944000000000000001"
	ca := newTestCA(t)
	p := cachedPlatform(&Platform{verifier: ca.verifier, now: time.Now}, time.Hour)
	key, chain := issuedCard(t, ca, alice)
	msg, r := signedProof(t, key, alice)
	card := &CardRecord{ID: alice, Chain: chain}
	ctx, err := p.verified(context.Background(), card, msg, r, nil, nil)
	require.NoError(t, err)
	ca.revoke(t, chain)
	assert.ErrorIs(t, p.verifyRecord(context.Background(), card, msg, r), ErrCard, "verified afresh")
	assert.NoError(t, p.verifyRecord(ctx, card, msg, r), "the call that CheckRecord verified")
}

// TestTakenIDStoreFailureDecides: a failure of the store's read of a
// record's ID, other than ErrNotFound, decides the call before its
// signature is verified: the call fails with it.
func TestTakenIDStoreFailureDecides(t *testing.T) {
	down := fmt.Errorf("%w: connection lost", ErrUnavailable)
	decided, err := takenID(down, false, func() error { return ErrConflict })
	assert.True(t, decided)
	assert.ErrorIs(t, err, down)
	decided, err = takenID(fmt.Errorf("read: %w", ErrNotFound), false, func() error { return ErrConflict })
	assert.False(t, decided, "a free ID")
	assert.NoError(t, err)
}
