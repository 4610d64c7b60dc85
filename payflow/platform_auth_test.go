package payflow_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// outageShop is a limitedShop on a faultStore, which keeps no card in
// its cache, so that every read of a card goes to the store.
func outageShop(t *testing.T) (*shop, *faultStore) {
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{ResolveBurst: 3, ResolveRate: 1, CacheTTL: -1}})
	s.Clock.Advance(time.Second) // refills what the shop's pairing drew
	return s, st
}

// requireBudget checks that the shopper's card may resolve exactly left
// more EIDs.
func requireBudget(t *testing.T, s *shop, left int) {
	t.Helper()
	req := &payflow.ResolveRequest{EID: s.seller.EID()}
	for i := range left {
		_, err := s.Platform.Resolve(context.Background(), s.shopper.Token, req)
		require.NoError(t, err, "resolution %d of %d", i+1, left)
	}
	_, err := s.Platform.Resolve(context.Background(), s.shopper.Token, req)
	require.ErrorIs(t, err, payflow.ErrRateLimited)
}

// TestPairOutageKeepsBudget: a pairing that fails for the store, before
// it draws on the signing card's budget of EID resolutions (the read of
// the proof's nonce and counter) or after (it then gives the resolution
// back), however often it fails: the platform's own failure costs the
// card nothing. A proof whose acceptance failed stays unspent;
// one accepted before the session's view failed is spent.
func TestPairOutageKeepsBudget(t *testing.T) {
	s, st := outageShop(t)
	ctx := context.Background()
	pair := pairWith(s)
	proof := s.shopper.Proof(record.RoleShopper, s.seller.EID())
	st.spent.failAll()
	for i := range 5 {
		err := pair(proof)
		require.ErrorIs(t, err, errLost, "read of the proof's nonce and counter %d", i)
		assert.Equal(t, "internal", payflow.AsError(err).Code)
	}
	st.spent.disarm()
	st.accept.arm(plan[*payflow.Acceptance]{when: func(a *payflow.Acceptance) bool { return a.Session != nil }, fails: -1})
	st.cards.failAll()
	for i := range 5 {
		err := pair(proof)
		require.ErrorIs(t, err, errLost, "pairing %d", i)
		assert.Equal(t, "internal", payflow.AsError(err).Code)
	}
	probe := s.shopper.Proof(record.RoleShopper, bytes.Repeat([]byte{7}, record.EIDSize))
	require.ErrorIs(t, pair(probe), errLost, "the reload of the cards for an unknown EID fails")
	st.accept.disarm()
	st.cards.disarm()
	v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.NoError(t, err, "the proof was not spent")
	assert.Equal(t, payflow.SessionPaired, v.State)

	st.merchant.failAll()
	for i := range 5 {
		require.ErrorIs(t, pair(s.shopper.Proof(record.RoleShopper, s.seller.EID())), errLost, "view %d", i)
	}
	st.merchant.disarm()
	requireBudget(t, s, 2)
}

// TestResolveOutageKeepsBudget: a resolution that fails for the store
// takes nothing from the card's budget.
func TestResolveOutageKeepsBudget(t *testing.T) {
	s, st := outageShop(t)
	ctx := context.Background()
	resolve := func(eid []byte) error {
		_, err := s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: eid})
		return err
	}
	failCard(st, s.seller.ID)
	st.cards.failAll()
	for i := range 5 {
		require.ErrorIs(t, resolve(s.seller.EID()), errLost, "resolution %d", i)
	}
	require.ErrorIs(t, resolve(bytes.Repeat([]byte{7}, record.EIDSize)), errLost, "the reload of the cards for an unknown EID fails")
	st.card.disarm()
	st.cards.disarm()
	st.merchant.failAll()
	for i := range 5 {
		require.ErrorIs(t, resolve(s.seller.EID()), errLost, "merchant %d", i)
	}
	st.merchant.disarm()
	requireBudget(t, s, 3)
}

// badCard is a Store that also holds, first in card ID order, a card whose
// advertising secret the EID resolver refuses, as an older database may.
type badCard struct{ payflow.Store }

const badCardID = "0000000000000000001"

func (s *badCard) Cards(ctx context.Context, fn func(*payflow.CardRecord) error) error {
	if err := fn(&payflow.CardRecord{ID: badCardID, AdvSecret: []byte("short"), DisplayName: "Old"}); err != nil {
		return err
	}
	return s.Store.Cards(ctx, fn)
}

// records is a slog.Handler that keeps the records it is given.
type records struct {
	mu   sync.Mutex
	list []slog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *records) WithGroup(string) slog.Handler            { return h }

func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.list = append(h.list, r.Clone())
	return nil
}

// TestReloadSkipsBadCard: a stored card whose advertising secret the EID
// resolver refuses takes no platform down. Reload indexes every other
// card and returns an *UnresolvableCardsError naming exactly the bad one,
// which matches ErrUnresolvableCard; NewPlatform starts and logs it as a
// warning, "payflow: stored cards left out of the EID resolver", with the
// error under "error".
func TestReloadSkipsBadCard(t *testing.T) {
	st := &badCard{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{Logger: slog.New(slog.DiscardHandler)}})
	ctx := context.Background()
	logs := &records{}
	other, err := payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: s.Ledger, Store: st, Verifier: s.Verifier, Key: s.Key, Chain: s.PlatformChain, Now: s.Clock.Now,
		Logger: slog.New(logs),
	})
	require.NoError(t, err, "one bad card does not keep the platform from starting")

	r, err := other.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
	require.NoError(t, err, "the good cards were indexed")
	assert.Equal(t, paytest.MerchantID, r.MerchantID)

	require.Len(t, logs.list, 1)
	rec := logs.list[0]
	assert.Equal(t, slog.LevelWarn, rec.Level)
	assert.Equal(t, "payflow: stored cards left out of the EID resolver", rec.Message)
	var keys []string
	var logged error
	rec.Attrs(func(a slog.Attr) bool {
		keys = append(keys, a.Key)
		logged, _ = a.Value.Any().(error)
		return true
	})
	assert.Equal(t, []string{"error"}, keys)
	bad, ok := errors.AsType[*payflow.UnresolvableCardsError](logged)
	require.True(t, ok, "%v", logged)
	assert.Equal(t, []string{badCardID}, bad.CardIDs)

	err = other.Reload(ctx)
	require.ErrorIs(t, err, payflow.ErrUnresolvableCard)
	assert.ErrorIs(t, err, adv.ErrSecret, "the resolver's refusal")
	bad, ok = errors.AsType[*payflow.UnresolvableCardsError](err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, []string{badCardID}, bad.CardIDs)
	assert.Equal(t, "internal", payflow.AsError(err).Code)

	s.Clock.Advance(time.Second)
	_, err = other.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: bytes.Repeat([]byte{7}, record.EIDSize)})
	require.ErrorIs(t, err, payflow.ErrNotFound, "the reload for an unknown EID indexes the good cards and goes on")
}

// shortSecret is a Store that reads the card id, once set, with an
// advertising secret the EID resolver refuses, as an older database may
// hold a card enrolled again with one.
type shortSecret struct {
	payflow.Store
	id string
}

func (s *shortSecret) short(c *payflow.CardRecord) *payflow.CardRecord {
	if c.ID != s.id {
		return c
	}
	b := *c
	b.AdvSecret = c.AdvSecret[:5]
	return &b
}

func (s *shortSecret) Card(ctx context.Context, id string) (*payflow.CardRecord, error) {
	c, err := s.Store.Card(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.short(c), nil
}

func (s *shortSecret) Cards(ctx context.Context, fn func(*payflow.CardRecord) error) error {
	return s.Store.Cards(ctx, func(c *payflow.CardRecord) error { return fn(s.short(c)) })
}

// aliceElsewhere returns a shop on st, another platform process on its
// store, and two cards: Alice, enrolled through the shop's platform and
// loaded into the other process's EID resolver, and Bob, not enrolled. Its
// resolve resolves in the other process the EID of Alice's advertising
// secret at the shop's time.
func aliceElsewhere(t *testing.T, st payflow.Store) (s *shop, other *payflow.Platform, alice, bob *simcardtest.Virtual, resolve func() (*payflow.ResolveResponse, error)) {
	ctx := context.Background()
	s = newShopOn(t, st, false, paytest.Options{})
	other = renewedPlatform(t, s.Fixture) // another process on the same database
	alice, err := simcardtest.NewCard(s.Issuer, simcardtest.Options{})
	require.NoError(t, err)
	bob, err = simcardtest.NewCard(s.Issuer, simcardtest.Options{})
	require.NoError(t, err)
	k, err := adv.NewEIDKey(alice.Enrolment.AdvertisingSecret)
	require.NoError(t, err)
	resolve = func() (*payflow.ResolveResponse, error) {
		eid := k.EID(adv.Epoch(s.Clock.Now()))
		return other.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: eid[:]})
	}

	_, err = s.Platform.EnrollCard(ctx, alice.Enrolment.Chain, alice.Enrolment.AdvertisingSecret, "Alice")
	require.NoError(t, err)
	require.NoError(t, other.Reload(ctx))
	r, err := resolve()
	require.NoError(t, err)
	require.Equal(t, "Alice", r.DisplayName)
	return s, other, alice, bob, resolve
}

// requireBobLater checks that resolve names Bob once the cards that the
// platforms cached have expired.
func requireBobLater(t *testing.T, s *shop, resolve func() (*payflow.ResolveResponse, error), what string) {
	t.Helper()
	s.Clock.Advance(payflow.DefaultCacheTTL + time.Second)
	r, err := resolve()
	require.NoError(t, err, what)
	assert.Equal(t, "Bob", r.DisplayName, what)
}

// TestReloadDropsRefusedSecret: a card whose stored advertising secret
// the EID resolver refuses at Reload leaves the resolver, although an
// earlier Reload loaded it with its former secret. So the EIDs of that
// former secret, once enrolled by another card, resolve to that card.
func TestReloadDropsRefusedSecret(t *testing.T) {
	ctx := context.Background()
	st := &shortSecret{Store: memory.New()}
	s, other, alice, bob, resolve := aliceElsewhere(t, st)
	former := alice.Enrolment.AdvertisingSecret

	_, err := s.Platform.EnrollCard(ctx, alice.Enrolment.Chain, bytes.Repeat([]byte{0x5c}, adv.SecretSize), "Alice")
	require.NoError(t, err)
	st.id = alice.Enrolment.ICCID // now read with a secret the resolver refuses
	_, err = s.Platform.EnrollCard(ctx, bob.Enrolment.Chain, former, "Bob")
	require.NoError(t, err, "Alice's former secret is free")

	err = other.Reload(ctx)
	bad, ok := errors.AsType[*payflow.UnresolvableCardsError](err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, []string{alice.Enrolment.ICCID}, bad.CardIDs)
	requireBobLater(t, s, resolve, "the former secret's EID")
}

// handDeleted is a Store from which cards can be deleted by hand, behind
// the platforms' backs: a deleted card is not found and not listed, and
// its advertising secret is freed on demand (freeSecret).
type handDeleted struct {
	payflow.Store
	mu      sync.Mutex
	deleted map[string]bool
}

func (s *handDeleted) delete(t *testing.T, id string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleted == nil {
		s.deleted = make(map[string]bool)
	}
	s.deleted[id] = true
}

// freeSecret frees, in the store beneath, the advertising secret of the
// card id that delete deleted, for another card to be enrolled with: it
// gives the card there another secret, which withdraws its sessions and
// pending requests (payflow.Store's PutCard).
func (s *handDeleted) freeSecret(t *testing.T, id string) {
	t.Helper()
	c, err := s.Store.Card(context.Background(), id)
	require.NoError(t, err)
	c.AdvSecret = bytes.Repeat([]byte{0xd1}, adv.SecretSize)
	require.NoError(t, s.Store.PutCard(context.Background(), c))
}

func (s *handDeleted) gone(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleted[id]
}

func (s *handDeleted) Card(ctx context.Context, id string) (*payflow.CardRecord, error) {
	if s.gone(id) {
		return nil, payflow.ErrNotFound
	}
	return s.Store.Card(ctx, id)
}

func (s *handDeleted) Cards(ctx context.Context, fn func(*payflow.CardRecord) error) error {
	return s.Store.Cards(ctx, func(c *payflow.CardRecord) error {
		if s.gone(c.ID) {
			return nil
		}
		return fn(c)
	})
}

// TestResolveDropsDeletedCard: a card deleted from the store by hand
// leaves the EID resolver of a process that had loaded it, at the first
// resolution of one of its EIDs, so that a card later given its secret
// through another process resolves there after the reload of that miss.
func TestResolveDropsDeletedCard(t *testing.T) {
	ctx := context.Background()
	st := &handDeleted{Store: memory.New()}
	s, _, alice, bob, resolve := aliceElsewhere(t, st)

	st.delete(t, alice.Enrolment.ICCID)
	st.freeSecret(t, alice.Enrolment.ICCID)
	_, err := s.Platform.EnrollCard(ctx, bob.Enrolment.Chain, alice.Enrolment.AdvertisingSecret, "Bob")
	require.NoError(t, err, "the deleted card's secret is free")
	requireBobLater(t, s, resolve, "the secret's EID")
}

// TestReloadDropsDeletedCard: a card deleted from the store by hand
// leaves the EID resolver and the card cache of a process that had loaded
// and cached it at the next reload of the cards, whether Reload or a miss
// started it: its EIDs are not found from then on, although its entry in
// the cache has not expired.
func TestReloadDropsDeletedCard(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reload func(*testing.T, *shop, *payflow.Platform)
	}{
		{"Reload", func(t *testing.T, _ *shop, p *payflow.Platform) {
			require.NoError(t, p.Reload(context.Background()))
		}},
		{"a miss", func(t *testing.T, s *shop, p *payflow.Platform) {
			s.Clock.Advance(time.Second) // a reload is due
			_, err := p.Resolve(context.Background(), s.shopper.Token, &payflow.ResolveRequest{EID: bytes.Repeat([]byte{0x77}, record.EIDSize)})
			require.ErrorIs(t, err, payflow.ErrNotFound, "an EID that no card has")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &handDeleted{Store: memory.New()}
			s, other, alice, _, resolve := aliceElsewhere(t, st)
			st.delete(t, alice.Enrolment.ICCID)
			tc.reload(t, s, other)
			_, err := resolve()
			require.ErrorIs(t, err, payflow.ErrNotFound, "the deleted card's EID")
			assert.Equal(t, "not_found", payflow.AsError(err).Code)
		})
	}
}

// scanGate is a Store that counts its scans of the cards. Once armed for
// n, a scan waits until the store has looked up n login tokens since (a
// platform process looks each token up once, see Platform).
type scanGate struct {
	payflow.Store
	mu     sync.Mutex
	scans  int
	tokens int           // token lookups left before open is closed
	open   chan struct{} // nil: not armed
}

func (s *scanGate) arm(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scans, s.tokens, s.open = 0, n, make(chan struct{})
}

func (s *scanGate) Token(ctx context.Context, hash []byte) (*payflow.TokenRecord, error) {
	s.mu.Lock()
	if s.open != nil && s.tokens > 0 {
		if s.tokens--; s.tokens == 0 {
			close(s.open)
		}
	}
	s.mu.Unlock()
	return s.Store.Token(ctx, hash)
}

func (s *scanGate) Cards(ctx context.Context, fn func(*payflow.CardRecord) error) error {
	s.mu.Lock()
	s.scans++
	open := s.open
	s.mu.Unlock()
	if open != nil {
		<-open
	}
	return s.Store.Cards(ctx, fn)
}

// scanned returns the number of scans of the cards since the store was
// made or last armed.
func (s *scanGate) scanned() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scans
}

// TestResolveShopperOnlyForSellerCards: a shopper card's EID is named to
// seller cards alone. To another shopper card (Bob) it resolves as an EID
// never enrolled does: the same not_found reply, which draws on the budget
// of resolutions as a not_found does, and without the load of the cards
// that an EID the process does not know starts (the card is known). A
// shopper card's pairing proof that names it is not_found as one naming an
// unknown EID is, not forbidden. A seller card's resolution and pairing
// name it.
func TestResolveShopperOnlyForSellerCards(t *testing.T) {
	ctx := context.Background()
	st := &scanGate{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{ResolveBurst: 3, ResolveRate: 1}})
	bob := s.NewCard("Bob")
	bob.Login(record.RoleShopper)
	s.Clock.Advance(time.Second) // refills the shop's budgets; a load of the cards is due at a miss
	alice := &payflow.ResolveRequest{EID: s.shopper.EID()}
	unknown := &payflow.ResolveRequest{EID: bytes.Repeat([]byte{7}, record.EIDSize)}

	scans := st.scanned()
	who, err := s.Platform.Resolve(ctx, bob.Token, alice)
	require.ErrorIs(t, err, payflow.ErrNotFound, "%+v", who)
	assert.Nil(t, who)
	assert.Equal(t, scans+1, st.scanned(), "a shopper card's EID loads the cards, as an unknown EID does")
	_, notFound := s.Platform.Resolve(ctx, bob.Token, unknown)
	require.ErrorIs(t, notFound, payflow.ErrNotFound)
	assert.Equal(t, scans+1, st.scanned(), "an unknown EID within the card's interval loads no cards")
	assert.Equal(t, notFound, err, "the error of an unknown EID")
	assert.Equal(t, payflow.AsError(notFound), payflow.AsError(err), "the reply of an unknown EID")
	_, err = s.Platform.Resolve(ctx, bob.Token, alice)
	require.ErrorIs(t, err, payflow.ErrNotFound)
	_, err = s.Platform.Resolve(ctx, bob.Token, alice)
	require.ErrorIs(t, err, payflow.ErrRateLimited, "each not_found drew on the budget of 3")

	who, err = s.Platform.Resolve(ctx, s.seller.Token, alice)
	require.NoError(t, err, "a seller card")
	assert.Equal(t, &payflow.ResolveResponse{DisplayName: "Alice", Role: uint8(record.RoleShopper)}, who)

	s.Clock.Advance(2 * time.Second)
	_, notFound = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: bob.Proof(record.RoleShopper, unknown.EID)})
	require.ErrorIs(t, notFound, payflow.ErrNotFound)
	scans = st.scanned()
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: bob.Proof(record.RoleShopper, alice.EID)})
	require.ErrorIs(t, err, payflow.ErrNotFound, "a shopper card's pairing naming a shopper card")
	assert.Equal(t, notFound, err, "the error of a pairing naming an unknown EID")
	assert.Equal(t, payflow.AsError(notFound), payflow.AsError(err), "the reply of a pairing naming an unknown EID")
	assert.Equal(t, scans, st.scanned(), "a shopper card's EID within the card's interval loads no cards")
	_, err = s.Platform.Resolve(ctx, bob.Token, alice)
	require.ErrorIs(t, err, payflow.ErrRateLimited, "both pairings drew on the budget")

	v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.seller.Proof(record.RoleSeller, bob.EID())})
	require.NoError(t, err, "a seller card's pairing")
	assert.Equal(t, "Bob", v.ShopperName)
}

// TestResolveMissesShareReload: concurrent resolutions of an EID that the
// process does not know yet share one reload of the cards: the one that
// starts it scans, those that miss meanwhile wait for its end, and all
// find the card it loaded. Each resolution carries a token of its own,
// which the process reads from the store as the resolution starts.
func TestResolveMissesShareReload(t *testing.T) {
	const n = 8
	ctx := context.Background()
	st := &scanGate{Store: memory.New()}
	s, other, _, bob, _ := aliceElsewhere(t, st)
	_, err := s.Platform.EnrollCard(ctx, bob.Enrolment.Chain, bob.Enrolment.AdvertisingSecret, "Bob")
	require.NoError(t, err)
	k, err := adv.NewEIDKey(bob.Enrolment.AdvertisingSecret)
	require.NoError(t, err)
	s.Clock.Advance(time.Duration(n) * 10 * time.Second) // a reload is due, the seller card's budget of logins full
	eid := k.EID(adv.Epoch(s.Clock.Now()))
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = s.seller.Login(record.RoleSeller).Token
	}

	st.arm(n) // the scan waits until every resolution has started
	var wg sync.WaitGroup
	names := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			r, err := other.Resolve(ctx, tokens[i], &payflow.ResolveRequest{EID: eid[:]})
			if errs[i] = err; err == nil {
				names[i] = r.DisplayName
			}
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i], "resolution %d", i)
		assert.Equal(t, "Bob", names[i], "resolution %d", i)
	}
	assert.Equal(t, 1, st.scans, "one scan of the cards")
}

// heldScan is a Store whose next scan of the cards, once held, reads them
// all, closes read, and hands them on only once release is closed.
type heldScan struct {
	payflow.Store
	mu            sync.Mutex
	read, release chan struct{} // nil: no scan held
}

func (s *heldScan) hold() (read, release chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read, s.release = make(chan struct{}), make(chan struct{})
	return s.read, s.release
}

func (s *heldScan) Cards(ctx context.Context, fn func(*payflow.CardRecord) error) error {
	s.mu.Lock()
	read, release := s.read, s.release
	s.read, s.release = nil, nil
	s.mu.Unlock()
	if read == nil {
		return s.Store.Cards(ctx, fn)
	}
	var list []*payflow.CardRecord
	if err := s.Store.Cards(ctx, func(c *payflow.CardRecord) error {
		list = append(list, c)
		return nil
	}); err != nil {
		return err
	}
	close(read)
	<-release
	for _, c := range list {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

// aliceAgain is the advertising secret with which enrolAliceAgain enrols
// Alice again.
var aliceAgain = bytes.Repeat([]byte{0x3e}, adv.SecretSize)

func enrolAliceAgain(t *testing.T, p *payflow.Platform, alice *simcardtest.Virtual) {
	t.Helper()
	_, err := p.EnrollCard(context.Background(), alice.Enrolment.Chain, aliceAgain, "Alice")
	require.NoError(t, err)
}

// requireAliceAgain checks that p resolves to Alice the EID of aliceAgain
// at the shop's time.
func requireAliceAgain(t *testing.T, s *shop, p *payflow.Platform) {
	t.Helper()
	k, err := adv.NewEIDKey(aliceAgain)
	require.NoError(t, err)
	eid := k.EID(adv.Epoch(s.Clock.Now()))
	r, err := p.Resolve(context.Background(), s.seller.Token, &payflow.ResolveRequest{EID: eid[:]})
	require.NoError(t, err, "the new secret's EID")
	assert.Equal(t, "Alice", r.DisplayName)
}

// TestReloadKeepsNewerEnrolment: a Reload whose scan of the cards read a
// card before the process enrolled it again with another secret does not
// put the former secret back: the new secret's EIDs resolve at once, the
// former's do not.
func TestReloadKeepsNewerEnrolment(t *testing.T) {
	ctx := context.Background()
	st := &heldScan{Store: memory.New()}
	s, other, alice, _, resolveFormer := aliceElsewhere(t, st)

	read, release := st.hold()
	reloaded := make(chan error, 1)
	go func() { reloaded <- other.Reload(ctx) }()
	<-read // the scan read Alice with her former secret
	enrolAliceAgain(t, other, alice)
	close(release)
	require.NoError(t, <-reloaded)

	requireAliceAgain(t, s, other)
	_, err := resolveFormer()
	require.ErrorIs(t, err, payflow.ErrNotFound, "the former secret's EID")
}

// heldMiss is a Store whose next read of card id, once held, finds no
// card, closes read, and returns only once release is closed.
type heldMiss struct {
	payflow.Store
	mu            sync.Mutex
	id            string
	read, release chan struct{}
}

func (s *heldMiss) hold(id string) (read, release chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.id, s.read, s.release = id, make(chan struct{}), make(chan struct{})
	return s.read, s.release
}

func (s *heldMiss) Card(ctx context.Context, id string) (*payflow.CardRecord, error) {
	s.mu.Lock()
	held := id == s.id && s.read != nil
	read, release := s.read, s.release
	if held {
		s.read, s.release = nil, nil
	}
	s.mu.Unlock()
	if !held {
		return s.Store.Card(ctx, id)
	}
	close(read)
	<-release
	return nil, payflow.ErrNotFound
}

// TestResolveMissKeepsNewerEnrolment: a resolution that found a card
// missing from the store does not take it out of the EID resolver when
// the process enrolled it again meanwhile: its new secret's EIDs resolve.
func TestResolveMissKeepsNewerEnrolment(t *testing.T) {
	ctx := context.Background()
	st := &heldMiss{Store: memory.New()}
	s, other, alice, _, resolveFormer := aliceElsewhere(t, st)
	s.Clock.Advance(payflow.DefaultCacheTTL + time.Second) // Alice is read from the store again
	require.NoError(t, other.Reload(ctx))                  // and the next miss reloads nothing

	read, release := st.hold(alice.Enrolment.ICCID)
	missed := make(chan error, 1)
	go func() {
		_, err := resolveFormer()
		missed <- err
	}()
	<-read // the resolution found no Alice
	enrolAliceAgain(t, other, alice)
	close(release)
	require.ErrorIs(t, <-missed, payflow.ErrNotFound)

	requireAliceAgain(t, s, other)
}

// TestResolveMissAnswersReloadError: a resolution whose lookup began
// before a reload of the cards ended, and that misses, answers the error
// of that reload when the store failed it, as one that waited for the
// reload does, rather than not_found: the platform failed, not the EID.
func TestResolveMissAnswersReloadError(t *testing.T) {
	ctx := context.Background()
	held := &heldMiss{Store: memory.New()}
	st := &faultStore{Store: held}
	s, other, alice, _, resolveFormer := aliceElsewhere(t, st)
	s.Clock.Advance(payflow.DefaultCacheTTL + time.Second) // Alice is read from the store again

	read, release := held.hold(alice.Enrolment.ICCID)
	missed := make(chan error, 1)
	go func() {
		_, err := resolveFormer()
		missed <- err
	}()
	<-read // the resolution looked Alice up and found her missing
	st.cards.failAll()
	require.ErrorIs(t, other.Reload(ctx), errLost)
	close(release)
	err := <-missed
	require.ErrorIs(t, err, errLost)
	assert.Equal(t, "internal", payflow.AsError(err).Code)
}

// bobElsewhere is aliceElsewhere with Bob enrolled through the shop's
// platform too, once a reload is due at other; it returns Bob's EID of
// the shop's time.
func bobElsewhere(t *testing.T, st payflow.Store) (s *shop, other *payflow.Platform, eid adv.EID) {
	t.Helper()
	s, other, _, bob, _ := aliceElsewhere(t, st)
	_, err := s.Platform.EnrollCard(context.Background(), bob.Enrolment.Chain, bob.Enrolment.AdvertisingSecret, "Bob")
	require.NoError(t, err)
	k, err := adv.NewEIDKey(bob.Enrolment.AdvertisingSecret)
	require.NoError(t, err)
	s.Clock.Advance(time.Second) // a reload is due
	return s, other, k.EID(adv.Epoch(s.Clock.Now()))
}

// resolveBob resolves eid at p in the background, and sends the error of
// the resolution, or one saying whom it named if not Bob.
func resolveBob(ctx context.Context, s *shop, p *payflow.Platform, eid adv.EID) <-chan error {
	done := make(chan error, 1)
	go func() {
		r, err := p.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: eid[:]})
		if err == nil && r.DisplayName != "Bob" {
			err = fmt.Errorf("resolved to %q", r.DisplayName)
		}
		done <- err
	}()
	return done
}

// reloadStarts are the two ways a reload of the cards starts: a miss, by
// resolving Bob's EID, and a call of Reload. Each runs in the background
// and sends the error of its call.
var reloadStarts = []struct {
	name   string
	reload func(context.Context, *shop, *payflow.Platform, adv.EID) <-chan error
}{
	{"a miss", resolveBob},
	{"Reload", func(ctx context.Context, _ *shop, p *payflow.Platform, _ adv.EID) <-chan error {
		return reloadIn(ctx, p)
	}},
}

// reloadIn runs p.Reload(ctx) in the background and sends its error.
func reloadIn(ctx context.Context, p *payflow.Platform) <-chan error {
	done := make(chan error, 1)
	go func() { done <- p.Reload(ctx) }()
	return done
}

// TestResolveAfterCutReload: a reload whose caller went away before the
// scan ended, whether a miss or a call of Reload started it, does not
// count as a reload: a resolution of the same EID meanwhile or just
// after, with its own context alive, scans the cards itself and finds
// the card, instead of getting the other caller's error or waiting out
// the second between reloads.
func TestResolveAfterCutReload(t *testing.T) {
	for _, tc := range reloadStarts {
		t.Run(tc.name, func(t *testing.T) {
			st := &gatedScans{Store: memory.New()}
			s, other, eid := bobElsewhere(t, st)

			started := st.gate()
			ctx, cancel := context.WithCancel(context.Background())
			cut := tc.reload(ctx, s, other, eid)
			<-started // the cut scan, never released, waits until its context ends
			st.ungate()
			found := resolveBob(context.Background(), s, other, eid)
			cancel()
			require.ErrorIs(t, <-cut, context.Canceled, "the caller that went away")
			require.NoError(t, <-found, "the other caller")
		})
	}
}

// TestResolveWaitsForReload: a resolution that misses while a Reload is
// under way waits for it and looks again, so that it finds a card that
// only that reload loads; one whose context ends first fails with the
// context's error.
func TestResolveWaitsForReload(t *testing.T) {
	ctx := context.Background()
	st := &heldScan{Store: memory.New()}
	s, other, _, bob, _ := aliceElsewhere(t, st)
	// Bob is written to the store directly: no process has loaded him.
	require.NoError(t, st.PutCard(ctx, &payflow.CardRecord{ID: bob.Enrolment.ICCID, Chain: bob.Enrolment.Chain,
		AdvSecret: bob.Enrolment.AdvertisingSecret, DisplayName: "Bob", EnrolledAt: s.Clock.Now()}))
	k, err := adv.NewEIDKey(bob.Enrolment.AdvertisingSecret)
	require.NoError(t, err)
	eid := k.EID(adv.Epoch(s.Clock.Now()))

	read, release := st.hold()
	reloaded := make(chan error, 1)
	go func() { reloaded <- other.Reload(ctx) }()
	<-read // the reload is under way and has read Bob

	gone, cancel := context.WithCancel(ctx)
	cut := resolveBob(gone, s, other, eid)
	found := resolveBob(ctx, s, other, eid)
	cancel()
	require.ErrorIs(t, <-cut, context.Canceled, "the resolution whose context ended")
	select {
	case err := <-found:
		t.Fatalf("a resolution answered during the reload: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-found, "the resolution that waited for the reload")
	require.NoError(t, <-reloaded)
}

// aliceUnloaded returns a store that holds its scans on demand, a shop on
// it whose sessions last a minute, and Alice, a card written to the store
// directly: the shop's platform has not loaded her, so that her EID, eid
// at the shop's time, misses; a reload of the cards is due.
func aliceUnloaded(t *testing.T) (st *heldScan, s *shop, alice *simcardtest.Virtual, eid adv.EID) {
	t.Helper()
	st = &heldScan{Store: memory.New()}
	s = newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{SessionTTL: time.Minute}})
	alice, err := simcardtest.NewCard(s.Issuer, simcardtest.Options{})
	require.NoError(t, err)
	require.NoError(t, st.PutCard(context.Background(), &payflow.CardRecord{ID: alice.Enrolment.ICCID, Chain: alice.Enrolment.Chain,
		AdvSecret: alice.Enrolment.AdvertisingSecret, DisplayName: "Alice", EnrolledAt: s.Clock.Now()}))
	s.Clock.Advance(time.Second)
	k, err := adv.NewEIDKey(alice.Enrolment.AdvertisingSecret)
	require.NoError(t, err)
	return st, s, alice, k.EID(adv.Epoch(s.Clock.Now()))
}

// TestPairExpiresWhileResolving: a pairing proof whose peer's EID misses
// and waits for a reload of the cards is accepted at the time the peer
// resolved, not at the time it arrived: the session it names, which
// expired during the wait, is not confirmed, and the pairing is expired;
// its proof is spent all the same.
func TestPairExpiresWhileResolving(t *testing.T) {
	ctx := context.Background()
	st, s, alice, eid := aliceUnloaded(t)
	ch, err := s.Platform.Challenge(ctx, &payflow.ChallengeRequest{CardID: alice.Enrolment.ICCID})
	require.NoError(t, err)
	msg, err := alice.Card.SignAuthProof(&record.AuthProof{Nonce: ch.Nonce, Role: record.RoleShopper, EID: eid[:], PeerEID: s.seller.EID()})
	require.NoError(t, err)
	w, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: msg})
	require.NoError(t, err, "Alice names the seller")
	require.Equal(t, payflow.SessionWaiting, w.State)

	proof := s.seller.Proof(record.RoleSeller, eid[:])
	read, release := st.hold()
	paired := make(chan error, 1)
	go func() {
		v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
		if err == nil {
			err = fmt.Errorf("session %s", v.State)
		}
		paired <- err
	}()
	<-read // the seller's pairing missed Alice's EID and reloads the cards
	s.Clock.Advance(time.Minute)
	close(release)
	require.ErrorIs(t, within(t, paired, "the seller's pairing"), payflow.ErrExpired)

	stored, err := st.Session(ctx, w.ID)
	require.NoError(t, err)
	assert.True(t, stored.ShopperConfirmed)
	assert.False(t, stored.SellerConfirmed, "the seller's proof confirmed nothing")
	assert.Equal(t, w.ExpiresAt, stored.ExpiresAt)
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	assert.ErrorIs(t, err, payflow.ErrReplay, "the proof was spent")
}

// gatedScans is a Store that counts its scans of the cards from the last
// call of gate and, until ungate, holds each until the test releases it
// (the scan then reads the cards) or the scanning call's context ends
// (it then fails with the context's error). A held scan sends the
// channel that releases it on the channel gate returns as it begins.
type gatedScans struct {
	payflow.Store
	mu      sync.Mutex
	scans   int
	started chan chan struct{} // nil: not gated
}

func (s *gatedScans) gate() <-chan chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scans, s.started = 0, make(chan chan struct{}, 8)
	return s.started
}

// ungate lets the scans that begin from now on read the cards at once.
func (s *gatedScans) ungate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = nil
}

func (s *gatedScans) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scans
}

func (s *gatedScans) Cards(ctx context.Context, fn func(*payflow.CardRecord) error) error {
	s.mu.Lock()
	s.scans++
	started := s.started
	s.mu.Unlock()
	if started == nil {
		return s.Store.Cards(ctx, fn)
	}
	release := make(chan struct{})
	started <- release
	select {
	case <-release:
		return s.Store.Cards(ctx, fn)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// within returns what ch sends, failing the test if it sends nothing
// within 10 s, a bound far above what any wait takes, so that a wait that
// never ends fails the test instead of hanging it.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing after 10 s", what)
		var zero T
		return zero
	}
}

// TestResolveWaitsForEarlierReload: a Reload cut short while an earlier
// reload, started by a miss or by Reload, is still under way leaves the
// misses waiting for the earlier one: the resolutions that miss before
// the cut or after it start no scan of their own, answer nothing before
// the earlier reload ends, and then find the card it loaded.
func TestResolveWaitsForEarlierReload(t *testing.T) {
	for _, tc := range reloadStarts {
		t.Run(tc.name, func(t *testing.T) {
			bg := context.Background()
			st := &gatedScans{Store: memory.New()}
			s, other, eid := bobElsewhere(t, st)

			started := st.gate()
			first := tc.reload(bg, s, other, eid)
			releaseFirst := within(t, started, "the first scan")
			ctx, cancel := context.WithCancel(bg)
			cut := reloadIn(ctx, other)
			within(t, started, "the second scan")
			early := resolveBob(bg, s, other, eid)
			cancel()
			require.ErrorIs(t, within(t, cut, "the Reload cut short"), context.Canceled)
			late := resolveBob(bg, s, other, eid)

			select {
			case err := <-early:
				t.Fatalf("the resolution that missed before the cut answered during the first reload: %v", err)
			case err := <-late:
				t.Fatalf("the resolution that missed after the cut answered during the first reload: %v", err)
			case <-started:
				t.Fatal("a resolution scanned the cards during the first reload")
			case <-time.After(100 * time.Millisecond):
			}
			close(releaseFirst)
			require.NoError(t, within(t, first, "the first reload"))
			require.NoError(t, within(t, early, "the resolution that missed before the cut"))
			require.NoError(t, within(t, late, "the resolution that missed after the cut"))
			assert.Equal(t, 2, st.count(), "the scans of the two reloads and no other")
		})
	}
}

// TestResolveWaitsForFirstReloadToEnd: a resolution that misses while two
// reloads are under way waits for the first of them to end, whether it
// started first (by a miss or by Reload) or second, and then finds the
// card that reload loaded, while the other is still under way; it starts
// no scan of its own.
func TestResolveWaitsForFirstReloadToEnd(t *testing.T) {
	for _, tc := range reloadStarts {
		for _, ending := range []string{"earlier", "later"} {
			t.Run(tc.name+", the "+ending+" ends first", func(t *testing.T) {
				bg := context.Background()
				st := &gatedScans{Store: memory.New()}
				s, other, eid := bobElsewhere(t, st)

				started := st.gate()
				earlier := tc.reload(bg, s, other, eid)
				releaseEarlier := within(t, started, "the earlier scan")
				later := reloadIn(bg, other)
				releaseLater := within(t, started, "the later scan")
				miss := resolveBob(bg, s, other, eid)
				select {
				case err := <-miss:
					t.Fatalf("the resolution answered before a reload ended: %v", err)
				case <-started:
					t.Fatal("the resolution scanned the cards")
				case <-time.After(100 * time.Millisecond):
				}

				first, second := earlier, later
				releaseFirst, releaseSecond := releaseEarlier, releaseLater
				if ending == "later" {
					first, second = later, earlier
					releaseFirst, releaseSecond = releaseLater, releaseEarlier
				}
				close(releaseFirst)
				require.NoError(t, within(t, first, "the reload that ends first"))
				require.NoError(t, within(t, miss, "the resolution, while the other reload is under way"))
				close(releaseSecond)
				require.NoError(t, within(t, second, "the reload that ends second"))
				assert.Equal(t, 2, st.count(), "the scans of the two reloads and no other")
			})
		}
	}
}

// TestResolveAfterOverlappingReloads: of two overlapping Reloads, only
// one that ends without being cut short counts against the second between
// the reloads that misses start. When both are cut short, in either
// order, a resolution in the same second scans the cards itself and finds
// the card; when one of them ends, the card it loaded resolves without a
// scan, and an EID that no card has is not found, without a scan either.
func TestResolveAfterOverlappingReloads(t *testing.T) {
	type end struct {
		reload int  // 0: the one started first
		finish bool // whether it reads the cards, or is cut short
	}
	for _, tc := range []struct {
		name  string
		ends  [2]end
		scans int // over the reloads and the resolutions
	}{
		{"the first cut, then the second", [2]end{{0, false}, {1, false}}, 3},
		{"the second cut, then the first", [2]end{{1, false}, {0, false}}, 3},
		{"the first ended, then the second cut", [2]end{{0, true}, {1, false}}, 2},
		{"the second cut, then the first ended", [2]end{{1, false}, {0, true}}, 2},
		{"the second ended, then the first cut", [2]end{{1, true}, {0, false}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bg := context.Background()
			st := &gatedScans{Store: memory.New()}
			s, other, eid := bobElsewhere(t, st)

			started := st.gate()
			var (
				cancels  [2]context.CancelFunc
				reloads  [2]<-chan error
				releases [2]chan struct{}
			)
			for i := range 2 {
				var ctx context.Context
				ctx, cancels[i] = context.WithCancel(bg)
				defer cancels[i]()
				reloads[i] = reloadIn(ctx, other)
				releases[i] = within(t, started, fmt.Sprintf("the scan of reload %d", i))
			}
			for _, e := range tc.ends {
				if e.finish {
					close(releases[e.reload])
					require.NoError(t, within(t, reloads[e.reload], "the reload that ended"))
				} else {
					cancels[e.reload]()
					require.ErrorIs(t, within(t, reloads[e.reload], "the reload cut short"), context.Canceled)
				}
			}

			found := resolveBob(bg, s, other, eid)
			if tc.scans == 3 {
				select {
				case release := <-started:
					close(release)
				case err := <-found:
					t.Fatalf("the resolution answered without scanning the cards: %v", err)
				case <-time.After(5 * time.Second):
					t.Fatal("the resolution neither scanned the cards nor answered")
				}
			}
			require.NoError(t, within(t, found, "the resolution of Bob"))
			st.ungate()
			_, err := other.Resolve(bg, s.shopper.Token, &payflow.ResolveRequest{EID: bytes.Repeat([]byte{0x77}, record.EIDSize)})
			require.ErrorIs(t, err, payflow.ErrNotFound, "an EID that no card has")
			assert.Equal(t, tc.scans, st.count(), "the scans of the cards")
		})
	}
}

// TestPairSessionStartsAfterResolving: a pairing that opens a session
// after a miss waited for a reload of the cards gives it its lifetime from
// the time read once the peer's EID resolved, not from before the wait.
func TestPairSessionStartsAfterResolving(t *testing.T) {
	ctx := context.Background()
	st, s, _, eid := aliceUnloaded(t)

	proof := s.seller.Proof(record.RoleSeller, eid[:])
	read, release := st.hold()
	paired := make(chan *payflow.SessionView, 1)
	go func() {
		v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
		assert.NoError(t, err)
		paired <- v
	}()
	<-read // the seller's pairing missed Alice's EID and reloads the cards
	s.Clock.Advance(30 * time.Second)
	resolved := s.Clock.Now()
	close(release)
	v := within(t, paired, "the seller's pairing")
	require.NotNil(t, v)
	assert.Equal(t, payflow.SessionWaiting, v.State)
	assert.True(t, v.ExpiresAt.Equal(resolved.Add(time.Minute)), "expires %v, want %v", v.ExpiresAt, resolved.Add(time.Minute))
}

// TestProofPeerRefusal: a login proof that names a peer, and a pairing
// proof that names none, are refused as invalid with a message that says
// what is wrong with each.
func TestProofPeerRefusal(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		call func(s *shop, proof []byte) error
		peer func(s *shop) []byte
		want string
	}{
		{"login naming a peer", func(s *shop, proof []byte) error {
			_, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: proof})
			return err
		}, func(s *shop) []byte { return s.seller.EID() }, "payflow: invalid request: a login proof names a peer"},
		{"pairing naming no peer", func(s *shop, proof []byte) error {
			_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
			return err
		}, func(*shop) []byte { return make([]byte, record.EIDSize) }, "payflow: invalid request: a pairing proof names no peer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{})
			err := tt.call(s, s.shopper.Proof(record.RoleShopper, tt.peer(s)))
			require.ErrorIs(t, err, payflow.ErrInvalid)
			e := payflow.AsError(err)
			assert.Equal(t, "invalid", e.Code)
			assert.Equal(t, tt.want, e.Message)
		})
	}
}

// TestLoginEIDEpochs: a login proof names the card's own EID of the
// current epoch or of the one before or after it; the card's EID of an
// epoch two away is refused with ErrMismatch (PROTOCOL.md §6.1).
func TestLoginEIDEpochs(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	now := adv.Epoch(s.Clock.Now())
	for _, tc := range []struct {
		offset int64
		want   error
	}{{-2, payflow.ErrMismatch}, {-1, nil}, {0, nil}, {1, nil}, {2, payflow.ErrMismatch}} {
		t.Run(fmt.Sprint(tc.offset), func(t *testing.T) {
			proof := s.shopper.ProofNaming(record.RoleShopper, s.shopper.EIDAt(uint32(int64(now)+tc.offset)), nil)
			_, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: proof})
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, "payflow: does not match the request: EID is not the card's current one", err.Error())
		})
	}
}

// TestMissReloadPerCard: a card's unresolved EID reloads the cards at most
// once every CardReloadInterval, besides the once a second of the
// process: within its interval, another such EID of the card, asked or
// named by its pairing proof, is not_found at once, although a card
// enrolled meanwhile through another process has it, while another card's
// reloads and finds it; from the end of the interval, the card's next miss
// reloads again.
func TestMissReloadPerCard(t *testing.T) {
	ctx := context.Background()
	st := &scanGate{Store: memory.New()}
	s, other, _, bob, _ := aliceElsewhere(t, st)
	ask := func(c *paytest.Card, v *simcardtest.Virtual) (*payflow.ResolveResponse, error) {
		k, err := adv.NewEIDKey(v.Enrolment.AdvertisingSecret)
		require.NoError(t, err)
		eid := k.EID(adv.Epoch(s.Clock.Now()))
		return other.Resolve(ctx, c.Token, &payflow.ResolveRequest{EID: eid[:]})
	}
	requireFound := func(r *payflow.ResolveResponse, err error, name, what string) {
		t.Helper()
		require.NoError(t, err, what)
		assert.Equal(t, name, r.DisplayName, what)
	}
	requireUnknown := func(_ *payflow.ResolveResponse, err error, what string) {
		t.Helper()
		require.ErrorIs(t, err, payflow.ErrNotFound, what)
		assert.Equal(t, "not_found", payflow.AsError(err).Code, what)
	}
	carol, err := simcardtest.NewCard(s.Issuer, simcardtest.Options{})
	require.NoError(t, err)

	s.Clock.Advance(time.Second) // a reload is due
	scans := st.scanned()
	_, err = ask(s.shopper, bob)
	requireUnknown(nil, err, "Bob, not enrolled yet")
	require.Equal(t, scans+1, st.scanned(), "the shopper card's miss reloads")

	_, err = s.Platform.EnrollCard(ctx, bob.Enrolment.Chain, bob.Enrolment.AdvertisingSecret, "Bob")
	require.NoError(t, err)
	s.Clock.Advance(time.Second) // the process's second has passed
	r, err := ask(s.shopper, bob)
	requireUnknown(r, err, "Bob, asked by the shopper card within its interval")
	assert.Equal(t, scans+1, st.scanned(), "no reload for the shopper card within its interval")
	k, err := adv.NewEIDKey(bob.Enrolment.AdvertisingSecret)
	require.NoError(t, err)
	bobEID := k.EID(adv.Epoch(s.Clock.Now()))
	_, err = other.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.Proof(record.RoleShopper, bobEID[:])})
	requireUnknown(nil, err, "Bob, named by the shopper card's pairing proof within its interval")
	assert.Equal(t, scans+1, st.scanned(), "no reload for the shopper card's pairing within its interval")
	r, err = ask(s.seller, bob)
	requireFound(r, err, "Bob", "Bob, asked by the seller card")
	assert.Equal(t, scans+2, st.scanned(), "the seller card's miss reloads")

	_, err = s.Platform.EnrollCard(ctx, carol.Enrolment.Chain, carol.Enrolment.AdvertisingSecret, "Carol")
	require.NoError(t, err)
	s.Clock.Advance(payflow.CardReloadInterval - time.Second - time.Nanosecond)
	r, err = ask(s.shopper, carol)
	requireUnknown(r, err, "Carol, asked by the shopper card a nanosecond before its interval's end")
	assert.Equal(t, scans+2, st.scanned(), "no reload for the shopper card within its interval")
	s.Clock.Advance(time.Nanosecond)
	r, err = ask(s.shopper, carol)
	// A shopper card's EID is named to seller cards alone: the reload
	// finds Carol, whom the seller card then resolves without another.
	requireUnknown(r, err, "Carol, asked by the shopper card at its interval's end")
	assert.Equal(t, scans+3, st.scanned(), "the shopper card's miss reloads again")
	r, err = ask(s.seller, carol)
	requireFound(r, err, "Carol", "Carol, asked by the seller card after the shopper card's reload")
	assert.Equal(t, scans+3, st.scanned(), "Carol found by the shopper card's reload")
}

// TestHiddenEIDLoadsAsUnknown: a shopper card's EID, which Resolve and a
// shopper card's pairing proof answer a shopper card as an unknown EID,
// loads the cards as an unknown EID does (once the card's interval and
// the process's second have passed, and not within them), so that the
// time of the answer does not tell a shopper card that the EID is an
// enrolled shopper's.
func TestHiddenEIDLoadsAsUnknown(t *testing.T) {
	ctx := context.Background()
	st := &scanGate{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	bob := s.NewCard("Bob")
	bob.Login(record.RoleShopper)
	alice := &payflow.ResolveRequest{EID: s.shopper.EID()}
	unknown := &payflow.ResolveRequest{EID: bytes.Repeat([]byte{7}, record.EIDSize)}
	for _, c := range []struct {
		what  string
		eid   []byte
		loads int
	}{
		{"Alice's EID, the card's first miss", alice.EID, 1},
		{"an unknown EID within the card's interval", unknown.EID, 0},
		{"Alice's EID within the card's interval", alice.EID, 0},
	} {
		if c.loads > 0 {
			s.Clock.Advance(time.Second) // the process's second has passed
		}
		scans := st.scanned()
		_, err := s.Platform.Resolve(ctx, bob.Token, &payflow.ResolveRequest{EID: c.eid})
		require.ErrorIs(t, err, payflow.ErrNotFound, c.what)
		assert.Equal(t, scans+c.loads, st.scanned(), c.what)
	}
	resolve := func(eid []byte) error {
		_, err := s.Platform.Resolve(ctx, bob.Token, &payflow.ResolveRequest{EID: eid})
		return err
	}
	pair := func(eid []byte) error {
		_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: bob.Proof(record.RoleShopper, eid)})
		return err
	}
	for _, call := range []struct {
		what string
		do   func([]byte) error
	}{{"resolved", resolve}, {"named by a pairing proof", pair}} {
		for _, c := range []struct {
			what string
			eid  []byte
		}{{"an unknown EID", unknown.EID}, {"Alice's EID", alice.EID}} {
			s.Clock.Advance(payflow.CardReloadInterval)
			scans := st.scanned()
			require.ErrorIs(t, call.do(c.eid), payflow.ErrNotFound, c.what)
			assert.Equal(t, scans+1, st.scanned(), "%s, %s after the card's interval", c.what, call.what)
			require.ErrorIs(t, call.do(c.eid), payflow.ErrNotFound, c.what)
			assert.Equal(t, scans+1, st.scanned(), "%s, %s within the card's interval", c.what, call.what)
		}
	}
}
