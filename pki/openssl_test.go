package pki

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openssl returns the path of the openssl command, or skips the test with
// testenv.SkipPrefix, so that .ci/run, which installs openssl, fails when
// the test did not run.
func openssl(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skipf("%s openssl command not found: the interoperability test with the live openssl CLI needs it (the frozen OpenSSL files are still tested)", testenv.SkipPrefix)
	}
	return path
}

func readPEM(t *testing.T, dir, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	ders, err := ParseCertificatesPEM(data)
	if err == nil {
		return ders[0]
	}
	der, err := ParseCRLPEM(data)
	require.NoError(t, err, name)
	return der
}

// checkOpenSSLIdentifiers checks the serial numbers and key identifiers
// of a hierarchy that make.sh built in dir against the profile: each
// certificate's serial number is positive and of at most 127 bits, its
// subject key identifier is profileKeyID's, its authority key identifier
// its issuer's subject key identifier (the root's its own), and so is the
// authority key identifier of each CRL.
func checkOpenSSLIdentifiers(t *testing.T, dir string) {
	root := mustParse(t, readPEM(t, dir, "root.pem"))
	ca := mustParse(t, readPEM(t, dir, "ca.pem"))
	card := mustParse(t, readPEM(t, dir, "card.pem"))
	for _, c := range []struct {
		name         string
		cert, issuer *x509.Certificate
	}{{"root", root, root}, {"card CA", ca, root}, {"card", card, ca}} {
		assert.Positive(t, c.cert.SerialNumber.Sign(), "%s: serial number", c.name)
		assert.LessOrEqual(t, c.cert.SerialNumber.BitLen(), 127, "%s: serial number", c.name)
		assert.Equal(t, profileKeyID(t, c.cert), c.cert.SubjectKeyId, "%s: subject key identifier", c.name)
		ours, err := keyID(c.cert.PublicKey.(*ecdsa.PublicKey))
		require.NoError(t, err)
		assert.Equal(t, ours, c.cert.SubjectKeyId, "%s: subject key identifier, as this package makes it", c.name)
		assert.Equal(t, profileKeyID(t, c.issuer), c.cert.AuthorityKeyId, "%s: authority key identifier", c.name)
	}
	for name, issuer := range map[string]*x509.Certificate{
		"root-crl.pem": root, "card-crl.pem": ca, "card-crl-revoked.pem": ca,
	} {
		crl, err := x509.ParseRevocationList(readPEM(t, dir, name))
		require.NoError(t, err)
		assert.Equal(t, issuer.SubjectKeyId, crl.AuthorityKeyId, "%s: authority key identifier", name)
	}
}

// checkOpenSSLHierarchy verifies a hierarchy that make.sh built in dir:
// its serial numbers and key identifiers are the profile's; the card
// verifies against fresh CRLs, then fails with ErrRevoked once the CRL
// made after `openssl ca -revoke` arrives, and still does after the next
// CRL, made without an authority key identifier, is refused; a record
// signed with the OpenSSL-generated card key passes the Challenger.
func checkOpenSSLHierarchy(t *testing.T, dir string) {
	checkOpenSSLIdentifiers(t, dir)
	root := readPEM(t, dir, "root.pem")
	ca := readPEM(t, dir, "ca.pem")
	card := readPEM(t, dir, "card.pem")
	crl, err := x509.ParseRevocationList(readPEM(t, dir, "card-crl.pem"))
	require.NoError(t, err)
	clk := newClock(crl.ThisUpdate.Add(time.Minute))

	v, err := NewVerifier(VerifierOptions{Roots: [][]byte{root}, Intermediates: [][]byte{ca}, Now: clk.now})
	require.NoError(t, err)
	_, err = v.VerifyCard([][]byte{card, ca})
	require.ErrorIs(t, err, ErrCRL, "no CRL yet: fail closed")
	assert.ErrorIs(t, v.AddCRL(readPEM(t, dir, "card-crl-nonumber.pem")), ErrCRL, "a CRL needs a number")
	assert.ErrorIs(t, v.AddCRL(readPEM(t, dir, "card-crl-idp.pem")), ErrCRL, "a critical issuing distribution point is not supported")

	require.NoError(t, v.AddCRL(readPEM(t, dir, "root-crl.pem")))
	require.NoError(t, v.AddCRL(readPEM(t, dir, "card-crl.pem")))
	vc, err := v.VerifyCard([][]byte{card, ca})
	require.NoError(t, err)
	assert.Equal(t, testICCID, vc.CardID)

	keyPEM, err := os.ReadFile(filepath.Join(dir, "card.key"))
	require.NoError(t, err)
	key, err := ParsePrivateKeyPEM(keyPEM)
	require.NoError(t, err)
	assert.True(t, vc.PublicKey.Equal(key.Public()))

	ch := NewChallenger(v, ChallengerOptions{Now: clk.now})
	nonce, err := ch.NewNonce(context.Background())
	require.NoError(t, err)
	msg := proof(t, &hierarchy{cardKey: key.(*ecdsa.PrivateKey)}, testICCID, 1, nonce)
	_, err = ch.Verify(context.Background(), [][]byte{card, ca}, msg, new(record.AuthProof))
	require.NoError(t, err)

	require.NoError(t, v.AddCRL(readPEM(t, dir, "card-crl-revoked.pem")))
	_, err = v.VerifyCard([][]byte{card, ca})
	requireRefusal(t, err, ErrRevoked, 0)

	// openssl ca -gencrl without -crlexts writes no authority key
	// identifier: refused (PROTOCOL.md §4.4), the revoking CRL held.
	noAKI := readPEM(t, dir, "card-crl-noaki.pem")
	parsed, err := x509.ParseRevocationList(noAKI)
	require.NoError(t, err)
	require.Empty(t, parsed.AuthorityKeyId)
	require.Positive(t, parsed.Number.Cmp(crl.Number), "a later CRL")
	err = v.AddCRL(noAKI)
	requireRefusal(t, err, ErrCRL, -1)
	assert.Contains(t, err.Error(), "authority key identifier")
	_, err = v.VerifyCard([][]byte{card, ca})
	requireRefusal(t, err, ErrRevoked, 0)
}

func TestOpenSSLFrozen(t *testing.T) {
	checkOpenSSLHierarchy(t, filepath.Join("testdata", "openssl"))
}

func TestOpenSSLLive(t *testing.T) {
	openssl(t)
	dir := t.TempDir()
	out, err := exec.Command("sh", filepath.Join("testdata", "openssl", "make.sh"), dir, testICCID).CombinedOutput()
	require.NoError(t, err, "%s", out)
	checkOpenSSLHierarchy(t, dir)
}

// TestOpenSSLVerifiesOurs hands certificates and CRLs made by this package
// to `openssl verify -crl_check` (the card against its CA's CRL) and
// `-crl_check_all` (every certificate against its issuer's CRL).
func TestOpenSSLVerifiesOurs(t *testing.T) {
	bin := openssl(t)
	// openssl checks validity against the real clock.
	h := newHierarchyAt(t, time.Now)
	platform, err := h.ca.IssuePlatform(newKey(t).Public(), "casimpay platform", IssueOptions{})
	require.NoError(t, err)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o600))
		return p
	}
	rootCRL, err := h.root.CRL(time.Now().Add(time.Hour))
	require.NoError(t, err)
	caCRL, err := h.ca.CRL(time.Now().Add(time.Hour))
	require.NoError(t, err)
	rootPEM := write("root.pem", CertificatePEM(h.root.DER()))
	caPEM := write("ca.pem", CertificatePEM(h.ca.DER()))
	cardPEM := write("card.pem", CertificatePEM(h.card))
	platformPEM := write("platform.pem", CertificatePEM(platform))
	rootCRLPEM := write("root-crl.pem", CRLPEM(rootCRL))
	caCRLPEM := write("ca-crl.pem", CRLPEM(caCRL))

	verify := func(t *testing.T, flag, leaf string, crls ...string) (string, error) {
		args := []string{"verify", flag, "-CAfile", rootPEM, "-untrusted", caPEM}
		for _, c := range crls {
			args = append(args, "-CRLfile", c)
		}
		out, err := exec.Command(bin, append(args, leaf)...).CombinedOutput()
		return string(out), err
	}
	for _, leaf := range []string{cardPEM, platformPEM} {
		out, err := verify(t, "-crl_check", leaf, caCRLPEM)
		require.NoError(t, err, out)
		assert.Equal(t, leaf+": OK\n", out)
		out, err = verify(t, "-crl_check_all", leaf, rootCRLPEM, caCRLPEM)
		require.NoError(t, err, out)
		assert.Equal(t, leaf+": OK\n", out)
	}

	require.NoError(t, h.ca.Revoke(mustParse(t, h.card).SerialNumber, ReasonKeyCompromise))
	revoked, err := h.ca.CRL(time.Now().Add(time.Hour))
	require.NoError(t, err)
	out, err := verify(t, "-crl_check", cardPEM, write("ca-crl-2.pem", CRLPEM(revoked)))
	require.Error(t, err, "openssl must refuse the revoked card")
	assert.Contains(t, out, "certificate revoked")
}
