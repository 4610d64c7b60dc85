package payflow

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestClientCertificateRefused: a verdict of crypto/x509 on the server's
// certificate is known as one that every attempt gets again, bare or
// wrapped: a *tls.CertificateVerificationError whatever the error it
// wraps, and each error type of crypto/x509 that a VerifyConnection or
// VerifyPeerCertificate may return bare, a HostnameError too. Another
// error of the handshake is not.
func TestClientCertificateRefused(t *testing.T) {
	cert := &x509.Certificate{DNSNames: []string{"platform.example"}}
	for _, tc := range []struct {
		name    string
		err     error
		refused bool
	}{
		{"verification of crypto/tls", &tls.CertificateVerificationError{Err: errors.New("x509: another verdict")}, true},
		{"unknown authority", x509.UnknownAuthorityError{Cert: cert}, true},
		{"another host", x509.HostnameError{Certificate: cert, Host: "other.example"}, true},
		{"another host, wrapped", fmt.Errorf("handshake: %w", x509.HostnameError{Certificate: cert, Host: "other.example"}), true},
		{"invalid certificate", x509.CertificateInvalidError{Cert: cert, Reason: x509.Expired}, true},
		{"system roots", x509.SystemRootsError{}, true},
		{"constraint violated", x509.ConstraintViolationError{}, true},
		{"unhandled critical extension", x509.UnhandledCriticalExtension{}, true},
		{"insecure algorithm", x509.InsecureAlgorithmError(x509.SHA1WithRSA), true},
		{"unsupported algorithm", x509.ErrUnsupportedAlgorithm, true},
		{"another error of a hook", errors.New("certificate not pinned"), false},
		{"network", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, false},
		{"none", nil, false},
	} {
		assert.Equal(t, tc.refused, clientCertificateRefused(tc.err), tc.name)
	}
}
