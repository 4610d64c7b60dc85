package payflow_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestNewClientRefusesPlainHTTPToAHostNotLoopback: NewClient refuses a
// plain http base URL whose host is not loopback (a name but "localhost",
// an address outside 127.0.0.0/8 and ::1), over which every call would
// send the card's bearer token, its signed records and Idempotency-Keys in
// clear, with an error matching ErrInvalid that says why and how to allow
// it, unless ClientOptions.AllowPlainHTTP is set; https, and plain http
// to a loopback host, it takes with the option or without.
func TestNewClientRefusesPlainHTTPToAHostNotLoopback(t *testing.T) {
	refusal := func(host string) string {
		return `payflow: invalid request: payflow: base URL is plain http to ` + host +
			`, which is not a loopback address: every call would send the bearer token, the signed records and the Idempotency-Keys in clear; use https, or set ClientOptions.AllowPlainHTTP where the path to the platform is trusted`
	}
	for _, tt := range []struct {
		url     string
		refused string // the error without AllowPlainHTTP, "" when taken
	}{
		{"http://platform.example", refusal(`"platform.example"`)},
		{"http://platform.example:8080/pay", refusal(`"platform.example"`)},
		{"HTTP://Platform.Example", refusal(`"Platform.Example"`)},
		{"http://192.0.2.10:8080", refusal(`"192.0.2.10"`)},
		{"http://[2001:db8::1]:8080", refusal(`"2001:db8::1"`)},
		{"http://[fe80::1%25eth0]:8080", refusal(`"fe80::1%eth0"`)},
		// The unspecified address, which a dialer may take for the local
		// machine, is not loopback.
		{"http://0.0.0.0:8080", refusal(`"0.0.0.0"`)},
		// Only the name "localhost" itself: a subdomain of it, or a name
		// under another domain, is looked up as any other name.
		{"http://api.localhost:8080", refusal(`"api.localhost"`)},
		{"http://localhost.example", refusal(`"localhost.example"`)},
		{"http://localhost.:8080", refusal(`"localhost."`)},
		// An IPv4 address in a form that is not dotted decimal is a name.
		{"http://2130706433", refusal(`"2130706433"`)},
		{"http://127.0.0.1:8080", ""},
		{"http://127.0.0.1", ""},
		{"http://127.3.4.5:8080/pay", ""},
		{"http://[::1]:8080", ""},
		{"http://[::1]", ""},
		{"http://[::ffff:127.0.0.1]:8080", ""},
		{"http://localhost:8080", ""},
		{"http://LocalHost", ""},
		{"https://platform.example", ""},
		{"https://192.0.2.10:8443/pay", ""},
		{"HTTPS://platform.example", ""},
	} {
		for _, allow := range []bool{false, true} {
			c, err := payflow.NewClient(tt.url, payflow.ClientOptions{AllowPlainHTTP: allow})
			if tt.refused != "" && !allow {
				assert.ErrorIs(t, err, payflow.ErrInvalid, tt.url)
				assert.EqualError(t, err, tt.refused, tt.url)
				assert.Nil(t, c, tt.url)
				continue
			}
			assert.NoError(t, err, "%s, AllowPlainHTTP %v", tt.url, allow)
			assert.NotNil(t, c, "%s, AllowPlainHTTP %v", tt.url, allow)
		}
	}
	// The other faults of a base URL come first: they are no less
	// refused with the option.
	c, err := payflow.NewClient("http://user:secret@platform.example", payflow.ClientOptions{})
	assert.EqualError(t, err, "payflow: invalid request: payflow: base URL has user credentials")
	assert.Nil(t, c)
	c, err = payflow.NewClient("http://platform.example:99999", payflow.ClientOptions{AllowPlainHTTP: true})
	assert.EqualError(t, err, "payflow: invalid request: payflow: base URL port is not from 1 to 65535")
	assert.Nil(t, c)
}

// TestClientWithPlainHTTPAllowedRefusesARedirectToPlainHTTP: a client
// allowed plain HTTP still refuses a redirect from its https base URL to
// plain http on the same host and port, another origin, before its hop is
// sent, for a GET with a token and a POST alike.
func TestClientWithPlainHTTPAllowedRefusesARedirectToPlainHTTP(t *testing.T) {
	view := mustCBOR(t, &payflow.PaymentView{ID: payflow.ID{1}, State: "pending"})
	for _, location := range []string{"http://pay.example/v1/moved", "http://pay.example:443/v1/moved"} {
		for _, post := range []bool{false, true} {
			var sent []*http.Request
			hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				sent = append(sent, r)
				h := http.Header{}
				if len(sent) == 1 {
					h.Set("Location", location)
					return &http.Response{StatusCode: http.StatusTemporaryRedirect, Header: h, Body: http.NoBody, Request: r}, nil
				}
				h.Set("Content-Type", payflow.ContentType)
				return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(strings.NewReader(string(view))), Request: r}, nil
			})}
			c, err := payflow.NewClient("https://pay.example", payflow.ClientOptions{HTTPClient: hc, MaxAttempts: 4, AllowPlainHTTP: true})
			require.NoError(t, err)
			if post {
				_, err = c.Decline(context.Background(), "tok-1", payflow.ID{1})
			} else {
				_, err = c.Payment(context.Background(), "tok-1", payflow.ID{1})
			}
			require.ErrorIs(t, err, payflow.ErrInternal, "%s, POST %v", location, post)
			assert.ErrorIs(t, err, payflow.ErrOriginRedirect, "%s, POST %v", location, post)
			assert.Len(t, sent, 1, "%s, POST %v: the hop is never sent, and the call not retried", location, post)
		}
	}
}
