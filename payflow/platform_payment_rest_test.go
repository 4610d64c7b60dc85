package payflow_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

// lateCardRead is a Store whose first read of a card after a read of a
// payment, once armed (at set), first moves clock to at, as a call that
// took that long between reading a request and checking its cards would.
type lateCardRead struct {
	payflow.Store
	clock *paytest.Clock
	at    time.Time // zero: not armed
	read  bool      // a payment was read since it was armed
}

func (s *lateCardRead) Payment(ctx context.Context, id payflow.ID) (*payflow.PaymentRecord, error) {
	s.read = !s.at.IsZero()
	return s.Store.Payment(ctx, id)
}

func (s *lateCardRead) Card(ctx context.Context, id string) (*payflow.CardRecord, error) {
	if s.read {
		s.read = false
		s.clock.Advance(s.at.Sub(s.clock.Now()))
		s.at = time.Time{}
	}
	return s.Store.Card(ctx, id)
}

// TestEndingReachesExpiryExactly: a decline, or a cancellation, of a
// pending request whose call reaches the request's expiry exactly (not
// past it) after it read the request pending and before it records its
// change is ErrExpired, as one sent at the expiry: the request ends
// expired, neither declined nor cancelled, and no money moves.
func TestEndingReachesExpiryExactly(t *testing.T) {
	for _, tt := range []struct {
		name string
		end  func(context.Context, *shop, payflow.ID) (*payflow.PaymentView, error)
	}{
		{"decline", callDecline},
		{"cancel", callCancel},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &lateCardRead{Store: memory.New()}
			s := newShopOn(t, st, false, uncached)
			st.clock = s.Clock
			v, _ := s.request(t)
			before := s.balances(t)
			st.at = v.ExpiresAt
			got, err := tt.end(context.Background(), s, v.ID)
			require.ErrorIs(t, err, payflow.ErrExpired)
			assert.EqualError(t, err, "payflow: expired: the request expired")
			assert.Nil(t, got)
			assert.True(t, st.at.IsZero(), "the clock moved during the call")
			assert.Equal(t, v.ExpiresAt, s.Clock.Now(), "at the expiry exactly")
			s.requireState(t, v.ID, payflow.StateExpired)
			assert.Equal(t, before, s.balances(t), "no money moved")
		})
	}
}

// TestHTTPRevokedCardRefusalsStoreNoReply: served in front of a reply
// store that is no ReplyReader, a payment request sent again (the same
// signed bytes as one accepted before) once its seller card is revoked,
// and a consent to a pending request signed by a revoked card that is not
// the payer's, each under an Idempotency-Key, are refused
// card_not_trusted, refusals given before the card was verified: the key
// is released, the refusal not stored, so the same key and body run again
// rather than being replayed, and the requests stay as stored, pending.
func TestHTTPRevokedCardRefusalsStoreNoReply(t *testing.T) {
	ctx := context.Background()
	w, _ := newReplyFixture(t)
	w.serve(t, replyStoreOnly{&writeCountingReplies{m: payflow.NewReplyMemory()}})
	shop, view := w.pending(t)
	retry := &payflow.CreateRequest{Request: shop.Seller.MustSign(paytest.Request(shop.Session, "EUR", 200))}
	retried, err := w.f.Platform.CreateRequest(ctx, retry)
	require.NoError(t, err)
	w.f.Revoke(shop.Seller)
	bob := w.f.NewCard("bob")
	w.f.Revoke(bob)
	for _, tc := range []struct {
		name, key, path string
		body            any
		id              payflow.ID
	}{
		{"payment request sent again", "retry", "/v1/requests", retry, retried.ID},
		{"consent of a revoked card not the payer's", "consent", "/v1/requests/" + view.ID.String() + "/consent",
			&payflow.ApproveRequest{Consent: bob.MustSign(paytest.Consent(view))}, view.ID},
	} {
		for _, what := range []string{"sent", "sent again under the same key"} {
			status, code, replayed := w.send(t, tc.path, "", tc.key, payflow.ContentType, tc.body)
			assert.Equal(t, http.StatusForbidden, status, "%s, %s", tc.name, what)
			assert.Equal(t, "card_not_trusted", code, "%s, %s", tc.name, what)
			assert.Empty(t, replayed, "%s, %s: run, not replayed", tc.name, what)
		}
		stored, err := w.f.Platform.Store().Payment(ctx, tc.id)
		require.NoError(t, err)
		assert.Equal(t, payflow.StatePending, stored.State, tc.name)
	}
}

// TestWithdrawalOfRevokedSellerCardRecordsItsTime: a pending request whose
// seller card is revoked, read a minute after it was made, is withdrawn
// (cancelled) by that read, and its record says when: UpdatedAt is the
// time of the read, CreatedAt that of the request.
func TestWithdrawalOfRevokedSellerCardRecordsItsTime(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, _ := s.request(t)
	made := s.Clock.Now()
	s.Clock.Advance(time.Minute)
	s.Revoke(s.seller)
	got, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, got.State)
	stored, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, stored.State)
	assert.Equal(t, s.Clock.Now(), stored.UpdatedAt, "withdrawn at the read")
	assert.Equal(t, made, stored.CreatedAt)
}

// TestRequestOfSellerCardUnderRevokedCA: a pending request whose seller
// card's issuing CA certificate is listed in its root's CRL is the request
// of a revoked seller card (PROTOCOL.md §6.4): the payer's consent, signed
// before, is final_state and moves no money, the payer's screen shows it
// cancelled, and the seller card's token is card_not_trusted. The payer's
// card, under another issuing CA, stays trusted.
func TestRequestOfSellerCardUnderRevokedCA(t *testing.T) {
	protocoldoc.Says(t, "### 6.4 Consent and settlement",
		"**Revoked seller card.** A payment request whose seller card's certificate, or a CA certificate "+
			"above it, is listed in a CRL that the platform process holds")
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	other, err := s.Root.NewIntermediate(key, pki.CAOptions{CRLURL: "http://pki.example/other.crl", Now: s.Clock.Now})
	require.NoError(t, err)
	// The platform, from here on, of a verifier that knows both issuing CAs.
	s.Verifier, err = pki.NewVerifier(pki.VerifierOptions{
		Roots: [][]byte{s.Root.DER()}, Intermediates: [][]byte{s.Issuer.DER(), other.DER()}, Now: s.Clock.Now,
	})
	require.NoError(t, err)
	s.RefreshCRLs()
	crl, err := other.CRL(s.Clock.Now().Add(24 * time.Hour))
	require.NoError(t, err)
	require.NoError(t, s.Verifier.AddCRL(crl))
	s.Platform = s.newProcess(t, payflow.PlatformOptions{})
	issuer := s.Issuer
	s.Issuer = other
	bob := s.NewCard("Bob")
	s.Issuer = issuer
	require.NoError(t, s.Platform.OpenAccount(ctx, bob.ID, "EUR"))
	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{3}, bob.ID, "EUR", funds))
	bob.Login(record.RoleShopper)
	session := s.Pair(bob, s.seller)
	v, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{
		Request: s.seller.MustSign(paytest.Request(session, "EUR", 690, record.Item{SKU: "apple", Quantity: 2}, record.Item{SKU: "bread", Quantity: 1})),
	})
	require.NoError(t, err)
	pv, err := s.Platform.Payment(ctx, bob.Token, v.ID)
	require.NoError(t, err)
	require.Equal(t, payflow.StatePending, pv.State)
	consent := bob.MustSign(paytest.Consent(pv))

	require.NoError(t, s.Root.Revoke(issuer.Certificate().SerialNumber, pki.ReasonCACompromise))
	s.RefreshCRLs()
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.ErrorIs(t, err, payflow.ErrFinal)
	got, err := s.Platform.Payment(ctx, bob.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, got.State)
	_, err = s.Platform.Payment(ctx, s.seller.Token, v.ID)
	require.ErrorIs(t, err, payflow.ErrCard)
	b, err := s.Platform.Balance(ctx, bob.ID, "EUR")
	require.NoError(t, err)
	assert.Equal(t, payflow.Balance{Posted: funds}, b, "nothing moved")
}

// TestWithdrawalOfRevokedSellerCardMeetsDecline: a read of a pending
// request whose seller card is revoked, whose withdrawal meets the request
// declined first by another process, shows it declined, as stored, not
// cancelled; a withdrawal that the store fails to record fails the read
// with the store's error, the request left pending.
func TestWithdrawalOfRevokedSellerCardMeetsDecline(t *testing.T) {
	ctx := context.Background()
	st := &updateHook{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	declined, _ := s.request(t)
	lost, _ := s.request(t)
	s.Revoke(s.seller)

	st.hook = changedFirst(t, st, payflow.StatePending, payflow.StateCancelled, payflow.StateDeclined)
	got, err := s.Platform.Payment(ctx, s.shopper.Token, declined.ID)
	require.NoError(t, err)
	assert.Nil(t, st.hook, "the withdrawal met the decline")
	assert.Equal(t, payflow.StateDeclined, got.State)
	s.requireState(t, declined.ID, payflow.StateDeclined)

	st.hook = func(*payflow.PaymentRecord, string) error { return errLost }
	got, err = s.Platform.Payment(ctx, s.shopper.Token, lost.ID)
	require.ErrorIs(t, err, errLost)
	assert.Nil(t, got)
	s.requireState(t, lost.ID, payflow.StatePending)
}

// TestConsentWithAssetWalletTakenCounterPassed: a consent to a request
// whose payer's ticket wallet ID the ledger holds with other fields, whose
// card's counter another consent of the card, signed after it and
// accepted, has passed, is refused for its counter (ErrClone), as a spent
// record is, not with the conflict of the taken account: the request
// stays pending and nothing moves.
func TestConsentWithAssetWalletTakenCounterPassed(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	takeWallet(t, s, takenWalletCases[0].set)
	v := unopenedTicketRequest(t, s)
	consent := s.consent(t, v.ID)
	paid, _ := s.request(t)
	s.captured(t, paid.ID, false)
	requireCounterPassed(t, s, consent, v.ID, payflow.StatePending)
}

// TestConsentToHeldRequestCounterPassed: a consent to a request that
// another consent of the card, signed after it, settled (the request
// held) is refused for its counter (ErrClone), as a spent record is, not
// with the conflict of the settlement under way: the hold stays as it is.
func TestConsentToHeldRequestCounterPassed(t *testing.T) {
	s := newShop(t, true, paytest.Options{})
	v, _ := s.request(t)
	first := s.consent(t, v.ID)
	_, err := s.Platform.Approve(context.Background(), &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	requireCounterPassed(t, s, first, v.ID, payflow.StateHeld)
}

// requireCounterPassed sends consent to request id, in state, once its
// card's counter is passed, and checks that it is refused ErrClone, not
// ErrConflict, the request left in state and the EUR balances as they
// were.
func requireCounterPassed(t *testing.T, s *shop, consent []byte, id payflow.ID, state string) {
	t.Helper()
	before := s.balances(t)
	got, err := s.Platform.Approve(context.Background(), &payflow.ApproveRequest{Consent: consent})
	require.ErrorIs(t, err, payflow.ErrClone)
	assert.NotErrorIs(t, err, payflow.ErrConflict)
	assert.Nil(t, got)
	s.requireState(t, id, state)
	assert.Equal(t, before, s.balances(t), "nothing moved")
}
