package payflow

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// cachedPlatform returns p with its caches made, their entries kept for
// ttl: a Platform of the fields a test sets, as NewPlatform would make
// its caches.
func cachedPlatform(p *Platform, ttl time.Duration) *Platform {
	p.cache.init(ttl)
	return p
}

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
	p := cachedPlatform(&Platform{store: st, now: func() time.Time { return now }}, DefaultCacheTTL)
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

// TestCheckEIDEpochWrap: a card's own EID is checked against the epochs
// next to now's, and the first and the last epoch are not next to each
// other.
func TestCheckEIDEpochWrap(t *testing.T) {
	secret := bytes.Repeat([]byte{0x5a}, adv.SecretSize)
	k, err := adv.NewEIDKey(secret)
	require.NoError(t, err)
	c := &cachedCard{rec: &CardRecord{ID: "8944000000000000001", AdvSecret: secret}}
	first, last := time.Unix(10, 0), adv.EpochStart(math.MaxUint32).Add(time.Minute)
	for _, tt := range []struct {
		name  string
		now   time.Time
		epoch uint32
		err   error
	}{
		{"epoch 1 at epoch 0", first, 1, nil},
		{"the last epoch at epoch 0", first, math.MaxUint32, ErrMismatch},
		{"the epoch before the last at the last", last, math.MaxUint32 - 1, nil},
		{"epoch 0 at the last epoch", last, 0, ErrMismatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := &Platform{now: func() time.Time { return tt.now }}
			eid := k.EID(tt.epoch)
			err := p.checkEID(c, eid[:])
			if tt.err == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.err)
			}
		})
	}
}

// testCA is a card-issuing CA and a verifier that trusts it, holding
// fresh CRLs of it and its root.
type testCA struct {
	root, issuer *pki.CA
	verifier     *pki.Verifier
}

func newTestCA(tb testing.TB) *testCA {
	tb.Helper()
	root, issuer, err := simcardtest.NewCA()
	require.NoError(tb, err)
	v, err := pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{root.DER()}, Intermediates: [][]byte{issuer.DER()}})
	require.NoError(tb, err)
	ca := &testCA{root: root, issuer: issuer, verifier: v}
	ca.refreshCRLs(tb)
	return ca
}

// refreshCRLs hands the verifier fresh CRLs of both CAs.
func (ca *testCA) refreshCRLs(tb testing.TB) {
	tb.Helper()
	for _, c := range []*pki.CA{ca.root, ca.issuer} {
		crl, err := c.CRL(time.Now().Add(time.Hour))
		require.NoError(tb, err)
		require.NoError(tb, ca.verifier.AddCRL(crl))
	}
}

// chain issues a certificate for card id and returns its chain.
func (ca *testCA) chain(tb testing.TB, id string) [][]byte {
	tb.Helper()
	return ca.chainWith(tb, id, pki.IssueOptions{})
}

// chainWith is chain with the certificate issued with opts.
func (ca *testCA) chainWith(tb testing.TB, id string, opts pki.IssueOptions) [][]byte {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	cert, err := ca.issuer.IssueCard(k.Public(), id, opts)
	require.NoError(tb, err)
	return append([][]byte{cert}, ca.issuer.Chain()...)
}

// revoke revokes the card certificate of chain and refreshes the CRLs.
func (ca *testCA) revoke(tb testing.TB, chain [][]byte) {
	tb.Helper()
	c, err := pki.ParseCertificate(chain[0])
	require.NoError(tb, err)
	require.NoError(tb, ca.issuer.Revoke(c.SerialNumber, pki.ReasonKeyCompromise))
	ca.refreshCRLs(tb)
}

// TestRevocationFollowsChain: a resolution checks revocation on the chain
// of the card as the platform reads it now, with the names of its
// certificates kept with the cached card. A card revoked while cached
// no longer resolves from then on; enrolled again through another
// process with a new certificate, it resolves again once read after
// CacheTTL, with the names of its new chain; read again with the same
// chain, it keeps the names read before. A stored chain that pki cannot
// read is ErrInternal.
func TestRevocationFollowsChain(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	const id = "8944000000000000001"
	ca := newTestCA(t)
	secret := bytes.Repeat([]byte{0x5a}, adv.SecretSize)
	first := ca.chain(t, id)
	st := &cardsOnly{cards: map[string]*CardRecord{id: {ID: id, Chain: first, AdvSecret: secret, DisplayName: "Alice"}}}
	p := cachedPlatform(&Platform{store: st, verifier: ca.verifier, now: func() time.Time { return now }}, DefaultCacheTTL)
	require.NoError(t, p.Reload(ctx))
	k, err := adv.NewEIDKey(secret)
	require.NoError(t, err)
	eid := k.EID(adv.Epoch(now))

	got, err := p.resolve(ctx, askingCard, eid[:], nil)
	require.NoError(t, err)
	require.Equal(t, id, got.ID)
	a := p.cache.entry(id)
	require.NotNil(t, a.ids.Load(), "the names are kept with the card")

	ca.revoke(t, first)
	_, err = p.resolve(ctx, askingCard, eid[:], nil)
	require.ErrorIs(t, err, errUnknownEID, "revoked while cached")
	require.Same(t, a, p.cache.entry(id), "the cached card")

	second := ca.chain(t, id)
	st.cards[id] = &CardRecord{ID: id, Chain: second, AdvSecret: secret, DisplayName: "Alice"}
	now = now.Add(time.Second)
	_, err = p.resolve(ctx, askingCard, eid[:], nil)
	require.ErrorIs(t, err, errUnknownEID, "within CacheTTL the cache holds the revoked chain")

	now = now.Add(DefaultCacheTTL)
	got, err = p.resolve(ctx, askingCard, eid[:], nil)
	require.NoError(t, err, "read again with its new chain")
	require.Equal(t, second, got.Chain)
	b := p.cache.entry(id)
	require.NotSame(t, a, b)
	require.NotSame(t, a.ids.Load(), b.ids.Load(), "the expired entry's names are not carried over")

	now = now.Add(DefaultCacheTTL)
	same := [][]byte{bytes.Clone(second[0]), bytes.Clone(second[1])}
	st.cards[id] = &CardRecord{ID: id, Chain: same, AdvSecret: secret, DisplayName: "Alice B."}
	got, err = p.resolve(ctx, askingCard, eid[:], nil)
	require.NoError(t, err)
	require.Equal(t, "Alice B.", got.DisplayName, "read again after CacheTTL")
	assert.Same(t, b.ids.Load(), p.cache.entry(id).ids.Load(), "the same chain keeps its names")

	now = now.Add(DefaultCacheTTL)
	st.cards[id] = &CardRecord{ID: id, Chain: [][]byte{second[0][:40]}, AdvSecret: secret, DisplayName: "Alice"}
	_, err = p.resolve(ctx, askingCard, eid[:], nil)
	assert.ErrorIs(t, err, ErrInternal, "a chain that pki cannot read")
}

// TestOwnAccountsBound: the set of the platform's own accounts holds at
// most maxOwnAccounts IDs; the account added when it is full drops the
// oldest added, one for one, so that only that one is looked up again;
// an account added again while held keeps its place and drops none.
func TestOwnAccountsBound(t *testing.T) {
	var s ownAccounts
	accounts := make([]ledger.Account, maxOwnAccounts+2)
	for i := range accounts {
		accounts[i] = account(AccountWallet, 978, strconv.Itoa(i))
	}
	// unknown lists the places in accounts of those the set does not
	// hold, the first four of them, and how many there are.
	unknown := func() ([]int, int) {
		ids := s.unknown(accounts)
		var at []int
		for i := 0; i < len(accounts) && len(at) < 4 && len(at) < len(ids); i++ {
			if accounts[i].ID == ids[len(at)] {
				at = append(at, i)
			}
		}
		return at, len(ids)
	}
	s.add(accounts[:maxOwnAccounts]...)
	assert.Len(t, s.ids, maxOwnAccounts)
	at, n := unknown()
	assert.Equal(t, []int{maxOwnAccounts, maxOwnAccounts + 1}, at)
	assert.Equal(t, 2, n)

	s.add(accounts[0], accounts[maxOwnAccounts-1])
	assert.Len(t, s.ids, maxOwnAccounts)
	at, n = unknown()
	assert.Equal(t, []int{maxOwnAccounts, maxOwnAccounts + 1}, at, "adding held accounts drops none")
	assert.Equal(t, 2, n)

	s.add(accounts[maxOwnAccounts])
	assert.Len(t, s.ids, maxOwnAccounts)
	at, n = unknown()
	assert.Equal(t, []int{0, maxOwnAccounts + 1}, at, "the oldest dropped, and only it")
	assert.Equal(t, 2, n)

	s.add(accounts[0], accounts[maxOwnAccounts+1])
	assert.Len(t, s.ids, maxOwnAccounts)
	at, n = unknown()
	assert.Equal(t, []int{1, 2}, at, "dropped in the order added")
	assert.Equal(t, 2, n)
}

// TestOwnAccountsConcurrent: adds and look-ups of the set from many
// goroutines at once (run with -race) keep every account added, as
// long as the set holds fewer than maxOwnAccounts.
func TestOwnAccountsConcurrent(t *testing.T) {
	var s ownAccounts
	const workers, each = 8, 64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				a := account(AccountMerchant, 978, fmt.Sprintf("%d-%d", w, i))
				s.unknown([]ledger.Account{a})
				s.add(a)
				assert.Nil(t, s.unknown([]ledger.Account{a}))
			}
		})
	}
	wg.Wait()
	assert.Len(t, s.ids, workers*each)
}

// askingCard is the ID of the card that asks the resolutions of the tests
// that call Platform.resolve.
const askingCard = "8944000000000000099"

// TestKeptTokenExpiresByWallClock: the tokens that a process keeps expire
// by the wall clock, as the store's copies do: a token kept with an expiry
// from time.Now, which carries a monotonic clock reading, is kept without
// it, so that a suspend of the machine (which the monotonic clock does not
// count) or a wall clock set forward does not keep it past its expiry.
func TestKeptTokenExpiresByWallClock(t *testing.T) {
	var c tokenCache
	exp := time.Now().Add(time.Hour)
	require.Contains(t, exp.String(), " m=", "time.Now carries a monotonic reading")
	h := sha256.Sum256([]byte("token"))
	c.put(&TokenRecord{Hash: h[:], CardID: "card", ExpiresAt: exp}, time.Now())
	got, ok := c.get(h, time.Now())
	require.True(t, ok)
	assert.False(t, strings.Contains(got.ExpiresAt.String(), " m="), "kept with a monotonic reading: %v", got.ExpiresAt)
	assert.True(t, got.ExpiresAt.Equal(exp))
	_, ok = c.get(h, exp.Round(0))
	assert.False(t, ok, "expired at its expiry by the wall clock")
}
