package payflow

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
)

// heldPuts is a Store that holds enrolled cards and nothing else, whose
// PutCard of the card with secret held, once stored, tells stored and
// waits for release before it returns.
type heldPuts struct {
	Store
	held            []byte
	stored, release chan struct{}
	mu              sync.Mutex
	cards           map[string]*CardRecord
}

func (s *heldPuts) PutCard(_ context.Context, c *CardRecord) error {
	s.mu.Lock()
	s.cards[c.ID] = c
	s.mu.Unlock()
	if bytes.Equal(c.AdvSecret, s.held) {
		close(s.stored)
		<-s.release
	}
	return nil
}

func (s *heldPuts) Cards(_ context.Context, fn func(*CardRecord) error) error {
	s.mu.Lock()
	cards := slices.Collect(maps.Values(s.cards))
	s.mu.Unlock()
	for _, c := range cards {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

func (s *heldPuts) Card(_ context.Context, id string) (*CardRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cards[id]; ok {
		return c, nil
	}
	return nil, ErrNotFound
}

// TestConcurrentEnrolmentsEndAsStored: of two enrolments of one card at
// once with different advertising secrets, the one whose write to the
// store comes first and whose update of the process's tables comes last
// leaves them holding what the store holds, the secret written last: the
// EID resolver names the card for that secret's EIDs and no longer for
// the other's, and the cache reads it with that secret.
func TestConcurrentEnrolmentsEndAsStored(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	ca := newTestCA(t)
	const id = "8944000000000000001"
	chain := ca.chain(t, id)
	first, second := bytes.Repeat([]byte{0x5a}, adv.SecretSize), bytes.Repeat([]byte{0x5c}, adv.SecretSize)
	st := &heldPuts{held: first, stored: make(chan struct{}), release: make(chan struct{}), cards: make(map[string]*CardRecord)}
	p := cachedPlatform(&Platform{store: st, verifier: ca.verifier, now: func() time.Time { return now }}, DefaultCacheTTL)

	done := make(chan error, 1)
	go func() {
		_, err := p.EnrollCard(ctx, chain, first, "Alice")
		done <- err
	}()
	<-st.stored // the first secret stored; its enrolment waits
	got, err := p.EnrollCard(ctx, chain, second, "Alice")
	require.NoError(t, err)
	require.Equal(t, id, got)
	close(st.release)
	require.NoError(t, <-done)

	stored, err := st.Card(ctx, id)
	require.NoError(t, err)
	require.Equal(t, second, stored.AdvSecret, "the store holds the secret written last")
	eid := func(secret []byte) adv.EID {
		k, err := adv.NewEIDKey(secret)
		require.NoError(t, err)
		return k.EID(adv.Epoch(now))
	}
	named, ok := p.resolver.Resolve(eid(second), now)
	assert.True(t, ok, "the stored secret's EID resolves")
	assert.Equal(t, id, named)
	named, ok = p.resolver.Resolve(eid(first), now)
	assert.False(t, ok, "the former secret's EID resolves to %q", named)
	e, err := p.cardEntry(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, second, e.rec.AdvSecret, "the cache")
	sec := eid(second)
	c, err := p.resolve(ctx, askingCard, sec[:], nil)
	require.NoError(t, err)
	assert.Equal(t, id, c.ID)
}
