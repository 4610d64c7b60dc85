package payflow

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// otherAlert is an alert number of a type of another package than
// crypto/tls.
type otherAlert uint8

func (a otherAlert) Error() string { return fmt.Sprintf("alert %d", uint8(a)) }

// serverAlert returns the error of a TLS 1.2 client's handshake with a
// server that serves TLS 1.3 only, which refuses it with a
// protocol_version alert (70), as crypto/tls reports it.
func serverAlert(t *testing.T) error {
	t.Helper()
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	server := tls.Server(sc, &tls.Config{MinVersion: tls.VersionTLS13})
	served := make(chan error, 1)
	go func() { served <- server.Handshake() }()
	err := tls.Client(cc, &tls.Config{ServerName: "platform.example", MaxVersion: tls.VersionTLS12}).Handshake()
	require.Error(t, err)
	require.Error(t, <-served)
	return err
}

// TestClientRefusedByTLSAlert: a *net.OpError whose Op is "remote error"
// and whose Err is an alert of crypto/tls that a server of a fixed policy
// sends again (protocol_version, certificate_required,
// no_application_protocol) is known as such, alone or in the errors that
// wrap it: that of crypto/tls's handshake and net/http's *url.Error. The
// same alert sent by the client itself (Op "local error") or under
// another Op, another alert, an alert number of another type than
// crypto/tls's, another error type of crypto/tls, an error of the same
// text and no OpError are not.
func TestClientRefusedByTLSAlert(t *testing.T) {
	err := serverAlert(t)
	op, ok := errors.AsType[*net.OpError](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, "remote error", op.Op)
	require.EqualValues(t, 70, op.Err)
	alertType := reflect.TypeOf(op.Err)
	require.Equal(t, "crypto/tls", alertType.PkgPath())
	alert := func(n uint64) error {
		v := reflect.New(alertType).Elem()
		v.SetUint(n)
		return v.Interface().(error)
	}
	remote := func(e error) error { return &net.OpError{Op: "remote error", Err: e} }

	for _, tc := range []struct {
		name    string
		err     error
		refused bool
	}{
		{"protocol_version as the handshake returns it", err, true},
		{"protocol_version as net/http returns it", &url.Error{Op: "Get", URL: "https://platform.example/v1/info", Err: err}, true},
		{"protocol_version", remote(alert(70)), true},
		{"certificate_required", remote(alert(116)), true},
		{"no_application_protocol", remote(alert(120)), true},
		{"handshake_failure", remote(alert(40)), false},
		{"internal_error", remote(alert(80)), false},
		{"protocol_version sent by the client", &net.OpError{Op: "local error", Err: alert(70)}, false},
		{"protocol_version under another Op", &net.OpError{Op: "read", Net: "tcp", Err: alert(70)}, false},
		{"protocol_version of another type", remote(otherAlert(70)), false},
		{"another error type of crypto/tls", remote(tls.RecordHeaderError{Msg: "tls: first record does not look like a TLS handshake"}), false},
		{"the alert's text", remote(errors.New(alert(70).Error())), false},
		{"no error in the OpError", remote(nil), false},
		{"the alert alone", alert(70), false},
		{"none", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.refused, clientRefusedByTLSAlert(tc.err), "%v", tc.err)
		})
	}
}
