package payflow_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"math"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/ledger"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestFundReusedIDConflicts: a funding ID sent again with another amount,
// card or currency is ErrConflict and moves nothing; with the same
// content it is a retry that funds once.
func TestFundReusedIDConflicts(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	bob := s.NewCard("Bob")
	for _, cur := range []string{"EUR", "USD"} {
		require.NoError(t, s.Platform.OpenAccount(ctx, bob.ID, cur))
		require.NoError(t, s.Platform.OpenAccount(ctx, s.shopper.ID, cur))
	}
	id := payflow.ID{0x46}
	require.NoError(t, s.Platform.Fund(ctx, id, bob.ID, "EUR", 100))
	assert.ErrorIs(t, s.Platform.Fund(ctx, id, bob.ID, "EUR", 101), payflow.ErrConflict, "another amount")
	assert.ErrorIs(t, s.Platform.Fund(ctx, id, s.shopper.ID, "EUR", 100), payflow.ErrConflict, "another card")
	assert.ErrorIs(t, s.Platform.Fund(ctx, id, bob.ID, "USD", 100), payflow.ErrConflict, "another currency")
	require.NoError(t, s.Platform.Fund(ctx, id, bob.ID, "EUR", 100), "a retry")

	want := map[string]map[string]uint64{
		bob.ID:       {"EUR": 100, "USD": 0},
		s.shopper.ID: {"EUR": funds, "USD": 0},
	}
	for owner, units := range want {
		for unit, posted := range units {
			b, err := s.Platform.Balance(ctx, owner, unit)
			require.NoError(t, err)
			assert.Equal(t, posted, b.Posted, "%s %s", owner, unit)
		}
	}
}

// accountCase is an account that the ledger holds under the ID of one of
// the platform's accounts, as set changes the platform's, and the
// ledger's answer to the creation of the platform's.
type accountCase struct {
	name   string
	set    func(*ledger.Account)
	result ledger.CreateAccountResult
}

// otherFieldsCases are accounts with other fields than a merchant's
// account or a card's wallet.
var otherFieldsCases = []accountCase{
	{"closed with other user data", func(a *ledger.Account) { a.Flags |= ledger.AccountClosed; a.UserData64 = 1 }, ledger.AccountExistsWithDifferentFlags},
	{"flags", func(a *ledger.Account) { a.Flags = 0 }, ledger.AccountExistsWithDifferentFlags},
	{"user data 128", func(a *ledger.Account) { a.UserData128 = ledger.ID{1} }, ledger.AccountExistsWithDifferentUserData128},
	{"user data 64", func(a *ledger.Account) { a.UserData64 = 1 }, ledger.AccountExistsWithDifferentUserData64},
	{"user data 32", func(a *ledger.Account) { a.UserData32 = 1 }, ledger.AccountExistsWithDifferentUserData32},
	{"ledger", func(a *ledger.Account) { a.Ledger = 840 }, ledger.AccountExistsWithDifferentLedger},
	{"code", func(a *ledger.Account) { a.Code = payflow.AccountIssuer }, ledger.AccountExistsWithDifferentCode},
}

// take creates in the ledger the platform's account mine as c changes
// it, and returns the ledger's record of it.
func (c accountCase) take(t *testing.T, s *shop, mine ledger.Account) []ledger.Account {
	t.Helper()
	ctx := context.Background()
	c.set(&mine)
	res, err := s.Ledger.CreateAccounts(ctx, []ledger.Account{mine})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated}, res)
	found, err := s.Ledger.LookupAccounts(ctx, []ledger.ID{mine.ID})
	require.NoError(t, err)
	return found
}

// takenMessage is the error of a call that meets the platform's account
// id (code, ledger lc) held by the ledger with other fields (result).
func takenMessage(id ledger.ID, code uint16, lc uint32, result ledger.CreateAccountResult) string {
	return fmt.Sprintf("payflow: conflicting request: ledger: account %v (code %d, ledger %d) exists closed or with other fields: %v",
		id, code, lc, result)
}

// TestFundWalletTaken: a funding of a wallet whose ID the ledger holds
// with other fields than the platform's wallet (which OpenAccount refuses
// as taken) is ErrConflict naming the account and the ledger's result,
// and moves nothing: no money paid into an account from which the payer
// could then spend more than it holds.
func TestFundWalletTaken(t *testing.T) {
	ctx := context.Background()
	for _, c := range otherFieldsCases {
		t.Run(c.name, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{})
			bob := s.NewCard("Bob")
			id := payflow.AccountID(payflow.AccountWallet, eurLedger, bob.ID)
			before := c.take(t, s, ledger.Account{ID: id, Ledger: eurLedger, Code: payflow.AccountWallet, Flags: ledger.AccountDebitsMustNotExceedCredits})
			require.ErrorIs(t, s.Platform.OpenAccount(ctx, bob.ID, "EUR"), payflow.ErrConflict, "OpenAccount sees the wallet taken")

			fid := payflow.ID{0x47}
			err := s.Platform.Fund(ctx, fid, bob.ID, "EUR", 100)
			require.ErrorIs(t, err, payflow.ErrConflict)
			assert.EqualError(t, err, takenMessage(id, payflow.AccountWallet, eurLedger, c.result))
			after, err := s.Ledger.LookupAccounts(ctx, []ledger.ID{id})
			require.NoError(t, err)
			assert.Equal(t, before, after, "the account as it stood")
			made, err := s.Ledger.LookupTransfers(ctx, []ledger.ID{payflow.TransferID(fid, 0, 0, 5)})
			require.NoError(t, err)
			assert.Empty(t, made, "no funding")
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// TestBalanceOfTakenAccount: the balance of a card's wallet or of a
// merchant's account whose ID the ledger holds with other fields than the
// platform's (here without debits_must_not_exceed_credits, and debited
// past its credits by another client of the ledger) is ErrConflict naming
// the account and the ledger's result, not a posted balance wrapped
// below zero.
func TestBalanceOfTakenAccount(t *testing.T) {
	ctx := context.Background()
	const asset, lc = "ticket:theatre", uint32(100_002)
	s := newShop(t, false, paytest.Options{})
	require.NoError(t, s.Platform.RegisterAsset(ctx, asset, lc))
	bob := s.NewCard("Bob")
	for _, c := range []struct {
		owner, unit string
		code        uint16
		lc          uint32
		source      uint16
	}{
		{bob.ID, "EUR", payflow.AccountWallet, eurLedger, payflow.AccountFunding},
		{merchantID, asset, payflow.AccountMerchant, lc, payflow.AccountIssuer},
	} {
		id := payflow.AccountID(c.code, c.lc, c.owner)
		source := payflow.AccountID(c.source, c.lc, "")
		res, err := s.Ledger.CreateAccounts(ctx, []ledger.Account{
			{ID: id, Ledger: c.lc, Code: c.code},
			{ID: source, Ledger: c.lc, Code: c.source},
		})
		require.NoError(t, err)
		require.Equal(t, ledger.AccountCreated, res[0])
		tr, err := s.Ledger.CreateTransfers(ctx, []ledger.Transfer{{
			ID: ledger.NewID(), DebitAccountID: id, CreditAccountID: source, Amount: 5, Ledger: c.lc, Code: 9,
		}})
		require.NoError(t, err)
		require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, tr)

		b, err := s.Platform.Balance(ctx, c.owner, c.unit)
		require.ErrorIs(t, err, payflow.ErrConflict, "%s %s", c.owner, c.unit)
		assert.EqualError(t, err, takenMessage(id, c.code, c.lc, ledger.AccountExistsWithDifferentFlags))
		assert.Zero(t, b)
	}
}

// TestIssueReusedIDConflicts: an issue ID sent again with another amount,
// merchant or asset is ErrConflict and moves nothing.
func TestIssueReusedIDConflicts(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: "other", Name: "Other Shop", Currency: "EUR"}))
	require.NoError(t, s.Platform.RegisterAsset(ctx, "voucher", paytest.TicketCode+1))
	id := payflow.ID{0x49}
	require.NoError(t, s.Platform.Issue(ctx, id, merchantID, paytest.Ticket, 5))
	assert.ErrorIs(t, s.Platform.Issue(ctx, id, merchantID, paytest.Ticket, 6), payflow.ErrConflict, "another amount")
	assert.ErrorIs(t, s.Platform.Issue(ctx, id, "other", paytest.Ticket, 5), payflow.ErrConflict, "another merchant")
	assert.ErrorIs(t, s.Platform.Issue(ctx, id, merchantID, "voucher", 5), payflow.ErrConflict, "another asset")
	require.NoError(t, s.Platform.Issue(ctx, id, merchantID, paytest.Ticket, 5), "a retry")

	want := []struct {
		owner, unit string
		posted      uint64
	}{{merchantID, paytest.Ticket, 15}, {"other", paytest.Ticket, 0}, {merchantID, "voucher", 0}}
	for _, w := range want {
		b, err := s.Platform.Balance(ctx, w.owner, w.unit)
		require.NoError(t, err)
		assert.Equal(t, w.posted, b.Posted, "%s %s", w.owner, w.unit)
	}
}

// countingLedger counts the transactions run on a ledger store.
type countingLedger struct {
	ledger.Store
	updates, views atomic.Int32
}

func (c *countingLedger) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, fn)
}

func (c *countingLedger) View(ctx context.Context, fn func(ledger.ReadTx) error) error {
	c.views.Add(1)
	return c.Store.View(ctx, fn)
}

// TestIssueLedgerTransactions: Issue opens the issuer's and the
// merchant's accounts together and then makes the transfer, two ledger
// transactions, without reading back the account it has just opened; a
// refused amount opens nothing.
func TestIssueLedgerTransactions(t *testing.T) {
	ctx := context.Background()
	lc := &countingLedger{Store: ledgermemory.New()}
	s := paytest.NewShop(paytest.NewFixture(t, memory.New(), lc, paytest.Options{}), false)
	require.NoError(t, s.Platform.RegisterAsset(ctx, "voucher", paytest.TicketCode+1))
	lc.updates.Store(0)
	lc.views.Store(0)
	assert.ErrorIs(t, s.Platform.Issue(ctx, payflow.ID{0x49}, merchantID, "voucher", 0), payflow.ErrInvalid)
	assert.Equal(t, [2]int32{0, 0}, [2]int32{lc.updates.Load(), lc.views.Load()}, "a refused amount: no ledger transaction")
	_, err := s.Platform.Balance(ctx, merchantID, "voucher")
	assert.ErrorIs(t, err, payflow.ErrNotFound, "and no account")
	lc.updates.Store(0)
	lc.views.Store(0)
	require.NoError(t, s.Platform.Issue(ctx, payflow.ID{0x49}, merchantID, "voucher", 5))
	assert.Equal(t, [2]int32{2, 0}, [2]int32{lc.updates.Load(), lc.views.Load()}, "updates and views")
	b, err := s.Platform.Balance(ctx, merchantID, "voucher")
	require.NoError(t, err)
	assert.Equal(t, uint64(5), b.Posted)
}

// slowCardStore holds the first Card read of one card made after arm,
// once it has read the row, until release.
type slowCardStore struct {
	payflow.Store

	mu      sync.Mutex
	id      string
	entered chan struct{}
	gate    chan struct{}
}

func (s *slowCardStore) arm(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.id, s.entered, s.gate = id, make(chan struct{}), make(chan struct{})
}

func (s *slowCardStore) Card(ctx context.Context, id string) (*payflow.CardRecord, error) {
	c, err := s.Store.Card(ctx, id)
	s.mu.Lock()
	hold := id == s.id
	if hold {
		s.id = ""
	}
	entered, gate := s.entered, s.gate
	s.mu.Unlock()
	if hold {
		close(entered)
		<-gate
	}
	return c, err
}

// TestCacheKeepsNoReadOlderThanAChange: a card read from the store before
// this process changed it, and returned after, is not kept in the cache
// over the change: the card made a seller card logs in as one at once.
func TestCacheKeepsNoReadOlderThanAChange(t *testing.T) {
	ctx := context.Background()
	st := &slowCardStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	bob := s.NewCard("Bob")

	proof := bob.Proof(record.RoleShopper, nil)
	st.arm(bob.ID)
	done := make(chan error, 1)
	go func() {
		_, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: proof})
		done <- err
	}()
	<-st.entered
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: "kiosk", Name: "Kiosk", Currency: "EUR", SellerCardIDs: []string{bob.ID}}))
	close(st.gate)
	require.NoError(t, <-done)

	resp, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: bob.Proof(record.RoleSeller, nil)})
	require.NoError(t, err)
	assert.Equal(t, "kiosk", resp.MerchantID)
}

// TestInfoChainIsACopy: the chain Info returns is the caller's to change;
// the platform's own, which every later Info serves, stays as it was.
func TestInfoChainIsACopy(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	info, err := s.Platform.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, s.PlatformChain, info.Chain)
	want := make([][]byte, len(info.Chain))
	for i, c := range info.Chain {
		want[i] = append([]byte(nil), c...)
		clear(c)
	}
	info, err = s.Platform.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, info.Chain)
}

// TestNewPlatformCopiesChain: the platform keeps its own copy of the
// receipt chain it was given, so that a caller reusing those bytes does
// not change what Info serves.
func TestNewPlatformCopiesChain(t *testing.T) {
	ctx := context.Background()
	opts := platformOptions(t)
	want := make([][]byte, len(opts.Chain))
	for i, c := range opts.Chain {
		want[i] = bytes.Clone(c)
	}
	p, err := payflow.NewPlatform(opts)
	require.NoError(t, err)
	for _, c := range opts.Chain {
		clear(c)
	}
	info, err := p.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, info.Chain)
}

// TestResolveAfterReenrolmentElsewhere: once a card is enrolled again with
// a new advertising secret through one platform process, another process
// that resolved its old EIDs stops resolving them within CacheTTL, and
// resolves the new ones once the asking card may reload the cards again
// (CardReloadInterval after its last reload).
func TestResolveAfterReenrolmentElsewhere(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	other := renewedPlatform(t, s.Fixture) // another process on the same database
	v, err := simcardtest.NewCard(s.Issuer, simcardtest.Options{})
	require.NoError(t, err)
	_, err = s.Platform.EnrollCard(ctx, v.Enrolment.Chain, v.Enrolment.AdvertisingSecret, "Carol")
	require.NoError(t, err)
	eidOf := func(secret []byte) []byte {
		k, err := adv.NewEIDKey(secret)
		require.NoError(t, err)
		e := k.EID(adv.Epoch(s.Clock.Now()))
		return e[:]
	}
	old := eidOf(v.Enrolment.AdvertisingSecret)
	s.Clock.Advance(time.Second) // other reloads the cards at most once a second
	r, err := other.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: old})
	require.NoError(t, err)
	require.Equal(t, "Carol", r.DisplayName)

	secret := bytes.Repeat([]byte{0x5c}, len(v.Enrolment.AdvertisingSecret))
	_, err = s.Platform.EnrollCard(ctx, v.Enrolment.Chain, secret, "Carol")
	require.NoError(t, err)
	s.Clock.Advance(max(payflow.DefaultCacheTTL+time.Second, payflow.CardReloadInterval))
	_, err = other.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: old})
	assert.ErrorIs(t, err, payflow.ErrNotFound, "the old secret's EID")
	r, err = other.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: eidOf(secret)})
	require.NoError(t, err)
	assert.Equal(t, "Carol", r.DisplayName)
}

// TestPairingMeetsFormerSecret: a card enrolled again with a new
// advertising secret through one platform process, and another card
// enrolled with its former secret, share that secret's EIDs, which another
// process still resolves to the first card within its card cache's
// lifetime. A seller card's pairing through that process, naming the
// second card's EID, stores the session of the two EIDs with the first
// card as its shopper; the second card's pairing of the same EIDs through
// the first process is refused (ErrConflict) and writes nothing: the
// session keeps its cards, unconfirmed by its shopper, and the proof is
// left unspent: sent again, it is refused the same way.
func TestPairingMeetsFormerSecret(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	other := renewedPlatform(t, s.Fixture) // another process on the same database
	carol := s.NewCard("Carol")
	dave := s.NewCard("Dave")
	s.Clock.Advance(time.Second) // other reloads the cards at most once a second
	_, err := other.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: carol.EID()})
	require.NoError(t, err, "other holds Carol's card")

	former := carol.Secret
	carol.Secret = bytes.Repeat([]byte{0x5c}, adv.SecretSize)
	_, err = s.Platform.EnrollCard(ctx, carol.Chain, carol.Secret, carol.Name)
	require.NoError(t, err)
	dave.Secret = former
	_, err = s.Platform.EnrollCard(ctx, dave.Chain, dave.Secret, dave.Name)
	require.NoError(t, err)

	v, err := other.Pair(ctx, &payflow.PairRequest{Proof: s.seller.Proof(record.RoleSeller, dave.EID())})
	require.NoError(t, err, "the seller's pairing through other")
	require.Equal(t, payflow.SessionWaiting, v.State)
	stored, err := s.Store.Session(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, carol.ID, stored.ShopperCardID, "other resolved the former secret's EID to Carol")

	proof := dave.Proof(record.RoleShopper, s.seller.EID())
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	assert.ErrorIs(t, err, payflow.ErrConflict, "Dave's pairing")
	msg := payflow.AsError(err).Message
	assert.NotContains(t, msg, carol.ID, "the reply names not the other pair's cards")
	assert.NotContains(t, msg, s.seller.ID)
	assert.NotContains(t, msg, dave.ID)
	got, err := s.Store.Session(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, stored, got, "the session is left as it is")
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	assert.ErrorIs(t, err, payflow.ErrConflict, "Dave's pairing sent again: its proof unspent, not ErrReplay")
}

// TestEnrollCardSecretTaken: a card enrolled with the advertising secret
// of another is refused (ErrConflict) and not enrolled, and the EIDs of
// that secret still resolve to the card that had it.
func TestEnrollCardSecretTaken(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	bob := s.NewCard("Bob")
	v, err := simcardtest.NewCard(s.Issuer, simcardtest.Options{})
	require.NoError(t, err)
	_, err = s.Platform.EnrollCard(ctx, v.Enrolment.Chain, bob.Secret, "Mallory")
	require.ErrorIs(t, err, payflow.ErrConflict)
	_, err = s.Store.Card(ctx, v.Enrolment.ICCID)
	assert.ErrorIs(t, err, payflow.ErrNotFound)

	k, err := adv.NewEIDKey(bob.Secret)
	require.NoError(t, err)
	eid := k.EID(adv.Epoch(s.Clock.Now()))
	r, err := s.Platform.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: eid[:]})
	require.NoError(t, err)
	assert.Equal(t, "Bob", r.DisplayName)

	_, err = s.Platform.EnrollCard(ctx, v.Enrolment.Chain, v.Enrolment.AdvertisingSecret, "Carol")
	require.NoError(t, err, "with a secret of its own")
	_, err = s.Platform.EnrollCard(ctx, bob.Chain, bob.Secret, "Bob")
	require.NoError(t, err, "a card enrolled again with its own secret")
}

// TestEnrollCardSecretSize: a card enrolled with an advertising secret
// that is not adv.SecretSize bytes is refused (ErrInvalid, matching
// adv.ErrSecret) and not enrolled.
func TestEnrollCardSecretSize(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, err := simcardtest.NewCard(s.Issuer, simcardtest.Options{})
	require.NoError(t, err)
	for _, n := range []int{0, adv.SecretSize - 1, adv.SecretSize + 1} {
		_, err = s.Platform.EnrollCard(ctx, v.Enrolment.Chain, bytes.Repeat([]byte{0x3a}, n), "Carol")
		require.ErrorIs(t, err, payflow.ErrInvalid, "a secret of %d bytes", n)
		assert.ErrorIs(t, err, adv.ErrSecret)
	}
	_, err = s.Store.Card(ctx, v.Enrolment.ICCID)
	assert.ErrorIs(t, err, payflow.ErrNotFound)
}

// TestEnrollMerchantKeepsCurrency: a merchant enrolled again in another
// currency is refused (ErrConflict), since its account and its catalog's
// prices are in its own: no account opens in the other currency, and the
// catalog stays in the merchant's currency.
func TestEnrollMerchantKeepsCurrency(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	err := s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: merchantID, Name: "Corner Grocer", Currency: "USD", SellerCardIDs: []string{s.seller.ID}})
	require.ErrorIs(t, err, payflow.ErrConflict)
	_, err = s.Platform.Balance(ctx, merchantID, "USD")
	assert.ErrorIs(t, err, payflow.ErrNotFound, "no account in the refused currency")
	c, err := s.Platform.Catalog(ctx, s.shopper.Token, merchantID)
	require.NoError(t, err)
	assert.Equal(t, "EUR", c.Currency)
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: merchantID, Name: "Corner Shop", Currency: "EUR", SellerCardIDs: []string{s.seller.ID}}),
		"enrolled again in its currency")
}

// TestSellerCardRemoved: a merchant enrolled again without one of its
// seller cards takes it away: that card logs in as a seller and signs
// payment requests no more, at once through the platform process that
// enrolled the merchant (whose cache held the card as a seller), and
// through another process once its card cache's lifetime is over.
func TestSellerCardRemoved(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	other := renewedPlatform(t, s.Fixture) // another process on the same database
	resp, err := other.Login(ctx, &payflow.LoginRequest{Proof: s.seller.Proof(record.RoleSeller, nil)})
	require.NoError(t, err)
	require.Equal(t, merchantID, resp.MerchantID)

	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: merchantID, Name: "Corner Grocer", Currency: "EUR"}))
	m, err := s.Store.Merchant(ctx, merchantID)
	require.NoError(t, err)
	assert.Empty(t, m.SellerCardIDs)
	_, err = s.Platform.Login(ctx, &payflow.LoginRequest{Proof: s.seller.Proof(record.RoleSeller, nil)})
	assert.ErrorIs(t, err, payflow.ErrForbidden)
	_, err = s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(paytest.Request(s.session, "EUR", 100))})
	assert.ErrorIs(t, err, payflow.ErrForbidden, "a session paired before")

	s.Clock.Advance(payflow.DefaultCacheTTL + time.Second)
	_, err = other.Login(ctx, &payflow.LoginRequest{Proof: s.seller.Proof(record.RoleSeller, nil)})
	assert.ErrorIs(t, err, payflow.ErrForbidden, "in the other process")
	_, err = other.Login(ctx, &payflow.LoginRequest{Proof: s.seller.Proof(record.RoleShopper, nil)})
	assert.NoError(t, err, "the card is enrolled all the same")
}

// TestEnrollMerchantNotACardID: a merchant ID that is an ICCID, which a
// card could have, is refused (ErrInvalid): Balance tells a card's wallet
// from a merchant's account by the owner's ID, and would otherwise
// answer the card's for the merchant's.
func TestEnrollMerchantNotACardID(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	for _, id := range []string{s.shopper.ID, "8900000000000000003"} {
		err := s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: id, Name: "Shop", Currency: "EUR"})
		assert.ErrorIs(t, err, payflow.ErrInvalid, id)
		_, err = s.Store.Merchant(ctx, id)
		assert.ErrorIs(t, err, payflow.ErrNotFound, id)
	}
	b, err := s.Platform.Balance(ctx, s.shopper.ID, "EUR")
	require.NoError(t, err)
	assert.Equal(t, uint64(paytest.Funds), b.Posted, "the card's wallet")
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: "8900000000000000001", Name: "Shop", Currency: "EUR"}),
		"digits that fail the Luhn check are no card's")
}

// TestEnrollMerchantNotADotSegment: a merchant ID that is "." or ".." is
// refused (ErrInvalid), since the catalog's path can carry it only with
// its dots escaped, which a proxy that decodes them and resolves dot
// segments would undo; it leaves no merchant and no ledger account. Other
// IDs of dots are enrolled, and a merchant "." or ".." that a store holds
// already stays readable (its catalog, in process and over HTTP) but is
// not enrolled again, staying as it was.
func TestEnrollMerchantNotADotSegment(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	for _, id := range []string{".", ".."} {
		err := s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: id, Name: "Shop", Currency: "EUR"})
		require.ErrorIs(t, err, payflow.ErrInvalid, id)
		assert.EqualError(t, err, fmt.Sprintf("payflow: invalid request: merchant ID %q is a dot segment, which a URL path carries only escaped", id))
		_, err = s.Store.Merchant(ctx, id)
		assert.ErrorIs(t, err, payflow.ErrNotFound, id)
		_, err = s.Platform.Balance(ctx, id, "EUR")
		assert.ErrorIs(t, err, payflow.ErrNotFound, "no ledger account for %q", id)
	}
	for _, id := range []string{"...", ".a", "a."} {
		require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: id, Name: "Shop", Currency: "EUR"}), id)
	}

	items := []payflow.CatalogItem{{SKU: "tea", Name: "Tea", UnitPrice: 250}}
	srv := httptest.NewServer(mustHandler(t, s.Platform, payflow.HandlerOptions{Logger: discardLogger()}))
	defer srv.Close()
	client := mustClient(t, srv.URL, payflow.ClientOptions{MaxAttempts: 1})
	for _, id := range []string{".", ".."} {
		require.NoError(t, s.Store.PutMerchant(ctx, &payflow.Merchant{ID: id, Name: "Old Shop", Currency: "EUR"}), id)
		require.NoError(t, s.Platform.SetCatalog(ctx, id, items), id)
		for _, api := range []payflow.API{s.Platform, client} {
			c, err := api.Catalog(ctx, s.shopper.Token, id)
			require.NoError(t, err, id)
			assert.Equal(t, &payflow.Catalog{MerchantID: id, Currency: "EUR", Items: items}, c)
		}
		err := s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: id, Name: "New Shop", Currency: "EUR"})
		require.ErrorIs(t, err, payflow.ErrInvalid, "%q enrolled again", id)
		m, err := s.Store.Merchant(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, "Old Shop", m.Name, "%q as it was", id)
	}
}

// TestEnrollMerchantUnknownSellerCard: a merchant enrolled with a seller
// card that is not enrolled is refused (ErrNotFound) and leaves nothing:
// no merchant, and no ledger account.
func TestEnrollMerchantUnknownSellerCard(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	err := s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: "kiosk", Name: "Kiosk", Currency: "EUR", SellerCardIDs: []string{"8900000000000000003"}})
	require.ErrorIs(t, err, payflow.ErrNotFound)
	_, err = s.Store.Merchant(ctx, "kiosk")
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	_, err = s.Platform.Balance(ctx, "kiosk", "EUR")
	assert.ErrorIs(t, err, payflow.ErrNotFound, "no ledger account")
}

// TestEnrollMerchantAccountExistsOtherwise: a merchant whose ledger
// account exists closed, or with other flags, user data, ledger or code,
// is refused with ErrConflict naming the account and the ledger's result,
// or that it is closed when it is the merchant's account but for that
// (409 conflict over HTTP), and leaves everything as it was: no merchant,
// the seller card no merchant's, the account as it stood.
func TestEnrollMerchantAccountExistsOtherwise(t *testing.T) {
	ctx := context.Background()
	const eur = 978
	id := payflow.AccountID(payflow.AccountMerchant, eur, "kiosk")
	mine := ledger.Account{ID: id, Ledger: eur, Code: payflow.AccountMerchant, Flags: ledger.AccountDebitsMustNotExceedCredits}
	// AccountCreated: the account is the merchant's, closed.
	closed := accountCase{"closed", func(a *ledger.Account) { a.Flags |= ledger.AccountClosed }, ledger.AccountCreated}
	for _, c := range append([]accountCase{closed}, otherFieldsCases...) {
		t.Run(c.name, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{})
			bob := s.NewCard("Bob")
			before := c.take(t, s, mine)

			err := s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: "kiosk", Name: "Kiosk", Currency: "EUR", SellerCardIDs: []string{bob.ID}})
			require.ErrorIs(t, err, payflow.ErrConflict)
			want := takenMessage(id, payflow.AccountMerchant, eur, c.result)
			if c.result == ledger.AccountCreated {
				want = fmt.Sprintf("payflow: conflicting request: ledger: account %v (code %d, ledger %d) is closed", id, payflow.AccountMerchant, eur)
			}
			assert.EqualError(t, err, want)
			assert.Equal(t, 409, payflow.AsError(err).Status)

			_, err = s.Store.Merchant(ctx, "kiosk")
			assert.ErrorIs(t, err, payflow.ErrNotFound, "no merchant")
			card, err := s.Store.Card(ctx, bob.ID)
			require.NoError(t, err)
			assert.Empty(t, card.MerchantID, "the seller card is no merchant's")
			after, err := s.Ledger.LookupAccounts(ctx, []ledger.ID{id})
			require.NoError(t, err)
			assert.Equal(t, before, after, "the account as it stood")
		})
	}
}

// staleMerchantStore runs fn once, on the next read of a merchant, after
// the read and before returning it: a write of another process that
// lands between the read of the merchant and the write that replaces it.
type staleMerchantStore struct {
	payflow.Store

	mu sync.Mutex
	fn func()
}

func (s *staleMerchantStore) Merchant(ctx context.Context, id string) (*payflow.Merchant, error) {
	m, err := s.Store.Merchant(ctx, id)
	s.mu.Lock()
	fn := s.fn
	s.fn = nil
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
	return m, err
}

// TestEnrollMerchantDropsCardAddedElsewhere: a seller card that another
// process adds to a merchant while this one enrols the merchant again
// (after reading its seller cards, before writing them) is taken away by
// the write, and this process, which cached the card as the merchant's in
// between, stops taking it for a seller at once.
func TestEnrollMerchantDropsCardAddedElsewhere(t *testing.T) {
	ctx := context.Background()
	st := &staleMerchantStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	bob := s.NewCard("Bob")
	st.mu.Lock()
	st.fn = func() {
		require.NoError(t, st.Store.PutMerchant(ctx, &payflow.Merchant{ID: merchantID, Name: "Corner Grocer", Currency: "EUR",
			SellerCardIDs: []string{s.seller.ID, bob.ID}}))
		resp, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: bob.Proof(record.RoleSeller, nil)})
		require.NoError(t, err)
		require.Equal(t, merchantID, resp.MerchantID)
	}
	st.mu.Unlock()
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: merchantID, Name: "Corner Grocer", Currency: "EUR",
		SellerCardIDs: []string{s.seller.ID}}))
	m, err := s.Store.Merchant(ctx, merchantID)
	require.NoError(t, err)
	require.Equal(t, []string{s.seller.ID}, m.SellerCardIDs)
	_, err = s.Platform.Login(ctx, &payflow.LoginRequest{Proof: bob.Proof(record.RoleSeller, nil)})
	assert.ErrorIs(t, err, payflow.ErrForbidden)
}

// TestEnrollMerchantRaceInOtherCurrency: two first enrolments of a
// merchant in different currencies at once, the second (through another
// process) landing between the first's read of the merchant and its
// write: the second wins, and the first is ErrConflict with the reply of
// an enrolment made after the second, naming the currency the merchant is
// enrolled in. The loser's ledger account, created before the merchant
// was written, stays in the ledger, empty (the ledger deletes no account:
// see EnrollMerchant); the merchant, its seller card and its account are
// the winner's.
func TestEnrollMerchantRaceInOtherCurrency(t *testing.T) {
	ctx := context.Background()
	st := &staleMerchantStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	other := renewedPlatform(t, s.Fixture) // another process on the same database
	bob := s.NewCard("Bob")
	kiosk := func(currency string) payflow.Merchant {
		return payflow.Merchant{ID: "kiosk", Name: "Kiosk", Currency: currency, SellerCardIDs: []string{bob.ID}}
	}
	st.mu.Lock()
	st.fn = func() { require.NoError(t, other.EnrollMerchant(ctx, kiosk("USD")), "the winner") }
	st.mu.Unlock()

	lost := s.Platform.EnrollMerchant(ctx, kiosk("EUR"))
	require.ErrorIs(t, lost, payflow.ErrConflict)
	later := s.Platform.EnrollMerchant(ctx, kiosk("EUR"))
	require.ErrorIs(t, later, payflow.ErrConflict)
	assert.Equal(t, payflow.AsError(later), payflow.AsError(lost), "the reply of an enrolment after the winner's")

	m, err := s.Store.Merchant(ctx, "kiosk")
	require.NoError(t, err)
	assert.Equal(t, &payflow.Merchant{ID: "kiosk", Name: "Kiosk", Currency: "USD", SellerCardIDs: []string{bob.ID}}, m)
	const eur, usd = 978, 840
	accounts, err := s.Ledger.LookupAccounts(ctx, []ledger.ID{
		payflow.AccountID(payflow.AccountMerchant, usd, "kiosk"),
		payflow.AccountID(payflow.AccountMerchant, eur, "kiosk"),
	})
	require.NoError(t, err)
	require.Len(t, accounts, 2, "the winner's account, and the loser's left behind")
	for i, cur := range []uint32{usd, eur} {
		a := accounts[i]
		assert.Equal(t, cur, a.Ledger)
		assert.Equal(t, payflow.AccountMerchant, a.Code)
		assert.Equal(t, ledger.AccountDebitsMustNotExceedCredits, a.Flags, "open")
		assert.Zero(t, a.DebitsPending+a.DebitsPosted+a.CreditsPending+a.CreditsPosted, "empty")
	}
}

// TestNewPlatformBadOptions: a negative lifetime, burst or rate, and a
// rate that is not a finite number (NaN would let every resolution
// through), are refused with ErrInvalid rather than read as the default,
// naming the option and its value.
func TestNewPlatformBadOptions(t *testing.T) {
	opts := platformOptions(t)
	for name, c := range map[string]struct {
		set  func(*payflow.PlatformOptions)
		want string
	}{
		"RequestTTL":      {func(o *payflow.PlatformOptions) { o.RequestTTL = -time.Second }, "negative RequestTTL -1s"},
		"MaxRequestTTL":   {func(o *payflow.PlatformOptions) { o.MaxRequestTTL = -time.Second }, "negative MaxRequestTTL -1s"},
		"ChallengeTTL":    {func(o *payflow.PlatformOptions) { o.ChallengeTTL = -time.Second }, "negative ChallengeTTL -1s"},
		"SessionTTL":      {func(o *payflow.PlatformOptions) { o.SessionTTL = -time.Second }, "negative SessionTTL -1s"},
		"TokenTTL":        {func(o *payflow.PlatformOptions) { o.TokenTTL = -time.Second }, "negative TokenTTL -1s"},
		"HoldTTL":         {func(o *payflow.PlatformOptions) { o.HoldTTL = -time.Second }, "negative HoldTTL -1s"},
		"RecoverAfter":    {func(o *payflow.PlatformOptions) { o.RecoverAfter = -time.Second }, "negative RecoverAfter -1s"},
		"ResolveBurst":    {func(o *payflow.PlatformOptions) { o.ResolveBurst = -1 }, "negative ResolveBurst -1"},
		"ResolveRate":     {func(o *payflow.PlatformOptions) { o.ResolveRate = -1 }, "ResolveRate -1 is not a finite number of at least 0"},
		"ResolveRate NaN": {func(o *payflow.PlatformOptions) { o.ResolveRate = math.NaN() }, "ResolveRate NaN is not a finite number of at least 0"},
		"ResolveRate Inf": {func(o *payflow.PlatformOptions) { o.ResolveRate = math.Inf(1) }, "ResolveRate +Inf is not a finite number of at least 0"},
		"CatalogBurst":    {func(o *payflow.PlatformOptions) { o.CatalogBurst = -1 }, "negative CatalogBurst -1"},
		"CatalogRate":     {func(o *payflow.PlatformOptions) { o.CatalogRate = -1 }, "CatalogRate -1 is not a finite number of at least 0"},
		"CatalogRate NaN": {func(o *payflow.PlatformOptions) { o.CatalogRate = math.NaN() }, "CatalogRate NaN is not a finite number of at least 0"},
		"CatalogRate Inf": {func(o *payflow.PlatformOptions) { o.CatalogRate = math.Inf(-1) }, "CatalogRate -Inf is not a finite number of at least 0"},
		"LoginBurst":      {func(o *payflow.PlatformOptions) { o.LoginBurst = -1 }, "negative LoginBurst -1"},
		"LoginRate":       {func(o *payflow.PlatformOptions) { o.LoginRate = -0.1 }, "LoginRate -0.1 is not a finite number of at least 0"},
		"LoginRate NaN":   {func(o *payflow.PlatformOptions) { o.LoginRate = math.NaN() }, "LoginRate NaN is not a finite number of at least 0"},
		"LoginRate Inf":   {func(o *payflow.PlatformOptions) { o.LoginRate = math.Inf(1) }, "LoginRate +Inf is not a finite number of at least 0"},
	} {
		o := opts
		c.set(&o)
		_, err := payflow.NewPlatform(o)
		require.ErrorIs(t, err, payflow.ErrInvalid, name)
		assert.EqualError(t, err, "payflow: invalid request: payflow: "+c.want, name)
	}
}

// platformOptions returns the required options of a platform over a new
// fixture: its ledger, store, verifier and clock, and a fresh receipt key
// with its certificate chain.
func platformOptions(t *testing.T) payflow.PlatformOptions {
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	cert, err := f.Issuer.IssuePlatform(key.Public(), "casimpay platform", pki.IssueOptions{})
	require.NoError(t, err)
	return payflow.PlatformOptions{Ledger: f.Ledger, Store: f.Store, Verifier: f.Verifier,
		Key: key, Chain: append([][]byte{cert}, f.Issuer.Chain()...), Now: f.Clock.Now}
}

// TestNewPlatformLongestLifetimes: a lifetime 1 ns above its bound, or
// the longest Duration, is refused with ErrInvalid, naming it and the
// bound, and one at its bound is accepted: HoldTTL up to MaxHoldTTL, the
// ledger's longest timeout, (1<<32-1) s, which times the hold; the
// lifetimes that expire stored times, RecoverAfter, which sets how far
// back the recovery sweep looks, and CacheTTL up to MaxLifetime.
func TestNewPlatformLongestLifetimes(t *testing.T) {
	require.Equal(t, time.Duration(1<<32-1)*time.Second, payflow.MaxHoldTTL)
	opts := platformOptions(t)
	for _, c := range []struct {
		name  string
		bound time.Duration
		set   func(*payflow.PlatformOptions, time.Duration)
	}{
		{"RequestTTL", payflow.MaxLifetime, func(o *payflow.PlatformOptions, d time.Duration) {
			o.RequestTTL, o.MaxRequestTTL = d, payflow.MaxLifetime
		}},
		{"MaxRequestTTL", payflow.MaxLifetime, func(o *payflow.PlatformOptions, d time.Duration) { o.MaxRequestTTL = d }},
		{"ChallengeTTL", payflow.MaxLifetime, func(o *payflow.PlatformOptions, d time.Duration) { o.ChallengeTTL = d }},
		{"SessionTTL", payflow.MaxLifetime, func(o *payflow.PlatformOptions, d time.Duration) { o.SessionTTL = d }},
		{"TokenTTL", payflow.MaxLifetime, func(o *payflow.PlatformOptions, d time.Duration) { o.TokenTTL = d }},
		{"HoldTTL", payflow.MaxHoldTTL, func(o *payflow.PlatformOptions, d time.Duration) { o.HoldTTL = d }},
		{"RecoverAfter", payflow.MaxLifetime, func(o *payflow.PlatformOptions, d time.Duration) { o.RecoverAfter = d }},
		{"CacheTTL", payflow.MaxLifetime, func(o *payflow.PlatformOptions, d time.Duration) { o.CacheTTL = d }},
	} {
		for _, d := range []time.Duration{c.bound + 1, math.MaxInt64} {
			o := opts
			c.set(&o, d)
			_, err := payflow.NewPlatform(o)
			require.ErrorIs(t, err, payflow.ErrInvalid, c.name)
			assert.EqualError(t, err, fmt.Sprintf("payflow: invalid request: payflow: %s %v above its longest, %v",
				c.name, d, c.bound), c.name)
		}
		o := opts
		c.set(&o, c.bound)
		_, err := payflow.NewPlatform(o)
		assert.NoError(t, err, c.name)
	}
}

// TestNewPlatformRequestTTLAboveMax: a RequestTTL above MaxRequestTTL,
// set or default, is refused with ErrInvalid naming both, and one equal
// to it is accepted; a RequestTTL left zero takes the default, or
// MaxRequestTTL when that is shorter, and a request that asks for no TTL
// expires after it.
func TestNewPlatformRequestTTLAboveMax(t *testing.T) {
	opts := platformOptions(t)
	for _, c := range []struct{ set, bound time.Duration }{
		{time.Minute, time.Minute},
		{0, payflow.DefaultMaxRequestTTL},
	} {
		o := opts
		o.MaxRequestTTL, o.RequestTTL = c.set, c.bound+1
		_, err := payflow.NewPlatform(o)
		require.ErrorIs(t, err, payflow.ErrInvalid, c.bound)
		assert.EqualError(t, err, fmt.Sprintf("payflow: invalid request: payflow: RequestTTL %v above MaxRequestTTL, %v",
			c.bound+1, c.bound))
		o.RequestTTL = c.bound
		_, err = payflow.NewPlatform(o)
		assert.NoError(t, err, c.bound)
	}

	for _, c := range []struct{ max, want time.Duration }{
		{time.Minute, time.Minute},
		{payflow.DefaultRequestTTL, payflow.DefaultRequestTTL},
		{0, payflow.DefaultRequestTTL},
	} {
		s := newShop(t, false, paytest.Options{Platform: payflow.PlatformOptions{MaxRequestTTL: c.max}})
		v, _ := s.request(t)
		assert.Equal(t, s.Clock.Now().Add(c.want), v.ExpiresAt, c.max)
	}
}

// TestZeroPriceItems: a catalog item may cost nothing (a bag given
// away). It is priced as any other: a line of amount zero beside the
// priced ones, in the request, its views and its receipt, which verifies;
// only the total moves, and a request of free items with an asset leg
// (total zero) moves the asset alone, its money leg omitted, captured 0.
// A request of free items alone, whose total is zero without legs, is no
// valid record: the seller card cannot sign it.
func TestZeroPriceItems(t *testing.T) {
	for _, manual := range []bool{false, true} {
		t.Run(fmt.Sprintf("manual capture %v", manual), func(t *testing.T) {
			ctx := context.Background()
			s := newShop(t, manual, paytest.Options{})
			bag := payflow.CatalogItem{SKU: "bag", Name: "Paper bag"}
			require.NoError(t, s.Platform.SetCatalog(ctx, merchantID, append([]payflow.CatalogItem{bag}, paytest.Catalog...)))
			require.NoError(t, s.Platform.OpenAccount(ctx, s.shopper.ID, paytest.Ticket))
			vp, err := s.PlatformVerifier.VerifyPlatform(s.PlatformChain)
			require.NoError(t, err)
			pay := func(r *record.PaymentRequest) (*payflow.PaymentView, *record.Receipt) {
				t.Helper()
				v, err := s.Create(r)
				require.NoError(t, err)
				done := s.captured(t, v.ID, manual)
				var rc record.Receipt
				require.NoError(t, vp.VerifyReceipt(done.Receipt, &rc))
				return done, &rc
			}

			_, err = s.seller.Sign(paytest.Request(s.session, "EUR", 0, record.Item{SKU: "bag", Quantity: 1}))
			var fe *record.FieldError
			require.ErrorAs(t, err, &fe, "free items alone")
			assert.Equal(t, "amount", fe.Field)

			v, rc := pay(paytest.Request(s.session, "EUR", 120, record.Item{SKU: "bag", Quantity: 2}, record.Item{SKU: "apple", Quantity: 1}))
			assert.Equal(t, []payflow.Line{
				{SKU: "bag", Name: "Paper bag", Quantity: 2},
				{SKU: "apple", Name: "Apple", Quantity: 1, UnitPrice: 120, Amount: 120},
			}, v.Lines)
			assert.Equal(t, uint64(120), v.Captured)
			assert.Equal(t, uint64(120), rc.Amount)
			assert.Equal(t, []record.Line{{SKU: "bag", Name: "Paper bag", Quantity: 2}, {SKU: "apple", Name: "Apple", Quantity: 1, UnitPrice: 120}}, rc.Lines)
			assert.Equal(t, [2][2]payflow.Balance{{{Posted: funds - 120}, {Posted: 120}}, {{}, {Posted: 10}}}, s.allBalances(t))

			r := paytest.Request(s.session, "EUR", 0, record.Item{SKU: "bag", Quantity: 1})
			r.Legs = []record.Leg{{Asset: paytest.Ticket, Amount: 1}}
			v, rc = pay(r)
			assert.Equal(t, []payflow.Line{{SKU: "bag", Name: "Paper bag", Quantity: 1}}, v.Lines)
			assert.Zero(t, v.Captured)
			assert.Zero(t, rc.Amount)
			assert.Len(t, rc.TransferIDs, 1, "the ticket's leg alone")
			assert.Equal(t, [2][2]payflow.Balance{{{Posted: funds - 120}, {Posted: 120}}, {{Posted: 1}, {Posted: 9}}}, s.allBalances(t))
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// TestSetCatalogFitsTheClient: SetCatalog takes MaxCatalogItems items of
// the longest SKUs, names and prices a catalog may hold, and a Client with
// its default limits reads that catalog back over HTTP; one item more is
// refused (ErrInvalid) and leaves the catalog as it was.
func TestSetCatalogFitsTheClient(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	merchantID := strings.Repeat("m", record.MaxText)
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: merchantID, Name: "Warehouse", Currency: "EUR"}))
	items := make([]payflow.CatalogItem, payflow.MaxCatalogItems+1)
	for i := range items {
		sku := fmt.Sprintf("%0*d", record.MaxText, i)
		items[i] = payflow.CatalogItem{SKU: sku, Name: "Item " + sku[5:], UnitPrice: record.MaxAmount}
	}
	require.Len(t, items[0].Name, record.MaxText)

	err := s.Platform.SetCatalog(ctx, merchantID, items)
	require.ErrorIs(t, err, payflow.ErrInvalid)
	assert.EqualError(t, err, fmt.Sprintf("payflow: invalid request: a catalog holds at most %d items, not %d", payflow.MaxCatalogItems, payflow.MaxCatalogItems+1))
	stored, err := s.Store.Catalog(ctx, merchantID)
	require.NoError(t, err)
	assert.Empty(t, stored, "the catalog as it was")

	items = items[:payflow.MaxCatalogItems]
	require.NoError(t, s.Platform.SetCatalog(ctx, merchantID, items))
	srv := httptest.NewServer(mustHandler(t, s.Platform, payflow.HandlerOptions{Logger: discardLogger()}))
	defer srv.Close()
	client := mustClient(t, srv.URL, payflow.ClientOptions{MaxAttempts: 1})
	c, err := client.Catalog(ctx, s.shopper.Token, merchantID)
	require.NoError(t, err)
	assert.Equal(t, &payflow.Catalog{MerchantID: merchantID, Currency: "EUR", Items: items}, c)
}

// TestCatalogMerchantNotUTF8: a merchant ID that is not UTF-8, which no
// merchant has, is ErrInvalid; an unknown UTF-8 one is ErrNotFound, and a
// bad token is ErrUnauthorized before either.
func TestCatalogMerchantNotUTF8(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	_, err := s.Platform.Catalog(ctx, s.shopper.Token, "\xf3")
	assert.ErrorIs(t, err, payflow.ErrInvalid)
	_, err = s.Platform.Catalog(ctx, s.shopper.Token, merchantID+"\xff")
	assert.ErrorIs(t, err, payflow.ErrInvalid)
	_, err = s.Platform.Catalog(ctx, s.shopper.Token, "ó")
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	_, err = s.Platform.Catalog(ctx, "unknown", "\xf3")
	assert.ErrorIs(t, err, payflow.ErrUnauthorized)
}
