package demo

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// fixedAPI answers each call with the view it holds, as a platform that
// took the call.
type fixedAPI struct {
	payflow.API
	login   *payflow.LoginResponse
	payment *payflow.PaymentView
	refund  *payflow.RefundView
	session *payflow.SessionView
}

func (a *fixedAPI) Login(context.Context, *payflow.LoginRequest) (*payflow.LoginResponse, error) {
	return a.login, nil
}

func (a *fixedAPI) CreateRequest(context.Context, *payflow.CreateRequest) (*payflow.PaymentView, error) {
	return a.payment, nil
}

func (a *fixedAPI) Approve(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	return a.payment, nil
}

func (a *fixedAPI) Refund(context.Context, *payflow.RefundRequest) (*payflow.RefundView, error) {
	return a.refund, nil
}

func (a *fixedAPI) Pair(context.Context, *payflow.PairRequest) (*payflow.SessionView, error) {
	return a.session, nil
}

// TestNarratorSaysWhatTheCloudDid: the cloud's screen shows a login, a
// payment request, a payment with the balances after it of the payer and
// the merchant in the currency and in each asset of its legs, and a
// refund, each by the names that the cloud knows.
func TestNarratorSaysWhatTheCloudDid(t *testing.T) {
	ctx := context.Background()
	c, ids := setUpCloud(t)
	const ticket = "ARENA-1231-A12"
	require.NoError(t, c.Platform.RegisterAsset(ctx, ticket, 1001))
	require.NoError(t, c.Platform.OpenAccount(ctx, ids["alice"], ticket))
	require.NoError(t, c.Platform.Issue(ctx, payflow.ID{9}, "corner-grocer", ticket, 5))

	api := &fixedAPI{
		login: &payflow.LoginResponse{CardID: ids["alice"], DisplayName: "Alice"},
		payment: &payflow.PaymentView{ID: payflow.ID{0xab, 0xcd, 0xef, 0x01}, MerchantID: "corner-grocer", MerchantName: "Corner Grocer",
			PayerCardID: ids["alice"], Amount: 1127, Captured: 1127, Currency: "EUR", Legs: []payflow.AssetLeg{{Asset: ticket, Amount: 1}}},
		refund: &payflow.RefundView{ID: payflow.ID{0x12, 0x34, 0x56, 0x78}, RequestID: payflow.ID{0xab, 0xcd, 0xef, 0x01}, Amount: 100, Currency: "EUR"},
	}
	var out bytes.Buffer
	n := &Narrator{API: api, Cloud: c, Screen: NewPrinter(&out).Screen("cloud")}
	_, err := n.Login(ctx, &payflow.LoginRequest{})
	require.NoError(t, err)
	_, err = n.CreateRequest(ctx, &payflow.CreateRequest{})
	require.NoError(t, err)
	_, err = n.Approve(ctx, &payflow.ApproveRequest{})
	require.NoError(t, err)
	_, err = n.Refund(ctx, &payflow.RefundRequest{})
	require.NoError(t, err)
	assert.Equal(t, "[cloud]   Verified Alice's card "+ids["alice"]+" (chain, CRL, signature, counter); token issued\n"+
		"[cloud]   Payment request abcdef01 from Corner Grocer to Alice: EUR 11.27, priced from the catalog\n"+
		"[cloud]   Consent verified; EUR 11.27 held and captured from Alice to Corner Grocer; receipt signed\n"+
		"[cloud]   Balances now: Alice EUR 50.00, Corner Grocer EUR 0.00, Alice 0 "+ticket+", Corner Grocer 5 "+ticket+"\n"+
		"[cloud]   Refund 12345678 of EUR 1.00 on request abcdef01\n", out.String())
}

// TestNarratorForgetsExpiredSessions: a session shown paired whose
// expiry has passed is forgotten: a proof that finds it paired again (a
// new session of the same ID) is shown as a pairing, not as a
// confirmation made again.
func TestNarratorForgetsExpiredSessions(t *testing.T) {
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	proof, err := record.Sign(rand.Reader, key, &record.AuthProof{
		CardHeader: record.CardHeader{CardID: "8944000000000000001", Counter: 1},
		Nonce:      make([]byte, 32), Role: record.RoleSeller, EID: make([]byte, 16), PeerEID: make([]byte, 16),
	})
	require.NoError(t, err)
	api := &fixedAPI{session: &payflow.SessionView{ID: payflow.ID{0x5e, 0x55, 0x10, 0x45}, State: payflow.SessionPaired,
		ShopperName: "Alice", MerchantName: "Corner Grocer", PairingCode: "1234", ExpiresAt: time.Now().Add(-time.Second)}}
	var out bytes.Buffer
	n := &Narrator{API: api, Screen: NewPrinter(&out).Screen("cloud")}
	const paired = "[cloud]   Session 5e551045 paired: Alice and Corner Grocer, pairing code 1234 (Corner Grocer confirmed it now, Alice before)\n"
	for range 2 {
		_, err := n.Pair(ctx, &payflow.PairRequest{Proof: proof})
		require.NoError(t, err)
	}
	assert.Equal(t, paired+paired, out.String())
}

// tokenCheckedAPI is an API whose token check answers err, and records
// the token it was given.
type tokenCheckedAPI struct {
	payflow.API
	err error
	got string
}

func (a *tokenCheckedAPI) CheckToken(ctx context.Context, token string) error {
	a.got = token
	return a.err
}

// TestNarratorForwardsTheTokenCheck: the Narrator has the API it wraps
// check a token before the handler replays a stored reply to it; in
// front of an API that cannot, it takes every token.
func TestNarratorForwardsTheTokenCheck(t *testing.T) {
	ctx := context.Background()
	api := &tokenCheckedAPI{err: payflow.ErrUnauthorized}
	var n payflow.API = &Narrator{API: api}
	tc, ok := n.(payflow.TokenChecker)
	require.True(t, ok, "the Narrator is a payflow.TokenChecker")
	assert.ErrorIs(t, tc.CheckToken(ctx, "token"), payflow.ErrUnauthorized)
	assert.Equal(t, "token", api.got)
	assert.NoError(t, (&Narrator{API: clockedAPI{}}).CheckToken(ctx, "token"), "an API that checks no token")
}

// TestNarratorPrintsPaymentLeftApproving: a consent sent again after its
// call was cut once the platform recorded it, its settlement left under
// way, is settled by that call, which prints the payment: the request
// held the consent, but not settled.
func TestNarratorPrintsPaymentLeftApproving(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, req := signedConsent(ctx, t)
	leaveApproving(ctx, t, w, req)

	var out bytes.Buffer
	n := &Narrator{API: w.cloud.Platform, Cloud: w.cloud, Screen: NewPrinter(&out).Screen("cloud")}
	v, err := n.Approve(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, v.State)
	assert.Equal(t, paidLines, out.String())
}
