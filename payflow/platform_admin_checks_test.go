package payflow_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// cardPuts is a Store that counts the PutCard calls that reach it.
type cardPuts struct {
	payflow.Store
	mu   sync.Mutex
	puts int
}

func (s *cardPuts) PutCard(ctx context.Context, c *payflow.CardRecord) error {
	s.mu.Lock()
	s.puts++
	s.mu.Unlock()
	return s.Store.PutCard(ctx, c)
}

func (s *cardPuts) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}

// TestEnrollCardOfAnotherIssuer: a card whose chain does not verify with
// the platform's verifier (a card of another issuer) is refused as
// ErrCard, not as an internal error, and is not enrolled.
func TestEnrollCardOfAnotherIssuer(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	_, issuer, err := simcardtest.NewCA()
	require.NoError(t, err)
	v, err := simcardtest.NewCard(issuer, simcardtest.Options{})
	require.NoError(t, err)
	_, err = s.Platform.EnrollCard(ctx, v.Enrolment.Chain, v.Enrolment.AdvertisingSecret, "Mallory")
	require.ErrorIs(t, err, payflow.ErrCard)
	assert.Equal(t, 403, payflow.AsError(err).Status)
	_, err = s.Store.Card(ctx, v.Enrolment.ICCID)
	assert.ErrorIs(t, err, payflow.ErrNotFound)
}

// TestEnrollCardTamperedCertificate: a card whose certificate was changed
// after its issuer signed it (a byte of its serial number, or of its
// signature) is refused as ErrCard, the chain's signature not
// verifying, and is not enrolled; the certificate as signed is.
func TestEnrollCardTamperedCertificate(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, err := simcardtest.NewCard(s.Issuer, simcardtest.Options{})
	require.NoError(t, err)
	chain := v.Enrolment.Chain
	leaf, err := pki.ParseCertificate(chain[0])
	require.NoError(t, err)
	serial := leaf.SerialNumber.Bytes()
	require.Equal(t, 1, bytes.Count(chain[0], serial))
	for name, at := range map[string]int{
		"serial number": bytes.Index(chain[0], serial) + len(serial) - 1,
		"signature":     len(chain[0]) - 1,
	} {
		bad := slices.Clone(chain)
		bad[0] = bytes.Clone(chain[0])
		bad[0][at] ^= 0x01
		_, err := pki.ParseCertificate(bad[0])
		require.NoError(t, err, "%s: the certificate still parses", name)
		_, err = s.Platform.EnrollCard(ctx, bad, v.Enrolment.AdvertisingSecret, "Mallory")
		require.ErrorIs(t, err, payflow.ErrCard, name)
		assert.Equal(t, 403, payflow.AsError(err).Status, name)
		_, err = s.Store.Card(ctx, v.Enrolment.ICCID)
		assert.ErrorIs(t, err, payflow.ErrNotFound, name)
	}
	_, err = s.Platform.EnrollCard(ctx, chain, v.Enrolment.AdvertisingSecret, "Carol")
	require.NoError(t, err)
}

// TestEnrollCardCheckedBeforeTheStore: a card with an advertising secret
// of the wrong size, or a display name that receipts cannot carry (a
// bidirectional override, which a store keeps as any text), is refused
// with ErrInvalid before the store is asked to write it: a store that
// checks less than the memory store's keeps nothing of it.
func TestEnrollCardCheckedBeforeTheStore(t *testing.T) {
	ctx := context.Background()
	st := &cardPuts{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	v, err := simcardtest.NewCard(s.Issuer, simcardtest.Options{})
	require.NoError(t, err)
	before := st.count()

	_, err = s.Platform.EnrollCard(ctx, v.Enrolment.Chain, bytes.Repeat([]byte{0x3a}, adv.SecretSize-1), "Carol")
	require.ErrorIs(t, err, payflow.ErrInvalid)
	assert.ErrorIs(t, err, adv.ErrSecret)
	_, err = s.Platform.EnrollCard(ctx, v.Enrolment.Chain, v.Enrolment.AdvertisingSecret, "Carol\u202e")
	require.ErrorIs(t, err, payflow.ErrInvalid)
	assert.EqualError(t, err, `payflow: invalid request: record: display name must not contain bidirectional formatting characters or a byte-order mark`)
	assert.Equal(t, before, st.count(), "no write reached the store")
	_, err = s.Store.Card(ctx, v.Enrolment.ICCID)
	assert.ErrorIs(t, err, payflow.ErrNotFound)
}

// enrolReads is a Store whose first read of a card after each PutCard
// goes as set: failing with fail, or answering the card with its
// advertising secret cut short (cut). Its PutCard calls cancel, when set,
// once the card is written, and its reads fail once their context ends.
type enrolReads struct {
	payflow.Store
	mu     sync.Mutex
	cancel context.CancelFunc
	fail   error
	cut    bool
	armed  bool
}

func (s *enrolReads) PutCard(ctx context.Context, c *payflow.CardRecord) error {
	err := s.Store.PutCard(ctx, c)
	s.mu.Lock()
	s.armed = true
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	return err
}

func (s *enrolReads) Card(ctx context.Context, id string) (*payflow.CardRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	armed, fail, cut := s.armed, s.fail, s.cut
	s.armed = false
	s.mu.Unlock()
	c, err := s.Store.Card(ctx, id)
	switch {
	case !armed || err != nil:
		return c, err
	case fail != nil:
		return nil, fail
	case cut:
		short := *c
		short.AdvSecret = c.AdvSecret[:len(c.AdvSecret)-1]
		return &short, nil
	}
	return c, nil
}

// TestEnrollCardReadAfterWrite: EnrollCard reads the card it has written
// back from the store to enrol it in the EID resolver. That read does not
// end with the caller's context (ended once the write is made): the card
// enrolled resolves at once. A read that fails is EnrollCard's error, the
// card stored; a card read back with a secret that the resolver refuses
// is ErrInvalid.
func TestEnrollCardReadAfterWrite(t *testing.T) {
	st := &enrolReads{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	// enrol enrols a new card under name with ctx, the store's faults set
	// by fault for that enrolment alone.
	enrol := func(ctx context.Context, name string, fault func(*enrolReads)) (*simcardtest.Virtual, string, error) {
		t.Helper()
		v, err := simcardtest.NewCard(s.Issuer, simcardtest.Options{})
		require.NoError(t, err)
		st.mu.Lock()
		fault(st)
		st.mu.Unlock()
		id, err := s.Platform.EnrollCard(ctx, v.Enrolment.Chain, v.Enrolment.AdvertisingSecret, name)
		st.mu.Lock()
		st.cancel, st.fail, st.cut = nil, nil, false
		st.mu.Unlock()
		return v, id, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, id, err := enrol(ctx, "Carol", func(st *enrolReads) { st.cancel = cancel })
	require.NoError(t, err, "the context ended by the write")
	assert.Equal(t, v.Enrolment.ICCID, id)
	k, err := adv.NewEIDKey(v.Enrolment.AdvertisingSecret)
	require.NoError(t, err)
	eid := k.EID(adv.Epoch(s.Clock.Now()))
	r, err := s.Platform.Resolve(context.Background(), s.seller.Token, &payflow.ResolveRequest{EID: eid[:]})
	require.NoError(t, err)
	assert.Equal(t, "Carol", r.DisplayName)

	v, _, err = enrol(context.Background(), "Dave", func(st *enrolReads) { st.fail = errLost })
	require.ErrorIs(t, err, errLost, "the read lost")
	c, err := s.Store.Card(context.Background(), v.Enrolment.ICCID)
	require.NoError(t, err, "the card stored")
	assert.Equal(t, "Dave", c.DisplayName)

	_, _, err = enrol(context.Background(), "Erin", func(st *enrolReads) { st.cut = true })
	require.ErrorIs(t, err, payflow.ErrInvalid, "the secret read refused")
}

// TestEnrollMerchantRefusesBadFields: a merchant whose ID is no
// identifier of the records (not printable ASCII, or with a space at an
// end), whose name receipts cannot carry, or whose currency is unknown is
// refused with ErrInvalid naming the field, and leaves nothing: no
// merchant, and no ledger account.
func TestEnrollMerchantRefusesBadFields(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	for _, c := range []struct {
		m    payflow.Merchant
		want string
	}{
		{payflow.Merchant{ID: "café", Name: "Café", Currency: "EUR"}, "record: merchant ID must be printable ASCII"},
		{payflow.Merchant{ID: "kiosk ", Name: "Kiosk", Currency: "EUR"}, "record: merchant ID must not start or end with a space"},
		{payflow.Merchant{ID: "kiosk", Name: "Kiosk\u202e", Currency: "EUR"}, "record: merchant name must not contain bidirectional formatting characters or a byte-order mark"},
		{payflow.Merchant{ID: "kiosk", Name: " Kiosk", Currency: "EUR"}, "record: merchant name must not start or end with white space"},
		{payflow.Merchant{ID: "kiosk", Name: "Kiosk", Currency: "EURO"}, `unknown currency "EURO"`},
	} {
		err := s.Platform.EnrollMerchant(ctx, c.m)
		require.ErrorIs(t, err, payflow.ErrInvalid, c.want)
		assert.EqualError(t, err, "payflow: invalid request: "+c.want)
		_, err = s.Store.Merchant(ctx, c.m.ID)
		assert.ErrorIs(t, err, payflow.ErrNotFound, c.want)
		accounts, err := s.Ledger.LookupAccounts(ctx, []ledger.ID{payflow.AccountID(payflow.AccountMerchant, eurLedger, c.m.ID)})
		require.NoError(t, err)
		assert.Empty(t, accounts, "no ledger account: %s", c.want)
	}
}

// TestEnrollMerchantReadFails: an enrolment whose read of the merchant or
// of a seller card fails returns the store's error and leaves nothing: no
// merchant, the card no merchant's, and no ledger account. A seller card
// that is not enrolled is ErrNotFound naming it.
func TestEnrollMerchantReadFails(t *testing.T) {
	ctx := context.Background()
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	bob := s.NewCard("Bob")
	kiosk := payflow.Merchant{ID: "kiosk", Name: "Kiosk", Currency: "EUR", SellerCardIDs: []string{bob.ID}}
	requireNothing := func(msg string) {
		t.Helper()
		_, err := s.Store.Merchant(ctx, "kiosk")
		require.ErrorIs(t, err, payflow.ErrNotFound, msg)
		card, err := s.Store.Card(ctx, bob.ID)
		require.NoError(t, err)
		assert.Empty(t, card.MerchantID, msg)
		accounts, err := s.Ledger.LookupAccounts(ctx, []ledger.ID{payflow.AccountID(payflow.AccountMerchant, eurLedger, "kiosk")})
		require.NoError(t, err)
		assert.Empty(t, accounts, "no ledger account: %s", msg)
	}

	st.merchant.failAll()
	err := s.Platform.EnrollMerchant(ctx, kiosk)
	st.merchant.disarm()
	require.ErrorIs(t, err, errLost)
	requireNothing("the merchant's read failed")

	failCard(st, bob.ID)
	err = s.Platform.EnrollMerchant(ctx, kiosk)
	st.card.disarm()
	require.ErrorIs(t, err, errLost)
	requireNothing("the card's read failed")

	const unknown = "8900000000000000003"
	err = s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: "kiosk", Name: "Kiosk", Currency: "EUR", SellerCardIDs: []string{bob.ID, unknown}})
	require.ErrorIs(t, err, payflow.ErrNotFound)
	assert.EqualError(t, err, "payflow: not found: seller card "+unknown+" is not enrolled")
	requireNothing("a card not enrolled")

	require.NoError(t, s.Platform.EnrollMerchant(ctx, kiosk))
	m, err := s.Store.Merchant(ctx, "kiosk")
	require.NoError(t, err)
	assert.Equal(t, &kiosk, m)
}

// TestSetCatalogRefusesBadItems: a catalog with a SKU that is no
// identifier of the records, a name that receipts cannot carry, a SKU
// twice or a price over 2^63-1 is refused with ErrInvalid naming the
// item, and leaves the catalog as it was; a price of 2^63-1 is taken.
func TestSetCatalogRefusesBadItems(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	tea := payflow.CatalogItem{SKU: "tea", Name: "Tea", UnitPrice: 250}
	for _, c := range []struct {
		items []payflow.CatalogItem
		want  string
	}{
		{[]payflow.CatalogItem{tea, {SKU: "thé", Name: "Thé", UnitPrice: 250}}, "record: SKU must be printable ASCII"},
		{[]payflow.CatalogItem{tea, {SKU: "mint ", Name: "Mint", UnitPrice: 250}}, "record: SKU must not start or end with a space"},
		{[]payflow.CatalogItem{tea, {SKU: "mint", Name: "Mint\u202e", UnitPrice: 250}}, "record: item name must not contain bidirectional formatting characters or a byte-order mark"},
		{[]payflow.CatalogItem{tea, {SKU: "mint", Name: "Mint\u200b", UnitPrice: 250}}, "record: item name must not contain format characters or other default-ignorable code points"},
		{[]payflow.CatalogItem{tea, {SKU: "tea", Name: "Green tea", UnitPrice: 300}}, `SKU "tea" twice`},
		{[]payflow.CatalogItem{tea, {SKU: "gold", Name: "Gold", UnitPrice: record.MaxAmount + 1}}, `the price of "gold" exceeds 2^63-1`},
	} {
		err := s.Platform.SetCatalog(ctx, merchantID, c.items)
		require.ErrorIs(t, err, payflow.ErrInvalid, c.want)
		assert.EqualError(t, err, "payflow: invalid request: "+c.want)
		stored, err := s.Store.Catalog(ctx, merchantID)
		require.NoError(t, err)
		assert.Equal(t, paytest.Catalog, stored, "the catalog as it was: %s", c.want)
	}
	items := []payflow.CatalogItem{{SKU: "gold", Name: "Gold", UnitPrice: record.MaxAmount}, tea}
	require.NoError(t, s.Platform.SetCatalog(ctx, merchantID, items))
	c, err := s.Platform.Catalog(ctx, s.shopper.Token, merchantID)
	require.NoError(t, err)
	assert.Equal(t, &payflow.Catalog{MerchantID: merchantID, Currency: "EUR", Items: items}, c)
}

// TestRegisterAssetRefusesBadFields: an asset whose name is no identifier
// of the records or a currency code, or whose ledger code is below 1000,
// is refused with ErrInvalid and not registered; code 1000 is the first
// an asset may take.
func TestRegisterAssetRefusesBadFields(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	for _, c := range []struct {
		name string
		code uint32
		want string
	}{
		{"tïcket", 2000, "record: asset name must be printable ASCII"},
		{"ticket ", 2000, "record: asset name must not start or end with a space"},
		{"USD", 2000, `asset name "USD" is a currency code`},
		{"coupon", 999, "asset ledger codes start at 1000"},
	} {
		err := s.Platform.RegisterAsset(ctx, c.name, c.code)
		require.ErrorIs(t, err, payflow.ErrInvalid, c.want)
		assert.EqualError(t, err, "payflow: invalid request: "+c.want)
		_, err = s.Store.Asset(ctx, c.name)
		assert.ErrorIs(t, err, payflow.ErrNotFound, c.want)
	}
	require.NoError(t, s.Platform.RegisterAsset(ctx, "coupon", 1000))
	require.NoError(t, s.Platform.Issue(ctx, payflow.ID{0x50}, merchantID, "coupon", 3))
	b, err := s.Platform.Balance(ctx, merchantID, "coupon")
	require.NoError(t, err)
	assert.Equal(t, payflow.Balance{Posted: 3}, b)
}

// TestOpenAccountRefusals: a wallet of a card that is not enrolled is
// ErrNotFound, and one in a unit that is neither a currency nor a
// registered asset ErrInvalid; neither opens an account in the ledger.
func TestOpenAccountRefusals(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	const unknown = "8900000000000000003"
	err := s.Platform.OpenAccount(ctx, unknown, "EUR")
	require.ErrorIs(t, err, payflow.ErrNotFound)
	err = s.Platform.OpenAccount(ctx, s.shopper.ID, "coupon")
	require.ErrorIs(t, err, payflow.ErrInvalid)
	assert.EqualError(t, err, `payflow: invalid request: "coupon" is neither a currency nor a registered asset`)
	accounts, err := s.Ledger.LookupAccounts(ctx, []ledger.ID{payflow.AccountID(payflow.AccountWallet, eurLedger, unknown)})
	require.NoError(t, err)
	assert.Empty(t, accounts)
	_, err = s.Platform.Balance(ctx, unknown, "EUR")
	assert.ErrorIs(t, err, payflow.ErrNotFound)
}

// TestFundIssueRefusals: Fund in a unit that is no currency is
// ErrInvalid; Issue to a merchant that is not enrolled, or of an asset
// that is not registered, is ErrNotFound; a zero ID, a zero amount or an
// amount above the ledger's limit is ErrInvalid. None moves anything nor
// opens an account, and an amount at the limit is issued.
func TestFundIssueRefusals(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	require.NoError(t, s.Platform.RegisterAsset(ctx, "coupon", paytest.TicketCode+1))
	coupon := uint32(paytest.TicketCode + 1)

	err := s.Platform.Fund(ctx, payflow.ID{1}, s.shopper.ID, paytest.Ticket, 5)
	require.ErrorIs(t, err, payflow.ErrInvalid)
	assert.EqualError(t, err, `payflow: invalid request: unknown currency "`+paytest.Ticket+`"`)
	err = s.Platform.Issue(ctx, payflow.ID{2}, "kiosk", "coupon", 5)
	require.ErrorIs(t, err, payflow.ErrNotFound, "a merchant not enrolled")
	err = s.Platform.Issue(ctx, payflow.ID{3}, merchantID, "voucher", 5)
	require.ErrorIs(t, err, payflow.ErrNotFound, "an asset not registered")
	for _, c := range []struct {
		name   string
		id     payflow.ID
		amount uint64
		want   string
	}{
		{"zero ID", payflow.ID{}, 5, "zero ID"},
		{"zero amount", payflow.ID{4}, 0, "amount 0, want 1 to 9223372036854775807"},
		{"over the limit", payflow.ID{5}, ledger.AmountLimit + 1, "amount 9223372036854775808, want 1 to 9223372036854775807"},
	} {
		err := s.Platform.Fund(ctx, c.id, s.shopper.ID, "EUR", c.amount)
		require.ErrorIs(t, err, payflow.ErrInvalid, c.name)
		assert.EqualError(t, err, "payflow: invalid request: "+c.want, c.name)
		err = s.Platform.Issue(ctx, c.id, merchantID, "coupon", c.amount)
		require.ErrorIs(t, err, payflow.ErrInvalid, c.name)
		assert.EqualError(t, err, "payflow: invalid request: "+c.want, c.name)
	}
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "nothing funded")
	accounts, err := s.Ledger.LookupAccounts(ctx, []ledger.ID{
		payflow.AccountID(payflow.AccountMerchant, coupon, "kiosk"),
		payflow.AccountID(payflow.AccountMerchant, coupon, merchantID),
		payflow.AccountID(payflow.AccountMerchant, 0, merchantID),
	})
	require.NoError(t, err)
	assert.Empty(t, accounts, "no account opened")

	require.NoError(t, s.Platform.Issue(ctx, payflow.ID{6}, merchantID, "coupon", ledger.AmountLimit))
	b, err := s.Platform.Balance(ctx, merchantID, "coupon")
	require.NoError(t, err)
	assert.Equal(t, payflow.Balance{Posted: ledger.AmountLimit}, b)
}

// TestEnrolledShopperCardHiddenUnread: a shopper card enrolled after the
// cards were last loaded is held by the EID resolver as a shopper card,
// the role that the store holds: another shopper card resolving its EID
// gets the answer of an EID never enrolled without a read of the card.
func TestEnrolledShopperCardHiddenUnread(t *testing.T) {
	h := newHiddenCalls(t)
	_, unknownResolve := h.resolve(h.bob, h.unknown)
	require.ErrorIs(t, unknownResolve, payflow.ErrNotFound)
	carol := h.s.NewCard("Carol")
	h.s.Clock.Advance(payflow.DefaultCacheTTL)
	reads := h.st.reads(carol.ID)
	_, err := h.resolve(h.bob, carol.EID())
	requireUnknownEID(t, err, unknownResolve, "Carol's EID resolved by Bob")
	assert.Equal(t, reads, h.st.reads(carol.ID), "Carol's card read for Bob's resolution")
	who, err := h.resolve(h.s.seller, carol.EID())
	require.NoError(t, err, "a seller card")
	assert.Equal(t, "Carol", who.DisplayName)
}

// TestEnrollMerchantStoreConflict: a write of a merchant that the store
// refuses with ErrConflict for another reason than its currency (the
// merchant as stored is in the currency asked for) is refused with the
// store's error as it is, not as an enrolment in another currency.
func TestEnrollMerchantStoreConflict(t *testing.T) {
	ctx := context.Background()
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	refused := fmt.Errorf("%w: the store's own refusal", payflow.ErrConflict)
	st.putMerchant.arm(plan[*payflow.Merchant]{fails: -1, err: refused})
	err := s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: merchantID, Name: "Corner Shop", Currency: "EUR", SellerCardIDs: []string{s.seller.ID}})
	st.putMerchant.disarm()
	assert.Equal(t, refused, err)
	m, err := s.Store.Merchant(ctx, merchantID)
	require.NoError(t, err)
	assert.Equal(t, "Corner Grocer", m.Name, "the merchant as it was")
}

// TestCatalogReadFails: a catalog whose read from the store fails is that
// error, with no catalog.
func TestCatalogReadFails(t *testing.T) {
	ctx := context.Background()
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	st.catalog.failAll()
	c, err := s.Platform.Catalog(ctx, s.shopper.Token, merchantID)
	require.ErrorIs(t, err, errLost)
	assert.Nil(t, c)
}

// TestBalanceReadFails: a balance whose read of the owner's card or of
// the asset fails returns the store's error, not an account not found.
func TestBalanceReadFails(t *testing.T) {
	ctx := context.Background()
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	failCard(st, merchantID)
	_, err := s.Platform.Balance(ctx, merchantID, "EUR")
	st.card.disarm()
	require.ErrorIs(t, err, errLost, "the owner's read failed")

	as := &faultStore{Store: memory.New()}
	s = newShopOn(t, as, false, paytest.Options{})
	as.asset.failAll()
	_, err = s.Platform.Balance(ctx, merchantID, paytest.Ticket)
	require.ErrorIs(t, err, errLost, "the asset's read failed")
	err = s.Platform.OpenAccount(ctx, s.shopper.ID, paytest.Ticket)
	require.ErrorIs(t, err, errLost, "the asset's read failed")
	as.asset.disarm()
	b, err := s.Platform.Balance(ctx, merchantID, paytest.Ticket)
	require.NoError(t, err)
	assert.Equal(t, payflow.Balance{Posted: 10}, b)
}

// TestEnrollMerchantRenamedAtOnce: a merchant enrolled again under another
// name is named so at once through the process that enrolled it, whose
// cache held it: its seller card's EID resolves to the new name.
func TestEnrollMerchantRenamedAtOnce(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	who, err := s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
	require.NoError(t, err)
	require.Equal(t, "Corner Grocer", who.DisplayName)
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: merchantID, Name: "Corner Shop", Currency: "EUR", SellerCardIDs: []string{s.seller.ID}}))
	who, err = s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
	require.NoError(t, err)
	assert.Equal(t, &payflow.ResolveResponse{DisplayName: "Corner Shop", Role: uint8(record.RoleSeller), MerchantID: merchantID}, who)
}

// TestSellerCardMovedAtOnce: a seller card that an enrolment of another
// merchant lists is that merchant's at once through the process that
// enrolled it, whose cache held the card as its former merchant's: it
// logs in as the new merchant's seller card.
func TestSellerCardMovedAtOnce(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	resp, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: s.seller.Proof(record.RoleSeller, nil)})
	require.NoError(t, err)
	require.Equal(t, merchantID, resp.MerchantID)
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: "kiosk", Name: "Kiosk", Currency: "EUR", SellerCardIDs: []string{s.seller.ID}}))
	resp, err = s.Platform.Login(ctx, &payflow.LoginRequest{Proof: s.seller.Proof(record.RoleSeller, nil)})
	require.NoError(t, err)
	assert.Equal(t, "kiosk", resp.MerchantID)
}

// TestBalanceAvailable: what a wallet may spend is its posted balance but
// for what holds keep for pending payments.
func TestBalanceAvailable(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, true, paytest.Options{})
	s.held(t)
	b, err := s.Platform.Balance(ctx, s.shopper.ID, "EUR")
	require.NoError(t, err)
	assert.Equal(t, payflow.Balance{Posted: funds, Held: 690}, b)
	assert.Equal(t, uint64(funds-690), b.Available())
}

// TestOpenAccountLedgerRefusal: a wallet whose creation the ledger refuses
// for its fields (here an asset that a store holds under ledger 0, which
// RegisterAsset refuses) is ErrInternal naming the ledger's answer, and
// opens nothing.
func TestOpenAccountLedgerRefusal(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	require.NoError(t, s.Store.PutAsset(ctx, payflow.Asset{Name: "stray", Ledger: 0}))
	err := s.Platform.OpenAccount(ctx, s.shopper.ID, "stray")
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.EqualError(t, err, fmt.Sprintf("payflow: internal error: ledger account %v: ledger_must_not_be_zero",
		payflow.AccountID(payflow.AccountWallet, 0, s.shopper.ID)))
	_, err = s.Platform.Balance(ctx, s.shopper.ID, "stray")
	assert.ErrorIs(t, err, payflow.ErrNotFound)
}
