package payflow_test

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// httpFakeAPI is an API whose replies echo what it was given, so that a
// test sees every field cross the wire both ways. It counts calls, can
// fail, block or panic, and is safe for concurrent use.
type httpFakeAPI struct {
	mu     sync.Mutex
	calls  map[string]int
	tokens []string
	err    error
	panics bool
	// entered, when set, receives one value as each call starts; release,
	// when set, is waited on before each call returns.
	entered chan string
	release chan struct{}
	// ctxs, when set, receives the context of each call as it starts.
	ctxs chan context.Context
	// ended, when set, makes the error of a call whose context ended
	// while it waited on release from the context's error; unset, it is
	// the context's error.
	ended func(error) error
	// utf8Only, when set, has the text that the fake makes of octets it
	// was sent (a login's token, a resolved name, a pairing code) made
	// UTF-8, each invalid sequence U+FFFD, so that every reply encodes;
	// unset, such a text is the octets as they are.
	utf8Only bool
}

func newHTTPFakeAPI() *httpFakeAPI { return &httpFakeAPI{calls: make(map[string]int)} }

var _ payflow.API = (*httpFakeAPI)(nil)

var httpFakeTime = time.Unix(1_800_000_000, 0)

func (f *httpFakeAPI) enter(ctx context.Context, method, token string) error {
	f.mu.Lock()
	f.calls[method]++
	f.tokens = append(f.tokens, token)
	err, panics, entered, release, ctxs, ended := f.err, f.panics, f.entered, f.release, f.ctxs, f.ended
	f.mu.Unlock()
	if ctxs != nil {
		ctxs <- ctx
	}
	if entered != nil {
		entered <- method
	}
	if release != nil {
		select {
		case <-release:
		case <-ctx.Done():
			if ended != nil {
				return ended(ctx.Err())
			}
			return ctx.Err()
		}
	}
	if panics {
		panic("secret internal detail")
	}
	return err
}

func (f *httpFakeAPI) set(fn func(f *httpFakeAPI)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// text is the text that the fake makes of octets it was sent.
func (f *httpFakeAPI) text(b []byte) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.utf8Only {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(b)
}

func (f *httpFakeAPI) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// counts returns the number of calls of each method so far.
func (f *httpFakeAPI) counts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.calls)
}

func (f *httpFakeAPI) lastToken() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.tokens) == 0 {
		return ""
	}
	return f.tokens[len(f.tokens)-1]
}

func httpDigest(b []byte) []byte { h := sha256.Sum256(b); return h[:] }

func (f *httpFakeAPI) Challenge(ctx context.Context, req *payflow.ChallengeRequest) (*payflow.ChallengeResponse, error) {
	if err := f.enter(ctx, "Challenge", ""); err != nil {
		return nil, err
	}
	return &payflow.ChallengeResponse{Nonce: httpDigest([]byte(req.CardID)), ExpiresAt: httpFakeTime}, nil
}

func (f *httpFakeAPI) Login(ctx context.Context, req *payflow.LoginRequest) (*payflow.LoginResponse, error) {
	if err := f.enter(ctx, "Login", ""); err != nil {
		return nil, err
	}
	return &payflow.LoginResponse{Token: f.text(req.Proof), CardID: "8944100000000000009", DisplayName: "Ana", MerchantID: "m1", ExpiresAt: httpFakeTime}, nil
}

func (f *httpFakeAPI) Resolve(ctx context.Context, token string, req *payflow.ResolveRequest) (*payflow.ResolveResponse, error) {
	if err := f.enter(ctx, "Resolve", token); err != nil {
		return nil, err
	}
	return &payflow.ResolveResponse{DisplayName: f.text(req.EID), Role: 2, MerchantID: "m1"}, nil
}

func (f *httpFakeAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	if err := f.enter(ctx, "Pair", ""); err != nil {
		return nil, err
	}
	return &payflow.SessionView{State: payflow.SessionWaiting, PairingCode: f.text(req.Proof), ExpiresAt: httpFakeTime}, nil
}

func (f *httpFakeAPI) Session(ctx context.Context, token string, id payflow.ID) (*payflow.SessionView, error) {
	if err := f.enter(ctx, "Session", token); err != nil {
		return nil, err
	}
	return &payflow.SessionView{ID: id, State: payflow.SessionPaired, PairingCode: "123456", ShopperName: "Ana", MerchantName: "Grocer", ExpiresAt: httpFakeTime}, nil
}

func (f *httpFakeAPI) Catalog(ctx context.Context, token string, merchantID string) (*payflow.Catalog, error) {
	if err := f.enter(ctx, "Catalog", token); err != nil {
		return nil, err
	}
	return &payflow.Catalog{MerchantID: merchantID, Currency: "EUR", Items: []payflow.CatalogItem{{SKU: "apple", Name: "Apple", UnitPrice: 45}}}, nil
}

func (f *httpFakeAPI) view(id payflow.ID, state string, request []byte) *payflow.PaymentView {
	return &payflow.PaymentView{
		ID: id, State: state, MerchantID: "m1", MerchantName: "Grocer", Currency: "EUR", Amount: 90,
		Lines:   []payflow.Line{{SKU: "apple", Name: "Apple", Quantity: 2, UnitPrice: 45, Amount: 90}},
		Legs:    []payflow.AssetLeg{{Asset: "ticket", Amount: 1}},
		Request: request, RequestHash: httpDigest(request), ExpiresAt: httpFakeTime,
	}
}

func (f *httpFakeAPI) CreateRequest(ctx context.Context, req *payflow.CreateRequest) (*payflow.PaymentView, error) {
	if err := f.enter(ctx, "CreateRequest", ""); err != nil {
		return nil, err
	}
	return f.view(payflow.ID{1}, payflow.StatePending, req.Request), nil
}

func (f *httpFakeAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	if err := f.enter(ctx, "Payment", token); err != nil {
		return nil, err
	}
	return f.view(id, payflow.StatePending, nil), nil
}

func (f *httpFakeAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	if err := f.enter(ctx, "Approve", ""); err != nil {
		return nil, err
	}
	v := f.view(payflow.ID{2}, payflow.StateCaptured, nil)
	v.Receipt = req.Consent
	return v, nil
}

func (f *httpFakeAPI) Decline(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	if err := f.enter(ctx, "Decline", token); err != nil {
		return nil, err
	}
	return f.view(id, payflow.StateDeclined, nil), nil
}

func (f *httpFakeAPI) Cancel(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	if err := f.enter(ctx, "Cancel", token); err != nil {
		return nil, err
	}
	return f.view(id, payflow.StateCancelled, nil), nil
}

func (f *httpFakeAPI) Capture(ctx context.Context, token string, req *payflow.CaptureRequest) (*payflow.PaymentView, error) {
	if err := f.enter(ctx, "Capture", token); err != nil {
		return nil, err
	}
	v := f.view(req.RequestID, payflow.StateCaptured, nil)
	v.Captured = req.Amount
	return v, nil
}

func (f *httpFakeAPI) Refund(ctx context.Context, req *payflow.RefundRequest) (*payflow.RefundView, error) {
	if err := f.enter(ctx, "Refund", ""); err != nil {
		return nil, err
	}
	return &payflow.RefundView{ID: payflow.ID{3}, RequestID: payflow.ID{2}, Amount: 10, Currency: "EUR", Refunded: 10, Receipt: req.Refund}, nil
}

func (f *httpFakeAPI) Info(ctx context.Context) (*payflow.Info, error) {
	if err := f.enter(ctx, "Info", ""); err != nil {
		return nil, err
	}
	return &payflow.Info{Chain: [][]byte{{0x30, 0x01}, {0x30, 0x02}}}, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// mustHandler is NewHandler for options that are in range.
func mustHandler(tb testing.TB, api payflow.API, opts payflow.HandlerOptions) http.Handler {
	tb.Helper()
	h, err := payflow.NewHandler(api, opts)
	require.NoError(tb, err)
	tb.Cleanup(func() { assert.NoError(tb, h.Close()) })
	return h
}

func mustClient(tb testing.TB, url string, opts payflow.ClientOptions) *payflow.Client {
	tb.Helper()
	c, err := payflow.NewClient(url, opts)
	require.NoError(tb, err)
	return c
}
