package demo

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/payflow"
)

// sentURL is an http.RoundTripper that keeps the URL of the request it is
// given and sends nothing.
type sentURL struct{ url *url.URL }

func (s *sentURL) RoundTrip(r *http.Request) (*http.Response, error) {
	s.url = r.URL
	return nil, errors.New("not sent")
}

// FuzzBaseURL: whatever the cloud's URL file of a data folder holds, a
// phone program given the folder and no -url either refuses it (an empty
// file as ErrEmptyURLFile, a URL that payflow.NewClient refuses as
// payflow.ErrInvalid), or its client sends the calls, the URL with
// /v1/… appended, over http or https, to the URL's own host and a port
// from 1 to 65535, with no user credentials, no query and no fragment,
// under the URL's path. The seeds of testdata/fuzz/FuzzBaseURL are a URL
// that the cloud writes and URLs refused: credentials cut short by a
// "?", a port alone, a fragment, a query and port 0.
func FuzzBaseURL(f *testing.F) {
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, file []byte) {
		// Plain checks keep this body cheap: it runs for every input the
		// fuzzer tries.
		if err := os.WriteFile(filepath.Join(dir, URLFile), file, 0o600); err != nil {
			t.Fatal(err)
		}
		flags, err := parsePhoneFlags("seller", "Alice", []string{"-data", dir})
		text := strings.TrimSpace(string(file))
		if text == "" {
			if !errors.Is(err, ErrEmptyURLFile) {
				t.Fatalf("empty URL file: %v", err)
			}
			return
		}
		if err != nil || flags.url != text {
			t.Fatalf("URL file %q: URL %q, %v", file, flags.url, err)
		}
		sent := &sentURL{}
		c, err := payflow.NewClient(flags.url, payflow.ClientOptions{HTTPClient: &http.Client{Transport: sent}, MaxAttempts: 1})
		if err != nil {
			if !errors.Is(err, payflow.ErrInvalid) {
				t.Fatalf("NewClient(%q): %v", flags.url, err)
			}
			return
		}
		base, err := url.Parse(flags.url)
		if err != nil {
			t.Fatalf("NewClient took %q, which does not parse: %v", flags.url, err)
		}
		if _, err := c.Info(context.Background()); err == nil || sent.url == nil {
			t.Fatalf("Info through a transport that sends nothing: %v, URL %v", err, sent.url)
		}
		u := sent.url
		port, _ := strconv.Atoi(u.Port())
		switch {
		case u.Scheme != "http" && u.Scheme != "https":
			t.Fatalf("base %q: scheme %q", flags.url, u.Scheme)
		case u.Hostname() != base.Hostname() || u.Port() != base.Port() || u.Hostname() == "":
			// net/http drops an empty port, the ":" of "http://h:".
			t.Fatalf("base %q: host %q, the base's %q", flags.url, u.Host, base.Host)
		case u.Port() != "" && (port < 1 || port > 65535):
			t.Fatalf("base %q: port %q", flags.url, u.Port())
		case u.User != nil:
			t.Fatalf("base %q: user %q", flags.url, u.User)
		case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
			t.Fatalf("base %q: query %q, fragment %q", flags.url, u.RawQuery, u.Fragment)
		case u.EscapedPath() != strings.TrimRight(base.EscapedPath(), "/")+"/v1/info":
			t.Fatalf("base %q: path %q", flags.url, u.EscapedPath())
		}
	})
}

// TestDialURL: the URL of a server listening on every interface names the
// loopback address, [::1] for a listen host of [::] and 127.0.0.1 for any
// other (0.0.0.0, none), whichever unspecified address the listener
// reports (a dual-stack one reports [::] for 0.0.0.0 too); any other
// address is kept as the listener reports it, with its port, a zone
// escaped as a URL's host takes it: a URL that a client takes (with
// AllowPlainHTTP, the phones' -plain-http, for a host that is not
// loopback).
func TestDialURL(t *testing.T) {
	for _, tt := range []struct {
		listen string
		addr   *net.TCPAddr
		want   string
	}{
		{"127.0.0.1:0", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "http://127.0.0.1:8080"},
		{"localhost:8080", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "http://127.0.0.1:8080"},
		{"[::1]:0", &net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, "http://[::1]:8080"},
		// A zone escaped as a URL's host takes it (RFC 6874): "%25".
		{"[fe80::1%eth0]:0", &net.TCPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth0", Port: 8080}, "http://[fe80::1%25eth0]:8080"},
		{"0.0.0.0:0", &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "http://127.0.0.1:8080"},
		{"0.0.0.0:0", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "http://127.0.0.1:8080"},
		{":0", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "http://127.0.0.1:8080"},
		{"[::]:0", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "http://[::1]:8080"},
	} {
		got := dialURL(tt.listen, tt.addr)
		if got != tt.want {
			t.Errorf("dialURL(%q, %v) = %q, want %q", tt.listen, tt.addr, got, tt.want)
		}
		// A host that is not loopback, plain http, needs the phones'
		// -plain-http.
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("dialURL(%q, %v) = %q: %v", tt.listen, tt.addr, got, err)
		}
		ip := net.ParseIP(u.Hostname()) // nil for a zone too
		opts := payflow.ClientOptions{AllowPlainHTTP: ip == nil || !ip.IsLoopback()}
		if _, err := payflow.NewClient(got, opts); err != nil {
			t.Errorf("dialURL(%q, %v) = %q, which a client refuses: %v", tt.listen, tt.addr, got, err)
		}
	}
}
