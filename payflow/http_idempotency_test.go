package payflow

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReplyMemoryTakeover: the handler's in-process reply store lets a
// request take over a key whose lease ran out, and the first holder can
// then neither finish nor abandon it.
func TestReplyMemoryTakeover(t *testing.T) {
	ctx := context.Background()
	m := NewReplyMemory()
	t0 := time.Unix(1_800_000_000, 0)
	lease1, lease2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	rep, err := m.BeginIdempotent(ctx, "k", []byte{1}, t0, lease1)
	require.NoError(t, err)
	require.Nil(t, rep)
	rep, err = m.BeginIdempotent(ctx, "k", []byte{2}, lease1, lease2)
	require.NoError(t, err)
	require.Nil(t, rep, "the lease ran out: the key is taken over")

	assert.ErrorIs(t, m.FinishIdempotent(ctx, "k", lease1, 200, []byte("first"), t0.Add(time.Hour)), ErrNotFound)
	require.NoError(t, m.AbandonIdempotent(ctx, "k", lease1))
	_, err = m.BeginIdempotent(ctx, "k", []byte{2}, lease1, lease2)
	assert.ErrorIs(t, err, ErrInFlight, "the second holder keeps the key")

	require.NoError(t, m.FinishIdempotent(ctx, "k", lease2, 201, []byte("second"), t0.Add(time.Hour)))
	rep, err = m.BeginIdempotent(ctx, "k", []byte{2}, lease1, lease2)
	require.NoError(t, err)
	assert.Equal(t, &IdempotentReply{Status: 201, Reply: []byte("second")}, rep)
	require.NoError(t, m.AbandonIdempotent(ctx, "k", t0.Add(time.Hour)))
	rep, err = m.BeginIdempotent(ctx, "k", []byte{2}, lease1, lease2)
	require.NoError(t, err)
	assert.NotNil(t, rep, "a finished key is never abandoned")
}
