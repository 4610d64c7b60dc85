package sim

import (
	"errors"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// reply is what one delivery of a call returned.
type reply[T any] struct {
	v   T
	err error
}

// fate is what became of a call that deliver sent.
type fate int

const (
	answered fate = iota // the phone got its reply: a verdict, or an error that is none after faults the network hid
	crashed              // the platform died at a store write during the call: the phone learned nothing
	failed               // a store write failed during the call, the platform ran on and answered, maybe no verdict
)

// deliver sends a call over the simulated network. committed is the reply
// of the delivery that the platform acted on first; retry, when not nil,
// is the reply of a second delivery of the same bytes: the phone's resend
// after a lost reply, or a copy made by the network. A lost request is
// sent again by the phone and so delivered once. The platform may die at
// one of its store writes during the first delivery (crashed), and the
// phone learns nothing; or one of its store writes may fail, made or not,
// the platform running on (failed): the phone gets the platform's reply,
// committed, and when that gives no verdict (noVerdict) it sends the call
// again or polls, as after a crash but without the restart.
func deliver[T any](w *world, call func() (T, error)) (committed reply[T], retry *reply[T], f fate) {
	if w.fault(Crash, 0.08) {
		n, after := w.rng.IntN(callWrites), w.rng.IntN(2) == 0
		w.fuse.arm(n, after)
		v, err := call()
		if w.fuse.disarm() {
			w.logf("crash at store write %d (after its commit: %v)", n, after)
			return reply[T]{}, nil, crashed
		}
		return reply[T]{v, err}, nil, answered
	}
	if w.fault(StoreError, 0.06) {
		var v T
		var err error
		if w.failOneOf(callWrites, func() { v, err = call() }) {
			return reply[T]{v, err}, nil, failed
		}
		return reply[T]{v, err}, nil, answered
	}
	switch {
	case w.fault(LostRequest, 0.05):
		v, err := call()
		return reply[T]{v, err}, nil, answered
	case w.fault(LostReply, 0.07), w.fault(Duplicate, 0.05):
		v, err := call()
		v2, err2 := call()
		return reply[T]{v, err}, &reply[T]{v2, err2}, answered
	}
	v, err := call()
	return reply[T]{v, err}, nil, answered
}

// callWrites is how many of a call's next store writes the one that a
// crash or a store error hits is drawn among.
const callWrites = 8

// failOneOf runs do with one of the platform's next `writes` store writes
// failing, made or not, the process running on (StoreError), and reports
// whether one failed (do made that many).
func (w *world) failOneOf(writes int, do func()) bool {
	return w.failNth(writeFault{n: w.rng.IntN(writes), afterCommit: w.rng.IntN(2) == 0}, do)
}

// writeFault names a store write that fails, the process running on: the
// n-th of the platform's next writes (from 0), made or not (afterCommit).
type writeFault struct {
	n           int
	afterCommit bool
}

// failNth runs do with the store write f failing, and reports whether it
// failed (do made that many writes).
func (w *world) failNth(f writeFault, do func()) bool {
	w.fuse.armFailure(f.n, f.afterCommit)
	do()
	if !w.fuse.disarm() {
		return false
	}
	w.logf("store write %d failed (after its commit: %v)", f.n, f.afterCommit)
	w.count("store-write-failed")
	return true
}

// runFailing runs do, with probability p (StoreError) with one of the
// platform's next `writes` store writes failing (failOneOf), and reports
// whether one failed. When w.failAt is set, do runs with that write
// failing instead, drawing nothing, and w.failAt is cleared.
func (w *world) runFailing(p float64, writes int, do func()) bool {
	if f := w.failAt; f != nil {
		w.failAt = nil
		w.stats.Faults[StoreError]++
		return w.failNth(*f, do)
	}
	if !w.fault(StoreError, p) {
		do()
		return false
	}
	return w.failOneOf(writes, do)
}

// sendFailing runs send, a phone's or the operator's call that deliver
// does not carry, with one of its next `writes` store writes failing with
// probability p (runFailing); when one failed and the platform answered an
// error that again says to send (noVerdict, or more), the call is sent
// again, once, and sendFailing returns that call's error. again is called
// only when a write failed.
func (w *world) sendFailing(p float64, writes int, again func(error) bool, send func() error) error {
	var err error
	if !w.runFailing(p, writes, func() { err = send() }) || !again(err) {
		return err
	}
	w.count("sent-again-after-store-error")
	return send()
}

// noVerdict reports whether err says nothing of a call's outcome, as the
// client takes it to (ClientOptions.MaxAttempts): internal, unavailable or
// idempotency_in_flight, or an error of the store that matches no sentinel.
func noVerdict(err error) bool {
	if err == nil {
		return false
	}
	switch payflow.AsError(err).Code {
	case "internal", "unavailable", "idempotency_in_flight":
		return true
	}
	return false
}

// eid is a card's EID at t.
func (c *card) eid(t time.Time) []byte {
	e, err := adv.DeriveEID(c.secret, adv.Epoch(t))
	if err != nil {
		panic(err) // the secret came from the card's own enrolment
	}
	return e[:]
}

// proof has the card sign an auth proof over a fresh challenge.
func (w *world) proof(c *card, role record.Role, peer []byte) ([]byte, error) {
	ch, err := w.api.Challenge(w.ctx, &payflow.ChallengeRequest{CardID: c.id})
	if err != nil {
		return nil, w.failf("challenge for %s: %v", c.name, err)
	}
	if peer == nil {
		peer = make([]byte, record.EIDSize)
	}
	msg, err := c.v.Card.SignAuthProof(&record.AuthProof{Nonce: ch.Nonce, Role: role, EID: c.eid(w.now), PeerEID: peer})
	if err != nil {
		return nil, w.failf("%s signs an auth proof: %v", c.name, err)
	}
	return msg, nil
}

// login makes sure the card holds a live token; it reports false when the
// platform refused the card, as it must once the card is revoked. A token
// the card got before its revocation must be refused as its login is
// (card_not_trusted): the phone drops it and logs in again.
func (w *world) login(c *card, role record.Role) (bool, error) {
	if c.token != "" && w.now.Before(c.tokenExp) {
		if !c.revoked {
			return true, nil
		}
		_, err := w.api.Catalog(w.ctx, c.token, w.merchants[0].id)
		w.logf("token of revoked %s: %s", c.name, kind(err))
		if err := w.expect("a call with the token of a revoked card", err, payflow.ErrCard); err != nil {
			return false, err
		}
		w.count("revoked-token-refused")
		c.token = ""
	}
	// Over HTTP a login whose reply was lost is sent again and, its reply
	// never being stored, refused as spent: the phone logs in again over a
	// new challenge, as payflow's phones do. Each try meets the simulated
	// network's faults afresh, so a few in a row may lose their replies:
	// the bound is wider than a phone's. In process, and for a revoked
	// card, one proof is sent.
	tries := 1
	if w.opts.HTTP && !c.revoked {
		tries = 4 * payflow.LoginTries
	}
	// A login that a store error left without a verdict is made again,
	// over new challenges.
	proofs := 0
	var proofErr error
	var resp *payflow.LoginResponse
	err := w.sendFailing(0.03, callWrites, noVerdict, func() error {
		var err error
		resp, err = payflow.LoginWithRetry(w.ctx, w.api, tries, func() ([]byte, error) {
			if proofs++; proofs > 1 {
				w.count("login-resent")
			}
			msg, err := w.proof(c, role, nil)
			proofErr = err
			return msg, err
		})
		return err
	})
	if proofErr != nil {
		return false, proofErr
	}
	if c.revoked {
		w.logf("login of revoked %s: %s", c.name, kind(err))
		return false, w.expect("login of a revoked card", err, payflow.ErrCard)
	}
	if err != nil {
		return false, w.failf("login of %s: %v", c.name, err)
	}
	if resp.CardID != c.id || !resp.ExpiresAt.Equal(w.now.Add(payflow.DefaultTokenTTL)) {
		return false, w.failf("login of %s answered for %s until %v", c.name, resp.CardID, resp.ExpiresAt)
	}
	c.token, c.tokenExp = resp.Token, resp.ExpiresAt
	w.count("login")
	return true, nil
}

// enterPIN has the user verify the PIN before a consent, typing it wrong
// now and then, and reports whether the card is ready to sign. It checks
// every status word against the tries the card should have left.
func (w *world) enterPIN(c *card) (bool, error) {
	for c.pinLeft > 0 && w.fault(WrongPIN, 0.2) {
		err := c.v.Card.VerifyPIN("000000")
		c.pinLeft--
		// 63Cx with the tries left, down to 63C0 for the last one.
		if err := w.expect("wrong PIN", err, errWrongPIN); err != nil {
			return false, err
		}
		if left, ok := triesLeft(err); !ok || left != c.pinLeft {
			return false, w.failf("wrong PIN of %s: card says %d tries left, want %d", c.name, left, c.pinLeft)
		}
		if c.pinLeft == 0 {
			w.count("pin-lockout")
		}
	}
	if c.pinLeft == 0 {
		err := c.v.Card.VerifyPIN(pin)
		if err := w.expect("right PIN on a blocked card", err, errPINBlocked); err != nil {
			return false, err
		}
		if w.rng.IntN(2) == 0 {
			w.logf("%s stays locked out", c.name)
			return false, nil
		}
		if err := c.v.Card.Unblock(puk, pin); err != nil {
			return false, w.failf("unblock %s with the PUK: %v", c.name, err)
		}
		c.pinLeft = simcard.DefaultTries
		w.count("pin-unblock")
	}
	if err := c.v.Card.VerifyPIN(pin); err != nil {
		return false, w.failf("right PIN of %s: %v", c.name, err)
	}
	c.pinLeft = simcard.DefaultTries
	return true, nil
}

// sameView reports whether two views of one request agree.
func sameView(a, b *payflow.PaymentView) bool {
	return a.ID == b.ID && a.State == b.State && a.Amount == b.Amount && a.Captured == b.Captured &&
		a.Refunded == b.Refunded && string(a.Receipt) == string(b.Receipt) &&
		string(a.RequestHash) == string(b.RequestHash) && a.ExpiresAt.Equal(b.ExpiresAt)
}

var (
	errWrongPIN   = simcard.ErrWrongPIN
	errPINBlocked = simcard.ErrPINBlocked
	pin           = simcardtest.PIN
	puk           = simcardtest.PUK
)

// triesLeft returns the tries a wrong-PIN status word reports.
func triesLeft(err error) (int, bool) {
	var se *simcard.StatusError
	if !errors.As(err, &se) {
		return 0, false
	}
	return se.TriesLeft()
}
