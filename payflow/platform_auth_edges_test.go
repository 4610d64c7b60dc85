package payflow_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
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

// TestLoginProofNamingPeerIsInvalid: a login proof that names a peer's
// EID is ErrInvalid (invalid), issues no token, and leaves the proof
// unspent: the same proof then pairs.
func TestLoginProofNamingPeerIsInvalid(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	proof := s.shopper.Proof(record.RoleShopper, s.seller.EID())
	resp, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrInvalid)
	assert.Equal(t, "invalid", payflow.AsError(err).Code)
	assert.Nil(t, resp)
	v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.NoError(t, err)
	assert.Equal(t, s.session.ID, v.ID)
}

// TestResolveShortEIDIsInvalid: an EID shorter or longer than
// record.EIDSize is ErrInvalid (invalid) and names no card.
func TestResolveShortEIDIsInvalid(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	for _, eid := range [][]byte{nil, s.seller.EID()[:record.EIDSize-1], append(s.seller.EID(), 0)} {
		r, err := s.Platform.Resolve(context.Background(), s.shopper.Token, &payflow.ResolveRequest{EID: eid})
		require.ErrorIs(t, err, payflow.ErrInvalid, "EID of %d bytes", len(eid))
		assert.Equal(t, "invalid", payflow.AsError(err).Code)
		assert.Nil(t, r)
	}
}

// TestStoredTokenExpiresAtItsTime: a token that a process reads from the
// store (issued by another process) serves until the instant before its
// ExpiresAt and is ErrUnauthorized (unauthorized) at it.
func TestStoredTokenExpiresAtItsTime(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	resp := s.shopper.Login(record.RoleShopper)
	s.Clock.Advance(resp.ExpiresAt.Sub(s.Clock.Now()) - 1)
	require.NoError(t, renewedPlatform(t, s.Fixture).CheckToken(ctx, resp.Token))
	s.Clock.Advance(1)
	require.Equal(t, resp.ExpiresAt, s.Clock.Now())
	err := renewedPlatform(t, s.Fixture).CheckToken(ctx, resp.Token)
	require.ErrorIs(t, err, payflow.ErrUnauthorized)
	assert.Equal(t, "unauthorized", payflow.AsError(err).Code)
}

// TestPairProofNamingNoPeerIsInvalid: a pairing proof whose peer EID is
// zero (as a login proof's) is ErrInvalid (invalid) and leaves the proof
// unspent: the same proof then logs the card in.
func TestPairProofNamingNoPeerIsInvalid(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	proof := s.shopper.Proof(record.RoleShopper, nil)
	v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrInvalid)
	assert.Equal(t, "invalid", payflow.AsError(err).Code)
	assert.Nil(t, v)
	resp, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: proof})
	require.NoError(t, err)
	assert.Equal(t, s.shopper.ID, resp.CardID)
}

// TestPairProofWithOtherEIDIsMismatch: a pairing proof whose own EID is
// not the signing card's (here the peer's) is ErrMismatch (mismatch) and
// spends the proof: sent again, it is ErrReplay.
func TestPairProofWithOtherEIDIsMismatch(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	proof := s.shopper.ProofNaming(record.RoleShopper, s.seller.EID(), s.seller.EID())
	v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Equal(t, "mismatch", payflow.AsError(err).Code)
	assert.Nil(t, v)
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrReplay)
}

// TestPairSellerRoleWithoutMerchantIsForbidden: a pairing proof of the
// seller role signed by a card that belongs to no merchant is
// ErrForbidden (forbidden) and spends the proof: sent again, it is
// ErrReplay.
func TestPairSellerRoleWithoutMerchantIsForbidden(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	proof := s.shopper.Proof(record.RoleSeller, s.seller.EID())
	v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrForbidden)
	assert.Equal(t, "forbidden", payflow.AsError(err).Code)
	assert.Nil(t, v)
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrReplay)
}

// TestSessionCardReadFailureIsInternal: a session whose other card the
// store fails to read is answered with the store's error (internal), not
// as a session of cards that are not revoked.
func TestSessionCardReadFailureIsInternal(t *testing.T) {
	s, st := outageShop(t)
	failCard(st, s.seller.ID)
	v, err := s.Platform.Session(context.Background(), s.shopper.Token, s.session.ID)
	require.ErrorIs(t, err, errLost)
	assert.Equal(t, "internal", payflow.AsError(err).Code)
	assert.Nil(t, v)
	st.card.disarm()
	v, err = s.Platform.Session(context.Background(), s.shopper.Token, s.session.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionPaired, v.State)
}

// TestResolveMissReloadsWhenClockWentBack: an EID that the process does
// not know reloads the cards at once when the clock reads a time before
// the start of the last reload, as when a second has passed since it: a
// card enrolled through another process is named.
func TestResolveMissReloadsWhenClockWentBack(t *testing.T) {
	s, other, _, bob, _ := aliceElsewhere(t, memory.New())
	ctx := context.Background()
	_, err := s.Platform.EnrollCard(ctx, bob.Enrolment.Chain, bob.Enrolment.AdvertisingSecret, "Bob")
	require.NoError(t, err)
	k, err := adv.NewEIDKey(bob.Enrolment.AdvertisingSecret)
	require.NoError(t, err)
	s.Clock.Advance(-time.Millisecond)
	eid := k.EID(adv.Epoch(s.Clock.Now()))
	r, err := other.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: eid[:]})
	require.NoError(t, err)
	assert.Equal(t, "Bob", r.DisplayName)
}

// cardReadShop is a shop on a store that counts its reads of each card,
// whose platform keeps no card in its cache (every read of a card goes to
// the store), and its store's cards deletable by hand beneath that count.
// It has just reloaded the cards: an EID that misses within the second
// reloads nothing.
func cardReadShop(t *testing.T) (*shop, *cardReads, *handDeleted) {
	t.Helper()
	del := &handDeleted{Store: memory.New()}
	st := &cardReads{Store: del}
	s := newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{CacheTTL: -1}})
	require.NoError(t, s.Platform.Reload(context.Background()))
	return s, st, del
}

// TestRevokedEIDReadsCardOnce: a revoked card's EID, which a seller card
// resolves while no reload of the cards is due, is not_found, at the cost
// of one read of the card: the EID is looked up once, not again after the
// reload that was not due.
func TestRevokedEIDReadsCardOnce(t *testing.T) {
	s, st, _ := cardReadShop(t)
	bob := s.NewCard("Bob")
	s.Revoke(bob)
	reads := st.reads(bob.ID)
	for i := 1; i <= 2; i++ {
		r, err := s.Platform.Resolve(context.Background(), s.seller.Token, &payflow.ResolveRequest{EID: bob.EID()})
		require.ErrorIs(t, err, payflow.ErrNotFound, "resolution %d", i)
		assert.Equal(t, "not_found", payflow.AsError(err).Code)
		assert.Nil(t, r)
		assert.Equal(t, reads+i, st.reads(bob.ID), "reads of the revoked card after resolution %d", i)
	}
}

// TestResolveDropsDeletedCardAtOnce: a card deleted from the store by
// hand leaves the EID resolver at the first resolution of its EID that
// reads the store, although no reload of the cards follows it (none is
// due): the next resolution of the EID is not_found without reading the
// card, as an EID no card has.
func TestResolveDropsDeletedCardAtOnce(t *testing.T) {
	s, st, del := cardReadShop(t)
	bob := s.NewCard("Bob")
	del.delete(t, bob.ID)
	reads := st.reads(bob.ID)
	for i := range 2 {
		_, err := s.Platform.Resolve(context.Background(), s.seller.Token, &payflow.ResolveRequest{EID: bob.EID()})
		require.ErrorIs(t, err, payflow.ErrNotFound, "resolution %d", i+1)
		assert.Equal(t, "not_found", payflow.AsError(err).Code)
		assert.Equal(t, reads+1, st.reads(bob.ID), "reads of the deleted card after resolution %d", i+1)
	}
}

// TestResolveUnreadableChainIsInternal: a card whose stored chain pki
// cannot read (which enrolment never stores), so that its revocation
// cannot be looked up, is not named: its EID's resolution fails for the
// platform (internal), and gives its draw on the budget back.
func TestResolveUnreadableChainIsInternal(t *testing.T) {
	s := newShop(t, false, paytest.Options{Platform: payflow.PlatformOptions{ResolveBurst: 1, ResolveRate: 1}})
	ctx := context.Background()
	bob, err := simcardtest.NewCard(s.Issuer, simcardtest.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Store.PutCard(ctx, &payflow.CardRecord{ID: bob.Enrolment.ICCID, Chain: [][]byte{[]byte("no certificate")},
		AdvSecret: bob.Enrolment.AdvertisingSecret, DisplayName: "Bob", EnrolledAt: s.Clock.Now()}))
	require.NoError(t, s.Platform.Reload(ctx))
	s.Clock.Advance(time.Second) // refills what the shop's pairing drew
	k, err := adv.NewEIDKey(bob.Enrolment.AdvertisingSecret)
	require.NoError(t, err)
	eid := k.EID(adv.Epoch(s.Clock.Now()))
	for i := range 2 {
		r, err := s.Platform.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: eid[:]})
		require.ErrorIs(t, err, payflow.ErrInternal, "resolution %d", i+1)
		assert.Equal(t, "internal", payflow.AsError(err).Code)
		assert.Nil(t, r)
	}
}

// revokedBobShop is a shop whose platform keeps no card in its cache, on
// a store that holds its scans of the cards on demand (gatedScans) and
// stops a read of a card on demand (cardReads); Bob, a card enrolled
// there, is revoked, so that his EID is read, and then not_found.
func revokedBobShop(t *testing.T) (s *shop, st *gatedScans, reads *cardReads, bob *paytest.Card) {
	t.Helper()
	reads = &cardReads{Store: memory.New()}
	st = &gatedScans{Store: reads}
	s = newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{CacheTTL: -1}})
	bob = s.NewCard("Bob")
	s.Revoke(bob)
	return s, st, reads, bob
}

// missBob starts a seller card's resolution of Bob's EID, holds its read
// of Bob (its lookup has begun) while it calls meanwhile, and returns a
// channel that sends the resolution's error.
func missBob(t *testing.T, s *shop, reads *cardReads, bob *paytest.Card, meanwhile func()) <-chan error {
	t.Helper()
	reached, release := reads.blockOnce(bob.ID)
	missed := make(chan error, 1)
	go func() {
		_, err := s.Platform.Resolve(context.Background(), s.seller.Token, &payflow.ResolveRequest{EID: bob.EID()})
		missed <- err
	}()
	within(t, reached, "the resolution's read of Bob")
	meanwhile()
	release()
	return missed
}

// TestMissAfterLaterReloadLooksOnce: a resolution that misses while a
// reload of the cards is under way, one that started at a later time of
// the clock (set back meanwhile), waits for it and looks the EID up once
// more, and then answers not_found without starting a reload of its own:
// a reload ended since its lookup began.
func TestMissAfterLaterReloadLooksOnce(t *testing.T) {
	bg := context.Background()
	s, st, reads, bob := revokedBobShop(t)

	started := st.gate()
	reloaded := reloadIn(bg, s.Platform)
	releaseReload := within(t, started, "the scan of Reload")
	s.Clock.Advance(-time.Millisecond)
	missed := missBob(t, s, reads, bob, func() {
		close(releaseReload)
		require.NoError(t, within(t, reloaded, "Reload"))
	})
	select {
	case err := <-missed:
		require.ErrorIs(t, err, payflow.ErrNotFound)
	case release := <-started:
		close(release)
		t.Fatal("the resolution reloaded the cards after the reload it waited for")
	case <-time.After(10 * time.Second):
		t.Fatal("the resolution did not answer")
	}
	assert.Equal(t, 1, st.count(), "the scan of Reload alone")
}

// endingScan is a Store whose scan of the cards, once armed, ends the
// scanning call's context as it returns, having read the cards.
type endingScan struct {
	payflow.Store
	mu     sync.Mutex
	scans  int
	cancel context.CancelFunc // nil: not armed
}

func (s *endingScan) arm(cancel context.CancelFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancel = cancel
}

func (s *endingScan) Cards(ctx context.Context, fn func(*payflow.CardRecord) error) error {
	err := s.Store.Cards(ctx, fn)
	s.mu.Lock()
	s.scans++
	cancel := s.cancel
	s.cancel = nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	return err
}

func (s *endingScan) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scans
}

// TestReloadEndedWithItsContextCounts: a reload that read the cards
// without an error counts as a reload although its caller's context ended
// just after the scan, before the reload ended: a miss within the second
// after its start reloads nothing.
func TestReloadEndedWithItsContextCounts(t *testing.T) {
	st := &endingScan{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	s.Clock.Advance(time.Second) // a reload is due at a miss
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st.arm(cancel)
	require.NoError(t, s.Platform.Reload(ctx))
	require.ErrorIs(t, ctx.Err(), context.Canceled)
	scans := st.count()
	_, err := s.Platform.Resolve(context.Background(), s.seller.Token, &payflow.ResolveRequest{EID: bytes.Repeat([]byte{7}, record.EIDSize)})
	require.ErrorIs(t, err, payflow.ErrNotFound)
	assert.Equal(t, scans, st.count(), "no reload within the second after the last")
}

// TestPairGivesBackForASpentNonce: a pairing whose proof the store's
// acceptance refuses for its nonce (ErrReplay: a copy of it accepted
// between the read of its nonce and the acceptance) gives its EID
// resolution back.
func TestPairGivesBackForASpentNonce(t *testing.T) {
	s := newShopOn(t, unreadSpent{memory.New()}, false, paytest.Options{Platform: payflow.PlatformOptions{ResolveBurst: 3, ResolveRate: 1}})
	s.Clock.Advance(time.Second) // refills what the shop's pairing drew
	ctx := context.Background()
	proof := s.shopper.Proof(record.RoleShopper, s.seller.EID())
	_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.NoError(t, err)
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrReplay)
	requireBudget(t, s, 2)
}

// TestPairRefusalLostKeepsBudget: a pairing proof refused before it draws
// on the card's budget of EID resolutions (its own EID is not the card's),
// whose refusal the store then fails to write, is internal and gives
// nothing back that it did not draw: the card's budget is what its
// resolution left. The proof stays unspent: sent again, it is refused for
// its EID.
func TestPairRefusalLostKeepsBudget(t *testing.T) {
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{ResolveBurst: 3, ResolveRate: 1}})
	s.Clock.Advance(time.Second) // refills what the shop's pairing drew
	ctx := context.Background()
	_, err := s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
	require.NoError(t, err)
	proof := s.shopper.ProofNaming(record.RoleShopper, s.seller.EID(), s.seller.EID())
	st.accept.failAll()
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, errLost)
	assert.Equal(t, "internal", payflow.AsError(err).Code)
	st.accept.disarm()
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrMismatch, "the proof was not spent")
	requireBudget(t, s, 2)
}

// TestMissAfterCutReloadsGoesOn: a resolution whose lookup began while
// two Reloads were under way, and that misses once both have been cut
// short by their callers' contexts, goes on as if neither had started:
// with no reload due, it answers not_found, not the error of either
// caller's context.
func TestMissAfterCutReloadsGoesOn(t *testing.T) {
	bg := context.Background()
	s, st, reads, bob := revokedBobShop(t)
	require.NoError(t, s.Platform.Reload(bg))

	started := st.gate()
	var (
		cancels [2]context.CancelFunc
		reloads [2]<-chan error
	)
	for i := range 2 {
		var ctx context.Context
		ctx, cancels[i] = context.WithCancel(bg)
		defer cancels[i]()
		reloads[i] = reloadIn(ctx, s.Platform)
		within(t, started, fmt.Sprintf("the scan of Reload %d", i))
	}
	missed := missBob(t, s, reads, bob, func() {
		for i := range 2 {
			cancels[i]()
			require.ErrorIs(t, within(t, reloads[i], fmt.Sprintf("Reload %d", i)), context.Canceled)
		}
	})
	err := within(t, missed, "the resolution")
	require.ErrorIs(t, err, payflow.ErrNotFound)
	assert.Equal(t, "not_found", payflow.AsError(err).Code)
	assert.Equal(t, 2, st.count(), "the scans of the two Reloads and no other")
}

// TestFailedReloadCounts: a reload that the store failed, its caller's
// context alive, counts as a reload: a miss within the second after its
// start reloads nothing, and is not_found.
func TestFailedReloadCounts(t *testing.T) {
	out := &faultStore{Store: memory.New()}
	st := &endingScan{Store: out}
	s := newShopOn(t, st, false, paytest.Options{})
	s.Clock.Advance(time.Second) // a reload is due at a miss
	out.cards.failAll()
	require.ErrorIs(t, s.Platform.Reload(context.Background()), errLost)
	out.cards.disarm()
	scans := st.count()
	_, err := s.Platform.Resolve(context.Background(), s.seller.Token, &payflow.ResolveRequest{EID: bytes.Repeat([]byte{7}, record.EIDSize)})
	require.ErrorIs(t, err, payflow.ErrNotFound)
	assert.Equal(t, scans, st.count(), "no reload within the second after the last")
}

// unreadableChain is a Store that reads card id, once set, with a chain
// that pki cannot read, as a store written by hand may hold it: chain
// when set (before id), else a certificate that does not parse.
type unreadableChain struct {
	payflow.Store
	id    atomic.Value // string
	chain [][]byte
}

func (s *unreadableChain) Card(ctx context.Context, id string) (*payflow.CardRecord, error) {
	c, err := s.Store.Card(ctx, id)
	if err != nil || id != s.id.Load() {
		return c, err
	}
	b := *c
	b.Chain = [][]byte{[]byte("no certificate")}
	if s.chain != nil {
		b.Chain = s.chain
	}
	return &b, nil
}

// TestSessionOfUnreadableChainIsInternal: a session one of whose cards the
// store reads with a chain that pki cannot read, so that its revocation
// cannot be looked up, is not shown to its other card: the read of the
// session fails for the platform (internal).
func TestSessionOfUnreadableChainIsInternal(t *testing.T) {
	st := &unreadableChain{}
	st.Store = memory.New()
	s := newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{CacheTTL: -1}})
	st.id.Store(s.seller.ID)
	v, err := s.Platform.Session(context.Background(), s.shopper.Token, s.session.ID)
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.Equal(t, "internal", payflow.AsError(err).Code)
	assert.Nil(t, v)
}

// TestClockBackTakesNoBudget: a clock set back between two resolutions of
// a card takes nothing from its budget: what the first left is drawn on
// at the earlier time as it would be at the later one.
func TestClockBackTakesNoBudget(t *testing.T) {
	s := newShop(t, false, paytest.Options{Platform: payflow.PlatformOptions{ResolveBurst: 3, ResolveRate: 1}})
	s.Clock.Advance(time.Second) // refills what the shop's pairing drew
	_, err := s.Platform.Resolve(context.Background(), s.shopper.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
	require.NoError(t, err)
	s.Clock.Advance(-500 * time.Millisecond)
	requireBudget(t, s, 2)
}

// TestLoginOfUnreadableSecretIsInternal: the login of a card that the
// store reads with an advertising secret that no EID key derives from (as
// an older database may hold it) fails for the platform (internal), its
// EID unchecked, and leaves its proof unspent: once the store reads the
// card's secret again, the same proof logs the card in.
func TestLoginOfUnreadableSecretIsInternal(t *testing.T) {
	st := &shortSecret{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{CacheTTL: -1}})
	ctx := context.Background()
	proof := s.shopper.Proof(record.RoleShopper, nil)
	st.id = s.shopper.ID
	resp, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.Equal(t, "internal", payflow.AsError(err).Code)
	assert.Nil(t, resp)
	st.id = ""
	resp, err = s.Platform.Login(ctx, &payflow.LoginRequest{Proof: proof})
	require.NoError(t, err, "the proof was not spent")
	assert.Equal(t, s.shopper.ID, resp.CardID)
}
