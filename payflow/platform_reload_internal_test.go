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

// TestReloadEndsItsRead: a Reload, whether its scan succeeds or fails,
// ends its read of the store, so that an enrolment after it leaves no
// mark in the EID resolver, as one with no read under way.
func TestReloadEndsItsRead(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	const alice, bob, carol = "8944000000000000001", "8944000000000000002", "8944000000000000003"
	st := &cardsOnly{cards: map[string]*CardRecord{
		alice: {ID: alice, AdvSecret: bytes.Repeat([]byte{0x5a}, adv.SecretSize)},
	}}
	p := cachedPlatform(&Platform{store: st, now: func() time.Time { return now }}, DefaultCacheTTL)
	require.NoError(t, p.Reload(ctx))
	require.NoError(t, p.resolver.enrol(bob, bytes.Repeat([]byte{0x5b}, adv.SecretSize), false))
	assert.Empty(t, p.resolver.setAt, "after a Reload")
	assert.Empty(t, p.resolver.roleAt, "after a Reload")

	p.store = &failingScan{Store: st}
	require.ErrorIs(t, p.Reload(ctx), errScan)
	require.NoError(t, p.resolver.enrol(carol, bytes.Repeat([]byte{0x5c}, adv.SecretSize), true))
	assert.Empty(t, p.resolver.setAt, "after a failed Reload")
	assert.Empty(t, p.resolver.roleAt, "after a failed Reload")
}

// TestReloadOfUnchangedSecretDerivesNothing: a read that finds a card
// with the secret the EID resolver holds it with leaves the card as it
// is, allocating nothing (no derivation of its EID key), and takes the
// role it found.
func TestReloadOfUnchangedSecretDerivesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts vary under the race detector")
	}
	const id = "8944000000000000001"
	secret := bytes.Repeat([]byte{0x5a}, adv.SecretSize)
	var r eidResolver
	require.NoError(t, r.enrol(id, secret, false))
	gen := r.begin()
	defer r.end()
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		if err := r.load(id, secret, false, gen); err != nil {
			t.Error(err)
		}
	}))
	require.NoError(t, r.load(id, secret, true, gen))
	assert.True(t, isSeller(&r, id), "the role found")
	got, ok := heldSecret(&r, id)
	require.True(t, ok)
	assert.Equal(t, secret, got)
}

// absentAlice returns a platform whose cache holds card "Alice" as absent
// (read before her enrolment), her card then stored in st, and her ID.
func absentAlice(t *testing.T) (*Platform, *cardsOnly, string) {
	t.Helper()
	now := time.Unix(1_800_000_000, 0)
	const id = "8944000000000000001"
	st := &cardsOnly{cards: map[string]*CardRecord{}}
	p := cachedPlatform(&Platform{store: st, now: func() time.Time { return now }}, DefaultCacheTTL)
	_, err := p.card(context.Background(), id)
	require.ErrorIs(t, err, ErrNotFound)
	st.cards[id] = &CardRecord{ID: id, AdvSecret: bytes.Repeat([]byte{0x5a}, adv.SecretSize), DisplayName: "Alice"}
	return p, st, id
}

// TestFailedReloadKeepsAbsentCards: a Reload whose scan fails leaves the
// card IDs that the cache holds as absent, which only a scan that ended
// without an error forgets.
func TestFailedReloadKeepsAbsentCards(t *testing.T) {
	ctx := context.Background()
	p, st, id := absentAlice(t)
	p.store = &failingScan{Store: st}
	require.ErrorIs(t, p.Reload(ctx), errScan)
	_, err := p.card(ctx, id)
	assert.ErrorIs(t, err, ErrNotFound, "held as absent after a failed scan")
}
