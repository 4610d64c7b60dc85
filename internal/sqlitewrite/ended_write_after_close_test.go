package sqlitewrite

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestEndedWriteAfterClose: a Write whose context has ended returns the
// context's error at once, before it looks at the Batcher, closed or not,
// and its fn never runs.
func TestEndedWriteAfterClose(t *testing.T) {
	db, _, b := openDB(t)
	b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := b.Write(ctx, func(ctx context.Context, tx *Tx) error {
		ran = true
		return insert(1)(ctx, tx)
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrClosed)
	assert.False(t, ran)
	assert.ErrorIs(t, b.Write(context.Background(), insert(2)), ErrClosed, "a Write whose context lasts")
	assert.Empty(t, keys(t, db))
}
