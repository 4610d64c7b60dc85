package pki_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/casimpay/casimpay/pki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProtocolCertificateTable keeps the table of PROTOCOL.md §4.3 and the
// certificates that pki issues with its defaults in step: the subject, the
// validity, basicConstraints, keyUsage, extKeyUsage, subjectAltName, the
// key identifiers and the CRL distribution points of each column.
func TestProtocolCertificateTable(t *testing.T) {
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		return k
	}
	const rootURL, caURL, iccid, name = "https://pki.example/root.crl", "https://pki.example/card.crl", "89014103211118510720", "casimpay platform"
	root, err := pki.NewRoot(key(), pki.CAOptions{CRLURL: rootURL})
	require.NoError(t, err)
	ca, err := root.NewIntermediate(key(), pki.CAOptions{CRLURL: caURL})
	require.NoError(t, err)
	cardDER, err := ca.IssueCard(key().Public(), iccid, pki.IssueOptions{})
	require.NoError(t, err)
	platformDER, err := ca.IssuePlatform(key().Public(), name, pki.IssueOptions{})
	require.NoError(t, err)
	card, err := pki.ParseCertificate(cardDER)
	require.NoError(t, err)
	platform, err := pki.ParseCertificate(platformDER)
	require.NoError(t, err)
	certs := []*x509.Certificate{root.Certificate(), ca.Certificate(), card, platform}
	issuers := []*x509.Certificate{root.Certificate(), root.Certificate(), ca.Certificate(), ca.Certificate()}

	rows := map[string][]string{}
	for _, r := range protocoldoc.Table(t, "### 4.3 Certificates") {
		require.Len(t, r, 5, "row %q", r)
		rows[r[0]] = r[1:]
	}
	critical := func(c *x509.Certificate, oid string) (crit, ok bool) {
		for _, e := range c.Extensions {
			if e.Id.String() == oid {
				return e.Critical, true
			}
		}
		return false, false
	}
	for i, c := range certs {
		col := fmt.Sprintf("column %d", i+1)

		subject := map[string]string{"<ICCID>": iccid, "<platform name>": name}
		cn := strings.TrimPrefix(strings.Trim(strings.TrimSuffix(rows["subject"][i], " (configurable)"), "`"), "CN=")
		if s, ok := subject[cn]; ok {
			cn = s
		}
		assert.Equal(t, cn, c.Subject.CommonName, "%s: subject", col)

		var years int
		_, err := fmt.Sscanf(rows["validity (default)"][i], "%d years", &years)
		require.NoError(t, err, "%s: validity", col)
		assert.Equal(t, time.Duration(years)*365*24*time.Hour, c.NotAfter.Sub(c.NotBefore), "%s: validity", col)

		crit, ok := critical(c, "2.5.29.19")
		assert.True(t, ok && crit, "%s: basicConstraints critical", col)
		switch bc := rows["basicConstraints (critical)"][i]; bc {
		case "CA:FALSE":
			assert.False(t, c.IsCA, "%s: %s", col, bc)
		default:
			var n int
			_, err := fmt.Sscanf(bc, "CA:TRUE, pathLen %d", &n)
			require.NoError(t, err, "%s: %s", col, bc)
			assert.True(t, c.IsCA, "%s: %s", col, bc)
			assert.Equal(t, n, c.MaxPathLen, "%s: %s", col, bc)
			assert.Equal(t, n == 0, c.MaxPathLenZero, "%s: %s", col, bc)
		}

		crit, ok = critical(c, "2.5.29.15")
		assert.True(t, ok && crit, "%s: keyUsage critical", col)
		usage := map[string]x509.KeyUsage{
			"keyCertSign, cRLSign":  x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			"digitalSignature only": x509.KeyUsageDigitalSignature,
		}[rows["keyUsage (critical)"][i]]
		assert.Equal(t, usage, c.KeyUsage, "%s: keyUsage", col)

		ekus, err := pki.ExtKeyUsages(c)
		require.NoError(t, err, col)
		want := map[string][]x509.OID{
			"—": nil, "card authentication only": {pki.OIDCardAuth}, "receipt signing only": {pki.OIDReceiptSigning},
		}[rows["extKeyUsage (non-critical)"][i]]
		assert.Equal(t, want, ekus, "%s: extKeyUsage", col)
		if crit, ok := critical(c, "2.5.29.37"); ok {
			assert.False(t, crit, "%s: extKeyUsage not critical", col)
		}

		switch san := rows["subjectAltName (non-critical)"][i]; san {
		case "—":
			_, ok := critical(c, "2.5.29.17")
			assert.False(t, ok, "%s: no subjectAltName", col)
		default:
			assert.Equal(t, "exactly one URI `"+pki.CardURIPrefix+"<ICCID>`", san)
			require.Len(t, c.URIs, 1, col)
			assert.Equal(t, pki.CardURIPrefix+iccid, c.URIs[0].String(), col)
			crit, _ := critical(c, "2.5.29.17")
			assert.False(t, crit, "%s: subjectAltName not critical", col)
		}

		pub := c.PublicKey.(*ecdsa.PublicKey)
		point, err := pub.Bytes()
		require.NoError(t, err)
		sum := sha256.Sum256(point)
		assert.Equal(t, sum[:20], c.SubjectKeyId, "%s: subjectKeyIdentifier", col)
		assert.Equal(t, issuers[i].SubjectKeyId, c.AuthorityKeyId, "%s: authorityKeyIdentifier", col)

		dp := map[string][]string{"—": nil, "root's CRL URL": {rootURL}, "card CA's CRL URL": {caURL}}[rows["cRLDistributionPoints"][i]]
		assert.Equal(t, dp, c.CRLDistributionPoints, "%s: cRLDistributionPoints", col)
	}
	assert.Equal(t, "first 160 bits of SHA-256 of the subjectPublicKey (RFC 7093 §2 method 1)", rows["subjectKeyIdentifier"][0])
	assert.Equal(t, []string{"= own SKI", "issuer's SKI", "issuer's SKI", "issuer's SKI"}, rows["authorityKeyIdentifier"])
}

// TestProtocolVerifierDefaults keeps the limits and defaults of the
// verifier and the challenger that PROTOCOL.md §4 gives and the constants
// of pki in step.
func TestProtocolVerifierDefaults(t *testing.T) {
	protocoldoc.Says(t, "## 4. Certificate profile",
		fmt.Sprintf("A chain is at most **%d certificates** including the root (verifier default; configurable up to %d, `pki.MaxChainDepth`", pki.DefaultMaxDepth, pki.MaxChainDepth),
		fmt.Sprintf("| at most %d certificates presented |", pki.DefaultMaxDepth),
		fmt.Sprintf("A certificate is at most **%d octets** of DER (`pki.MaxCertificateSize`", pki.MaxCertificateSize),
		fmt.Sprintf("at most %d MiB (%d octets of DER, `pki.MaxCRLSize`", pki.MaxCRLSize>>20, pki.MaxCRLSize),
		fmt.Sprintf("with a clock-skew allowance (default %d min)", int(pki.DefaultSkew.Minutes())),
		fmt.Sprintf("default lifetime %d minutes", int(pki.DefaultNonceTTL.Minutes())),
	)
}
