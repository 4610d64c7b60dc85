package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"sync"
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

func TestCacheExpiry(t *testing.T) {
	h := newHierarchy(t)
	_, shortChain := h.shortCard(t)

	clk := newClock(t0.Add(time.Hour))
	v := newVerifier(t, h, clk, VerifierOptions{Skew: -1})
	addCRLs(t, h, v) // next update t0 + 24h

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
	assert.Equal(t, 1, v.cache.len())

	clk.set(t0.Add(24*time.Hour + time.Second)) // past the CRLs' next update
	_, err = v.VerifyCard(h.chain())
	assert.ErrorIs(t, err, ErrCRL)
	assert.Equal(t, 0, v.cache.len())

	clk.set(t0.Add(time.Hour))
	_, err = v.VerifyCard(h.chain())
	require.NoError(t, err)
	require.Equal(t, 1, v.cache.len())
	clk.set(t0.Add(-time.Second)) // a clock set back before the chain starts
	_, err = v.VerifyCard(h.chain())
	assert.ErrorIs(t, err, ErrExpired)
	assert.Equal(t, 0, v.cache.len())
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
func TestConcurrentRevocation(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
	addCRLs(t, h, v)
	require.NoError(t, h.ca.Revoke(mustParse(t, h.card).SerialNumber, ReasonKeyCompromise))
	crl, err := h.ca.CRL(t0.Add(24 * time.Hour))
	require.NoError(t, err)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := v.VerifyCard(h.chain()); err != nil {
					assert.ErrorIs(t, err, ErrRevoked)
				}
			}
		})
	}
	time.Sleep(5 * time.Millisecond)
	require.NoError(t, v.AddCRL(crl))
	for range 20 {
		_, err := v.VerifyCard(h.chain())
		require.ErrorIs(t, err, ErrRevoked)
	}
	close(stop)
	wg.Wait()
	_, err = v.VerifyCard(h.chain())
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

// TestCacheRevokedUntilAnotherPath: a chain refused as revoked through a
// revoked CA, which holds another CA certificate of the same name and key
// under a root not yet valid, is accepted once that root is valid, under
// the same CRLs: the refusal is not served past the root's start.
func TestCacheRevokedUntilAnotherPath(t *testing.T) {
	h := newHierarchy(t)
	rootClock := newClock(t0.Add(2 * time.Hour))
	later, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/later.crl", Now: rootClock.now})
	require.NoError(t, err)
	rootClock.set(t0)
	laterCRL, err := later.CRL(t0.Add(24 * time.Hour))
	require.NoError(t, err)

	// The card CA again, its name and key certified by the later root.
	ca := h.ca.Certificate()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), RawSubject: ca.RawSubject, SubjectKeyId: ca.SubjectKeyId,
		NotBefore: t0, NotAfter: t0.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
		CRLDistributionPoints: []string{"http://pki.example/later.crl"},
	}
	cross, err := x509.CreateCertificate(rand.Reader, tmpl, later.Certificate(), ca.PublicKey, later.Signer())
	require.NoError(t, err)

	clk := newClock(t0.Add(time.Hour))
	v, err := NewVerifier(VerifierOptions{
		Roots: [][]byte{h.root.DER(), later.DER()}, Intermediates: [][]byte{h.ca.DER()}, Now: clk.now,
	})
	require.NoError(t, err)
	require.NoError(t, h.root.Revoke(ca.SerialNumber, ReasonCACompromise))
	addCRLs(t, h, v)
	require.NoError(t, v.AddCRL(laterCRL))

	chain := [][]byte{h.card, h.ca.DER(), cross}
	_, err = v.VerifyCard(chain)
	require.ErrorIs(t, err, ErrRevoked, "the only path valid now holds the revoked CA")
	require.Equal(t, 1, v.cache.len(), "the refusal kept")
	clk.set(t0.Add(3 * time.Hour))
	vc, err := v.VerifyCard(chain)
	require.NoError(t, err, "the path under the later root")
	assert.Equal(t, later.DER(), vc.Chain[2].Raw)
}
