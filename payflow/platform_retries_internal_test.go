package payflow

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConflictRetriesErrorCounts: the ErrContended of a loop that lost
// its compare-and-set MaxConflictRetries + 1 times tells how many it
// lost and the last loss, after MaxConflictRetries rounds that may go
// again.
func TestConflictRetriesErrorCounts(t *testing.T) {
	ctx := context.Background()
	lost := errors.New("version changed")
	var n conflictRetries
	for i := range MaxConflictRetries {
		require.NoError(t, n.again(ctx, lost), "round %d", i+1)
	}
	err := n.again(ctx, lost)
	require.ErrorIs(t, err, ErrContended)
	assert.EqualError(t, err, ErrContended.Error()+" (101 compare-and-sets lost, the last: version changed)")
}
