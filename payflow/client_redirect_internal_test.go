package payflow

import (
	"errors"
	"net"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestClientUnsendableRedirectByItsURL: of the errors of http.Client.Do
// without a response, those whose hop fails every attempt alike are
// known by the URL that the *url.Error names and by their cause: an http
// or https URL without a host or of a port out of range whatever the
// cause, and a URL of another scheme whose cause is no net.Error. An error
// without a cause, or whose URL does not parse (net/http names no such
// URL), is none of them: the call is retried, as after a network error.
func TestClientUnsendableRedirectByItsURL(t *testing.T) {
	network := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	other := errors.New(`unsupported protocol scheme "ftp"`)
	for _, tc := range []struct {
		url   string
		err   error
		final bool
	}{
		{"http://:8080/v1/info", network, true},
		{"https://platform.example:0/v1/info", network, true},
		{"https://platform.example:99999/v1/info", other, true},
		{"ftp://platform.example/v1/info", other, true},
		{"mailto:pay@platform.example", other, true},
		{"ftp://platform.example/v1/info", network, false},
		{"https://platform.example/v1/info", network, false},
		{"https://platform.example/v1/info", other, false},
		{"ftp://platform.example/v1/info", nil, false},
		{"http://[::1", other, false},
		{"ftp://[::1", other, false},
	} {
		err := &url.Error{Op: "Get", URL: tc.url, Err: tc.err}
		assert.Equal(t, tc.final, clientUnsendableRedirect(err), "%s: %v", tc.url, tc.err)
	}
	assert.False(t, clientUnsendableRedirect(other), "no *url.Error")
}
