package sqlite

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// TestReadPoolClosed: once the read pool is closed, get fails with
// ledger.ErrClosed, though a slot is free, without opening a connection
// or keeping the slot; a connection in use when it closed is closed when
// it comes back (its connection given back to the database pool), not
// kept.
func TestReadPoolClosed(t *testing.T) {
	s := openReaders(t, 2)
	ctx := context.Background()
	c, err := s.reads.get(ctx)
	require.NoError(t, err)
	s.reads.close()

	_, err = s.reads.get(ctx)
	require.ErrorIs(t, err, ledger.ErrClosed)
	assert.Len(t, s.reads.slots, 1, "only c's slot is taken")
	assert.Equal(t, 1, s.r.Stats().OpenConnections, "c's alone")

	s.reads.put(c, true)
	assert.Empty(t, s.reads.free)
	assert.Empty(t, s.reads.slots)
	assert.Equal(t, 0, s.r.Stats().InUse, "c is given back to the database pool")
}

// TestReadPoolOpenFails: a get that takes a slot and then fails to open a
// connection (here its context has ended) gives the slot back, so that
// the pool can still open as many connections as it holds.
func TestReadPoolOpenFails(t *testing.T) {
	s := openReaders(t, 1)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.reads.get(ended)
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, s.reads.slots)
	insertAccount(t, s, 1)
	assert.Equal(t, 1, viewAccounts(t, s, 1), "the only slot is free")
}
