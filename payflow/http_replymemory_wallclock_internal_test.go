package payflow

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReplyMemoryWallClock: a ReplyMemory keeps a key's lease and its
// reply's expiry without the monotonic clock reading of the time.Now
// they were made from, as the SQL stores keep them, the wall clock time
// the same.
func TestReplyMemoryWallClock(t *testing.T) {
	ctx := context.Background()
	m := NewReplyMemory()
	hash := sha256.Sum256([]byte("body"))
	now := time.Now()
	lease := now.Add(time.Minute)
	require.Contains(t, lease.String(), "m=", "time.Now carries a monotonic reading")
	got, err := m.BeginIdempotent(ctx, "k", hash[:], now, lease)
	require.NoError(t, err)
	require.Nil(t, got)
	e := m.entries["k"]
	assert.NotContains(t, e.deadline.String(), "m=")
	assert.True(t, e.deadline.Equal(lease))

	expires := time.Now().Add(time.Hour)
	require.NoError(t, m.FinishIdempotent(ctx, "k", lease, 201, []byte("reply"), expires))
	assert.NotContains(t, e.deadline.String(), "m=")
	assert.True(t, e.deadline.Equal(expires))
}
