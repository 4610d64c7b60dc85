package demo

import (
	"context"
	"strings"
	"time"

	"github.com/casimpay/casimpay/payflow"
)

// Narrator is the platform API with the cloud's screen: it passes every
// call to the platform and prints what the cloud did for logins, pairings,
// payment requests and approvals, with the balances after each payment.
// It is safe for concurrent use.
type Narrator struct {
	payflow.API
	Cloud  *Cloud
	Screen *Screen
}

var (
	_ payflow.API          = (*Narrator)(nil)
	_ payflow.TokenChecker = (*Narrator)(nil)
	_ payflow.Clocked      = (*Narrator)(nil)
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

// Pair implements payflow.API.
func (n *Narrator) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	s, err := n.API.Pair(ctx, req)
	if err == nil {
		if s.State == payflow.SessionPaired {
			n.Screen.Printf("Session %s paired: %s and %s, pairing code %s", Short(s.ID), s.ShopperName, s.MerchantName, s.PairingCode)
		} else {
			n.Screen.Printf("Session %s: one side confirmed, waiting for the other", Short(s.ID))
		}
	}
	return s, err
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

// Approve implements payflow.API.
func (n *Narrator) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	v, err := n.API.Approve(ctx, req)
	if err != nil {
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
