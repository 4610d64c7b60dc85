package payflow

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/casimpay/casimpay/internal/ctxsleep"
	"github.com/casimpay/casimpay/internal/nilptr"
	"github.com/casimpay/casimpay/pki/record"
)

// Defaults of ClientOptions.
const (
	DefaultAttemptTimeout = 20 * time.Second
	DefaultMaxAttempts    = 4
	DefaultMinBackoff     = 50 * time.Millisecond
	DefaultMaxBackoff     = 2 * time.Second
)

// clientMaxHeaderBytes bounds the header section of a reply that the
// client's own HTTP client reads (net/http's default is 10 MiB), so that
// a reply makes a phone hold no more than it and MaxReplyBytes.
const clientMaxHeaderBytes = 64 << 10

// ClientOptions configure NewClient. The zero value is the default: a
// zero field takes its default, and a negative AttemptTimeout,
// MaxAttempts, MinBackoff, MaxBackoff or MaxReplyBytes, or a MaxBackoff
// below MinBackoff is refused with ErrInvalid. A duration has no upper
// bound (MaxHandlerDuration bounds the handler's options only): the
// longest AttemptTimeout leaves each attempt to the call's context.
type ClientOptions struct {
	// HTTPClient sends the requests (default: a client of its own whose
	// transport keeps up to 64 idle connections to the platform and reads
	// a reply's header section of up to 64 KiB, a longer one failing the
	// attempt as a network error). NewClient takes a copy of it, whose
	// CheckRedirect refuses a redirect that would carry the call's bearer
	// token, Idempotency-Key or body to another origin than the call's
	// (another scheme, host or port) and asks the given one's, or
	// net/http's default policy when nil, about the others. A redirect so
	// refused fails the call at once (see Client).
	HTTPClient *http.Client
	// AttemptTimeout bounds each attempt of a call (default
	// DefaultAttemptTimeout); the context of the call bounds them all.
	AttemptTimeout time.Duration
	// MaxAttempts is how many times a call is sent at most (default
	// DefaultMaxAttempts); 1 never retries. Only a call that got no
	// verdict is sent again: after a network error, an error body of
	// code internal, unavailable or idempotency_in_flight whatever its
	// status, or, without an error body of a known code, a 5xx or 408
	// status (see Client).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the backoff before a retry, which
	// doubles from MinBackoff up to MaxBackoff (defaults DefaultMinBackoff,
	// or MaxBackoff when that is shorter, and DefaultMaxBackoff, or
	// MinBackoff when that is longer); the pause is the backoff with
	// jitter, from half of it to all of it, so the first is from half of
	// MinBackoff. A Retry-After header lengthens it up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// MaxReplyBytes limits a reply body (default DefaultMaxReplyBytes).
	MaxReplyBytes int64
	// Rand is the source of idempotency keys and request IDs (default
	// crypto/rand, also in place of a nil pointer). Concurrent calls read
	// it at the same time, so it must be safe for concurrent use. A call
	// for which it fails sends nothing and fails with an error matching
	// ErrUnavailable that wraps the failure, as the platform's calls fail
	// when its random source does.
	Rand io.Reader
	// AllowPlainHTTP lets NewClient take a plain http base URL whose host
	// is not loopback (see NewClient), which it refuses otherwise. Over
	// such a URL every call sends in clear, to be read by anyone on the
	// network path and replayed, the card's bearer token (which gives the
	// card's access to the platform until it expires), the records that
	// the card signs (a login's auth proof, consents, payment requests),
	// the Idempotency-Keys and the replies (payment views, receipts,
	// catalogs). Set it only where that path is trusted: a sidecar or a
	// service mesh that carries the connection over TLS, a private
	// network that no one else reaches, or a transport of HTTPClient that
	// never leaves the process. It changes nothing for an https or
	// loopback base URL, nor for redirects: one that would carry the
	// call's token, key or body to another origin, plain http from https
	// on the same host among them, stays refused (see Client).
	AllowPlainHTTP bool
}

// Client is the platform API over HTTP (PROTOCOL.md §5). Every POST carries
// an Idempotency-Key chosen for the call and kept across its retries, and
// every call an X-Request-ID, kept across its retries too: the request ID
// of ctx (WithRequestID; a call made while serving a request carries that
// request's ID on) when it has a well-formed one, else one chosen for the
// call; *Error.RequestID reports it. A call is retried, with backoff and at
// most MaxAttempts times, after a network error (a connection refused,
// reset or dropped without a reply, a timeout) and after an error reply
// that gives no verdict on the call. The code of an error body of a known
// code (PROTOCOL.md §5.4) decides, whatever the status, which a gateway or
// a middleware on the way may have rewritten: internal, unavailable and
// idempotency_in_flight (which the platform answers 500, 503 and 409) are
// retried; any other code fails the call at once, a verdict of the
// platform (a 500 whose body says conflict matches ErrConflict after one
// attempt) or rate_limited, whose retry time is left to the caller. A
// reply without an error body of a known code is retried by its status: a
// 5xx (a gateway's 502 or 504, and any other but 501, 505, 506, 508, 510
// and 511, by which the server or a proxy on the way says that it does
// not serve such a request at all: those are sent once and match
// ErrInternal; a status beyond 599, which RFC 9110 §15 has a client take
// for a 5xx, is one) or a 408 (a proxy's timeout, which ErrUnavailable
// matches). An exchange that would fail every attempt alike is sent once
// and fails with an error matching ErrInternal that wraps its cause, which
// errors.As finds: a server certificate that does not verify
// (*tls.CertificateVerificationError, or a verdict of crypto/x509 that a
// VerifyConnection or VerifyPeerCertificate of the HTTPClient returns bare:
// x509.UnknownAuthorityError, x509.HostnameError,
// x509.CertificateInvalidError, x509.SystemRootsError,
// x509.ConstraintViolationError, x509.UnhandledCriticalExtension,
// x509.InsecureAlgorithmError or x509.ErrUnsupportedAlgorithm), a reply
// that is not TLS to an https base URL (http.ErrSchemeMismatch from an HTTP
// server, tls.RecordHeaderError from another protocol), a TLS alert by
// which the server refuses what the client offers (a *net.OpError whose Op
// is "remote error", as crypto/tls reports it: protocol_version,
// certificate_required or no_application_protocol; any other alert, such as
// handshake_failure, bad_certificate, unknown_ca, certificate_expired,
// unrecognized_name or internal_error, which depend on the state or
// settings of the server that a new connection may find otherwise, is
// retried as a network error is), a redirect refused by the CheckRedirect
// of ClientOptions.HTTPClient, whose error it wraps, or by the default
// policy of net/http after 10 redirects, a redirect that would carry the
// call's bearer token, Idempotency-Key or body to another origin than the
// call's URL (another scheme, such as plain HTTP, host, a subdomain too,
// or port), which net/http would send them to but which is refused before
// its hop is sent (every POST carries a key; a GET's hop to another
// domain, to which net/http sends no Authorization, is followed without
// the token), and a redirect net/http cannot
// follow (*url.Error: a Location header that does not parse, or a URL whose
// scheme is not http or https, that has no host name or whose port is not
// from 1 to 65535, as NewClient refuses for the base URL; a port alone, as
// in "http://:8080", is no host name, and a hop to it, which net/http sends
// to the local machine, fails at once whatever its error, as one to port 0
// or 99999 does); the platform never redirects, and a redirect whose own
// hop fails on the network is retried as any network error is. Such an
// error matches ErrInternal, as a reply too large or that does not decode
// does, and a 200 reply whose Content-Type is not one application/cbor
// (another, none, or the header given twice; an error reply so is one
// without an error body, below), though its body decodes: the fault lies
// with the server at the base URL or with how the transport is set up to
// reach it, which no retry mends (so not ErrUnavailable) and the call's
// arguments have no part in (so not ErrInvalid). Errors of the platform
// come back as *Error (find it with errors.As: the error of a reply without
// the platform's error body only wraps one, PROTOCOL.md §5.4), so errors.Is
// matches the sentinel errors of this package as it does in process (a
// rate_limited reply that gives a retry time as a *RateLimitedError
// wrapping the *Error, which errors.As finds as well); an error body of a
// code that is none of the sentinels' gets the code of the reply's status,
// as a reply without an error body does, the code received named in its
// message (a status below 400 but 200, such as a 204 or a 3xx that net/http
// does not follow, one without a Location among them, is internal and fails
// at once); a platform that cannot be reached gives an error matching
// ErrUnavailable, and a context that ends gives the context's error. A call
// whose bearer token is not empty and is no b64token of RFC 6750 §2.1
// (letters, digits,
// - . _ ~ + /, then = at the end only; the platform's tokens are
// base64url), which the handler would refuse or, for a space at either
// end, which the header's parsing drops, take for another token, fails
// with an error matching ErrInvalid without being sent (an empty token
// sends no Authorization header: an endpoint that needs one answers
// ErrUnauthorized), and so does a call given a nil request ("nil capture
// request" for Capture, each call naming its own). A Client is safe for
// concurrent use.
//
// Make a Client with NewClient: every method of one that NewClient did
// not make, the zero Client or a nil *Client, fails with an error
// matching ErrInvalid and sends nothing.
type Client struct {
	base string
	hc   *http.Client
	opts ClientOptions
}

var _ API = (*Client)(nil)

// NewClient returns a client of the platform served at baseURL (such as
// "https://pay.example.com", or "https://example.com/pay" for one served
// under a path; the paths /v1/… are appended, after any trailing slashes
// of baseURL are cut). It fails with an error matching ErrInvalid when
// baseURL is not an http or https URL with a host (a port alone, as in
// "http://:8080", is none); when its port is not
// from 1 to 65535, which no connection can be made to; when it has a
// query or a fragment (even an empty one, a lone "?" or "#"), which the
// appended paths could not follow; when it has user credentials
// ("user:password@"), which errors and logs would show (no error repeats
// them); when its path holds an "@" (an escaped "%40" is taken), as
// "http://user:1234/et@host" does, whose host is "user" and whose path
// holds the rest of the credentials; when it is a plain http URL whose
// host is not loopback, unless ClientOptions.AllowPlainHTTP is set: every
// call would send the card's bearer token, its signed records and the
// Idempotency-Keys in clear over the network; or when an option is out of
// range (see ClientOptions). A loopback host is an IP address in
// 127.0.0.0/8 or ::1 (an IPv4-mapped one, "[::ffff:127.0.0.1]", too), or
// the name "localhost" itself, in any case, which net/http resolves
// through the system's resolver (its hosts file), normally to a loopback
// address; any other name, "api.localhost" and "localhost." among them,
// and an address in any other form ("127.1", "2130706433"), is not
// (nothing is resolved to tell).
func NewClient(baseURL string, opts ClientOptions) (*Client, error) {
	err := checkOptions(
		option{"AttemptTimeout", int64(opts.AttemptTimeout), true, 0},
		option{"MaxAttempts", int64(opts.MaxAttempts), false, 0},
		option{"MinBackoff", int64(opts.MinBackoff), true, 0},
		option{"MaxBackoff", int64(opts.MaxBackoff), true, 0},
		option{"MaxReplyBytes", opts.MaxReplyBytes, false, 0},
	)
	if err != nil {
		return nil, err
	}
	if opts.MaxBackoff != 0 && opts.MaxBackoff < opts.MinBackoff {
		return nil, fmt.Errorf("%w: payflow: MaxBackoff %v is below MinBackoff %v", ErrInvalid, opts.MaxBackoff, opts.MinBackoff)
	}
	if err := checkBaseURL(baseURL, opts.AllowPlainHTTP); err != nil {
		return nil, err
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), opts: opts}
	if opts.HTTPClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 64
		t.MaxResponseHeaderBytes = clientMaxHeaderBytes
		c.hc = &http.Client{Transport: t}
	} else {
		hc := *opts.HTTPClient // its transport, jar and timeout, under the policy below
		c.hc = &hc
	}
	c.hc.CheckRedirect = clientRedirectPolicy(c.hc.CheckRedirect)
	if c.opts.AttemptTimeout == 0 {
		c.opts.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.opts.MaxAttempts == 0 {
		c.opts.MaxAttempts = DefaultMaxAttempts
	}
	if c.opts.MaxBackoff == 0 {
		c.opts.MaxBackoff = max(DefaultMaxBackoff, c.opts.MinBackoff)
	}
	if c.opts.MinBackoff == 0 {
		c.opts.MinBackoff = min(DefaultMinBackoff, c.opts.MaxBackoff)
	}
	if c.opts.MaxReplyBytes == 0 {
		c.opts.MaxReplyBytes = DefaultMaxReplyBytes
	}
	if nilptr.Is(c.opts.Rand) {
		c.opts.Rand = crand.Reader
	}
	return c, nil
}

// checkBaseURL returns an error matching ErrInvalid unless baseURL is an
// http or https URL with a host (not a port alone, which the dialer would
// take for the local machine), without a query, a fragment, user
// credentials or an "@" in its path (where a password of digits followed
// by a "/" puts the rest of the credentials, the host being the user
// name: an escaped "%40" is taken), whose port, if it has one, is from 1
// to 65535 (leading zeros allowed, as the dialer takes them): any other
// could never be sent, or not to the paths of the calls, or would show
// its credentials or send them to another host; and, unless
// allowPlainHTTP, that is https or whose host is loopback (loopbackHost):
// a plain http URL to any other host would send a call's bearer token,
// signed record and Idempotency-Key in clear over the network.
// Port 0 is refused with the ports past 65535: no connection can be made
// to it. The error of a URL that does not parse leaves the URL out, which
// may hold credentials, and says only that it does not parse when the URL
// holds an "@": the parser's reason may repeat a part of a password that
// holds a "/", a "?" or a "#" it took for the host or the port.
func checkBaseURL(baseURL string, allowPlainHTTP bool) error {
	u, err := url.Parse(baseURL)
	if e, ok := errors.AsType[*url.Error](err); ok {
		err = e.Err
	}
	switch {
	case err != nil && strings.Contains(baseURL, "@"):
		// The parser may have taken a part of the credentials for the
		// host or the port, and would repeat it.
		return fmt.Errorf("%w: payflow: base URL does not parse", ErrInvalid)
	case err != nil:
		return fmt.Errorf("%w: payflow: base URL: %v", ErrInvalid, err)
	case u.Scheme != "http" && u.Scheme != "https": // Parse lowers the scheme's case
		return fmt.Errorf("%w: payflow: base URL scheme %q is not http or https", ErrInvalid, u.Scheme)
	case u.User != nil: // "@" alone too
		return fmt.Errorf("%w: payflow: base URL has user credentials", ErrInvalid)
	case strings.Contains(u.EscapedPath(), "@"):
		// Before the host and port checks: the host and port may be
		// parts of credentials that a "/" cut short.
		return fmt.Errorf("%w: payflow: base URL has an \"@\" in its path", ErrInvalid)
	}
	if fault := hostFault(u); fault != "" {
		return fmt.Errorf("%w: payflow: base URL %s", ErrInvalid, fault)
	}
	switch {
	case strings.Contains(baseURL, "#"): // Parse cuts the fragment at the first "#"
		return fmt.Errorf("%w: payflow: base URL has a fragment", ErrInvalid)
	case u.RawQuery != "" || u.ForceQuery:
		return fmt.Errorf("%w: payflow: base URL has a query", ErrInvalid)
	case u.Scheme == "http" && !allowPlainHTTP && !loopbackHost(u.Hostname()):
		return fmt.Errorf("%w: payflow: base URL is plain http to %q, which is not a loopback address: "+
			"every call would send the bearer token, the signed records and the Idempotency-Keys in clear; "+
			"use https, or set ClientOptions.AllowPlainHTTP where the path to the platform is trusted", ErrInvalid, u.Hostname())
	}
	return nil
}

// loopbackHost reports whether host, a URL's host name, is the name
// "localhost" (in any case), which the system's resolver normally gives a
// loopback address, or an IP address in 127.0.0.0/8 or ::1, an
// IPv4-mapped one and one with a zone too. Nothing is resolved: any other
// name is not loopback, whatever it resolves to.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// hostFault returns why u, an http or https URL, names no host that a
// connection can be made to, or "" when it names one: it has no host
// name (a port alone, as in "http://:8080", is none: net/http would dial
// the local machine), or its port is not from 1 to 65535 (validPort).
// NewClient refuses a base URL for it, and Client fails at once on a
// redirect to such a URL (clientUnsendableRedirect).
func hostFault(u *url.URL) string {
	switch {
	case u.Hostname() == "":
		return "has no host"
	case !validPort(u.Port()):
		// Parse takes any digits; they are not repeated, since they may
		// be the start of a password ("http://user:99999?et@host").
		return "port is not from 1 to 65535"
	}
	return ""
}

// validPort reports whether port, the digits after a URL's host, is
// empty (the scheme's port) or a decimal from 1 to 65535.
func validPort(port string) bool {
	if port == "" {
		return true
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n > 0
}

// Challenge implements API.
func (c *Client) Challenge(ctx context.Context, req *ChallengeRequest) (*ChallengeResponse, error) {
	if req == nil {
		return nil, errNilRequest("challenge")
	}
	return clientCall[ChallengeResponse](ctx, c, http.MethodPost, "/v1/challenges", "", req)
}

// Login implements API.
func (c *Client) Login(ctx context.Context, req *LoginRequest) (*LoginResponse, error) {
	if req == nil {
		return nil, errNilRequest("login")
	}
	return clientCall[LoginResponse](ctx, c, http.MethodPost, "/v1/login", "", req)
}

// Resolve implements API. A shopper card's EID resolved with a shopper
// card's token is ErrNotFound, the platform's reply to an unknown EID.
func (c *Client) Resolve(ctx context.Context, token string, req *ResolveRequest) (*ResolveResponse, error) {
	if req == nil {
		return nil, errNilRequest("resolve")
	}
	return clientCall[ResolveResponse](ctx, c, http.MethodPost, "/v1/resolve", token, req)
}

// Pair implements API.
func (c *Client) Pair(ctx context.Context, req *PairRequest) (*SessionView, error) {
	if req == nil {
		return nil, errNilRequest("pair")
	}
	return clientCall[SessionView](ctx, c, http.MethodPost, "/v1/pair", "", req)
}

// Session implements API.
func (c *Client) Session(ctx context.Context, token string, id ID) (*SessionView, error) {
	return clientCall[SessionView](ctx, c, http.MethodGet, "/v1/sessions/"+id.String(), token, nil)
}

// Catalog implements API. The merchant ID goes in the path escaped, its
// slashes too, and the dots of a merchant ID "." or ".." too ("%2E"), so
// that every merchant ID names its catalog. An empty merchant ID, which
// names none, fails with an error matching ErrInvalid without being sent.
func (c *Client) Catalog(ctx context.Context, token string, merchantID string) (*Catalog, error) {
	if merchantID == "" {
		return nil, fmt.Errorf("%w: empty merchant ID", ErrInvalid)
	}
	return clientCall[Catalog](ctx, c, http.MethodGet, "/v1/merchants/"+merchantSegment(merchantID)+"/catalog", token, nil)
}

// merchantSegment returns a merchant ID as one segment of a path:
// path-escaped, its slashes too, and for the IDs "." and "..", which would
// be segments that the handler answers 404 (PROTOCOL.md §5.2), with their
// dots escaped as well ("%2E"): Platform.EnrollMerchant refuses them, but
// a merchant so named enrolled before it did stays readable.
func merchantSegment(merchantID string) string {
	s := url.PathEscape(merchantID)
	if s == "." || s == ".." {
		s = strings.ReplaceAll(s, ".", "%2E")
	}
	return s
}

// CreateRequest implements API.
func (c *Client) CreateRequest(ctx context.Context, req *CreateRequest) (*PaymentView, error) {
	if req == nil {
		return nil, errNilRequest("create")
	}
	return clientCall[PaymentView](ctx, c, http.MethodPost, "/v1/requests", "", req)
}

// Payment implements API.
func (c *Client) Payment(ctx context.Context, token string, id ID) (*PaymentView, error) {
	return clientCall[PaymentView](ctx, c, http.MethodGet, "/v1/requests/"+id.String(), token, nil)
}

// Approve implements API. The path names the request the consent is for;
// a consent that cannot be opened goes under the all-zero ID, and the
// platform refuses it with the reason.
func (c *Client) Approve(ctx context.Context, req *ApproveRequest) (*PaymentView, error) {
	if req == nil {
		return nil, errNilRequest("approve")
	}
	return clientCall[PaymentView](ctx, c, http.MethodPost, "/v1/requests/"+consentRequestID(req).String()+"/consent", "", req)
}

// Decline implements API.
func (c *Client) Decline(ctx context.Context, token string, id ID) (*PaymentView, error) {
	return clientCall[PaymentView](ctx, c, http.MethodPost, "/v1/requests/"+id.String()+"/decline", token, nil)
}

// Cancel implements API.
func (c *Client) Cancel(ctx context.Context, token string, id ID) (*PaymentView, error) {
	return clientCall[PaymentView](ctx, c, http.MethodPost, "/v1/requests/"+id.String()+"/cancel", token, nil)
}

// Capture implements API.
func (c *Client) Capture(ctx context.Context, token string, req *CaptureRequest) (*PaymentView, error) {
	if req == nil {
		return nil, errNilRequest("capture")
	}
	return clientCall[PaymentView](ctx, c, http.MethodPost, "/v1/requests/"+req.RequestID.String()+"/capture", token, req)
}

// Refund implements API.
func (c *Client) Refund(ctx context.Context, req *RefundRequest) (*RefundView, error) {
	if req == nil {
		return nil, errNilRequest("refund")
	}
	return clientCall[RefundView](ctx, c, http.MethodPost, "/v1/refunds", "", req)
}

// Info implements API.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	return clientCall[Info](ctx, c, http.MethodGet, "/v1/info", "", nil)
}

// clientCall sends one logical call, retrying it as Client documents, and
// decodes the reply into a new Out.
func clientCall[Out any](ctx context.Context, c *Client, method, path, token string, in any) (*Out, error) {
	if c == nil || c.hc == nil { // NewClient sets hc
		return nil, fmt.Errorf("%w: a Client is made by NewClient", ErrInvalid)
	}
	if token != "" && !validB64Token(token) {
		return nil, fmt.Errorf("%w: bearer token is not a %s", ErrInvalid, b64tokenForm)
	}
	var body []byte
	if in != nil {
		var err error
		if body, err = wireEnc.Marshal(in); err != nil {
			return nil, fmt.Errorf("%w: encoding request: %v", ErrInvalid, err)
		}
	}
	var key string
	if method == http.MethodPost {
		var b [16]byte
		if _, err := io.ReadFull(c.opts.Rand, b[:]); err != nil {
			return nil, fmt.Errorf("%w: idempotency key: %w", ErrUnavailable, err)
		}
		key = hex.EncodeToString(b[:])
	}
	rid := RequestID(ctx)
	if !validRequestID(rid) {
		var b [12]byte
		if _, err := io.ReadFull(c.opts.Rand, b[:]); err != nil {
			return nil, fmt.Errorf("%w: request ID: %w", ErrUnavailable, err)
		}
		rid = hex.EncodeToString(b[:])
	}
	for attempt := 1; ; attempt++ {
		out, retryAfter, err := clientAttempt[Out](ctx, c, method, path, token, key, rid, body)
		if err == nil {
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if attempt >= c.opts.MaxAttempts || !clientRetryable(err) {
			return nil, err
		}
		if err := c.pause(ctx, attempt, retryAfter); err != nil {
			return nil, err
		}
	}
}

// clientRetryable reports whether an attempt that failed with err may be
// sent again with the same idempotency key. An error body of a known code
// is the platform's word, which decides whatever the status (a gateway or
// a middleware on the way may have rewritten it): internal, unavailable
// and idempotency_in_flight say that the call got no verdict and are
// retried (unanswered); any other code is not: a verdict on the call, or
// rate_limited, whose wait is left to the caller (RateLimitedError). A
// reply without such a body (statusOnlyError) is retried by its status:
// a 5xx that may change (not statusNeverChanges), a status beyond 599
// (which RFC 9110 §15 has a client take for a 5xx) or a 408.
func clientRetryable(err error) bool {
	e, ok := errors.AsType[*Error](err)
	if !ok {
		return errors.Is(err, ErrUnavailable) // network errors
	}
	if !holdsError[*statusOnlyError](err) {
		return unanswered(e)
	}
	return e.Status >= 500 && !statusNeverChanges(e.Status) || e.Status == http.StatusRequestTimeout
}

// statusNeverChanges reports whether a 5xx status says that the server or
// a proxy on the way does not serve such a request at all, which no retry
// changes: 501 Not Implemented, 505 HTTP Version Not Supported, 506
// Variant Also Negotiates, 508 Loop Detected, 510 Not Extended and 511
// Network Authentication Required (a network that wants its own login).
// The platform answers only 500 and 503; the other 5xx, 507 Insufficient
// Storage and those no registry knows among them (RFC 9110 §15 takes them
// for 500), say that a server cannot serve now.
func statusNeverChanges(status int) bool {
	switch status {
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported, http.StatusVariantAlsoNegotiates,
		http.StatusLoopDetected, http.StatusNotExtended, http.StatusNetworkAuthenticationRequired:
		return true
	}
	return false
}

// clientNeverSucceeds reports whether err, an error of http.Client.Do
// with its response resp, fails every attempt alike: a redirect that
// CheckRedirect refused (Do returns a response with its error only then,
// the response's body closed), a server certificate that does not verify
// (crypto/tls wraps the x509 error in a *tls.CertificateVerificationError;
// a VerifyConnection or VerifyPeerCertificate of the HTTPClient may
// return it bare: clientCertificateRefused), a reply that is not TLS to
// an https URL (an HTTP server's, which net/http reports as
// http.ErrSchemeMismatch, or another protocol's), a redirect net/http
// cannot follow (clientUnsendableRedirect), or a TLS alert by which the
// server refuses what the client offers (clientRefusedByTLSAlert). A
// dropped, reset or refused connection (io.EOF, ECONNRESET,
// ECONNREFUSED), a timeout and any other TLS alert may succeed on retry
// and are not among them, whatever their type.
func clientNeverSucceeds(resp *http.Response, err error) bool {
	return resp != nil || clientCertificateRefused(err) || holdsError[tls.RecordHeaderError](err) ||
		errors.Is(err, http.ErrSchemeMismatch) || clientRefusedByTLSAlert(err) || clientUnsendableRedirect(err)
}

// clientCertificateRefused reports whether err holds a verdict of
// crypto/x509 on the server's certificate, which every attempt verified
// the same way gets again: a *tls.CertificateVerificationError, in which
// crypto/tls wraps the error of its own verification, or an error of
// crypto/x509 that a VerifyConnection or VerifyPeerCertificate returns
// bare: x509.UnknownAuthorityError, x509.HostnameError,
// x509.CertificateInvalidError, x509.SystemRootsError (system roots that
// failed to load, which crypto/x509 tries once),
// x509.ConstraintViolationError, x509.UnhandledCriticalExtension,
// x509.InsecureAlgorithmError or x509.ErrUnsupportedAlgorithm.
func clientCertificateRefused(err error) bool {
	return holdsError[*tls.CertificateVerificationError](err) || holdsError[x509.UnknownAuthorityError](err) ||
		holdsError[x509.HostnameError](err) || holdsError[x509.CertificateInvalidError](err) ||
		holdsError[x509.SystemRootsError](err) || holdsError[x509.ConstraintViolationError](err) ||
		holdsError[x509.UnhandledCriticalExtension](err) || holdsError[x509.InsecureAlgorithmError](err) ||
		errors.Is(err, x509.ErrUnsupportedAlgorithm)
}

// holdsError reports whether err's tree holds an error of type E, as
// errors.AsType finds it.
func holdsError[E error](err error) bool {
	_, ok := errors.AsType[E](err)
	return ok
}

// clientRefusedByTLSAlert reports whether err holds a TLS alert by which
// the server refuses what the client offers, which a server of a fixed
// policy sends again on every attempt: protocol_version (70: no TLS
// version in common), certificate_required (116: TLS 1.3, the client has
// no certificate to give) and no_application_protocol (120). Any other
// alert may pass on a new connection and is not among them: internal_error
// (80), and those that depend on the state or settings of the backend a
// connection reaches (handshake_failure, 40, which is also how TLS 1.2
// answers a client without the certificate it requires; bad_certificate,
// 42, which crypto/tls sends for any error of a server's VerifyConnection
// or VerifyPeerCertificate; certificate_expired, 45, by the server's
// clock; unknown_ca, 48; unrecognized_name, 112, of a server without a
// certificate for the name), as in a fleet part way through a rotation.
// Under TLS 1.3 the server sends certificate_required once the client has
// finished its handshake and started to send the request: should the
// server's close reset the connection before the client reads the alert,
// which a long request body may bring about, the attempt fails as a reset
// connection does. crypto/tls exports no type for an alert it receives
// over TCP (tls.AlertError is that of QUIC): it reports one as a
// *net.OpError whose Op is "remote error" and whose Err is the alert's
// number, of an unexported uint8 type of crypto/tls, which is what is
// recognised; were that to change, such an alert would be retried and
// reported unavailable.
func clientRefusedByTLSAlert(err error) bool {
	op, ok := errors.AsType[*net.OpError](err)
	if !ok || op.Op != "remote error" {
		return false
	}
	alert := reflect.ValueOf(op.Err)
	if alert.Kind() != reflect.Uint8 || alert.Type().PkgPath() != "crypto/tls" {
		return false
	}
	switch alert.Uint() {
	case 70, 116, 120:
		return true
	}
	return false
}

// clientUnsendableRedirect reports whether err, an error of http.Client.Do
// without a response, is that of a redirect that fails every attempt
// alike: net/http gives up on it before its hop is sent (a Location header
// that does not parse, or one naming a URL that no transport of net/http
// sends: a scheme other than http or https, or no host), or its hop is an
// http or https URL whose host or port NewClient would refuse for a base
// URL (hostFault: a port alone, which net/http sends to the local machine,
// or a port out of range: the dial of port 0 is refused as that of a
// closed port is, and that of 99999 fails with a *net.AddrError, a type
// that a DNS answer without a usable address gives too), whatever the
// error. The *url.Error of any other hop names that hop's URL, which is
// http or https with a host and a port that can be dialled, as the base
// URL is (NewClient checks it), so a redirect whose hop fails on the
// network is not among them; nor is one of another scheme whose cause is a
// net.Error (a transport may send other schemes). net/http gives a
// Location that does not parse no error type of its own: its message is
// matched, and were it to change, such a redirect would be retried and
// reported unavailable.
func clientUnsendableRedirect(err error) bool {
	ue, ok := errors.AsType[*url.Error](err)
	if !ok || ue.Err == nil {
		return false
	}
	u, perr := url.Parse(ue.URL)
	web := perr == nil && (u.Scheme == "http" || u.Scheme == "https")
	if web && hostFault(u) != "" {
		return true // net/http sends it, to the local machine, or not at all
	}
	if holdsError[net.Error](ue.Err) {
		return false // a hop that failed on the network
	}
	if strings.HasPrefix(ue.Err.Error(), "failed to parse Location header ") {
		return true
	}
	return perr == nil && !web
}

// errOriginRedirect refuses a redirect that would carry a call's bearer
// token, Idempotency-Key or body to another origin than the call's
// (clientRedirectPolicy).
var errOriginRedirect = errors.New("payflow: redirect would send the call's bearer token, Idempotency-Key or body to another origin")

// clientRedirectPolicy returns the CheckRedirect of a Client's HTTP client
// around next, that of the HTTPClient given (nil: net/http's default
// policy, at most 10 redirects). It refuses a hop to another origin than
// the call's URL (another scheme, host or port: errOriginRedirect) that
// carries the call's bearer token, which net/http sends along when the
// hop's host name is the call's or a subdomain of it, over plain HTTP or
// to another port too, or its Idempotency-Key, which net/http sends along
// to any host, with the call's body on a 307 or 308: the key of a call
// and its signed record (a login's auth proof among them, which another
// origin could present to the platform first) are for the platform
// alone. A hop of a call without them (a GET without a token, or one
// to another domain, from which net/http drops the token) is followed
// without them; the other hops are left to next.
func clientRedirectPolicy(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		_, token := req.Header["Authorization"]
		_, key := req.Header[IdempotencyKeyHeader]
		if (token || key) && !sameOrigin(req.URL, via[0].URL) {
			return errOriginRedirect
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// sameOrigin reports whether a and b, http or https URLs, are of one
// origin (RFC 6454): the same scheme, host name (in any case) and port,
// an absent port being the scheme's.
func sameOrigin(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && strings.EqualFold(a.Hostname(), b.Hostname()) && originPort(a) == originPort(b)
}

// originPort returns the port of u, an http or https URL, as a number
// (leading zeros dropped, as the dialer drops them), or the port of its
// scheme when it has none.
func originPort(u *url.URL) string {
	p := u.Port()
	if p == "" {
		if u.Scheme == "https" {
			return "443"
		}
		return "80"
	}
	if n, err := strconv.ParseUint(p, 10, 64); err == nil {
		return strconv.FormatUint(n, 10)
	}
	return p
}

// pause sleeps before retry number attempt: exponential from MinBackoff
// with jitter, at least retryAfter, at most MaxBackoff.
func (c *Client) pause(ctx context.Context, attempt int, retryAfter time.Duration) error {
	d := c.backoff(attempt)
	d = d/2 + rand.N(d/2+1)
	return ctxsleep.Sleep(ctx, min(max(d, retryAfter), c.opts.MaxBackoff))
}

// backoff is the pause before retry number attempt, before its jitter:
// MinBackoff doubled attempt-1 times, at most MaxBackoff. It doubles only
// while the double is at most MaxBackoff, so that it never overflows,
// whatever MaxBackoff.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.MinBackoff
	for i := 1; i < attempt; i++ {
		if d > c.opts.MaxBackoff/2 {
			return c.opts.MaxBackoff
		}
		d *= 2
	}
	return min(d, c.opts.MaxBackoff)
}

// clientAttempt sends one attempt of a call.
func clientAttempt[Out any](ctx context.Context, c *Client, method, path, token, key, rid string, body []byte) (*Out, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.AttemptTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	req.Header.Set("Accept", ContentType)
	if body != nil {
		req.Header.Set("Content-Type", ContentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set(IdempotencyKeyHeader, key)
	}
	req.Header.Set(RequestIDHeader, rid)
	resp, err := c.hc.Do(req)
	if err != nil {
		if clientNeverSucceeds(resp, err) {
			return nil, 0, fmt.Errorf("%w: %w", ErrInternal, err)
		}
		return nil, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	// One byte more than the limit tells a reply over it, but for the
	// largest limit, which that byte would overflow to a negative one.
	reply, err := io.ReadAll(io.LimitReader(resp.Body, min(c.opts.MaxReplyBytes, math.MaxInt64-1)+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: reading reply: %w", ErrUnavailable, err)
	}
	if int64(len(reply)) > c.opts.MaxReplyBytes {
		return nil, 0, fmt.Errorf("%w: reply larger than %d bytes", ErrInternal, c.opts.MaxReplyBytes)
	}
	cbor := cborContent(resp.Header)
	if resp.StatusCode != http.StatusOK {
		e, byStatus, wait := clientError(resp.StatusCode, cbor, reply)
		e.RequestID = rid
		if wait <= 0 {
			wait = retryAfter(resp.Header.Get("Retry-After"))
		}
		var err error = e
		if byStatus {
			err = &statusOnlyError{e}
		}
		if wait > 0 && e.Code == "rate_limited" {
			return nil, wait, &RateLimitedError{Err: err, RetryAfter: wait}
		}
		return nil, wait, err
	}
	if !cbor {
		return nil, 0, fmt.Errorf("%w: reply Content-Type %q is not one %s", ErrInternal, strings.Join(resp.Header.Values("Content-Type"), ", "), ContentType)
	}
	out := new(Out)
	if err := wireDecodeReply(reply, out); err != nil {
		return nil, 0, fmt.Errorf("%w: decoding reply: %v", ErrInternal, err)
	}
	return out, 0, nil
}

// cborContent reports whether a header carries one Content-Type,
// application/cbor (in any case, parameters allowed): the handler takes a
// request body only then, and the client a reply's (PROTOCOL.md §5.1). Of
// a Content-Type given twice, whatever its values, none is taken, as
// another reader could take another than the handler or client would.
func cborContent(h http.Header) bool {
	vs := h.Values("Content-Type")
	if len(vs) != 1 {
		return false
	}
	mt, _, err := mime.ParseMediaType(vs[0])
	return err == nil && mt == ContentType
}

// clientError turns an error reply into an *Error: the error body when
// there is one of a known code (only in a reply whose Content-Type is
// application/cbor, cbor true: cborContent), else the code that the status
// stands for (an unknown code received then named in the message),
// byStatus then true; and the retry time the body gives, 0 when none.
func clientError(status int, cbor bool, body []byte) (*Error, bool, time.Duration) {
	msg, wait := "HTTP "+strconv.Itoa(status)+" without an error body", time.Duration(0)
	if cbor {
		var e errorBody
		if err := wireDecodeReply(body, &e); err == nil && e.Code != "" {
			wait = retrySeconds(e.RetryAfter)
			if _, known := codeEntry(e.Code); known {
				return &Error{Code: e.Code, Message: e.Message, Status: status}, false, wait
			}
			msg = fmt.Sprintf("HTTP %d with an unknown code %q: %s", status, e.Code, e.Message)
		}
	}
	code := "invalid"
	switch {
	case status == http.StatusUnauthorized:
		code = "unauthorized"
	case status == http.StatusForbidden:
		code = "forbidden"
	case status == http.StatusNotFound:
		code = "not_found"
	case status == http.StatusRequestEntityTooLarge:
		code = "over_limit"
	case status == http.StatusTooManyRequests:
		code = "rate_limited"
	case status == http.StatusInternalServerError, status < 400, statusNeverChanges(status):
		// A status of no error (a 2xx other than 200, a 3xx that net/http
		// does not follow) says nothing of the call's arguments: the fault
		// lies with what answers at the base URL, as for a redirect that
		// cannot be followed, and so does a 5xx that no retry changes.
		code = "internal"
	case status >= 500, status == http.StatusRequestTimeout:
		// A status beyond 599 too (RFC 9110 §15: taken for a 5xx); a 408
		// is a proxy's timeout, not the platform's verdict.
		code = "unavailable"
	}
	return &Error{Code: code, Message: msg, Status: status}, true, wait
}

// statusOnlyError is the *Error of a reply without an error body of a
// known code (clientError), whose code is that of its status alone: it may
// be a gateway's or a proxy's, answered in the platform's stead, so it is
// no verdict of the platform on the call (refused). Its text and chain are
// those of the *Error.
type statusOnlyError struct{ err *Error }

func (e *statusOnlyError) Error() string { return e.err.Error() }
func (e *statusOnlyError) Unwrap() error { return e.err }

// retryAfter parses a Retry-After header in seconds; 0 when absent.
func retryAfter(v string) time.Duration {
	s, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0
	}
	return retrySeconds(s)
}

// retrySeconds is a retry time of s seconds, at most an hour.
func retrySeconds(s uint64) time.Duration {
	return time.Duration(min(s, 3600)) * time.Second
}

// consentRequestID returns the request ID a consent names, unverified, or
// the zero ID when it cannot be opened. req is not nil.
func consentRequestID(req *ApproveRequest) ID {
	var consent record.Consent
	var id ID
	if record.Open(req.Consent, &consent) != nil || len(consent.RequestID) != len(id) {
		return id
	}
	copy(id[:], consent.RequestID)
	return id
}
