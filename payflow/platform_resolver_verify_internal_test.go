package payflow

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

// signedProof returns an authentication proof of card id signed with key,
// and the record it opens to.
func signedProof(t *testing.T, key *ecdsa.PrivateKey, id string) ([]byte, *record.AuthProof) {
	t.Helper()
	msg, err := record.Sign(rand.Reader, key, &record.AuthProof{
		CardHeader: record.CardHeader{CardID: id, Counter: 1},
		Nonce:      make([]byte, record.NonceSize),
		Role:       record.RoleShopper,
		EID:        make([]byte, record.EIDSize),
		PeerEID:    make([]byte, record.EIDSize),
	})
	require.NoError(t, err)
	var r record.AuthProof
	require.NoError(t, record.Open(msg, &r))
	return msg, &r
}

// issuedCard returns a card key and its chain, issued for card id.
func issuedCard(t *testing.T, ca *testCA, id string) (*ecdsa.PrivateKey, [][]byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	cert, err := ca.issuer.IssueCard(k.Public(), id, pki.IssueOptions{})
	require.NoError(t, err)
	return k, append([][]byte{cert}, ca.issuer.Chain()...)
}

// verifiedCall is a proof of Alice's card, issued by a fresh test CA,
// that a platform caching for an hour verified as CheckRecord does: ctx
// is the context the verification gave the call.
type verifiedCall struct {
	ca   *testCA
	p    *Platform
	key  *ecdsa.PrivateKey
	card *CardRecord
	msg  []byte
	r    *record.AuthProof
	ctx  context.Context
}

// verifiedAlice returns a verified proof of card alice.
func verifiedAlice(t *testing.T, alice string) verifiedCall {
	t.Helper()
	ca := newTestCA(t)
	p := cachedPlatform(&Platform{verifier: ca.verifier, now: time.Now}, time.Hour)
	key, chain := issuedCard(t, ca, alice)
	msg, r := signedProof(t, key, alice)
	card := &CardRecord{ID: alice, Chain: chain}
	ctx, err := p.verified(context.Background(), card, msg, r, nil, nil)
	require.NoError(t, err)
	return verifiedCall{ca: ca, p: p, key: key, card: card, msg: msg, r: r, ctx: ctx}
}

// TestVerifySignatureCardOfRecord: a record is verified with the key of
// the card as given, not that of another record of the card that the
// cache holds; a card without a chain verifies no record (ErrSignature);
// and a chain of another card ID, whose key signed the record, is
// refused for its card ID (ErrCard).
func TestVerifySignatureCardOfRecord(t *testing.T) {
	const alice, bob = "8944000000000000001", "8944000000000000019"
	now := time.Unix(1_800_000_000, 0)
	ca := newTestCA(t)
	p := cachedPlatform(&Platform{verifier: ca.verifier, now: func() time.Time { return now }}, time.Hour)

	key1, chain1 := issuedCard(t, ca, alice)
	key2, chain2 := issuedCard(t, ca, alice)
	put(&p.cache, p.cache.cards, alice, &cachedCard{rec: &CardRecord{ID: alice, Chain: chain1}}, p.cache.generation(), now)
	msg, r := signedProof(t, key2, alice)
	assert.NoError(t, p.verifySignature(&CardRecord{ID: alice, Chain: chain2}, msg, r), "a chain that the cache does not hold")
	msg1, r1 := signedProof(t, key1, alice)
	assert.ErrorIs(t, p.verifySignature(&CardRecord{ID: alice, Chain: chain2}, msg1, r1), ErrSignature)

	err := p.verifySignature(&CardRecord{ID: alice}, msg, r)
	assert.ErrorIs(t, err, ErrSignature, "no chain")
	assert.NotErrorIs(t, err, ErrCard)

	keyB, chainB := issuedCard(t, ca, bob)
	msgB, rB := signedProof(t, keyB, alice)
	assert.ErrorIs(t, p.verifySignature(&CardRecord{ID: alice, Chain: chainB}, msgB, rB), ErrCard, "another card's chain")
}

// TestVerifyRecordTakesCheckOfSameRecord: the verification that
// CheckRecord gave a call holds for the same bytes, of a card of the same
// ID and chain, and for no other.
func TestVerifyRecordTakesCheckOfSameRecord(t *testing.T) {
	const alice = "8944000000000000001"
	v := verifiedAlice(t, alice)
	p, key, chain, card, msg, r, ctx := v.p, v.key, v.card.Chain, v.card, v.msg, v.r, v.ctx
	_, other := issuedCard(t, v.ca, alice)

	nokey := &CardRecord{ID: alice} // verifies no record
	assert.ErrorIs(t, p.verifyRecord(ctx, nokey, msg, r), ErrSignature, "another chain")
	assert.ErrorIs(t, p.verifyRecord(ctx, &CardRecord{ID: alice, Chain: other}, msg, r), ErrSignature, "another chain")
	assert.NoError(t, p.verifyRecord(ctx, &CardRecord{ID: alice, Chain: chain}, msg, r), "the same card")
	msg2, r2 := signedProof(t, key, alice)
	assert.NoError(t, p.verifyRecord(ctx, card, msg2, r2))
	const bob = "8944000000000000019"
	msgB, rB := signedProof(t, key, bob)
	ctxB := context.WithValue(context.Background(), verifiedKey{}, &verifiedRecord{card: card, msg: msgB})
	assert.ErrorIs(t, p.verifyRecord(ctxB, &CardRecord{ID: bob, Chain: chain}, msgB, rB), ErrCard, "another card ID")
	assert.Nil(t, checkedRecord(ctx, msg2), "other bytes")
	assert.NotNil(t, checkedRecord(ctx, msg))
}

// TestVerifiedLetsBeforeDecide: a signature refused leaves the answer to
// the steps that the call takes before it verifies, when they decide, and
// is the answer otherwise.
func TestVerifiedLetsBeforeDecide(t *testing.T) {
	p := cachedPlatform(&Platform{now: time.Now}, time.Hour)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	msg, r := signedProof(t, key, "8944000000000000001")
	card := &CardRecord{ID: "8944000000000000001"}
	_, err = p.verified(context.Background(), card, msg, r, nil, func() (bool, error) { return true, ErrConflict })
	assert.ErrorIs(t, err, ErrConflict)
	assert.NotErrorIs(t, err, ErrSignature)
	_, err = p.verified(context.Background(), card, msg, r, nil, func() (bool, error) { return false, nil })
	assert.ErrorIs(t, err, ErrSignature)
	assert.ErrorIs(t, err, errUnverified)

	decided, err := takenID(nil, true, func() error { return ErrConflict })
	assert.True(t, decided)
	assert.ErrorIs(t, err, ErrConflict)
	decided, err = takenID(nil, false, func() error { return ErrConflict })
	assert.True(t, decided)
	assert.NoError(t, err)
}

// spendStore counts the calls of Accept and Spent.
type spendStore struct {
	Store
	accepts, spents int
}

func (s *spendStore) Accept(context.Context, *Acceptance) error { s.accepts++; return nil }
func (s *spendStore) Spent(context.Context, []byte, string, uint64) error {
	s.spents++
	return nil
}

// TestRefuseSpends: refuse spends the nonce and counter of a record
// refused for itself, reads them only for ErrConflict, and leaves them for
// ErrRateLimited.
func TestRefuseSpends(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		why             error
		accepts, spents int
	}{
		{ErrRateLimited, 0, 0},
		{ErrConflict, 0, 1},
		{ErrInvalid, 1, 0},
		{ErrUnavailable, 0, 0},
	} {
		st := &spendStore{}
		p := &Platform{store: st}
		err := p.refuse(ctx, &Acceptance{CardID: "x", Counter: 2}, c.why)
		assert.True(t, errors.Is(err, c.why), "%v", c.why)
		assert.Equal(t, c.accepts, st.accepts, "%v", c.why)
		assert.Equal(t, c.spents, st.spents, "%v", c.why)
	}
}
