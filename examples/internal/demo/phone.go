package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/queue"
)

// ErrReceipt reports a receipt that verifies but does not say what the
// phone's screen showed.
var ErrReceipt = errors.New("demo: receipt does not match the payment")

// PollInterval is how often a phone asks the platform again while it waits
// for the other phone.
const PollInterval = 50 * time.Millisecond

// Phone is the app of a shopper or a seller: its card, its service queue,
// its screen and the platform API (in process or over HTTP).
type Phone struct {
	Party   *Party
	Card    *Card
	API     payflow.API
	Screen  *Screen
	Queue   *queue.Queue
	Station *Station
	Scanner *Listener
	// Token, Name and MerchantID are set by Login.
	Token, Name, MerchantID string

	root []byte
}

// NewPhone returns the phone of party with card, talking to api, printing
// on screen, trusting the root certificate rootDER for receipts.
func NewPhone(party *Party, card *Card, api payflow.API, screen *Screen, rootDER []byte) (*Phone, error) {
	q, err := queue.New(party.Role, queue.Options{})
	if err != nil {
		return nil, err
	}
	return &Phone{
		Party: party, Card: card, API: api, Screen: screen, Queue: q, root: rootDER,
		Station: &Station{Party: party, Card: card}, Scanner: &Listener{Party: party, Queue: q},
	}, nil
}

// EID returns the phone's EID at now, as its card broadcasts it.
func (p *Phone) EID(now time.Time) (adv.EID, error) {
	b, err := p.Station.Advert(now)
	if err != nil {
		return adv.EID{}, err
	}
	pk, err := adv.Parse(b)
	if err != nil {
		return adv.EID{}, err
	}
	return pk.EID, nil
}

// proof has the card sign an auth proof over a fresh challenge, naming
// peer (nil for a login).
func (p *Phone) proof(ctx context.Context, peer []byte) ([]byte, error) {
	ch, err := p.API.Challenge(ctx, &payflow.ChallengeRequest{CardID: p.Card.ICCID})
	if err != nil {
		return nil, err
	}
	eid, err := p.EID(time.Now())
	if err != nil {
		return nil, err
	}
	if peer == nil {
		peer = make([]byte, record.EIDSize)
	}
	return p.Card.SignAuthProof(&record.AuthProof{Nonce: ch.Nonce, Role: record.Role(p.Party.Role), EID: eid[:], PeerEID: peer})
}

// Login proves the card to the platform and keeps the token.
func (p *Phone) Login(ctx context.Context) error {
	msg, err := p.proof(ctx, nil)
	if err != nil {
		return err
	}
	r, err := p.API.Login(ctx, &payflow.LoginRequest{Proof: msg})
	if err != nil {
		return err
	}
	p.Token, p.Name, p.MerchantID = r.Token, r.DisplayName, r.MerchantID
	p.Screen.Printf("%s logged in with card %s (the card signed the cloud's challenge)", r.DisplayName, r.CardID)
	return nil
}

// Entry is a line of the service queue: a peer heard over the air and its
// name as the cloud resolved it.
type Entry struct {
	Peer       queue.Peer
	Name       string
	MerchantID string
}

// ServiceQueue resolves the peers of the queue into names and shows them,
// nearest first. Peers the cloud does not know are shown as such.
func (p *Phone) ServiceQueue(ctx context.Context) ([]Entry, error) {
	peers := p.Queue.Snapshot()
	entries := make([]Entry, 0, len(peers))
	what := "shopper"
	if p.Party.Role == adv.Shopper {
		what = "seller"
	}
	if len(peers) != 1 {
		what += "s"
	}
	p.Screen.Printf("Service queue: %d %s nearby, nearest first", len(peers), what)
	for i, peer := range peers {
		e := Entry{Peer: peer, Name: "(unknown phone)"}
		r, err := p.API.Resolve(ctx, p.Token, &payflow.ResolveRequest{EID: peer.Packet.EID[:]})
		switch {
		case err == nil:
			e.Name, e.MerchantID = r.DisplayName, r.MerchantID
		case !errors.Is(err, payflow.ErrNotFound):
			return nil, err
		}
		entries = append(entries, e)
		p.Screen.Printf("  %d. %-16s %4.0f dBm  (EID %s…, %d adverts)", i+1, e.Name, peer.RSSI, peer.Packet.EID.String()[:8], peer.Reports)
	}
	return entries, nil
}

// Choose selects the entry named name, as the user taps it.
func (p *Phone) Choose(entries []Entry, name string) (Entry, error) {
	for i, e := range entries {
		if e.Name == name {
			if _, err := p.Queue.Select(e.Peer.Packet.EID); err != nil {
				return Entry{}, err
			}
			p.Screen.Printf("%s taps %d. %s", p.Party.Display, i+1, name)
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("demo: %q is not in the service queue", name)
}

// Pair confirms e (Confirm) and waits until the other phone has
// confirmed too (AwaitPaired).
func (p *Phone) Pair(ctx context.Context, e Entry) (*payflow.SessionView, error) {
	s, err := p.Confirm(ctx, e)
	if err != nil {
		return nil, err
	}
	return p.AwaitPaired(ctx, s)
}

// Confirm shows the confirmation screen for e (its name and the pairing
// code computed from both EIDs) and confirms it with a card-signed proof
// over a fresh challenge naming e's EID.
func (p *Phone) Confirm(ctx context.Context, e Entry) (*payflow.SessionView, error) {
	own, err := p.EID(time.Now())
	if err != nil {
		return nil, err
	}
	peer := e.Peer.Packet.EID
	p.Screen.Printf("Confirm %s? This screen shows pairing code %s", e.Name, adv.PairingCode(own, peer))
	msg, err := p.proof(ctx, peer[:])
	if err != nil {
		return nil, err
	}
	return p.API.Pair(ctx, &payflow.PairRequest{Proof: msg})
}

// AwaitPaired waits until both cards of session s have confirmed and shows
// the pairing code the cloud derived.
func (p *Phone) AwaitPaired(ctx context.Context, s *payflow.SessionView) (*payflow.SessionView, error) {
	var err error
	for s.State != payflow.SessionPaired {
		if err := sleep(ctx, PollInterval); err != nil {
			return nil, err
		}
		if s, err = p.API.Session(ctx, p.Token, s.ID); err != nil {
			return nil, err
		}
	}
	other := s.MerchantName
	if p.Party.Role == adv.Seller {
		other = s.ShopperName
	}
	p.Screen.Printf("Paired with %s: the cloud confirms pairing code %s (session %s)", other, s.PairingCode, Short(s.ID))
	return s, nil
}

// RequestID returns the ID of the n-th payment request of a session. The
// seller derives it so that the shopper's phone finds the request that the
// cloud holds for it by asking for it.
func RequestID(session payflow.ID, n int) payflow.ID {
	return payflow.ID(derivedID("request", session.String(), strconv.Itoa(n)))
}

// Charge is the seller's till: it prices the basket from the merchant's
// catalog, has the card sign the payment request and sends it. legs are
// assets that go to the shopper with the payment.
func (p *Phone) Charge(ctx context.Context, s *payflow.SessionView, basket []Item, legs []record.Leg) (*payflow.PaymentView, error) {
	cat, err := p.API.Catalog(ctx, p.Token, p.MerchantID)
	if err != nil {
		return nil, err
	}
	prices := make(map[string]payflow.CatalogItem, len(cat.Items))
	for _, it := range cat.Items {
		prices[it.SKU] = it
	}
	r := &record.PaymentRequest{SessionID: s.ID[:], PayerCardID: s.ShopperCardID, MerchantID: s.MerchantID, Currency: cat.Currency, Legs: legs}
	p.Screen.Printf("Basket for %s:", s.ShopperName)
	for _, it := range basket {
		ci, ok := prices[it.SKU]
		if !ok {
			return nil, fmt.Errorf("demo: %q is not in the catalog", it.SKU)
		}
		r.Items = append(r.Items, record.Item{SKU: it.SKU, Quantity: it.Quantity})
		r.Amount += ci.UnitPrice * it.Quantity
		p.Screen.Printf("  %2d × %-22s %8s", it.Quantity, ci.Name, Amount(ci.UnitPrice*it.Quantity, cat.Currency))
	}
	for _, l := range legs {
		p.Screen.Printf("  %2d × %-22s (delivered with the payment)", l.Amount, l.Asset)
	}
	p.Screen.Printf("  Total %29s", Money(r.Amount, cat.Currency))
	// The first request number of the session that is free.
	var id payflow.ID
	for n := 0; ; n++ {
		id = RequestID(s.ID, n)
		_, err := p.API.Payment(ctx, p.Token, id)
		if errors.Is(err, payflow.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	r.RequestID = id[:]
	msg, err := p.Card.SignPaymentRequest(r)
	if err != nil {
		return nil, err
	}
	v, err := p.API.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	if err != nil {
		return nil, err
	}
	p.Screen.Printf("The card signed payment request %s; waiting for %s to approve", Short(v.ID), s.ShopperName)
	return v, nil
}

// AwaitRequest is the shopper's phone waiting for the payment screen of
// the session: the first request of the session that is still pending.
func (p *Phone) AwaitRequest(ctx context.Context, s *payflow.SessionView) (*payflow.PaymentView, error) {
	for n := 0; ; {
		v, err := p.API.Payment(ctx, p.Token, RequestID(s.ID, n))
		switch {
		case errors.Is(err, payflow.ErrNotFound):
			if err := sleep(ctx, PollInterval); err != nil {
				return nil, err
			}
		case err != nil:
			return nil, err
		case v.State == payflow.StatePending:
			return v, nil
		default:
			n++
		}
	}
}

// ShowPayment prints the payment screen of v, as the cloud priced it.
func (p *Phone) ShowPayment(v *payflow.PaymentView) {
	p.Screen.Printf("Payment request from %s:", v.MerchantName)
	for _, l := range v.Lines {
		p.Screen.Printf("  %2d × %-22s @ %6s %8s", l.Quantity, l.Name, Amount(l.UnitPrice, v.Currency), Amount(l.Amount, v.Currency))
	}
	for _, l := range v.Legs {
		p.Screen.Printf("  %2d × %-22s you receive it with the payment", l.Amount, l.Asset)
	}
	p.Screen.Printf("  Total %38s", Money(v.Amount, v.Currency))
	p.Screen.Printf("  (request %s, expires %s)", Short(v.ID), v.ExpiresAt.UTC().Format("15:04:05 UTC"))
}

// Approve is the shopper approving the payment screen v with the card's
// PIN: the card signs a consent bound to the request's hash, amount,
// currency and payee; the cloud settles and returns the signed receipt,
// which the phone verifies.
func (p *Phone) Approve(ctx context.Context, v *payflow.PaymentView, pin string) (*payflow.PaymentView, *record.Receipt, error) {
	var sum uint64
	for _, l := range v.Lines {
		sum += l.Amount
	}
	if len(v.Lines) > 0 && sum != v.Amount {
		return nil, nil, fmt.Errorf("demo: the lines add up to %d, the total says %d", sum, v.Amount)
	}
	left, total, err := p.Card.PINTries()
	if err != nil {
		return nil, nil, err
	}
	p.Screen.Printf("Enter PIN (%d of %d tries left): %s", left, total, mask(pin))
	if err := p.Card.VerifyPIN(pin); err != nil {
		return nil, nil, err
	}
	msg, err := p.Card.SignConsent(&record.Consent{
		RequestID: v.ID[:], RequestHash: v.RequestHash, Nonce: v.ConsentNonce,
		Amount: v.Amount, Currency: v.Currency, MerchantID: v.MerchantID,
	})
	if err != nil {
		return nil, nil, err
	}
	p.Screen.Printf("PIN accepted; the card signed the consent to %s for %s", Money(v.Amount, v.Currency), v.MerchantName)
	done, err := p.API.Approve(ctx, &payflow.ApproveRequest{Consent: msg})
	if err != nil {
		return nil, nil, err
	}
	rc, err := p.VerifyReceipt(ctx, done)
	return done, rc, err
}

// AwaitSettled is the seller's phone waiting for the outcome of request
// id; a captured payment's receipt is verified and shown.
func (p *Phone) AwaitSettled(ctx context.Context, id payflow.ID) (*payflow.PaymentView, *record.Receipt, error) {
	for {
		v, err := p.API.Payment(ctx, p.Token, id)
		if err != nil {
			return nil, nil, err
		}
		switch v.State {
		case payflow.StatePending:
			if err := sleep(ctx, PollInterval); err != nil {
				return nil, nil, err
			}
			continue
		case payflow.StateCaptured:
			rc, err := p.VerifyReceipt(ctx, v)
			return v, rc, err
		}
		p.Screen.Printf("Request %s ended %s", Short(v.ID), v.State)
		return v, nil, nil
	}
}

// VerifyReceipt checks the receipt of a captured payment offline: the
// platform's chain up to the trusted root, the signature, and that it
// names the request, the amount and the parties of v. It shows it.
func (p *Phone) VerifyReceipt(ctx context.Context, v *payflow.PaymentView) (*record.Receipt, error) {
	info, err := p.API.Info(ctx)
	if err != nil {
		return nil, err
	}
	ver, err := ReceiptVerifier(p.root)
	if err != nil {
		return nil, err
	}
	vp, err := ver.VerifyPlatform(info.Chain)
	if err != nil {
		return nil, err
	}
	var rc record.Receipt
	if err := vp.VerifyReceipt(v.Receipt, &rc); err != nil {
		return nil, err
	}
	if !bytes.Equal(rc.RequestID, v.ID[:]) || !bytes.Equal(rc.RequestHash, v.RequestHash) || rc.Amount != v.Captured ||
		rc.Currency != v.Currency || rc.MerchantID != v.MerchantID || rc.PayerCardID != v.PayerCardID {
		return nil, ErrReceipt
	}
	p.Screen.Printf("Receipt verified: signed by %q, chain up to the trusted root", vp.Name)
	p.Screen.Printf("  card %s paid %s to %s at %s", v.PayerCardID, Money(rc.Amount, rc.Currency), v.MerchantName,
		time.UnixMilli(int64(rc.Time)).UTC().Format("2006-01-02 15:04:05 UTC"))
	for _, l := range rc.Legs {
		p.Screen.Printf("  %d × %s delivered", l.Amount, l.Asset)
	}
	p.Screen.Printf("  ledger transfers: %d, request %s", len(rc.TransferIDs), Short(v.ID))
	return &rc, nil
}

func mask(pin string) string { return string(bytes.Repeat([]byte{'*'}, len(pin))) }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
