package payflow

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
)

// TestEIDKeyFollowsSecret: the EID key that the cache keeps with a card is
// that of the card's advertising secret as the platform reads it now. A
// card read with a new secret (enrolled again through another process)
// is checked with the new secret's key, whether the cache still holds the
// card with its former secret or has read it again after CacheTTL; a card
// read again with the same secret keeps the key derived before.
func TestEIDKeyFollowsSecret(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	const id = "8944000000000000001"
	secretA, secretB := bytes.Repeat([]byte{0x5a}, adv.SecretSize), bytes.Repeat([]byte{0x5b}, adv.SecretSize)
	st := &cardsOnly{cards: map[string]*CardRecord{id: {ID: id, AdvSecret: secretA, DisplayName: "Alice"}}}
	p := &Platform{store: st, now: func() time.Time { return now }}
	p.cache.init(DefaultCacheTTL)
	eidOf := func(secret []byte) []byte {
		k, err := adv.NewEIDKey(secret)
		require.NoError(t, err)
		e := k.EID(adv.Epoch(now))
		return e[:]
	}
	eidA, eidB := eidOf(secretA), eidOf(secretB)

	a, err := p.cardEntry(ctx, id)
	require.NoError(t, err)
	require.NoError(t, p.checkEID(a, eidA))
	require.Same(t, a, p.cache.entry(id))
	require.NotNil(t, a.key.Load(), "the key is kept with the card")

	st.cards[id] = &CardRecord{ID: id, AdvSecret: secretB, DisplayName: "Alice"}
	rec, err := p.store.Card(ctx, id)
	require.NoError(t, err)
	b := &cachedCard{rec: rec} // as a read that the cache does not keep
	assert.ErrorIs(t, p.checkEID(b, eidA), ErrMismatch, "the cache holds the former secret")
	assert.NoError(t, p.checkEID(b, eidB))
	got, err := p.cardEntry(ctx, id)
	require.NoError(t, err)
	require.Same(t, a, got, "within CacheTTL")
	assert.NoError(t, p.checkEID(a, eidA), "the cached card, with its key")

	now = now.Add(DefaultCacheTTL)
	eidA, eidB = eidOf(secretA), eidOf(secretB)
	b, err = p.cardEntry(ctx, id)
	require.NoError(t, err)
	require.Equal(t, secretB, b.rec.AdvSecret, "read again after CacheTTL")
	assert.ErrorIs(t, p.checkEID(b, eidA), ErrMismatch, "the expired entry's key is not carried over")
	require.NoError(t, p.checkEID(b, eidB))
	kept := p.cache.entry(id).key.Load()
	require.NotNil(t, kept)

	now = now.Add(DefaultCacheTTL)
	st.cards[id] = &CardRecord{ID: id, AdvSecret: bytes.Clone(secretB), DisplayName: "Alice B."}
	c, err := p.cardEntry(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "Alice B.", c.rec.DisplayName, "read again after CacheTTL")
	assert.Same(t, kept, c.key.Load(), "the same secret keeps its key")
	assert.NoError(t, p.checkEID(c, eidOf(secretB)))
	assert.ErrorIs(t, p.checkEID(c, eidA), ErrMismatch)
}
