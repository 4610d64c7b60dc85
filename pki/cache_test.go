package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCache(t *testing.T) {
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	v := newVerifier(t, h, clk, VerifierOptions{})
	addCRLs(t, h, v)

	first, err := v.VerifyCard(h.chain())
	require.NoError(t, err)
	assert.Equal(t, 1, v.cache.len())
	again, err := v.VerifyCard(h.chain())
	require.NoError(t, err)
	assert.Equal(t, first, again)
	assert.Equal(t, 1, v.cache.len())

	t.Run("split chain is another key", func(t *testing.T) {
		joined := [][]byte{bytes.Join(h.chain(), nil)}
		_, err := v.VerifyCard(joined)
		assert.ErrorIs(t, err, ErrUntrusted)
	})

	t.Run("role is part of the key", func(t *testing.T) {
		_, err := v.VerifyPlatform(h.chain())
		assert.ErrorIs(t, err, ErrUsage)
	})

	t.Run("revocation invalidates", func(t *testing.T) {
		require.NoError(t, h.ca.Revoke(mustParse(t, h.card).SerialNumber, ReasonKeyCompromise))
		crl, err := h.ca.CRL(t0.Add(24 * time.Hour))
		require.NoError(t, err)
		require.NoError(t, v.AddCRL(crl))
		assert.Equal(t, 0, v.cache.len())
		_, err = v.VerifyCard(h.chain())
		assert.ErrorIs(t, err, ErrRevoked)
	})
}

// shortCard returns a certificate of h's card valid for two hours from
// t0, and its chain.
func (h *hierarchy) shortCard(t *testing.T) ([]byte, [][]byte) {
	t.Helper()
	short, err := h.ca.IssueCard(h.cardKey.Public(), testICCID, IssueOptions{Validity: 2 * time.Hour})
	require.NoError(t, err)
	return short, append([][]byte{short}, h.ca.Chain()...)
}

// TestCacheExpiry: a verified chain is not served past the earliest
// NotAfter of its chain or NextUpdate of its CRLs, nor before its
// NotBefore (here without a skew); a chain then refused as expired has
// its refusal kept in place of the verified chain, one refused for a
// stale CRL has none.
func TestCacheExpiry(t *testing.T) {
	h := newHierarchy(t)
	_, shortChain := h.shortCard(t)

	clk := newClock(t0.Add(time.Hour))
	v := newVerifier(t, h, clk, VerifierOptions{Skew: -1})
	addCRLs(t, h, v) // next update t0 + 24h
	verified := func() int { return v.cache.len() - v.cache.refusals() }

	_, err := v.VerifyCard(h.chain())
	require.NoError(t, err)
	_, err = v.VerifyCard(shortChain)
	require.NoError(t, err)
	assert.Equal(t, 2, v.cache.len())

	clk.set(t0.Add(2*time.Hour + time.Second)) // past the short card's NotAfter
	_, err = v.VerifyCard(shortChain)
	assert.ErrorIs(t, err, ErrExpired)
	_, err = v.VerifyCard(h.chain())
	assert.NoError(t, err)
	assert.Equal(t, 1, verified())
	assert.Equal(t, 1, v.cache.refusals(), "the short chain's refusal")

	clk.set(t0.Add(24*time.Hour + time.Second)) // past the CRLs' next update
	_, err = v.VerifyCard(h.chain())
	assert.ErrorIs(t, err, ErrCRL)
	assert.Equal(t, 0, verified())
	assert.Equal(t, 1, v.cache.len(), "no refusal kept for a stale CRL")

	clk.set(t0.Add(time.Hour))
	_, err = v.VerifyCard(h.chain())
	require.NoError(t, err)
	require.Equal(t, 1, verified())
	clk.set(t0.Add(-time.Second)) // a clock set back before the chain starts
	_, err = v.VerifyCard(h.chain())
	assert.ErrorIs(t, err, ErrExpired)
	assert.Equal(t, 0, verified())
}

// TestCacheBeforeCRL sets the clock back before the this-update of the CRLs
// a cached chain relied on: the cache must not serve what a verification
// without it refuses.
func TestCacheBeforeCRL(t *testing.T) {
	caClock := newClock(t0)
	h := newHierarchyAt(t, caClock.now)
	caClock.set(t0.Add(2 * time.Hour))
	crls := h.crls(t) // this update t0 + 2h

	clk := newClock(t0.Add(3 * time.Hour))
	cached := newVerifier(t, h, clk, VerifierOptions{Skew: -1})
	uncached := newVerifier(t, h, clk, VerifierOptions{Skew: -1, CacheSize: -1})
	for _, v := range []*Verifier{cached, uncached} {
		for _, crl := range crls {
			require.NoError(t, v.AddCRL(crl))
		}
		_, err := v.VerifyCard(h.chain())
		require.NoError(t, err)
	}
	require.Equal(t, 1, cached.cache.len())

	clk.set(t0.Add(time.Hour)) // the card is valid, the CRLs not yet
	for _, v := range []*Verifier{uncached, cached} {
		_, err := v.VerifyCard(h.chain())
		require.ErrorIs(t, err, ErrCRL, "cached: %t", v.cache != nil)
		var pe *Error
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, 0, pe.Cert)
	}
}

func TestCacheBound(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{CacheSize: 2})
	addCRLs(t, h, v)
	var chains [][][]byte
	for range 3 {
		der, err := h.ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{})
		require.NoError(t, err)
		chains = append(chains, append([][]byte{der}, h.ca.Chain()...))
	}
	for _, c := range chains {
		_, err := v.VerifyCard(c)
		require.NoError(t, err)
	}
	assert.Equal(t, 2, v.cache.len())
	_, ok := v.cache.idx[chainKey(roleCard, chains[0])]
	assert.False(t, ok, "the least recently used chain left")

	off := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{CacheSize: -1})
	addCRLs(t, h, off)
	_, err := off.VerifyCard(chains[0])
	require.NoError(t, err)
	assert.Nil(t, off.cache)
}

// TestConcurrentRevocation verifies chains from many goroutines while a CRL
// revokes the card: once AddCRL has returned, no verification succeeds.
// AddCRL runs once each goroutine has verified the chain at least once, so
// that it meets verifications under way and a cached acceptance.
// TestCacheCRLAcceptedDuringCheck places the CRL's acceptance inside one
// check exactly.
func TestConcurrentRevocation(t *testing.T) {
	h, v, crl := cardRevokedByNextCRL(t)

	var wg, started sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		started.Add(1)
		wg.Go(func() {
			first := true
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := v.VerifyCard(h.chain()); err != nil {
					assert.ErrorIs(t, err, ErrRevoked)
				}
				if first {
					first = false
					started.Done()
				}
			}
		})
	}
	started.Wait()
	require.NoError(t, v.AddCRL(crl))
	for range 20 {
		_, err := v.VerifyCard(h.chain())
		require.ErrorIs(t, err, ErrRevoked)
	}
	close(stop)
	wg.Wait()
	_, err := v.VerifyCard(h.chain())
	assert.ErrorIs(t, err, ErrRevoked)
}

// TestCacheRevoked: a chain refused as revoked is refused again from the
// cache, with the same error value and no verification, until a CRL is
// accepted (one that no longer lists the card makes it accepted at once)
// or the time crosses a bound that a verification compares: the card's
// expiry then turns the refusal into ErrExpired.
func TestCacheRevoked(t *testing.T) {
	h := newHierarchy(t)
	short, shortChain := h.shortCard(t)
	clk := newClock(t0.Add(time.Hour))
	v := newVerifier(t, h, clk, VerifierOptions{})
	addCRLs(t, h, v)
	for _, der := range [][]byte{h.card, short} {
		require.NoError(t, h.ca.Revoke(mustParse(t, der).SerialNumber, ReasonKeyCompromise))
	}
	addCRLs(t, h, v)

	first, err := v.VerifyCard(h.chain())
	require.ErrorIs(t, err, ErrRevoked)
	require.Nil(t, first)
	assert.Equal(t, 1, v.cache.len(), "the refusal kept")
	again, err2 := v.VerifyCard(h.chain())
	assert.Nil(t, again)
	assert.Same(t, err, err2, "the refusal served from the cache, not verified again")
	_, err3 := v.VerifyPlatform(h.chain())
	assert.ErrorIs(t, err3, ErrUsage, "the role is part of the key")

	_, err = v.VerifyCard(shortChain)
	require.ErrorIs(t, err, ErrRevoked)
	clk.set(t0.Add(2*time.Hour + DefaultSkew + time.Second)) // past the short card's expiry
	_, err = v.VerifyCard(shortChain)
	assert.ErrorIs(t, err, ErrExpired, "expiry comes before revocation, cached or not")

	clk.set(t0.Add(time.Hour))
	der, err := h.ca.IssueCRL(nil, h.ca.LastCRLNumber()+1, t0.Add(24*time.Hour))
	require.NoError(t, err)
	require.NoError(t, v.AddCRL(der))
	vc, err := v.VerifyCard(h.chain())
	require.NoError(t, err, "a CRL no longer listing the card")
	assert.Equal(t, testICCID, vc.CardID)
}

// reissuedRoot returns another certificate of h's root, its name and key,
// self-signed, valid from t0 to notAfter.
func (h *hierarchy) reissuedRoot(t *testing.T, notAfter time.Time) []byte {
	t.Helper()
	root := h.root.Certificate()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(9), RawSubject: root.RawSubject, SubjectKeyId: root.SubjectKeyId,
		AuthorityKeyId: root.SubjectKeyId, NotBefore: t0, NotAfter: notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, root.PublicKey, h.root.Signer())
	require.NoError(t, err)
	return der
}

// TestCacheExpired: a chain refused as expired, for a certificate
// presented past its NotAfter plus the skew (the card's, no signature
// checked) or for a root not presented past its NotAfter (a certificate
// of the hierarchy's root that ends before the card CA's), is refused
// again from the cache, with the same error value and no verification, as
// one of the refusals, while the time stays on the same side of every
// time that the verification compared: at the first of them before the
// refusal's time (NotAfter plus the skew plus 1ns, or NotAfter plus 1ns)
// the refusal is served, a nanosecond before it the chain is verified
// again, and accepted. The expiry comes before the revocation: a chain
// that the CRLs list too is refused as expired, from the cache as well.
func TestCacheExpired(t *testing.T) {
	for _, tc := range []struct {
		name    string
		end, at time.Time // the last time the chain is accepted, the refusal's
		cert    int       // of ErrExpired
	}{
		{"card past its NotAfter plus the skew", t0.Add(2*time.Hour + DefaultSkew), t0.Add(3 * time.Hour), 0},
		{"root not presented past its NotAfter", t0.Add(3 * time.Hour), t0.Add(3*time.Hour + time.Minute), -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHierarchy(t)
			_, chain := h.shortCard(t) // valid until t0 + 2h
			root := h.root.DER()       // valid for twenty years
			if tc.cert == -1 {
				chain = h.chain() // valid for five years
				root = h.reissuedRoot(t, tc.end)
			}
			clk := newClock(tc.at)
			v, err := NewVerifier(VerifierOptions{Roots: [][]byte{root}, Intermediates: [][]byte{h.ca.DER()}, Now: clk.now})
			require.NoError(t, err)
			addCRLs(t, h, v) // from t0 to t0 + 24h

			first, err := v.VerifyCard(chain)
			require.Nil(t, first)
			requireRefusal(t, err, ErrExpired, tc.cert)
			// Served later from the cache, its message names no time of
			// the check (crypto/x509's says "current time …").
			assert.NotContains(t, err.Error(), tc.at.UTC().Format(time.RFC3339), "no check time in the message")
			assert.Equal(t, 1, v.cache.refusals(), "the refusal kept")
			again, err2 := v.VerifyCard(chain)
			assert.Nil(t, again)
			assert.Same(t, err, err2, "the refusal served from the cache, not verified again")

			clk.set(tc.end.Add(time.Nanosecond)) // set back to the refusal's first time
			_, err2 = v.VerifyCard(chain)
			assert.Same(t, err, err2, "served from the cache")
			clk.set(tc.end)
			vc, err2 := v.VerifyCard(chain)
			require.NoError(t, err2, "set back across a time the verification compared")
			assert.Equal(t, testICCID, vc.CardID)

			require.NoError(t, h.ca.Revoke(mustParse(t, chain[0]).SerialNumber, ReasonKeyCompromise))
			addCRLs(t, h, v)
			clk.set(tc.at)
			_, revoked := v.VerifyCard(chain)
			requireRefusal(t, revoked, ErrExpired, tc.cert)
			_, err2 = v.VerifyCard(chain)
			assert.Same(t, revoked, err2, "the refusal of a chain the CRLs list too, served from the cache")
		})
	}
}

// TestCacheExpiredWithoutEnd: a chain refused as expired once every time
// that the verification compares is past (the card, its CA and the root,
// each past its NotAfter plus the skew, the CRLs past their NextUpdate)
// stays refused however far the clock goes on: its refusal is served from
// the cache, with the same error value and no verification, at any later
// time, and from the last of those times on (the root's NotAfter plus the
// skew plus 1ns); a nanosecond before it the chain is verified again.
func TestCacheExpiredWithoutEnd(t *testing.T) {
	h := newHierarchy(t)
	end := h.root.Certificate().NotAfter.Add(DefaultSkew + time.Nanosecond)
	clk := newClock(end.Add(24 * time.Hour))
	v := newVerifier(t, h, clk, VerifierOptions{})
	clk.set(t0.Add(time.Hour))
	addCRLs(t, h, v) // from t0 to t0 + 24h
	clk.set(end.Add(24 * time.Hour))

	first, err := v.VerifyCard(h.chain())
	require.Nil(t, first)
	requireRefusal(t, err, ErrExpired, 0)
	assert.Equal(t, 1, v.cache.refusals(), "the refusal kept")
	_, err2 := v.VerifyCard(h.chain())
	assert.Same(t, err, err2, "the refusal served from the cache, not verified again")
	clk.set(end.Add(50 * 365 * 24 * time.Hour))
	_, err2 = v.VerifyCard(h.chain())
	assert.Same(t, err, err2, "served from the cache fifty years on")
	clk.set(end)
	_, err2 = v.VerifyCard(h.chain())
	assert.Same(t, err, err2, "served from the cache at the last time compared")

	clk.set(end.Add(-time.Nanosecond))
	_, err2 = v.VerifyCard(h.chain())
	requireRefusal(t, err2, ErrExpired, 0)
	assert.NotSame(t, err, err2, "set back across the root's NotAfter plus the skew: verified again")
}

// crossCA returns a certificate of h's card CA, its name and key, issued
// by root, valid from t0 for a year.
func (h *hierarchy) crossCA(t *testing.T, root *CA) []byte {
	t.Helper()
	ca := h.ca.Certificate()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), RawSubject: ca.RawSubject, SubjectKeyId: ca.SubjectKeyId,
		NotBefore: t0, NotAfter: t0.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
		CRLDistributionPoints: []string{"http://pki.example/later.crl"},
	}
	cross, err := x509.CreateCertificate(rand.Reader, tmpl, root.Certificate(), ca.PublicKey, root.Signer())
	require.NoError(t, err)
	return cross
}

// rootWithCRL returns a root made at made, its CRL distribution point
// url, and its CRL issued at issued with the next update next.
func rootWithCRL(t *testing.T, url string, made, issued, next time.Time) (*CA, []byte) {
	t.Helper()
	clk := newClock(made)
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: url, Now: clk.now})
	require.NoError(t, err)
	clk.set(issued)
	crl, err := root.CRL(next)
	require.NoError(t, err)
	return root, crl
}

// revokedCAVerifier returns a verifier trusting h's root and root,
// knowing h's card CA, clocked by clk, holding h's CRLs, in which the root
// lists the card CA.
func (h *hierarchy) revokedCAVerifier(t *testing.T, root *CA, clk *clock) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierOptions{
		Roots: [][]byte{h.root.DER(), root.DER()}, Intermediates: [][]byte{h.ca.DER()}, Now: clk.now,
	})
	require.NoError(t, err)
	require.NoError(t, h.root.Revoke(h.ca.Certificate().SerialNumber, ReasonCACompromise))
	addCRLs(t, h, v)
	return v
}

// TestCacheRevokedUntilAnotherPath: a chain refused as revoked through a
// revoked CA, which holds another CA certificate of the same name and key
// under a root not yet valid, is accepted once that root is valid, under
// the same CRLs: the refusal is not served past the root's start.
func TestCacheRevokedUntilAnotherPath(t *testing.T) {
	h := newHierarchy(t)
	later, laterCRL := rootWithCRL(t, "http://pki.example/later.crl", t0.Add(2*time.Hour), t0, t0.Add(24*time.Hour))
	cross := h.crossCA(t, later) // the card CA again, under the later root

	clk := newClock(t0.Add(time.Hour))
	v := h.revokedCAVerifier(t, later, clk)
	require.NoError(t, v.AddCRL(laterCRL))

	chain := [][]byte{h.card, h.ca.DER(), cross}
	_, err := v.VerifyCard(chain)
	require.ErrorIs(t, err, ErrRevoked, "the only path valid now holds the revoked CA")
	require.Equal(t, 1, v.cache.len(), "the refusal kept")
	clk.set(t0.Add(3 * time.Hour))
	vc, err := v.VerifyCard(chain)
	require.NoError(t, err, "the path under the later root")
	assert.Equal(t, later.DER(), vc.Chain[2].Raw)
}

// TestCacheRevokedClockMoved: a refusal for revocation is not served once
// the clock, set back or forward, crosses a time that the verification
// compared, and the chain then gets the answer of a fresh verification:
// the card's validity with the skew (ErrExpired), or the update times of
// a CRL that another path needs (that path accepts the chain). Across the
// card's own validity bounds, which only move the time x509.Verify is
// asked about, the answer is the same, but the refusal is verified again,
// as PROTOCOL.md §4.5 says (a new error value).
func TestCacheRevokedClockMoved(t *testing.T) {
	nb := t0.Add(2 * time.Hour)
	for _, tc := range []struct {
		name     string
		validity time.Duration // of the card, from nb
		at, then time.Time     // the first verification's time, the next one's
		want     error         // ErrExpired, or nil: revoked again, verified afresh
	}{
		{"set back before NotBefore less the skew", 24 * time.Hour, nb.Add(-DefaultSkew / 2), nb.Add(-DefaultSkew - time.Second), ErrExpired},
		{"past NotAfter plus the skew", time.Hour, nb.Add(time.Hour + DefaultSkew/2), nb.Add(time.Hour + DefaultSkew + time.Second), ErrExpired},
		{"set back before NotBefore, within the skew", 24 * time.Hour, nb.Add(time.Second), nb.Add(-DefaultSkew / 2), nil},
		{"past NotAfter, within the skew", time.Hour, nb.Add(time.Hour - time.Second), nb.Add(time.Hour + DefaultSkew/2), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHierarchy(t)
			card, err := h.ca.IssueCard(h.cardKey.Public(), testICCID, IssueOptions{NotBefore: nb, Validity: tc.validity})
			require.NoError(t, err)
			chain := append([][]byte{card}, h.ca.Chain()...)
			require.NoError(t, h.ca.Revoke(mustParse(t, card).SerialNumber, ReasonKeyCompromise))
			clk := newClock(t0.Add(time.Hour))
			v := newVerifier(t, h, clk, VerifierOptions{})
			addCRLs(t, h, v) // from t0 to t0 + 24h

			clk.set(tc.at)
			first, err := v.VerifyCard(chain)
			require.Nil(t, first)
			require.ErrorIs(t, err, ErrRevoked)
			require.Equal(t, 1, v.cache.len(), "the refusal kept")
			clk.set(tc.then)
			_, again := v.VerifyCard(chain)
			if tc.want != nil {
				assert.ErrorIs(t, again, tc.want)
				assert.NotErrorIs(t, again, ErrRevoked)
				return
			}
			assert.ErrorIs(t, again, ErrRevoked)
			assert.NotSame(t, err, again, "verified again, not served from the cache")
		})
	}

	// Two paths: through the card CA, which the root's CRL lists, and
	// through another root's certificate of the same CA, whose CRL is not
	// fresh when the chain is first refused.
	for _, tc := range []struct {
		name          string
		issued, next  time.Time // the other root's CRL
		add, at, then time.Time // the CRL's acceptance, the refusal, the next verification
	}{
		{"set back before the next update plus the skew", t0, t0.Add(2 * time.Hour), t0.Add(time.Hour), t0.Add(3 * time.Hour), t0.Add(time.Hour)},
		{"set back before the this update less the skew, then forward", t0.Add(2 * time.Hour), t0.Add(24 * time.Hour), t0.Add(2 * time.Hour), t0.Add(time.Hour), t0.Add(2 * time.Hour)},
		{"set back to the next update plus the skew", t0, t0.Add(2 * time.Hour), t0.Add(time.Hour), t0.Add(3 * time.Hour), t0.Add(2*time.Hour + DefaultSkew)},
		{"set back before the this update less the skew, then forward to it", t0.Add(2 * time.Hour), t0.Add(24 * time.Hour), t0.Add(2 * time.Hour), t0.Add(time.Hour), t0.Add(2*time.Hour - DefaultSkew)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHierarchy(t)
			other, otherCRL := rootWithCRL(t, "http://pki.example/other.crl", t0, tc.issued, tc.next)
			cross := h.crossCA(t, other)

			clk := newClock(t0.Add(time.Hour))
			v := h.revokedCAVerifier(t, other, clk)
			clk.set(tc.add)
			require.NoError(t, v.AddCRL(otherCRL))

			chain := [][]byte{h.card, h.ca.DER(), cross}
			clk.set(tc.at)
			_, err := v.VerifyCard(chain)
			require.ErrorIs(t, err, ErrRevoked, "the listed CA's path; the other one's CRL is not fresh")
			require.Equal(t, 1, v.cache.len(), "the refusal kept")
			clk.set(tc.then)
			vc, err := v.VerifyCard(chain)
			require.NoError(t, err, "the other root's path, its CRL fresh")
			assert.Equal(t, other.DER(), vc.Chain[2].Raw)
		})
	}
}

// TestCacheRefusalsCapped: refusals for revocation and for expiry take,
// together, at most a quarter of CacheSize (here 2 of 8): any number of
// chains refused after 6 verified ones (revoked and expired in turn)
// evicts none of these, only the least recently used refusal.
func TestCacheRefusalsCapped(t *testing.T) {
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	v := newVerifier(t, h, clk, VerifierOptions{CacheSize: 8})
	issue := func(validity time.Duration) [][]byte {
		der, err := h.ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{Validity: validity})
		require.NoError(t, err)
		return append([][]byte{der}, h.ca.Chain()...)
	}
	var accepted, refused [][][]byte
	for range 6 {
		accepted = append(accepted, issue(0))
	}
	want := make([]error, 10)
	for i := range want {
		if i%2 == 1 {
			refused = append(refused, issue(time.Second)) // ended before the clock's time
			want[i] = ErrExpired
			continue
		}
		chain := issue(0)
		require.NoError(t, h.ca.Revoke(mustParse(t, chain[0]).SerialNumber, ReasonKeyCompromise))
		refused = append(refused, chain)
		want[i] = ErrRevoked
	}
	addCRLs(t, h, v)

	verified := make([]*VerifiedCard, len(accepted))
	for i, chain := range accepted {
		vc, err := v.VerifyCard(chain)
		require.NoError(t, err)
		verified[i] = vc
	}
	refusals := make([]error, len(refused))
	for i, chain := range refused {
		_, refusals[i] = v.VerifyCard(chain)
		require.ErrorIs(t, refusals[i], want[i])
		assert.LessOrEqual(t, v.cache.refusals(), 2, "after %d refusals", i+1)
	}
	assert.Equal(t, 8, v.cache.len())
	assert.Equal(t, 2, v.cache.refusals())
	for i, chain := range accepted {
		vc, err := v.VerifyCard(chain)
		require.NoError(t, err)
		assert.Same(t, verified[i].Chain[0], vc.Chain[0], "verified chain %d served from the cache", i)
	}
	for i := len(refused) - 1; i >= 0; i-- { // the last two first, before the others take their room
		_, err := v.VerifyCard(refused[i])
		require.ErrorIs(t, err, want[i])
		if i < len(refused)-2 {
			assert.NotSame(t, refusals[i], err, "refusal %d evicted by a later one", i)
		} else {
			assert.Same(t, refusals[i], err, "refusal %d, among the last two, served from the cache", i)
		}
	}
	assert.Equal(t, 8, v.cache.len())
	assert.Equal(t, 2, v.cache.refusals())
}

// TestCacheNoRoomForRefusals: a cache of 1 to 3 chains has no room for
// refusals (a quarter of it, rounded down, is none): put keeps none and
// spends no allocation on one, and the verified chain the cache holds
// stays; a refusal still takes the place of what its own key held.
func TestCacheNoRoomForRefusals(t *testing.T) {
	crls := new(map[string]*heldCRL)
	var current atomic.Pointer[map[string]*heldCRL]
	current.Store(crls)
	verified := &result{validFrom: t0, expiry: t0.Add(time.Hour)}
	refused := &result{err: ErrRevoked, validFrom: t0, expiry: t0.Add(time.Hour)}
	for size := 1; size <= 3; size++ {
		c := newCache(size)
		require.Zero(t, c.maxRefused, size)
		c.put([32]byte{1}, verified, t0, crls, &current)
		assert.Zero(t, testing.AllocsPerRun(100, func() { c.put([32]byte{2}, refused, t0, crls, &current) }), size)
		assert.Equal(t, 1, c.len(), size)
		assert.Zero(t, c.refusals(), size)
		assert.Zero(t, c.refused.Len(), size)
		assert.Same(t, verified, c.get([32]byte{1}, t0, crls), size)

		c.put([32]byte{1}, refused, t0, crls, &current)
		assert.Zero(t, c.len(), size)
		assert.Nil(t, c.get([32]byte{1}, t0, crls), size)
	}
}

// TestCacheRefusalServedIsRecent: a refusal served from the cache becomes
// the most recently used refusal, so that the next refusal beyond the cap
// (2 of 8) evicts the other one: r0 and r1 refused, r0 served again, r2
// refused; r0 is still served from the cache, r1 is verified again.
func TestCacheRefusalServedIsRecent(t *testing.T) {
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	v := newVerifier(t, h, clk, VerifierOptions{CacheSize: 8})
	revoked := make([][][]byte, 3)
	for i := range revoked {
		der, err := h.ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{})
		require.NoError(t, err)
		require.NoError(t, h.ca.Revoke(mustParse(t, der).SerialNumber, ReasonKeyCompromise))
		revoked[i] = append([][]byte{der}, h.ca.Chain()...)
	}
	addCRLs(t, h, v)

	refusals := make([]error, len(revoked))
	refuse := func(i int) {
		t.Helper()
		_, refusals[i] = v.VerifyCard(revoked[i])
		requireRefusal(t, refusals[i], ErrRevoked, 0)
	}
	refuse(0)
	refuse(1)
	_, err := v.VerifyCard(revoked[0])
	require.Same(t, refusals[0], err, "r0 served from the cache")
	refuse(2)
	assert.Equal(t, 2, v.cache.refusals())

	_, err = v.VerifyCard(revoked[0])
	assert.Same(t, refusals[0], err, "r0, served after r1 was refused, kept")
	_, err = v.VerifyCard(revoked[1])
	requireRefusal(t, err, ErrRevoked, 0)
	assert.NotSame(t, refusals[1], err, "r1 evicted by r2")
}

// TestCacheCertificateNotOnPath: a chain presented with a certificate that
// the path built does not hold (a second CA under the root, valid for an
// hour) gets from the cache the exact answer of a verifier without a
// cache, at the time it is first verified and at a later one, forward or
// set back: the presented certificate's validity with the skew bounds the
// cached chain as it bounds the check of the certificates presented,
// NotBefore less the skew accepted, NotAfter plus the skew accepted, a
// nanosecond beyond either refused as ErrExpired for certificate 2.
func TestCacheCertificateNotOnPath(t *testing.T) {
	late := t0.Add(2 * time.Hour)
	for _, tc := range []struct {
		name      string
		notBefore time.Time // of the CA not on the path, valid for an hour
		at, then  time.Time // the first verification's time, the next one's
		reason    string    // of ErrExpired at then, "" when accepted
	}{
		{"past NotAfter plus the skew", t0, t0.Add(10 * time.Minute), t0.Add(2 * time.Hour), "expired"},
		{"a nanosecond past NotAfter plus the skew", t0, t0.Add(10 * time.Minute), t0.Add(time.Hour + DefaultSkew + 1), "expired"},
		{"at NotAfter plus the skew", t0, t0.Add(10 * time.Minute), t0.Add(time.Hour + DefaultSkew), ""},
		{"set back before NotBefore less the skew", late, late.Add(10 * time.Minute), t0.Add(time.Hour), "not yet valid"},
		{"set back a nanosecond before NotBefore less the skew", late, late.Add(10 * time.Minute), late.Add(-DefaultSkew - 1), "not yet valid"},
		{"set back to NotBefore less the skew", late, late.Add(10 * time.Minute), late.Add(-DefaultSkew), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHierarchy(t)
			chain := [][]byte{h.card, h.ca.DER(), h.secondCA(t, tc.notBefore, time.Hour)}
			clk := newClock(t0)
			cached := newVerifier(t, h, clk, VerifierOptions{})
			uncached := newVerifier(t, h, clk, VerifierOptions{CacheSize: -1})
			addCRLs(t, h, cached) // from t0 to t0 + 24h
			addCRLs(t, h, uncached)

			clk.set(tc.at)
			want, err := uncached.VerifyCard(chain)
			require.NoError(t, err)
			first, err := cached.VerifyCard(chain)
			require.NoError(t, err)
			assert.Equal(t, want, first)
			assert.Len(t, first.Chain, 3, "card, card CA, root")

			clk.set(tc.then)
			want, wantErr := uncached.VerifyCard(chain)
			got, err := cached.VerifyCard(chain)
			assert.Equal(t, want, got)
			assert.Equal(t, wantErr, err)
			if tc.reason == "" {
				require.NoError(t, wantErr)
				assert.Same(t, first.Chain[0], got.Chain[0], "served from the cache")
				return
			}
			requireRefusal(t, wantErr, ErrExpired, 2)
			var pe *Error
			require.ErrorAs(t, wantErr, &pe)
			assert.Equal(t, tc.reason, pe.Reason)
		})
	}
}

// TestCacheRootNotPresentedStartsLater: a chain whose path ends in a root
// not presented, issued at R, later than every certificate presented, gets
// from the cache the exact answer of a verifier without a cache when the
// clock is set back from R + 10m. x509.Verify checks that root, without
// the skew, at the time moved into the validity of the certificates
// presented: before R the chain is refused (ErrExpired for the root, not
// presented) unless the card starts at R or later, and then the card's
// NotBefore less the skew bounds it (ErrExpired for the card).
func TestCacheRootNotPresentedStartsLater(t *testing.T) {
	R := t0.Add(2 * time.Hour)
	for _, tc := range []struct {
		name   string
		cardNB time.Time // the card CA's NotBefore is t0
		then   time.Time
		cert   int // of ErrExpired at then; -2 when accepted
	}{
		{"a nanosecond before the root's NotBefore", t0, R.Add(-1), -1},
		{"at the root's NotBefore", t0, R, -2},
		{"at the root's NotBefore less the skew", t0, R.Add(-DefaultSkew), -1},
		{"card from R+1m, at R-2m", R.Add(time.Minute), R.Add(-2 * time.Minute), -2},
		{"card from R+1m, at its NotBefore less the skew", R.Add(time.Minute), R.Add(time.Minute - DefaultSkew), -2},
		{"card from R+1m, a nanosecond before its NotBefore less the skew", R.Add(time.Minute), R.Add(time.Minute - DefaultSkew - 1), 0},
		{"card from R, a nanosecond before R", R, R.Add(-1), -2},
		{"card from R, at R less the skew", R, R.Add(-DefaultSkew), -2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, _, chain := lateRoot(t, R, t0, tc.cardNB, nil)
			require.Equal(t, R, root.Certificate().NotBefore)

			first, got, err := cachedAgainstUncached(t, root, chain, R.Add(10*time.Minute), tc.then)
			if tc.cert == -2 {
				require.NoError(t, err)
				assert.Same(t, first.Chain[0], got.Chain[0], "served from the cache")
				return
			}
			requireRefusal(t, err, ErrExpired, tc.cert)
		})
	}
}

// cachedAgainstUncached verifies chain under root alone, with
// RevocationBestEffort, at at with a cache, which keeps it, and at then
// with the cache and without one, and asserts that both return the same:
// it returns the verification at at and the cached one at then.
func cachedAgainstUncached(t *testing.T, root *CA, chain [][]byte, at, then time.Time) (first, got *VerifiedCard, err error) {
	t.Helper()
	clk := newClock(at)
	verifier := func(size int) *Verifier {
		v, err := NewVerifier(VerifierOptions{Roots: [][]byte{root.DER()}, Now: clk.now, Revocation: RevocationBestEffort, CacheSize: size})
		require.NoError(t, err)
		return v
	}
	cached, uncached := verifier(0), verifier(-1)
	first, err = cached.VerifyCard(chain)
	require.NoError(t, err)
	require.Equal(t, 1, cached.cache.len())

	clk.set(then)
	want, wantErr := uncached.VerifyCard(chain)
	got, err = cached.VerifyCard(chain)
	assert.Equal(t, want, got)
	assert.Equal(t, wantErr, err)
	return first, got, err
}

// lateRoot returns a root made at R, a card CA it certified from t0
// (NewIntermediate starts a CA no earlier than its issuer), made at caNow,
// its certificate naming caCRLs as its CRL distribution points, and the
// chain of a card that CA issued from cardNB.
func lateRoot(t *testing.T, R, caNow, cardNB time.Time, caCRLs []string) (*CA, *CA, [][]byte) {
	t.Helper()
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(R)})
	require.NoError(t, err)
	caKey := newKey(t)
	caDER := issueRaw(t, root, &x509.Certificate{
		Subject: pkix.Name{CommonName: "CA-SIM Card CA"}, NotBefore: t0,
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		CRLDistributionPoints: caCRLs,
	}, caKey.Public())
	ca, err := LoadCA(caKey, caDER, nil, CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(caNow)})
	require.NoError(t, err)
	card, err := ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{NotBefore: cardNB})
	require.NoError(t, err)
	return root, ca, [][]byte{card, ca.DER()}
}

// TestCacheKeepsNoEntryPastItsExpiry: a chain verified within the skew
// after the NotAfter of its card, or after the next update of a CRL it
// relies on, has an entry that expires at that time, before the
// verification: the cache keeps none (get would drop it at every
// lookup), and so evicts none: the chain verified before it stays.
func TestCacheKeepsNoEntryPastItsExpiry(t *testing.T) {
	h := newHierarchy(t)
	short, shortChain := h.shortCard(t)
	notAfter := mustParse(t, short).NotAfter
	for _, tc := range []struct {
		name  string
		chain [][]byte
		at    time.Time
	}{
		{"a minute after the card's NotAfter", shortChain, notAfter.Add(time.Minute)},
		{"at the card's NotAfter plus the skew", shortChain, notAfter.Add(DefaultSkew)},
		{"a minute after the CRLs' next update", h.chain(), t0.Add(24*time.Hour + time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock(t0.Add(time.Hour))
			v := newVerifier(t, h, clk, VerifierOptions{CacheSize: 1})
			addCRLs(t, h, v) // next update t0 + 24h
			_, other := h.shortCard(t)
			_, err := v.VerifyCard(other)
			require.NoError(t, err)
			require.Equal(t, 1, v.cache.len())

			clk.set(tc.at)
			_, err = v.VerifyCard(tc.chain)
			require.NoError(t, err)
			assert.Equal(t, 1, v.cache.len())
			assert.Contains(t, v.cache.idx, chainKey(roleCard, other), "the chain verified before")
		})
	}
}

// TestCacheExtremeSkew: a Skew up to the largest Duration is the clock
// difference tolerated, with no overflow in the times compared: a valid
// chain is kept and served by the cache whatever the Skew; one whose card
// expired an hour ago is accepted under any Skew over an hour (and not
// kept: its entry would have expired), and refused as expired, the
// refusal kept, under a negative Skew (no skew), however large.
func TestCacheExtremeSkew(t *testing.T) {
	h := newHierarchy(t)
	_, shortChain := h.shortCard(t) // valid until t0 + 2h
	for name, tc := range map[string]struct {
		skew time.Duration
		want error // past the card's NotAfter
	}{
		"largest":           {skew: math.MaxInt64},
		"a nanosecond less": {skew: math.MaxInt64 - 1},
		"a century":         {skew: 100 * 365 * 24 * time.Hour},
		"smallest":          {skew: math.MinInt64, want: ErrExpired},
		"largest negative":  {skew: -math.MaxInt64, want: ErrExpired},
	} {
		t.Run(name, func(t *testing.T) {
			clk := newClock(t0.Add(time.Hour))
			v := newVerifier(t, h, clk, VerifierOptions{Skew: tc.skew})
			addCRLs(t, h, v) // next update t0 + 24h
			for range 2 {
				_, err := v.VerifyCard(shortChain)
				require.NoError(t, err)
				assert.Equal(t, 1, v.cache.len(), "the chain kept")
			}

			clk.set(t0.Add(3 * time.Hour))
			for range 2 {
				_, err := v.VerifyCard(shortChain)
				if tc.want != nil {
					require.ErrorIs(t, err, tc.want)
					assert.Equal(t, 1, v.cache.refusals(), "the refusal kept")
				} else {
					require.NoError(t, err)
					assert.Equal(t, 0, v.cache.len(), "a chain accepted within the skew not kept")
				}
			}
		})
	}
}

// TestCacheRootNotPresentedEndsEarlier: a chain verified under a root it
// does not present that ends before the certificates presented is served
// from the cache no later than that root's NotAfter: after it the chain is
// refused (ErrExpired, x509.Verify checking the root without the skew), as
// without the cache.
func TestCacheRootNotPresentedEndsEarlier(t *testing.T) {
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0), Validity: 2 * time.Hour})
	require.NoError(t, err)
	end := root.Certificate().NotAfter
	require.Equal(t, t0.Add(2*time.Hour), end)
	caKey := newKey(t)
	caDER := issueRaw(t, root, &x509.Certificate{
		Subject: pkix.Name{CommonName: "CA-SIM Card CA"}, NotBefore: t0,
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, caKey.Public())
	ca, err := LoadCA(caKey, caDER, nil, CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0)})
	require.NoError(t, err)
	card, err := ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{})
	require.NoError(t, err)
	chain := [][]byte{card, caDER}
	require.True(t, mustParse(t, card).NotAfter.After(end.Add(DefaultSkew)))

	for _, tc := range []struct {
		name string
		then time.Time
		ok   bool
	}{
		{"at the root's NotAfter", end, true},
		{"a nanosecond after the root's NotAfter", end.Add(1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := cachedAgainstUncached(t, root, chain, t0.Add(time.Hour), tc.then)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			requireRefusal(t, err, ErrExpired, -1)
			assert.EqualError(t, err, "pki: certificate expired or not yet valid: outside the validity of the chain")
		})
	}
}
