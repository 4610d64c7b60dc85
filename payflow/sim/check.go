package sim

import (
	"errors"
	"time"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// check verifies the invariants that hold after every step: the ledger
// verifies; every balance, posted and held, is the model's; and money and
// tickets are conserved.
func (w *world) check() error {
	if err := w.led.Verify(w.ctx); err != nil {
		return w.failf("ledger verify: %v", err)
	}
	var money, tickets uint64
	for _, c := range w.shoppers {
		b, err := w.balance(c.id, currency)
		if err != nil {
			return err
		}
		if b != (payflow.Balance{Posted: c.posted, Held: c.held}) {
			return w.failf("wallet of %s is %+v, want posted %d held %d", c.name, b, c.posted, c.held)
		}
		t, err := w.balance(c.id, ticketAsset)
		if err != nil {
			return err
		}
		if t != (payflow.Balance{Posted: c.tickets}) {
			return w.failf("tickets of %s are %+v, want %d", c.name, t, c.tickets)
		}
		money += b.Posted
		tickets += t.Posted
	}
	for _, m := range w.merchants {
		b, err := w.balance(m.id, currency)
		if err != nil {
			return err
		}
		if b != (payflow.Balance{Posted: m.posted, Incoming: m.incoming}) {
			return w.failf("account of %s is %+v, want posted %d incoming %d", m.id, b, m.posted, m.incoming)
		}
		t, err := w.balance(m.id, ticketAsset)
		if err != nil {
			return err
		}
		if t != (payflow.Balance{Posted: m.tickets}) {
			return w.failf("tickets of %s are %+v, want %d", m.id, t, m.tickets)
		}
		money += b.Posted
		tickets += t.Posted
	}
	if money != w.funded {
		return w.failf("wallets and merchants hold %d %s, %d were paid in", money, currency, w.funded)
	}
	if tickets != w.issued {
		return w.failf("%d tickets are held, %d were issued", tickets, w.issued)
	}
	return nil
}

// balance is an account's balance; an account never opened is empty.
func (w *world) balance(owner, unit string) (payflow.Balance, error) {
	b, err := w.plat.Balance(w.ctx, owner, unit)
	if errors.Is(err, payflow.ErrNotFound) {
		return payflow.Balance{}, nil
	}
	if err != nil {
		return b, w.failf("balance of %s in %s: %v", owner, unit, err)
	}
	return b, nil
}

// finish restarts the platform, lets every lifetime pass, and checks every
// request the phones know: its state is the model's, a captured one
// carries a valid receipt of a consent its payer signed, and the amounts
// captured and refunded are the model's.
func (w *world) finish() error {
	w.step = w.opts.Steps + 1
	if err := w.restart("the end of the run"); err != nil {
		return err
	}
	if err := w.tick(holdTTL+requestTTL+time.Minute, true); err != nil {
		return err
	}
	for i, p := range w.purchases {
		v, err := w.endView(p)
		if err != nil {
			return w.failf("request %d at the end: %v", i, err)
		}
		want := w.effective(p)
		switch {
		case v.State != want:
			return w.failf("request %d ends %s, want %s", i, v.State, want)
		case v.Refunded != p.refunded:
			return w.failf("request %d refunded %d, want %d", i, v.Refunded, p.refunded)
		case (v.State == payflow.StateCaptured || v.State == payflow.StateHeld) && len(p.consents) == 0:
			return w.failf("request %d is %s without any consent", i, v.State)
		}
		if err := w.settled(p, v); err != nil {
			return err
		}
		w.stats.Ops["end-"+v.State]++
	}
	return nil
}

// endView is the view of p of its seller's phone (see viewAs).
func (w *world) endView(p *purchase) (*payflow.PaymentView, error) {
	return w.viewAs(p, p.m.seller)
}

// viewAs is the view of p of c's phone, or of the other party's when c is
// revoked (its token refused); when both cards are, the platform's stored
// record stands in for it.
func (w *world) viewAs(p *purchase, c *card) (*payflow.PaymentView, error) {
	other := p.shopper
	if c == p.shopper {
		other = p.m.seller
	}
	for _, c := range []*card{c, other} {
		role := record.RoleShopper
		if c.m != nil {
			role = record.RoleSeller
		}
		ok, err := w.login(c, role)
		if err != nil {
			return nil, err
		}
		if ok {
			return w.api.Payment(w.ctx, c.token, p.id)
		}
	}
	r, err := w.plat.Store().Payment(w.ctx, p.id)
	if err != nil {
		return nil, err
	}
	return &payflow.PaymentView{ID: r.ID, State: r.State, Amount: r.Amount, Captured: r.Captured, Refunded: r.Refunded, Receipt: r.Receipt,
		HoldExpiresAt: r.HoldExpiresAt}, nil
}
