package demo

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"time"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// Narrator is the platform API with the cloud's screen: it passes every
// call to the platform and prints what the cloud did for logins, pairings,
// payment requests, approvals and refunds, with the balances after each
// payment. A session paired is shown with whose confirmation paired it and
// whose was in it before, and a confirmation of a session shown paired
// before as made again (Pair). Each payment is printed once: a consent
// sent again after its reply was lost, which the platform answers with the
// payment it settled, prints nothing more (Approve); one that the recovery
// sweep settled, its call cut short, is counted by the sweep's line
// instead (RunCloud's sweepDue). It is safe for concurrent use.
type Narrator struct {
	payflow.API
	Cloud  *Cloud
	Screen *Screen

	mu        sync.Mutex
	approving map[payflow.ID]*approval // the consents under way, by request
	paired    map[payflow.ID]time.Time // the sessions shown paired, until they expire
}

// approval is what the Narrator knows of the consents to one request
// under way.
type approval struct {
	calls   int  // the calls of Approve under way
	printed bool // one of them printed the payment
}

var (
	_ payflow.API           = (*Narrator)(nil)
	_ payflow.TokenChecker  = (*Narrator)(nil)
	_ payflow.Clocked       = (*Narrator)(nil)
	_ payflow.RecordChecker = (*Narrator)(nil)
)

// CheckToken implements payflow.TokenChecker, so that the server's
// handler checks a token before it replays a stored reply to it: it asks
// the API it wraps, and takes every token when that cannot check one
// alone, as the handler does in front of such an API.
func (n *Narrator) CheckToken(ctx context.Context, token string) error {
	if tc, ok := n.API.(payflow.TokenChecker); ok {
		return tc.CheckToken(ctx, token)
	}
	return nil
}

// CheckRecord implements payflow.RecordChecker, so that the server's
// handler has a card-signed record checked before it claims its
// Idempotency-Key, and a forged one writes nothing to the reply store:
// it asks the API it wraps, whose calls the Narrator makes under the
// context that this returns, and lets every record through when that
// cannot check one alone, as the handler does in front of such an API.
func (n *Narrator) CheckRecord(ctx context.Context, req any) (context.Context, error) {
	if rc, ok := n.API.(payflow.RecordChecker); ok {
		return rc.CheckRecord(ctx, req)
	}
	return ctx, nil
}

// Now implements payflow.Clocked, so that the server's handler stamps the
// leases and expiries of its stored replies by the clock of the API it
// wraps, by which the platform deletes them, and by time.Now when that has
// none, as the handler does in front of such an API.
func (n *Narrator) Now() time.Time {
	if c, ok := n.API.(payflow.Clocked); ok {
		return c.Now()
	}
	return time.Now()
}

func (n *Narrator) cardName(ctx context.Context, id string) string {
	c, err := n.Cloud.Store.Card(ctx, id)
	if err != nil {
		return id
	}
	return c.DisplayName
}

// Login implements payflow.API.
func (n *Narrator) Login(ctx context.Context, req *payflow.LoginRequest) (*payflow.LoginResponse, error) {
	r, err := n.API.Login(ctx, req)
	if err == nil {
		n.Screen.Printf("Verified %s's card %s (chain, CRL, signature, counter); token issued", r.DisplayName, r.CardID)
	}
	return r, err
}

// Pair implements payflow.API. A session that the proof finds paired is
// shown with whose confirmation the proof was ("now") and whose was in the
// session before: its ID is that of the two cards and their EIDs, and it
// lives 10 minutes, so that a phone program run again within them, the
// EIDs the same, finds the other side's confirmation of its earlier run
// in it (PROTOCOL.md §6.1), which pairs it at once. A proof of a session
// shown paired before (the other side's confirmation of that run again)
// is shown as a confirmation made again ("Session … : NAME confirmed it
// again, paired before"), not as a second pairing.
func (n *Narrator) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	s, err := n.API.Pair(ctx, req)
	if err == nil {
		if s.State == payflow.SessionPaired {
			// Whose proof this was, which the platform verified: the
			// other side's confirmation may be one made minutes before,
			// of the same EIDs (a phone program run again: PROTOCOL.md
			// §6.1), not one made just now.
			now, before := "", ""
			var proof record.AuthProof
			if record.Open(req.Proof, &proof) == nil {
				now, before = s.ShopperName, s.MerchantName
				if proof.Role == record.RoleSeller {
					now, before = before, now
				}
			}
			switch {
			case n.shownPaired(s) && now != "":
				n.Screen.Printf("Session %s: %s confirmed it again, paired before", Short(s.ID), now)
			case now != "":
				n.Screen.Printf("Session %s paired: %s and %s, pairing code %s (%s confirmed it now, %s before)", Short(s.ID), s.ShopperName, s.MerchantName, s.PairingCode, now, before)
			default:
				n.Screen.Printf("Session %s paired: %s and %s, pairing code %s", Short(s.ID), s.ShopperName, s.MerchantName, s.PairingCode)
			}
		} else {
			n.Screen.Printf("Session %s: one side confirmed, waiting for the other", Short(s.ID))
		}
	}
	return s, err
}

// shownPaired reports whether the session s, paired, was shown paired
// before, and records it as shown until it expires; the sessions expired
// are forgotten.
func (n *Narrator) shownPaired(s *payflow.SessionView) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	for id, exp := range n.paired {
		if !now.Before(exp) {
			delete(n.paired, id)
		}
	}
	if _, ok := n.paired[s.ID]; ok {
		return true
	}
	if n.paired == nil {
		n.paired = make(map[payflow.ID]time.Time)
	}
	n.paired[s.ID] = s.ExpiresAt
	return false
}

// CreateRequest implements payflow.API.
func (n *Narrator) CreateRequest(ctx context.Context, req *payflow.CreateRequest) (*payflow.PaymentView, error) {
	v, err := n.API.CreateRequest(ctx, req)
	if err == nil {
		n.Screen.Printf("Payment request %s from %s to %s: %s, priced from the catalog",
			Short(v.ID), v.MerchantName, n.cardName(ctx, v.PayerCardID), Money(v.Amount, v.Currency))
	}
	return v, err
}

// Approve implements payflow.API. It prints the payment that the consent
// settled, once: not when the stored request held that very consent,
// settled, before the call (a consent sent again after its reply was
// lost, to this cloud process or to another, or before a restart), nor
// when another call of the same consent under way at once printed it.
func (n *Narrator) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	id, ok := consentRequest(req)
	var a *approval
	if ok {
		// Before the store is read: a call that ends before then has
		// settled what the read finds.
		a = n.begin(id)
		defer n.end(id)
	}
	settled := ok && n.settledBefore(ctx, id, req.Consent)
	v, err := n.API.Approve(ctx, req)
	if err != nil || settled || !n.claim(a) {
		return v, err
	}
	payer := n.cardName(ctx, v.PayerCardID)
	n.Screen.Printf("Consent verified; %s held and captured from %s to %s; receipt signed", Money(v.Captured, v.Currency), payer, v.MerchantName)
	units := []string{v.Currency}
	for _, l := range v.Legs {
		units = append(units, l.Asset)
	}
	var parts []string
	for _, u := range units {
		for _, owner := range []struct{ id, name string }{{v.PayerCardID, payer}, {v.MerchantID, v.MerchantName}} {
			if b, err := n.Cloud.Platform.Balance(ctx, owner.id, u); err == nil {
				parts = append(parts, owner.name+" "+Money(b.Posted, u))
			}
		}
	}
	n.Screen.Printf("Balances now: %s", strings.Join(parts, ", "))
	return v, nil
}

// Refund implements payflow.API.
func (n *Narrator) Refund(ctx context.Context, req *payflow.RefundRequest) (*payflow.RefundView, error) {
	v, err := n.API.Refund(ctx, req)
	if err == nil {
		n.Screen.Printf("Refund %s of %s on request %s", Short(v.ID), Money(v.Amount, v.Currency), Short(v.RequestID))
	}
	return v, err
}

// consentRequest returns the ID of the request that the consent of req
// names, read without checking its signature, which the platform checks,
// and whether it could be read.
func consentRequest(req *payflow.ApproveRequest) (payflow.ID, bool) {
	var cs record.Consent
	var id payflow.ID
	if req == nil || record.Open(req.Consent, &cs) != nil || len(cs.RequestID) != len(id) {
		return id, false
	}
	copy(id[:], cs.RequestID)
	return id, true
}

// settledBefore reports whether the stored request id holds consent,
// settled: the platform answers that consent sent again with the
// payment that it settled, moving no money. A request that cannot be
// read is taken as not settled.
func (n *Narrator) settledBefore(ctx context.Context, id payflow.ID, consent []byte) bool {
	r, err := n.Cloud.Store.Payment(ctx, id)
	if err != nil {
		return false
	}
	h := record.Hash(consent)
	return r.Consent != nil && bytes.Equal(r.ConsentHash, h[:]) && r.State != payflow.StatePending && r.State != payflow.StateApproving
}

// begin counts a call of Approve of a consent to the request id under
// way, and returns what the calls under way know of it.
func (n *Narrator) begin(id payflow.ID) *approval {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.approving == nil {
		n.approving = make(map[payflow.ID]*approval)
	}
	a := n.approving[id]
	if a == nil {
		a = &approval{}
		n.approving[id] = a
	}
	a.calls++
	return a
}

// end counts a call of begin as ended, forgetting the request once no
// call is under way.
func (n *Narrator) end(id payflow.ID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if a := n.approving[id]; a != nil {
		if a.calls--; a.calls == 0 {
			delete(n.approving, id)
		}
	}
}

// claim reports whether the caller prints the payment of a (nil: a
// consent whose request could not be read, which the caller prints): no
// other call under way has.
func (n *Narrator) claim(a *approval) bool {
	if a == nil {
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if a.printed {
		return false
	}
	a.printed = true
	return true
}
