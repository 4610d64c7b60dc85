package payflow

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/pki"
)

// inDebt returns a limiter (burst 2, 1 a second) holding n cards that
// each drew one resolution at t0, in order, so that each is in debt until
// a second later, and their keys.
func inDebt(t testing.TB, n int, t0 time.Time) (*limiter, []string) {
	var l limiter
	l.init(1, 2, "EID resolutions")
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "card " + strconv.Itoa(i)
		require.NoError(t, l.allow(keys[i], t0))
	}
	return &l, keys
}

// TestLimiterSweep: each call of the limiter, before it draws, drops the
// buckets drawn on longest ago while they have refilled, two at most, and
// never one in debt: every card in debt stays limited exactly, however
// many cards come after it. The calls of cards the limiter holds drop
// them too, refused or not.
func TestLimiterSweep(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	l, keys := inDebt(t, 10, t0)
	for _, k := range keys[:5] {
		require.NoError(t, l.allow(k, t0), "the first half draws its whole burst")
	}
	// Drawn on last: the first half, after the second.
	t1 := t0.Add(time.Second) // the second half has refilled, the first has not
	var lens []int
	for i := range 4 {
		require.NoError(t, l.allow("new "+strconv.Itoa(i), t1))
		lens = append(lens, len(l.buckets))
	}
	assert.Equal(t, []int{9, 8, 8, 9}, lens, "two refilled dropped by each new card, then one, then none")
	for _, k := range keys[5:] {
		assert.NotContains(t, l.buckets, k, "refilled")
	}
	for _, k := range keys[:5] {
		require.NoError(t, l.allow(k, t1), "%s: one refilled", k)
		require.ErrorIs(t, l.allow(k, t1), ErrRateLimited, "%s: its debt is kept", k)
	}

	t2 := t1.Add(time.Minute) // every bucket has refilled
	lens = lens[:0]
	for i := range 6 {
		require.NoError(t, l.allow("late "+strconv.Itoa(i), t2))
		lens = append(lens, len(l.buckets))
	}
	assert.Equal(t, []int{8, 7, 6, 5, 5, 6}, lens, "the nine refilled dropped two a call, then the late cards kept")

	l, keys = inDebt(t, 10, t0)
	last := keys[9]
	require.NoError(t, l.allow(last, t2))
	require.NoError(t, l.allow(last, t2))
	assert.Equal(t, 6, len(l.buckets), "a card the limiter holds drops two refilled a call")
	require.ErrorIs(t, l.allow(last, t2), ErrRateLimited)
	assert.Equal(t, 4, len(l.buckets), "so does a call refused")
	assert.Contains(t, l.buckets, last)
}

// TestLimiterMemory: while a card new to the limiter resolves every
// 10 ms, each once, the limiter holds only the buckets in debt: those of
// the cards that resolved within the last second (burst 2, 1 a second: a
// card that drew once refills in a second), 100 of them.
func TestLimiterMemory(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var l limiter
	l.init(1, 2, "EID resolutions")
	most := 0
	for i := range 2000 {
		require.NoError(t, l.allow("card "+strconv.Itoa(i), t0.Add(time.Duration(i)*10*time.Millisecond)))
		most = max(most, len(l.buckets))
	}
	assert.Equal(t, 100, most)
	assert.Equal(t, 100, len(l.buckets))
}

// TestServerErrorNil: no error is no platform failure, and has no *Error;
// an error that wraps no sentinel is an internal one, an unavailable one
// too is the platform's failure, and a verdict on the call is not.
func TestServerErrorNil(t *testing.T) {
	assert.Nil(t, AsError(nil))
	assert.False(t, serverError(nil))
	for _, tc := range []struct {
		err    error
		code   string
		server bool
	}{
		{errors.New("lost connection"), "internal", true},
		{fmt.Errorf("%w: database down", ErrUnavailable), "unavailable", true},
		{fmt.Errorf("%w: unknown EID", ErrNotFound), "not_found", false},
		{&RateLimitedError{RetryAfter: time.Second}, "rate_limited", false},
	} {
		require.NotNil(t, AsError(tc.err), "%v", tc.err)
		assert.Equal(t, tc.code, AsError(tc.err).Code, "%v", tc.err)
		assert.Equal(t, tc.server, serverError(tc.err), "%v", tc.err)
	}
}

// BenchmarkLimiterNewCard: the resolution of a card the limiter does not
// hold yet, while 100 000 cards are in debt.
func BenchmarkLimiterNewCard(b *testing.B) {
	t0 := time.Unix(1_800_000_000, 0)
	l, _ := inDebt(b, 100000, t0)
	keys := newKeys(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := l.allow(keys[i], t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLimiterRefilled: the resolutions of cards new to a limiter
// whose 100 000 buckets have all refilled, which sweeps drop; besides the
// mean, it reports the longest single call (max-ns/call) and the most
// buckets that one call dropped (max-dropped/call).
func BenchmarkLimiterRefilled(b *testing.B) {
	t0 := time.Unix(1_800_000_000, 0)
	l, _ := inDebt(b, 100000, t0)
	t1 := t0.Add(time.Minute)
	keys := newKeys(b.N)
	benchWorstCall(b, "dropped", func() int { return len(l.buckets) }, func(i int) error {
		return l.allow(keys[i], t1)
	})
}

// newKeys returns n keys, "new 0" to "new n-1".
func newKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "new " + strconv.Itoa(i)
	}
	return keys
}

// benchWorstCall times call(i) for each i below b.N, each call adding one
// entry to those that held counts, and reports, besides the mean, the
// longest single call (max-ns/call) and the most entries one call took
// out (max-<what>/call).
func benchWorstCall(b *testing.B, what string, held func() int, call func(i int) error) {
	var worst time.Duration
	most := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		n := held()
		start := time.Now()
		err := call(i)
		worst = max(worst, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		most = max(most, n+1-held())
	}
	b.ReportMetric(float64(worst.Nanoseconds()), "max-ns/call")
	b.ReportMetric(float64(most), "max-"+what+"/call")
}

// cardsOnly is a Store that holds enrolled cards and nothing else.
type cardsOnly struct {
	Store
	cards map[string]*CardRecord
}

func (s *cardsOnly) Card(_ context.Context, id string) (*CardRecord, error) {
	if c, ok := s.cards[id]; ok {
		return c, nil
	}
	return nil, ErrNotFound
}

func (s *cardsOnly) Cards(_ context.Context, fn func(*CardRecord) error) error {
	for _, id := range slices.Sorted(maps.Keys(s.cards)) {
		if err := fn(s.cards[id]); err != nil {
			return err
		}
	}
	return nil
}

// TestReloadFreesDeletedCard: a Reload that no longer finds a card in the
// store takes it out of the EID resolver and its entry out of the card
// cache, and keeps the others; one whose scan fails takes out nothing.
func TestReloadFreesDeletedCard(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	const alice, bob = "8944000000000000001", "8944000000000000002"
	st := &cardsOnly{cards: map[string]*CardRecord{
		alice: {ID: alice, AdvSecret: bytes.Repeat([]byte{0x5a}, adv.SecretSize), DisplayName: "Alice"},
		bob:   {ID: bob, AdvSecret: bytes.Repeat([]byte{0x5b}, adv.SecretSize), DisplayName: "Bob"},
	}}
	p := cachedPlatform(&Platform{store: st, now: func() time.Time { return now }}, DefaultCacheTTL)
	require.NoError(t, p.Reload(ctx))
	for _, id := range []string{alice, bob} {
		_, err := p.card(ctx, id)
		require.NoError(t, err)
	}
	require.Equal(t, []string{alice, bob}, p.resolver.CardIDs())

	delete(st.cards, alice)
	failing := &failingScan{Store: st}
	p.store = failing
	require.ErrorIs(t, p.Reload(ctx), errScan)
	assert.Equal(t, []string{alice, bob}, p.resolver.CardIDs(), "a failed scan tells no card deleted")
	p.store = st
	require.NoError(t, p.Reload(ctx))
	assert.Equal(t, []string{bob}, p.resolver.CardIDs(), "the resolver")
	assert.Nil(t, p.cache.entry(alice), "the cache")
	assert.NotNil(t, p.cache.entry(bob), "the card still stored stays cached")
}

var errScan = errors.New("scan failed")

// failingScan is a Store whose scans of the cards fail after calling fn
// for none of them.
type failingScan struct{ Store }

func (s *failingScan) Cards(context.Context, func(*CardRecord) error) error { return errScan }

// BenchmarkResolveHit: the resolution of the current EID of a card that
// the EID resolver and the cache hold, from every processor at once. The
// card's chain, of a CA whose CRL lists another card, is checked for
// revocation.
func BenchmarkResolveHit(b *testing.B) {
	t0 := time.Unix(1_800_000_000, 0)
	ca := newTestCA(b)
	const id = "8944000000000000001"
	ca.revoke(b, ca.chain(b, "8944000000000000019"))
	c := &CardRecord{ID: id, Chain: ca.chain(b, id), AdvSecret: bytes.Repeat([]byte{0x5a}, adv.SecretSize), DisplayName: "Alice"}
	p := cachedPlatform(&Platform{store: &cardsOnly{cards: map[string]*CardRecord{c.ID: c}}, verifier: ca.verifier, now: func() time.Time { return t0 }}, time.Hour)
	require.NoError(b, p.resolver.enrol(c.ID, c.AdvSecret, false))
	k, err := adv.NewEIDKey(c.AdvSecret)
	require.NoError(b, err)
	eid := k.EID(adv.Epoch(t0))
	got, err := p.resolve(context.Background(), askingCard, eid[:], nil)
	require.NoError(b, err)
	require.Equal(b, c.ID, got.ID)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.resolve(context.Background(), askingCard, eid[:], nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestTrusted: the check that a token's card is not revoked passes for a
// card whose chain the CRLs do not list, without allocating once the
// card's names are read; refuses a revoked card with the error of its
// login (ErrCard, the chain check's reason); and refuses with ErrCard and
// pki.ErrRevoked's reason a card whose names are revoked although its
// chain verifies (a CRL that arrived between the two checks).
func TestTrusted(t *testing.T) {
	ca := newTestCA(t)
	p := &Platform{verifier: ca.verifier, now: time.Now}
	const id, other = "8944000000000000001", "8944000000000000019"
	good := &cachedCard{rec: &CardRecord{ID: id, Chain: ca.chain(t, id)}}
	require.NoError(t, p.trusted(good))
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		if err := p.trusted(good); err != nil {
			t.Error(err)
		}
	}), "a card that is not revoked")

	revokedChain := ca.chain(t, other)
	ca.revoke(t, revokedChain)
	bad := &cachedCard{rec: &CardRecord{ID: other, Chain: revokedChain}}
	_, loginErr := ca.verifier.VerifyCard(revokedChain)
	require.ErrorIs(t, loginErr, pki.ErrRevoked)
	err := p.trusted(bad)
	require.ErrorIs(t, err, ErrCard)
	assert.Equal(t, verifyError(loginErr).Error(), err.Error(), "the error of the card's login")
	require.NoError(t, p.trusted(good), "another card of the CA")

	// Names of the card that the CRLs list (here another card's), which
	// the chain verification of a login does not refuse (as when a CRL
	// that arrived meanwhile no longer lists it): the verification decides.
	crossed := &cachedCard{rec: good.rec}
	crossed.ids.Store(bad.ids.Load())
	refused, err := p.refusal(crossed)
	require.NoError(t, err)
	assert.NoError(t, refused)
	require.NoError(t, p.trusted(crossed))
	refused, err = p.refusal(bad)
	require.NoError(t, err)
	assert.Equal(t, loginErr, refused)
}

// TestCurrentPendingAllocs: reading a pending, unexpired request whose
// seller and shopper cards are cached and not revoked checks the cards'
// revocation without allocating, and leaves the request as it is.
func TestCurrentPendingAllocs(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ca := newTestCA(t)
	const id, payer = "8944000000000000001", "8944000000000000019"
	cards := map[string]*CardRecord{id: {ID: id, Chain: ca.chain(t, id)}, payer: {ID: payer, Chain: ca.chain(t, payer)}}
	p := cachedPlatform(&Platform{store: &cardsOnly{cards: cards}, verifier: ca.verifier, now: func() time.Time { return now }}, time.Hour)
	r := &PaymentRecord{State: StatePending, SellerCardID: id, PayerCardID: payer, ExpiresAt: now.Add(time.Minute)}
	ctx := context.Background()
	got, err := p.current(ctx, r)
	require.NoError(t, err)
	require.Same(t, r, got)
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		if _, err := p.current(ctx, r); err != nil {
			t.Error(err)
		}
	}))
	assert.Equal(t, StatePending, r.State)
}

// TestListedButAcceptedCard: a card whose names the CRLs list (here
// another card's) but whose chain a login's verification accepts, as when
// a CRL that arrived meanwhile no longer lists it, is neither hidden from
// its session nor has its pending request withdrawn; a card the
// verification refuses is.
func TestListedButAcceptedCard(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ca := newTestCA(t)
	const id, other = "8944000000000000001", "8944000000000000019"
	good := &CardRecord{ID: id, Chain: ca.chain(t, id)}
	revokedChain := ca.chain(t, other)
	ca.revoke(t, revokedChain)
	bad := &CardRecord{ID: other, Chain: revokedChain}
	p := cachedPlatform(&Platform{store: &cardsOnly{cards: map[string]*CardRecord{id: good, other: bad}}, verifier: ca.verifier, now: func() time.Time { return now }}, time.Hour)
	ctx := context.Background()
	eb, err := p.cardEntry(ctx, other)
	require.NoError(t, err)
	revoked, err := eb.revoked(p.verifier)
	require.NoError(t, err)
	require.True(t, revoked)
	eg, err := p.cardEntry(ctx, id)
	require.NoError(t, err)
	eg.ids.Store(eb.ids.Load())

	// The store takes no update: a withdrawal would fail the test. The
	// card is both the request's seller and its payer.
	r := &PaymentRecord{State: StatePending, SellerCardID: id, PayerCardID: id, ExpiresAt: now.Add(time.Minute)}
	require.NoError(t, p.withdrawRevoked(ctx, r, now))
	assert.Equal(t, StatePending, r.State)

	shopper, err := p.sessionCards(ctx, &SessionRecord{ShopperCardID: id, SellerCardID: id})
	require.NoError(t, err)
	assert.Same(t, good, shopper)
	_, err = p.sessionCards(ctx, &SessionRecord{ShopperCardID: id, SellerCardID: other})
	assert.Equal(t, ErrNotFound, err, "the card that the verification refuses")
}

// cardsAndTokens is a Store that holds enrolled cards and tokens, by the
// SHA-256 of the token, and nothing else.
type cardsAndTokens struct {
	*cardsOnly
	tokens map[string]*TokenRecord
}

func (s *cardsAndTokens) Token(_ context.Context, hash []byte) (*TokenRecord, error) {
	if t, ok := s.tokens[string(hash)]; ok {
		return t, nil
	}
	return nil, ErrNotFound
}

// revokedTokenPlatform returns a platform whose store holds a card that
// the CRLs of its verifier list, and a token of it, with the CA.
func revokedTokenPlatform(tb testing.TB) (*Platform, *testCA, string) {
	tb.Helper()
	now := time.Unix(1_800_000_000, 0)
	ca := newTestCA(tb)
	const id = "8944000000000000019"
	c := &CardRecord{ID: id, Chain: ca.chain(tb, id)}
	ca.revoke(tb, c.Chain)
	p, token := tokenPlatform(c, ca.verifier, func() time.Time { return now })
	return p, ca, token
}

// tokenPlatform returns a platform with verifier v and clock now, whose
// store holds card c and a token of it, good for an hour from now and
// bound to c's certificate, and that token.
func tokenPlatform(c *CardRecord, v *pki.Verifier, now func() time.Time) (*Platform, string) {
	const token = "token"
	h := sha256.Sum256([]byte(token))
	st := &cardsAndTokens{
		cardsOnly: &cardsOnly{cards: map[string]*CardRecord{c.ID: c}},
		tokens:    map[string]*TokenRecord{string(h[:]): {Hash: h[:], CardID: c.ID, CertHash: certHash(c), ExpiresAt: now().Add(time.Hour)}},
	}
	p := cachedPlatform(&Platform{store: st, verifier: v, now: now}, time.Hour)
	return p, token
}

// TestRevokedTokenVerifiedOnce: the token of a card that the CRLs list
// is refused, at every call, with the refusal of the one verification
// of its chain (the same error value: no call verifies it again) while
// the CRLs held are the same; a CRL that no longer lists the card makes
// its token good at once.
func TestRevokedTokenVerifiedOnce(t *testing.T) {
	p, ca, token := revokedTokenPlatform(t)
	ctx := context.Background()
	e, err := p.cardEntry(ctx, "8944000000000000019")
	require.NoError(t, err)
	first, err := p.refusal(e)
	require.NoError(t, err)
	require.ErrorIs(t, first, pki.ErrRevoked)
	for range 3 {
		_, err := p.auth(ctx, token)
		require.ErrorIs(t, err, ErrCard)
		again, err := p.refusal(e)
		require.NoError(t, err)
		assert.Same(t, first, again, "the refusal of the first verification")
	}

	der, err := ca.issuer.IssueCRL(nil, ca.issuer.LastCRLNumber()+1, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.NoError(t, ca.verifier.AddCRL(der))
	c, err := p.auth(ctx, token)
	require.NoError(t, err, "a CRL that no longer lists the card")
	assert.Equal(t, "8944000000000000019", c.ID)
}

// BenchmarkRevokedToken is a call with the token of a card that the CRLs
// list, refused as ErrCard.
func BenchmarkRevokedToken(b *testing.B) {
	p, _, token := revokedTokenPlatform(b)
	benchRefusedToken(b, p, token)
}

// benchRefusedToken is a call of p with token, refused as ErrCard.
func benchRefusedToken(b *testing.B, p *Platform, token string) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.auth(ctx, token); !errors.Is(err, ErrCard) {
			b.Fatal(err)
		}
	}
}

// expiredTokenPlatform returns a platform whose store holds a card whose
// certificate ended an hour before the time of the platform's clock, which
// is its verifier's too, and a token of it, with the CA and that time,
// which the caller may move.
func expiredTokenPlatform(tb testing.TB) (*Platform, *testCA, *time.Time, string) {
	tb.Helper()
	ca := newTestCA(tb)
	const id = "8944000000000000019"
	c := &CardRecord{ID: id, Chain: ca.chainWith(tb, id, pki.IssueOptions{Validity: time.Hour})}
	cert, err := pki.ParseCertificate(c.Chain[0])
	require.NoError(tb, err)
	now := cert.NotAfter.Add(time.Hour)
	clock := func() time.Time { return now }
	v, err := pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{ca.root.DER()}, Intermediates: [][]byte{ca.issuer.DER()}, Now: clock})
	require.NoError(tb, err)
	p, token := tokenPlatform(c, v, clock)
	return p, ca, &now, token
}

// verificationAllocs returns the allocations of a verification of chain,
// refused as expired, by a verifier of ca's without a cache clocked by
// now.
func verificationAllocs(t *testing.T, ca *testCA, now *time.Time, chain [][]byte) float64 {
	t.Helper()
	v, err := pki.NewVerifier(pki.VerifierOptions{
		Roots: [][]byte{ca.root.DER()}, Intermediates: [][]byte{ca.issuer.DER()}, Now: func() time.Time { return *now }, CacheSize: -1,
	})
	require.NoError(t, err)
	return testing.AllocsPerRun(100, func() {
		if _, err := v.VerifyCard(chain); !errors.Is(err, pki.ErrExpired) {
			t.Error(err)
		}
	})
}

// TestExpiredTokenVerifiedOnce: the token of a card whose certificate
// ended past the verifier's clock skew is refused with the error of the
// card's login, and every later check refuses it with the refusal of the
// first verification (the same error value, which the verifier keeps),
// allocating less than half what a verification does; a clock set back to
// the first time after the certificate's end and the skew still gets that
// refusal, one set back within the skew has the chain verified again and
// the token accepted, as before the certificate's end. A read of the
// store that finds the same chain again gets the same refusal, one that
// finds another chain is checked as that chain.
func TestExpiredTokenVerifiedOnce(t *testing.T) {
	p, ca, now, token := expiredTokenPlatform(t)
	ctx := context.Background()
	const id = "8944000000000000019"
	_, refused := p.auth(ctx, token)
	require.ErrorIs(t, refused, ErrCard)
	e, err := p.cardEntry(ctx, id)
	require.NoError(t, err)
	kept, err := p.expired(e)
	require.NoError(t, err)
	require.ErrorIs(t, kept, pki.ErrExpired)
	assert.Equal(t, verifyError(kept).Error(), refused.Error(), "the error of the card's login")
	for range 3 {
		_, err := p.auth(ctx, token)
		assert.Equal(t, refused.Error(), err.Error())
		again, err := p.expired(e)
		require.NoError(t, err)
		assert.Same(t, kept, again, "the refusal of the first verification")
	}
	assert.Less(t, testing.AllocsPerRun(100, func() {
		if refused, err := p.expired(e); err != nil || refused != kept {
			t.Error(refused, err)
		}
	}), verificationAllocs(t, ca, now, e.rec.Chain)/2, "no verification")

	t0 := *now
	end, err := e.expiry(p.verifier)
	require.NoError(t, err)
	*now = end.Add(pki.DefaultSkew + time.Nanosecond) // set back, still past the end and the skew
	again, err := p.expired(e)
	require.NoError(t, err)
	assert.Same(t, kept, again, "the time of the refusal's first comparison")
	*now = end.Add(pki.DefaultSkew) // within the skew
	again, err = p.expired(e)
	require.NoError(t, err)
	assert.Nil(t, again, "verified again, the validity accepted")
	c, err := p.auth(ctx, token)
	require.NoError(t, err, "within the skew")
	assert.Equal(t, id, c.ID)

	*now = t0.Add(2 * time.Hour) // past the cache's TTL: the card is read again
	st := p.store.(*cardsAndTokens)
	st.cards[id] = &CardRecord{ID: id, Chain: [][]byte{bytes.Clone(e.rec.Chain[0]), bytes.Clone(e.rec.Chain[1])}}
	same, err := p.cardEntry(ctx, id)
	require.NoError(t, err)
	require.NotSame(t, e, same)
	again, err = p.expired(same)
	require.NoError(t, err)
	require.ErrorIs(t, again, pki.ErrExpired, "the same chain")
	again2, err := p.expired(same)
	require.NoError(t, err)
	assert.Same(t, again, again2, "the refusal the verifier keeps")
	*now = now.Add(2 * time.Hour)
	st.cards[id] = &CardRecord{ID: id, Chain: ca.chain(t, id)}
	other, err := p.cardEntry(ctx, id)
	require.NoError(t, err)
	require.NotSame(t, same, other)
	again, err = p.expired(other)
	require.NoError(t, err)
	assert.Nil(t, again, "another chain, valid")
}

// revokeCard revokes the certificate of card id, which p's store holds
// and ca issued, hands p's verifier fresh CRLs of ca's CAs, from now for
// an hour, and returns the card's entry, which the CRLs list.
func revokeCard(tb testing.TB, p *Platform, ca *testCA, now time.Time, id string) *cachedCard {
	tb.Helper()
	e, err := p.cardEntry(context.Background(), id)
	require.NoError(tb, err)
	cert, err := pki.ParseCertificate(e.rec.Chain[0])
	require.NoError(tb, err)
	require.NoError(tb, ca.issuer.Revoke(cert.SerialNumber, pki.ReasonKeyCompromise))
	for _, c := range []*pki.CA{ca.root, ca.issuer} {
		crl, err := c.CRL(now.Add(time.Hour))
		require.NoError(tb, err)
		require.NoError(tb, p.verifier.AddCRL(crl))
	}
	revoked, err := e.revoked(p.verifier)
	require.NoError(tb, err)
	require.True(tb, revoked)
	return e
}

// TestRevokedAndExpiredToken: the token of a card that the CRLs list and
// whose certificate ended past the verifier's clock skew is refused with
// the error of the card's login, which is the expiry, and the later
// checks of it verify no chain (they allocate less than half what a
// verification does): the verifier keeps the refusal for the expiry.
func TestRevokedAndExpiredToken(t *testing.T) {
	p, ca, now, token := expiredTokenPlatform(t)
	ctx := context.Background()
	e := revokeCard(t, p, ca, *now, "8944000000000000019")

	_, refused := p.auth(ctx, token)
	_, loginErr := p.verifier.VerifyCard(e.rec.Chain)
	require.ErrorIs(t, loginErr, pki.ErrExpired)
	require.ErrorIs(t, refused, ErrCard)
	assert.Equal(t, verifyError(loginErr).Error(), refused.Error(), "the error of the card's login")
	assert.Less(t, testing.AllocsPerRun(100, func() {
		if err := p.trusted(e); !errors.Is(err, ErrCard) {
			t.Error(err)
		}
	}), verificationAllocs(t, ca, now, e.rec.Chain)/2, "no verification")
}

// BenchmarkExpiredToken is a call with the token of a card whose
// certificate ended past the verifier's clock skew, refused as ErrCard.
func BenchmarkExpiredToken(b *testing.B) {
	p, _, _, token := expiredTokenPlatform(b)
	benchRefusedToken(b, p, token)
}

// TestTokenOfCardUnderExpiredRoot: the token of a card whose chain
// verifies to a root not presented that ends before every certificate
// presented (another certificate of the name and key of the root that
// issued the card's CA, the one the verifier trusts) serves until that
// root's end and is refused past it (here past the verifier's clock skew
// too) with the error of the card's login: the end of the card's chain
// that the platform keeps with the card is that root's.
func TestTokenOfCardUnderExpiredRoot(t *testing.T) {
	ca := newTestCA(t)
	const id = "8944000000000000019"
	c := &CardRecord{ID: id, Chain: ca.chain(t, id)}
	now := time.Now().UTC().Truncate(time.Second)
	rc := ca.root.Certificate()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(9), RawSubject: rc.RawSubject, SubjectKeyId: rc.SubjectKeyId, AuthorityKeyId: rc.SubjectKeyId,
		NotBefore: rc.NotBefore, NotAfter: now.Add(30 * time.Minute),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
	root, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, rc.PublicKey, ca.root.Signer())
	require.NoError(t, err)
	clock := func() time.Time { return now }
	v, err := pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{root}, Intermediates: [][]byte{ca.issuer.DER()}, Now: clock})
	require.NoError(t, err)
	for _, c := range []*pki.CA{ca.root, ca.issuer} {
		crl, err := c.CRL(now.Add(3 * time.Hour))
		require.NoError(t, err)
		require.NoError(t, v.AddCRL(crl))
	}
	p, token := tokenPlatform(c, v, clock)
	ctx := context.Background()

	now = tmpl.NotAfter
	got, err := p.auth(ctx, token)
	require.NoError(t, err, "at the root's end")
	assert.Equal(t, id, got.ID)
	e, err := p.cardEntry(ctx, id)
	require.NoError(t, err)
	end, err := e.expiry(p.verifier)
	require.NoError(t, err)
	assert.Equal(t, tmpl.NotAfter, end, "the root's end")

	now = tmpl.NotAfter.Add(pki.DefaultSkew + time.Second)
	_, loginErr := v.VerifyCard(c.Chain)
	require.ErrorIs(t, loginErr, pki.ErrExpired)
	_, err = p.auth(ctx, token)
	require.ErrorIs(t, err, ErrCard)
	assert.Equal(t, verifyError(loginErr).Error(), err.Error(), "the error of the card's login")
}

// TestRevokedAndExpiredCardReads: a card that the CRLs list and whose
// certificate ended past the verifier's clock skew is hidden from the
// reads of other cards (its EID does not resolve, its session is not
// found) with the refusal of one verification of its chain, the expiry,
// which the verifier keeps: the later checks (refusal, which the reads of
// its pending requests share) return that same refusal and verify no
// chain, so that a resolution of its EID and a view of its session
// allocate less than half what a verification without a cache does.
func TestRevokedAndExpiredCardReads(t *testing.T) {
	p, ca, now, _ := expiredTokenPlatform(t)
	ctx := context.Background()
	const id = "8944000000000000019"
	secret := bytes.Repeat([]byte{0x5a}, adv.SecretSize)
	st := p.store.(*cardsAndTokens)
	st.cards[id].AdvSecret = secret
	require.NoError(t, p.Reload(ctx))
	e := revokeCard(t, p, ca, *now, id)

	first, err := p.refusal(e)
	require.NoError(t, err)
	require.ErrorIs(t, first, pki.ErrExpired)
	again, err := p.refusal(e)
	require.NoError(t, err)
	assert.Same(t, first, again, "the refusal of the first verification")

	k, err := adv.NewEIDKey(secret)
	require.NoError(t, err)
	eid := k.EID(adv.Epoch(*now))
	_, err = p.resolve(ctx, askingCard, eid[:], nil)
	require.ErrorIs(t, err, errUnknownEID)
	session := &SessionRecord{ShopperCardID: id, SellerCardID: id}
	_, err = p.sessionCards(ctx, session)
	require.Equal(t, ErrNotFound, err)

	verification := verificationAllocs(t, ca, now, e.rec.Chain)
	assert.Less(t, testing.AllocsPerRun(100, func() {
		if _, err := p.resolve(ctx, askingCard, eid[:], nil); !errors.Is(err, errUnknownEID) {
			t.Error(err)
		}
	}), verification/2, "a resolution: no verification")
	assert.Less(t, testing.AllocsPerRun(100, func() {
		if _, err := p.sessionCards(ctx, session); err != ErrNotFound {
			t.Error(err)
		}
	}), verification/2, "a session's view: no verification")
}

// BenchmarkRevokedAndExpiredSession is a view of a session of a card that
// the CRLs list and whose certificate ended past the verifier's clock
// skew, answered ErrNotFound.
func BenchmarkRevokedAndExpiredSession(b *testing.B) {
	p, ca, now, _ := expiredTokenPlatform(b)
	const id = "8944000000000000019"
	revokeCard(b, p, ca, *now, id)
	ctx := context.Background()
	session := &SessionRecord{ShopperCardID: id, SellerCardID: id}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.sessionCards(ctx, session); err != ErrNotFound {
			b.Fatal(err)
		}
	}
}

// BenchmarkReloadUnchanged: a Reload of 10 000 stored cards that the EID
// resolver holds already, with the same advertising secrets.
func BenchmarkReloadUnchanged(b *testing.B) {
	const n = 10000
	ctx := context.Background()
	st := &cardsOnly{cards: make(map[string]*CardRecord, n)}
	for i := range n {
		id := fmt.Sprintf("89440000%011d", i)
		secret := make([]byte, adv.SecretSize)
		binary.BigEndian.PutUint64(secret, uint64(i)+1)
		st.cards[id] = &CardRecord{ID: id, AdvSecret: secret}
	}
	now := time.Unix(1_800_000_000, 0)
	p := cachedPlatform(&Platform{store: st, now: func() time.Time { return now }}, DefaultCacheTTL)
	require.NoError(b, p.Reload(ctx))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Reload(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/card")
}

// TestReloadChangedSecret: a Reload that finds a card with another
// advertising secret than the one the EID resolver holds it with enrols
// it again: the EIDs of the new secret resolve to it, those of the former
// no longer; the card whose secret is unchanged still resolves. A secret
// that the resolver refuses takes the card out, and the same secret as
// before, found again, puts it back.
func TestReloadChangedSecret(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	const alice, bob = "8944000000000000001", "8944000000000000002"
	first, second := bytes.Repeat([]byte{0x5a}, adv.SecretSize), bytes.Repeat([]byte{0x5c}, adv.SecretSize)
	st := &cardsOnly{cards: map[string]*CardRecord{
		alice: {ID: alice, AdvSecret: first},
		bob:   {ID: bob, AdvSecret: bytes.Repeat([]byte{0x5b}, adv.SecretSize)},
	}}
	p := cachedPlatform(&Platform{store: st, now: func() time.Time { return now }}, DefaultCacheTTL)
	eid := func(secret []byte) adv.EID {
		k, err := adv.NewEIDKey(secret)
		require.NoError(t, err)
		return k.EID(adv.Epoch(now))
	}
	requireNames := func(secret []byte, want string, what string) {
		t.Helper()
		id, ok := p.resolver.Resolve(eid(secret), now)
		if want == "" {
			assert.False(t, ok, "%s: resolves to %q", what, id)
			return
		}
		assert.True(t, ok, what)
		assert.Equal(t, want, id, what)
	}
	require.NoError(t, p.Reload(ctx))
	requireNames(first, alice, "Alice's first secret")

	st.cards[alice] = &CardRecord{ID: alice, AdvSecret: second}
	require.NoError(t, p.Reload(ctx))
	requireNames(second, alice, "Alice's second secret")
	requireNames(first, "", "Alice's first secret, replaced")
	requireNames(st.cards[bob].AdvSecret, bob, "Bob's unchanged secret")

	st.cards[alice] = &CardRecord{ID: alice, AdvSecret: second[:adv.SecretSize-1]}
	var bad *UnresolvableCardsError
	require.ErrorAs(t, p.Reload(ctx), &bad)
	assert.Equal(t, []string{alice}, bad.CardIDs)
	requireNames(second, "", "Alice's second secret, then refused")

	st.cards[alice] = &CardRecord{ID: alice, AdvSecret: second}
	require.NoError(t, p.Reload(ctx))
	requireNames(second, alice, "Alice's second secret, found again")
	requireNames(st.cards[bob].AdvSecret, bob, "Bob's unchanged secret")
	assert.Equal(t, []string{alice, bob}, p.resolver.CardIDs())
}

// TestLimiterGiveBackHoldsBurst: the draws given back fill a bucket up to
// its burst and no further, also when a draw between them found it
// refilled: two calls that drew and both gave back leave the card its
// burst, not one more. (Another card in debt, drawn on before it, keeps
// its bucket from the sweep.)
func TestLimiterGiveBackHoldsBurst(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var l limiter
	l.init(0.01, 2, "logins")
	require.NoError(t, l.allow("card", t0))
	t1 := t0.Add(200 * time.Second) // the card's bucket has refilled
	require.NoError(t, l.allow("other", t1))
	require.NoError(t, l.allow("card", t1))
	l.giveBack("card")
	l.giveBack("card")
	for i := range 2 {
		require.NoError(t, l.allow("card", t1), "draw %d of the burst", i+1)
	}
	var rl *RateLimitedError
	require.ErrorAs(t, l.allow("card", t1), &rl, "past the burst")
	assert.Equal(t, 100*time.Second, rl.RetryAfter)
}

// TestLimiterRefusesAFractionOfAToken: a bucket holding part of a token
// refuses the call, draws nothing, and names as its retry time the first
// instant at which the bucket holds a whole token, rounded up to the
// nanosecond: at 3 a second, a third of a second is 333333333.3 ns, so
// 333333334 ns, and the call at 333333333 ns is refused still.
func TestLimiterRefusesAFractionOfAToken(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var l limiter
	l.init(3, 1, "logins")
	require.NoError(t, l.allow("card", t0))
	var rl *RateLimitedError
	require.ErrorAs(t, l.allow("card", t0), &rl, "an empty bucket")
	assert.Equal(t, 333333334*time.Nanosecond, rl.RetryAfter)
	assert.EqualError(t, rl, "payflow: rate limited: too many logins (retry after 333.333334ms)")
	require.ErrorAs(t, l.allow("card", t0.Add(333333333)), &rl, "a nanosecond early")
	assert.Equal(t, time.Nanosecond, rl.RetryAfter)
	require.NoError(t, l.allow("card", t0.Add(333333334)), "at the retry time")
	require.ErrorIs(t, l.allow("card", t0.Add(333333334)), ErrRateLimited, "the token drawn")
}
