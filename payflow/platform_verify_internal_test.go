package payflow

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestCheckedRecordOfCardRevokedSince: the verification that CheckRecord
// gave a call holds for that call although the card has been revoked
// since, while the record verified afresh is refused for its card.
func TestCheckedRecordOfCardRevokedSince(t *testing.T) {
	v := verifiedAlice(t, "8944000000000000001")
	v.ca.revoke(t, v.card.Chain)
	assert.ErrorIs(t, v.p.verifyRecord(context.Background(), v.card, v.msg, v.r), ErrCard, "verified afresh")
	assert.NoError(t, v.p.verifyRecord(v.ctx, v.card, v.msg, v.r), "the call that CheckRecord verified")
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
