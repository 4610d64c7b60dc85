package paytest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki"
)

// Run is the conformance suite of payflow.Store: newStore returns an
// empty store for each subtest (closing it is the caller's business, with
// t.Cleanup). A store that is also a payflow.ReplyReader is checked as
// one too; for one that is not, the subtest LookupIdempotent is skipped.
// Every store of this module passes it.
func Run(t *testing.T, newStore func(t *testing.T) payflow.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s payflow.Store)
	}{
		{"Cards", testCards},
		{"CardSecrets", testCardSecrets},
		{"Merchants", testMerchants},
		{"EmptyMerchantID", testEmptyMerchantID},
		{"SellerCards", testSellerCards},
		{"CatalogRace", testCatalogRace},
		{"MerchantRace", testMerchantRace},
		{"Assets", testAssets},
		{"TextKeys", testTextKeys},
		{"UnstorableText", testUnstorableText},
		{"EmptyNonce", testEmptyNonce},
		{"EmptyCardID", testEmptyCardID},
		{"LongKeys", testLongKeys},
		{"UnstorableTimes", testUnstorableTimes},
		{"FarTimes", testFarTimes},
		{"ZeroNow", testZeroNow},
		{"OldDueTimes", testOldDueTimes},
		{"OldSessionZeroNow", testOldSessionZeroNow},
		{"ZeroExpiryOldNow", testZeroExpiryOldNow},
		{"ZeroDueOldNow", testZeroDueOldNow},
		{"DueOrder", testDueOrder},
		{"WallClock", testWallClock},
		{"Nonces", testNonces},
		{"Counters", testCounters},
		{"Accept", testAccept},
		{"Spent", testSpent},
		{"NonceKey", testNonceKey},
		{"TokensAndSessions", testTokensAndSessions},
		{"NewCertificate", func(t *testing.T, s payflow.Store) {
			testReenrolled(t, s, func(c *payflow.CardRecord) { c.Chain[0] = []byte("new cert " + c.ID) })
		}},
		{"ReenrolledNoExpiry", testReenrolledNoExpiry},
		{"ReenrolledZeroTime", testReenrolledZeroTime},
		{"NewAdvSecret", func(t *testing.T, s payflow.Store) {
			testReenrolled(t, s, func(c *payflow.CardRecord) { c.AdvSecret = bytes.Repeat([]byte{0x5e}, adv.SecretSize) })
		}},
		{"CancelPending", testCancelPending},
		{"ExpiredSession", testExpiredSession},
		{"SessionOtherParties", testSessionOtherParties},
		{"PendingAfterPairing", testPendingAfterPairing},
		{"Payments", testPayments},
		{"PaymentRace", testPaymentRace},
		{"EmptyFields", testEmptyFields},
		{"LongLists", testLongLists},
		{"Refunds", testRefunds},
		{"Deferral", testDeferral},
		{"PendingAgain", testPendingAgain},
		{"RefundDeferralRace", testRefundDeferralRace},
		{"DueLimits", testDueLimits},
		{"Idempotency", testIdempotency},
		{"LookupIdempotent", testLookupIdempotent},
		{"UnstorableLease", testUnstorableLease},
		{"DeleteExpired", testDeleteExpired},
		{"DeleteExpiredMany", testDeleteExpiredMany},
		{"Amounts", testAmounts},
		{"MissingFields", testMissingFields},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// at returns a time as the stores return it: nanoseconds, no monotonic
// reading, local zone.
func at(ns int64) time.Time { return time.Unix(0, ns) }

var t0 = at(1_800_000_000_000_000_000)

// certHash is the certificate hash of the tokens that the tests write
// (payflow.TokenRecord.CertHash): a SHA-256's length.
var certHash = bytes.Repeat([]byte{0xce}, 32)

// card returns a card record with an advertising secret of its own.
func card(id string) *payflow.CardRecord {
	secret := sha256.Sum256([]byte("secret " + id))
	return &payflow.CardRecord{ID: id, Chain: [][]byte{[]byte("cert " + id), []byte("ca")}, AdvSecret: secret[:16], DisplayName: "Card " + id, EnrolledAt: t0}
}

// testCardSecrets: no two cards share an advertising secret, or an EID
// would resolve to either. A card enrolled with another's secret is
// ErrConflict and not stored; a card keeps its own secret on being
// enrolled again, and may change it, which frees the old one. A secret
// that is not adv.SecretSize bytes is ErrInvalid, for a new card and for
// an enrolled one, and nothing is written.
func testCardSecrets(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	a, b := card("8900000000000000001"), card("8900000000000000002")
	for _, n := range []int{1, adv.SecretSize - 1, adv.SecretSize + 1, 32} {
		bad := *b
		bad.AdvSecret = bytes.Repeat([]byte{0x3a}, n)
		assert.ErrorIs(t, s.PutCard(ctx, &bad), payflow.ErrInvalid, "a new card with a secret of %d bytes", n)
	}
	_, err := s.Card(ctx, b.ID)
	assert.ErrorIs(t, err, payflow.ErrNotFound, "no card with a secret of the wrong size is stored")
	require.NoError(t, s.PutCard(ctx, a))
	for _, n := range []int{adv.SecretSize - 1, adv.SecretSize + 1} {
		bad := *a
		bad.AdvSecret, bad.DisplayName = bytes.Repeat([]byte{0x3a}, n), "Renamed"
		assert.ErrorIs(t, s.PutCard(ctx, &bad), payflow.ErrInvalid, "an enrolled card given a secret of %d bytes", n)
	}
	got, err := s.Card(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, a, got, "the enrolled card is kept as it was")
	require.NoError(t, s.PutCard(ctx, a), "the same card with its same secret again")
	taken := *b
	taken.AdvSecret = bytes.Clone(a.AdvSecret)
	assert.ErrorIs(t, s.PutCard(ctx, &taken), payflow.ErrConflict)
	_, err = s.Card(ctx, b.ID)
	assert.ErrorIs(t, err, payflow.ErrNotFound, "the refused card is not stored")
	require.NoError(t, s.PutCard(ctx, b))
	assert.ErrorIs(t, s.PutCard(ctx, &taken), payflow.ErrConflict, "nor is an enrolled card given another's secret")
	got, err = s.Card(ctx, b.ID)
	require.NoError(t, err)
	assert.Equal(t, b, got)

	renewed := *a
	renewed.AdvSecret = bytes.Repeat([]byte{0x5c}, 16)
	require.NoError(t, s.PutCard(ctx, &renewed), "a new secret for a card")
	require.NoError(t, s.PutCard(ctx, &taken), "its old secret is free")
	got, err = s.Card(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, &renewed, got)

	shared := bytes.Repeat([]byte{0x77}, 16)
	oneWins(t, payflow.ErrConflict, func(i int) error {
		c := card(fmt.Sprintf("89000000000000001%d", i))
		c.AdvSecret = shared
		return s.PutCard(ctx, c)
	}, "of cards enrolled at once with one secret exactly one is stored")
	n := 0
	require.NoError(t, s.Cards(ctx, func(c *payflow.CardRecord) error {
		if bytes.Equal(c.AdvSecret, shared) {
			n++
		}
		return nil
	}))
	assert.Equal(t, 1, n)
}

func testCards(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	_, err := s.Card(ctx, "8900000000000000001")
	require.ErrorIs(t, err, payflow.ErrNotFound)
	for _, id := range []string{"8900000000000000002", "8900000000000000001"} {
		require.NoError(t, s.PutCard(ctx, card(id)))
	}
	require.NoError(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR", SellerCardIDs: []string{"8900000000000000001"}}))
	c := card("8900000000000000001")
	c.DisplayName, c.EnrolledAt = "Renamed", c.EnrolledAt.Add(time.Hour)
	require.NoError(t, s.PutCard(ctx, c))
	got, err := s.Card(ctx, c.ID)
	require.NoError(t, err)
	c.MerchantID = "m" // kept when the update names none
	assert.Equal(t, c, got)
	var ids []string
	require.NoError(t, s.Cards(ctx, func(c *payflow.CardRecord) error { ids = append(ids, c.ID); return nil }))
	assert.Equal(t, []string{"8900000000000000001", "8900000000000000002"}, ids)
	stop := errors.New("stop")
	ids = nil
	err = s.Cards(ctx, func(c *payflow.CardRecord) error { ids = append(ids, c.ID); return stop })
	assert.Same(t, stop, err, "fn's error, itself")
	assert.Equal(t, []string{"8900000000000000001"}, ids, "the walk ends at fn's error")

	// A chain reads back as written, nil or empty, as the SQL stores
	// encode it.
	for i, chain := range [][][]byte{nil, {}, {nil}, {{}}} {
		c := card(fmt.Sprint("890000000000000002", i))
		c.Chain = chain
		require.NoError(t, s.PutCard(ctx, c))
		got, err := s.Card(ctx, c.ID)
		require.NoError(t, err)
		assert.Equal(t, c, got, "chain %#v", chain)
	}
}

// testEmptyMerchantID: the empty merchant ID, which stands for no
// merchant in a card's MerchantID, is refused by PutMerchant with
// ErrInvalid in every store, writing nothing, and names no merchant. A
// merchant stored under it had as seller cards every card of no
// merchant, and took the cards it listed from their merchants.
func testEmptyMerchantID(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	c1, c2 := card("8900000000000000001"), card("8900000000000000002")
	c1.MerchantID = "m"
	require.NoError(t, s.PutCard(ctx, c1))
	require.NoError(t, s.PutCard(ctx, c2))
	require.NoError(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR", SellerCardIDs: []string{c1.ID}}))
	assert.ErrorIs(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "", Name: "None", Currency: "EUR", SellerCardIDs: []string{c1.ID}}),
		payflow.ErrInvalid)
	_, err := s.Merchant(ctx, "")
	assert.ErrorIs(t, err, payflow.ErrNotFound, "no merchant has the empty ID")
	m, err := s.Merchant(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, []string{c1.ID}, m.SellerCardIDs, "the refused call takes no card")
	_, err = s.Catalog(ctx, "")
	assert.ErrorIs(t, err, payflow.ErrNotFound)
}

func testMerchants(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	require.NoError(t, s.PutCard(ctx, card("8900000000000000001")))
	assert.ErrorIs(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR", SellerCardIDs: []string{"8900000000000000009"}}), payflow.ErrNotFound)
	_, err := s.Merchant(ctx, "m")
	assert.ErrorIs(t, err, payflow.ErrNotFound, "a failed PutMerchant leaves nothing")
	m := &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR", ManualCapture: true, SellerCardIDs: []string{"8900000000000000001"}}
	require.NoError(t, s.PutMerchant(ctx, m))
	got, err := s.Merchant(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, m, got)
	// Its accounts and catalog are in its currency: another is refused,
	// and nothing of the refused call is written.
	assert.ErrorIs(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "Renamed", Currency: "USD", SellerCardIDs: []string{"8900000000000000001"}}), payflow.ErrConflict)
	got, err = s.Merchant(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, m, got, "a refused currency change writes nothing")
	renamed := *m
	renamed.Name, renamed.ManualCapture = "Renamed", false
	require.NoError(t, s.PutMerchant(ctx, &renamed), "the same currency again")
	got, err = s.Merchant(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, &renamed, got)

	_, err = s.Catalog(ctx, "nobody")
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	assert.ErrorIs(t, s.SetCatalog(ctx, "nobody", nil), payflow.ErrNotFound)
	items, err := s.Catalog(ctx, "m")
	require.NoError(t, err)
	assert.Empty(t, items)
	require.NoError(t, s.SetCatalog(ctx, "m", []payflow.CatalogItem{{SKU: "b", Name: "B", UnitPrice: 2}, {SKU: "a", Name: "A", UnitPrice: 1}}))
	require.NoError(t, s.SetCatalog(ctx, "m", []payflow.CatalogItem{{SKU: "c", Name: "C", UnitPrice: 3}, {SKU: "a", Name: "A", UnitPrice: 1 << 62}, {SKU: "B", Name: "B", UnitPrice: 4}}))
	items, err = s.Catalog(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, []payflow.CatalogItem{{SKU: "B", Name: "B", UnitPrice: 4}, {SKU: "a", Name: "A", UnitPrice: 1 << 62}, {SKU: "c", Name: "C", UnitPrice: 3}}, items,
		"in SKU order, byte by byte")
	assert.ErrorIs(t, s.SetCatalog(ctx, "m", []payflow.CatalogItem{{SKU: "x", Name: "X"}, {SKU: "x", Name: "Y"}}), payflow.ErrConflict)
	items, err = s.Catalog(ctx, "m")
	require.NoError(t, err)
	assert.Len(t, items, 3, "a refused catalog leaves the old one")
}

// testSellerCards: a merchant's seller cards are those of its last
// PutMerchant: a card left out is no merchant's any more, a card listed
// for another merchant moves to it, and a refused PutMerchant changes
// none.
func testSellerCards(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	ids := []string{"8900000000000000001", "8900000000000000002", "8900000000000000003"}
	for _, id := range ids {
		require.NoError(t, s.PutCard(ctx, card(id)))
	}
	merchantOf := func() []string {
		var out []string
		for _, id := range ids {
			c, err := s.Card(ctx, id)
			require.NoError(t, err)
			out = append(out, c.MerchantID)
		}
		return out
	}
	sellers := func(id string) []string {
		m, err := s.Merchant(ctx, id)
		require.NoError(t, err)
		return m.SellerCardIDs
	}
	put := func(id string, cards ...string) error {
		return s.PutMerchant(ctx, &payflow.Merchant{ID: id, Name: "M", Currency: "EUR", SellerCardIDs: cards})
	}
	require.NoError(t, put("m", ids[0], ids[1]))
	require.NoError(t, put("m", ids[2], ids[1]))
	assert.Equal(t, []string{ids[1], ids[2]}, sellers("m"))
	assert.Equal(t, []string{"", "m", "m"}, merchantOf(), "the card left out is a seller card no more")

	assert.ErrorIs(t, put("m", ids[0], "8900000000000000009"), payflow.ErrNotFound)
	assert.Equal(t, []string{"", "m", "m"}, merchantOf(), "a refused PutMerchant changes no card")

	require.NoError(t, put("n", ids[1]))
	assert.Equal(t, []string{ids[2]}, sellers("m"), "the card moved to n")
	assert.Equal(t, []string{ids[1]}, sellers("n"))
	require.NoError(t, put("m"))
	assert.Empty(t, sellers("m"))
	assert.Equal(t, []string{"", "n", ""}, merchantOf())
}

// testCatalogRace replaces one catalog from two goroutines at once (on
// the SQL stores, two connections, as two platform processes would):
// both calls succeed and the catalog is one of the two lists, never a mix.
func testCatalogRace(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	require.NoError(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR"}))
	list := func(prefix string) []payflow.CatalogItem {
		items := make([]payflow.CatalogItem, 50)
		for i := range items {
			items[i] = payflow.CatalogItem{SKU: fmt.Sprintf("%s%03d", prefix, i), Name: "item", UnitPrice: 1}
		}
		return items
	}
	for round := range 10 {
		lists := [2][]payflow.CatalogItem{list("a"), list("b")}
		if round%2 == 1 {
			lists[1] = lists[0] // the same catalog, as two processes set up at start
		}
		var errs [2]error
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() { errs[i] = s.SetCatalog(ctx, "m", lists[i]) })
		}
		wg.Wait()
		require.NoError(t, errs[0], "round %d", round)
		require.NoError(t, errs[1], "round %d", round)
		got, err := s.Catalog(ctx, "m")
		require.NoError(t, err)
		assert.True(t, assert.ObjectsAreEqual(lists[0], got) || assert.ObjectsAreEqual(lists[1], got),
			"round %d: a catalog of %d items, not one of the two lists", round, len(got))
	}
}

// testMerchantRace reads a merchant while another goroutine (on the SQL
// stores, another connection) writes it again and again, in turn as one
// of two versions that differ in name and seller cards: every read is one
// of the two whole versions, never the name of one with the cards of the
// other.
func testMerchantRace(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	ids := []string{"8900000000000000001", "8900000000000000002", "8900000000000000003"}
	for _, id := range ids {
		require.NoError(t, s.PutCard(ctx, card(id)))
	}
	versions := [2]*payflow.Merchant{
		{ID: "m", Name: "One", Currency: "EUR", SellerCardIDs: ids[:2]},
		{ID: "m", Name: "Two", Currency: "EUR", ManualCapture: true, SellerCardIDs: ids[2:]},
	}
	require.NoError(t, s.PutMerchant(ctx, versions[0]))
	var written atomic.Bool
	var werr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer written.Store(true)
		for i := range 200 {
			if werr = s.PutMerchant(ctx, versions[(i+1)%2]); werr != nil {
				return
			}
		}
	})
	reads, mixed := 0, 0
	for !written.Load() {
		got, err := s.Merchant(ctx, "m")
		require.NoError(t, err)
		reads++
		if !assert.ObjectsAreEqual(versions[0], got) && !assert.ObjectsAreEqual(versions[1], got) {
			mixed++
			if mixed == 1 {
				t.Errorf("read %d: %+v, not one of the two versions", reads, got)
			}
		}
	}
	wg.Wait()
	require.NoError(t, werr)
	assert.Zero(t, mixed, "reads of no whole version, of %d", reads)
}

func testAssets(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	_, err := s.Asset(ctx, "ticket")
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	require.NoError(t, s.PutAsset(ctx, payflow.Asset{Name: "ticket", Ledger: 1001}))
	require.NoError(t, s.PutAsset(ctx, payflow.Asset{Name: "ticket", Ledger: 1001}))
	assert.ErrorIs(t, s.PutAsset(ctx, payflow.Asset{Name: "ticket", Ledger: 1002}), payflow.ErrConflict)
	assert.ErrorIs(t, s.PutAsset(ctx, payflow.Asset{Name: "seat", Ledger: 1001}), payflow.ErrConflict)
	a, err := s.Asset(ctx, "ticket")
	require.NoError(t, err)
	assert.Equal(t, payflow.Asset{Name: "ticket", Ledger: 1001}, a)
}

// testTextKeys: a card ID, merchant ID or asset name that is not UTF-8,
// that holds a NUL byte or is longer than payflow.MaxKeySize names
// nothing (every store answers ErrNotFound, as for any unknown key, also
// for such a seller card listed in PutMerchant; PostgreSQL refuses such
// text as a parameter).
func testTextKeys(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	require.NoError(t, s.PutCard(ctx, card("8900000000000000001")))
	require.NoError(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR", SellerCardIDs: []string{"8900000000000000001"}}))
	for _, key := range []string{"\xf3", "m\xff", "8900000000000000001\xc0", "m\x00", "8900000000000000001\x00",
		string(longKey(payflow.MaxKeySize + 1)), string(longKey(3000))} {
		_, err := s.Card(ctx, key)
		assert.ErrorIs(t, err, payflow.ErrNotFound, "card %q", key)
		_, err = s.Merchant(ctx, key)
		assert.ErrorIs(t, err, payflow.ErrNotFound, "merchant %q", key)
		_, err = s.Catalog(ctx, key)
		assert.ErrorIs(t, err, payflow.ErrNotFound, "catalog %q", key)
		assert.ErrorIs(t, s.SetCatalog(ctx, key, nil), payflow.ErrNotFound, "set catalog %q", key)
		assert.ErrorIs(t, s.SetCatalog(ctx, key, []payflow.CatalogItem{{SKU: "a", Name: "A", UnitPrice: math.MaxInt64 + 1}}), payflow.ErrInvalid,
			"set catalog %q: an amount above 2^63-1 first, as for any merchant", key)
		_, err = s.Asset(ctx, key)
		assert.ErrorIs(t, err, payflow.ErrNotFound, "asset %q", key)
		assert.ErrorIs(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR", SellerCardIDs: []string{"8900000000000000001", key}}),
			payflow.ErrNotFound, "seller card %q", key)
		assert.ErrorIs(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "M", Currency: "USD", SellerCardIDs: []string{key}}),
			payflow.ErrConflict, "seller card %q: another currency first, as for any card", key)
	}
	m, err := s.Merchant(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, []string{"8900000000000000001"}, m.SellerCardIDs, "the refused PutMerchant calls changed nothing")
}

// refundedRequest stores through w a captured payment request (ID 2) and
// a pending refund of it (ID 0x51) with its reservation, and returns the
// request as read before the reservation, the reservation and the refund.
func refundedRequest(t *testing.T, w *writer) (captured, reserve *payflow.PaymentRecord, refund *payflow.RefundRecord) {
	t.Helper()
	captured, err := w.insert(payment(2, payflow.StateCaptured, t0))
	require.NoError(t, err)
	r := *captured
	r.Refunded = 10
	refund, err = w.refund(newRefund(0x51, captured.ID, func(*payflow.RefundRecord) {}), &r)
	require.NoError(t, err)
	return captured, &r, refund
}

// newRefund returns a pending refund of 10 of request id, changed by f.
func newRefund(id byte, request payflow.ID, f func(r *payflow.RefundRecord)) *payflow.RefundRecord {
	r := &payflow.RefundRecord{ID: payflow.ID{id}, RequestID: request, State: payflow.RefundPending, Amount: 10,
		Currency: "EUR", Request: []byte("refund"), Hash: []byte("hash"), Refunded: 10, CreatedAt: t0}
	f(r)
	return r
}

// newSession returns a session of card id, unexpired at t0, changed by f.
func newSession(id string, f func(r *payflow.SessionRecord)) *payflow.SessionRecord {
	r := &payflow.SessionRecord{ID: payflow.ID{9}, ShopperCardID: id, SellerCardID: "8900000000000000002", MerchantID: "m",
		ShopperEID: bytes.Repeat([]byte{1}, 16), SellerEID: bytes.Repeat([]byte{2}, 16), ExpiresAt: t0.Add(time.Hour)}
	f(r)
	return r
}

// testEmptyCardID: no card has the empty ID (a card ID is an ICCID), so
// a write that names the empty card, as the card itself, the card whose
// counter advances or whose nonce and counter Spent tells of, a token's
// or a session's card, or a payment request's seller or payer card, is
// refused with ErrInvalid and writes nothing: no card, counter, nonce,
// token, session or request is kept, so that the nonce and the counter
// so refused are taken afterwards by the card's own record. A request's
// card IDs are immutable: an update that holds empty ones writes neither
// and keeps the stored ones.
func testEmptyCardID(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	id := "8900000000000000001"
	require.NoError(t, s.PutCard(ctx, card(id)))
	require.NoError(t, s.PutCard(ctx, card("8900000000000000002")))
	require.NoError(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR", SellerCardIDs: []string{"8900000000000000002"}}))
	empty := card("")
	empty.AdvSecret = bytes.Repeat([]byte{0x42}, adv.SecretSize)
	assert.ErrorIs(t, s.PutCard(ctx, empty), payflow.ErrInvalid, "card")
	assert.ErrorIs(t, s.Advance(ctx, "", 1), payflow.ErrInvalid, "counter")
	assert.ErrorIs(t, s.Spent(ctx, nil, "", 1), payflow.ErrInvalid, "Spent")
	nonce := bytes.Repeat([]byte{7}, 32)
	for i, a := range []payflow.Acceptance{
		{CardID: ""},
		{CardID: id, Token: &payflow.TokenRecord{Hash: []byte("token"), CardID: "", CertHash: bytes.Repeat([]byte{1}, 32), ExpiresAt: t0.Add(time.Hour)}},
		{CardID: id, Session: newSession(id, func(r *payflow.SessionRecord) { r.ShopperCardID = "" })},
		{CardID: id, Session: newSession(id, func(r *payflow.SessionRecord) { r.SellerCardID = "" })},
		{CardID: id, Insert: newPayment(func(p *payflow.PaymentRecord) { p.SellerCardID = "" })},
		{CardID: id, Insert: newPayment(func(p *payflow.PaymentRecord) { p.PayerCardID = "" })},
		{CardID: id, Insert: newPayment(func(p *payflow.PaymentRecord) { p.SellerCardID, p.PayerCardID = "", "" })},
		{CardID: id, Insert: newPayment(func(p *payflow.PaymentRecord) { p.State, p.PayerCardID = payflow.StateCaptured, "" })},
	} {
		a.Nonce, a.NonceExpires, a.Counter = nonce, t0.Add(time.Hour), 1
		assert.ErrorIs(t, s.Accept(ctx, &a), payflow.ErrInvalid, "acceptance %d", i)
	}
	_, err := s.Card(ctx, "")
	assert.ErrorIs(t, err, payflow.ErrNotFound, "no card kept")
	n := 0
	require.NoError(t, s.Cards(ctx, func(*payflow.CardRecord) error { n++; return nil }))
	assert.Equal(t, 2, n, "no card written")
	_, err = s.Token(ctx, []byte("token"))
	assert.ErrorIs(t, err, payflow.ErrNotFound, "no token kept")
	_, err = s.Session(ctx, payflow.ID{9})
	assert.ErrorIs(t, err, payflow.ErrNotFound, "no session kept")
	_, err = s.Payment(ctx, payflow.ID{3})
	assert.ErrorIs(t, err, payflow.ErrNotFound, "no request kept")
	require.NoError(t, s.Spent(ctx, nonce, id, 1), "neither the nonce nor the counter spent")
	a := payflow.Acceptance{CardID: id, Nonce: nonce, NonceExpires: t0.Add(time.Hour), Counter: 1,
		Session: newSession(id, func(*payflow.SessionRecord) {})}
	require.NoError(t, s.Accept(ctx, &a), "the card's own record takes them")

	w := &writer{s: s}
	p, err := w.insert(newPayment(func(*payflow.PaymentRecord) {}))
	require.NoError(t, err)
	up := changedPayment(p, func(p *payflow.PaymentRecord) {
		p.State, p.SellerCardID, p.PayerCardID = payflow.StateApproving, "", ""
	})
	require.NoError(t, s.UpdatePayment(ctx, up, payflow.StatePending), "card IDs, immutable, are not written")
	stored, err := s.Payment(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, changedPayment(p, func(p *payflow.PaymentRecord) { p.State, p.Version = payflow.StateApproving, 2 }), stored,
		"the stored card IDs kept")
}

// newPayment returns a pending payment request (ID 3), changed by f.
func newPayment(f func(p *payflow.PaymentRecord)) *payflow.PaymentRecord {
	p := payment(3, payflow.StatePending, t0.Add(time.Hour))
	f(p)
	return p
}

// changedPayment returns a copy of p changed by f.
func changedPayment(p *payflow.PaymentRecord, f func(p *payflow.PaymentRecord)) *payflow.PaymentRecord {
	c := *p
	f(&c)
	return &c
}

// unstorableTexts are texts that no store keeps: not UTF-8, holding a
// NUL byte, or longer than payflow.MaxKeySize (one byte more, and as many
// bytes, not compressible, as PostgreSQL's B-tree indexes refuse).
var unstorableTexts = []string{"\xf3", "m\xff", "8900000000000000001\xc0", "\x00", "m\x00",
	string(longKey(payflow.MaxKeySize + 1)), string(longKey(3000))}

// longKey returns n bytes of printable ASCII that do not compress, the
// same every time.
func longKey(n int) []byte {
	b := make([]byte, 0, n+sha256.Size*2)
	for h := sha256.Sum256(nil); len(b) < n; h = sha256.Sum256(h[:]) {
		b = fmt.Appendf(b, "%x", h)
	}
	return b[:n]
}

// testUnstorableText: a write of a text that is not UTF-8 or holds a NUL
// byte (a card, merchant or asset ID, a name, a currency, a state, an
// idempotency key, a payment request's line's SKU or name or its leg's
// asset, which the SQL stores could not read back) is refused with
// ErrInvalid by every store and writes nothing, an Acceptance's nonce and
// counter included; such a text given to name a row that a call reads or
// changes names none (ErrNotFound or, where the call says nothing of a
// missing row, nothing done), as any unknown one.
func testUnstorableText(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	id := "8900000000000000001"
	require.NoError(t, s.PutCard(ctx, card(id)))
	require.NoError(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR", SellerCardIDs: []string{id}}))
	items := []payflow.CatalogItem{{SKU: "a", Name: "A", UnitPrice: 1}}
	require.NoError(t, s.SetCatalog(ctx, "m", items))
	require.NoError(t, s.Advance(ctx, id, 1))
	w := &writer{s: s}
	stored, err := w.insert(payment(1, payflow.StatePending, t0.Add(time.Hour)))
	require.NoError(t, err)
	captured, reserve, refund := refundedRequest(t, w)
	nonce := bytes.Repeat([]byte{7}, 32)
	for _, bad := range unstorableTexts {
		invalid := func(err error, what string) { assert.ErrorIs(t, err, payflow.ErrInvalid, "%s %q", what, bad) }
		for _, c := range []func(c *payflow.CardRecord){
			func(c *payflow.CardRecord) { c.ID = bad },
			func(c *payflow.CardRecord) { c.DisplayName = bad },
			func(c *payflow.CardRecord) { c.MerchantID = bad },
		} {
			enrolled := card(id)
			c(enrolled)
			enrolled.AdvSecret = bytes.Repeat([]byte{0x42}, adv.SecretSize)
			invalid(s.PutCard(ctx, enrolled), "card with")
		}
		for _, m := range []payflow.Merchant{{ID: bad, Name: "M", Currency: "EUR"}, {ID: "m", Name: bad, Currency: "EUR"},
			{ID: "m", Name: "M", Currency: bad}, {ID: "n", Name: bad, Currency: "EUR", SellerCardIDs: []string{id}}} {
			invalid(s.PutMerchant(ctx, &m), "merchant with")
		}
		invalid(s.SetCatalog(ctx, "m", []payflow.CatalogItem{{SKU: bad, Name: "A", UnitPrice: 1}}), "catalog item SKU")
		invalid(s.SetCatalog(ctx, "m", []payflow.CatalogItem{{SKU: "b", Name: bad, UnitPrice: 1}}), "catalog item name")
		invalid(s.PutAsset(ctx, payflow.Asset{Name: bad, Ledger: 1001}), "asset")
		invalid(s.Advance(ctx, bad, 2), "counter of card")
		invalid(s.Spent(ctx, nil, bad, 2), "Spent of card")
		_, err := s.BeginIdempotent(ctx, bad, []byte{1}, t0, t0.Add(time.Minute))
		invalid(err, "idempotency key")
		assert.ErrorIs(t, s.FinishIdempotent(ctx, bad, t0.Add(time.Minute), 200, nil, t0.Add(time.Hour)), payflow.ErrNotFound,
			"idempotency key %q finished", bad)
		assert.NoError(t, s.AbandonIdempotent(ctx, bad, t0.Add(time.Minute)), "idempotency key %q abandoned", bad)
		due, err := s.DuePayments(ctx, bad, t0.Add(time.Hour), 10)
		assert.NoError(t, err, "due payments in state %q", bad)
		assert.Empty(t, due, "due payments in state %q", bad)

		updated := func(f func(p *payflow.PaymentRecord)) *payflow.PaymentRecord {
			return changedPayment(stored, func(p *payflow.PaymentRecord) {
				p.State = payflow.StateApproving
				f(p)
			})
		}
		for i, a := range []payflow.Acceptance{
			{CardID: bad},
			{Token: &payflow.TokenRecord{Hash: []byte("token"), CardID: bad, CertHash: certHash, ExpiresAt: t0}},
			{Session: newSession(id, func(r *payflow.SessionRecord) { r.ShopperCardID = bad })},
			{Session: newSession(id, func(r *payflow.SessionRecord) { r.SellerCardID = bad })},
			{Session: newSession(id, func(r *payflow.SessionRecord) { r.MerchantID = bad })},
			{Insert: newPayment(func(p *payflow.PaymentRecord) { p.State = bad })},
			{Insert: newPayment(func(p *payflow.PaymentRecord) { p.MerchantID = bad })},
			{Insert: newPayment(func(p *payflow.PaymentRecord) { p.SellerCardID = bad })},
			{Insert: newPayment(func(p *payflow.PaymentRecord) { p.PayerCardID = bad })},
			{Insert: newPayment(func(p *payflow.PaymentRecord) { p.Currency = bad })},
			{Insert: newPayment(func(p *payflow.PaymentRecord) { p.VoidTo = bad })},
			{Insert: newPayment(func(p *payflow.PaymentRecord) { p.Lines[1].SKU = bad })},
			{Insert: newPayment(func(p *payflow.PaymentRecord) { p.Lines[0].Name = bad })},
			{Insert: newPayment(func(p *payflow.PaymentRecord) { p.Legs[0].Asset = bad })},
			{Update: updated(func(p *payflow.PaymentRecord) { p.State = bad }), From: payflow.StatePending},
			{Update: updated(func(p *payflow.PaymentRecord) { p.VoidTo = bad }), From: payflow.StatePending},
			{Update: updated(func(*payflow.PaymentRecord) {}), From: bad},
			{Refund: newRefund(0x52, captured.ID, func(r *payflow.RefundRecord) { r.Currency = bad }), Update: reserve,
				From: payflow.StateCaptured},
		} {
			a.Nonce, a.NonceExpires = nonce, t0.Add(time.Hour)
			if a.CardID == "" {
				a.CardID = id
			}
			a.Counter = 2
			invalid(s.Accept(ctx, &a), fmt.Sprintf("acceptance %d with", i))
		}
		for _, p := range []*payflow.PaymentRecord{updated(func(p *payflow.PaymentRecord) { p.State = bad }),
			updated(func(p *payflow.PaymentRecord) { p.VoidTo = bad })} {
			invalid(s.UpdatePayment(ctx, p, payflow.StatePending), "payment update with")
		}
		invalid(s.UpdatePayment(ctx, updated(func(*payflow.PaymentRecord) {}), bad), "payment update from")
		for _, r := range []func(r *payflow.RefundRecord){
			func(r *payflow.RefundRecord) { r.State = bad },
			func(r *payflow.RefundRecord) { r.Failure = bad },
		} {
			changed := *refund
			r(&changed)
			invalid(s.UpdateRefund(ctx, &changed, payflow.RefundPending, nil, ""), "refund update with")
		}
		invalid(s.UpdateRefund(ctx, refund, bad, nil, ""), "refund update from")
		settled := *captured
		settled.Version, settled.Refunded = 2, 10
		invalid(s.UpdateRefund(ctx, refund, payflow.RefundPending, &settled, bad), "refund update with its payment's from")
	}

	got, err := s.Card(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, card(id).AdvSecret, got.AdvSecret, "the card is as enrolled")
	assert.Equal(t, "m", got.MerchantID)
	n := 0
	require.NoError(t, s.Cards(ctx, func(*payflow.CardRecord) error { n++; return nil }))
	assert.Equal(t, 1, n, "no card written")
	m, err := s.Merchant(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR", SellerCardIDs: []string{id}}, m)
	_, err = s.Merchant(ctx, "n")
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	cat, err := s.Catalog(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, items, cat)
	p, err := s.Payment(ctx, stored.ID)
	require.NoError(t, err)
	assert.Equal(t, stored, p, "the payment is as inserted")
	_, err = s.Payment(ctx, payflow.ID{3})
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	r, err := s.Refund(ctx, refund.ID)
	require.NoError(t, err)
	assert.Equal(t, refund, r, "the refund is as stored")
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: nonce, NonceExpires: t0.Add(time.Hour), CardID: id, Counter: 2}),
		"the refused acceptances spent neither nonce nor counter")
}

// testFarTimes: a time that a call only compares with those stored (the
// now of DuePayments, DueRefunds, Consume, BeginIdempotent and
// DeleteExpired) compares as it is in every store, also outside the years
// 1678 to 2262 that a stored time is within: everything stored is due, or
// expired, at the year 2300, nothing at the year 1600.
func testFarTimes(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	w := &writer{s: s}
	_, err := w.insert(payment(1, payflow.StatePending, t0))
	require.NoError(t, err)
	pendingRefund(t, w, 2)
	require.NoError(t, s.Add(ctx, []byte("old"), t0))
	_, err = s.BeginIdempotent(ctx, "k", []byte{1}, t0, t0.Add(time.Minute))
	require.NoError(t, err)
	past, future := time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)

	due, err := s.DuePayments(ctx, payflow.StatePending, past, 10)
	require.NoError(t, err)
	assert.Empty(t, due, "no request due in 1600")
	refunds, err := s.DueRefunds(ctx, past, 10)
	require.NoError(t, err)
	assert.Empty(t, refunds, "no refund due in 1600")
	n, err := s.DeleteExpired(ctx, past)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing expired in 1600")
	_, err = s.BeginIdempotent(ctx, "k", []byte{1}, past, t0.Add(time.Hour))
	assert.ErrorIs(t, err, payflow.ErrInFlight, "the key held in 1600")

	due, err = s.DuePayments(ctx, payflow.StatePending, future, 10)
	require.NoError(t, err)
	assert.Len(t, due, 1, "the request due in 2300")
	refunds, err = s.DueRefunds(ctx, future, 10)
	require.NoError(t, err)
	assert.Len(t, refunds, 1, "the refund due in 2300")
	assert.ErrorIs(t, s.Consume(ctx, []byte("old"), future), pki.ErrNonce, "the nonce expired in 2300")
	require.NoError(t, s.Add(ctx, []byte("old"), t0))
	n, err = s.DeleteExpired(ctx, future)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the nonce and the key expired in 2300")
}

// testZeroNow: the zero time, given as the now that a call only compares
// with the times stored (DuePayments, DueRefunds, Consume,
// BeginIdempotent, DeleteExpired), is refused with ErrInvalid by every
// store alike, and nothing is read as due or expired at it, nor deleted:
// not even what is stored with times before the Unix epoch, which the SQL
// stores' column form of the zero time is.
func testZeroNow(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	w := &writer{s: s}
	old := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := w.insert(payment(1, payflow.StatePending, old))
	require.NoError(t, err)
	pendingRefund(t, w, 2)
	require.NoError(t, s.Add(ctx, []byte("old"), old))
	_, err = s.BeginIdempotent(ctx, "k", []byte{1}, old.Add(-time.Hour), old)
	require.NoError(t, err)
	var zero time.Time

	due, err := s.DuePayments(ctx, payflow.StatePending, zero, 10)
	assert.ErrorIs(t, err, payflow.ErrInvalid, "DuePayments")
	assert.Empty(t, due)
	refunds, err := s.DueRefunds(ctx, zero, 10)
	assert.ErrorIs(t, err, payflow.ErrInvalid, "DueRefunds")
	assert.Empty(t, refunds)
	n, err := s.DeleteExpired(ctx, zero)
	assert.ErrorIs(t, err, payflow.ErrInvalid, "DeleteExpired")
	assert.Zero(t, n)
	assert.ErrorIs(t, s.Consume(ctx, []byte("old"), zero), payflow.ErrInvalid, "Consume")
	_, err = s.BeginIdempotent(ctx, "k", []byte{2}, zero, t0)
	assert.ErrorIs(t, err, payflow.ErrInvalid, "BeginIdempotent")

	assert.NoError(t, s.Consume(ctx, []byte("old"), old.Add(-time.Second)), "the nonce kept")
	_, err = s.BeginIdempotent(ctx, "k", []byte{2}, old.Add(-time.Second), t0)
	assert.ErrorIs(t, err, payflow.ErrKeyReuse, "the key kept")
}

// testOldDueTimes: a request or a refund whose due time is before the
// Unix epoch (a time every store keeps, see payflow.Store) and that has
// no DeferredTo (the zero time, none) is due at that time in every
// store, not at the epoch, which is the SQL stores' column form of no
// DeferredTo.
func testOldDueTimes(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	w := &writer{s: s}
	old := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
	p := payment(1, payflow.StateCaptured, old)
	p.CreatedAt, p.UpdatedAt, p.Captured = old, old, 690
	p, err := w.insert(p)
	require.NoError(t, err)
	due, err := s.DuePayments(ctx, payflow.StateCaptured, old.Add(time.Hour), 10)
	require.NoError(t, err)
	assert.Len(t, due, 1, "the request updated in 1960")

	reserve := changedPayment(p, func(p *payflow.PaymentRecord) { p.Refunded = 10 })
	_, err = w.refund(&payflow.RefundRecord{ID: payflow.ID{0x51}, RequestID: p.ID, State: payflow.RefundPending, Amount: 10,
		Currency: "EUR", Request: []byte("signed refund"), Hash: bytes.Repeat([]byte{0xbb}, 32), Refunded: 10, CreatedAt: old}, reserve)
	require.NoError(t, err)
	refunds, err := s.DueRefunds(ctx, old.Add(time.Hour), 10)
	require.NoError(t, err)
	assert.Len(t, refunds, 1, "the refund made in 1960")
	due, err = s.DuePayments(ctx, payflow.StateCaptured, old.Add(time.Hour), 10)
	require.NoError(t, err)
	assert.Len(t, due, 1, "the request written with its refund, updated in 1960")
}

// testOldSessionZeroNow: an Acceptance whose Now is the zero time
// expires no stored session but one whose ExpiresAt is zero
// (payflow.Acceptance), in every store: one expiring in 1960 has its
// confirmation set. The SQL stores compared its expiry with the zero
// time's column form, 0, the Unix epoch, and left it as expired.
func testOldSessionZeroNow(t *testing.T, s payflow.Store) {
	w := &writer{s: s}
	old := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := w.session(newSession("1960", func(r *payflow.SessionRecord) { r.ExpiresAt = old }))
	require.NoError(t, err)
	stored, err := w.session(newSession("1960", func(r *payflow.SessionRecord) { r.ExpiresAt, r.SellerConfirmed = old, true }))
	require.NoError(t, err)
	assert.True(t, stored.SellerConfirmed, "the session expiring in 1960 confirmed at the zero Now")

	none := func(r *payflow.SessionRecord) { r.ID, r.ExpiresAt = payflow.ID{10}, time.Time{} }
	_, err = w.session(newSession("none", none))
	require.NoError(t, err)
	stored, err = w.session(newSession("none", func(r *payflow.SessionRecord) { none(r); r.SellerConfirmed = true }))
	require.NoError(t, err)
	assert.False(t, stored.SellerConfirmed, "the session of no expiry left as expired at the zero Now")
}

// testZeroExpiryOldNow: a row kept with the zero time as its expiry (a
// nonce, a used nonce, a token, a session) or as its lease (an
// idempotency key) has expired at every now, one before the Unix epoch
// included, in every store: the zero time is before every time kept, as
// in an Acceptance's Now (testOldSessionZeroNow). Consume refuses such a
// nonce, BeginIdempotent takes such a key over, and DeleteExpired
// deletes such rows. The SQL stores compared the zero time's column form,
// 0, the Unix epoch, with a now before it, and kept them as unexpired;
// the memory store compared the zero time itself with a now before it
// (in the year 0), and kept them so there.
func testZeroExpiryOldNow(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	w := &writer{s: s}
	var zero time.Time
	for i, old := range []time.Time{time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)} {
		name := func(n string) string { return fmt.Sprint(n, " ", i) }
		require.NoError(t, s.Add(ctx, []byte(name("consumed")), zero))
		assert.ErrorIs(t, s.Consume(ctx, []byte(name("consumed")), old), pki.ErrNonce, "the nonce expiring at the zero time, at %v", old)
		_, err := s.BeginIdempotent(ctx, name("taken"), []byte{1}, old, zero)
		require.NoError(t, err)
		if r, ok := s.(payflow.ReplyReader); ok {
			rep, err := r.LookupIdempotent(ctx, name("taken"), []byte{1}, old)
			require.NoError(t, err, "the key leased until the zero time, looked up at %v", old)
			assert.Nil(t, rep, "the key leased until the zero time, looked up at %v", old)
		}
		_, err = s.BeginIdempotent(ctx, name("taken"), []byte{2}, old, t0)
		assert.NoError(t, err, "the key leased until the zero time taken over at %v", old)

		require.NoError(t, s.Add(ctx, []byte(name("issued")), zero))
		counter := uint64(2*i + 1)
		require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: []byte(name("used")), NonceExpires: zero, CardID: "8900000000000000001",
			Counter: counter}))
		h := sha256.Sum256([]byte(name("token")))
		require.NoError(t, w.token(&payflow.TokenRecord{Hash: h[:], CardID: "8900000000000000001", CertHash: certHash}))
		_, err = w.session(newSession("none", func(r *payflow.SessionRecord) { r.ID, r.ExpiresAt = payflow.ID{byte(i)}, zero }))
		require.NoError(t, err)
		_, err = s.BeginIdempotent(ctx, name("swept"), []byte{1}, old, zero)
		require.NoError(t, err)
		n, err := s.DeleteExpired(ctx, old)
		require.NoError(t, err)
		assert.Equal(t, 5, n, "the five rows expiring at the zero time, deleted at %v", old)
		_, err = s.Token(ctx, h[:])
		assert.ErrorIs(t, err, payflow.ErrNotFound, "the token deleted")
		require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: []byte(name("used")), NonceExpires: t0, CardID: "8900000000000000001",
			Counter: counter + 1}), "the used nonce deleted")
	}
}

// testZeroDueOldNow: a request or a refund whose due time is the zero
// time (a pending request expiring at it, a refund made at it) is due at
// every now, one before the Unix epoch included, and before every other
// one, in every store; and a pending request expiring at the zero time
// has expired at an Acceptance's Now before the epoch: CancelPending
// leaves it. The SQL stores compared the zero time's column form, 0, the
// Unix epoch, with a now before it: such a request or refund was not due
// yet, and such a request was cancelled.
func testZeroDueOldNow(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	w := &writer{s: s}
	old := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
	var zero time.Time
	earlier, err := w.insert(payment(1, payflow.StatePending, old.Add(-time.Hour)))
	require.NoError(t, err)
	none, err := w.insert(payment(2, payflow.StatePending, zero))
	require.NoError(t, err)
	due, err := s.DuePayments(ctx, payflow.StatePending, old, 10)
	require.NoError(t, err)
	if assert.Len(t, due, 2, "both pending requests due in 1960") {
		assert.Equal(t, []payflow.ID{none.ID, earlier.ID}, []payflow.ID{due[0].ID, due[1].ID}, "the one expiring at the zero time first")
	}

	for i, created := range []time.Time{old.Add(-time.Hour), zero} {
		p := payment(byte(3+i), payflow.StateCaptured, t0)
		p.Captured, p.Refunded = 690, 10
		p, err := w.insert(p)
		require.NoError(t, err)
		_, err = w.refund(newRefund(byte(3+i), p.ID, func(r *payflow.RefundRecord) { r.CreatedAt = created }), p)
		require.NoError(t, err)
	}
	refunds, err := s.DueRefunds(ctx, old, 10)
	require.NoError(t, err)
	if assert.Len(t, refunds, 2, "both refunds due in 1960") {
		assert.Equal(t, []payflow.ID{{4}, {3}}, []payflow.ID{refunds[0].ID, refunds[1].ID}, "the one made at the zero time first")
	}

	_, err = w.accept(payflow.Acceptance{Session: sellerSession(), Now: old.Add(-2 * time.Hour), CancelPending: true})
	require.NoError(t, err)
	got, err := s.Payment(ctx, earlier.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, got.State, "the request unexpired at the acceptance cancelled")
	got, err = s.Payment(ctx, none.ID)
	require.NoError(t, err)
	assert.Equal(t, none, got, "the request expiring at the zero time left as it is")
}

// dueTimes are due times in the order in which the due listings give
// them, the zero time (none) first, then the first time kept, the year
// 1678; and the IDs of the rows due at them, in descending order of
// their due times, so that an order by ID is not theirs, but for the
// ties (two rows at the zero time, two in 1960), which go by ID.
var dueTimes = []struct {
	due time.Time
	id  byte
}{
	{time.Time{}, 6}, {time.Time{}, 7}, {time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC), 5},
	{time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), 4}, {time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), 8},
	{at(-1), 3}, {at(1), 2}, {t0, 1},
}

// dueIDs returns the IDs of dueTimes due at now (the zero time at every
// now), in the order of dueTimes, up to limit of them, each made by id.
func dueIDs(now time.Time, limit int, id func(byte) payflow.ID) []payflow.ID {
	var want []payflow.ID
	for _, d := range dueTimes {
		if (d.due.IsZero() || !d.due.After(now)) && len(want) < limit {
			want = append(want, id(d.id))
		}
	}
	return want
}

// testDueOrder: DuePayments and DueRefunds give the rows due in the order
// of their due times, ties by ID, those due at the zero time (none) first,
// then those due before the Unix epoch, in every store and at every now:
// after the epoch (the SQL stores kept the zero time as 0, the epoch's
// nanoseconds, and listed the rows due before the epoch ahead of those due
// at the zero time), before it, before the first time kept (1678), and
// before the zero time itself (in the year 0, where the memory store listed
// none). So for requests due as pending (ExpiresAt), held (HoldExpiresAt)
// or settled (UpdatedAt or a later DeferredTo), one written back to pending
// (due at its stored ExpiresAt, the zero time), and refunds (CreatedAt or a
// later DeferredTo).
func testDueOrder(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	w := &writer{s: s}
	nows := []time.Time{t0, at(1), time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)}
	states := []string{payflow.StatePending, payflow.StateHeld, payflow.StateCaptured}
	paymentID := func(state int) func(byte) payflow.ID {
		return func(id byte) payflow.ID { return payflow.ID{byte(state<<4) | id} }
	}
	for i, state := range states {
		for j, d := range dueTimes {
			p := payment(0, state, d.due)
			p.ID = paymentID(i)(d.id)
			switch state {
			case payflow.StateHeld:
				p.ExpiresAt, p.HoldExpiresAt = t0, d.due
			case payflow.StateCaptured:
				p.ExpiresAt, p.UpdatedAt, p.Captured = t0, d.due, 690
				if j%2 == 0 { // due at its DeferredTo, later than its UpdatedAt (none)
					p.UpdatedAt, p.DeferredTo = time.Time{}, d.due
				}
			}
			_, err := w.insert(p)
			require.NoError(t, err)
		}
	}
	// The first pending request due at the zero time, settled and then
	// written back to pending.
	p, err := s.Payment(ctx, paymentID(0)(dueTimes[0].id))
	require.NoError(t, err)
	p.State, p.UpdatedAt = payflow.StateApproving, t0
	require.NoError(t, s.UpdatePayment(ctx, p, payflow.StatePending))
	p.State = payflow.StatePending
	require.NoError(t, s.UpdatePayment(ctx, p, payflow.StateApproving))

	paid := payment(0x70, payflow.StateCaptured, t0)
	paid.UpdatedAt, paid.Captured = t0.Add(time.Hour), 690
	paid, err = w.insert(paid)
	require.NoError(t, err)
	refundID := func(id byte) payflow.ID { return payflow.ID{0x40 | id} }
	for j, d := range dueTimes {
		paid.Refunded += 10
		_, err := w.refund(newRefund(0, paid.ID, func(r *payflow.RefundRecord) {
			r.ID, r.CreatedAt, r.Refunded = refundID(d.id), d.due, paid.Refunded
			if j%2 == 1 { // due at its DeferredTo, later than its CreatedAt (none)
				r.CreatedAt, r.DeferredTo = time.Time{}, d.due
			}
		}), paid)
		require.NoError(t, err)
	}

	for _, now := range nows {
		for _, limit := range []int{3, 100} {
			for i, state := range states {
				due, err := s.DuePayments(ctx, state, now, limit)
				require.NoError(t, err)
				var got []payflow.ID
				for _, p := range due {
					got = append(got, p.ID)
				}
				assert.Equal(t, dueIDs(now, limit, paymentID(i)), got, "%s requests due at %v, up to %d", state, now, limit)
			}
			refunds, err := s.DueRefunds(ctx, now, limit)
			require.NoError(t, err)
			var got []payflow.ID
			for _, r := range refunds {
				got = append(got, r.ID)
			}
			assert.Equal(t, dueIDs(now, limit, refundID), got, "refunds due at %v, up to %d", now, limit)
		}
	}
}

// testEmptyNonce: a nonce nil or empty is no nonce that a store keeps:
// Add and an Acceptance carrying an empty one (not nil, which says it
// carries none) are refused with ErrInvalid in every store, writing
// nothing, and Consume finds neither held.
func testEmptyNonce(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	for _, n := range [][]byte{nil, {}} {
		assert.ErrorIs(t, s.Add(ctx, n, t0.Add(time.Minute)), payflow.ErrInvalid, "Add of %#v", n)
		assert.ErrorIs(t, s.Consume(ctx, n, t0), pki.ErrNonce, "Consume of %#v", n)
	}
	id := "8900000000000000001"
	assert.ErrorIs(t, s.Accept(ctx, &payflow.Acceptance{Nonce: []byte{}, NonceExpires: t0.Add(time.Minute), CardID: id, Counter: 1}),
		payflow.ErrInvalid)
	assert.NoError(t, s.Spent(ctx, []byte{}, id, 1), "nothing spent")
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{CardID: id, Counter: 1}), "the refused acceptance spent no counter")
}

// testLongKeys: a nonce or a token's hash longer than payflow.MaxKeySize,
// which PostgreSQL's B-tree index refuses from about 2.7 KB, is refused
// with ErrInvalid by every store (Add, Accept) and nothing is written, an
// Acceptance's nonce and counter included; one given to name a row names
// none. Keys of MaxKeySize bytes, texts and nonces, are kept.
func testLongKeys(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	id := "8900000000000000001"
	for _, n := range []int{payflow.MaxKeySize + 1, 3000} {
		long := longKey(n)
		assert.ErrorIs(t, s.Add(ctx, long, t0.Add(time.Minute)), payflow.ErrInvalid, "Add of %d bytes", n)
		assert.ErrorIs(t, s.Consume(ctx, long, t0), pki.ErrNonce, "Consume of %d bytes", n)
		assert.ErrorIs(t, s.Accept(ctx, &payflow.Acceptance{Nonce: long, NonceExpires: t0.Add(time.Minute), CardID: id, Counter: 1}),
			payflow.ErrInvalid, "nonce of %d bytes", n)
		assert.ErrorIs(t, s.Accept(ctx, &payflow.Acceptance{Nonce: []byte("nonce"), NonceExpires: t0.Add(time.Minute), CardID: id, Counter: 1,
			Token: &payflow.TokenRecord{Hash: long, CardID: id, CertHash: certHash, ExpiresAt: t0.Add(time.Hour)}}), payflow.ErrInvalid,
			"token hash of %d bytes", n)
		assert.ErrorIs(t, s.Accept(ctx, &payflow.Acceptance{Nonce: []byte("nonce"), NonceExpires: t0.Add(time.Minute), CardID: id, Counter: 1,
			Token: &payflow.TokenRecord{Hash: []byte("token"), CardID: id, CertHash: long, ExpiresAt: t0.Add(time.Hour)}}), payflow.ErrInvalid,
			"token certificate hash of %d bytes", n)
		_, err := s.Token(ctx, long)
		assert.ErrorIs(t, err, payflow.ErrNotFound, "token hash of %d bytes", n)
		_, err = s.Token(ctx, []byte("token"))
		assert.ErrorIs(t, err, payflow.ErrNotFound, "token certificate hash of %d bytes", n)
	}
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: []byte("nonce"), NonceExpires: t0.Add(time.Minute), CardID: id, Counter: 1}),
		"the refused acceptances spent neither nonce nor counter")
	require.NoError(t, s.Add(ctx, longKey(payflow.MaxKeySize), t0.Add(time.Minute)), "a nonce of MaxKeySize bytes is kept")
	require.NoError(t, s.Consume(ctx, longKey(payflow.MaxKeySize), t0))

	// Keys of MaxKeySize bytes are kept, two of them in one index entry
	// too (a merchant's ID with a card ID, or with a SKU).
	key := string(longKey(payflow.MaxKeySize))
	other := key[1:] + "z"
	c := card(key)
	c.DisplayName = key
	require.NoError(t, s.PutCard(ctx, c))
	require.NoError(t, s.PutMerchant(ctx, &payflow.Merchant{ID: other, Name: key, Currency: "EUR", SellerCardIDs: []string{key}}))
	items := []payflow.CatalogItem{{SKU: key, Name: key, UnitPrice: 1}}
	require.NoError(t, s.SetCatalog(ctx, other, items))
	require.NoError(t, s.PutAsset(ctx, payflow.Asset{Name: key, Ledger: 1001}))
	got, err := s.Card(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, other, got.MerchantID)
	cat, err := s.Catalog(ctx, other)
	require.NoError(t, err)
	assert.Equal(t, items, cat)
}

// testUnstorableTimes: a time that a SQL store could not read back as it
// was written, the Unix epoch itself (which they keep as the zero time,
// "none") or one outside the years 1678 to 2262 (beyond int64
// nanoseconds, or before 1678: the first time of int64 nanoseconds, in
// 1677, is the SQL stores' column form of every now before it), is
// refused with ErrInvalid by every store in every write that keeps it,
// and nothing is written. A nonce kept until that first time was
// consumed as expired at a now of 1600 by the SQL stores alone.
func testUnstorableTimes(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	id := "8900000000000000001"
	captured, reserve, refund := refundedRequest(t, &writer{s: s})
	for _, bad := range []time.Time{time.Unix(0, 0), time.Unix(0, 0).UTC(), time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(0, math.MinInt64), time.Date(1678, 1, 1, 0, 0, 0, -1, time.UTC)} {
		invalid := func(err error, what string) { assert.ErrorIs(t, err, payflow.ErrInvalid, "%s at %v", what, bad) }
		c := card(id)
		c.EnrolledAt = bad
		invalid(s.PutCard(ctx, c), "card enrolled")
		invalid(s.Add(ctx, []byte("nonce"), bad), "nonce expiring")
		_, err := s.BeginIdempotent(ctx, "k", []byte{1}, t0, bad)
		invalid(err, "idempotency key leased until")
		_, err = s.BeginIdempotent(ctx, "k", []byte{1}, t0, t0.Add(time.Minute))
		require.NoError(t, err)
		invalid(s.FinishIdempotent(ctx, "k", t0.Add(time.Minute), 200, nil, bad), "reply kept until")
		require.NoError(t, s.AbandonIdempotent(ctx, "k", t0.Add(time.Minute)))

		updated := func(f func(p *payflow.PaymentRecord)) *payflow.PaymentRecord { return changedPayment(captured, f) }
		// times returns a copy of captured for each of its times, the
		// mutable ones first, changed by f, which is given that time.
		times := func(f func(p *payflow.PaymentRecord, t *time.Time)) []*payflow.PaymentRecord {
			var ps []*payflow.PaymentRecord
			for _, field := range []func(p *payflow.PaymentRecord) *time.Time{
				func(p *payflow.PaymentRecord) *time.Time { return &p.UpdatedAt },
				func(p *payflow.PaymentRecord) *time.Time { return &p.HoldExpiresAt },
				func(p *payflow.PaymentRecord) *time.Time { return &p.SettledAt },
				func(p *payflow.PaymentRecord) *time.Time { return &p.DeferredTo },
				func(p *payflow.PaymentRecord) *time.Time { return &p.ExpiresAt },
				func(p *payflow.PaymentRecord) *time.Time { return &p.CreatedAt },
			} {
				ps = append(ps, updated(func(p *payflow.PaymentRecord) { f(p, field(p)) }))
			}
			return ps
		}
		as := []payflow.Acceptance{
			{Nonce: []byte("nonce"), NonceExpires: bad},
			{Token: &payflow.TokenRecord{Hash: []byte("token"), CardID: id, CertHash: certHash, ExpiresAt: bad}},
			{Session: newSession(id, func(r *payflow.SessionRecord) { r.ExpiresAt = bad }), Now: t0},
			{Session: newSession(id, func(*payflow.SessionRecord) {}), Now: bad, CancelPending: true},
			{Refund: newRefund(0x52, captured.ID, func(r *payflow.RefundRecord) { r.CreatedAt = bad }), Update: reserve,
				From: payflow.StateCaptured},
		}
		for _, p := range times(func(p *payflow.PaymentRecord, t *time.Time) {
			p.ID, p.State, *t = payflow.ID{3}, payflow.StatePending, bad
		}) {
			as = append(as, payflow.Acceptance{Insert: p})
		}
		for _, p := range times(func(_ *payflow.PaymentRecord, t *time.Time) { *t = bad })[:4] { // the mutable ones
			as = append(as, payflow.Acceptance{Update: p, From: payflow.StateCaptured})
		}
		for i, a := range as {
			a.CardID, a.Counter = id, 1
			invalid(s.Accept(ctx, &a), fmt.Sprintf("acceptance %d", i))
		}
		invalid(s.UpdatePayment(ctx, updated(func(p *payflow.PaymentRecord) { p.SettledAt = bad }), payflow.StateCaptured),
			"payment settled")
		deferred := *refund
		deferred.DeferredTo = bad
		invalid(s.UpdateRefund(ctx, &deferred, payflow.RefundPending, nil, ""), "refund deferred")
		invalid(s.UpdateRefund(ctx, refund, payflow.RefundPending, updated(func(p *payflow.PaymentRecord) { p.SettledAt = bad }),
			payflow.StateCaptured), "refund with its payment settled")
	}
	_, err := s.Card(ctx, id)
	assert.ErrorIs(t, err, payflow.ErrNotFound, "no card written")
	p, err := s.Payment(ctx, captured.ID)
	require.NoError(t, err)
	assert.Equal(t, captured.Version+1, p.Version, "the payment as the refund's reservation left it")
	r, err := s.Refund(ctx, refund.ID)
	require.NoError(t, err)
	assert.Equal(t, refund, r, "the refund as stored")
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: []byte("nonce"), NonceExpires: t0, CardID: id, Counter: 1}),
		"the refused acceptances spent neither nonce nor counter")
}

func testNonces(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	n := bytes.Repeat([]byte{1}, 32)
	require.NoError(t, s.Add(ctx, n, t0.Add(time.Minute)))
	assert.ErrorIs(t, s.Add(ctx, n, t0.Add(time.Minute)), payflow.ErrConflict)
	assert.ErrorIs(t, s.Consume(ctx, bytes.Repeat([]byte{2}, 32), t0), pki.ErrNonce)

	held := bytes.Repeat([]byte{5}, 32)
	require.NoError(t, s.Add(ctx, held, t0))
	assert.ErrorIs(t, s.Add(ctx, held, t0.Add(time.Hour)), payflow.ErrConflict)
	assert.ErrorIs(t, s.Consume(ctx, held, t0.Add(time.Minute)), pki.ErrNonce, "the nonce held keeps its expiry")
	assert.ErrorIs(t, s.Consume(ctx, held, t0.Add(-time.Minute)), pki.ErrNonce, "consumed by the call before")
	require.NoError(t, s.Consume(ctx, n, t0))
	assert.ErrorIs(t, s.Consume(ctx, n, t0), pki.ErrNonce, "a nonce is used once")

	old := bytes.Repeat([]byte{3}, 32)
	require.NoError(t, s.Add(ctx, old, t0))
	assert.ErrorIs(t, s.Consume(ctx, old, t0), pki.ErrNonce, "expired at its expiry")

	race := bytes.Repeat([]byte{4}, 32)
	require.NoError(t, s.Add(ctx, race, t0.Add(time.Minute)))
	oneWins(t, pki.ErrNonce, func(int) error { return s.Consume(ctx, race, t0) }, "a nonce is consumed once")
}

func testCounters(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	id := "8900000000000000001"
	require.NoError(t, s.Advance(ctx, id, 1))
	require.NoError(t, s.Advance(ctx, id, 5))
	for _, c := range []uint64{5, 4, 0} {
		err := s.Advance(ctx, id, c)
		var ce *pki.CounterError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, pki.CounterError{CardID: id, Last: 5, Got: c}, *ce)
		assert.ErrorIs(t, err, pki.ErrCounterRegression)
	}
	// A counter beyond what a card can reach is refused as above 2^63-1,
	// of a card seen or never seen, which it leaves never seen.
	for _, card := range []string{id, "8900000000000000004"} {
		err := s.Advance(ctx, card, 1<<63)
		var ce *pki.CounterError
		require.ErrorAs(t, err, &ce, "counter 2^63 of card %s", card)
		assert.Equal(t, pki.CounterError{CardID: card, Last: math.MaxInt64, Got: 1 << 63}, *ce)
		assert.ErrorIs(t, err, pki.ErrCounterRegression)
	}
	require.NoError(t, s.Advance(ctx, "8900000000000000004", 1), "the card refused counter 2^63 is never seen")
	// A card never seen holds 0 (pki.CounterStore), so its counter 0 is
	// not above the one held, and it stays never seen.
	fresh := "8900000000000000003"
	for range 2 {
		err := s.Advance(ctx, fresh, 0)
		var ce *pki.CounterError
		require.ErrorAs(t, err, &ce, "counter 0 of a card never seen")
		assert.Equal(t, pki.CounterError{CardID: fresh, Last: 0, Got: 0}, *ce)
	}
	require.NoError(t, s.Advance(ctx, fresh, 1))
	oneWins(t, pki.ErrCounterRegression, func(int) error { return s.Advance(ctx, id, 6) }, "one of several processes accepts a counter")
}

// testSpent: Spent tells, writing nothing, what Accept would say of a
// record's nonce and counter: pki.ErrNonce for a nonce marked used (the
// nonce first), a *pki.CounterError for a counter not above the card's or
// above 2^63-1 (a card never seen holds 0), nil otherwise.
func testSpent(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	id, fresh := "8900000000000000001", "8900000000000000003"
	used, unused := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: used, NonceExpires: t0, CardID: id, Counter: 5}))
	for _, tc := range []struct {
		name       string
		nonce      []byte
		card       string
		counter    uint64
		nonceErr   bool   // pki.ErrNonce
		counterErr bool   // a *pki.CounterError
		last       uint64 // its Last
	}{
		{"fresh", unused, id, 6, false, false, 0},
		{"no nonce", nil, id, 6, false, false, 0},
		{"used nonce", used, id, 6, true, false, 0},
		{"used nonce and counter", used, id, 5, true, false, 0},
		{"counter held", unused, id, 5, false, true, 5},
		{"counter behind", nil, id, 1, false, true, 5},
		{"counter beyond 2^63-1", unused, id, 1 << 63, false, true, math.MaxInt64},
		{"used nonce, counter beyond 2^63-1", used, id, 1 << 63, true, false, 0},
		{"card never seen", unused, fresh, 1, false, false, 0},
		{"counter 0 of a card never seen", unused, fresh, 0, false, true, 0},
	} {
		err := s.Spent(ctx, tc.nonce, tc.card, tc.counter)
		switch {
		case tc.nonceErr:
			assert.ErrorIs(t, err, pki.ErrNonce, tc.name)
		case tc.counterErr:
			var ce *pki.CounterError
			if assert.ErrorAs(t, err, &ce, tc.name) {
				assert.Equal(t, pki.CounterError{CardID: tc.card, Last: tc.last, Got: tc.counter}, *ce, tc.name)
			}
		default:
			assert.NoError(t, err, tc.name)
		}
	}
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: unused, NonceExpires: t0, CardID: fresh, Counter: 1}),
		"Spent wrote nothing")
	assert.ErrorIs(t, s.Spent(ctx, unused, id, 6), pki.ErrNonce, "a nonce used since")
}

func testTokensAndSessions(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	h := sha256.Sum256([]byte("token"))
	_, err := s.Token(ctx, h[:])
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	tok := &payflow.TokenRecord{Hash: h[:], CardID: "8900000000000000001", CertHash: bytes.Clone(certHash), ExpiresAt: t0}
	w := &writer{s: s}
	require.NoError(t, w.token(tok))
	assert.ErrorIs(t, w.token(tok), payflow.ErrConflict)
	query := bytes.Clone(h[:])
	got, err := s.Token(ctx, query)
	require.NoError(t, err)
	assert.Equal(t, tok, got)
	clear(query)
	assert.Equal(t, h[:], got.Hash, "the record is the caller's, not a view of its argument")
	clear(tok.CertHash)
	got, err = s.Token(ctx, h[:])
	require.NoError(t, err)
	assert.Equal(t, certHash, got.CertHash, "the stored certificate hash is not a view of the written record")

	id := payflow.ID{9}
	_, err = s.Session(ctx, id)
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	r := &payflow.SessionRecord{ID: id, ShopperCardID: "8900000000000000001", SellerCardID: "8900000000000000002", MerchantID: "m",
		ShopperEID: bytes.Repeat([]byte{1}, 16), SellerEID: bytes.Repeat([]byte{2}, 16), SellerConfirmed: true, ExpiresAt: t0}
	got1, err := w.session(r)
	require.NoError(t, err)
	assert.Equal(t, r, got1)
	r2 := *r
	r2.SellerConfirmed, r2.ShopperConfirmed, r2.ExpiresAt = false, true, t0.Add(time.Hour)
	got2, err := w.session(&r2)
	require.NoError(t, err)
	want := *r
	want.ShopperConfirmed = true // flags only ever set; the rest stays
	assert.Equal(t, &want, got2)
	got3, err := s.Session(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, &want, got3)
}

// testReenrolled: a card enrolled again with the same chain and
// advertising secret keeps its sessions and requests; enrolled again as
// change makes it, with another certificate or another secret, it
// has its sessions (as the shopper card and as the seller card) deleted
// and the requests that it signed or would pay that are pending and
// unexpired at its enrolment cancelled, at that time, as UpdatePayment
// writes them (and so due then: DuePayments lists them from that time
// on). Other cards' sessions and requests, its requests expired at the
// enrolment and those in another state are left as they are.
func testReenrolled(t *testing.T, s payflow.Store, change func(*payflow.CardRecord)) {
	ctx := context.Background()
	const a, b, c = "8900000000000000001", "8900000000000000002", "8900000000000000003"
	for _, id := range []string{a, b, c} {
		require.NoError(t, s.PutCard(ctx, card(id)))
	}
	w := &writer{s: s}
	sessions := map[payflow.ID]bool{} // by ID: whether it is a's
	for i, sides := range [][2]string{{a, b}, {c, a}, {c, b}} {
		r := newSession(sides[0], func(r *payflow.SessionRecord) { r.ID, r.SellerCardID = payflow.ID{0x40, byte(i)}, sides[1] })
		_, err := w.session(r)
		require.NoError(t, err)
		sessions[r.ID] = sides[0] == a || sides[1] == a
	}
	enrolled := t0.Add(time.Minute)
	type request struct {
		seller, payer, state string
		expires              time.Time
		withdrawn            bool
	}
	requests := []request{
		{b, a, payflow.StatePending, t0.Add(time.Hour), true},
		{a, c, payflow.StatePending, t0.Add(time.Hour), true},
		{b, c, payflow.StatePending, t0.Add(time.Hour), false},
		{b, a, payflow.StatePending, enrolled, false},
		{a, c, payflow.StateApproving, t0.Add(time.Hour), false},
		{b, a, payflow.StateHeld, t0.Add(time.Hour), false},
	}
	stored := make([]*payflow.PaymentRecord, len(requests))
	for i, r := range requests {
		p := payment(byte(0x50+i), r.state, r.expires)
		p.SellerCardID, p.PayerCardID = r.seller, r.payer
		if i == 0 { // a deferral, which the cancellation clears
			p.DeferredTo = t0.Add(time.Second)
		}
		var err error
		stored[i], err = w.insert(p)
		require.NoError(t, err)
	}
	check := func(rekeyed bool) {
		t.Helper()
		for id, ofA := range sessions {
			_, err := s.Session(ctx, id)
			if rekeyed && ofA {
				assert.ErrorIs(t, err, payflow.ErrNotFound, "session %x", id)
			} else {
				assert.NoError(t, err, "session %x", id)
			}
		}
		var cancelled []payflow.ID
		for i, r := range requests {
			want := stored[i]
			if rekeyed && r.withdrawn {
				want = changedPayment(stored[i], func(p *payflow.PaymentRecord) {
					p.State, p.UpdatedAt, p.Version, p.DeferredTo = payflow.StateCancelled, enrolled, 2, time.Time{}
				})
				cancelled = append(cancelled, want.ID)
			}
			got, err := s.Payment(ctx, want.ID)
			require.NoError(t, err)
			assert.Equal(t, want, got, "request %d", i)
		}
		due, err := s.DuePayments(ctx, payflow.StateCancelled, enrolled.Add(-time.Nanosecond), 10)
		require.NoError(t, err)
		assert.Empty(t, due, "cancelled requests due before the enrolment")
		due, err = s.DuePayments(ctx, payflow.StateCancelled, enrolled, 10)
		require.NoError(t, err)
		var ids []payflow.ID
		for _, p := range due {
			ids = append(ids, p.ID)
		}
		assert.ElementsMatch(t, cancelled, ids, "cancelled requests due at the enrolment")
	}

	same := card(a)
	same.EnrolledAt, same.DisplayName = enrolled, "Renamed"
	require.NoError(t, s.PutCard(ctx, same))
	check(false)
	renewed := card(a)
	renewed.EnrolledAt = enrolled
	change(renewed)
	require.NoError(t, s.PutCard(ctx, renewed))
	check(true)
	got, err := s.Card(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, renewed.Chain, got.Chain)
	assert.Equal(t, renewed.AdvSecret, got.AdvSecret)
}

// testReenrolledNoExpiry: a pending request without an expiry (the zero
// time), expired at every time, is left as it is by the enrolment of its
// card with another certificate, even at a time before 1970, which the
// SQL stores keep as a negative number below the zero time's 0.
func testReenrolledNoExpiry(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	const a = "8900000000000000001"
	require.NoError(t, s.PutCard(ctx, card(a)))
	p := payment(0x70, payflow.StatePending, time.Time{})
	p.PayerCardID = a
	stored, err := (&writer{s: s}).insert(p)
	require.NoError(t, err)
	renewed := card(a)
	renewed.Chain[0], renewed.EnrolledAt = []byte("new cert "+a), time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, s.PutCard(ctx, renewed))
	got, err := s.Payment(ctx, stored.ID)
	require.NoError(t, err)
	assert.Equal(t, stored, got)
}

// testReenrolledZeroTime: a card enrolled again with another certificate
// at the zero time (an EnrolledAt of none) cancels its pending requests
// that expire after it, one expiring in 1960 included, with UpdatedAt the
// zero time, in every store, and leaves one without an expiry (the zero
// time) as it is. The SQL stores compared the expiries with the zero
// time's column form, 0, the Unix epoch, and left the request expiring in
// 1960 pending.
func testReenrolledZeroTime(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	const a = "8900000000000000001"
	require.NoError(t, s.PutCard(ctx, card(a)))
	w := &writer{s: s}
	old := payment(0x71, payflow.StatePending, time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC))
	none := payment(0x72, payflow.StatePending, time.Time{})
	var stored []*payflow.PaymentRecord
	for _, p := range []*payflow.PaymentRecord{old, none} {
		p.PayerCardID = a
		got, err := w.insert(p)
		require.NoError(t, err)
		stored = append(stored, got)
	}
	renewed := card(a)
	renewed.Chain[0], renewed.EnrolledAt = []byte("new cert "+a), time.Time{}
	require.NoError(t, s.PutCard(ctx, renewed))
	got, err := s.Payment(ctx, old.ID)
	require.NoError(t, err)
	assert.Equal(t, changedPayment(stored[0], func(p *payflow.PaymentRecord) {
		p.State, p.UpdatedAt, p.Version = payflow.StateCancelled, time.Time{}, 2
	}), got, "the request expiring in 1960, cancelled")
	got, err = s.Payment(ctx, none.ID)
	require.NoError(t, err)
	assert.Equal(t, stored[1], got, "the request without an expiry, left as it is")
}

// writer makes the writes that a Store makes only inside Accept, each in
// an acceptance of its own: no nonce, and the next counter of a card that
// the tests use for nothing else.
type writer struct {
	s       payflow.Store
	counter uint64
}

func (w *writer) accept(a payflow.Acceptance) (*payflow.Acceptance, error) {
	w.counter++
	a.CardID, a.Counter = "8900000000000000090", w.counter
	return &a, w.s.Accept(context.Background(), &a)
}

func (w *writer) token(t *payflow.TokenRecord) error {
	_, err := w.accept(payflow.Acceptance{Token: t})
	return err
}

func (w *writer) session(r *payflow.SessionRecord) (*payflow.SessionRecord, error) {
	a, err := w.accept(payflow.Acceptance{Session: r})
	if err != nil {
		return nil, err
	}
	return a.Session, nil
}

func (w *writer) insert(p *payflow.PaymentRecord) (*payflow.PaymentRecord, error) {
	a, err := w.accept(payflow.Acceptance{Insert: p})
	if err != nil {
		return nil, err
	}
	return a.Insert, nil
}

// refund stores r with p's reservation of it (p read in state captured).
func (w *writer) refund(r *payflow.RefundRecord, p *payflow.PaymentRecord) (*payflow.RefundRecord, error) {
	a, err := w.accept(payflow.Acceptance{Refund: r, Update: p, From: payflow.StateCaptured})
	if err != nil {
		return nil, err
	}
	return a.Refund, nil
}

func payment(id byte, state string, due time.Time) *payflow.PaymentRecord {
	return &payflow.PaymentRecord{
		ID: payflow.ID{id}, SessionID: payflow.ID{0xee}, State: state, MerchantID: "m", SellerCardID: "8900000000000000002",
		PayerCardID: "8900000000000000001", Currency: "EUR", Amount: 690,
		Lines:   []payflow.Line{{SKU: "a", Name: "A", Quantity: 2, UnitPrice: 120, Amount: 240}, {SKU: "b", Name: "B", Quantity: 1, UnitPrice: 450, Amount: 450}},
		Legs:    []payflow.AssetLeg{{Asset: "ticket", Amount: 1}},
		Request: []byte("signed request"), RequestHash: bytes.Repeat([]byte{0xaa}, 32),
		ExpiresAt: due, CreatedAt: t0, UpdatedAt: t0,
	}
}

func testPayments(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	_, err := s.Payment(ctx, payflow.ID{1})
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	w := &writer{s: s}
	p := payment(1, payflow.StatePending, t0.Add(time.Minute))
	got, err := w.insert(p)
	require.NoError(t, err)
	p.Version = 1
	assert.Equal(t, p, got)
	other := payment(1, payflow.StatePending, t0)
	other.Request = []byte("another request")
	got, err = w.insert(other)
	require.NoError(t, err)
	assert.Equal(t, p, got, "an existing ID returns the stored request")

	up := *got
	up.State, up.Attempt, up.Consent, up.ConsentHash = payflow.StateApproving, 1, []byte("consent"), bytes.Repeat([]byte{0xcc}, 32)
	up.HoldExpiresAt, up.UpdatedAt = t0.Add(time.Hour), t0.Add(time.Second)
	up.Amount, up.Request = 1, []byte("ignored") // immutable: not written
	assert.ErrorIs(t, s.UpdatePayment(ctx, &up, payflow.StateHeld), payflow.ErrConflict, "wrong state")
	stale := up
	stale.Version = 7
	assert.ErrorIs(t, s.UpdatePayment(ctx, &stale, payflow.StatePending), payflow.ErrConflict, "wrong version")
	require.NoError(t, s.UpdatePayment(ctx, &up, payflow.StatePending))
	assert.Equal(t, uint64(2), up.Version)
	stored, err := s.Payment(ctx, p.ID)
	require.NoError(t, err)
	want := up
	want.Amount, want.Request = p.Amount, p.Request
	assert.Equal(t, &want, stored)
	assert.ErrorIs(t, s.UpdatePayment(ctx, got, payflow.StatePending), payflow.ErrConflict, "a second writer of version 1 loses")

	fin := want
	fin.State, fin.Captured, fin.CaptureAmount, fin.Receipt, fin.SettledAt = payflow.StateCaptured, 690, 690, []byte("receipt"), t0.Add(2*time.Second)
	require.NoError(t, s.UpdatePayment(ctx, &fin, payflow.StateApproving))
	stored, err = s.Payment(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, &fin, stored)

	// DuePayments: pending by expiry, held by hold expiry, others by update.
	for i, due := range []time.Duration{3, 1, 2, 9} {
		_, err := w.insert(payment(byte(10+i), payflow.StatePending, t0.Add(due*time.Second)))
		require.NoError(t, err)
	}
	due, err := s.DuePayments(ctx, payflow.StatePending, t0.Add(3*time.Second), 2)
	require.NoError(t, err)
	require.Len(t, due, 2)
	assert.Equal(t, []payflow.ID{{11}, {12}}, []payflow.ID{due[0].ID, due[1].ID})
	due, err = s.DuePayments(ctx, payflow.StatePending, t0.Add(3*time.Second), 10)
	require.NoError(t, err)
	assert.Len(t, due, 3)
	h := due[0]
	h.State, h.HoldExpiresAt = payflow.StateHeld, t0.Add(time.Hour)
	require.NoError(t, s.UpdatePayment(ctx, h, payflow.StatePending))
	due, err = s.DuePayments(ctx, payflow.StateHeld, t0.Add(time.Hour-1), 10)
	require.NoError(t, err)
	assert.Empty(t, due)
	due, err = s.DuePayments(ctx, payflow.StateHeld, t0.Add(time.Hour), 10)
	require.NoError(t, err)
	assert.Len(t, due, 1)
	due, err = s.DuePayments(ctx, payflow.StateCaptured, t0.Add(time.Second), 10)
	require.NoError(t, err)
	assert.Len(t, due, 1, "captured at t0+1s")
}

// testEmptyFields: empty optional byte strings and lists of a payment
// request or refund read back as nil in every store, as the SQL columns
// keep them, so that a test of a field against nil (a consent taken
// back, for one) answers alike whatever the store.
func testEmptyFields(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	w := &writer{s: s}
	p := payment(1, payflow.StateCaptured, t0)
	p.Lines, p.Legs, p.Consent, p.ConsentHash, p.Receipt = []payflow.Line{}, []payflow.AssetLeg{}, []byte{}, []byte{}, []byte{}
	got, err := w.insert(p)
	require.NoError(t, err)
	stored, err := s.Payment(ctx, p.ID)
	require.NoError(t, err)
	for _, r := range []*payflow.PaymentRecord{got, stored} {
		assert.Nil(t, r.Lines)
		assert.Nil(t, r.Legs)
		assert.Nil(t, r.Consent)
		assert.Nil(t, r.ConsentHash)
		assert.Nil(t, r.Receipt)
	}
	up := *stored
	up.Consent, up.ConsentHash, up.Receipt = []byte{}, []byte{1}, []byte{}
	require.NoError(t, s.UpdatePayment(ctx, &up, payflow.StateCaptured))
	stored, err = s.Payment(ctx, p.ID)
	require.NoError(t, err)
	assert.Nil(t, stored.Consent, "a consent taken back")
	assert.Equal(t, []byte{1}, stored.ConsentHash)
	assert.Nil(t, stored.Receipt)

	r := &payflow.RefundRecord{ID: payflow.ID{0x51}, RequestID: p.ID, State: payflow.RefundPending, Amount: 1, Currency: "EUR",
		Request: []byte("signed refund"), Hash: bytes.Repeat([]byte{0xbb}, 32), Refunded: 1, Receipt: []byte{}, CreatedAt: t0}
	reserve := *stored
	reserve.Refunded = 1
	_, err = w.refund(r, &reserve)
	require.NoError(t, err)
	rs, err := s.Refund(ctx, r.ID)
	require.NoError(t, err)
	assert.Nil(t, rs.Receipt)
	done := *rs
	done.State, done.Receipt = payflow.RefundDone, []byte{}
	require.NoError(t, s.UpdateRefund(ctx, &done, payflow.RefundPending, nil, ""))
	rs, err = s.Refund(ctx, r.ID)
	require.NoError(t, err)
	assert.Nil(t, rs.Receipt)
}

func testPaymentRace(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	p, err := (&writer{s: s}).insert(payment(1, payflow.StatePending, t0))
	require.NoError(t, err)
	oneWins(t, payflow.ErrConflict, func(i int) error {
		mine := *p
		mine.State = []string{payflow.StateCancelled, payflow.StateApproving}[i%2]
		return s.UpdatePayment(ctx, &mine, payflow.StatePending)
	}, "exactly one transition wins")
}

func testRefunds(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	p := payment(1, payflow.StateCaptured, t0)
	p.Captured = 690
	w := &writer{s: s}
	p, err := w.insert(p)
	require.NoError(t, err)
	r := &payflow.RefundRecord{ID: payflow.ID{0x51}, RequestID: p.ID, State: payflow.RefundPending, Amount: 200, Currency: "EUR",
		Request: []byte("signed refund"), Hash: bytes.Repeat([]byte{0xbb}, 32), Refunded: 200, CreatedAt: t0}
	_, err = s.Refund(ctx, r.ID)
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	assert.ErrorIs(t, s.Accept(ctx, &payflow.Acceptance{CardID: "8900000000000000002", Counter: 1, Refund: r}),
		payflow.ErrInvalid, "a refund without its payment's update")
	assert.ErrorIs(t, s.Accept(ctx, &payflow.Acceptance{CardID: "8900000000000000002", Counter: 1, Insert: p, Update: p, From: payflow.StatePending}),
		payflow.ErrInvalid, "two writes")
	stale := *p
	stale.Version = 9
	stale.Refunded = 200
	nonce := bytes.Repeat([]byte{7}, 32)
	assert.ErrorIs(t, s.Accept(ctx, &payflow.Acceptance{Nonce: nonce, NonceExpires: t0.Add(time.Minute), CardID: "8900000000000000002",
		Counter: 1, Refund: r, Update: &stale, From: payflow.StateCaptured}), payflow.ErrConflict)
	_, err = s.Refund(ctx, r.ID)
	assert.ErrorIs(t, err, payflow.ErrNotFound, "nothing stored when the payment moved")
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: nonce, NonceExpires: t0.Add(time.Minute), CardID: "8900000000000000002", Counter: 1}),
		"nor the nonce and the counter")

	p.Refunded = 200
	got, err := w.refund(r, p)
	require.NoError(t, err)
	assert.Equal(t, r, got)
	assert.Equal(t, uint64(2), p.Version)
	again := *p
	again.Refunded = 400
	other := *r
	other.Request = []byte("another refund")
	got, err = w.refund(&other, &again)
	require.NoError(t, err)
	assert.Equal(t, r, got, "an existing refund is returned")
	assert.Equal(t, uint64(2), again.Version, "and the payment is not written")
	stored, err := s.Payment(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, uint64(200), stored.Refunded, "nor touched")

	due, err := s.DueRefunds(ctx, t0, 10)
	require.NoError(t, err)
	assert.Len(t, due, 1)

	done := *r
	done.State, done.Receipt = payflow.RefundDone, []byte("receipt")
	assert.ErrorIs(t, s.UpdateRefund(ctx, &done, payflow.RefundDone, nil, ""), payflow.ErrConflict)
	// A failing payment compare-and-set rolls the refund change back.
	assert.ErrorIs(t, s.UpdateRefund(ctx, &done, payflow.RefundPending, &stale, payflow.StateCaptured), payflow.ErrConflict)
	got, err = s.Refund(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.RefundPending, got.State)
	p.Refunded = 0
	failed := *r
	failed.State, failed.Failure, failed.Refunded = payflow.RefundFailed, "over_limit", 0
	require.NoError(t, s.UpdateRefund(ctx, &failed, payflow.RefundPending, p, payflow.StateCaptured))
	got, err = s.Refund(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, &failed, got)
	stored, err = s.Payment(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, uint64(0), stored.Refunded)
	assert.Equal(t, uint64(3), stored.Version)
	assert.Equal(t, stored, p, "the payment written, its Version incremented as the stored one's")
	due, err = s.DueRefunds(ctx, t0, 10)
	require.NoError(t, err)
	assert.Empty(t, due)
}

// testDeferral: a settlement under way is due at the later of UpdatedAt
// and DeferredTo, a pending refund at the later of CreatedAt and
// DeferredTo, each kept as written while the state stays; a write that
// changes a request's state clears its DeferredTo.
func testDeferral(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	w := &writer{s: s}
	ids := func(ps []*payflow.PaymentRecord) []payflow.ID {
		var out []payflow.ID
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	for i, tt := range []struct{ updated, deferred time.Duration }{{0, 10}, {5, 0}, {7, 1}} {
		p := payment(byte(1+i), payflow.StateApproving, t0.Add(time.Hour))
		p.UpdatedAt = t0.Add(tt.updated * time.Second)
		p, err := w.insert(p)
		require.NoError(t, err)
		if tt.deferred > 0 {
			p.DeferredTo = t0.Add(tt.deferred * time.Second)
			require.NoError(t, s.UpdatePayment(ctx, p, payflow.StateApproving))
			stored, err := s.Payment(ctx, p.ID)
			require.NoError(t, err)
			assert.Equal(t, p, stored, "DeferredTo kept as written")
		}
	}
	due, err := s.DuePayments(ctx, payflow.StateApproving, t0.Add(10*time.Second-1), 10)
	require.NoError(t, err)
	assert.Equal(t, []payflow.ID{{2}, {3}}, ids(due), "deferred after its update, and not before it")
	due, err = s.DuePayments(ctx, payflow.StateApproving, t0.Add(10*time.Second), 10)
	require.NoError(t, err)
	require.Equal(t, []payflow.ID{{2}, {3}, {1}}, ids(due), "by the later of both")

	fin := due[2]
	fin.State, fin.UpdatedAt = payflow.StateCaptured, t0.Add(time.Second)
	require.NoError(t, s.UpdatePayment(ctx, fin, payflow.StateApproving))
	assert.True(t, fin.DeferredTo.IsZero(), "cleared in the record written")
	stored, err := s.Payment(ctx, fin.ID)
	require.NoError(t, err)
	assert.Equal(t, fin, stored, "and in the store")
	due, err = s.DuePayments(ctx, payflow.StateCaptured, t0.Add(time.Second), 10)
	require.NoError(t, err)
	assert.Equal(t, []payflow.ID{{1}}, ids(due), "due at its update")

	// The same through Accept's write and UpdateRefund's.
	p := payment(4, payflow.StatePending, t0.Add(time.Hour))
	p.DeferredTo = t0.Add(time.Minute)
	p, err = w.insert(p)
	require.NoError(t, err)
	assert.Equal(t, t0.Add(time.Minute), p.DeferredTo, "inserted as given")
	p.State = payflow.StateApproving
	_, err = w.accept(payflow.Acceptance{Update: p, From: payflow.StatePending})
	require.NoError(t, err)
	assert.True(t, p.DeferredTo.IsZero())
	stored, err = s.Payment(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, p, stored)
	due, err = s.DuePayments(ctx, payflow.StateApproving, t0, 10)
	require.NoError(t, err)
	assert.Equal(t, []payflow.ID{{4}}, ids(due), "updated at t0 and no longer deferred")

	cap := payment(5, payflow.StateCaptured, t0)
	cap.Captured = 690
	cap, err = w.insert(cap)
	require.NoError(t, err)
	var refunds []*payflow.RefundRecord
	for i, created := range []time.Duration{0, 5} {
		r := &payflow.RefundRecord{ID: payflow.ID{0x51, byte(i)}, RequestID: cap.ID, State: payflow.RefundPending, Amount: 10,
			Currency: "EUR", Request: []byte("signed refund"), Hash: bytes.Repeat([]byte{0xbb}, 32), CreatedAt: t0.Add(created * time.Second)}
		cap.Refunded += 10
		r.Refunded = cap.Refunded
		_, err := w.refund(r, cap)
		require.NoError(t, err)
		refunds = append(refunds, r)
	}
	deferred := *refunds[0]
	deferred.DeferredTo = t0.Add(10 * time.Second)
	require.NoError(t, s.UpdateRefund(ctx, &deferred, payflow.RefundPending, nil, ""))
	got, err := s.Refund(ctx, deferred.ID)
	require.NoError(t, err)
	assert.Equal(t, &deferred, got, "DeferredTo kept as written")
	rs, err := s.DueRefunds(ctx, t0.Add(10*time.Second-1), 10)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	assert.Equal(t, refunds[1].ID, rs[0].ID, "deferred after its creation")
	rs, err = s.DueRefunds(ctx, t0.Add(10*time.Second), 10)
	require.NoError(t, err)
	require.Len(t, rs, 2)
	assert.Equal(t, []payflow.ID{refunds[1].ID, deferred.ID}, []payflow.ID{rs[0].ID, rs[1].ID}, "by the later of both")

	p = payment(6, payflow.StateApproving, t0.Add(time.Hour))
	p, err = w.insert(p)
	require.NoError(t, err)
	p.DeferredTo = t0.Add(time.Minute)
	require.NoError(t, s.UpdatePayment(ctx, p, payflow.StateApproving))
	done := *got
	done.State, done.Receipt = payflow.RefundDone, []byte("receipt")
	p.State = payflow.StateCaptured
	require.NoError(t, s.UpdateRefund(ctx, &done, payflow.RefundPending, p, payflow.StateApproving))
	assert.True(t, p.DeferredTo.IsZero(), "cleared in the request written with the refund")
	stored, err = s.Payment(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, p, stored, "and in the store")
}

// testPendingAgain: a request written back to pending (as a refused hold
// puts it) is due at its ExpiresAt as stored: the ExpiresAt of the record
// written, an immutable field, is not written and counts for nothing, in
// UpdatePayment, Accept's Update and UpdateRefund's alike.
func testPendingAgain(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	w := &writer{s: s}
	r := pendingRefund(t, w, 9)
	for i, write := range []func(p *payflow.PaymentRecord) error{
		func(p *payflow.PaymentRecord) error { return s.UpdatePayment(ctx, p, payflow.StateApproving) },
		func(p *payflow.PaymentRecord) error {
			_, err := w.accept(payflow.Acceptance{Update: p, From: payflow.StateApproving})
			return err
		},
		func(p *payflow.PaymentRecord) error {
			done := *r
			done.State = payflow.RefundDone
			if err := s.UpdateRefund(ctx, &done, payflow.RefundPending, p, payflow.StateApproving); err != nil {
				return err
			}
			r.Version = done.Version
			return nil
		},
	} {
		p, err := w.insert(payment(byte(1+i), payflow.StatePending, t0.Add(time.Hour)))
		require.NoError(t, err)
		p.State = payflow.StateApproving
		require.NoError(t, s.UpdatePayment(ctx, p, payflow.StatePending))
		again := *p
		again.State, again.ExpiresAt = payflow.StatePending, t0 // not written
		require.NoError(t, write(&again), "write %d", i)
		stored, err := s.Payment(ctx, p.ID)
		require.NoError(t, err)
		assert.Equal(t, t0.Add(time.Hour), stored.ExpiresAt, "write %d", i)
		due, err := s.DuePayments(ctx, payflow.StatePending, t0.Add(time.Hour-1), 10)
		require.NoError(t, err)
		assert.Empty(t, due, "write %d: not due before its stored expiry", i)
		due, err = s.DuePayments(ctx, payflow.StatePending, t0.Add(time.Hour), 10)
		require.NoError(t, err)
		assert.Len(t, due, 1, "write %d: due at its stored expiry", i)
		p, err = s.Payment(ctx, p.ID)
		require.NoError(t, err)
		p.State = payflow.StateCancelled
		require.NoError(t, s.UpdatePayment(ctx, p, payflow.StatePending))
	}
}

// pendingRefund stores, through w, a captured payment request with the
// ID {id} and a pending refund of 10 of it, and returns the refund as
// stored.
func pendingRefund(t *testing.T, w *writer, id byte) *payflow.RefundRecord {
	t.Helper()
	p := payment(id, payflow.StateCaptured, t0)
	p.Captured, p.Refunded = 690, 10
	p, err := w.insert(p)
	require.NoError(t, err)
	r := &payflow.RefundRecord{ID: payflow.ID{0x51}, RequestID: p.ID, State: payflow.RefundPending, Amount: 10, Currency: "EUR",
		Request: []byte("signed refund"), Hash: bytes.Repeat([]byte{0xbb}, 32), Refunded: 10, CreatedAt: t0}
	_, err = w.refund(r, p)
	require.NoError(t, err)
	return r
}

// testRefundDeferralRace: UpdateRefund compares the refund as it was
// read, not only its state: of two processes that read one pending refund
// and defer it (as RecoverSweep does after a try that failed), the one
// that writes second finds it changed, and the first one's deferral
// stays; so does the end of a refund written from a read older than a
// deferral.
func testRefundDeferralRace(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	r := pendingRefund(t, &writer{s: s}, 1)
	assert.Equal(t, uint64(1), r.Version, "the version Accept sets")
	first, err := s.Refund(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), first.Version, "the version stored")
	second := *first

	first.DeferredTo = t0.Add(time.Hour)
	require.NoError(t, s.UpdateRefund(ctx, first, payflow.RefundPending, nil, ""))
	second.DeferredTo = t0.Add(time.Minute)
	assert.ErrorIs(t, s.UpdateRefund(ctx, &second, payflow.RefundPending, nil, ""), payflow.ErrConflict)
	stored, err := s.Refund(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, first, stored, "the first deferral kept")
	due, err := s.DueRefunds(ctx, t0.Add(time.Minute), 10)
	require.NoError(t, err)
	assert.Empty(t, due, "not due at the second one's time")

	done := second
	done.State, done.Receipt, done.DeferredTo = payflow.RefundDone, []byte("receipt"), time.Time{}
	assert.ErrorIs(t, s.UpdateRefund(ctx, &done, payflow.RefundPending, nil, ""), payflow.ErrConflict, "read before the deferral")
	done = *stored
	done.State, done.Receipt = payflow.RefundDone, []byte("receipt")
	require.NoError(t, s.UpdateRefund(ctx, &done, payflow.RefundPending, nil, ""))
	stored, err = s.Refund(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, &done, stored)
}

// testDueLimits: a limit of zero lists nothing, a negative one is
// refused with ErrInvalid by every store alike.
func testDueLimits(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	_, err := (&writer{s: s}).insert(payment(1, payflow.StatePending, t0))
	require.NoError(t, err)
	due, err := s.DuePayments(ctx, payflow.StatePending, t0, 0)
	require.NoError(t, err)
	assert.Empty(t, due)
	refunds, err := s.DueRefunds(ctx, t0, 0)
	require.NoError(t, err)
	assert.Empty(t, refunds)
	for _, limit := range []int{-1, math.MinInt} {
		_, err = s.DuePayments(ctx, payflow.StatePending, t0, limit)
		assert.ErrorIs(t, err, payflow.ErrInvalid, "DuePayments, limit %d", limit)
		_, err = s.DueRefunds(ctx, t0, limit)
		assert.ErrorIs(t, err, payflow.ErrInvalid, "DueRefunds, limit %d", limit)
	}
}

// testLookupIdempotent: a store that is a payflow.ReplyReader reads a
// key as BeginIdempotent finds it (absent or expired: nil; in flight,
// another body, a finished reply) and claims nothing; a store that is no
// ReplyReader is skipped.
func testLookupIdempotent(t *testing.T, s payflow.Store) {
	r, ok := s.(payflow.ReplyReader)
	if !ok {
		t.Skip("not a payflow.ReplyReader")
	}
	ctx := context.Background()
	h1, h2 := sha256.Sum256([]byte("body 1")), sha256.Sum256([]byte("body 2"))
	lease, keep := t0.Add(time.Minute), t0.Add(24*time.Hour)
	rep, err := r.LookupIdempotent(ctx, "k", h1[:], t0)
	require.NoError(t, err)
	assert.Nil(t, rep, "no key")
	rep, err = s.BeginIdempotent(ctx, "k", h1[:], t0, lease)
	require.NoError(t, err)
	require.Nil(t, rep, "the lookup claimed nothing")
	_, err = r.LookupIdempotent(ctx, "k", h1[:], t0)
	assert.ErrorIs(t, err, payflow.ErrInFlight)
	_, err = r.LookupIdempotent(ctx, "k", h2[:], t0)
	assert.ErrorIs(t, err, payflow.ErrKeyReuse)
	rep, err = r.LookupIdempotent(ctx, "k", h1[:], lease)
	require.NoError(t, err)
	assert.Nil(t, rep, "a lease run out")
	require.NoError(t, s.FinishIdempotent(ctx, "k", lease, 201, nil, keep))
	rep, err = r.LookupIdempotent(ctx, "k", h1[:], t0)
	require.NoError(t, err)
	assert.Equal(t, &payflow.IdempotentReply{Status: 201, Reply: []byte{}}, rep)
	_, err = r.LookupIdempotent(ctx, "k", h2[:], t0)
	assert.ErrorIs(t, err, payflow.ErrKeyReuse)
	rep, err = r.LookupIdempotent(ctx, "k", h2[:], keep)
	require.NoError(t, err)
	assert.Nil(t, rep, "an expired reply")
	rep, err = s.BeginIdempotent(ctx, "k", h1[:], t0, lease)
	require.NoError(t, err)
	assert.Equal(t, &payflow.IdempotentReply{Status: 201, Reply: []byte{}}, rep, "the lookups changed nothing")
	_, err = r.LookupIdempotent(ctx, "k", nil, t0)
	assert.ErrorIs(t, err, payflow.ErrInvalid, "no body hash")
	_, err = r.LookupIdempotent(ctx, "k", h1[:], time.Time{})
	assert.ErrorIs(t, err, payflow.ErrInvalid, "the zero time as now")

	// A key that no store keeps is refused, as BeginIdempotent refuses it;
	// one of MaxKeySize bytes is looked up, and has no entry.
	for _, bad := range []string{"a\x00b", "\xff", string(longKey(payflow.MaxKeySize + 1))} {
		rep, err := r.LookupIdempotent(ctx, bad, h1[:], t0)
		assert.ErrorIs(t, err, payflow.ErrInvalid, "key %q", bad)
		assert.Nil(t, rep, "key %q", bad)
		_, err = s.BeginIdempotent(ctx, bad, h1[:], t0, lease)
		assert.ErrorIs(t, err, payflow.ErrInvalid, "key %q claimed", bad)
	}
	rep, err = r.LookupIdempotent(ctx, string(longKey(payflow.MaxKeySize)), h1[:], t0)
	assert.NoError(t, err)
	assert.Nil(t, rep)
}

// testIdempotency: BeginIdempotent gives a new key to its caller (nil),
// answers a key in flight ErrInFlight, one of another body ErrKeyReuse
// and a finished one with its reply until the reply expires, then forgets
// it; FinishIdempotent finishes a key only once and only under its lease
// (ErrNotFound otherwise, and for a key never begun); AbandonIdempotent
// frees a key in flight under its lease and leaves a finished one; a
// lease that ran out is taken over; a reply without a body is replayed
// empty, not nil; of concurrent first claims exactly one holds the key.
func testIdempotency(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	h1, h2 := sha256.Sum256([]byte("body 1")), sha256.Sum256([]byte("body 2"))
	lease, keep := t0.Add(time.Minute), t0.Add(24*time.Hour)
	rep, err := s.BeginIdempotent(ctx, "k", h1[:], t0, lease)
	require.NoError(t, err)
	assert.Nil(t, rep, "a new key is the caller's")
	_, err = s.BeginIdempotent(ctx, "k", h1[:], t0, lease)
	assert.ErrorIs(t, err, payflow.ErrInFlight)
	_, err = s.BeginIdempotent(ctx, "k", h2[:], t0, lease)
	assert.ErrorIs(t, err, payflow.ErrKeyReuse)
	require.NoError(t, s.FinishIdempotent(ctx, "k", lease, 201, []byte("reply"), keep))
	assert.ErrorIs(t, s.FinishIdempotent(ctx, "k", lease, 200, []byte("again"), keep), payflow.ErrNotFound)
	// A reply kept until its lease is finished no more under that lease.
	_, err = s.BeginIdempotent(ctx, "f", h1[:], t0, lease)
	require.NoError(t, err)
	require.NoError(t, s.FinishIdempotent(ctx, "f", lease, 201, []byte("reply"), lease))
	assert.ErrorIs(t, s.FinishIdempotent(ctx, "f", lease, 200, []byte("again"), lease), payflow.ErrNotFound)
	rep, err = s.BeginIdempotent(ctx, "f", h1[:], t0, lease)
	require.NoError(t, err)
	assert.Equal(t, &payflow.IdempotentReply{Status: 201, Reply: []byte("reply")}, rep, "the first reply kept")
	assert.ErrorIs(t, s.FinishIdempotent(ctx, "nokey", lease, 200, nil, keep), payflow.ErrNotFound)
	rep, err = s.BeginIdempotent(ctx, "k", h1[:], t0.Add(time.Hour), lease)
	require.NoError(t, err)
	assert.Equal(t, &payflow.IdempotentReply{Status: 201, Reply: []byte("reply")}, rep)
	_, err = s.BeginIdempotent(ctx, "k", h2[:], t0.Add(time.Hour), lease)
	assert.ErrorIs(t, err, payflow.ErrKeyReuse)
	require.NoError(t, s.AbandonIdempotent(ctx, "k", keep))
	rep, err = s.BeginIdempotent(ctx, "k", h1[:], t0, lease)
	require.NoError(t, err)
	assert.Equal(t, &payflow.IdempotentReply{Status: 201, Reply: []byte("reply")}, rep, "a finished key is not abandoned")
	rep, err = s.BeginIdempotent(ctx, "k", h2[:], keep, keep.Add(time.Minute))
	require.NoError(t, err)
	assert.Nil(t, rep, "an expired reply is forgotten")

	// A lease that ran out is taken over, and the first holder can then
	// neither finish nor abandon the key; an abandoned key is free.
	_, err = s.BeginIdempotent(ctx, "l", h1[:], t0, lease)
	require.NoError(t, err)
	lease2 := lease.Add(time.Minute)
	rep, err = s.BeginIdempotent(ctx, "l", h2[:], lease, lease2)
	require.NoError(t, err)
	assert.Nil(t, rep)
	assert.ErrorIs(t, s.FinishIdempotent(ctx, "l", lease, 200, []byte("first"), keep), payflow.ErrNotFound)
	require.NoError(t, s.AbandonIdempotent(ctx, "l", lease))
	_, err = s.BeginIdempotent(ctx, "l", h2[:], lease, lease2)
	assert.ErrorIs(t, err, payflow.ErrInFlight, "the second holder keeps the key")
	require.NoError(t, s.AbandonIdempotent(ctx, "l", lease2))
	rep, err = s.BeginIdempotent(ctx, "l", h2[:], t0, lease)
	require.NoError(t, err)
	assert.Nil(t, rep)

	// A reply without a body, nil or empty, is replayed as an empty,
	// non-nil one, as a SQL store reads it back.
	for _, body := range [][]byte{nil, {}} {
		key := fmt.Sprintf("empty %v", body == nil)
		_, err = s.BeginIdempotent(ctx, key, h1[:], t0, lease)
		require.NoError(t, err)
		require.NoError(t, s.FinishIdempotent(ctx, key, lease, 204, body, keep))
		rep, err = s.BeginIdempotent(ctx, key, h1[:], t0, lease)
		require.NoError(t, err)
		assert.Equal(t, &payflow.IdempotentReply{Status: 204, Reply: []byte{}}, rep, "a reply of body %#v", body)
	}

	oneWins(t, payflow.ErrInFlight, func(int) error {
		rep, err := s.BeginIdempotent(ctx, "race", h1[:], t0, lease)
		if err == nil && rep != nil {
			return fmt.Errorf("a reply (status %d) to a key never finished", rep.Status)
		}
		return err
	}, "of concurrent first requests exactly one holds the key")
}

// testDeleteExpired: DeleteExpired(now) deletes, and counts, the nonces
// issued and used, tokens, sessions and idempotency keys (by their lease)
// that expire at or before now, and keeps those that expire after it.
func testDeleteExpired(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	w := &writer{s: s}
	for i := range 3 {
		exp := t0.Add(time.Duration(i-1) * time.Second) // -1 s, 0, +1 s
		require.NoError(t, s.Add(ctx, []byte(fmt.Sprint("nonce", i)), exp))
		require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: []byte(fmt.Sprint("used", i)), NonceExpires: exp,
			CardID: "8900000000000000001", Counter: uint64(i + 1)}))
		h := sha256.Sum256([]byte(fmt.Sprint("token", i)))
		require.NoError(t, w.token(&payflow.TokenRecord{Hash: h[:], CardID: "8900000000000000001", CertHash: certHash, ExpiresAt: exp}))
		_, err := w.session(&payflow.SessionRecord{ID: payflow.ID{byte(i + 1)}, ShopperCardID: "8900000000000000001",
			SellerCardID: "8900000000000000002", ShopperEID: []byte{1}, SellerEID: []byte{2}, ExpiresAt: exp})
		require.NoError(t, err)
		_, err = s.BeginIdempotent(ctx, fmt.Sprint("key", i), []byte{1}, t0.Add(-time.Hour), exp)
		require.NoError(t, err)
	}
	n, err := s.DeleteExpired(ctx, t0)
	require.NoError(t, err)
	assert.Equal(t, 10, n, "two of each of the five kinds")
	assert.ErrorIs(t, s.Consume(ctx, []byte("nonce1"), t0.Add(-time.Second)), pki.ErrNonce, "an issued nonce expired is gone")
	require.NoError(t, s.Consume(ctx, []byte("nonce2"), t0))
	assert.ErrorIs(t, s.Accept(ctx, &payflow.Acceptance{Nonce: []byte("used2"), NonceExpires: t0.Add(time.Second),
		CardID: "8900000000000000001", Counter: 9}), pki.ErrNonce, "a used nonce is kept until it expires")
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: []byte("used1"), NonceExpires: t0.Add(time.Second),
		CardID: "8900000000000000001", Counter: 10}), "an expired one is gone")
	h := sha256.Sum256([]byte("token2"))
	_, err = s.Token(ctx, h[:])
	assert.NoError(t, err)
	h = sha256.Sum256([]byte("token1"))
	_, err = s.Token(ctx, h[:])
	assert.ErrorIs(t, err, payflow.ErrNotFound, "an expired token is gone")
	_, err = s.Session(ctx, payflow.ID{3})
	assert.NoError(t, err)
	_, err = s.Session(ctx, payflow.ID{2})
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	_, err = s.BeginIdempotent(ctx, "key2", []byte{1}, t0, t0.Add(time.Minute))
	assert.ErrorIs(t, err, payflow.ErrInFlight, "the key leased past now is kept")
	rep, err := s.BeginIdempotent(ctx, "key1", []byte{2}, t0.Add(-time.Hour), t0.Add(time.Minute))
	require.NoError(t, err, "a key whose lease ran out is gone: another body may take it")
	assert.Nil(t, rep)
}

// testDeleteExpiredMany: DeleteExpired deletes every row expired, and
// counts them exactly, when they are more than a batch of the stores that
// delete in batches (256 rows), of one kind and of two; the rows
// unexpired are kept, and a second call finds none.
func testDeleteExpiredMany(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	for i := range 600 {
		require.NoError(t, s.Add(ctx, []byte(fmt.Sprint("nonce", i)), t0))
	}
	require.NoError(t, s.Add(ctx, []byte("kept"), t0.Add(time.Second)))
	for i := range 300 {
		_, err := s.BeginIdempotent(ctx, fmt.Sprint("key", i), []byte{1}, t0.Add(-time.Hour), t0)
		require.NoError(t, err)
	}
	_, err := s.BeginIdempotent(ctx, "kept", []byte{1}, t0.Add(-time.Hour), t0.Add(time.Second))
	require.NoError(t, err)
	n, err := s.DeleteExpired(ctx, t0)
	require.NoError(t, err)
	assert.Equal(t, 900, n)
	n, err = s.DeleteExpired(ctx, t0)
	require.NoError(t, err)
	assert.Zero(t, n, "none left")
	assert.ErrorIs(t, s.Consume(ctx, []byte("nonce599"), t0.Add(-time.Second)), pki.ErrNonce, "an expired nonce is gone")
	assert.NoError(t, s.Consume(ctx, []byte("kept"), t0), "the unexpired nonce is kept")
	_, err = s.BeginIdempotent(ctx, "kept", []byte{1}, t0, t0.Add(time.Hour))
	assert.ErrorIs(t, err, payflow.ErrInFlight, "the unexpired key is kept")
	_, err = s.BeginIdempotent(ctx, "key299", []byte{2}, t0.Add(-time.Hour), t0.Add(time.Hour))
	assert.NoError(t, err, "an expired key is gone: another body may take it")
}

// testAccept: Accept spends a nonce and advances the card's counter with
// its write, all or nothing: a nonce is used once (pki.ErrNonce, checked
// first), a counter not above the card's last is a pki.CounterError (0
// too, for a card never seen), one above 2^63-1 is refused as Advance
// refuses it, and a token hash taken or a lost compare-and-set is
// ErrConflict, each leaving nonce and counter as they were; a session
// accepted is returned as stored, an insert under a stored ID returns the
// stored request; of concurrent acceptances of one nonce exactly one wins.
func testAccept(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	id := "8900000000000000001"
	n1, n2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	exp := t0.Add(time.Minute)
	accept := func(n []byte, counter uint64) error {
		return s.Accept(ctx, &payflow.Acceptance{Nonce: n, NonceExpires: exp, CardID: id, Counter: counter})
	}
	require.NoError(t, accept(n1, 3))
	assert.ErrorIs(t, accept(n1, 4), pki.ErrNonce, "a nonce is used once")
	var ce *pki.CounterError
	require.ErrorAs(t, accept(n2, 3), &ce)
	assert.Equal(t, pki.CounterError{CardID: id, Last: 3, Got: 3}, *ce)
	// The refused counter left the nonce unused: both or neither.
	require.NoError(t, accept(n2, 4))
	require.NoError(t, accept(nil, 5), "records without a nonce")
	fresh := "8900000000000000003"
	for _, n := range [][]byte{nil, bytes.Repeat([]byte{8}, 32)} {
		err := s.Accept(ctx, &payflow.Acceptance{Nonce: n, NonceExpires: exp, CardID: fresh, Counter: 0})
		require.ErrorAs(t, err, &ce, "counter 0 of a card never seen")
		assert.Equal(t, pki.CounterError{CardID: fresh, Last: 0, Got: 0}, *ce)
	}
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: bytes.Repeat([]byte{8}, 32), NonceExpires: exp, CardID: fresh, Counter: 1}),
		"the refused counter 0 left the nonce unused")
	assert.ErrorIs(t, accept(nil, 5), pki.ErrCounterRegression)
	assert.ErrorIs(t, s.Advance(ctx, id, 5), pki.ErrCounterRegression, "Accept and Advance share the counter")
	require.ErrorAs(t, accept(nil, math.MaxInt64+1), &ce)
	assert.Equal(t, pki.CounterError{CardID: id, Last: math.MaxInt64, Got: math.MaxInt64 + 1}, *ce, "as Advance refuses it")
	assert.ErrorIs(t, accept(n1, math.MaxInt64+1), pki.ErrNonce, "the nonce is checked first")

	// A write commits with the acceptance, or neither does.
	h := sha256.Sum256([]byte("token"))
	tok := &payflow.TokenRecord{Hash: h[:], CardID: id, CertHash: certHash, ExpiresAt: exp}
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: bytes.Repeat([]byte{3}, 32), NonceExpires: exp, CardID: id, Counter: 6, Token: tok}))
	got, err := s.Token(ctx, h[:])
	require.NoError(t, err)
	assert.Equal(t, tok, got)
	n4 := bytes.Repeat([]byte{4}, 32)
	assert.ErrorIs(t, s.Accept(ctx, &payflow.Acceptance{Nonce: n4, NonceExpires: exp, CardID: id, Counter: 7, Token: tok}),
		payflow.ErrConflict, "a token hash taken")
	require.NoError(t, accept(n4, 7), "the failed write left nonce and counter as they were")

	sess := &payflow.SessionRecord{ID: payflow.ID{9}, ShopperCardID: id, SellerCardID: "8900000000000000002", MerchantID: "m",
		ShopperEID: bytes.Repeat([]byte{1}, 16), SellerEID: bytes.Repeat([]byte{2}, 16), ShopperConfirmed: true, ExpiresAt: t0}
	a := &payflow.Acceptance{CardID: id, Counter: 8, Session: sess}
	require.NoError(t, s.Accept(ctx, a))
	assert.Equal(t, sess, a.Session)
	seller := *sess
	seller.ShopperConfirmed, seller.SellerConfirmed = false, true
	a = &payflow.Acceptance{CardID: "8900000000000000002", Counter: 1, Session: &seller}
	require.NoError(t, s.Accept(ctx, a))
	assert.True(t, a.Session.ShopperConfirmed && a.Session.SellerConfirmed, "the stored session is returned")

	p := payment(1, payflow.StatePending, t0.Add(time.Minute))
	a = &payflow.Acceptance{CardID: id, Counter: 9, Insert: p}
	require.NoError(t, s.Accept(ctx, a))
	want := *p
	want.Version = 1
	assert.Equal(t, &want, a.Insert)
	other := payment(1, payflow.StatePending, t0)
	other.Request = []byte("another request")
	a = &payflow.Acceptance{CardID: id, Counter: 10, Insert: other}
	require.NoError(t, s.Accept(ctx, a))
	assert.Equal(t, &want, a.Insert, "an existing ID returns the stored request")

	up := want
	up.State, up.UpdatedAt = payflow.StateApproving, t0.Add(time.Second)
	stale := up
	stale.Version = 5
	n5 := bytes.Repeat([]byte{5}, 32)
	assert.ErrorIs(t, s.Accept(ctx, &payflow.Acceptance{Nonce: n5, NonceExpires: exp, CardID: id, Counter: 11, Update: &stale, From: payflow.StatePending}),
		payflow.ErrConflict, "a lost compare-and-set")
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: n5, NonceExpires: exp, CardID: id, Counter: 11, Update: &up, From: payflow.StatePending}),
		"the lost compare-and-set left nonce and counter as they were")
	assert.Equal(t, uint64(2), up.Version)
	stored, err := s.Payment(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, &up, stored)
	assert.ErrorIs(t, s.Accept(ctx, &payflow.Acceptance{Nonce: n1, NonceExpires: exp, CardID: id, Counter: 12, Update: &up, From: payflow.StateApproving}),
		pki.ErrNonce, "the nonce is checked before the write")
	stored, err = s.Payment(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateApproving, stored.State)

	// Of concurrent acceptances of one nonce exactly one wins.
	race := bytes.Repeat([]byte{6}, 32)
	oneWins(t, pki.ErrNonce, func(i int) error {
		return s.Accept(ctx, &payflow.Acceptance{Nonce: race, NonceExpires: exp, CardID: fmt.Sprint("89000000000000001", i), Counter: 1})
	}, "a nonce is accepted once")
}

// testNonceKey: NonceKey refuses an empty candidate with ErrInvalid,
// stores the first candidate and returns it, and returns it for every
// later candidate.
func testNonceKey(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	for _, empty := range [][]byte{nil, {}} {
		_, err := s.NonceKey(ctx, empty)
		assert.ErrorIs(t, err, payflow.ErrInvalid, "an empty candidate %#v", empty)
	}
	got, err := s.NonceKey(ctx, k1)
	require.NoError(t, err)
	assert.Equal(t, k1, got, "the first candidate is stored")
	got, err = s.NonceKey(ctx, k2)
	require.NoError(t, err)
	assert.Equal(t, k1, got, "later candidates are ignored")
}

// oneWins runs try in 8 goroutines at once and checks that exactly one
// succeeds and that every other fails with an error matching loser (any
// error when loser is nil).
func oneWins(t *testing.T, loser error, try func(i int) error, msg string) {
	t.Helper()
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := try(i); err == nil {
				wins.Add(1)
			} else if loser != nil {
				assert.ErrorIs(t, err, loser, msg)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load(), msg)
}

// testAmounts: amounts up to 2^63-1 are kept exactly; one above, which no
// SQL integer holds, is refused with ErrInvalid and nothing is written.
func testAmounts(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	const most, over = math.MaxInt64, math.MaxInt64 + 1
	require.NoError(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR"}))
	require.NoError(t, s.SetCatalog(ctx, "m", []payflow.CatalogItem{{SKU: "a", Name: "A", UnitPrice: most}}))
	assert.ErrorIs(t, s.SetCatalog(ctx, "m", []payflow.CatalogItem{{SKU: "b", Name: "B", UnitPrice: over}}), payflow.ErrInvalid)
	items, err := s.Catalog(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, []payflow.CatalogItem{{SKU: "a", Name: "A", UnitPrice: most}}, items)

	id := "8900000000000000001"
	nonce := bytes.Repeat([]byte{1}, 32)
	exp := t0.Add(time.Minute)
	big := payment(1, payflow.StateCaptured, t0)
	big.Amount = over
	assert.ErrorIs(t, s.Accept(ctx, &payflow.Acceptance{Nonce: nonce, NonceExpires: exp, CardID: id, Counter: 1, Insert: big}), payflow.ErrInvalid)
	_, err = s.Payment(ctx, big.ID)
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	p := payment(1, payflow.StateCaptured, t0)
	p.Amount, p.CaptureAmount, p.Captured = most, most, most
	a := &payflow.Acceptance{Nonce: nonce, NonceExpires: exp, CardID: id, Counter: 1, Insert: p}
	require.NoError(t, s.Accept(ctx, a), "the refused insert left nonce and counter as they were")
	stored, err := s.Payment(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, a.Insert, stored)
	assert.Equal(t, [3]uint64{most, most, most}, [3]uint64{stored.Amount, stored.CaptureAmount, stored.Captured})

	for _, set := range []func(*payflow.PaymentRecord){
		func(p *payflow.PaymentRecord) { p.CaptureAmount = over },
		func(p *payflow.PaymentRecord) { p.Captured = over },
		func(p *payflow.PaymentRecord) { p.Refunded = over },
	} {
		up := *stored
		set(&up)
		assert.ErrorIs(t, s.UpdatePayment(ctx, &up, payflow.StateCaptured), payflow.ErrInvalid)
		assert.ErrorIs(t, s.Accept(ctx, &payflow.Acceptance{CardID: id, Counter: 2, Update: &up, From: payflow.StateCaptured}), payflow.ErrInvalid)
	}
	again, err := s.Payment(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, stored, again, "refused updates write nothing")

	r := &payflow.RefundRecord{ID: payflow.ID{0x51}, RequestID: p.ID, State: payflow.RefundPending, Amount: over, Currency: "EUR",
		Request: []byte("signed refund"), Hash: bytes.Repeat([]byte{0xbb}, 32), Refunded: 5, CreatedAt: t0}
	reserve := *stored
	reserve.Refunded = 5
	assert.ErrorIs(t, s.Accept(ctx, &payflow.Acceptance{CardID: id, Counter: 2, Refund: r, Update: &reserve, From: payflow.StateCaptured}), payflow.ErrInvalid)
	_, err = s.Refund(ctx, r.ID)
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	r.Amount = 5
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{CardID: id, Counter: 2, Refund: r, Update: &reserve, From: payflow.StateCaptured}))
	done := *r
	done.State, done.Refunded = payflow.RefundDone, over
	assert.ErrorIs(t, s.UpdateRefund(ctx, &done, payflow.RefundPending, nil, ""), payflow.ErrInvalid)
	done.Refunded = 5
	moved := reserve
	moved.Captured = over
	assert.ErrorIs(t, s.UpdateRefund(ctx, &done, payflow.RefundPending, &moved, payflow.StateCaptured), payflow.ErrInvalid)
	got, err := s.Refund(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, r, got, "refused updates write nothing")
}

// testMissingFields: a record without one of the byte strings it must
// have (a card's advertising secret, a token's hash or certificate hash, a
// session's EIDs, a payment request's or a refund's signed request and
// hash, an idempotent request's body hash), nil or empty, is refused with
// ErrInvalid in every store, and nothing of it is written: nonce and
// counter stay usable.
func testMissingFields(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	for _, empty := range [][]byte{nil, {}} {
		c := card("8900000000000000001")
		c.AdvSecret = empty
		assert.ErrorIs(t, s.PutCard(ctx, c), payflow.ErrInvalid, "card without a secret (%v)", empty)
		_, err := s.Card(ctx, c.ID)
		assert.ErrorIs(t, err, payflow.ErrNotFound)

		_, err = s.BeginIdempotent(ctx, "k", empty, t0, t0.Add(time.Minute))
		assert.ErrorIs(t, err, payflow.ErrInvalid, "idempotent request without a body hash (%v)", empty)
	}

	id := "8900000000000000001"
	nonce := bytes.Repeat([]byte{1}, 32)
	exp := t0.Add(time.Minute)
	h := sha256.Sum256([]byte("token"))
	session := func() *payflow.SessionRecord {
		return &payflow.SessionRecord{ID: payflow.ID{9}, ShopperCardID: id, SellerCardID: "8900000000000000002",
			ShopperEID: bytes.Repeat([]byte{1}, 16), SellerEID: bytes.Repeat([]byte{2}, 16), ExpiresAt: t0}
	}
	captured := payment(1, payflow.StateCaptured, t0)
	captured.Captured = 690
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{CardID: id, Counter: 1, Insert: captured}))
	stored, err := s.Payment(ctx, captured.ID)
	require.NoError(t, err)
	refund := func() (*payflow.RefundRecord, *payflow.PaymentRecord) {
		reserve := *stored
		reserve.Refunded = 5
		return &payflow.RefundRecord{ID: payflow.ID{0x51}, RequestID: stored.ID, State: payflow.RefundPending, Amount: 5, Currency: "EUR",
			Request: []byte("signed refund"), Hash: bytes.Repeat([]byte{0xbb}, 32), Refunded: 5, CreatedAt: t0}, &reserve
	}
	for _, empty := range [][]byte{nil, {}} {
		for name, a := range map[string]*payflow.Acceptance{
			"token hash":             {Token: &payflow.TokenRecord{Hash: empty, CardID: id, CertHash: certHash, ExpiresAt: exp}},
			"token certificate hash": {Token: &payflow.TokenRecord{Hash: h[:], CardID: id, CertHash: empty, ExpiresAt: exp}},
			"shopper EID":            {Session: func() *payflow.SessionRecord { r := session(); r.ShopperEID = empty; return r }()},
			"seller EID":             {Session: func() *payflow.SessionRecord { r := session(); r.SellerEID = empty; return r }()},
			"request": {Insert: func() *payflow.PaymentRecord {
				p := payment(2, payflow.StatePending, t0)
				p.Request = empty
				return p
			}()},
			"request hash": {Insert: func() *payflow.PaymentRecord {
				p := payment(2, payflow.StatePending, t0)
				p.RequestHash = empty
				return p
			}()},
			"refund request": func() *payflow.Acceptance {
				r, p := refund()
				r.Request = empty
				return &payflow.Acceptance{Refund: r, Update: p, From: payflow.StateCaptured}
			}(),
			"refund hash": func() *payflow.Acceptance {
				r, p := refund()
				r.Hash = empty
				return &payflow.Acceptance{Refund: r, Update: p, From: payflow.StateCaptured}
			}(),
		} {
			a.Nonce, a.NonceExpires, a.CardID, a.Counter = nonce, exp, id, 2
			assert.ErrorIs(t, s.Accept(ctx, a), payflow.ErrInvalid, "%s (%v)", name, empty)
		}
	}
	_, err = s.Token(ctx, h[:])
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	_, err = s.Session(ctx, payflow.ID{9})
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	_, err = s.Payment(ctx, payflow.ID{2})
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	_, err = s.Refund(ctx, payflow.ID{0x51})
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	again, err := s.Payment(ctx, stored.ID)
	require.NoError(t, err)
	assert.Equal(t, stored, again, "the refused refunds reserved nothing")
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: nonce, NonceExpires: exp, CardID: id, Counter: 2}),
		"the refused records left nonce and counter as they were")
}

// testLongLists: a payment request's lines and legs and a card's chain
// read back as written, however many they are: over the 1024 elements
// that a limit of a decoder could hold.
func testLongLists(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	c := card("8900000000000000001")
	c.Chain = make([][]byte, 1500)
	for i := range c.Chain {
		c.Chain[i] = []byte{byte(i), byte(i >> 8)}
	}
	require.NoError(t, s.PutCard(ctx, c))
	got, err := s.Card(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, c.Chain, got.Chain)
	n := 0
	require.NoError(t, s.Cards(ctx, func(got *payflow.CardRecord) error {
		n++
		assert.Equal(t, c.Chain, got.Chain)
		return nil
	}))
	assert.Equal(t, 1, n)

	p := payment(1, payflow.StatePending, t0)
	p.Lines, p.Legs = make([]payflow.Line, 1500), make([]payflow.AssetLeg, 1500)
	for i := range p.Lines {
		p.Lines[i] = payflow.Line{SKU: fmt.Sprint(i), Name: "A", Quantity: 1, UnitPrice: 1, Amount: 1}
		p.Legs[i] = payflow.AssetLeg{Asset: fmt.Sprint(i), Amount: 1}
	}
	_, err = (&writer{s: s}).insert(p)
	require.NoError(t, err)
	stored, err := s.Payment(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, p.Lines, stored.Lines)
	assert.Equal(t, p.Legs, stored.Legs)
	due, err := s.DuePayments(ctx, payflow.StatePending, t0, 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	assert.Equal(t, p.Lines, due[0].Lines)
}

// testUnstorableLease: a lease that no Store keeps (the Unix epoch, kept
// as the zero time in the SQL stores, or a time outside the years 1678 to
// 2262) names no claim in FinishIdempotent and AbandonIdempotent, not
// even the one of the zero time (which the Unix epoch is not): the key
// claimed under the zero lease is neither finished nor released, and is
// finished under its own.
func testUnstorableLease(t *testing.T, s payflow.Store) {
	ctx := context.Background()
	for i, lease := range []time.Time{at(0), time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)} {
		key := fmt.Sprint("k", i)
		got, err := s.BeginIdempotent(ctx, key, []byte{1}, t0, time.Time{})
		require.NoError(t, err)
		require.Nil(t, got, "claimed under the zero lease")
		assert.ErrorIs(t, s.FinishIdempotent(ctx, key, lease, 200, []byte("other"), t0.Add(time.Hour)), payflow.ErrNotFound,
			"finished under %v", lease)
		require.NoError(t, s.AbandonIdempotent(ctx, key, lease))
		require.NoError(t, s.FinishIdempotent(ctx, key, time.Time{}, 201, []byte("own"), t0.Add(time.Hour)),
			"still in flight under the zero lease after %v", lease)
		got, err = s.BeginIdempotent(ctx, key, []byte{1}, t0, t0.Add(time.Minute))
		require.NoError(t, err)
		assert.Equal(t, &payflow.IdempotentReply{Status: 201, Reply: []byte("own")}, got)
	}
}
