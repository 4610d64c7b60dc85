package payflow_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestChallengeForUnenrolledCardAnswersAsEnrolled: a challenge for a
// well-formed card ID that the platform does not hold gets a nonce with
// the expiry of an enrolled card's, in process and over HTTP, without the
// card being read (a store whose reads of the card fail serves it); a
// card ID that is no ICCID is invalid.
func TestChallengeForUnenrolledCardAnswersAsEnrolled(t *testing.T) {
	ctx := context.Background()
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	client := mustClient(t, serve(t, s.Fixture), payflow.ClientOptions{})
	stranger, err := simcardtest.RandomICCID(nil)
	require.NoError(t, err)
	for _, id := range []string{s.shopper.ID, stranger} {
		failCard(st, id)
		for name, api := range map[string]payflow.API{"platform": s.Platform, "http": client} {
			ch, err := api.Challenge(ctx, &payflow.ChallengeRequest{CardID: id})
			require.NoError(t, err, "%s: %s", name, id)
			assert.Len(t, ch.Nonce, record.NonceSize, name)
			assert.Equal(t, s.Clock.Now().Add(pki.DefaultNonceTTL).Unix(), ch.ExpiresAt.Unix(), name)
		}
	}
	for _, id := range []string{"", "8988", stranger[:len(stranger)-1] + "x"} {
		_, err := s.Platform.Challenge(ctx, &payflow.ChallengeRequest{CardID: id})
		require.ErrorIs(t, err, payflow.ErrInvalid, "%q", id)
		_, err = client.Challenge(ctx, &payflow.ChallengeRequest{CardID: id})
		require.ErrorIs(t, err, payflow.ErrInvalid, "%q over HTTP", id)
	}
}

// stranger is a card that a platform's issuer certified and that the
// platform does not hold until the test enrols it.
type stranger struct {
	id     string
	key    *ecdsa.PrivateKey
	chain  [][]byte
	secret []byte
}

func newStranger(t *testing.T, f *paytest.Fixture, id string) *stranger {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	cert, err := f.Issuer.IssueCard(key.Public(), id, pki.IssueOptions{})
	require.NoError(t, err)
	secret := make([]byte, adv.SecretSize)
	_, err = rand.Read(secret)
	require.NoError(t, err)
	return &stranger{id: id, key: key, chain: append([][]byte{cert}, f.Issuer.Chain()...), secret: secret}
}

// sign signs r under the card's ID with counter.
func (c *stranger) sign(t *testing.T, counter uint64, r record.CardRecord) []byte {
	t.Helper()
	*r.Header() = record.CardHeader{CardID: c.id, Counter: counter}
	msg, err := record.Sign(rand.Reader, c.key, r)
	require.NoError(t, err)
	return msg
}

// TestRecordOfUnenrolledCardIsBadSignature: a card-signed record of each
// kind (login and pairing proof, payment request, consent, refund) under
// a card ID that the platform does not hold is bad_signature, with the
// code, message and status, in process and over HTTP, that the same
// record gets once the card ID is enrolled with another key; neither
// refusal spends the record's nonce or counter: once the card is
// enrolled with the key that signed them, the same login proof is taken.
func TestRecordOfUnenrolledCardIsBadSignature(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	client := mustClient(t, serve(t, s.Fixture), payflow.ClientOptions{})
	v, _ := s.request(t)
	view, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
	require.NoError(t, err)
	id, err := simcardtest.RandomICCID(nil)
	require.NoError(t, err)
	card := newStranger(t, s.Fixture, id)

	ch, err := s.Platform.Challenge(ctx, &payflow.ChallengeRequest{CardID: card.id})
	require.NoError(t, err)
	eid, err := adv.DeriveEID(card.secret, adv.Epoch(s.Clock.Now()))
	require.NoError(t, err)
	login := card.sign(t, 1, &record.AuthProof{Nonce: ch.Nonce, Role: record.RoleShopper, EID: eid[:], PeerEID: make([]byte, record.EIDSize)})
	pair := card.sign(t, 2, &record.AuthProof{Nonce: ch.Nonce, Role: record.RoleShopper, EID: eid[:], PeerEID: s.seller.EID()})
	request := card.sign(t, 3, paytest.Request(s.session, "EUR", 100))
	consent := card.sign(t, 4, paytest.Consent(view))
	refund := card.sign(t, 5, &record.RefundRequest{RefundID: bytes.Repeat([]byte{5}, 16), RequestID: v.ID[:], Amount: 1, Currency: "EUR"})
	calls := func(api payflow.API) map[string]func() error {
		return map[string]func() error{
			"login": func() error { _, err := api.Login(ctx, &payflow.LoginRequest{Proof: login}); return err },
			"pair":  func() error { _, err := api.Pair(ctx, &payflow.PairRequest{Proof: pair}); return err },
			"payment request": func() error {
				_, err := api.CreateRequest(ctx, &payflow.CreateRequest{Request: request})
				return err
			},
			"consent": func() error { _, err := api.Approve(ctx, &payflow.ApproveRequest{Consent: consent}); return err },
			"refund":  func() error { _, err := api.Refund(ctx, &payflow.RefundRequest{Refund: refund}); return err },
		}
	}
	// refusals returns the code, message and status of each call.
	refusals := func(t *testing.T) map[string]payflow.Error {
		t.Helper()
		got := make(map[string]payflow.Error)
		for name, api := range map[string]payflow.API{"platform": s.Platform, "http": client} {
			for kind, call := range calls(api) {
				err := call()
				require.ErrorIs(t, err, payflow.ErrSignature, "%s: %s", name, kind)
				e := payflow.AsError(err)
				assert.Equal(t, http.StatusBadRequest, e.Status, "%s: %s", name, kind)
				got[name+": "+kind] = payflow.Error{Code: e.Code, Message: e.Message, Status: e.Status}
			}
		}
		return got
	}
	unenrolled := refusals(t)
	require.NoError(t, s.Store.Spent(ctx, ch.Nonce, card.id, 1), "nothing spent while the card is not enrolled")

	other := newStranger(t, s.Fixture, card.id)
	_, err = s.Platform.EnrollCard(ctx, other.chain, card.secret, "Stranger")
	require.NoError(t, err)
	enrolled := refusals(t)
	assert.Equal(t, enrolled, unenrolled, "the refusals of the card enrolled with another key")
	require.NoError(t, s.Store.Spent(ctx, ch.Nonce, card.id, 1), "nothing spent while the signature does not verify")

	_, err = s.Platform.EnrollCard(ctx, card.chain, card.secret, "Stranger")
	require.NoError(t, err)
	resp, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: login})
	require.NoError(t, err, "the login proof refused before, the card enrolled with its key")
	assert.Equal(t, card.id, resp.CardID)
}

// TestChallengeBoundToCard: a challenge nonce serves the card it was
// issued for alone. Another enrolled card's login or pairing proof over
// it, signed by that card, is nonce_replayed, in process and over HTTP,
// and spends nothing: neither that card's counter nor the nonce, which
// the card it was issued for then logs in with.
func TestChallengeBoundToCard(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	client := mustClient(t, serve(t, s.Fixture), payflow.ClientOptions{})
	bob := s.NewCard("Bob")
	ch, err := s.Platform.Challenge(ctx, &payflow.ChallengeRequest{CardID: s.shopper.ID})
	require.NoError(t, err)
	login := bob.MustSign(&record.AuthProof{Nonce: ch.Nonce, Role: record.RoleShopper, EID: bob.EID(), PeerEID: make([]byte, record.EIDSize)})
	pair := bob.MustSign(&record.AuthProof{Nonce: ch.Nonce, Role: record.RoleShopper, EID: bob.EID(), PeerEID: s.seller.EID()})
	for name, api := range map[string]payflow.API{"platform": s.Platform, "http": client} {
		_, err := api.Login(ctx, &payflow.LoginRequest{Proof: login})
		require.ErrorIs(t, err, payflow.ErrReplay, "%s: login", name)
		assert.Equal(t, http.StatusConflict, payflow.AsError(err).Status, name)
		_, err = api.Pair(ctx, &payflow.PairRequest{Proof: pair})
		require.ErrorIs(t, err, payflow.ErrReplay, "%s: pairing", name)
	}
	var proof record.AuthProof
	require.NoError(t, record.Open(login, &proof))
	require.NoError(t, s.Store.Spent(ctx, ch.Nonce, bob.ID, proof.Counter), "Bob's counter and the nonce unspent")

	p := s.shopper.MustSign(&record.AuthProof{Nonce: ch.Nonce, Role: record.RoleShopper, EID: s.shopper.EID(), PeerEID: make([]byte, record.EIDSize)})
	resp, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: p})
	require.NoError(t, err, "the login of the card the nonce was issued for")
	assert.Equal(t, s.shopper.ID, resp.CardID)
	_, err = s.Platform.Login(ctx, &payflow.LoginRequest{Proof: bob.Proof(record.RoleShopper, nil)})
	require.NoError(t, err, "Bob's login over a challenge of his own")
}

// cardReads is a store that counts its reads of each card.
type cardReads struct {
	payflow.Store
	mu sync.Mutex
	n  map[string]int

	// block, when set, is the card whose next read (Card, or its record
	// in a Cards scan) stops once read: it closes reached and waits for
	// released (blockOnce).
	block             string
	reached, released chan struct{}
}

func (s *cardReads) Card(ctx context.Context, id string) (*payflow.CardRecord, error) {
	s.mu.Lock()
	if s.n == nil {
		s.n = make(map[string]int)
	}
	s.n[id]++
	s.mu.Unlock()
	c, err := s.Store.Card(ctx, id)
	s.stop(id)
	return c, err
}

func (s *cardReads) Cards(ctx context.Context, fn func(*payflow.CardRecord) error) error {
	return s.Store.Cards(ctx, func(c *payflow.CardRecord) error {
		s.stop(c.ID)
		return fn(c)
	})
}

// blockOnce stops the next read of card id once it has read the card,
// until release is called; reached is closed when it stops.
func (s *cardReads) blockOnce(id string) (reached <-chan struct{}, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.block, s.reached, s.released = id, make(chan struct{}), make(chan struct{})
	return s.reached, sync.OnceFunc(func() { close(s.released) })
}

// stop stops the read of card id if blockOnce armed it for id.
func (s *cardReads) stop(id string) {
	s.mu.Lock()
	if s.block != id {
		s.mu.Unlock()
		return
	}
	s.block = ""
	reached, released := s.reached, s.released
	s.mu.Unlock()
	close(reached)
	<-released
}

func (s *cardReads) reads(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[id]
}

// TestUnenrolledCardReadAsOftenAsEnrolled: the records of a card ID that
// the platform does not hold read the store once every CacheTTL, as
// those of an enrolled card do, so that their refusals take no longer;
// the card enrolled, through this process or through another that shares
// the store (once this one reloads its cards), is taken at once.
func TestUnenrolledCardReadAsOftenAsEnrolled(t *testing.T) {
	ctx := context.Background()
	st := &cardReads{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	id, err := simcardtest.RandomICCID(nil)
	require.NoError(t, err)
	card := newStranger(t, s.Fixture, id)
	login := func(counter uint64) error {
		t.Helper()
		ch, err := s.Platform.Challenge(ctx, &payflow.ChallengeRequest{CardID: card.id})
		require.NoError(t, err)
		eid, err := adv.DeriveEID(card.secret, adv.Epoch(s.Clock.Now()))
		require.NoError(t, err)
		_, err = s.Platform.Login(ctx, &payflow.LoginRequest{Proof: card.sign(t, counter,
			&record.AuthProof{Nonce: ch.Nonce, Role: record.RoleShopper, EID: eid[:], PeerEID: make([]byte, record.EIDSize)})})
		return err
	}
	for i := range 3 {
		require.ErrorIs(t, login(uint64(i+1)), payflow.ErrSignature)
	}
	assert.Equal(t, 1, st.reads(card.id), "one read within CacheTTL")
	s.Clock.Advance(payflow.DefaultCacheTTL)
	require.ErrorIs(t, login(4), payflow.ErrSignature)
	assert.Equal(t, 2, st.reads(card.id), "read again once CacheTTL has passed")

	// Enrolled through another process on the same store.
	_, err = renewedPlatform(t, s.Fixture).EnrollCard(ctx, card.chain, card.secret, "Stranger")
	require.NoError(t, err)
	require.ErrorIs(t, login(5), payflow.ErrSignature, "within CacheTTL of the last read")
	require.NoError(t, s.Platform.Reload(ctx))
	require.NoError(t, login(6), "after a reload")

	// Enrolled through this process.
	id2, err := simcardtest.RandomICCID(nil)
	require.NoError(t, err)
	card = newStranger(t, s.Fixture, id2)
	require.ErrorIs(t, login(1), payflow.ErrSignature)
	_, err = s.Platform.EnrollCard(ctx, card.chain, card.secret, "Stranger")
	require.NoError(t, err)
	require.NoError(t, login(2), "enrolled here")
}
