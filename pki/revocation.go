package pki

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"time"
)

// heldCRL is the latest accepted CRL of one issuer.
type heldCRL struct {
	der        []byte
	number     *big.Int
	thisUpdate time.Time
	nextUpdate time.Time
	revoked    map[string]struct{} // serial numbers, as serialKey
}

// issuerKey names a CA by its subject and key, so that a CRL is applied only
// to certificates whose issuer's key signed it.
func issuerKey(c *x509.Certificate) string {
	h := sha256.New()
	h.Write(c.RawSubject)
	h.Write(c.RawSubjectPublicKeyInfo)
	return string(h.Sum(nil))
}

func serialKey(n *big.Int) string { return n.Text(16) }

var oidReasonCode = asn1.ObjectIdentifier{2, 5, 29, 21}

// AddCRL accepts a CRL (DER) for later verifications. The CRL must be signed
// with an allowed algorithm by a trusted root or one of the intermediates
// of the options, carry a CRL number and a next update later than its this
// update (RFC 5280 §5.1.2.5), be current (this update not in the future and
// next update not past, allowing for the skew), have no critical
// extension, and not be older than the CRL held for the same issuer: a
// lower number is refused, the same CRL again is accepted and changes
// nothing. Verified chains that depend on the issuer leave the cache.
// Errors match ErrCRL.
func (v *Verifier) AddCRL(der []byte) error {
	now := v.now()
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return newError(ErrCRL, -1, "malformed CRL", err)
	}
	if !v.allowed(crl.SignatureAlgorithm) {
		return newError(ErrCRL, -1, "signature algorithm "+crl.SignatureAlgorithm.String()+" not allowed", nil)
	}
	for _, e := range crl.Extensions {
		if e.Critical {
			return newError(ErrCRL, -1, "unsupported critical CRL extension "+e.Id.String(), nil)
		}
	}
	revoked := make(map[string]struct{}, len(crl.RevokedCertificateEntries))
	for _, e := range crl.RevokedCertificateEntries {
		for _, x := range e.Extensions {
			if x.Critical && !x.Id.Equal(oidReasonCode) {
				return newError(ErrCRL, -1, "unsupported critical CRL entry extension "+x.Id.String(), nil)
			}
		}
		revoked[serialKey(e.SerialNumber)] = struct{}{}
	}
	if crl.Number == nil || crl.Number.Sign() < 0 {
		return newError(ErrCRL, -1, "CRL without a CRL number", nil)
	}
	if crl.NextUpdate.IsZero() {
		return newError(ErrCRL, -1, "CRL without a next update", nil)
	}
	if !crl.NextUpdate.After(crl.ThisUpdate) {
		return newError(ErrCRL, -1, "CRL whose next update is not after its this update", nil)
	}
	if crl.ThisUpdate.After(now.Add(v.skew)) {
		return newError(ErrCRL, -1, "CRL not yet valid", nil)
	}
	if now.After(crl.NextUpdate.Add(v.skew)) {
		return newError(ErrCRL, -1, "stale CRL: past its next update", nil)
	}
	var issuer *x509.Certificate
	for _, ca := range v.cas {
		if !bytes.Equal(crl.RawIssuer, ca.RawSubject) {
			continue
		}
		if len(crl.AuthorityKeyId) > 0 && len(ca.SubjectKeyId) > 0 && !bytes.Equal(crl.AuthorityKeyId, ca.SubjectKeyId) {
			continue
		}
		if crl.CheckSignatureFrom(ca) == nil {
			issuer = ca
			break
		}
	}
	if issuer == nil {
		return newError(ErrCRL, -1, "CRL not signed by a known CA", nil)
	}
	key := issuerKey(issuer)
	held := &heldCRL{
		der:        bytes.Clone(der),
		number:     crl.Number,
		thisUpdate: crl.ThisUpdate,
		nextUpdate: crl.NextUpdate,
		revoked:    revoked,
	}
	v.mu.Lock()
	if old := v.crls[key]; old != nil {
		switch held.number.Cmp(old.number) {
		case -1:
			v.mu.Unlock()
			return newError(ErrCRL, -1, "CRL number lower than the one held", nil)
		case 0:
			v.mu.Unlock()
			if bytes.Equal(old.der, der) {
				return nil
			}
			return newError(ErrCRL, -1, "another CRL with the number held", nil)
		}
	}
	v.crls[key] = held
	v.gen.Add(1)
	v.mu.Unlock()
	if v.cache != nil {
		v.cache.evict(key)
	}
	return nil
}

// checkRevocation applies the policy to every certificate of ch below the
// root, lowers res.expiry to the next update of every CRL it relies on and
// raises res.validFrom to the this update (less the skew) of each, so that
// the cache serves the result only while those CRLs are fresh. A
// certificate listed in a CRL held, fresh or stale, is ErrRevoked before
// any CRL missing or stale is ErrCRL: the first is what a CA published,
// the second only what the verifier lacks.
func (v *Verifier) checkRevocation(ch []*x509.Certificate, now time.Time, res *result) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	held := make([]*heldCRL, len(ch)-1) // held[i]: the CRL of ch[i]'s issuer
	for i := range held {
		key := issuerKey(ch[i+1])
		res.deps = append(res.deps, key)
		held[i] = v.crls[key]
		if held[i] == nil {
			continue
		}
		if _, ok := held[i].revoked[serialKey(ch[i].SerialNumber)]; ok {
			return newError(ErrRevoked, i, "serial "+serialKey(ch[i].SerialNumber)+" is listed", nil)
		}
	}
	for i, crl := range held {
		required := v.policy == RevocationChain || (v.policy == RevocationLeaf && i == 0)
		if crl == nil {
			if required {
				return newError(ErrCRL, i, "no CRL of the issuer", nil)
			}
			continue
		}
		fresh := !now.After(crl.nextUpdate.Add(v.skew)) && !crl.thisUpdate.After(now.Add(v.skew))
		if !fresh {
			if required {
				return newError(ErrCRL, i, "stale CRL of the issuer", nil)
			}
			continue
		}
		if crl.nextUpdate.Before(res.expiry) {
			res.expiry = crl.nextUpdate
		}
		if from := crl.thisUpdate.Add(-v.skew); from.After(res.validFrom) {
			res.validFrom = from
		}
	}
	return nil
}
