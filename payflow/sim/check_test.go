package sim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

// testWorld returns a set-up world whose checks pass.
func testWorld(t *testing.T, seed uint64) *world {
	t.Helper()
	return setUpWorld(t, Options{Seed: seed})
}

// setUpWorld returns a world of opts, set up, whose checks pass.
func setUpWorld(t *testing.T, opts Options) *world {
	t.Helper()
	w := newWorld(context.Background(), opts)
	t.Cleanup(w.close)
	require.NoError(t, w.setup())
	require.NoError(t, w.check())
	return w
}

// calmWorld returns a set-up world whose checks pass and that injects no
// faults, also while it is set up.
func calmWorld(t *testing.T, seed uint64) *world {
	t.Helper()
	return setUpWorld(t, Options{Seed: seed, Disable: Faults()})
}

// stepUntil takes random steps, at most 500, until a request of w is in
// state, and returns the last such one.
func stepUntil(t *testing.T, w *world, state string) *purchase {
	t.Helper()
	return stepUntilOne(t, w, state, func(q *purchase) bool { return q.state == state })
}

// stepUntilOne takes random steps, at most 500, until a request of w is
// one that ok accepts (what names it), and returns the last such one.
func stepUntilOne(t *testing.T, w *world, what string, ok func(*purchase) bool) *purchase {
	t.Helper()
	var p *purchase
	for w.step = 1; p == nil && w.step < 500; w.step++ {
		require.NoError(t, w.randomStep())
		for _, q := range w.purchases {
			if ok(q) {
				p = q
			}
		}
	}
	require.NotNil(t, p, "no request %s in 500 steps", what)
	return p
}

// stray moves money in the ledger behind the platform's back.
func stray(t *testing.T, w *world, debit, credit ledger.ID, amount uint64) {
	t.Helper()
	res, err := w.led.CreateTransfers(w.ctx, []ledger.Transfer{{
		ID: ledger.NewID(), DebitAccountID: debit, CreditAccountID: credit, Amount: amount,
		Ledger: currencyCode, Code: payflow.TransferFunding,
	}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
}

// corrupt raises the posted credits of an account in the ledger's store,
// which no transfer explains.
func corrupt(t *testing.T, w *world, id ledger.ID) {
	t.Helper()
	require.NoError(t, w.ls.Update(w.ctx, func(tx ledger.Tx) error {
		as, err := tx.Accounts([]ledger.ID{id})
		if err != nil {
			return err
		}
		require.Len(t, as, 1)
		as[0].CreditsPosted++
		return tx.UpdateAccounts(as)
	}))
}

// TestChecksCatchPlantedFaults plants the faults the simulation looks for
// and checks that its invariants see each of them, by the check that
// names it.
func TestChecksCatchPlantedFaults(t *testing.T) {
	wallet := func(c *card) ledger.ID { return payflow.AccountID(payflow.AccountWallet, currencyCode, c.id) }
	shop := func(m *merchant) ledger.ID { return payflow.AccountID(payflow.AccountMerchant, currencyCode, m.id) }
	tests := []struct {
		name   string
		plant  func(t *testing.T, w *world)
		detail string
	}{
		{"a balance no transfer explains", func(t *testing.T, w *world) { corrupt(t, w, wallet(w.shoppers[0])) }, "ledger verify: "},
		{"money from nowhere", func(t *testing.T, w *world) {
			stray(t, w, payflow.AccountID(payflow.AccountFunding, currencyCode, ""), wallet(w.shoppers[0]), 1)
		}, "wallet of Shopper 1 is "},
		{"a second charge", func(t *testing.T, w *world) {
			stray(t, w, wallet(w.shoppers[1]), shop(w.merchants[0]), 7)
		}, "wallet of Shopper 2 is "},
		{"money the model lost", func(t *testing.T, w *world) { w.shoppers[2].posted-- }, "wallet of Shopper 3 is "},
		{"a hold the model missed", func(t *testing.T, w *world) { w.shoppers[0].held++ }, "wallet of Shopper 1 is "},
		{"tickets the model gave a shopper", func(t *testing.T, w *world) { w.shoppers[1].tickets++ }, "tickets of Shopper 2 are "},
		{"money the model gave a merchant", func(t *testing.T, w *world) { w.merchants[0].posted++ }, "account of shop-1 is "},
		{"money the model expects in", func(t *testing.T, w *world) { w.merchants[1].incoming++ }, "account of shop-2 is "},
		{"tickets moved", func(t *testing.T, w *world) { w.merchants[0].tickets++ }, "tickets of shop-1 are "},
		{"funding not counted", func(t *testing.T, w *world) { w.funded++ }, "were paid in"},
		{"issue not counted", func(t *testing.T, w *world) { w.issued++ }, "tickets are held, "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := testWorld(t, 5)
			tt.plant(t, w)
			var f *Failure
			require.ErrorAs(t, w.check(), &f)
			assert.Equal(t, uint64(5), f.Seed)
			assert.Contains(t, f.Detail, tt.detail)
		})
	}
}

// captured takes random steps of w until a payment is captured, and
// returns it and its view as its seller's phone reads it.
func captured(t *testing.T, w *world) (*purchase, *payflow.PaymentView) {
	t.Helper()
	p := stepUntil(t, w, payflow.StateCaptured)
	ok, err := w.login(p.m.seller, record.RoleSeller)
	require.NoError(t, err)
	require.True(t, ok)
	v, err := w.plat.Payment(w.ctx, p.m.seller.token, p.id)
	require.NoError(t, err)
	return p, v
}

// TestReceiptChecks runs a world until a payment is captured and checks
// that its receipt is refused once the consent it names is not one the
// payer's card signed, or the amount differs.
func TestReceiptChecks(t *testing.T) {
	w := testWorld(t, 9)
	p, v := captured(t, w)
	require.NoError(t, w.settled(p, v))

	var f *Failure
	assert.ErrorAs(t, w.verifyReceipt(p, v.Receipt, p.captured+1), &f, "another amount")
	tampered := append([]byte(nil), v.Receipt...)
	tampered[len(tampered)-1] ^= 1
	assert.ErrorAs(t, w.verifyReceipt(p, tampered, p.captured), &f, "a tampered receipt")
	p.consents = map[[32]byte]bool{}
	assert.ErrorAs(t, w.settled(p, v), &f, "a consent the card never signed")
}

// TestFuse checks the simulated crash: the n-th write is the last, lost
// or committed, and everything after it fails until a new fuse.
func TestFuse(t *testing.T) {
	for _, after := range []bool{false, true} {
		var f fuse
		f.arm(1, after)
		ran := 0
		do := func() error { ran++; return nil }
		require.NoError(t, f.write(do))
		assert.ErrorIs(t, f.write(do), errCrashed)
		assert.ErrorIs(t, f.write(do), errCrashed)
		assert.ErrorIs(t, f.read(), errCrashed)
		want := 1
		if after {
			want = 2
		}
		assert.Equal(t, want, ran)
		assert.True(t, f.disarm())
	}
	var f fuse
	assert.NoError(t, f.write(func() error { return nil }))
	assert.False(t, f.disarm())
	assert.True(t, errors.Is(f.write(func() error { return errCrashed }), errCrashed))
}

// TestPollAfterCrash kills the platform at the write of a cancel of a
// pending request, lost, and checks what the seller's phone accepts when
// it polls after the restart: the request pending, or cancelled had the
// write reached the disk, while the restart leaves it before its expiry;
// expired instead of pending once the restart's time took it past its
// expiry.
func TestPollAfterCrash(t *testing.T) {
	for _, tt := range []struct {
		lead time.Duration // from the cancel to the request's expiry
		want string
	}{
		{requestTTL / 2, payflow.StatePending},
		{recoverAfter + time.Second, payflow.StateExpired},
		{2 * time.Second, payflow.StateExpired},
	} {
		t.Run(tt.lead.String(), func(t *testing.T) {
			w := calmWorld(t, 5)
			require.NoError(t, w.purchase())
			p := w.purchases[len(w.purchases)-1]
			require.Equal(t, payflow.StatePending, p.state)
			require.NoError(t, w.advance(p.expiresAt.Sub(w.now)-tt.lead))
			seller := p.m.seller
			ok, err := w.login(seller, record.RoleSeller)
			require.NoError(t, err)
			require.True(t, ok)

			w.fuse.arm(0, false)
			_, err = w.api.Cancel(w.ctx, seller.token, p.id)
			require.ErrorIs(t, err, errCrashed)
			require.True(t, w.fuse.disarm())
			require.NoError(t, w.restart("a crash during cancel"))

			allowed := w.afterCrash(p, payflow.StateCancelled, nil)
			assert.Equal(t, []string{tt.want, payflow.StateCancelled}, allowed)
			assert.Equal(t, []string{tt.want}, w.afterCrash(p, payflow.StateCancelled, payflow.ErrFinal))
			v, err := w.poll(p, seller, allowed...)
			require.NoError(t, err)
			assert.Equal(t, tt.want, v.State)
			assert.Equal(t, tt.want, p.state)
		})
	}
}

// TestCreateAfterCrash kills the platform at the write of a new payment
// request, in a session paired again shortly before its expiry, and checks
// what the seller's phone gets when it sends the request again once the
// platform restarted: the request, pending, while the restart leaves the
// session before its expiry or the write reached the disk; the session's
// expiry, and no request, once the restart's time took the session past
// its expiry and nothing was stored.
func TestCreateAfterCrash(t *testing.T) {
	for _, tt := range []struct {
		lead    time.Duration // from the request to the session's expiry
		after   bool          // the write reached the disk
		created bool
	}{
		{time.Minute, false, true},
		{recoverAfter + time.Second + time.Millisecond, false, true},
		{recoverAfter + time.Second, false, false},
		{500 * time.Millisecond, false, false},
		{500 * time.Millisecond, true, true},
	} {
		t.Run(fmt.Sprintf("%v/%v", tt.lead, tt.after), func(t *testing.T) {
			w := calmWorld(t, 5)
			s, m := w.shoppers[0], w.merchants[0]
			sess, err := w.pair(s, m)
			require.NoError(t, err)
			require.NoError(t, w.advance(sess.ExpiresAt.Sub(w.now)-tt.lead))
			again, err := w.pair(s, m)
			require.NoError(t, err)
			require.Equal(t, sess.ID, again.ID, "the same EIDs pair into the same session")
			require.True(t, again.ExpiresAt.Equal(sess.ExpiresAt))

			p, r, err := w.newRequest(s, m, again)
			require.NoError(t, err)
			w.fuse.arm(0, tt.after)
			_, err = w.api.CreateRequest(w.ctx, &payflow.CreateRequest{Request: p.msg})
			require.ErrorIs(t, err, errCrashed)
			require.True(t, w.fuse.disarm())

			v, err := w.recreate(p, r, again, crashed)
			require.NoError(t, err)
			if !tt.created {
				assert.Nil(t, v)
				assert.Equal(t, 1, w.stats.Ops["session-expired"])
				ok, err := w.login(s, record.RoleShopper)
				require.NoError(t, err)
				require.True(t, ok)
				_, err = w.api.Payment(w.ctx, s.token, p.id)
				assert.ErrorIs(t, err, payflow.ErrNotFound)
				return
			}
			require.NotNil(t, v)
			assert.Equal(t, payflow.StatePending, v.State)
			assert.Equal(t, p.id, v.ID)
			assert.Zero(t, w.stats.Ops["session-expired"])
		})
	}
}

// TestCrashAcrossExpiry kills the platform at a write of a cancel or a
// capture, lost or reaching the disk, when the restart's time takes a
// hold past its end (which has the restart expire what fell due) and the
// request called on past its expiry or its hold's end. The phone's poll
// must find what that call left on the disk (cancelled, captured) or,
// when its write was lost, the request expired; and the model must agree
// with the ledger afterwards.
func TestCrashAcrossExpiry(t *testing.T) {
	for _, tt := range []struct {
		what  string // cancel of a pending request, cancel or capture of the held one
		write int    // the write the platform dies at
		after bool   // the write reached the disk
		want  string
	}{
		{"cancel pending", 0, true, payflow.StateCancelled},
		{"cancel pending", 0, false, payflow.StateExpired},
		{"cancel held", 0, true, payflow.StateCancelled},
		{"cancel held", 0, false, payflow.StateExpired},
		// The capture recorded, its posts not made before the hold ran
		// out in the ledger: the sweep finds the hold expired.
		{"capture held", 0, true, payflow.StateExpired},
		{"capture held", 0, false, payflow.StateExpired},
		// The posts made: the sweep records the capture.
		{"capture held", 1, true, payflow.StateCaptured},
	} {
		t.Run(fmt.Sprintf("%s/%d/%v", tt.what, tt.write, tt.after), func(t *testing.T) {
			w := calmWorld(t, 9)
			held := stepUntil(t, w, payflow.StateHeld)
			p := held
			if tt.what == "cancel pending" {
				// A request that expires 3 s before the hold ends.
				require.NoError(t, w.tick(held.holdExpiresAt.Add(-requestTTL-3*time.Second).Sub(w.now), true))
				require.NoError(t, w.purchase())
				p = w.purchases[len(w.purchases)-1]
				require.Equal(t, payflow.StatePending, p.state)
				require.True(t, p.expiresAt.Before(held.holdExpiresAt))
			}
			// 2 s before the end of p's life, and less than the restart's
			// time before the hold's.
			end := p.expiresAt
			if p == held {
				end = held.holdExpiresAt
			}
			require.NoError(t, w.tick(end.Add(-2*time.Second).Sub(w.now), false))
			require.Equal(t, payflow.StateHeld, held.state)
			seller := p.m.seller
			ok, err := w.login(seller, record.RoleSeller)
			require.NoError(t, err)
			require.True(t, ok)

			w.fuse.arm(tt.write, tt.after)
			what, want := "cancel", payflow.StateCancelled
			if tt.what == "capture held" {
				what, want = "capture", payflow.StateCaptured
				_, err = w.api.Capture(w.ctx, seller.token, &payflow.CaptureRequest{RequestID: p.id})
			} else {
				_, err = w.api.Cancel(w.ctx, seller.token, p.id)
			}
			require.ErrorIs(t, err, errCrashed)
			require.True(t, w.fuse.disarm())
			v, err := w.pollAfterCrash("a crash during "+what, p, seller, want, nil)
			require.NoError(t, err)
			assert.Equal(t, tt.want, v.State)
			assert.Equal(t, tt.want, p.state)
			if p != held {
				assert.Equal(t, payflow.StateExpired, held.state, "the hold ended")
			}
			require.NoError(t, w.settled(p, v))
			require.NoError(t, w.check())
		})
	}
}

// heldRequest has the shopper of w ask the merchant that captures by hand
// for a payment, and sign a consent to it; it returns the request, known
// to the model, and the consent, not sent.
func heldRequest(t *testing.T, w *world) (*purchase, []byte) {
	t.Helper()
	return consentedRequest(t, w, true)
}

// consentedRequest is heldRequest to the merchant that captures by hand
// (manual) or to the one that captures at once.
func consentedRequest(t *testing.T, w *world, manual bool) (*purchase, []byte) {
	t.Helper()
	var m *merchant
	for _, x := range w.merchants {
		if x.manual == manual {
			m = x
		}
	}
	require.NotNil(t, m)
	s := w.shoppers[0]
	sess, err := w.pair(s, m)
	require.NoError(t, err)
	p, _, err := w.newRequest(s, m, sess)
	require.NoError(t, err)
	v, err := w.createCall(p)()
	require.NoError(t, err)
	p.expiresAt = v.ExpiresAt
	w.purchases = append(w.purchases, p)
	ok, err := w.login(s, record.RoleShopper)
	require.NoError(t, err)
	require.True(t, ok)
	pv, err := w.api.Payment(w.ctx, s.token, p.id)
	require.NoError(t, err)
	ready, err := w.enterPIN(s)
	require.NoError(t, err)
	require.True(t, ready)
	msg, err := s.v.Card.SignConsent(&record.Consent{
		RequestID: p.id[:], RequestHash: pv.RequestHash, Nonce: pv.ConsentNonce,
		Amount: pv.Amount, Currency: pv.Currency, MerchantID: pv.MerchantID,
	})
	require.NoError(t, err)
	p.consents[record.Hash(msg)] = true
	return p, msg
}

// TestHoldAfterCrash kills the platform at a write of a consent to a
// request captured by hand, after the consent's acceptance reached the
// disk: the holds not sent or lost, which the recovery sweep then makes
// after the restart, or made and their recording lost. The request is
// held until the consent's acceptance plus the hold TTL either way, and
// the ledger's hold, timed out from its own timestamp, releases the money
// no earlier. A model that counted the hold's expiry from the sweep
// instead is refused by the check of the held view.
func TestHoldAfterCrash(t *testing.T) {
	for _, tt := range []struct {
		write int  // the write the platform dies at
		after bool // the write reached the disk
		swept bool // the sweep made the holds
	}{
		{0, true, true},   // the consent accepted, the holds not sent
		{1, false, true},  // the holds lost
		{1, true, false},  // the holds made, the request left approving
		{2, false, false}, // the holds made, the request's move to held lost
	} {
		for _, from := range []time.Duration{0, recoverAfter + time.Second} {
			t.Run(fmt.Sprintf("%d/%v/%v", tt.write, tt.after, from), func(t *testing.T) {
				w := calmWorld(t, 5)
				p, consent := heldRequest(t, w)
				acceptedAt := w.now
				w.fuse.arm(tt.write, tt.after)
				_, err := w.api.Approve(w.ctx, &payflow.ApproveRequest{Consent: consent})
				require.ErrorIs(t, err, errCrashed)
				require.True(t, w.fuse.disarm())

				err = w.approveCrashed(p, consent, payflow.StateHeld, nil, acceptedAt.Add(from))
				require.Equal(t, payflow.StateHeld, p.state)
				assert.Equal(t, consent, p.settledBy, "the consent found settling it")
				r, rerr := w.plat.Store().Payment(w.ctx, p.id)
				require.NoError(t, rerr)
				ts, lerr := w.led.LookupTransfers(w.ctx, []ledger.ID{payflow.TransferID(p.id, r.Attempt, 0, 1)})
				require.NoError(t, lerr)
				require.Len(t, ts, 1)
				madeAt := time.Unix(0, int64(ts[0].Timestamp))
				assert.Equal(t, tt.swept, !madeAt.Before(acceptedAt.Add(recoverAfter)), "the hold made at %v", madeAt)
				assert.Equal(t, acceptedAt.Add(holdTTL), r.HoldExpiresAt, "counted from the consent's acceptance")
				if from == 0 {
					require.NoError(t, err)
					require.NoError(t, w.check())
					return
				}
				var f *Failure
				require.ErrorAs(t, err, &f, "a hold counted from the sweep")
				assert.Contains(t, f.Detail, "held until")
			})
		}
	}
}

// TestReceiptKeyChecks runs a world until a payment is captured, has the
// platform replace its receipt key twice, the second time revoking the
// certificate replaced, and checks what the model takes: the receipt of
// the first key, by the chain it carries, though the platform signs with
// another key now; and what it refuses: a receipt signed by another key
// than its chain's, or at a time when the platform did not sign with its
// chain's key, or carrying a chain the platform never had; a receipt of
// the revoked certificate that the phone would verify, or one of a
// certificate not revoked that it would refuse, or one of the revoked
// certificate that it refuses for another reason.
func TestReceiptKeyChecks(t *testing.T) {
	w := testWorld(t, 9)
	w.off[RotateKey] = true // the test replaces the keys itself
	p, v := captured(t, w)
	var rc record.Receipt
	require.NoError(t, record.Verify(v.Receipt, &w.key.PublicKey, &rc))

	require.NoError(t, w.advance(time.Minute))
	require.NoError(t, w.rotateKey(false))
	require.Len(t, w.receiptKeys, 2)
	first, second := w.receiptKeys[0], w.receiptKeys[1]
	assert.Equal(t, first.until, second.from)
	assert.Equal(t, second.key, w.key)
	assert.Equal(t, second.chain, w.chain)
	require.NoError(t, w.settled(p, v), "the receipt of the key replaced, by its chain")
	assert.Equal(t, 1, w.stats.Ops["receipt-of-replaced-key"])

	sign := func(k *ecdsa.PrivateKey, chain [][]byte, at time.Time) *payflow.PaymentView {
		rc := rc
		rc.Time = uint64(at.UnixMilli())
		msg, err := record.SignReceipt(w.bytes, k, &rc, chain)
		require.NoError(t, err)
		forged := *v
		forged.Receipt = msg
		return &forged
	}
	signedAt := time.UnixMilli(int64(rc.Time))
	require.NoError(t, w.settled(p, sign(second.key, second.chain, w.now)), "the new key")
	refused := func(v *payflow.PaymentView, detail, msg string) {
		t.Helper()
		var f *Failure
		if assert.ErrorAs(t, w.settled(p, v), &f, msg) {
			assert.Contains(t, f.Detail, detail, msg)
		}
	}
	refused(sign(second.key, first.chain, w.now), "was not signed by the key of the chain it carries", "the new key, the former chain")
	refused(sign(first.key, first.chain, w.now), "by a key that the platform signed with from", "the former key after it was replaced")
	refused(sign(second.key, second.chain, signedAt), "by a key that the platform signed with from", "the new key before it was made")
	other, err := ecdsa.GenerateKey(elliptic.P256(), w.bytes)
	require.NoError(t, err)
	cert, err := w.issuer.IssuePlatform(other.Public(), "casimpay simulated platform", pki.IssueOptions{})
	require.NoError(t, err)
	refused(sign(other, append([][]byte{cert}, w.issuer.Chain()...), w.now), "that the platform never had",
		"a chain of the same CA that the platform never had")

	secondUntil := w.now
	require.NoError(t, w.rotateKey(true))
	assert.True(t, second.revoked)
	assert.False(t, first.revoked)
	revoked := sign(second.key, second.chain, secondUntil)
	require.NoError(t, w.settled(p, revoked), "refused by the phone as revoked, as the model expects")
	assert.Equal(t, 1, w.stats.Ops["receipt-of-revoked-key"])
	require.NoError(t, w.settled(p, v), "the receipt of the first key, not revoked")

	second.revoked = false
	refused(revoked, "does not verify: pki:", "a receipt of a revoked certificate expected to verify")
	first.revoked = true
	refused(v, "of a revoked certificate: the phone got ok", "a receipt expected refused that verifies")

	// Phones that trust another root refuse the receipt of the revoked
	// certificate for that, not as revoked.
	second.revoked = true
	rk, err := ecdsa.GenerateKey(elliptic.P256(), w.bytes)
	require.NoError(t, err)
	root, err := pki.NewRoot(rk, pki.CAOptions{CRLURL: "https://pki.invalid/other.crl", Now: w.clock, Rand: w.bytes})
	require.NoError(t, err)
	w.platVerifier, err = pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{root.DER()}, Now: w.clock})
	require.NoError(t, err)
	_, err = w.platVerifier.VerifyReceipt(revoked.Receipt, w.chain, new(record.Receipt))
	require.Error(t, err)
	require.NotErrorIs(t, err, pki.ErrRevoked)
	refused(revoked, "of a revoked certificate: the phone got "+describe(err)+", want it revoked", "a receipt of the revoked certificate refused for another reason")
}

// TestStateStoreReadsKeys: the platform's store in the simulation reads an
// Idempotency-Key without claiming it (payflow.ReplyReader), as the stores
// it wraps do, so that the handler answers a record it refuses before
// verifying it without writing to the store; the read goes through the
// fuse, and fails once the process has died.
func TestStateStoreReadsKeys(t *testing.T) {
	ctx := context.Background()
	var f fuse
	var s payflow.Store = stateStore{inner: memory.New(), f: &f}
	r, ok := s.(payflow.ReplyReader)
	require.True(t, ok, "the simulation's state store is no payflow.ReplyReader")
	now := time.Unix(1_000, 0)
	hash := make([]byte, 32)
	got, err := r.LookupIdempotent(ctx, "k", hash, now)
	require.NoError(t, err)
	assert.Nil(t, got)
	_, err = r.BeginIdempotent(ctx, "k", hash, now, now.Add(time.Minute))
	require.NoError(t, err)
	_, err = r.LookupIdempotent(ctx, "k", hash, now)
	assert.ErrorIs(t, err, payflow.ErrInFlight)
	f.arm(0, false)
	assert.ErrorIs(t, f.write(func() error { return nil }), errCrashed)
	_, err = r.LookupIdempotent(ctx, "k", hash, now)
	assert.ErrorIs(t, err, errCrashed)
}
