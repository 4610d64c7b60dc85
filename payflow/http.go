package payflow

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casimpay/casimpay/internal/nilptr"
	"github.com/casimpay/casimpay/pki/record"
)

// RequestIDHeader carries the request ID: the handler takes the client's
// when it is given once and well formed (spaces and tabs around it left
// out), makes one otherwise (the header given twice too), and echoes it in
// the reply.
const RequestIDHeader = "X-Request-ID"

// DefaultCallTimeout bounds the work of one request, its API call and its
// calls to the reply store, unless HandlerOptions.CallTimeout says
// otherwise.
const DefaultCallTimeout = 30 * time.Second

// leaseAfterDeadline is the least time by which the lease of a request's
// Idempotency-Key outlasts the request's deadline (CallTimeout after it
// reached the handler's steps): NewHandler raises ReplyLease to
// CallTimeout plus it, so that no other request takes the key over while
// the request may still store its reply (PROTOCOL.md §5.5).
const leaseAfterDeadline = 10 * time.Second

// DefaultMaxInFlight is the most requests that the handler serves at once
// unless HandlerOptions.MaxInFlight says otherwise.
const DefaultMaxInFlight = 1024

// MaxHandlerDuration is the longest ReplyTTL, ReplyLease and CallTimeout
// that NewHandler accepts: a year, far beyond any sensible setting, and
// short enough that the times the handler derives from them (a lease, an
// expiry) stay within what time.Duration and the stores hold. It bounds
// no option of NewClient, which derives no stored time from its
// durations.
const MaxHandlerDuration = 365 * 24 * time.Hour

// HandlerOptions configure NewHandler. The zero value is the default: a
// zero field takes its default, and a negative ReplyTTL, ReplyLease,
// MaxBodyBytes, CallTimeout or MaxInFlight, or a duration longer than
// MaxHandlerDuration, or a nil pointer as Replies, is refused with
// ErrInvalid.
type HandlerOptions struct {
	// Replies stores the replies of POST requests with an
	// Idempotency-Key, so that several processes serving one database
	// share them (PROTOCOL.md §5.5): the final replies, but for the
	// refusals given before the bearer token or the record's signature
	// is verified, which cannot have written anything (an unauthorized
	// refusal and, from a *Platform, the refusal of a card-signed record
	// given before its signature is verified), and the replies of
	// logins, which carry a token, and of challenges, which write
	// nothing. Every other final reply is stored, whether or not its call
	// wrote something: a refusal given once the token or the signature
	// is verified too. In front of a RecordChecker (a *Platform), with
	// Replies a ReplyReader, a card-signed record that the platform
	// refuses before verifying its card and signature does not even claim
	// its key: the handler has the API check the record first (see
	// NewHandler), and a record refused then only has its key read and
	// writes nothing to Replies; with Replies no ReplyReader, such a
	// record claims its key and releases it again. A final reply that
	// Replies fails to store, at a second try too, leaves its key in
	// flight rather than releases it: its call may have written
	// something, and a retry gets 409 idempotency_in_flight rather than
	// an answer of what the call wrote. The handler goes on trying to
	// store that reply, from 100 ms doubling to 5 s between tries, for as
	// long as the key's lease has left to run, or until Handler.Close:
	// once stored, the retries get it, also after the lease. A reply not
	// stored by then (Replies failing for the whole lease, or the handler
	// closed or the process stopped first) lets a retry after the lease
	// run the call again, which answers what the first run wrote: a
	// consent that it settled gets the request's view as a read then
	// shows it (see Platform.Approve), and that reply is stored. When
	// nil, a *Platform API's own Store keeps them; another API's handler
	// keeps them in this process's memory (a ReplyMemory). A nil pointer
	// in it is refused with ErrInvalid.
	Replies ReplyStore
	// ReplyTTL is how long a stored reply is replayed (default
	// DefaultReplyTTL).
	ReplyTTL time.Duration
	// ReplyLease is how long a key stays in flight before a request that
	// never finished (a crashed process), or whose final reply Replies
	// failed to store until then, is forgotten (default
	// DefaultReplyLease). It is raised to CallTimeout plus 10 seconds
	// when shorter, so that a running request never loses its key: the
	// lease ends 10 seconds after the request's deadline at the earliest.
	ReplyLease time.Duration
	// MaxBodyBytes limits a request body (default DefaultMaxBodyBytes):
	// a larger one is 422 over_limit, and over HTTP/1.1 the server closes
	// the connection after that reply rather than read the rest.
	MaxBodyBytes int64
	// CallTimeout bounds the work of each request once its body is read
	// (default DefaultCallTimeout): its API call and, under an
	// Idempotency-Key, the calls to Replies that claim the key and then
	// store the reply or release the key, all under one deadline. The
	// work runs to its end, or to this deadline, even when the client
	// goes away. An API call that fails because the deadline passed, with
	// no code of its own, is answered unavailable. A request that reaches
	// its deadline before the key is stored or released leaves it in
	// flight until its lease ends (its final reply tried again meanwhile,
	// as Replies says).
	CallTimeout time.Duration
	// MaxInFlight bounds the requests that the handler serves at once
	// (default DefaultMaxInFlight), so that the goroutines, body buffers
	// and calls that clients can make it hold stay bounded whatever the
	// number of their connections and HTTP/2 streams. A request that
	// comes while MaxInFlight others are being served is answered 503
	// unavailable at once (with its request ID and its log record, as
	// every reply), before its body is read and without calling the API;
	// Client retries it, as every unavailable reply.
	MaxInFlight int
	// Logger receives one record per request with its request ID; the
	// status and the body's size as the ResponseWriter took them (0 for
	// none; the size 0 for a HEAD, whose body the server does not send);
	// the error of a Write of the body that failed (the client gone, the
	// server's WriteTimeout passed); and aborted, for a request whose
	// reply was aborted (by a panic with http.ErrAbortHandler, or after a
	// panic of the ResponseWriter's Write or of the 500 reply to a panic,
	// see NewHandler, or a runtime.Goexit). It also receives the details
	// of server errors (default slog.Default()), and those of a panic or
	// Goexit of a call: its value (panic) and stack, and when Replies
	// panicked releasing the call's Idempotency-Key after it, that panic's
	// value and stack too (cleanup_panic and cleanup_stack), in the
	// request's record when the call's panic was http.ErrAbortHandler.
	Logger *slog.Logger
	// Now is the clock by which the handler stamps the leases and
	// expiries of the keys it stores in Replies. It should be the clock
	// by which expired keys are deleted (Platform.ExpireDue deletes them
	// from the platform's Store by the platform's): by one that runs
	// behind that, a key still in flight would be deleted, and a retry
	// with it would run the call again. When the API is a Clocked (a
	// *Platform is: its PlatformOptions.Now), the handler reads the
	// later of Now and the API's clock, so that a Now behind the API's
	// changes nothing; when nil, it reads the API's clock, and time.Now
	// when the API is no Clocked. In front of a wrapper of a *Platform
	// that does not forward Clocked, with the platform's Store as
	// Replies, Now must be the platform's clock, or one ahead of it.
	Now func() time.Time
}

// Handler is the HTTP API of NewHandler, an http.Handler. Its Close ends
// the tries to store the replies that it failed to store
// (HandlerOptions.Replies), which go on after their requests were
// answered.
//
// Make a Handler with NewHandler: one that NewHandler did not make, the
// zero Handler or a nil *Handler, answers every request 500 internal
// with the error body of PROTOCOL.md §5.4, and its Close fails with an
// error matching ErrInvalid.
type Handler struct {
	api     API
	opts    HandlerOptions
	mux     *http.ServeMux
	replies ReplyStore
	log     *slog.Logger
	// inFlight counts the requests being served, at most
	// opts.MaxInFlight (ServeHTTP).
	inFlight atomic.Int64
	// checkToken checks a bearer token as the endpoints that take one do,
	// before a stored reply is replayed to it: the API's CheckToken when
	// it is a TokenChecker, nil otherwise.
	checkToken func(ctx context.Context, token string) error
	// checkRecord checks the card-signed record of a POST under an
	// Idempotency-Key before its key is claimed: the API's CheckRecord
	// when it is a RecordChecker, nil otherwise.
	checkRecord func(ctx context.Context, req any) (context.Context, error)
	// closing ends the contexts of the tries of finishLater, which
	// retries counts; Close ends it under mu, which a try's start holds
	// while it looks at it and adds itself to retries, so that no try
	// starts once Close waits for them.
	closing context.Context
	close   context.CancelFunc
	mu      sync.Mutex
	retries sync.WaitGroup
}

// errHandlerNotMade is the error of a Handler that NewHandler did not
// make (made).
var errHandlerNotMade = fmt.Errorf("%w: a Handler is made by NewHandler", ErrInvalid)

// made reports whether NewHandler made h, which sets its mux.
func (h *Handler) made() bool { return h != nil && h.mux != nil }

// TokenChecker is implemented by an API that can check a bearer token
// alone, as its methods that take one do. In front of one, the handler of
// NewHandler replays the stored reply of a POST that takes a token only to
// a token that CheckToken accepts (PROTOCOL.md §5.5). *Platform implements
// it; a wrapper of an API should forward it.
type TokenChecker interface {
	// CheckToken returns nil for a token that the methods taking one
	// accept now, and otherwise the error they answer it.
	CheckToken(ctx context.Context, token string) error
}

// RecordChecker is implemented by an API that can check the card-signed
// record of a call alone, as the call does before it writes anything. In
// front of one, the handler of NewHandler checks the record of a POST
// that takes no token (pairing proof, payment request, consent, refund)
// under an Idempotency-Key before it claims the key, and answers a record
// refused then without writing to the reply store (PROTOCOL.md §5.5).
// *Platform implements it; a wrapper of an API should forward it, and
// make its call under the context that CheckRecord returns.
type RecordChecker interface {
	// CheckRecord takes the record of req, the request of the call (a
	// *PairRequest, *CreateRequest, *ApproveRequest or *RefundRequest;
	// any other is let through), through the steps that the call takes
	// before it writes anything, and writes nothing. It returns the
	// context to make the call under, derived from ctx (it may carry
	// what was verified, so that the call does not verify it again), or
	// the refusal that the call would answer then.
	CheckRecord(ctx context.Context, req any) (context.Context, error)
}

// Clocked is implemented by an API that keeps time by a clock of its own.
// In front of one, the handler of NewHandler reads the API's clock, or the
// later of it and HandlerOptions.Now when that is given (PROTOCOL.md §5.5),
// so that the leases and expiries of its keys end no earlier by the clock
// by which the platform deletes the expired ones. *Platform implements it;
// a wrapper of an API should forward it.
type Clocked interface {
	// Now returns the API's time.
	Now() time.Time
}

// httpCall is one request as a route sees it.
type httpCall struct {
	r     *http.Request
	token string // bearer token, empty when none was sent
	id    ID     // the {id} path value, when the route has one
	body  []byte
	in    any // the decoded body, when the route takes one
}

// httpRun runs a prepared API call.
type httpRun func(ctx context.Context) (any, error)

// httpPrepare checks and decodes a request before the API is called.
// Its errors are replied but never stored under an idempotency key.
type httpPrepare func(c *httpCall) (httpRun, error)

// check returns an error matching ErrInvalid for a negative option or a
// duration longer than MaxHandlerDuration.
func (o *HandlerOptions) check() error {
	if o.Replies != nil && nilptr.Is(o.Replies) {
		return fmt.Errorf("%w: payflow: Replies is a nil %T", ErrInvalid, o.Replies)
	}
	return checkOptions(
		option{"MaxBodyBytes", o.MaxBodyBytes, false, 0},
		option{"ReplyTTL", int64(o.ReplyTTL), true, MaxHandlerDuration},
		option{"ReplyLease", int64(o.ReplyLease), true, MaxHandlerDuration},
		option{"CallTimeout", int64(o.CallTimeout), true, MaxHandlerDuration},
		option{"MaxInFlight", int64(o.MaxInFlight), false, 0},
	)
}

// option is a numeric option of NewHandler or NewClient, as checkOptions
// sees it.
type option struct {
	name     string
	v        int64
	duration bool          // a time.Duration
	max      time.Duration // the longest duration allowed; 0: no bound
}

// checkOptions returns an error matching ErrInvalid for the first of opts
// that is negative, or a duration longer than its max.
func checkOptions(opts ...option) error {
	for _, o := range opts {
		switch {
		case o.max > 0 && (o.v < 0 || o.v > int64(o.max)):
			return fmt.Errorf("%w: payflow: %s %v is not from 0 to %v", ErrInvalid, o.name, time.Duration(o.v), o.max)
		case o.v < 0 && o.duration:
			return fmt.Errorf("%w: payflow: negative %s %v", ErrInvalid, o.name, time.Duration(o.v))
		case o.v < 0:
			return fmt.Errorf("%w: payflow: negative %s %d", ErrInvalid, o.name, o.v)
		}
	}
	return nil
}

// NewHandler returns the HTTP API of PROTOCOL.md §5 in front of api: CBOR
// bodies, bearer tokens, error bodies of type Error with the status of their
// code (an error of api that wraps no sentinel, or an *Error of an unknown
// code, is internal, its text only logged, and so is a call of api that
// returns a nil reply with a nil error, or a reply holding a text string
// that is not UTF-8, which no client decodes), idempotent POSTs with stored
// replies, body size limits, a request ID on every reply, one log record per
// request and panics turned into 500 replies that reveal nothing (but a panic
// with http.ErrAbortHandler, which goes on to the server, once logged, to
// abort the reply, and a panic of the ResponseWriter's Write, which leaves
// the reply broken, some of it perhaps sent, or of the 500 reply itself:
// the handler then aborts the reply the same way, rather than have the
// server end it as a whole one, or answer an empty 200). When api is a
// TokenChecker (a *Platform is), the stored reply of a POST that takes a
// token is replayed only once the token passes the check that the endpoint
// makes of it (PROTOCOL.md §5.5): a token refused since then, its card
// revoked, expired or no longer enrolled, or the token expired, gets that
// refusal, not the reply. In front of another API, which
// the handler cannot ask about a token alone, the reply is replayed to the
// token it was stored under. When api is a RecordChecker (a *Platform is), a
// POST that takes no token and carries a card-signed record (pairing proof,
// payment request, consent, refund) under an Idempotency-Key has its record
// taken through the steps that its call takes before it writes anything, up
// to the verification of its card and signature, before its key is claimed: a
// record refused there gets the refusal that the call would give, or the
// reply of the key's live entry (in flight, another body, or the reply stored
// for the same body, replayed), read without claiming the key, and nothing is
// written to the reply store, when that is a ReplyReader (a store that is
// none has the key claimed and released again, and the call run under it); a
// record that passes is not verified again by its call (PROTOCOL.md §5.5).
// Given no HandlerOptions.Now, the handler reads the API's clock when api is
// a Clocked (a *Platform is), and time.Now otherwise; given one, the later of
// it and a Clocked API's clock. A request whose Body is nil, which an
// http.Server never passes but a caller of ServeHTTP may, is served as one
// with an empty body. It is safe for concurrent use. Once the server in front
// of it is shut down, and before Replies (or the *Platform's Store) is
// closed, call its Close: it ends the handler's tries to store the replies it
// failed to store, which would otherwise go on calling Replies for up to
// ReplyLease. It fails with an error matching ErrInvalid when api is nil or a
// nil pointer (a nil *Platform, or of any other type), or an option is out of
// range (see HandlerOptions).
func NewHandler(api API, opts HandlerOptions) (*Handler, error) {
	if nilptr.Is(api) {
		return nil, fmt.Errorf("%w: payflow: nil API", ErrInvalid)
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	h := &Handler{api: api, opts: opts, mux: http.NewServeMux(), replies: opts.Replies, log: opts.Logger}
	h.closing, h.close = context.WithCancel(context.Background())
	if tc, ok := api.(TokenChecker); ok {
		h.checkToken = tc.CheckToken
	}
	if rc, ok := api.(RecordChecker); ok {
		h.checkRecord = rc.CheckRecord
	}
	if p, ok := api.(*Platform); ok && h.replies == nil {
		h.replies = p.Store()
	}
	if h.replies == nil {
		h.replies = NewReplyMemory()
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.opts.ReplyTTL == 0 {
		h.opts.ReplyTTL = DefaultReplyTTL
	}
	if h.opts.ReplyLease == 0 {
		h.opts.ReplyLease = DefaultReplyLease
	}
	if h.opts.MaxBodyBytes == 0 {
		h.opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if h.opts.CallTimeout == 0 {
		h.opts.CallTimeout = DefaultCallTimeout
	}
	if h.opts.MaxInFlight == 0 {
		h.opts.MaxInFlight = DefaultMaxInFlight
	}
	h.opts.Now = handlerClock(api, h.opts.Now)
	h.opts.ReplyLease = max(h.opts.ReplyLease, h.opts.CallTimeout+leaseAfterDeadline)
	h.routes()
	return h, nil
}

// handlerClock returns the clock by which a handler in front of api
// stamps and judges the leases and expiries of its keys, given now, the
// clock of HandlerOptions.Now (nil when none was given): the API's clock
// when api is a Clocked and no clock was given, the later of the two when
// one was, so that a clock given behind the API's never has a key in
// flight, or a stored reply, deleted before its time by the API's clock,
// by which the platform deletes them (Platform.ExpireDue); otherwise now,
// or time.Now when nil.
func handlerClock(api API, now func() time.Time) func() time.Time {
	c, ok := api.(Clocked)
	switch {
	case ok && now == nil:
		return c.Now
	case ok:
		return func() time.Time {
			own, theirs := now(), c.Now()
			if own.After(theirs) {
				return own
			}
			return theirs
		}
	case now == nil:
		return time.Now
	}
	return now
}

func (h *Handler) routes() {
	h.handle("POST /v1/challenges", writesNothing, httpBody(func(ctx context.Context, _ *httpCall, in *ChallengeRequest) (*ChallengeResponse, error) {
		return h.api.Challenge(ctx, in)
	}))
	h.handle("POST /v1/login", secretReply, httpBody(func(ctx context.Context, _ *httpCall, in *LoginRequest) (*LoginResponse, error) {
		return h.api.Login(ctx, in)
	}))
	h.handle("POST /v1/resolve", needsToken, httpBody(func(ctx context.Context, c *httpCall, in *ResolveRequest) (*ResolveResponse, error) {
		return h.api.Resolve(ctx, c.token, in)
	}))
	h.handle("POST /v1/pair", signedRecord, httpBody(func(ctx context.Context, _ *httpCall, in *PairRequest) (*SessionView, error) {
		return h.api.Pair(ctx, in)
	}))
	h.handle("GET /v1/sessions/{id}", needsToken, httpNoBody(func(ctx context.Context, c *httpCall) (*SessionView, error) {
		return h.api.Session(ctx, c.token, c.id)
	}))
	h.handle("GET /v1/merchants/{merchant}/catalog", needsToken, httpNoBody(func(ctx context.Context, c *httpCall) (*Catalog, error) {
		return h.api.Catalog(ctx, c.token, c.r.PathValue("merchant"))
	}))
	h.handle("POST /v1/requests", signedRecord, httpBody(func(ctx context.Context, _ *httpCall, in *CreateRequest) (*PaymentView, error) {
		return h.api.CreateRequest(ctx, in)
	}))
	h.handle("GET /v1/requests/{id}", needsToken, httpNoBody(func(ctx context.Context, c *httpCall) (*PaymentView, error) {
		return h.api.Payment(ctx, c.token, c.id)
	}))
	h.handle("POST /v1/requests/{id}/consent", signedRecord, httpCheckedBody(checkConsentPath, func(ctx context.Context, _ *httpCall, in *ApproveRequest) (*PaymentView, error) {
		return h.api.Approve(ctx, in)
	}))
	h.handle("POST /v1/requests/{id}/decline", needsToken, httpNoBody(func(ctx context.Context, c *httpCall) (*PaymentView, error) {
		return h.api.Decline(ctx, c.token, c.id)
	}))
	h.handle("POST /v1/requests/{id}/cancel", needsToken, httpNoBody(func(ctx context.Context, c *httpCall) (*PaymentView, error) {
		return h.api.Cancel(ctx, c.token, c.id)
	}))
	h.handle("POST /v1/requests/{id}/capture", needsToken, httpCheckedBody(checkCapturePath, func(ctx context.Context, c *httpCall, in *CaptureRequest) (*PaymentView, error) {
		return h.api.Capture(ctx, c.token, in)
	}))
	h.handle("POST /v1/refunds", signedRecord, httpBody(func(ctx context.Context, _ *httpCall, in *RefundRequest) (*RefundView, error) {
		return h.api.Refund(ctx, in)
	}))
	h.handle("GET /v1/info", 0, httpNoBody(func(ctx context.Context, _ *httpCall) (*Info, error) {
		return h.api.Info(ctx)
	}))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, fmt.Errorf("%w: no endpoint %s %s", ErrNotFound, r.Method, r.URL.Path))
	})
}

// checkConsentPath refuses a consent for another request than the one in
// the path. The consent is only opened here; the platform verifies it.
func checkConsentPath(c *httpCall, in *ApproveRequest) error {
	var consent record.Consent
	if err := record.Open(in.Consent, &consent); err != nil {
		return nil // the platform reports what is wrong with it
	}
	if !bytes.Equal(consent.RequestID, c.id[:]) {
		return fmt.Errorf("%w: consent is for another request than the path names", ErrMismatch)
	}
	return nil
}

// checkCapturePath fills the request ID from the path, or refuses one
// that differs from it.
func checkCapturePath(c *httpCall, in *CaptureRequest) error {
	switch in.RequestID {
	case ID{}:
		in.RequestID = c.id
	case c.id:
	default:
		return fmt.Errorf("%w: capture names another request than the path", ErrMismatch)
	}
	return nil
}

// httpBody makes the preparation of a route whose body decodes into In.
func httpBody[In, Out any](fn func(ctx context.Context, c *httpCall, in *In) (Out, error)) httpPrepare {
	return httpCheckedBody(nil, fn)
}

// httpCheckedBody is httpBody with a check of the decoded body against
// the rest of the request.
func httpCheckedBody[In, Out any](check func(*httpCall, *In) error, fn func(ctx context.Context, c *httpCall, in *In) (Out, error)) httpPrepare {
	return func(c *httpCall) (httpRun, error) {
		if err := checkContentType(c.r); err != nil {
			return nil, err
		}
		in := new(In)
		if err := wireDecode(c.body, in); err != nil {
			return nil, err
		}
		c.in = in
		if check != nil {
			if err := check(c, in); err != nil {
				return nil, err
			}
		}
		return func(ctx context.Context) (any, error) { return fn(ctx, c, in) }, nil
	}
}

// httpNoBody makes the preparation of a route without a body.
func httpNoBody[Out any](fn func(ctx context.Context, c *httpCall) (Out, error)) httpPrepare {
	return func(c *httpCall) (httpRun, error) {
		if err := checkContentTypeOnce(c.r); err != nil {
			return nil, err
		}
		if len(c.body) != 0 {
			return nil, fmt.Errorf("%w: %s %s takes no body", ErrInvalid, c.r.Method, c.r.URL.Path)
		}
		return func(ctx context.Context) (any, error) { return fn(ctx, c) }, nil
	}
}

// checkContentType refuses a request whose Content-Type is not one
// application/cbor.
func checkContentType(r *http.Request) error {
	if err := checkContentTypeOnce(r); err != nil {
		return err
	}
	if !cborContent(r.Header) {
		return fmt.Errorf("%w: content type must be %s", ErrInvalid, ContentType)
	}
	return nil
}

// checkContentTypeOnce refuses a request whose Content-Type is given more
// than once, on a route without a body too: the handler takes none of its
// values, where another reader of the request (a proxy, a logger) could
// take another than the one the handler would.
func checkContentTypeOnce(r *http.Request) error {
	if len(r.Header.Values("Content-Type")) > 1 {
		return fmt.Errorf("%w: Content-Type must be given once", ErrInvalid)
	}
	return nil
}

// route says what a route needs and gives.
type route uint8

const (
	// needsToken: the route needs a bearer token.
	needsToken route = 1 << iota
	// secretReply: the reply carries a secret (a login's bearer token), so
	// it is never stored for an Idempotency-Key, whose bearer could
	// otherwise replay it: the route runs every time (a malformed key is
	// refused all the same).
	secretReply
	// writesNothing: the call writes nothing, whatever its outcome (a
	// challenge, whose nonce is stateless), so that a retry has nothing to
	// be kept from doing again: its reply is never stored for an
	// Idempotency-Key, and the route runs every time (a malformed key is
	// refused all the same).
	writesNothing
	// signedRecord: the route takes no token and its body carries a
	// card-signed record, by whose card and signature alone the call is
	// authenticated. Under an Idempotency-Key, in front of a
	// RecordChecker, the record is checked before the key is claimed,
	// and a record refused then writes nothing to the reply store.
	signedRecord
)

// handle registers a route.
func (h *Handler) handle(pattern string, rt route, prepare httpPrepare) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c := &httpCall{r: r}
		token, err := bearerToken(r)
		if err == nil && rt&needsToken != 0 && token == "" {
			err = fmt.Errorf("%w: a bearer token is needed", ErrUnauthorized)
		}
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		c.token = token
		// The headers come before the body: a key is checked before the
		// body is read, on every method, though only a POST uses it.
		key, keys := headerValue(r, idempotencyKeyField)
		if keys > 0 && (keys != 1 || !validIdempotencyKey(key)) {
			h.writeError(w, r, fmt.Errorf("%w: %s must be one value of 1 to %d visible ASCII characters", ErrInvalid, IdempotencyKeyHeader, maxIdempotencyKey))
			return
		}
		if s := r.PathValue("id"); s != "" {
			if c.id, err = ParseID(s); err != nil {
				h.writeError(w, r, err)
				return
			}
		}
		if err := checkMerchantUTF8(r.PathValue("merchant")); err != nil {
			h.writeError(w, r, err)
			return
		}
		if c.body, err = io.ReadAll(r.Body); err != nil { // limited by ServeHTTP
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				err = fmt.Errorf("%w: body larger than %d bytes", ErrLimit, h.opts.MaxBodyBytes)
			} else {
				// The cause, a network error, names the server's
				// address: it is only logged.
				h.logger(r).Warn("reading body", "err", err)
				err = fmt.Errorf("%w: body could not be read", ErrInvalid)
			}
			h.writeError(w, r, err)
			return
		}
		run, err := prepare(c)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		ctx, cancel := h.detached(r.Context())
		defer cancel()
		if r.Method != http.MethodPost || keys == 0 || rt&(secretReply|writesNothing) != 0 {
			h.writeReply(w, r, h.call(ctx, run))
			return
		}
		// The token of a route that takes one scopes the key and is
		// checked before a replay; a route that takes none ignores a
		// token sent to it, which its call does not use, so that its
		// POSTs share one scope per path (PROTOCOL.md §5.5).
		scope := ""
		if rt&needsToken != 0 {
			scope = token
		}
		key = scopedIdempotencyKey(r.Method, r.URL.Path, scope, key)
		if rt&signedRecord != 0 && h.checkRecord != nil {
			checked, err := h.checkRecord(ctx, c.in)
			if err != nil {
				h.refused(ctx, w, r, key, c.body, err, run)
				return
			}
			ctx = checked
		}
		h.idempotent(ctx, w, r, key, scope, c.body, run)
	})
}

// httpReply is an encoded reply and, for an error, its code and cause.
type httpReply struct {
	status     int
	body       []byte
	code       string // error code, empty for a success
	err        error
	retryAfter uint64 // seconds of the Retry-After header, 0 for none
}

// errorBody is the error body on the wire (PROTOCOL.md §5.3): Error's
// code and message, and the retry time of a RateLimitedError.
type errorBody struct {
	Code       string `cbor:"1,keyasint"`
	Message    string `cbor:"2,keyasint"`
	RetryAfter uint64 `cbor:"3,keyasint,omitempty"` // seconds
}

// call runs an API call under ctx, the request's context of detached, and
// encodes its outcome. A call that fails with ctx's own error, because the
// request's deadline passed, and with no code of its own is unavailable,
// as a reply store or a database that did not answer in time is: the
// platform could not serve the request within CallTimeout. A nil reply
// with a nil error, a fault of the API, is internal, where its encoding
// would be a 200 of CBOR null, which no client decodes; and so is a reply
// that holds a text string that is not UTF-8, which the encoder writes as
// it is and no client decodes either.
func (h *Handler) call(ctx context.Context, run httpRun) httpReply {
	out, err := run(ctx)
	if err != nil {
		if _, _, coded := firstCode(err); !coded && errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w: the request's deadline passed: %w", ErrUnavailable, err)
		}
		return errorReply(err)
	}
	if nilptr.Is(out) {
		return errorReply(fmt.Errorf("%w: the API gave no reply and no error", ErrInternal))
	}
	body, err := wireEnc.Marshal(wireReply(out))
	if err != nil {
		return errorReply(fmt.Errorf("encoding reply: %w", err))
	}
	if _, err := wireSkipItem(body); err != nil {
		return errorReply(fmt.Errorf("%w: the API's reply is no body a client decodes: %w", ErrInternal, err))
	}
	return httpReply{status: http.StatusOK, body: body}
}

// detached returns a context of ctx's values that the client's going away
// does not cancel, under the call timeout: the context of a request's API
// call and of its calls to the reply store, all under one deadline, so
// that none ends half done because the client left, none waits for ever
// on a database that stopped answering, and the request ends within
// CallTimeout whichever of them hangs.
func (h *Handler) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), h.opts.CallTimeout)
}

// idempotent runs a POST under an Idempotency-Key, with ctx the request's
// context of detached: the first reply is stored and replayed to retries
// with the same body, when it is final and may have written something
// (storableReply). token is the bearer token of a route that takes one, ""
// for the others: a stored reply is replayed to it only once the token
// passes the check of the endpoints (checkToken), whose error is the reply
// otherwise, so that a token refused since the reply was stored (its card
// revoked, expired or no longer enrolled, or the token expired) gets
// nothing of it; a key in flight or used with another body is answered
// before the token is looked at, as when the request runs. The key's lease,
// read from the clock after ctx got its deadline, outlasts that deadline by
// 10 seconds at least (NewHandler raises ReplyLease to CallTimeout plus 10
// seconds), so that no other request takes the key over while this one may
// still store its reply.
func (h *Handler) idempotent(ctx context.Context, w http.ResponseWriter, r *http.Request, key, token string, body []byte, run httpRun) {
	now := h.opts.Now()
	hash := sha256.Sum256(body)
	lease := now.Add(h.opts.ReplyLease)
	stored, err := h.replies.BeginIdempotent(ctx, key, hash[:], now, lease)
	if h.answerLive(ctx, w, r, token, stored, err) {
		return
	}
	// The key is held: release it if the call panics or its reply is
	// not final, store the reply otherwise, even if the client is gone.
	// Past the deadline the store may do neither: the key then stays in
	// flight until its lease ends. So does it when the reply could not be
	// stored (finish): the call may have written something, and a retry
	// run at once would be answered by what it wrote (a consent settled:
	// the request's view as it then is; a consent refused: nonce_replayed)
	// rather than by this reply, where 409 idempotency_in_flight says that
	// the outcome is not known yet. The handler then goes on trying to
	// store the reply while the lease lasts (finishLater), so that a
	// database back within it has the retries replay the reply, also after
	// the lease. A panic of the release while the call panics or ends by
	// runtime.Goexit is kept for the request's record (statusWriter's
	// cleanup), so that the call's own goes on to the handler's recovery.
	release, called := true, false
	defer func() {
		switch {
		case !release:
		case called:
			h.abandon(ctx, r, key, lease)
		default:
			if p := catch(func() { h.abandon(ctx, r, key, lease) }); p != nil {
				if sw, ok := w.(*statusWriter); ok { // ServeHTTP's, under the mux
					sw.cleanup = *p
				}
			}
		}
	}()
	rep := h.call(ctx, run)
	called = true
	if storableReply(rep) {
		release = false
		switch err := h.finish(ctx, key, lease, rep); {
		case errors.Is(err, ErrNotFound):
			h.logger(r).Error("storing idempotent reply: the key is no longer held under its lease", "err", err)
		case err != nil:
			h.retry(context.WithoutCancel(ctx), h.logger(r), key, lease, rep, err)
		}
	}
	h.writeReply(w, r, rep)
}

// answerLive answers a request by what the reply store found of its key
// (BeginIdempotent or LookupIdempotent: stored, err) when that decides
// the reply, and reports whether it did: an entry in flight or of another
// body (409, 422), a failure of the store (503), or the reply stored for
// the same body, replayed once token passes checkToken (replay). It
// answers nothing when the store found no live entry.
func (h *Handler) answerLive(ctx context.Context, w http.ResponseWriter, r *http.Request, token string, stored *IdempotentReply, err error) bool {
	switch {
	case errors.Is(err, ErrInFlight), errors.Is(err, ErrKeyReuse):
		h.writeError(w, r, err)
	case err != nil:
		h.writeError(w, r, fmt.Errorf("%w: idempotency store: %w", ErrUnavailable, err))
	case stored != nil:
		h.replay(ctx, w, r, token, stored)
	default:
		return false
	}
	return true
}

// replay answers stored, the reply stored for a request's key and body,
// once token, the bearer token of a route that takes one ("" for the
// others), passes checkToken.
func (h *Handler) replay(ctx context.Context, w http.ResponseWriter, r *http.Request, token string, stored *IdempotentReply) {
	if !replayableStatus(stored.Status) {
		// Never the handler's: a store that gives it back is at
		// fault, and WriteHeader would panic on it or send no body.
		h.writeError(w, r, fmt.Errorf("%w: idempotency store: stored reply of status %d, which is no final status that carries a body", ErrInternal, stored.Status))
		return
	}
	if token != "" && h.checkToken != nil {
		if err := h.checkToken(ctx, token); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	w.Header().Set(ReplayedHeader, "true")
	h.write(w, httpReply{status: stored.Status, body: stored.Reply})
}

// refused answers a POST of a signedRecord route under key, whose body
// hashes to the body's, whose record the API's CheckRecord refused with
// err before anything was written: by the key's live entry when there is
// one, as idempotent would (a reply stored for the same body replayed,
// 409 for one in flight, 422 for another body), and with err otherwise,
// reading the reply store (a ReplyReader) and writing nothing to it. In
// front of a store that is no ReplyReader, which cannot be read without
// claiming the key, the call runs under the key as idempotent runs it.
func (h *Handler) refused(ctx context.Context, w http.ResponseWriter, r *http.Request, key string, body []byte, err error, run httpRun) {
	rr, ok := h.replies.(ReplyReader)
	if !ok {
		h.idempotent(ctx, w, r, key, "", body, run)
		return
	}
	hash := sha256.Sum256(body)
	stored, lerr := rr.LookupIdempotent(ctx, key, hash[:], h.opts.Now())
	if !h.answerLive(ctx, w, r, "", stored, lerr) {
		h.writeError(w, r, err)
	}
}

// abandon releases key, held under lease, in h.replies, logging the
// error of the store.
func (h *Handler) abandon(ctx context.Context, r *http.Request, key string, lease time.Time) {
	if err := h.replies.AbandonIdempotent(ctx, key, lease); err != nil {
		h.logger(r).Error("abandoning idempotency key", "err", err)
	}
}

// replayableStatus reports whether a stored reply's status is a final
// status that carries a body: from 200 to 599, but 204, 205 and 304. The
// handler stores no other (200 and the statuses of the codes of
// storableReply).
func replayableStatus(status int) bool {
	switch status {
	case http.StatusNoContent, http.StatusResetContent, http.StatusNotModified:
		return false
	}
	return 200 <= status && status <= 599
}

// retry starts finishLater on rep, whose storing for key held under lease
// failed with err, unless the handler is closed: the key then stays in
// flight until its lease ends.
func (h *Handler) retry(ctx context.Context, log *slog.Logger, key string, lease time.Time, rep httpReply, err error) {
	h.mu.Lock()
	closed := h.closing.Err() != nil
	if !closed {
		h.retries.Add(1) // Close, once it has ended closing, waits for all
	}
	h.mu.Unlock()
	if closed {
		log.Error("storing idempotent reply: not stored, and not tried again as the handler is closed; the key stays in flight until its lease ends; a retry after it runs the call again", "err", err)
		return
	}
	log.Warn("storing idempotent reply; the key stays in flight while it is tried again", "err", err)
	now := h.opts.Now()
	go func() {
		defer h.retries.Done()
		h.finishLater(ctx, log, key, lease, rep, now)
	}()
}

// Close ends the handler's tries to store the final replies that
// HandlerOptions.Replies failed to store (PROTOCOL.md §5.5): it ends the
// context of a call to Replies under way for them, makes no more, and
// returns once the tries have ended, so that no call to Replies follows
// it, and its store may then be closed. A reply it gives up is not stored:
// its key stays in flight until its lease ends, as when the process
// stops. A Replies whose call goes on past its context's end holds Close
// until it returns. Close leaves the handler serving requests (the
// http.Server in front of it ends that, Shutdown): the reply of a
// request served after Close that Replies fails to store is not tried
// again. Call it once the server is shut down, before the store is
// closed. It returns nil, but for a Handler that NewHandler did not make
// (an error matching ErrInvalid), and may be called more than once.
func (h *Handler) Close() error {
	if !h.made() {
		return errHandlerNotMade
	}
	h.mu.Lock()
	h.close()
	h.mu.Unlock()
	h.retries.Wait()
	return nil
}

// Waits of finishLater between two tries, doubling from the first to the
// last.
const (
	finishRetryFirst = 100 * time.Millisecond
	finishRetryLast  = 5 * time.Second
)

// finishLater goes on storing rep, a final reply whose storing failed
// (finish), for key held under lease, waiting from 100 ms doubling to 5 s
// between two tries, until it is stored, the key is no longer held under
// that lease (ErrNotFound: another request took it over, or the platform's
// sweep deleted it), or the time that the lease had left to run has
// passed, or the handler is closed (Close), which ends a call to Replies
// under way and makes none after it. Until then the key stays in flight,
// and a retry with it gets 409 idempotency_in_flight; once the reply is
// stored, retries get it, also after the lease. ctx gives the values of
// the request's context, and now is the handler's time when the request
// gave the reply over to it: the lease ends after lease less now, and the
// reply, once stored, is replayed until now plus ReplyTTL. It reads no
// clock (the handler's may be one that only the requests read). A panic of
// Replies is logged with its stack and ends the tries, as a request's
// panic would end that request, rather than the process, which no
// request's recovery covers here.
func (h *Handler) finishLater(ctx context.Context, log *slog.Logger, key string, lease time.Time, rep httpReply, now time.Time) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("panic storing idempotent reply; the key stays in flight until its lease ends", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, lease.Sub(now))
	defer cancel()
	defer context.AfterFunc(h.closing, cancel)()
	t := time.NewTimer(finishRetryFirst)
	defer t.Stop()
	for wait := finishRetryFirst; ; {
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		switch {
		case h.closing.Err() != nil:
			log.Error("storing idempotent reply: not stored, and no longer tried as the handler is closed; the key stays in flight until its lease ends; a retry after it runs the call again")
			return
		case ctx.Err() != nil:
			log.Error("storing idempotent reply: not stored before the lease ended; a retry after it runs the call again")
			return
		}
		err := h.replies.FinishIdempotent(ctx, key, lease, rep.status, rep.body, now.Add(h.opts.ReplyTTL))
		switch {
		case err == nil:
			log.Info("stored idempotent reply at a later try")
			return
		case errors.Is(err, ErrNotFound):
			log.Error("storing idempotent reply: the key is no longer held under its lease", "err", err)
			return
		}
		wait = min(2*wait, finishRetryLast)
		t.Reset(wait)
	}
}

// finish stores rep, a final reply, for key held under lease, and tries
// once more when that fails (a database that failed once may answer the
// second time), but not after ErrNotFound (the key is no longer held
// under lease: another request took it over, or the first write was
// stored after all) nor once ctx has ended.
func (h *Handler) finish(ctx context.Context, key string, lease time.Time, rep httpReply) error {
	var err error
	for range 2 {
		err = h.replies.FinishIdempotent(ctx, key, lease, rep.status, rep.body, h.opts.Now().Add(h.opts.ReplyTTL))
		if err == nil || errors.Is(err, ErrNotFound) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// errorReply encodes err as the error body of its code.
func errorReply(err error) httpReply {
	e := AsError(err)
	wire := errorBody{Code: e.Code, Message: e.Message}
	if rl, ok := errors.AsType[*RateLimitedError](err); ok && rl.RetryAfter > 0 && e.Code == "rate_limited" {
		// Seconds, rounded up: a client waiting that long finds the
		// token there. The retry time is rate_limited's alone: one that
		// an error of another code wraps is no part of its reply.
		wire.RetryAfter = uint64(ceilSeconds(rl.RetryAfter))
	}
	// A server error's cause is only logged (writeReply): the client gets
	// a fixed message.
	if m, ok := serverMessages[e.Code]; ok {
		wire.Message = m
	}
	// A message may repeat a part of the request that is not UTF-8 (a
	// path's escaped octets, which Go unescapes). The encoder writes a
	// text string's bytes as they are, and a decoder refuses one that is
	// not UTF-8: each invalid sequence becomes U+FFFD.
	wire.Message = strings.ToValidUTF8(wire.Message, "\uFFFD")
	body, _ := wireEnc.Marshal(&wire) // two text strings and an integer: it cannot fail
	return httpReply{status: StatusOf(e.Code), body: body, code: e.Code, err: err, retryAfter: wire.RetryAfter}
}

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	h.writeReply(w, r, errorReply(err))
}

// writeReply writes rep and logs the cause of a server error.
func (h *Handler) writeReply(w http.ResponseWriter, r *http.Request, rep httpReply) {
	if rep.status >= 500 && rep.err != nil {
		h.logger(r).Error("request failed", "code", rep.code, "err", rep.err)
	}
	h.write(w, rep)
}

// write writes rep with the headers of every reply, and the challenge
// that every 401 carries (RFC 9110 §15.5.2), whether the token is
// missing, malformed, unknown or expired, and in a replayed reply too.
func (h *Handler) write(w http.ResponseWriter, rep httpReply) {
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	if rep.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="casimpay"`)
	}
	if rep.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatUint(rep.retryAfter, 10))
	}
	w.WriteHeader(rep.status)
	w.Write(rep.body)
}

// headerValue returns the first value of r's header key, a name in its
// canonical form (http.CanonicalHeaderKey: no form is made, which would
// allocate for a name such as RequestIDHeader), without the spaces and
// tabs before and after it, which are no part of a field's value (RFC
// 9110 §5.5): the HTTP/1.1 server drops them, the HTTP/2 server passes
// them on; and n, how many values the header has (0: v is ""). It
// allocates nothing.
func headerValue(r *http.Request, key string) (v string, n int) {
	vs := r.Header[key]
	if len(vs) == 0 {
		return "", 0
	}
	return strings.Trim(vs[0], " \t"), len(vs)
}

// The canonical forms (http.CanonicalHeaderKey) of the headers that the
// handler reads with headerValue.
const (
	authorizationField  = "Authorization"
	idempotencyKeyField = IdempotencyKeyHeader // already canonical
	requestIDField      = "X-Request-Id"       // RequestIDHeader's
)

// b64tokenForm says what a b64token is, in the errors that refuse one.
const b64tokenForm = "b64token (RFC 6750 §2.1: letters, digits, - . _ ~ + /, then = at the end only)"

// validB64Token reports whether s is a b64token of RFC 6750 §2.1, the form
// of a bearer token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
// "/" ) *"=". The platform's tokens are base64url without padding.
func validB64Token(s string) bool {
	t := strings.TrimRight(s, "=")
	return t != "" && alnumOr(t, "-._~+/")
}

// alnumOr reports whether each octet of s is an ASCII letter, an ASCII
// digit or one of extra: the alphabets of validB64Token and
// validRequestID.
func alnumOr(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// bearerToken returns the token of an Authorization header, "" when there
// is none, and an error (ErrUnauthorized) for a header given more than
// once (ambiguous credentials) or one whose value, spaces and tabs before
// and after it left out, is not of the form "Bearer" (in any case), one
// or more spaces (RFC 6750 §2.1: "Bearer" 1*SP b64token), then
// a token of one or more characters, none of them a space or a tab (an
// empty header too: a header that is present is never taken for no
// token), and for a token that is no b64token (validB64Token). Which
// b64tokens are tokens is left to the API to judge.
func bearerToken(r *http.Request) (string, error) {
	v, n := headerValue(r, authorizationField)
	if n == 0 {
		return "", nil
	}
	if n > 1 {
		return "", fmt.Errorf("%w: the Authorization header is given more than once", ErrUnauthorized)
	}
	scheme, token, ok := strings.Cut(v, " ")
	token = strings.TrimLeft(token, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", fmt.Errorf("%w: the Authorization header is not \"Bearer <token>\"", ErrUnauthorized)
	}
	if !validB64Token(token) {
		return "", fmt.Errorf("%w: the bearer token is not a %s", ErrUnauthorized, b64tokenForm)
	}
	return token, nil
}

type requestIDKey struct{}

// WithRequestID returns a context whose request ID is id: Client sends
// it as the X-Request-ID of the calls made with that context (when it is
// well formed: 1 to 64 of A–Z a–z 0–9 - _ . :).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request ID of a request served by the handler of
// NewHandler, from the context it passes to the API, or the one set by
// WithRequestID, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

func (h *Handler) logger(r *http.Request) *slog.Logger {
	return h.log.With("request_id", RequestID(r.Context()))
}

// ServeHTTP sets the request ID (the client's when it gives one well-formed
// X-Request-ID, a new one otherwise), recovers panics into 500 replies and
// logs every request. A panic with http.ErrAbortHandler is logged as the
// request's record, marked aborted, and then goes on to the server, which
// aborts the reply. A panic of w's Write, or one of the 500 reply to a
// panic, leaves no whole reply: once logged with its stack, it is turned
// into a panic with http.ErrAbortHandler, logged and passed on the same
// way, and so is a runtime.Goexit of the request's goroutine, of which
// the server ends no reply. A panic with nil is a panic as any other, its
// value nil under GODEBUG=panicnil=1 (a *runtime.PanicNilError
// otherwise), not taken for a runtime.Goexit. A nil Body is an empty one.
// A request that comes while HandlerOptions.MaxInFlight others are being
// served is answered 503 unavailable, its body unread.
// A Handler that NewHandler did not make answers 500 internal, with its
// request ID as any other reply, logged with the default logger
// (slog.Default).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := takeRequestID(r)
	if !h.made() {
		slog.Error("request failed", "method", r.Method, "path", r.URL.Path, "request_id", id, "err", errHandlerNotMade)
		w.Header().Set(RequestIDHeader, id)
		h.write(w, errorReply(fmt.Errorf("%w: %w", ErrInternal, errHandlerNotMade)))
		return
	}
	start := time.Now()
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
	if r.Body == nil { // a server never passes one; a direct caller may
		r.Body = http.NoBody
	}
	// The limit is set on the server's own ResponseWriter, which the
	// reader tells when the body is over it, so that the server closes
	// the connection after the reply rather than reading the rest.
	r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes)
	sw := &statusWriter{ResponseWriter: w}
	// The request's panic, caught below (nil when it returned), and
	// whether it ended so rather than by runtime.Goexit, which catch lets
	// through: recover alone tells a Goexit from no panic, but not from a
	// panic(nil) under GODEBUG=panicnil=1, which recover returns as nil.
	var p *recovered
	ended := false
	defer func() {
		aborted := p != nil && p.value == http.ErrAbortHandler
		// A panic of the cleanup goes into the record of how the call
		// ended, which is the request's record for an abort.
		var cleanupAttrs []slog.Attr
		if c := sw.cleanup; c.stack != nil {
			cleanupAttrs = []slog.Attr{slog.String("cleanup_panic", fmt.Sprint(c.value)), slog.String("cleanup_stack", string(c.stack))}
		}
		switch {
		case !ended:
			// The server ends no reply of a goroutine that exits: the
			// request is aborted, as the panic below tells a caller.
			h.logger(r).LogAttrs(r.Context(), slog.LevelError, "request ended by runtime.Goexit", append([]slog.Attr{slog.String("stack", string(debug.Stack()))}, cleanupAttrs...)...)
			aborted, cleanupAttrs = true, nil
		case p != nil && !aborted:
			h.logger(r).LogAttrs(r.Context(), slog.LevelError, "panic serving request", append([]slog.Attr{slog.String("panic", fmt.Sprint(p.value)), slog.String("stack", string(p.stack))}, cleanupAttrs...)...)
			aborted, cleanupAttrs = !h.answerPanic(r, sw), nil
		}
		size := sw.bytes
		if r.Method == http.MethodHead {
			size = 0 // the server sends no body (RFC 9110 §9.3.2), whatever Write took
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Int("bytes", size),
			slog.Duration("duration", time.Since(start)),
		}
		if sw.err != nil {
			attrs = append(attrs, slog.Any("write_err", sw.err))
		}
		if aborted {
			attrs = append(attrs, slog.Bool("aborted", true))
		}
		attrs = append(attrs, cleanupAttrs...)
		h.logger(r).LogAttrs(r.Context(), slog.LevelInfo, "http request", attrs...)
		if aborted {
			// The server drops the connection (HTTP/1.1) or resets the
			// stream (HTTP/2) rather than end the reply.
			panic(http.ErrAbortHandler)
		}
	}()
	p = catch(func() {
		// Under the recovery: a panicking ResponseWriter loses no record.
		w.Header().Set(RequestIDHeader, id)
		if h.inFlight.Add(1) > int64(h.opts.MaxInFlight) {
			h.inFlight.Add(-1)
			// Not logged as a failure: the request's record says 503.
			h.write(sw, errorReply(fmt.Errorf("%w: %d requests in flight", ErrUnavailable, h.opts.MaxInFlight)))
			return
		}
		defer h.inFlight.Add(-1)
		if cleanPath(r.URL.EscapedPath()) {
			h.mux.ServeHTTP(sw, r)
		} else {
			// http.ServeMux would redirect it to its clean form. Escaped
			// slashes and dots (in a merchant ID) make no segments.
			h.writeError(sw, r, fmt.Errorf("%w: no endpoint %s %s", ErrNotFound, r.Method, r.URL.Path))
		}
	})
	ended = true
}

// takeRequestID returns the request ID of r: the client's X-Request-ID
// when it gives one well formed, a new one otherwise. A request ID given
// more than once is taken as a malformed one: the handler keeps none of
// its values, where another reader of the request (a proxy, a logger)
// could take another than the first.
func takeRequestID(r *http.Request) string {
	id, n := headerValue(r, requestIDField)
	if n == 1 && validRequestID(id) {
		return id
	}
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// answerPanic answers 500 internal r, a request that panicked before its
// status was written, and reports whether its reply stands: not when a
// Write of sw panicked, which leaves the reply broken, some of it perhaps
// sent, nor when the 500 reply panics in its turn (its panic logged with
// its stack, but for http.ErrAbortHandler), which leaves no reply or a
// broken one: either is to be aborted rather than ended by the server as
// a whole reply (an empty 200 when no status was written). The 500 reply
// carries none of the header fields that the reply it replaces had set
// (panicFields). A reply written whole before the panic stands as it is.
func (h *Handler) answerPanic(r *http.Request, sw *statusWriter) (stands bool) {
	switch {
	case sw.writing:
		return false
	case sw.status != 0:
		return true
	}
	defer func() {
		if v := recover(); v != nil {
			stands = false
			if v != http.ErrAbortHandler {
				h.logger(r).Error("panic writing the 500 reply to a panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			}
		}
	}()
	hdr := sw.Header()
	for _, f := range panicFields {
		hdr.Del(f)
	}
	h.write(sw, errorReply(ErrInternal))
	return true
}

// panicFields are the header fields of a reply that the 500 internal of a
// panic may replace, which are no part of it: a 401's challenge, a
// rate_limited reply's Retry-After, which a client would wait before its
// retry, and a replayed reply's mark.
var panicFields = []string{"WWW-Authenticate", "Retry-After", ReplayedHeader}

// recovered is a panic that catch recovered: its value (nil for a
// panic(nil) under GODEBUG=panicnil=1) and the stack where it was
// recovered, which holds the calls that panicked. The zero value is no
// panic.
type recovered struct {
	value any
	stack []byte
}

// catch calls f and returns its panic, or nil when f returns. A
// runtime.Goexit of f goes on through catch, which then returns to no
// caller.
func catch(f func()) (p *recovered) {
	returned := false
	defer func() {
		if !returned {
			p = &recovered{value: recover(), stack: debug.Stack()}
		}
	}()
	f()
	returned = true
	return nil
}

// cleanPath reports whether p is an absolute path with no empty, "." or
// ".." segment, but for a final slash: a path that http.ServeMux serves
// as it is rather than redirecting.
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if p[len(p)-1] == '/' && c != "/" {
		c += "/"
	}
	return c == p
}

// validRequestID accepts 1 to 64 letters, digits, '-', '_', '.' and ':'.
func validRequestID(s string) bool {
	return len(s) > 0 && len(s) <= 64 && alnumOr(s, "-_.:")
}

// statusWriter records the status and size of a reply as the writer it
// wraps takes them, the first error of its Write, and whether a Write of
// it is under way: once the handler has returned or panicked, one that
// panicked, which leaves the reply broken. It also carries, for ServeHTTP
// to log, the panic of the request's cleanup: the release of its
// idempotency key that panicked while the request's call panicked or
// ended by runtime.Goexit (idempotent), recovered so that the call's own
// panic goes on.
type statusWriter struct {
	http.ResponseWriter
	status  int
	bytes   int
	err     error
	writing bool
	cleanup recovered
}

// WriteHeader records status once the writer it wraps has taken it: one
// whose WriteHeader panics has written no status, so that the request's
// recovery answers 500 internal rather than nothing (an empty 200).
func (w *statusWriter) WriteHeader(status int) {
	w.ResponseWriter.WriteHeader(status)
	if w.status == 0 {
		w.status = status
	}
}

// Write records the octets that the writer it wraps took, its error, and
// the status 200 that it takes given a body before a status (as an
// http.Server's does, a Write that fails too), once its Write has
// returned: one that panics has taken none of them, as far as the handler
// can tell, and leaves writing set.
func (w *statusWriter) Write(b []byte) (int, error) {
	w.writing = true
	n, err := w.ResponseWriter.Write(b)
	w.writing = false
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.bytes += n
	if w.err == nil {
		w.err = err
	}
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Server limits of NewServer.
const (
	ServerReadHeaderTimeout = 5 * time.Second
	ServerReadTimeout       = 15 * time.Second
	// ServerWriteTimeout bounds the reply, from the end of the request's
	// headers: ServerReadTimeout for the body, DefaultCallTimeout for the
	// call once the body is read, and 5 s more for the call to return
	// once its context ended and for the reply to be written.
	ServerWriteTimeout = 50 * time.Second
	ServerIdleTimeout  = 2 * time.Minute
	// ServerMaxHeaderBytes bounds an HTTP/1.1 request's request line and
	// headers, the blank line after them included: the server itself
	// answers a request whose headers end later 431, which the handler
	// never sees. (Exact for the first request of a connection: a later
	// one, sent after the reply before it or pipelined behind that
	// request, may take up to 4096 octets more, which net/http reads
	// uncounted while it waits for the request or ahead with the request
	// before it.) Over HTTP/2, which counts each header field's name and
	// value and 32 octets more (RFC 9113 §6.5.2), the server announces,
	// and answers 431 over, a header list of 12608 octets
	// (ServerMaxHeaderBytes less 4096, and the 320 octets that net/http
	// adds for ten fields).
	ServerMaxHeaderBytes = 16 << 10
)

// NewServer returns an http.Server for h on addr with the timeouts a
// public endpoint needs: ServerReadHeaderTimeout to send the headers over
// HTTP/1.1, ServerReadTimeout for the whole request (over HTTP/2, from the
// end of its headers), ServerWriteTimeout for the reply (longer than
// ServerReadTimeout and DefaultCallTimeout together, so that a slow call
// still gets its error reply after a body that took the whole
// ServerReadTimeout to arrive), ServerIdleTimeout between requests of a
// kept-alive connection, and ServerMaxHeaderBytes of headers. Every
// request that the server can parse reaches h, "OPTIONS *" too, which an
// http.Server otherwise answers itself (the handler of NewHandler answers
// it 404 not_found, as any path it does not serve); one it cannot parse,
// such as a request target with a malformed escape (%zz), the server
// answers itself, over HTTP/1.1 with a plain-text 400 and over HTTP/2 by
// resetting the stream, and h never sees it.
//
// Go's HTTP/2 server has no deadline for headers: an HTTP/2 connection
// whose headers never finish (a HEADERS frame without END_HEADERS) is
// held until ServerIdleTimeout after its last request ended or it was
// opened, and closed a second later.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:                         addr,
		Handler:                      h,
		DisableGeneralOptionsHandler: true,
		ReadHeaderTimeout:            ServerReadHeaderTimeout,
		ReadTimeout:                  ServerReadTimeout,
		WriteTimeout:                 ServerWriteTimeout,
		IdleTimeout:                  ServerIdleTimeout,
		// Over HTTP/1.1 net/http reads 4096 octets beyond MaxHeaderBytes
		// before it answers 431: less them, ServerMaxHeaderBytes holds.
		MaxHeaderBytes: ServerMaxHeaderBytes - 4096,
	}
}
