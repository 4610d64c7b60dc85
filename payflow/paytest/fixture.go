package paytest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// Clock is a settable clock for a Fixture, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Options configure NewFixture. The zero value holds the defaults.
type Options struct {
	// SoftCards makes cards whose keys live in Go memory and sign with
	// record.Sign directly, instead of personalised virtual CA-SIMs
	// reached through APDUs: for benchmarks of the platform alone.
	SoftCards bool
	// Platform is copied into the platform's options; its Ledger, Store,
	// Verifier, Key, Chain and Now are set by the fixture.
	Platform payflow.PlatformOptions
	// Ledger configures the ledger; Now is set by the fixture.
	Ledger ledger.Options
}

// Fixture is a platform with its certificate hierarchy, ledger and clock,
// ready for cards and merchants.
type Fixture struct {
	TB            testing.TB
	Clock         *Clock
	Root, Issuer  *pki.CA
	Verifier      *pki.Verifier
	Ledger        *ledger.Ledger
	Store         payflow.Store
	Platform      *payflow.Platform
	PlatformChain [][]byte
	// Key is the platform's receipt key, for more platforms on Store.
	Key *ecdsa.PrivateKey
	// PlatformVerifier checks receipts as a phone does, offline.
	PlatformVerifier *pki.Verifier

	soft bool
}

// epochRoom is the least time a Fixture's clock leaves, when it starts,
// before the end of its EID epoch (see clockStart).
const epochRoom = 30 * time.Second

// wallClock is the clock that a Fixture's clock starts from.
var wallClock = time.Now

// clockStart returns the time a Fixture's clock starts at, for the wall
// clock's now: now, to the millisecond, or epochRoom later when less
// than epochRoom is left of now's EID epoch, which lands it in the first
// epochRoom of the next epoch, as a start in those seconds of the wall
// clock does. A test that advances the clock by less than epochRoom so
// sees its cards' EIDs stay those of one epoch, whatever the time it runs
// at: a pairing proof signed a second after the shop's pairing names the
// EIDs of the shop's session. The clock is ahead of the wall clock, by
// which the CAs issue certificates and CRLs, by epochRoom at most: well
// within pki.DefaultSkew.
func clockStart(now time.Time) time.Time {
	now = now.Truncate(time.Millisecond)
	if adv.EpochStart(adv.Epoch(now)+1).Sub(now) < epochRoom {
		return now.Add(epochRoom)
	}
	return now
}

// NewFixture builds a platform over store and a ledger over ls, with a demo
// certificate hierarchy and fresh CRLs, its clock starting now, or 30 s
// later when the next EID epoch starts within 30 s (see clockStart). The
// CAs are on that clock: their certificates, the cards' and the CRLs start
// at its time. The ledger is closed when tb ends.
func NewFixture(tb testing.TB, store payflow.Store, ls ledger.Store, opts Options) *Fixture {
	tb.Helper()
	f := &Fixture{TB: tb, Clock: &Clock{t: clockStart(wallClock())}, Store: store, soft: opts.SoftCards}
	var err error
	f.Root, f.Issuer, err = simcardtest.NewCAAt(f.Clock.Now)
	must(tb, err)
	f.Verifier, err = pki.NewVerifier(pki.VerifierOptions{
		Roots: [][]byte{f.Root.DER()}, Intermediates: [][]byte{f.Issuer.DER()}, Now: f.Clock.Now,
	})
	must(tb, err)
	f.RefreshCRLs()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(tb, err)
	cert, err := f.Issuer.IssuePlatform(key.Public(), "casimpay test platform", pki.IssueOptions{})
	must(tb, err)
	f.PlatformChain = append([][]byte{cert}, f.Issuer.Chain()...)
	f.Key = key
	f.PlatformVerifier, err = pki.NewVerifier(pki.VerifierOptions{
		Roots: [][]byte{f.Root.DER()}, Now: f.Clock.Now, Revocation: pki.RevocationBestEffort,
	})
	must(tb, err)
	lo := opts.Ledger
	lo.Now = f.Clock.Now
	f.Ledger, err = ledger.New(ls, lo)
	must(tb, err)
	tb.Cleanup(func() { f.Ledger.Close() })
	po := opts.Platform
	po.Ledger, po.Store, po.Verifier, po.Key, po.Chain, po.Now = f.Ledger, store, f.Verifier, key, f.PlatformChain, f.Clock.Now
	f.Platform, err = payflow.NewPlatform(po)
	must(tb, err)
	return f
}

// otherPlatform returns a platform on the fixture's ledger, verifier, key
// and clock over st, a store that wraps the fixture's: another process of
// the platform, whose store fails as the test has it.
func (f *Fixture) otherPlatform(st payflow.Store) *payflow.Platform {
	f.TB.Helper()
	p, err := payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: f.Ledger, Store: st, Verifier: f.Verifier, Key: f.Key, Chain: f.PlatformChain, Now: f.Clock.Now,
	})
	must(f.TB, err)
	return p
}

// RefreshCRLs issues fresh CRLs of both CAs (with what Revoke recorded)
// and hands them to the verifier.
func (f *Fixture) RefreshCRLs() {
	f.TB.Helper()
	f.AddCRLs(f.Clock.Now().Add(24 * time.Hour))
}

// AddCRLs hands the verifier CRLs of both CAs, with what Revoke recorded,
// whose next update is next.
func (f *Fixture) AddCRLs(next time.Time) {
	f.TB.Helper()
	for _, ca := range []*pki.CA{f.Root, f.Issuer} {
		crl, err := ca.CRL(next)
		must(f.TB, err)
		must(f.TB, f.Verifier.AddCRL(crl))
	}
}

// Revoke has the issuing CA revoke card c's certificate and hands the
// verifier fresh CRLs that list it.
func (f *Fixture) Revoke(c *Card) {
	f.TB.Helper()
	cert, err := pki.ParseCertificate(c.Chain[0])
	must(f.TB, err)
	must(f.TB, f.Issuer.Revoke(cert.SerialNumber, pki.ReasonKeyCompromise))
	f.RefreshCRLs()
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// Card is a test card: a virtual CA-SIM (or a soft key) enrolled on the
// fixture's platform.
type Card struct {
	ID     string
	Name   string
	Chain  [][]byte
	Secret []byte
	Token  string

	f       *Fixture
	virtual *simcardtest.Virtual
	key     *ecdsa.PrivateKey
	mu      sync.Mutex
	counter uint64
}

// NewCard personalises a card and enrols it under name.
func (f *Fixture) NewCard(name string) *Card {
	f.TB.Helper()
	c := &Card{Name: name, f: f}
	if f.soft {
		iccid, err := simcardtest.RandomICCID(nil)
		must(f.TB, err)
		c.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(f.TB, err)
		cert, err := f.Issuer.IssueCard(c.key.Public(), iccid, pki.IssueOptions{})
		must(f.TB, err)
		c.ID, c.Chain = iccid, append([][]byte{cert}, f.Issuer.Chain()...)
		c.Secret = make([]byte, adv.SecretSize)
		_, err = rand.Read(c.Secret)
		must(f.TB, err)
	} else {
		v, err := simcardtest.NewCard(f.Issuer, simcardtest.Options{})
		must(f.TB, err)
		c.virtual = v
		c.ID, c.Chain, c.Secret = v.Enrolment.ICCID, v.Enrolment.Chain, v.Enrolment.AdvertisingSecret
	}
	id, err := f.Platform.EnrollCard(context.Background(), c.Chain, c.Secret, name)
	must(f.TB, err)
	if id != c.ID {
		f.TB.Fatalf("enrolled as %s, want %s", id, c.ID)
	}
	return c
}

// EID returns the card's EID at the fixture's time.
func (c *Card) EID() []byte {
	return c.EIDAt(adv.Epoch(c.f.Clock.Now()))
}

// EIDAt returns the card's EID of epoch.
func (c *Card) EIDAt(epoch uint32) []byte {
	e, err := c.eidAt(epoch)
	must(c.f.TB, err)
	return e
}

func (c *Card) eid() ([]byte, error) {
	return c.eidAt(adv.Epoch(c.f.Clock.Now()))
}

func (c *Card) eidAt(epoch uint32) ([]byte, error) {
	e, err := adv.DeriveEID(c.Secret, epoch)
	return e[:], err
}

// Sign has the card sign r, filling in its header: through APDUs for a
// virtual card (a consent after PIN verification), with record.Sign for a
// soft one. A record of a type that no card signs, or none, is an error.
func (c *Card) Sign(r record.CardRecord) ([]byte, error) {
	if r == nil {
		return nil, errors.New("paytest: no record to sign")
	}
	if c.virtual == nil {
		c.mu.Lock()
		c.counter++
		h := record.CardHeader{CardID: c.ID, Counter: c.counter}
		c.mu.Unlock()
		*r.Header() = h
		return record.Sign(rand.Reader, c.key, r)
	}
	card := c.virtual.Card
	switch r := r.(type) {
	case *record.AuthProof:
		return card.SignAuthProof(r)
	case *record.PaymentRequest:
		return card.SignPaymentRequest(r)
	case *record.Consent:
		if err := card.VerifyPIN(simcardtest.PIN); err != nil {
			return nil, err
		}
		return card.SignConsent(r)
	case *record.RefundRequest:
		return card.SignRefundRequest(r)
	}
	return nil, fmt.Errorf("paytest: a card signs no record of type %T", r)
}

// MustSign is Sign failing the test on error.
func (c *Card) MustSign(r record.CardRecord) []byte {
	c.f.TB.Helper()
	msg, err := c.Sign(r)
	must(c.f.TB, err)
	return msg
}

// Proof gets a challenge for the card and signs an auth proof over it
// with the card's current EID and peerEID (nil for a login).
func (c *Card) Proof(role record.Role, peerEID []byte) []byte {
	c.f.TB.Helper()
	p, err := c.proof(role, peerEID)
	must(c.f.TB, err)
	return p
}

// ProofNaming is Proof naming eid as the card's own EID, whatever the
// card's current one is.
func (c *Card) ProofNaming(role record.Role, eid, peerEID []byte) []byte {
	c.f.TB.Helper()
	p, err := c.proofNaming(role, eid, peerEID)
	must(c.f.TB, err)
	return p
}

func (c *Card) proof(role record.Role, peerEID []byte) ([]byte, error) {
	eid, err := c.eid()
	if err != nil {
		return nil, err
	}
	return c.proofNaming(role, eid, peerEID)
}

func (c *Card) proofNaming(role record.Role, eid, peerEID []byte) ([]byte, error) {
	ch, err := c.f.Platform.Challenge(context.Background(), &payflow.ChallengeRequest{CardID: c.ID})
	if err != nil {
		return nil, err
	}
	if peerEID == nil {
		peerEID = make([]byte, record.EIDSize)
	}
	return c.Sign(&record.AuthProof{Nonce: ch.Nonce, Role: role, EID: eid, PeerEID: peerEID})
}

// Login logs the card in for role and keeps its token.
func (c *Card) Login(role record.Role) *payflow.LoginResponse {
	c.f.TB.Helper()
	resp, err := c.login(role)
	must(c.f.TB, err)
	return resp
}

func (c *Card) login(role record.Role) (*payflow.LoginResponse, error) {
	p, err := c.proof(role, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.f.Platform.Login(context.Background(), &payflow.LoginRequest{Proof: p})
	if err != nil {
		return nil, err
	}
	c.Token = resp.Token
	return resp, nil
}

// Pair has both cards name each other and returns the paired session.
func (f *Fixture) Pair(shopper, seller *Card) *payflow.SessionView {
	f.TB.Helper()
	s, err := f.pair(shopper, seller)
	must(f.TB, err)
	return s
}

func (f *Fixture) pair(shopper, seller *Card) (*payflow.SessionView, error) {
	ctx := context.Background()
	var s *payflow.SessionView
	for _, c := range [...]struct {
		card *Card
		role record.Role
		peer *Card
	}{{shopper, record.RoleShopper, seller}, {seller, record.RoleSeller, shopper}} {
		peer, err := c.peer.eid()
		if err != nil {
			return nil, err
		}
		p, err := c.card.proof(c.role, peer)
		if err != nil {
			return nil, err
		}
		if s, err = f.Platform.Pair(ctx, &payflow.PairRequest{Proof: p}); err != nil {
			return nil, err
		}
	}
	if s.State != payflow.SessionPaired {
		return nil, fmt.Errorf("session %s, want paired", s.State)
	}
	return s, nil
}

// Request builds a payment request of the seller to the session's shopper.
func Request(s *payflow.SessionView, currency string, amount uint64, items ...record.Item) *record.PaymentRequest {
	id := payflow.ID(ledger.NewID())
	return &record.PaymentRequest{
		RequestID: id[:], SessionID: s.ID[:], PayerCardID: s.ShopperCardID, MerchantID: s.MerchantID,
		Currency: currency, Amount: amount, Items: items,
	}
}

// Consent builds the consent to the payment view v (from Payment, with its
// nonce).
func Consent(v *payflow.PaymentView) *record.Consent {
	return &record.Consent{
		RequestID: v.ID[:], RequestHash: v.RequestHash, Nonce: v.ConsentNonce,
		Amount: v.Amount, Currency: v.Currency, MerchantID: v.MerchantID,
	}
}
