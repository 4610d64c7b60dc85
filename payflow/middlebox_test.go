package payflow_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/casimpay/casimpay/payflow"
)

// middlebox is a gateway in front of a platform's HTTP handler, as a
// proxy or a load balancer is: it answers the next calls to a path as
// told (answer) and passes every other call on.
type middlebox struct {
	platform http.Handler
	srv      *httptest.Server
	mu       sync.Mutex
	next     map[string][]middleAnswer
}

// middleAnswer answers one call in the platform's stead or with its help.
type middleAnswer func(w http.ResponseWriter, r *http.Request, platform http.Handler)

// newMiddlebox serves api's handler behind a middlebox.
func newMiddlebox(t *testing.T, api payflow.API) *middlebox {
	m := &middlebox{platform: mustHandler(t, api, payflow.HandlerOptions{Logger: discardLogger()}), next: map[string][]middleAnswer{}}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *middlebox) serve(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	var a middleAnswer
	if next := m.next[r.URL.Path]; len(next) > 0 {
		a, m.next[r.URL.Path] = next[0], next[1:]
	}
	m.mu.Unlock()
	if a == nil {
		m.platform.ServeHTTP(w, r)
		return
	}
	a(w, r, m.platform)
}

// answer has the middlebox answer the next calls to path, one each, with
// answers, in that order, before it passes calls there on again.
func (m *middlebox) answer(path string, answers ...middleAnswer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next[path] = append(m.next[path], answers...)
}

// left returns how many of the answers told for path (answer) the
// middlebox has not sent yet.
func (m *middlebox) left(path string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.next[path])
}

// client returns a client of the platform behind the middlebox that
// retries at once and opens a connection for each attempt, so that each
// attempt reaches the middlebox once (net/http sends a request with an
// Idempotency-Key again by itself only on a connection it reused).
func (m *middlebox) client(tb testing.TB) *payflow.Client {
	return mustClient(tb, m.srv.URL, payflow.ClientOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
	})
}

// bareReply answers with status and a text body, as a gateway or proxy
// does (http.Error), without the platform's error body.
func bareReply(status int) middleAnswer {
	return func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
		http.Error(w, http.StatusText(status), status)
	}
}

// codeReply answers with the error body of code and its status, in the
// platform's form, as the platform itself answers (PROTOCOL.md §5.4).
func codeReply(t *testing.T, code string) middleAnswer {
	return func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
		w.Header().Set("Content-Type", payflow.ContentType)
		w.WriteHeader(payflow.StatusOf(code))
		w.Write(mustCBOR(t, &payflow.Error{Code: code, Message: code}))
	}
}

// lostReply passes the call on to the platform and drops its reply: the
// connection closes before the reply comes back.
func lostReply(w http.ResponseWriter, r *http.Request, platform http.Handler) {
	platform.ServeHTTP(httptest.NewRecorder(), r)
	panic(http.ErrAbortHandler)
}

// noVerdict is a reply to a call that is no verdict of the platform on it,
// which the client fails the call with (want).
type noVerdict struct {
	name    string
	answer  middleAnswer
	retried bool // by the client, so answered so on every attempt
	want    error
}

// noVerdicts are the replies of a gateway or proxy, without the
// platform's error body, of a status that the client takes for a refusal
// (not retried) or for a failure (retried), and rate_limited in the
// platform's form, which says that the call was not run then, not what
// an earlier attempt of it did.
func noVerdicts(t *testing.T) []noVerdict {
	return []noVerdict{
		{"bare 429", bareReply(http.StatusTooManyRequests), false, payflow.ErrRateLimited},
		{"rate_limited", codeReply(t, "rate_limited"), false, payflow.ErrRateLimited},
		{"bare 403", bareReply(http.StatusForbidden), false, payflow.ErrForbidden},
		{"bare 404", bareReply(http.StatusNotFound), false, payflow.ErrNotFound},
		{"bare 409", bareReply(http.StatusConflict), false, payflow.ErrInvalid},
		{"bare 502", bareReply(http.StatusBadGateway), true, payflow.ErrUnavailable},
		{"bare 504", bareReply(http.StatusGatewayTimeout), true, payflow.ErrUnavailable},
	}
}

// answers are the answers of the middlebox to a call after sent attempts
// of it (of the client of middlebox.client): the reply once, or on each
// attempt left when the client retries after it.
func (nv noVerdict) answers(sent int) []middleAnswer {
	if !nv.retried {
		return []middleAnswer{nv.answer}
	}
	return repeatAnswer(nv.answer, payflow.DefaultMaxAttempts-sent)
}

// repeatAnswer is answer n times.
func repeatAnswer(answer middleAnswer, n int) []middleAnswer {
	answers := make([]middleAnswer, n)
	for i := range answers {
		answers[i] = answer
	}
	return answers
}

// heldCall is a call that a middlebox held back: holdBack keeps it and
// drops its connection without passing it on, and release passes it on
// later, just before the call it is answering.
type heldCall struct {
	mu   sync.Mutex
	r    *http.Request
	body []byte
}

func (h *heldCall) holdBack(_ http.ResponseWriter, r *http.Request, _ http.Handler) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		panic(err)
	}
	h.mu.Lock()
	h.r, h.body = r.Clone(context.Background()), body
	h.mu.Unlock()
	panic(http.ErrAbortHandler)
}

func (h *heldCall) release(w http.ResponseWriter, r *http.Request, platform http.Handler) {
	h.mu.Lock()
	held := h.r.Clone(context.Background())
	held.Body = io.NopCloser(bytes.NewReader(h.body))
	h.mu.Unlock()
	platform.ServeHTTP(httptest.NewRecorder(), held)
	platform.ServeHTTP(w, r)
}
