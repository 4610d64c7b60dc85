package payflow

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/queue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProtocolErrorTable keeps the table of PROTOCOL.md §5.4 and the error
// codes of the API in step: the same codes, each with its status and
// sentinel.
func TestProtocolErrorTable(t *testing.T) {
	sentinels := map[string]error{
		"ErrInvalid": ErrInvalid, "ErrUnauthorized": ErrUnauthorized,
		"ErrForbidden": ErrForbidden, "ErrNotFound": ErrNotFound,
		"ErrSignature": ErrSignature, "ErrCard": ErrCard, "ErrClone": ErrClone,
		"ErrReplay": ErrReplay, "ErrExpired": ErrExpired, "ErrFinal": ErrFinal,
		"ErrMismatch": ErrMismatch, "ErrFunds": ErrFunds, "ErrLimit": ErrLimit,
		"ErrRateLimited": ErrRateLimited, "ErrConflict": ErrConflict,
		"ErrInFlight": ErrInFlight, "ErrKeyReuse": ErrKeyReuse,
		"ErrUnavailable": ErrUnavailable, "ErrInternal": ErrInternal,
	}
	rows := protocoldoc.Table(t, "### 5.4 Errors")
	var codes []string
	for _, r := range rows {
		require.Len(t, r, 4, "row %q", r)
		code := strings.Trim(r[0], "`")
		codes = append(codes, code)
		status, err := strconv.Atoi(r[1])
		require.NoError(t, err, "status of %s", code)
		sentinel, ok := sentinels[strings.Trim(r[2], "`")]
		require.True(t, ok, "%s: %s is no sentinel of payflow", code, r[2])
		e := AsError(sentinel)
		assert.Equal(t, code, e.Code, "code of %s", r[2])
		assert.Equal(t, status, e.Status, "status of %s", code)
		assert.ErrorIs(t, &Error{Code: code}, sentinel, code)
	}
	var want []string
	for _, c := range errorCodes {
		want = append(want, c.code)
	}
	assert.Equal(t, want, codes, "PROTOCOL.md §5.4 lists every code of the API, in its order")
	assert.Len(t, sentinels, len(errorCodes), "every sentinel has a row")
}

// protocolMessages are the Go types of the messages of PROTOCOL.md §5.3.
var protocolMessages = map[string]reflect.Type{
	"ChallengeRequest":  reflect.TypeFor[ChallengeRequest](),
	"ChallengeResponse": reflect.TypeFor[ChallengeResponse](),
	"LoginRequest":      reflect.TypeFor[LoginRequest](),
	"LoginResponse":     reflect.TypeFor[LoginResponse](),
	"ResolveRequest":    reflect.TypeFor[ResolveRequest](),
	"ResolveResponse":   reflect.TypeFor[ResolveResponse](),
	"PairRequest":       reflect.TypeFor[PairRequest](),
	"SessionView":       reflect.TypeFor[SessionView](),
	"Catalog":           reflect.TypeFor[Catalog](),
	"CatalogItem":       reflect.TypeFor[CatalogItem](),
	"CreateRequest":     reflect.TypeFor[CreateRequest](),
	"ApproveRequest":    reflect.TypeFor[ApproveRequest](),
	"CaptureRequest":    reflect.TypeFor[CaptureRequest](),
	"RefundRequest":     reflect.TypeFor[RefundRequest](),
	"PaymentView":       reflect.TypeFor[PaymentView](),
	"Line":              reflect.TypeFor[Line](),
	"AssetLeg":          reflect.TypeFor[AssetLeg](),
	"RefundView":        reflect.TypeFor[RefundView](),
	"Info":              reflect.TypeFor[Info](),
	"Error":             reflect.TypeFor[errorBody](),
}

// protocolKey is one key of a message of PROTOCOL.md §5.3.
type protocolKey struct {
	cbor string // bstr, tstr, uint, time, ID, bool or array
	opt  bool
}

// protocolKeyRE reads a key of §5.3: its number, then its name and
// type, such as "14 expires at `time` (rounded up …)" or "9 lines *opt*:
// array of Line".
var protocolKeyRE = regexp.MustCompile("^([0-9]+) [^`*]*?(?:`(bstr|tstr|uint|time|ID|bool)`|(\\*opt\\*)?:? ?array of)(.*)$")

// goWireType is the type of §5.3 of the Go type of a field.
func goWireType(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[ID]():
		return "ID"
	case t == reflect.TypeFor[time.Time]():
		return "time"
	case t == reflect.TypeFor[[]byte]():
		return "bstr"
	}
	switch t.Kind() {
	case reflect.String:
		return "tstr"
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "uint"
	case reflect.Bool:
		return "bool"
	case reflect.Slice:
		return "array"
	}
	return t.String()
}

// TestProtocolMessageTable keeps the table of PROTOCOL.md §5.3 and the
// bodies of the HTTP API in step: every message with every key, its type
// and whether it is omitted when zero.
func TestProtocolMessageTable(t *testing.T) {
	rows := protocoldoc.Table(t, "### 5.3 Messages")
	var names []string
	for _, r := range rows {
		require.Len(t, r, 2, "row %q", r)
		names = append(names, r[0])
		mt, ok := protocolMessages[r[0]]
		if !assert.True(t, ok, "PROTOCOL.md §5.3 names a message %q that payflow does not have", r[0]) {
			continue
		}
		doc := map[string]protocolKey{}
		for k := range strings.SplitSeq(r[1], " · ") {
			m := protocolKeyRE.FindStringSubmatch(k)
			if !assert.NotNil(t, m, "%s: unreadable key %q", r[0], k) {
				continue
			}
			typ := m[2]
			if typ == "" {
				typ = "array"
			}
			doc[m[1]] = protocolKey{cbor: typ, opt: m[3] != "" || strings.HasPrefix(strings.TrimSpace(m[4]), "*opt*")}
		}
		code := map[string]protocolKey{}
		for i := range mt.NumField() {
			f := mt.Field(i)
			tag := f.Tag.Get("cbor")
			if tag == "" || tag == "-" {
				continue
			}
			parts := strings.Split(tag, ",")
			code[parts[0]] = protocolKey{
				cbor: goWireType(f.Type),
				opt:  slices.Contains(parts, "omitempty") || slices.Contains(parts, "omitzero"),
			}
		}
		assert.Equal(t, code, doc, "PROTOCOL.md §5.3 %s: key: {CBOR type, opt}", r[0])
	}
	for name := range protocolMessages {
		assert.Contains(t, names, name, "PROTOCOL.md §5.3 lacks a message")
	}
}

// TestProtocolEndpointTable keeps the table of PROTOCOL.md §5.2 and the
// handler in step: every endpoint is served, asks for a token where the
// table says so and none elsewhere, and names a method of API.
func TestProtocolEndpointTable(t *testing.T) {
	h, err := NewHandler(refusingAPI{}, HandlerOptions{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	api := reflect.TypeFor[API]()
	rows := protocoldoc.Table(t, "### 5.2 Endpoints")
	for _, r := range rows {
		require.Len(t, r, 5, "row %q", r)
		method, path, ok := strings.Cut(strings.Trim(r[0], "`"), " ")
		require.True(t, ok, "row %q", r)
		path = strings.ReplaceAll(path, "{id}", ID{1}.String())
		path = strings.ReplaceAll(path, "{merchant}", "grocer-1")
		name, _, _ := strings.Cut(strings.Trim(r[4], "`"), "`")
		_, ok = api.MethodByName(name)
		assert.True(t, ok, "%s: API has no method %s", r[0], name)

		// Without a token: 401 where the table asks for one, and no 401 (nor
		// 404) elsewhere. refusingAPI answers any call that gets through with
		// a 500.
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		switch r[1] {
		case "yes":
			assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s without a token", r[0])
		case "no":
			assert.NotContains(t, []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusMethodNotAllowed}, rec.Code, "%s without a token", r[0])
		default:
			t.Errorf("%s: token column %q is neither yes nor no", r[0], r[1])
		}

		// With a token and, where the table gives one, a body that is not
		// CBOR: 400 invalid with a body, and a body refused (400) without one
		// (the decoder's refusal of an empty body, or the handler's refusal of
		// a body on a request that takes none).
		rec = httptest.NewRecorder()
		req := httptest.NewRequest(method, path, strings.NewReader("\xff"))
		req.Header.Set("Content-Type", ContentType)
		req.Header.Set("Authorization", "Bearer tok")
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusBadRequest, rec.Code, "%s with a body that is not CBOR", r[0])
		var e errorBody
		require.NoError(t, wireDecodeReply(rec.Body.Bytes(), &e), r[0])
		assert.Equal(t, "invalid", e.Code, r[0])
		if r[2] == "none" {
			assert.Contains(t, e.Message, "body", "%s takes no body", r[0])
		} else {
			assert.Contains(t, e.Message, "body is not a valid "+r[2], "%s takes a %s", r[0], r[2])
		}
	}
	assert.Equal(t, api.NumMethod(), len(rows), "PROTOCOL.md §5.2 has a row for every method of API")
}

// TestProtocolStateTable keeps the table of PROTOCOL.md §6.2 and the
// states of a payment request in step: the same states, final where the
// table says so.
func TestProtocolStateTable(t *testing.T) {
	var doc []string
	for _, r := range protocoldoc.Table(t, "### 6.2 States of a payment request") {
		require.Len(t, r, 3, "row %q", r)
		state := strings.Trim(r[0], "`")
		doc = append(doc, state)
		assert.Equal(t, r[2] == "yes", final(state), "%s: final", state)
	}
	assert.Equal(t, []string{StatePending, StateHeld, StateCaptured, StateDeclined, StateCancelled, StateExpired}, doc)
}

// TestProtocolAccountTable keeps the chart of accounts of PROTOCOL.md §6.4
// and the platform's in step: the same codes, each with the flags the
// table gives, and the owner of the platform's own accounts empty.
func TestProtocolAccountTable(t *testing.T) {
	flags := map[string]ledger.AccountFlags{
		"none": 0, "debits must not exceed credits": ledger.AccountDebitsMustNotExceedCredits,
	}
	var codes []uint16
	for _, r := range protocoldoc.TableOf(t, "### 6.4 Consent and settlement", "code") {
		require.Len(t, r, 4, "row %q", r)
		code, err := strconv.ParseUint(r[0], 10, 16)
		require.NoError(t, err, "row %q", r)
		codes = append(codes, uint16(code))
		f, ok := flags[r[3]]
		if assert.True(t, ok, "code %d: flags %q", code, r[3]) {
			assert.Equal(t, f, account(uint16(code), 978, "").Flags, "code %d: flags", code)
		}
		assert.Equal(t, code >= uint64(AccountFunding), r[2] == "empty", "code %d: owner %q", code, r[2])
	}
	assert.Equal(t, []uint16{AccountWallet, AccountMerchant, AccountFunding, AccountIssuer}, codes)
}

// TestProtocolLedgerCodes keeps the transfer codes and the kinds of derived
// transfer IDs that PROTOCOL.md §6.4 names in step with the platform's.
func TestProtocolLedgerCodes(t *testing.T) {
	protocoldoc.Says(t, "### 6.4 Consent and settlement",
		fmt.Sprintf("with kind %d hold, %d post, %d void, %d refund, %d funding, %d asset issue, %d limit mark;",
			kindHold, kindPost, kindVoid, kindRefund, kindFund, kindIssue, kindLimit),
		fmt.Sprintf("Ledger transfer code %d is a payment leg, %d a refund, %d a funding, %d an asset issue;",
			TransferPayment, TransferRefund, TransferFunding, TransferIssue),
	)
}

// TestProtocolHeaderTable keeps the table of headers of PROTOCOL.md §5.1
// and the handler in step: the same header names, each in the direction
// the table gives, a request ID the handler makes of 24 hexadecimal
// digits, and Cache-Control: no-store on a reply.
func TestProtocolHeaderTable(t *testing.T) {
	want := map[string]string{
		"Authorization": "request", IdempotencyKeyHeader: "request", RequestIDHeader: "both",
		ReplayedHeader: "reply", "Retry-After": "reply", "Cache-Control": "reply",
	}
	doc := map[string]string{}
	for _, r := range protocoldoc.Table(t, "### 5.1 Conventions") {
		require.Len(t, r, 3, "row %q", r)
		name, _, ok := strings.Cut(strings.Trim(r[0], "`"), ":")
		require.True(t, ok, "row %q", r)
		doc[name] = r[1]
	}
	assert.Equal(t, want, doc, "PROTOCOL.md §5.1: header: direction")

	h, err := NewHandler(refusingAPI{}, HandlerOptions{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/info", nil))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.Regexp(t, "^[0-9a-f]{24}$", rec.Header().Get(RequestIDHeader), "a request ID made by the handler")
}

// TestProtocolLimits keeps the limits that PROTOCOL.md §5.1 gives, and the
// most items of a catalog that §5.3 gives, and the constants of the
// handler, the client, the server and the platform in step.
func TestProtocolLimits(t *testing.T) {
	protocoldoc.Says(t, "### 5.1 Conventions",
		fmt.Sprintf("nesting deeper than %d, arrays longer than %d or maps with more than %d pairs", wireMaxNested, wireMaxArray, wireMaxMapPairs),
		fmt.Sprintf("A body larger than %d KiB (configurable) is `over_limit` (422)", DefaultMaxBodyBytes>>10),
		fmt.Sprintf("accepts arrays of up to %d elements and bodies of up to %d MiB", wireMaxReplyArray, DefaultMaxReplyBytes>>20),
		fmt.Sprintf("reads a reply's header section of up to %d KiB", clientMaxHeaderBytes>>10),
		fmt.Sprintf("headers within %d s over HTTP/1.1, the whole request within %d s", int(ServerReadHeaderTimeout.Seconds()), int(ServerReadTimeout.Seconds())),
		fmt.Sprintf("the reply within %d s of the end of its headers, %d minutes idle between requests", int(ServerWriteTimeout.Seconds()), int(ServerIdleTimeout.Minutes())),
		fmt.Sprintf("over HTTP/1.1 %d KiB of request line and headers", ServerMaxHeaderBytes>>10),
		fmt.Sprintf("The handler serves at most %d requests at once (configurable)", DefaultMaxInFlight),
		fmt.Sprintf("runs under one %d s deadline (configurable", int(DefaultCallTimeout.Seconds())),
		fmt.Sprintf("one header of 1 to %d visible ASCII characters", maxIdempotencyKey),
	)
	protocoldoc.Says(t, "### 5.3 Messages",
		fmt.Sprintf("array of CatalogItem (at most %s,", spaced(MaxCatalogItems)),
	)
}

// TestProtocolIdempotencyDefaults keeps the defaults that PROTOCOL.md §5.5
// gives for stored replies, the least time by which a key's lease outlasts
// its request's deadline, the handler's later tries to store a reply and
// the client's retries and the constants in step.
func TestProtocolIdempotencyDefaults(t *testing.T) {
	protocoldoc.Says(t, "### 5.5 Idempotency-Key",
		fmt.Sprintf("its reply is kept (%d hours by default)", int(DefaultReplyTTL.Hours())),
		fmt.Sprintf("(lease: %d minute by", int(DefaultReplyLease.Minutes())),
		fmt.Sprintf("never ending less than %d s after the request's deadline, §5.1", int(leaseAfterDeadline.Seconds())),
		fmt.Sprintf("It retries, up to %d attempts in all", DefaultMaxAttempts),
		fmt.Sprintf("it waits from %d ms doubling to at most %d s", DefaultMinBackoff.Milliseconds(), int(DefaultMaxBackoff.Seconds())),
		fmt.Sprintf("Each attempt has a %d s deadline", int(DefaultAttemptTimeout.Seconds())),
		fmt.Sprintf("(waiting from %d ms doubling to %d s between tries)", finishRetryFirst.Milliseconds(), int(finishRetryLast.Seconds())),
	)
}

// TestProtocolPlatformDefaults keeps the defaults of PlatformOptions that
// PROTOCOL.md §6 gives and the constants in step.
func TestProtocolPlatformDefaults(t *testing.T) {
	protocoldoc.Says(t, "## 6. Payment request lifecycle",
		fmt.Sprintf("default burst %d, refilled at one every %d s", DefaultLoginBurst, int(1/DefaultLoginRate)),
		fmt.Sprintf("default burst %d and %d per second", DefaultResolveBurst, DefaultResolveRate),
		fmt.Sprintf("default burst %d and %d per second", DefaultCatalogBurst, DefaultCatalogRate),
		fmt.Sprintf("burst/rate seconds ago or more, %d s by default", DefaultResolveBurst/DefaultResolveRate),
		fmt.Sprintf("(`SessionTTL`, %d minutes by", int(DefaultSessionTTL.Minutes())),
		fmt.Sprintf("A session lives %d minutes by default", int(DefaultSessionTTL.Minutes())),
		fmt.Sprintf("it expires after %s by default", map[time.Duration]string{time.Hour: "one hour"}[DefaultTokenTTL]),
		fmt.Sprintf("`PlatformOptions.MaxRequestTTL` (%d minutes by default)", int(DefaultMaxRequestTTL.Minutes())),
		fmt.Sprintf("`PlatformOptions.RequestTTL` (%d seconds by default)", int(DefaultRequestTTL.Seconds())),
		fmt.Sprintf("now ≥ hold expiry (default %d days)", int(DefaultHoldTTL.Hours()/24)),
		fmt.Sprintf("idle for %d seconds (default)", int(DefaultRecoverAfter.Seconds())),
		fmt.Sprintf("`PlatformOptions.CacheTTL`, %d s by default", int(DefaultCacheTTL.Seconds())),
	)
}

// TestProtocolPhoneDefaults keeps the defaults of the phones that
// PROTOCOL.md §5.6 and §6 give and the constants in step.
func TestProtocolPhoneDefaults(t *testing.T) {
	protocoldoc.Says(t, "## 6. Payment request lifecycle",
		fmt.Sprintf("at most %d s by default (`payflow.DefaultMaxRateLimitPause`)", int(DefaultMaxRateLimitPause.Seconds())),
		fmt.Sprintf("after a pause (%d s by default, `payflow.DefaultRateLimitPause`:", int(DefaultRateLimitPause.Seconds())),
		fmt.Sprintf("up to %d times in all (`payflow.RateLimitTries`)", RateLimitTries),
		fmt.Sprintf("%d s (`queue.DefaultTTL`)", int(queue.DefaultTTL.Seconds())),
	)
	protocoldoc.Says(t, "### 5.6 Finding a session's payment requests",
		fmt.Sprintf("for %d seconds after the first `conflict` at most (by default: `payflow.PhoneOptions.SettleWait`)", int(DefaultSettleWait.Seconds())),
	)
}

// TestProtocolVerificationCodes keeps the refusals of a card's chain that
// the verification table of PROTOCOL.md §4.5 names and the error code of
// §5.4 in step: each is card_not_trusted (403), ErrCard, at the API.
func TestProtocolVerificationCodes(t *testing.T) {
	refusals := map[string]error{
		"ErrUntrusted": pki.ErrUntrusted, "ErrUsage": pki.ErrUsage, "ErrExpired": pki.ErrExpired,
		"ErrCardID": pki.ErrCardID, "ErrRevoked": pki.ErrRevoked, "ErrCRL": pki.ErrCRL,
	}
	protocoldoc.Says(t, "### 5.4 Errors", "| `card_not_trusted` | 403 | `ErrCard` | chain or revocation check failed")
	seen := map[string]bool{}
	for _, r := range protocoldoc.Table(t, "### 4.5 Verification") {
		require.Len(t, r, 2, "row %q", r)
		for _, m := range regexp.MustCompile("`(Err[A-Za-z]+)`").FindAllStringSubmatch(r[1], -1) {
			sentinel, ok := refusals[m[1]]
			if !assert.True(t, ok, "PROTOCOL.md §4.5 names %s, no refusal of pki.Verifier.VerifyCard", m[1]) {
				continue
			}
			seen[m[1]] = true
			err := verifyError(&pki.Error{Err: sentinel, Cert: 0, Reason: "a refusal"})
			assert.ErrorIs(t, err, ErrCard, m[1])
			assert.Equal(t, "card_not_trusted", AsError(err).Code, m[1])
			assert.Equal(t, http.StatusForbidden, AsError(err).Status, m[1])
		}
	}
	assert.Len(t, seen, len(refusals), "PROTOCOL.md §4.5 names every refusal")
}

// TestProtocolSessionConstants keeps the figures that PROTOCOL.md §6.1
// and §6.2 give of reloads of the cards, the phones' answers on EIDs and
// the rounds of a lost compare-and-set, and the constants in step.
func TestProtocolSessionConstants(t *testing.T) {
	protocoldoc.Says(t, "### 6.1 Login, pairing and sessions",
		fmt.Sprintf("once every %d s (`payflow.CardReloadInterval`, the phones' `UnknownPeerTTL`)", int(CardReloadInterval.Seconds())),
		fmt.Sprintf("at the latest %d s after the change (`payflow.CardReloadInterval`)", int(CardReloadInterval.Seconds())),
		fmt.Sprintf("a name for %d s (`payflow.PeerNameTTL`), a `not_found` for %d s (`payflow.UnknownPeerTTL`)",
			int(PeerNameTTL.Seconds()), int(UnknownPeerTTL.Seconds())),
	)
	protocoldoc.Says(t, "### 6.2 States of a payment request",
		fmt.Sprintf("goes round at most %d times (`payflow.MaxConflictRetries`)", MaxConflictRetries),
		fmt.Sprintf("the %dst loss, which only a store whose conflict never resolves gives, fails the call with `unavailable` (`payflow.ErrContended`)", MaxConflictRetries+1),
	)
}

// spaced writes n as PROTOCOL.md writes numbers of more than four
// digits: its thousands apart, as in 100 000.
func spaced(n int) string {
	if n < 1000 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%s %03d", spaced(n/1000), n%1000)
}

// TestProtocolStorageLimits keeps the limits that PROTOCOL.md §6.3 and
// §6.7 give for a request's receipt, the platform's caches and the text
// that a store keeps and the constants in step.
func TestProtocolStorageLimits(t *testing.T) {
	protocoldoc.Says(t, "### 6.3 Creating a request",
		fmt.Sprintf("is at most %d bytes signed without the platform's chain", record.MaxMessage),
	)
	protocoldoc.Says(t, "### 6.7 State storage",
		fmt.Sprintf("the platform's own, at most %s, kept without expiry", spaced(maxOwnAccounts)),
		fmt.Sprintf("tokens that it issued or read (at most %s: one more drops", spaced(maxCached)),
		fmt.Sprintf("of at most `MaxKeySize` (%d) bytes", MaxKeySize),
	)
}

// TestProtocolSettlementLimits keeps the limits that PROTOCOL.md §6.4
// gives for kept consents, asset ledgers, the platform's own accounts and
// the recovery sweep and the code in step.
func TestProtocolSettlementLimits(t *testing.T) {
	sweep, err := sweepLimit(0)
	if err != nil {
		t.Fatal(err)
	}
	hours := map[time.Duration]string{time.Hour: "an hour"}[MaxRecoverDelay]
	protocoldoc.Says(t, "### 6.4 Consent and settlement",
		fmt.Sprintf("of several requests, up to %d (`payflow.MaxKeptConsents`", MaxKeptConsents),
		fmt.Sprintf("up to %s of them (one more drops the one kept first)", spaced(maxOwnAccounts)),
		fmt.Sprintf("and `limit` refunds (%d by default)", sweep),
		fmt.Sprintf("and at most %s (`payflow.MaxRecoverDelay`", hours),
	)
}
