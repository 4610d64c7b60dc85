package payflow_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/casimpay/casimpay/internal/sqlitedb"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/payflow/sqlite"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestTokenOfReenrolledCard: a login token is bound to the certificate
// its login was proved with. The card enrolled again with the same chain
// keeps its token; once its certificate is revoked (its key compromised)
// and the card is enrolled again under the same ICCID with a new key, the
// token of a login with the old key authenticates nothing: every call
// that takes it is card_not_trusted and changes nothing, as the token of
// a card no longer enrolled is, while a login with the new key gets a
// token that serves.
func TestTokenOfReenrolledCard(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	v, _ := s.request(t)
	old := s.shopper.Token
	_, err := s.Platform.EnrollCard(ctx, s.shopper.Chain, s.shopper.Secret, s.shopper.Name)
	require.NoError(t, err)
	require.NoError(t, s.Platform.CheckToken(ctx, old), "enrolled again with the same certificate")

	s.Revoke(s.shopper)
	require.ErrorIs(t, s.Platform.CheckToken(ctx, old), payflow.ErrCard, "revoked")
	key := rekey(t, s, s.shopper)

	err = s.Platform.CheckToken(ctx, old)
	require.ErrorIs(t, err, payflow.ErrCard, "the token of the old key")
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"resolve", func() error {
			_, err := s.Platform.Resolve(ctx, old, &payflow.ResolveRequest{EID: s.seller.EID()})
			return err
		}},
		{"session", func() error { _, err := s.Platform.Session(ctx, old, s.session.ID); return err }},
		{"catalog", func() error { _, err := s.Platform.Catalog(ctx, old, merchantID); return err }},
		{"payment", func() error { _, err := s.Platform.Payment(ctx, old, v.ID); return err }},
		{"decline", func() error { _, err := s.Platform.Decline(ctx, old, v.ID); return err }},
	} {
		got := c.call()
		require.ErrorIs(t, got, payflow.ErrCard, c.name)
		assert.Equal(t, payflow.AsError(err), payflow.AsError(got), "%s: the reply of CheckToken", c.name)
		assert.Equal(t, "card_not_trusted", payflow.AsError(got).Code, c.name)
	}
	s.requireState(t, v.ID, payflow.StateCancelled) // by the enrolment (TestReenrolledCardWithdraws), not declined

	ch, err := s.Platform.Challenge(ctx, &payflow.ChallengeRequest{CardID: s.shopper.ID})
	require.NoError(t, err)
	proof := &record.AuthProof{
		CardHeader: record.CardHeader{CardID: s.shopper.ID, Counter: 1 << 20}, // past the old key's counter
		Nonce:      ch.Nonce, Role: record.RoleShopper, EID: s.shopper.EID(), PeerEID: make([]byte, record.EIDSize),
	}
	msg, err := record.Sign(rand.Reader, key, proof)
	require.NoError(t, err)
	lr, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: msg})
	require.NoError(t, err)
	require.NoError(t, s.Platform.CheckToken(ctx, lr.Token), "the token of the new key")
	_, err = s.Platform.Catalog(ctx, lr.Token, merchantID)
	require.NoError(t, err, "the token of the new key")
	require.ErrorIs(t, s.Platform.CheckToken(ctx, old), payflow.ErrCard, "the old key's token, after the new key's login")
}

// TestTokenWithoutCertificate: a token row that carries no certificate
// hash, as a process of an older schema version writes it, authenticates
// nothing in a process that reads it from the store: CheckToken and the
// calls that take the token are card_not_trusted, as for the token of
// another certificate. (Here the rows of tokens that one process issued
// are rewritten so, and another process reads them: the process that
// issued a token keeps it as it wrote it, see Platform.)
func TestTokenWithoutCertificate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "casimpay.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	s := newShopOn(t, st, false, paytest.Options{})
	require.NoError(t, s.Platform.CheckToken(ctx, s.shopper.Token))

	w, r, err := sqlitedb.Open(ctx, path, sqlitedb.Options{})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	t.Cleanup(func() { w.Close() })
	res, err := w.ExecContext(ctx, `UPDATE payflow_tokens SET cert_hash = x''`)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 2, n, "the shopper's and the seller's tokens")

	other := renewedPlatform(t, s.Fixture)
	err = other.CheckToken(ctx, s.shopper.Token)
	require.ErrorIs(t, err, payflow.ErrCard)
	_, err = other.Catalog(ctx, s.seller.Token, merchantID)
	require.ErrorIs(t, err, payflow.ErrCard)
	assert.Equal(t, "card_not_trusted", payflow.AsError(err).Code)
}

// rekey enrols card c again, under its ICCID, secret and name, with a
// certificate of a new key, and returns that key.
func rekey(t *testing.T, s *shop, c *paytest.Card) *ecdsa.PrivateKey {
	t.Helper()
	key, chain := newKeyChain(t, s, c.ID)
	_, err := s.Platform.EnrollCard(context.Background(), chain, c.Secret, c.Name)
	require.NoError(t, err)
	return key
}

// newKeyChain returns a new key and the chain of a certificate that s's
// issuer gives it for card id.
func newKeyChain(t *testing.T, s *shop, id string) (*ecdsa.PrivateKey, [][]byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	cert, err := s.Issuer.IssueCard(key.Public(), id, pki.IssueOptions{})
	require.NoError(t, err)
	return key, append([][]byte{cert}, s.Issuer.Chain()...)
}

// TestReenrolledCardWithdraws: enrolling a card again with another
// certificate (a new key), or with another advertising secret, ends the
// sessions that either of its keys' pairings stored (the store holds none
// of them: a view of it is not_found to the other card) and cancels the
// pending requests that it signed or would pay, as the card's revocation
// withdraws them (PROTOCOL.md §6.2, pending → cancelled); a held request
// stays held. Enrolled again with the same chain and secret, the card
// keeps its sessions and requests.
func TestReenrolledCardWithdraws(t *testing.T) {
	for _, tt := range []struct {
		side, change string
	}{{"shopper", "certificate"}, {"seller", "certificate"}, {"shopper", "secret"}, {"seller", "secret"}} {
		side := tt.side
		t.Run(tt.side+" "+tt.change, func(t *testing.T) {
			s := newShop(t, true, paytest.Options{})
			ctx := context.Background()
			pending, _ := s.request(t)
			held := s.held(t)
			card, other := s.shopper, s.seller
			if side == "seller" {
				card, other = s.seller, s.shopper
			}
			_, err := s.Platform.EnrollCard(ctx, card.Chain, card.Secret, card.Name)
			require.NoError(t, err)
			s.requireState(t, pending.ID, payflow.StatePending)
			_, err = s.Platform.Session(ctx, other.Token, s.session.ID)
			require.NoError(t, err, "enrolled again with the same chain")

			if tt.change == "certificate" {
				rekey(t, s, card)
			} else {
				_, err = s.Platform.EnrollCard(ctx, card.Chain, bytes.Repeat([]byte{0xd2}, adv.SecretSize), card.Name)
				require.NoError(t, err)
			}
			s.requireState(t, pending.ID, payflow.StateCancelled)
			s.requireState(t, held.ID, payflow.StateHeld)
			_, err = s.Store.Session(ctx, s.session.ID)
			require.ErrorIs(t, err, payflow.ErrNotFound, "the session in the store")
			_, err = s.Platform.Session(ctx, other.Token, s.session.ID)
			require.ErrorIs(t, err, payflow.ErrNotFound, "the other card's view of the session")
			v, err := s.Platform.Payment(ctx, other.Token, pending.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateCancelled, v.State)
		})
	}
}

// TestForgedRecordTellsNoRevocation: a login proof that names another
// card's ID in its header, signed by a key that is not that card's, is
// bad_signature, with the same message, whether the card named is revoked
// or not, so that no one who knows a card ID learns of its revocation.
func TestForgedRecordTellsNoRevocation(t *testing.T) {
	protocoldoc.Says(t, "### 6.1 Login, pairing and sessions",
		"The platform checks signature, chain, nonce and counter as §4.6")
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	bob := s.NewCard("Bob")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	forged := func() error {
		ch, err := s.Platform.Challenge(ctx, &payflow.ChallengeRequest{CardID: s.shopper.ID})
		require.NoError(t, err)
		p := &record.AuthProof{Nonce: ch.Nonce, Role: record.RoleShopper, EID: bob.EID(), PeerEID: make([]byte, record.EIDSize)}
		_, err = s.Platform.Login(ctx, &payflow.LoginRequest{Proof: signsAs(t, key, bob.ID, p)})
		return err
	}
	before := forged()
	require.ErrorIs(t, before, payflow.ErrSignature)
	s.Revoke(bob)
	after := forged()
	require.ErrorIs(t, after, payflow.ErrSignature, "the card named is revoked")
	assert.Equal(t, payflow.AsError(before), payflow.AsError(after))
}

// TestRefundSignatureBeforeChain: a refund request (PROTOCOL.md §6.5) has
// its signature verified before its card's chain, as every record
// (§4.6): one under a revoked seller card's ID that the card's key did not
// sign is bad_signature, as it is before the revocation, and only the one
// that it signed is card_not_trusted; neither is stored nor moves money.
func TestRefundSignatureBeforeChain(t *testing.T) {
	protocoldoc.Says(t, "### 6.5 Refunds",
		"A refund request (§3.5) is accepted only if, in this order, signature, chain and counter verify (§4.6),")
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, _ := s.request(t)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	before := s.balances(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	refundID := []byte("refund-000000001")
	forged := func() error {
		r := &record.RefundRequest{RefundID: refundID, RequestID: v.ID[:], Amount: 100, Currency: "EUR"}
		_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: signsAs(t, key, s.seller.ID, r)})
		return err
	}
	unrevoked := forged()
	require.ErrorIs(t, unrevoked, payflow.ErrSignature)
	s.Revoke(s.seller)
	err = forged()
	require.ErrorIs(t, err, payflow.ErrSignature, "forged under the revoked card's ID")
	assert.Equal(t, payflow.AsError(unrevoked), payflow.AsError(err))
	msg := s.seller.MustSign(&record.RefundRequest{RefundID: refundID, RequestID: v.ID[:], Amount: 100, Currency: "EUR"})
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrCard, "signed by the revoked card")
	_, err = s.Store.Refund(ctx, payflow.ID(refundID))
	require.ErrorIs(t, err, payflow.ErrNotFound, "no refund stored")
	assert.Equal(t, before, s.balances(t), "nothing moved")
}

// TestForgedRecordCostTellsNoRevocation: a login proof forged under the
// ID of a revoked card costs the platform no more than one forged under
// the ID of a card that is not revoked, once the first has read the
// card's certificate (here, by the allocations of each call, which reading
// the certificate again at every call would multiply), so that neither
// the reply nor its time tells one who knows a card ID of its revocation.
func TestForgedRecordCostTellsNoRevocation(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{SoftCards: true})
	bob, carol := s.NewCard("Bob"), s.NewCard("Carol")
	s.Revoke(carol)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	allocs := func(c *paytest.Card) float64 {
		ch, err := s.Platform.Challenge(ctx, &payflow.ChallengeRequest{CardID: c.ID})
		require.NoError(t, err)
		p := &record.AuthProof{Nonce: ch.Nonce, Role: record.RoleShopper, EID: c.EID(), PeerEID: make([]byte, record.EIDSize)}
		*p.Header() = record.CardHeader{CardID: c.ID, Counter: 1}
		msg, err := record.Sign(rand.Reader, key, p)
		require.NoError(t, err)
		login := func() {
			if _, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: msg}); !errors.Is(err, payflow.ErrSignature) {
				t.Error(err)
			}
		}
		login()
		return testing.AllocsPerRun(20, login)
	}
	read := testing.AllocsPerRun(20, func() {
		if _, err := pki.ParseCertificate(carol.Chain[0]); err != nil {
			t.Error(err)
		}
	})
	assert.Less(t, allocs(carol), allocs(bob)+read/2, "a forged record under the revoked card's ID reads no certificate")
}

// TestForgedRecordVerifiesNoChain: a login proof forged under the ID of an
// enrolled card is refused bad_signature without a verification of the
// card's chain, which the verifier's cache may not hold (here a verifier
// without one), so that it costs the platform no more than one forged
// under a card ID that is not enrolled (here, by the allocations of each
// call): neither the reply nor its time tells one who knows a card ID
// whether the card is enrolled.
func TestForgedRecordVerifiesNoChain(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{SoftCards: true})
	v, err := pki.NewVerifier(pki.VerifierOptions{
		Roots: [][]byte{s.Root.DER()}, Intermediates: [][]byte{s.Issuer.DER()}, Now: s.Clock.Now, CacheSize: -1,
	})
	require.NoError(t, err)
	for _, ca := range []*pki.CA{s.Root, s.Issuer} {
		crl, err := ca.CRL(s.Clock.Now().Add(time.Hour))
		require.NoError(t, err)
		require.NoError(t, v.AddCRL(crl))
	}
	p, err := payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: s.Ledger, Store: s.Store, Verifier: v, Key: s.Key, Chain: s.PlatformChain, Now: s.Clock.Now,
	})
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	allocs := func(cardID string) float64 {
		ch, err := p.Challenge(ctx, &payflow.ChallengeRequest{CardID: cardID})
		require.NoError(t, err)
		r := &record.AuthProof{Nonce: ch.Nonce, Role: record.RoleShopper, EID: s.shopper.EID(), PeerEID: make([]byte, record.EIDSize)}
		*r.Header() = record.CardHeader{CardID: cardID, Counter: 1}
		msg, err := record.Sign(rand.Reader, key, r)
		require.NoError(t, err)
		login := func() {
			if _, err := p.Login(ctx, &payflow.LoginRequest{Proof: msg}); !errors.Is(err, payflow.ErrSignature) {
				t.Error(err)
			}
		}
		login()
		return testing.AllocsPerRun(20, login)
	}
	notEnrolled, err := simcardtest.RandomICCID(nil)
	require.NoError(t, err)
	read := testing.AllocsPerRun(20, func() {
		if _, err := pki.ParseCertificate(s.shopper.Chain[0]); err != nil {
			t.Error(err)
		}
	})
	assert.Less(t, allocs(s.shopper.ID), allocs(notEnrolled)+read/2, "a forged record under an enrolled card's ID verifies no chain")
}
