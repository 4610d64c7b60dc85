package pki

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCacheCRLAcceptedDuringCheck: the result of a chain checked while a
// CRL is accepted, after the CRLs that the chain is checked against were
// read and before its result is cached, is not cached: it was checked
// against the CRLs that the new one replaced. A chain accepted then is
// refused as revoked at its next verification under a CRL listing its
// card, and a chain refused as revoked then is accepted at its next
// verification under a CRL no longer listing it, neither served from the
// cache.
func TestCacheCRLAcceptedDuringCheck(t *testing.T) {
	h, v, listing := cardRevokedByNextCRL(t)
	acceptDuringCheck := func(crl []byte) {
		v.crlsRead = func() {
			v.crlsRead = nil
			require.NoError(t, v.AddCRL(crl))
		}
	}

	acceptDuringCheck(listing)
	vc, err := v.VerifyCard(h.chain())
	require.NoError(t, err, "checked before the CRL listing the card was accepted")
	assert.Equal(t, testICCID, vc.CardID)
	assert.Equal(t, 0, v.cache.len())
	_, err = v.VerifyCard(h.chain())
	requireRefusal(t, err, ErrRevoked, 0)

	notListing, err := h.ca.IssueCRL(nil, h.ca.LastCRLNumber()+1, t0.Add(24*time.Hour))
	require.NoError(t, err)
	v.cache.clear()
	acceptDuringCheck(notListing)
	_, err = v.VerifyCard(h.chain())
	requireRefusal(t, err, ErrRevoked, 0)
	assert.Equal(t, 0, v.cache.len())
	vc, err = v.VerifyCard(h.chain())
	require.NoError(t, err, "checked again under the CRL no longer listing the card")
	assert.Equal(t, testICCID, vc.CardID)
}

// TestCacheStaleCRLNotRelied: a chain accepted under RevocationBestEffort
// while the CRLs held are stale is cached and served from the cache: its
// entry does not end at the next update, past already, of a CRL that its
// verification did not rely on.
func TestCacheStaleCRLNotRelied(t *testing.T) {
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	v := newVerifier(t, h, clk, VerifierOptions{Revocation: RevocationBestEffort})
	addCRLs(t, h, v) // next update t0 + 24h
	clk.set(t0.Add(24*time.Hour + DefaultSkew + time.Second))

	requireServedFromCache(t, v, h.chain())
}

// TestCacheCRLThisUpdateWithinSkew: a chain accepted within the skew
// before the this update of a CRL it relies on is cached and served from
// the cache: its entry starts at that this update less the skew. Before
// that, the chain is checked again and refused for that CRL, not yet
// valid.
func TestCacheCRLThisUpdateWithinSkew(t *testing.T) {
	clk := newClock(t0)
	h := newHierarchyAt(t, clk.now)
	v := newVerifier(t, h, clk, VerifierOptions{})
	thisUpdate := t0.Add(2 * time.Hour)
	clk.set(thisUpdate)
	addCRLs(t, h, v)
	clk.set(thisUpdate.Add(-time.Minute))

	requireServedFromCache(t, v, h.chain())

	clk.set(thisUpdate.Add(-DefaultSkew - time.Nanosecond))
	_, err := v.VerifyCard(h.chain())
	requireRefusal(t, err, ErrCRL, 0)
	assert.Equal(t, 0, v.cache.len())
}

// TestAddCRLKeepsItsOwnCopy: AddCRL keeps its own copy of what it
// compares a CRL of the same number with: the caller's reusing its
// buffer afterwards changes nothing, the same CRL given again being the
// CRL held.
func TestAddCRLKeepsItsOwnCopy(t *testing.T) {
	h, v := cardRevoked(t)
	crl, err := h.ca.CRL(t0.Add(24 * time.Hour))
	require.NoError(t, err)
	buf := bytes.Clone(crl)
	require.NoError(t, v.AddCRL(buf))
	clear(buf)
	require.NoError(t, v.AddCRL(crl), "the CRL held")
	_, err = v.VerifyCard(h.chain())
	requireRefusal(t, err, ErrRevoked, 0)
}

// TestCacheRootStartsLaterThanCRL: the entry of a chain whose path ends in
// a root not presented, starting after every certificate presented but
// before the this update less the skew of the card's CRL, starts at that
// this update less the skew, not at the root's NotBefore: between the two
// the chain is checked again and refused for that CRL, not yet valid.
func TestCacheRootStartsLaterThanCRL(t *testing.T) {
	R := t0.Add(2 * time.Hour)
	thisUpdate := R.Add(30 * time.Minute)
	root, ca, chain := lateRoot(t, R, thisUpdate, t0, []string{"http://pki.example/root.crl"})
	clk := newClock(thisUpdate.Add(10 * time.Minute))
	v, err := NewVerifier(VerifierOptions{Roots: [][]byte{root.DER()}, Intermediates: [][]byte{ca.DER()}, Now: clk.now, Revocation: RevocationLeaf})
	require.NoError(t, err)
	crl, err := ca.CRL(thisUpdate.Add(24 * time.Hour))
	require.NoError(t, err)
	require.NoError(t, v.AddCRL(crl))

	_, err = v.VerifyCard(chain)
	require.NoError(t, err)
	require.Equal(t, 1, v.cache.len())
	clk.set(R.Add(10 * time.Minute))
	_, err = v.VerifyCard(chain)
	requireRefusal(t, err, ErrCRL, 0)
	assert.Equal(t, 0, v.cache.len())
}

// TestCacheRefusalNotYetValidEndsAtTheBound: a chain refused as not yet
// valid has its refusal served up to the NotBefore less the skew of its
// card, and not at that time, at which the check of the certificates
// presented passes: the chain is then checked again and accepted.
func TestCacheRefusalNotYetValidEndsAtTheBound(t *testing.T) {
	h := newHierarchy(t)
	notBefore := t0.Add(2 * time.Hour)
	card, err := h.ca.IssueCard(h.cardKey.Public(), testICCID, IssueOptions{NotBefore: notBefore})
	require.NoError(t, err)
	chain := append([][]byte{card}, h.ca.Chain()...)
	clk := newClock(notBefore.Add(-DefaultSkew - time.Nanosecond))
	v := newVerifier(t, h, clk, VerifierOptions{})
	addCRLs(t, h, v)

	_, first := v.VerifyCard(chain)
	requireRefusal(t, first, ErrExpired, 0)
	assert.Equal(t, 1, v.cache.refusals(), "the refusal kept")
	_, again := v.VerifyCard(chain)
	assert.Same(t, first, again, "the refusal served from the cache")
	clk.set(notBefore.Add(-DefaultSkew))
	vc, err := v.VerifyCard(chain)
	require.NoError(t, err)
	assert.Equal(t, testICCID, vc.CardID)
}

// requireServedFromCache verifies chain, which v accepts, twice: the
// first answer is kept, the cache's one entry, and served to the second.
func requireServedFromCache(t *testing.T, v *Verifier, chain [][]byte) {
	t.Helper()
	first, err := v.VerifyCard(chain)
	require.NoError(t, err)
	assert.Equal(t, 1, v.cache.len())
	again, err := v.VerifyCard(chain)
	require.NoError(t, err)
	assert.Same(t, first.PublicKey, again.PublicKey, "served from the cache")
}

// cardRevokedByNextCRL returns a hierarchy, a verifier at t0 + 1h holding
// its CRLs, which list nothing, and the card CA's next CRL, which lists
// the card, not yet given to the verifier.
func cardRevokedByNextCRL(t *testing.T) (*hierarchy, *Verifier, []byte) {
	t.Helper()
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
	addCRLs(t, h, v)
	require.NoError(t, h.ca.Revoke(mustParse(t, h.card).SerialNumber, ReasonKeyCompromise))
	crl, err := h.ca.CRL(t0.Add(24 * time.Hour))
	require.NoError(t, err)
	return h, v, crl
}

// TestCacheRefusalAcrossAnIntermediateNotOnThePath: a chain refused as
// revoked is refused again from the cache, the same error value, after the
// clock crosses the NotBefore of a configured intermediate that is neither
// presented nor a root: no verification of the chain compares it.
func TestCacheRefusalAcrossAnIntermediateNotOnThePath(t *testing.T) {
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	second := h.secondCA(t, t0.Add(2*time.Hour), 24*time.Hour)
	v := newVerifier(t, h, clk, VerifierOptions{Intermediates: [][]byte{second}})
	require.NoError(t, h.ca.Revoke(mustParse(t, h.card).SerialNumber, ReasonKeyCompromise))
	addCRLs(t, h, v)

	_, first := v.VerifyCard(h.chain())
	requireRefusal(t, first, ErrRevoked, 0)
	clk.set(t0.Add(3 * time.Hour))
	_, again := v.VerifyCard(h.chain())
	assert.Same(t, first, again, "the refusal served from the cache")
}
