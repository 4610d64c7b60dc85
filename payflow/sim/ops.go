package sim

import (
	"bytes"
	"errors"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

// randomStep takes one random step.
func (w *world) randomStep() error {
	x := w.rng.IntN(100)
	switch {
	case x < 18:
		return w.purchase()
	case x < 48:
		if p := w.pick(0.85, payflow.StatePending); p != nil {
			return w.approve(p)
		}
	case x < 54:
		if p := w.pick(0.6, payflow.StatePending, payflow.StateHeld); p != nil {
			return w.cancel(p)
		}
	case x < 58:
		if p := w.pick(0.7, payflow.StatePending); p != nil {
			return w.decline(p)
		}
	case x < 65:
		if p := w.pick(0.9, payflow.StateHeld); p != nil {
			return w.capture(p)
		}
	case x < 76:
		if p := w.pick(1, payflow.StateCaptured); p != nil {
			return w.refund(p)
		}
	case x < 79:
		return w.fund()
	case x < 87:
		if w.fault(ClockJump, 1) {
			return w.tick(time.Duration(1+w.rng.IntN(300))*time.Second+time.Duration(w.rng.IntN(1000))*time.Millisecond, w.rng.IntN(2) == 0)
		}
	case x < 92:
		if w.fault(ExpiryJump, 1) {
			return w.tick(requestTTL+time.Duration(w.rng.IntN(2400))*time.Second, w.rng.IntN(4) != 0)
		}
	case x < 94:
		return w.revoke()
	case x < 98:
		if w.fault(Restart, 1) {
			return w.restart("a planned restart")
		}
	case x < 99:
		if w.fault(RotateKey, 1) {
			// One rotation in three revokes the certificate replaced.
			return w.rotateKey(w.rng.IntN(3) == 0)
		}
	}
	return w.purchase()
}

// pick returns a known request, one in one of states with probability
// bias (when there is one), else any; nil when there is none.
func (w *world) pick(bias float64, states ...string) *purchase {
	if len(w.purchases) == 0 {
		return nil
	}
	if w.rng.Float64() < bias {
		var in []*purchase
		for _, p := range w.purchases {
			for _, s := range states {
				if w.effective(p) == s {
					in = append(in, p)
				}
			}
		}
		if len(in) > 0 {
			return in[w.rng.IntN(len(in))]
		}
		if bias == 1 {
			return nil
		}
	}
	return w.purchases[w.rng.IntN(len(w.purchases))]
}

// tick moves the clock by d and, when expire is set or a hold fell due,
// runs ExpireDue as the platform's timer would.
func (w *world) tick(d time.Duration, expire bool) error {
	if err := w.advance(d); err != nil {
		return err
	}
	w.logf("clock +%v", d)
	return w.expire(expire)
}

// expire runs ExpireDue when asked to or when a hold fell due, and moves
// the model along, but for the request in doubt (w.doubt), whose call may
// have moved it before ExpireDue came: its poll finds which.
func (w *world) expire(force bool) error {
	for _, p := range w.purchases {
		if p.state == payflow.StateHeld && !w.now.Before(p.holdExpiresAt) {
			force = true
		}
	}
	if !force {
		return nil
	}
	if err := w.expireDue(); err != nil {
		return err
	}
	w.count("expire-due")
	for _, p := range w.purchases {
		switch {
		case p == w.doubt:
		case w.effective(p) == payflow.StateExpired && p.state == payflow.StatePending,
			p.state == payflow.StateHeld && !w.now.Before(p.holdExpiresAt):
			if err := w.transition(p, payflow.StateExpired, 0); err != nil {
				return err
			}
			w.count("expired")
		}
	}
	return nil
}

// expireDue runs ExpireDue as the platform's timer does, now and then
// with one of its store writes failing (StoreError); after such a failure
// the timer runs again once RecoverAfter has passed: RecoverSweep, which
// finishes a void that failed, and ExpireDue.
func (w *world) expireDue() error {
	run := func() error {
		_, err := w.plat.ExpireDue(w.ctx, 0)
		return err
	}
	var err error
	if !w.runFailing(0.1, callWrites, func() { err = run() }) {
		if err != nil {
			return w.failf("expire due: %v", err)
		}
		return nil
	}
	w.count("expire-due-failed")
	if err := w.advance(recoverAfter + time.Second); err != nil {
		return err
	}
	n, err := w.recoverSweep("after a failed expiry")
	if err != nil {
		return err
	}
	w.stats.Ops["recovered-after-failed-expiry"] += n
	if err := run(); err != nil {
		return w.failf("expire due again: %v", err)
	}
	return nil
}

// revoke revokes a shopper card (at most half of them) and publishes
// fresh CRLs.
func (w *world) revoke() error {
	n := 0
	for _, c := range w.shoppers {
		if c.revoked {
			n++
		}
	}
	if 2*(n+1) > len(w.shoppers) || !w.fault(Revoke, 1) {
		return w.purchase()
	}
	c := w.shoppers[w.rng.IntN(len(w.shoppers))]
	if m := w.merchants[w.rng.IntN(len(w.merchants))]; w.rng.IntN(5) == 0 && !m.seller.revoked {
		// Now and then a till: its merchant can no longer take payments,
		// refund, cancel or capture (its token is refused too).
		c = m.seller
	}
	if c.revoked {
		return nil
	}
	if err := w.issuer.Revoke(c.serial, pki.ReasonKeyCompromise); err != nil {
		return err
	}
	c.revoked = true
	w.logf("revoke %s", c.name)
	return w.publishCRLs()
}

// fund pays money into a shopper's wallet, the funding maybe duplicated.
func (w *world) fund() error {
	c := w.shoppers[w.rng.IntN(len(w.shoppers))]
	id := w.newID()
	amount := 100 + w.rng.Uint64N(3000)
	n := 1
	if w.fault(Duplicate, 0.3) {
		n = 2
	}
	for range n {
		// A funding that a store error left without a verdict is made
		// again under its ID.
		if err := w.sendFailing(0.1, callWrites, noVerdict, func() error { return w.plat.Fund(w.ctx, id, c.id, currency, amount) }); err != nil {
			return w.failf("fund %s: %v", c.name, err)
		}
	}
	c.posted += amount
	w.funded += amount
	w.count("fund")
	w.logf("fund %s %d ×%d", c.name, amount, n)
	return nil
}

// pair has the shopper's and the seller's phones scan each other and pair
// their cards, maybe across an EID epoch change, and returns the paired
// session (nil when pairing cannot succeed: a revoked card).
func (w *world) pair(s *card, m *merchant) (*payflow.SessionView, error) {
	for attempt := 0; ; attempt++ {
		t0 := w.now
		shEID, seEID := s.eid(t0), m.seller.eid(t0)
		if attempt == 0 && w.fault(EpochChange, 0.1) {
			// The epoch ends between the scan and the pairing, once or twice.
			next := adv.EpochStart(adv.Epoch(w.now) + 1 + uint32(w.rng.IntN(2)))
			if err := w.tick(next.Sub(w.now)+time.Duration(1+w.rng.IntN(30000))*time.Millisecond, false); err != nil {
				return nil, err
			}
		}
		de := adv.Epoch(w.now) - adv.Epoch(t0)
		_, err := w.pairProof(s, record.RoleShopper, seEID)
		var f *Failure
		switch {
		case errors.As(err, &f):
			return nil, err
		case s.revoked:
			w.logf("pair of revoked %s: %s", s.name, kind(err))
			return nil, w.expect("pairing of a revoked card", err, payflow.ErrCard)
		case m.seller.revoked:
			// A revoked till's EID is not_found, as an unknown one; its
			// own proof is refused below.
			w.logf("pair with revoked %s: %s", m.seller.name, kind(err))
			if err := w.expect("pairing naming a revoked till", err, payflow.ErrNotFound); err != nil {
				return nil, err
			}
		case de >= 2:
			if err := w.expect("pairing with an EID two epochs old", err, payflow.ErrNotFound); err != nil {
				return nil, err
			}
			w.logf("pair across %d epochs refused, rescan", de)
			continue
		case err != nil:
			return nil, w.failf("shopper pairs: %v", err)
		}
		v, err := w.pairProof(m.seller, record.RoleSeller, shEID)
		if errors.As(err, &f) {
			return nil, err
		}
		if m.seller.revoked {
			w.logf("pair of revoked %s: %s", m.seller.name, kind(err))
			return nil, w.expect("pairing of a revoked till", err, payflow.ErrCard)
		}
		if err != nil {
			return nil, w.failf("seller pairs: %v", err)
		}
		if err := w.sellerPaired(v.ID); err != nil {
			return nil, err
		}
		if de == 1 {
			// Each card named the other's EID of the old epoch and its own
			// of the new one: two sessions, neither paired.
			if v.State != payflow.SessionWaiting {
				return nil, w.failf("pairing across an epoch change: session %s, want waiting", v.State)
			}
			w.logf("pair across an epoch change waits, rescan")
			continue
		}
		want := payflow.SessionID(shEID, seEID)
		if v.State != payflow.SessionPaired || v.ID != want || v.PairingCode != adv.PairingCode(adv.EID(shEID), adv.EID(seEID)) {
			return nil, w.failf("pairing: session %v %s code %s, want %v paired", v.ID, v.State, v.PairingCode, want)
		}
		return v, nil
	}
}

// pairProof has card c prove itself naming peer, over a new challenge,
// and pair. When a store write of the pairing failed, the phone pairs
// again with a new proof if the platform answered no verdict, or that the
// proof is spent (ErrReplay): over HTTP the client sent it again after the
// failure, and the platform had taken it, as LoginWithRetry logs in again.
// A proof the card fails to make is a *Failure.
func (w *world) pairProof(c *card, role record.Role, peer []byte) (*payflow.SessionView, error) {
	var v *payflow.SessionView
	var proofErr error
	spent := func(err error) bool { return noVerdict(err) || errors.Is(err, payflow.ErrReplay) }
	err := w.sendFailing(0.03, callWrites, spent, func() error {
		var msg []byte
		if msg, proofErr = w.proof(c, role, peer); proofErr != nil {
			return nil
		}
		var err error
		v, err = w.api.Pair(w.ctx, &payflow.PairRequest{Proof: msg})
		return err
	})
	if proofErr != nil {
		return nil, proofErr
	}
	return v, err
}

// purchase starts a purchase: scan, pair, and a signed payment request.
func (w *world) purchase() error {
	s := w.shoppers[w.rng.IntN(len(w.shoppers))]
	m := w.merchants[w.rng.IntN(len(w.merchants))]
	w.count("purchase")
	sess, err := w.pair(s, m)
	if err != nil || sess == nil {
		return err
	}
	p, r, err := w.newRequest(s, m, sess)
	if err != nil {
		return err
	}
	call := w.createCall(p)
	got, again, f := deliver(w, call)
	if signAgain(f, got.err) {
		v, err := w.recreate(p, r, sess, f)
		if err != nil || v == nil {
			return err
		}
		got = reply[*payflow.PaymentView]{v, nil}
	}
	if got.err != nil {
		return w.failf("create request: %v", got.err)
	}
	v := got.v
	if v.State != payflow.StatePending || v.Amount != p.amount || v.ID != p.id || string(v.RequestHash) != string(p.hash[:]) ||
		v.PayerCardID != s.id || v.MerchantID != m.id || v.ConsentNonce != nil || v.ManualCapture != m.manual {
		return w.failf("created request: %+v", v)
	}
	p.expiresAt = v.ExpiresAt
	if v.ExpiresAt.After(w.now.Add(requestTTL)) || v.ExpiresAt.Before(w.now.Add(requestTTL-recoverAfter-2*time.Second)) {
		return w.failf("request expires at %v, created at %v", v.ExpiresAt, w.now)
	}
	if again != nil {
		if again.err != nil || !sameView(again.v, v) {
			return w.failf("the same request again: %s", kind(again.err))
		}
	}
	w.purchases = append(w.purchases, p)
	w.count("created")
	w.logf("request %d: %s pays %s %d (+%d tickets)", len(w.purchases)-1, s.name, m.id, p.amount, p.tickets)
	return nil
}

// newRequest has the seller's card sign a payment request of shopper s to
// merchant m in the paired session sess, and returns it as the phones
// know it (not sent yet) with the record signed.
func (w *world) newRequest(s *card, m *merchant, sess *payflow.SessionView) (*purchase, *record.PaymentRequest, error) {
	id := w.newID()
	r := &record.PaymentRequest{
		RequestID: id[:], SessionID: sess.ID[:], PayerCardID: s.id, MerchantID: m.id, Currency: currency,
	}
	var tickets uint64
	if w.rng.IntN(2) == 0 {
		for _, it := range catalog {
			if q := w.rng.Uint64N(3); q > 0 {
				r.Items = append(r.Items, record.Item{SKU: it.SKU, Quantity: q})
				r.Amount += q * it.UnitPrice
			}
		}
	}
	if r.Amount == 0 {
		r.Amount = 50 + w.rng.Uint64N(2500)
	}
	if !m.manual && w.rng.IntN(3) == 0 {
		tickets = 1 + w.rng.Uint64N(3)
		r.Legs = []record.Leg{{Asset: ticketAsset, Amount: tickets}}
		w.count("ticket-sale")
	}
	msg, err := m.seller.v.Card.SignPaymentRequest(r)
	if err != nil {
		return nil, nil, w.failf("seller signs a request: %v", err)
	}
	p := &purchase{id: id, session: sess.ID, shopper: s, m: m, amount: r.Amount, tickets: tickets, msg: msg, hash: record.Hash(msg),
		expiresAt: w.now.Add(requestTTL), state: payflow.StatePending, consents: map[[32]byte]bool{}}
	return p, r, nil
}

// createCall returns the seller's phone's call that sends p's request,
// as p.msg holds it when called.
func (w *world) createCall(p *purchase) func() (*payflow.PaymentView, error) {
	return func() (*payflow.PaymentView, error) {
		return w.api.CreateRequest(w.ctx, &payflow.CreateRequest{Request: p.msg})
	}
}

// signAgain reports whether the seller's phone, whose call of a record
// its card signed met f and got err, sends that record again, and signs
// it again if the platform spent its counter meanwhile (recreate,
// refund): after a crash; after a store error that left the call without
// a verdict, or whose call the client sent again over HTTP, the platform
// having spent the card's counter and answered ErrClone.
func signAgain(f fate, err error) bool {
	return f == crashed || f == failed && (noVerdict(err) || errors.Is(err, payflow.ErrClone))
}

// recreate restarts the platform after it died while creating p, signed
// from r in session sess (f crashed), or not when a store write failed
// (f failed), and has the seller's phone send the same bytes again; if the
// platform counted the card's signature but did not store the request,
// the card signs it again (same ID). The restart took time: once it took
// the clock to the session's expiry, a request whose write did not reach
// the disk is refused as expired (the session's), and the purchase ends
// without it, v nil; the phones pair again for the next one.
func (w *world) recreate(p *purchase, r *record.PaymentRequest, sess *payflow.SessionView, f fate) (*payflow.PaymentView, error) {
	if f == crashed {
		if err := w.restart("a crash while creating a request"); err != nil {
			return nil, err
		}
	}
	call := w.createCall(p)
	v, err := call()
	if errors.Is(err, payflow.ErrClone) {
		if p.msg, err = p.m.seller.v.Card.SignPaymentRequest(r); err != nil {
			return nil, w.failf("seller signs again: %v", err)
		}
		p.hash = record.Hash(p.msg)
		v, err = call()
	}
	if errors.Is(err, payflow.ErrExpired) && !w.now.Before(sess.ExpiresAt) {
		// Legitimate only for a request that was not stored: a stored one
		// sent again is answered from the store.
		if _, err := w.plat.Store().Payment(w.ctx, p.id); !errors.Is(err, payflow.ErrNotFound) {
			return nil, w.failf("request %v refused as expired, but stored (%v)", p.id, err)
		}
		w.count("session-expired")
		w.logf("request of %s to %s: session expired", p.shopper.name, p.m.id)
		return nil, nil
	}
	if err != nil {
		return nil, w.failf("create request: %v", err)
	}
	return v, nil
}

// poll has a phone fetch the state of p after it lost track of an outcome
// and checks that it is one of allowed, then moves the model there.
func (w *world) poll(p *purchase, c *card, allowed ...string) (*payflow.PaymentView, error) {
	v, err := w.viewAs(p, c)
	if err != nil {
		return nil, w.failf("poll %v: %v", p.id, err)
	}
	for _, s := range allowed {
		if v.State == s {
			captured := v.Captured
			if err := w.transition(p, s, captured); err != nil {
				return nil, err
			}
			w.logf("poll: %s", v.State)
			return v, nil
		}
	}
	return nil, w.failf("poll %v: state %s, want one of %v", p.id, v.State, allowed)
}

// afterCrash is the states a phone may find when it polls p after the
// platform died during its call, once the platform restarted: the call's
// outcome want when it was to succeed (wantErr nil) and its write reached
// the disk, else the state the model has for p now. The restart took time,
// so a request that was pending (or held) before the crash is expired when
// the clock passed its expiry (or its hold's end) meanwhile, and still
// pending (or held) only when it did not.
func (w *world) afterCrash(p *purchase, want string, wantErr error) []string {
	allowed := []string{w.effective(p)}
	if wantErr == nil && want != allowed[0] {
		allowed = append(allowed, want)
	}
	return allowed
}

// pollAfterCrash restarts the platform after it died during a phone's
// call on p, whose outcome was to be want or wantErr, and has card c poll
// p for what afterCrash allows; p is in doubt until then.
func (w *world) pollAfterCrash(why string, p *purchase, c *card, want string, wantErr error) (*payflow.PaymentView, error) {
	w.doubt = p
	defer func() { w.doubt = nil }()
	if err := w.restart(why); err != nil {
		return nil, err
	}
	return w.poll(p, c, w.afterCrash(p, want, wantErr)...)
}

// idx is p's index, for the log.
func (w *world) idx(p *purchase) int {
	for i, q := range w.purchases {
		if q == p {
			return i
		}
	}
	return -1
}

// approve has the shopper look at the payment screen, type the PIN and
// consent, maybe late (after a cancel or the expiry), and checks the
// outcome against the model.
func (w *world) approve(p *purchase) error {
	s := p.shopper
	w.count("approve")
	ok, err := w.login(s, record.RoleShopper)
	if err != nil || !ok {
		return err
	}
	v, err := w.api.Payment(w.ctx, s.token, p.id)
	if err != nil {
		return w.failf("payment screen: %v", err)
	}
	eff := w.effective(p)
	if v.State != eff || v.Amount != p.amount || string(v.RequestHash) != string(p.hash[:]) || !v.ExpiresAt.Equal(p.expiresAt) {
		return w.failf("payment screen of %d: %s %d, want %s %d", w.idx(p), v.State, v.Amount, eff, p.amount)
	}
	if eff != payflow.StatePending {
		if v.ConsentNonce != nil {
			return w.failf("a consent nonce for a request %s", eff)
		}
		w.logf("approve %d: screen shows %s", w.idx(p), eff)
		if p.state == payflow.StatePending && eff == payflow.StateCancelled {
			w.count("cancelled-by-revocation")
		}
		if eff == payflow.StateCaptured {
			// Its receipt, read again, maybe signed by a key the
			// platform replaced since.
			if err := w.settled(p, v); err != nil {
				return err
			}
		}
		if p.settledBy != nil && w.rng.IntN(2) == 0 {
			if err := w.consentAgain(p, v); err != nil {
				return err
			}
		}
		return w.transition(p, eff, 0)
	}
	if len(v.ConsentNonce) != record.NonceSize {
		return w.failf("payment screen without a consent nonce")
	}
	ready, err := w.enterPIN(s)
	if err != nil || !ready {
		return err
	}
	msg, err := s.v.Card.SignConsent(&record.Consent{
		RequestID: p.id[:], RequestHash: v.RequestHash, Nonce: v.ConsentNonce,
		Amount: v.Amount, Currency: v.Currency, MerchantID: v.MerchantID,
	})
	if err != nil {
		return w.failf("%s signs a consent: %v", s.name, err)
	}
	p.consents[record.Hash(msg)] = true
	// The consent may arrive late: after the seller withdrew the request,
	// or after its lifetime.
	switch r := w.rng.Float64(); {
	case r < 0.07:
		w.count("cancel-before-consent")
		if err := w.cancel(p); err != nil {
			return err
		}
	case r < 0.12 && w.fault(ExpiryJump, 1):
		if err := w.tick(p.expiresAt.Sub(w.now)+time.Duration(w.rng.IntN(240))*time.Second, w.rng.IntN(2) == 0); err != nil {
			return err
		}
	}
	want, wantErr, altErr := w.predictApprove(p)
	approvedAt := w.now
	call := func() (*payflow.PaymentView, error) {
		return w.api.Approve(w.ctx, &payflow.ApproveRequest{Consent: msg})
	}
	got, again, f := deliver(w, call)
	switch f {
	case crashed:
		w.logf("approve %d crashed; predicted %s %s", w.idx(p), want, kind(wantErr))
		return w.approveCrashed(p, msg, want, wantErr, approvedAt)
	case failed:
		// The phone sends the same consent again when it got no verdict:
		// the platform finishes a settlement that the failure left
		// unfinished. A consent refused is answered, then or already
		// by the call that read its refusal back, as one sent again
		// (retryErr).
		if noVerdict(got.err) {
			v, err := call()
			got = reply[*payflow.PaymentView]{v, err}
		}
		if altErr == nil {
			altErr = retryErr(wantErr)
		}
	}
	if wantErr != nil {
		if altErr != nil && errors.Is(got.err, altErr) {
			wantErr = altErr
		}
		if err := w.expect("approval", got.err, wantErr); err != nil {
			return err
		}
		if again != nil {
			if err := w.expect("approval sent again", again.err, retryErr(wantErr)); err != nil {
				return err
			}
		}
		w.logf("approve %d: %s", w.idx(p), kind(got.err))
		if s.revoked {
			// The revoked card's consent is refused before the request
			// is read: it stays as it was stored.
			return nil
		}
		switch {
		case errors.Is(wantErr, payflow.ErrFunds):
			w.count("funds-refused")
		case p.state != payflow.StatePending || errors.Is(wantErr, payflow.ErrExpired) || errors.Is(wantErr, payflow.ErrReplay):
			w.count("late-consent-refused")
		}
		return w.transition(p, w.effective(p), 0)
	}
	if got.err != nil {
		return w.failf("approval of %d: got %s, want %s", w.idx(p), describe(got.err), want)
	}
	if got.v.State != want {
		return w.failf("approval of %d: state %s, want %s", w.idx(p), got.v.State, want)
	}
	if again != nil {
		// The consent was settled: the same bytes again get the
		// request's view as a read shows it, the same state and receipt,
		// nothing moved again.
		if err := w.expect("approval sent again", again.err, nil); err != nil {
			return err
		}
		if again.v.State != got.v.State || !bytes.Equal(again.v.Receipt, got.v.Receipt) {
			return w.failf("approval of %d sent again: state %s, want %s, the same receipt", w.idx(p), again.v.State, got.v.State)
		}
	}
	if want == payflow.StateHeld {
		p.holdExpiresAt = approvedAt.Add(holdTTL)
	}
	p.settledBy = msg
	if err := w.transition(p, want, got.v.Captured); err != nil {
		return err
	}
	w.count(want)
	w.logf("approve %d: %s", w.idx(p), want)
	return w.settled(p, got.v)
}

// approveCrashed restarts the platform after it died during the approval
// of p by consent msg sent at approvedAt, whose outcome was to be want or
// wantErr, and has the payer's phone poll p. A hold found is the
// consent's, made then or by the recovery sweep after the restart: its
// expiry is counted from the consent's acceptance, at approvedAt, either
// way (settled checks it).
func (w *world) approveCrashed(p *purchase, msg []byte, want string, wantErr error, approvedAt time.Time) error {
	pv, err := w.pollAfterCrash("a crash while approving", p, p.shopper, want, wantErr)
	if err != nil {
		return err
	}
	if pv.State == payflow.StateHeld {
		p.holdExpiresAt = approvedAt.Add(holdTTL)
	}
	if pv.State == payflow.StateHeld || pv.State == payflow.StateCaptured {
		p.settledBy = msg
	}
	return w.settled(p, pv)
}

// consentAgain has the payer's phone send again the consent that settled
// p, later, as a phone does with a consent it kept whose reply it lost,
// once its screen v showed p settled: the platform answers as a read
// shows p, with the receipt it stored, signed by its key of then, which
// it may have replaced since (settled checks it), moving nothing.
func (w *world) consentAgain(p *purchase, v *payflow.PaymentView) error {
	got, err := w.api.Approve(w.ctx, &payflow.ApproveRequest{Consent: p.settledBy})
	if err != nil {
		return w.failf("the consent that settled %d sent again: %s", w.idx(p), describe(err))
	}
	if got.State != v.State || got.Captured != v.Captured || got.Refunded != v.Refunded || !bytes.Equal(got.Receipt, v.Receipt) {
		return w.failf("the consent that settled %d sent again: %s captured %d refunded %d, want %s %d %d, the same receipt",
			w.idx(p), got.State, got.Captured, got.Refunded, v.State, v.Captured, v.Refunded)
	}
	w.count("consent-again")
	w.logf("consent of %d again: %s", w.idx(p), got.State)
	return w.settled(p, got)
}

// retryErr is what a consent sent a second time gets: a revoked card is
// refused again, anything else finds its nonce spent.
func retryErr(first error) error {
	if errors.Is(first, payflow.ErrCard) {
		return payflow.ErrCard
	}
	return payflow.ErrReplay
}

// settled checks the receipt of a view of p that is captured, and the
// hold of one that is held (heldUntil).
func (w *world) settled(p *purchase, v *payflow.PaymentView) error {
	if v.State != payflow.StateCaptured {
		if v.Receipt != nil {
			return w.failf("request %d is %s with a receipt", w.idx(p), v.State)
		}
		if v.State == payflow.StateHeld {
			return w.heldUntil(p, v)
		}
		return nil
	}
	if v.Captured != p.captured {
		return w.failf("request %d captured %d, want %d", w.idx(p), v.Captured, p.captured)
	}
	return w.verifyReceipt(p, v.Receipt, p.captured)
}

// heldUntil checks a view of p that is held against the model's hold
// expiry, the consent's acceptance plus the hold TTL (PROTOCOL.md §6.2,
// §6.4), which the platform records with the acceptance and keeps when
// the recovery sweep makes the hold after a crash: the view shows it, and
// the ledger's hold of the money leg (transfer kind 1 of the request's
// attempt), made by the approval or later by the sweep, timed out from
// its own timestamp, releases the money no earlier.
func (w *world) heldUntil(p *purchase, v *payflow.PaymentView) error {
	if !v.HoldExpiresAt.Equal(p.holdExpiresAt) {
		return w.failf("request %d held until %v, want %v", w.idx(p), v.HoldExpiresAt, p.holdExpiresAt)
	}
	r, err := w.plat.Store().Payment(w.ctx, p.id)
	if err != nil {
		return w.failf("stored request %d: %v", w.idx(p), err)
	}
	ts, err := w.led.LookupTransfers(w.ctx, []ledger.ID{payflow.TransferID(p.id, r.Attempt, 0, 1)})
	if err != nil {
		return w.failf("hold of request %d: %v", w.idx(p), err)
	}
	if len(ts) != 1 {
		return w.failf("request %d is held without a hold in the ledger", w.idx(p))
	}
	released := time.Unix(0, int64(ts[0].Timestamp)).Add(time.Duration(ts[0].Timeout) * time.Second)
	if released.Before(p.holdExpiresAt) {
		return w.failf("the ledger releases the hold of request %d at %v, before its expiry %v", w.idx(p), released, p.holdExpiresAt)
	}
	return nil
}

// predictApprove is what a consent to p delivered now must give: a state,
// or an error (and another error that is right too, at a boundary).
func (w *world) predictApprove(p *purchase) (state string, err, alt error) {
	s := p.shopper
	nonceExp := p.expiresAt.Add(2 * time.Minute)
	switch eff := w.effective(p); {
	case s.revoked:
		return "", payflow.ErrCard, nil
	case w.now.After(nonceExp):
		return "", payflow.ErrReplay, nil
	case w.now.Equal(nonceExp):
		return "", payflow.ErrReplay, stateErr(eff)
	case eff != payflow.StatePending:
		return "", stateErr(eff), nil
	case s.posted-s.held < p.amount || p.m.tickets < p.tickets:
		return "", payflow.ErrFunds, nil
	case p.m.manual:
		return payflow.StateHeld, nil, nil
	}
	return payflow.StateCaptured, nil, nil
}

// stateCall runs a phone's call that changes the state of p (cancel,
// decline, capture) under the network's faults: crashes, lost and
// duplicated messages. The outcome must be want
// (a state) or wantErr; a retry must agree, since these calls are
// idempotent. After a crash the phone polls and finds what afterCrash
// allows.
func (w *world) stateCall(what string, p *purchase, c *card, want string, wantErr error, call func() (*payflow.PaymentView, error)) (*payflow.PaymentView, error) {
	before := w.effective(p)
	got, again, f := deliver(w, call)
	switch {
	case f == crashed:
		return w.pollAfterCrash("a crash during "+what, p, c, want, wantErr)
	case f == failed && noVerdict(got.err):
		if w.rng.IntN(2) == 0 {
			// The phone polls first, and finds what a crash would have
			// left: a change under way shows the state it started from.
			if _, err := w.poll(p, c, w.afterCrash(p, want, wantErr)...); err != nil {
				return nil, err
			}
		}
		// The phone sends the call again, which is idempotent: it
		// finishes what the failure left under way.
		v, err := call()
		got = reply[*payflow.PaymentView]{v, err}
	}
	if err := w.expect(what, got.err, wantErr); err != nil {
		return nil, err
	}
	if wantErr == nil && got.v.State != want {
		return nil, w.failf("%s of %d: state %s, want %s", what, w.idx(p), got.v.State, want)
	}
	if again != nil {
		if err := w.expect(what+" sent again", again.err, wantErr); err != nil {
			return nil, err
		}
		if wantErr == nil && !sameView(again.v, got.v) {
			return nil, w.failf("%s sent again: state %s, want %s", what, again.v.State, got.v.State)
		}
	}
	w.logf("%s %d: %s %s", what, w.idx(p), want, kind(got.err))
	if wantErr != nil {
		return nil, w.transition(p, before, 0)
	}
	if err := w.transition(p, want, got.v.Captured); err != nil {
		return nil, err
	}
	return got.v, nil
}

// cancel has the seller withdraw p.
func (w *world) cancel(p *purchase) error {
	seller := p.m.seller
	if ok, err := w.login(seller, record.RoleSeller); err != nil || !ok {
		return err
	}
	w.count("cancel")
	want, wantErr := payflow.StateCancelled, error(nil)
	switch eff := w.effective(p); eff {
	case payflow.StatePending, payflow.StateHeld, payflow.StateCancelled:
	default:
		wantErr = stateErr(eff)
	}
	_, err := w.stateCall("cancel", p, seller, want, wantErr, func() (*payflow.PaymentView, error) {
		return w.api.Cancel(w.ctx, seller.token, p.id)
	})
	return err
}

// decline has the shopper refuse p.
func (w *world) decline(p *purchase) error {
	s := p.shopper
	if ok, err := w.login(s, record.RoleShopper); err != nil || !ok {
		return err
	}
	w.count("decline")
	want, wantErr := payflow.StateDeclined, error(nil)
	switch eff := w.effective(p); eff {
	case payflow.StatePending, payflow.StateDeclined:
	default:
		wantErr = stateErr(eff)
	}
	_, err := w.stateCall("decline", p, s, want, wantErr, func() (*payflow.PaymentView, error) {
		return w.api.Decline(w.ctx, s.token, p.id)
	})
	return err
}

// capture has the seller capture a held payment, in full or in part, or
// ask for too much.
func (w *world) capture(p *purchase) error {
	seller := p.m.seller
	if ok, err := w.login(seller, record.RoleSeller); err != nil || !ok {
		return err
	}
	w.count("capture")
	var amount uint64
	switch w.rng.IntN(4) {
	case 0:
		amount = 1 + w.rng.Uint64N(p.amount)
	case 1:
		amount = p.amount + 1 + w.rng.Uint64N(100)
	}
	eff := w.effective(p)
	full := amount
	if full == 0 {
		full = p.amount
	}
	want, wantErr := payflow.StateCaptured, error(nil)
	switch { // the state first, then the amount
	case eff == payflow.StateCaptured && p.captured == full:
	case eff != payflow.StateHeld:
		wantErr = stateErr(eff)
	case full > p.amount:
		wantErr = payflow.ErrLimit
	}
	v, err := w.stateCall("capture", p, seller, want, wantErr, func() (*payflow.PaymentView, error) {
		return w.api.Capture(w.ctx, seller.token, &payflow.CaptureRequest{RequestID: p.id, Amount: amount})
	})
	if err != nil || v == nil {
		return err
	}
	// A capture of a held payment takes what was asked; a captured one
	// (the retry, or a crash before anything changed) keeps its amount.
	want2 := full
	if eff == payflow.StateCaptured {
		want2 = p.captured
	}
	if v.State == payflow.StateCaptured && v.Captured != want2 {
		return w.failf("capture of %d: captured %d, want %d", w.idx(p), v.Captured, want2)
	}
	return w.settled(p, v)
}

// refund has the seller refund part of a captured payment, all that is
// left, too much, or send an earlier refund again.
func (w *world) refund(p *purchase) error {
	seller := p.m.seller
	w.count("refund")
	if len(p.refunds) > 0 && w.rng.IntN(4) == 0 {
		// The same refund again: the same view, the money moved once.
		r := p.refunds[w.rng.IntN(len(p.refunds))]
		v, err := w.api.Refund(w.ctx, &payflow.RefundRequest{Refund: r.msg})
		if err != nil || v.ID != r.id || v.Amount != r.amount || v.Refunded != r.view.Refunded || !bytes.Equal(v.Receipt, r.view.Receipt) {
			return w.failf("refund %v sent again: %s %+v", r.id, kind(err), v)
		}
		if err := w.verifyRefundReceipt(p, r, v); err != nil {
			return err
		}
		w.count("refund-repeat")
		w.logf("refund %d again: same", w.idx(p))
		return nil
	}
	left := p.captured - p.refunded
	var amount uint64
	switch w.rng.IntN(4) {
	case 0:
		amount = left
	case 1:
		amount = left + 1 + w.rng.Uint64N(200)
	default:
		amount = 1 + w.rng.Uint64N(max(left, 1))
	}
	if amount == 0 {
		amount = 1
	}
	id := w.newID()
	rr := &record.RefundRequest{RefundID: id[:], RequestID: p.id[:], Amount: amount, Currency: currency}
	r := &refund{id: id, amount: amount}
	var err error
	if r.msg, err = seller.v.Card.SignRefundRequest(rr); err != nil {
		return w.failf("seller signs a refund: %v", err)
	}
	call := func() (*payflow.RefundView, error) {
		return w.api.Refund(w.ctx, &payflow.RefundRequest{Refund: r.msg})
	}
	var wantErr error
	switch {
	case seller.revoked:
		wantErr = payflow.ErrCard
	case amount > left:
		wantErr = payflow.ErrLimit
	}
	got, again, f := deliver(w, call)
	if signAgain(f, got.err) {
		if f == crashed {
			if err := w.restart("a crash during a refund"); err != nil {
				return err
			}
		}
		v, err := call()
		if errors.Is(err, payflow.ErrClone) {
			// The platform counted the signature but stored nothing: the
			// card signs the same refund again.
			if r.msg, err = seller.v.Card.SignRefundRequest(rr); err != nil {
				return w.failf("seller signs again: %v", err)
			}
			v, err = call()
		}
		got, again = reply[*payflow.RefundView]{v, err}, nil
	}
	if err := w.expect("refund", got.err, wantErr); err != nil {
		return err
	}
	if again != nil {
		// A refused refund is not stored: the same bytes again are a
		// replay of the card's counter.
		wantAgain := wantErr
		if errors.Is(wantErr, payflow.ErrLimit) {
			wantAgain = payflow.ErrClone
		}
		if err := w.expect("refund sent again", again.err, wantAgain); err != nil {
			return err
		}
		if wantErr == nil && (again.v.Refunded != got.v.Refunded || !bytes.Equal(again.v.Receipt, got.v.Receipt)) {
			return w.failf("refund sent again: refunded %d, want %d", again.v.Refunded, got.v.Refunded)
		}
	}
	w.logf("refund %d of %d: %s", amount, w.idx(p), kind(got.err))
	if wantErr != nil {
		w.count("refund-refused")
		return nil
	}
	v := got.v
	if v.Amount != amount || v.Refunded != p.refunded+amount || v.RequestID != p.id {
		return w.failf("refund of %d: %+v, want refunded %d", w.idx(p), v, p.refunded+amount)
	}
	r.view = v
	if err := w.verifyRefundReceipt(p, r, v); err != nil {
		return err
	}
	p.refunds = append(p.refunds, r)
	p.refunded += amount
	p.shopper.posted += amount
	p.m.posted -= amount
	return nil
}
