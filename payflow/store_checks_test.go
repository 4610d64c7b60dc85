package payflow_test

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// checkedAt is a time that every Store keeps.
var checkedAt = time.Unix(1_800_000_000, 0)

// checkedWrites returns one acceptance of each write, each of which
// Acceptance.Check takes: a token, a session, a payment request inserted,
// and a refund with its payment's update.
func checkedWrites() map[string]*payflow.Acceptance {
	shopper, seller := "8900000000000000001", "8900000000000000002"
	base := func(a *payflow.Acceptance) *payflow.Acceptance {
		a.Nonce, a.NonceExpires, a.CardID, a.Counter = bytes.Repeat([]byte{1}, 32), checkedAt, shopper, 1
		return a
	}
	payment := func() *payflow.PaymentRecord {
		return &payflow.PaymentRecord{ID: payflow.ID{1}, SessionID: payflow.ID{9}, State: payflow.StateCaptured, Version: 1,
			MerchantID: "m", SellerCardID: seller, PayerCardID: shopper, Currency: "EUR", Amount: 690, Captured: 690,
			Request: []byte("signed request"), RequestHash: bytes.Repeat([]byte{0xaa}, 32),
			ExpiresAt: checkedAt, CreatedAt: checkedAt, UpdatedAt: checkedAt}
	}
	reserve := payment()
	reserve.Refunded = 5
	return map[string]*payflow.Acceptance{
		"token": base(&payflow.Acceptance{Token: &payflow.TokenRecord{Hash: bytes.Repeat([]byte{0xc0}, 32), CardID: shopper,
			CertHash: bytes.Repeat([]byte{0xce}, 32), ExpiresAt: checkedAt}}),
		"session": base(&payflow.Acceptance{Session: &payflow.SessionRecord{ID: payflow.ID{9}, ShopperCardID: shopper, SellerCardID: seller,
			MerchantID: "m", ShopperEID: bytes.Repeat([]byte{1}, 16), SellerEID: bytes.Repeat([]byte{2}, 16), ExpiresAt: checkedAt}}),
		"insert": base(&payflow.Acceptance{Insert: payment()}),
		"refund": base(&payflow.Acceptance{Update: reserve, From: payflow.StateCaptured,
			Refund: &payflow.RefundRecord{ID: payflow.ID{0x51}, RequestID: payflow.ID{1}, State: payflow.RefundPending, Version: 1, Amount: 5,
				Currency: "EUR", Request: []byte("signed refund"), Hash: bytes.Repeat([]byte{0xbb}, 32), Refunded: 5, CreatedAt: checkedAt}}),
	}
}

// TestAcceptanceCheckEveryField: an acceptance that carries two writes,
// or whose record has one field that no Store keeps (a session without
// one of its EIDs, a payment request or a refund with an amount above
// 2^63-1, a refund with a text or a time not kept), is refused with
// ErrInvalid, each field on its own; the same acceptance without the
// fault is taken.
func TestAcceptanceCheckEveryField(t *testing.T) {
	for kind, a := range checkedWrites() {
		require.NoError(t, a.Check(), "a valid %s", kind)
	}
	const over = math.MaxInt64 + 1
	for name, tc := range map[string]struct {
		kind  string
		fault func(a *payflow.Acceptance)
	}{
		"token and session": {"token", func(a *payflow.Acceptance) { a.Session = checkedWrites()["session"].Session }},
		"token and update": {"token", func(a *payflow.Acceptance) {
			a.Update, a.From = checkedWrites()["insert"].Insert, payflow.StateCaptured
		}},
		"session and insert": {"session", func(a *payflow.Acceptance) {
			a.Insert = checkedWrites()["insert"].Insert
		}},
		"session without shopper EID":       {"session", func(a *payflow.Acceptance) { a.Session.ShopperEID = nil }},
		"session with an empty shopper EID": {"session", func(a *payflow.Acceptance) { a.Session.ShopperEID = []byte{} }},
		"session without seller EID":        {"session", func(a *payflow.Acceptance) { a.Session.SellerEID = nil }},
		"session with an empty seller EID":  {"session", func(a *payflow.Acceptance) { a.Session.SellerEID = []byte{} }},
		"request's capture amount over":     {"insert", func(a *payflow.Acceptance) { a.Insert.CaptureAmount = over }},
		"request's captured amount over":    {"insert", func(a *payflow.Acceptance) { a.Insert.Captured = over }},
		"request's refunded amount over":    {"insert", func(a *payflow.Acceptance) { a.Insert.Refunded = over }},
		"refund's total refunded over":      {"refund", func(a *payflow.Acceptance) { a.Refund.Refunded = over }},
		"refund's state not UTF-8":          {"refund", func(a *payflow.Acceptance) { a.Refund.State = "pend\xffing" }},
		"refund's failure holding a NUL":    {"refund", func(a *payflow.Acceptance) { a.Refund.Failure = "over\x00limit" }},
		"refund deferred to the Unix epoch": {"refund", func(a *payflow.Acceptance) { a.Refund.DeferredTo = time.Unix(0, 0) }},
		"refund deferred to 1677":           {"refund", func(a *payflow.Acceptance) { a.Refund.DeferredTo = time.Date(1677, 12, 31, 0, 0, 0, 0, time.UTC) }},
	} {
		a := checkedWrites()[tc.kind]
		tc.fault(a)
		assert.ErrorIs(t, a.Check(), payflow.ErrInvalid, name)
	}
}

// TestCheckCatalogEveryItem: a catalog is refused with ErrInvalid when
// any of its items, not only the first, has a price above 2^63-1 or a
// SKU or name that no Store keeps.
func TestCheckCatalogEveryItem(t *testing.T) {
	first := payflow.CatalogItem{SKU: "a", Name: "A", UnitPrice: 1}
	require.NoError(t, payflow.CheckCatalog([]payflow.CatalogItem{first, {SKU: "b", Name: "B", UnitPrice: math.MaxInt64}}))
	for _, second := range []payflow.CatalogItem{
		{SKU: "b", Name: "B", UnitPrice: math.MaxInt64 + 1},
		{SKU: "b\x00", Name: "B", UnitPrice: 2},
		{SKU: "b", Name: "B\xff", UnitPrice: 2},
	} {
		assert.ErrorIs(t, payflow.CheckCatalog([]payflow.CatalogItem{first, second}), payflow.ErrInvalid, "second item %+v", second)
	}
}

// TestReenrolledOneCertificate: a card whose chain is its certificate
// alone (one the root signed) is not re-enrolled by being written again
// with the same certificate and secret, whatever follows it in the new
// chain; it is by another certificate, or by a chain without one.
func TestReenrolledOneCertificate(t *testing.T) {
	secret := bytes.Repeat([]byte{0x5e}, 16)
	stored := &payflow.CardRecord{ID: "8900000000000000001", Chain: [][]byte{[]byte("cert")}, AdvSecret: secret}
	with := func(chain ...string) *payflow.CardRecord {
		c := &payflow.CardRecord{ID: stored.ID, AdvSecret: bytes.Clone(secret)}
		for _, der := range chain {
			c.Chain = append(c.Chain, []byte(der))
		}
		return c
	}
	assert.False(t, payflow.Reenrolled(stored, with("cert")), "the same certificate")
	assert.False(t, payflow.Reenrolled(stored, with("cert", "ca")), "the same certificate, then an intermediate")
	assert.False(t, payflow.Reenrolled(with("cert", "ca"), with("cert")), "the same certificate, without the intermediate")
	assert.True(t, payflow.Reenrolled(stored, with("new cert")), "another certificate")
	assert.True(t, payflow.Reenrolled(stored, with()), "no certificate")
	assert.True(t, payflow.Reenrolled(with(), stored), "a certificate where none was")
}
