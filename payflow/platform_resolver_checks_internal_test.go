package payflow

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

// TestVerifyErrorKinds: each error of pki and record maps to its error
// of this package, keeping its text, and any other to ErrInternal.
func TestVerifyErrorKinds(t *testing.T) {
	all := []error{ErrClone, ErrReplay, ErrSignature, ErrInvalid, ErrCard, ErrInternal}
	for _, c := range []struct {
		err, want error
	}{
		{&pki.CounterError{CardID: "x", Last: 4, Got: 3}, ErrClone},
		{pki.ErrCounterRegression, ErrClone},
		{pki.ErrNonce, ErrReplay},
		{record.ErrSignature, ErrSignature},
		{record.ErrMalformed, ErrInvalid},
		{record.ErrType, ErrInvalid},
		{pki.ErrUntrusted, ErrCard},
		{pki.ErrExpired, ErrCard},
		{pki.ErrRevoked, ErrCard},
		{pki.ErrUsage, ErrCard},
		{pki.ErrCardID, ErrCard},
		{pki.ErrCRL, ErrCard},
		{pki.ErrKey, ErrCard},
		{errors.New("something else"), ErrInternal},
	} {
		in := fmt.Errorf("wrapped: %w", c.err)
		got := verifyError(in)
		assert.ErrorIs(t, got, c.want, "%v", c.err)
		for _, other := range all {
			if other != c.want {
				assert.NotErrorIs(t, got, other, "%v", c.err)
			}
		}
		assert.Contains(t, got.Error(), in.Error())
	}
}

// TestOpenCardRefusals: openCard refuses a missing or undecodable record
// with ErrInvalid, marked unverified, as it does a failure of the store
// to read the card; a record of a card ID that the store does not hold
// gives a card of that ID without a chain, and no error.
func TestOpenCardRefusals(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	st := &countingStore{cardsOnly: cardsOnly{cards: map[string]*CardRecord{}}}
	p := cachedPlatform(&Platform{store: st, now: func() time.Time { return now }}, DefaultCacheTTL)

	_, err := p.openCard(ctx, nil, new(record.AuthProof))
	assert.ErrorIs(t, err, ErrInvalid)
	assert.ErrorIs(t, err, errUnverified)
	assert.ErrorContains(t, err, "no signed record")

	_, err = p.openCard(ctx, []byte{0x01, 0x02}, new(record.AuthProof))
	assert.ErrorIs(t, err, ErrInvalid)
	assert.NotErrorIs(t, err, ErrSignature)
	assert.ErrorIs(t, err, errUnverified)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	const id = "8944000000000000001"
	msg, _ := signedProof(t, key, id)
	c, err := p.openCard(ctx, msg, new(record.AuthProof))
	require.NoError(t, err, "a card ID not enrolled")
	assert.Equal(t, &CardRecord{ID: id}, c)

	down := errors.New("store down")
	p.cache.init(DefaultCacheTTL)
	st.fail = down
	_, err = p.openCard(ctx, msg, new(record.AuthProof))
	assert.ErrorIs(t, err, down)
	assert.ErrorIs(t, err, errUnverified)
	assert.False(t, errors.Is(down, errUnverified))
	assert.False(t, errors.Is(unverified(down), ErrInvalid))
}

// TestReloadForgetsAbsentCards: a card ID that the cache holds as absent
// is found once a Reload has found the card, enrolled since through
// another process, without waiting for CacheTTL.
func TestReloadForgetsAbsentCards(t *testing.T) {
	ctx := context.Background()
	p, _, id := absentAlice(t)
	_, err := p.card(ctx, id)
	require.ErrorIs(t, err, ErrNotFound, "held as absent")
	require.NoError(t, p.Reload(ctx))
	c, err := p.card(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "Alice", c.DisplayName)
}
