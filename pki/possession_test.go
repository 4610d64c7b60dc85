package pki

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casimpay/casimpay/pki/record"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// proof signs an authentication proof over nonce with the card's key, as
// the card would, with the given card ID and counter.
func proof(t testing.TB, h *hierarchy, cardID string, counter uint64, nonce []byte) []byte {
	t.Helper()
	msg, err := record.Sign(rand.Reader, h.cardKey, &record.AuthProof{
		CardHeader: record.CardHeader{CardID: cardID, Counter: counter},
		Nonce:      nonce,
		Role:       record.RoleShopper,
		EID:        make([]byte, record.EIDSize),
		PeerEID:    make([]byte, record.EIDSize),
	})
	require.NoError(t, err)
	return msg
}

// newChallenger returns a Challenger with opts's other fields, clocked by
// clk, over a verifier of h's chains holding fresh CRLs.
func newChallenger(t testing.TB, h *hierarchy, clk *clock, opts ChallengerOptions) *Challenger {
	t.Helper()
	v := newVerifier(t, h, clk, VerifierOptions{})
	addCRLs(t, h, v)
	opts.Now = clk.now
	return NewChallenger(v, opts)
}

// TestNilArguments: the functions that take a certificate or a verifier
// refuse nil with their sentinel instead of panicking; CardID's *Error is
// about no certificate (Cert -1).
func TestNilArguments(t *testing.T) {
	_, err := CardID(nil)
	assert.Equal(t, &Error{Err: ErrCardID, Cert: -1, Reason: "no certificate"}, err, "about no certificate")
	_, err = ExtKeyUsages(nil)
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = NewChallenger(nil, ChallengerOptions{}).Verify(context.Background(), nil, nil, new(record.AuthProof))
	assert.ErrorIs(t, err, ErrInvalid)
}

// TestNilReceivers: the methods of a nil or zero Verifier, a nil
// VerifiedCard or VerifiedPlatform, a nil or zero Challenger and a nil or
// zero CA, none of which the constructors return, refuse the call with
// ErrInvalid naming what is missing, instead of panicking; Revoked of a
// nil or zero Verifier, which holds no CRL, is false, and a nil or zero
// CA has no certificate, key, chain, revocation or CRL number.
func TestNilReceivers(t *testing.T) {
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	v := newVerifier(t, h, clk, VerifierOptions{})
	addCRLs(t, h, v)
	require.NoError(t, h.ca.Revoke(mustParse(t, h.card).SerialNumber, ReasonKeyCompromise))
	crl, err := h.ca.CRL(t0.Add(24 * time.Hour))
	require.NoError(t, err)
	require.NoError(t, v.AddCRL(crl))
	ids, err := v.CertIDs(h.chain())
	require.NoError(t, err)
	require.True(t, v.Revoked(ids))
	refused := func(t *testing.T, err error, reason string) {
		t.Helper()
		requireRefusal(t, err, ErrInvalid, -1)
		assert.EqualError(t, err, "pki: invalid argument: "+reason)
	}
	for name, v := range map[string]*Verifier{"nil": nil, "zero": {}} {
		t.Run(name+" Verifier", func(t *testing.T) {
			const reason = "no Verifier (one is made by NewVerifier)"
			_, err := v.VerifyCard(h.chain())
			refused(t, err, reason)
			_, err = v.VerifyPlatform(h.chain())
			refused(t, err, reason)
			refused(t, v.AddCRL(crl), reason)
			_, err = v.CertIDs(h.chain())
			refused(t, err, reason)
			assert.False(t, v.Revoked(ids))
		})
	}
	msg := proof(t, h, testICCID, 1, make([]byte, record.NonceSize))
	var vc *VerifiedCard
	refused(t, vc.VerifyRecord(msg, new(record.AuthProof)), "no VerifiedCard (one is returned by VerifyCard)")
	assert.ErrorIs(t, new(VerifiedCard).VerifyRecord(msg, new(record.AuthProof)), record.ErrKey, "a VerifiedCard without a key")
	var vp *VerifiedPlatform
	refused(t, vp.VerifyReceipt(msg, new(record.Receipt)), "no VerifiedPlatform (one is returned by VerifyPlatform)")
	for name, c := range map[string]*Challenger{"nil": nil, "zero": {}} {
		t.Run(name+" Challenger", func(t *testing.T) {
			const reason = "no Challenger (one is made by NewChallenger)"
			_, err := c.NewNonce(context.Background())
			refused(t, err, reason)
			_, err = c.Verify(context.Background(), h.chain(), msg, new(record.AuthProof))
			refused(t, err, reason)
		})
	}
	for name, ca := range map[string]*CA{"nil": nil, "zero": {}} {
		t.Run(name+" CA", func(t *testing.T) {
			const reason = "no CA (one is made by NewRoot, NewIntermediate or LoadCA)"
			require.NotPanics(t, func() {
				_, err := ca.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/sub.crl"})
				refused(t, err, reason)
				_, err = ca.IssueCard(h.cardKey.Public(), testICCID, IssueOptions{})
				refused(t, err, reason)
				_, err = ca.IssuePlatform(h.cardKey.Public(), "platform", IssueOptions{})
				refused(t, err, reason)
				_, err = ca.IssueCRL(nil, 1, t0.Add(time.Hour))
				refused(t, err, reason)
				_, err = ca.CRL(t0.Add(time.Hour))
				refused(t, err, reason)
				refused(t, ca.Revoke(big.NewInt(1), ReasonKeyCompromise), reason)
				assert.Nil(t, ca.Revoked())
				assert.Zero(t, ca.LastCRLNumber())
				assert.Nil(t, ca.Certificate())
				assert.Nil(t, ca.DER())
				assert.Nil(t, ca.Signer())
				assert.Nil(t, ca.Chain())
			})
		})
	}
}

// readerFunc is an io.Reader of a func type: a nil readerFunc panics in
// Read.
type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestNilPointerOptions: a store or random source of the options of
// NewChallenger or of a CA that is a nil pointer or a nil func in its
// interface, not nil (which means the default), is an argument out of
// range: the Challenger refuses every call, and NewRoot, NewIntermediate
// and LoadCA refuse to make the CA, with ErrInvalid naming the option
// and its type, where each panicked on the nil pointer once used.
func TestNilPointerOptions(t *testing.T) {
	ctx := context.Background()
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	for _, tt := range []struct {
		opts   ChallengerOptions
		reason string
	}{
		{ChallengerOptions{Nonces: (*MemoryNonces)(nil)}, "Nonces is a nil *pki.MemoryNonces"},
		{ChallengerOptions{Counters: (*MemoryCounters)(nil)}, "Counters is a nil *pki.MemoryCounters"},
		{ChallengerOptions{Rand: (*bytes.Reader)(nil)}, "Rand is a nil *bytes.Reader"},
		{ChallengerOptions{Rand: readerFunc(nil)}, "Rand is a nil pki.readerFunc"},
	} {
		t.Run(tt.reason, func(t *testing.T) {
			c := newChallenger(t, h, clk, tt.opts)
			_, err := c.NewNonce(ctx)
			requireRefusal(t, err, ErrInvalid, -1)
			assert.EqualError(t, err, "pki: invalid argument: "+tt.reason)
			_, err = c.Verify(ctx, h.chain(), proof(t, h, testICCID, 1, make([]byte, record.NonceSize)), new(record.AuthProof))
			assert.EqualError(t, err, "pki: invalid argument: "+tt.reason)
		})
	}
	const reason = "pki: invalid argument: Rand is a nil *bytes.Reader"
	opts := CAOptions{CRLURL: "http://pki.example/ca.crl", Rand: (*bytes.Reader)(nil)}
	_, err := NewRoot(newKey(t), opts)
	assert.EqualError(t, err, reason)
	_, err = h.root.NewIntermediate(newKey(t), opts)
	assert.EqualError(t, err, reason)
	_, err = LoadCA(h.ca.Signer(), h.ca.DER(), nil, opts)
	assert.EqualError(t, err, reason)
}

// TestChallengerRefusesAll: a Challenger made with a negative nonce TTL,
// where it took the default TTL, or without a Verifier (nil, or the zero
// Verifier, which refuses every chain), where it issued nonces that no
// record could use, issues no nonce and verifies no
// record, refusing both with ErrInvalid, and leaves a nonce issued by
// another Challenger unused.
func TestChallengerRefusesAll(t *testing.T) {
	ctx := context.Background()
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	for name, tt := range map[string]struct {
		new    func(nonces NonceStore) *Challenger
		reason string
	}{
		"negative TTL": {
			func(nonces NonceStore) *Challenger {
				return newChallenger(t, h, clk, ChallengerOptions{Nonces: nonces, TTL: -time.Second})
			},
			"negative nonce TTL",
		},
		"TTL of -1ns": {
			func(nonces NonceStore) *Challenger {
				return newChallenger(t, h, clk, ChallengerOptions{Nonces: nonces, TTL: -time.Nanosecond})
			},
			"negative nonce TTL",
		},
		"without a Verifier": {
			func(nonces NonceStore) *Challenger {
				return NewChallenger(nil, ChallengerOptions{Nonces: nonces, Now: clk.now})
			},
			"no verifier",
		},
		"with the zero Verifier": {
			func(nonces NonceStore) *Challenger {
				return NewChallenger(new(Verifier), ChallengerOptions{Nonces: nonces, Now: clk.now})
			},
			"no verifier",
		},
	} {
		t.Run(name, func(t *testing.T) {
			nonces := NewMemoryNonces(0)
			c := tt.new(nonces)
			want := &Error{Err: ErrInvalid, Cert: -1, Reason: tt.reason}
			nonce, err := c.NewNonce(ctx)
			assert.Equal(t, want, err)
			assert.Nil(t, nonce)
			assert.Empty(t, nonces.issues, "no nonce issued")

			issued, err := newChallenger(t, h, clk, ChallengerOptions{Nonces: nonces}).NewNonce(ctx)
			require.NoError(t, err)
			vc, err := c.Verify(ctx, h.chain(), proof(t, h, testICCID, 1, issued), new(record.AuthProof))
			assert.Equal(t, want, err)
			assert.Nil(t, vc)
			assert.NoError(t, nonces.Consume(ctx, issued, clk.now()), "the nonce is left unused")
		})
	}
}

func TestChallenger(t *testing.T) {
	ctx := context.Background()
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	c := newChallenger(t, h, clk, ChallengerOptions{})

	nonce, err := c.NewNonce(ctx)
	require.NoError(t, err)
	require.Len(t, nonce, record.NonceSize)
	msg := proof(t, h, testICCID, 1, nonce)
	var p record.AuthProof
	vc, err := c.Verify(ctx, h.chain(), msg, &p)
	require.NoError(t, err)
	assert.Equal(t, testICCID, vc.CardID)
	assert.Equal(t, nonce, p.Nonce)
	assert.Equal(t, uint64(1), p.Counter)

	t.Run("replayed nonce", func(t *testing.T) {
		_, err := c.Verify(ctx, h.chain(), msg, new(record.AuthProof))
		assert.ErrorIs(t, err, ErrNonce)
	})

	t.Run("replayed nonce, new counter", func(t *testing.T) {
		_, err := c.Verify(ctx, h.chain(), proof(t, h, testICCID, 2, nonce), new(record.AuthProof))
		assert.ErrorIs(t, err, ErrNonce)
	})

	t.Run("counter regression", func(t *testing.T) {
		n, err := c.NewNonce(ctx)
		require.NoError(t, err)
		_, err = c.Verify(ctx, h.chain(), proof(t, h, testICCID, 5, n), new(record.AuthProof))
		require.NoError(t, err)
		for _, counter := range []uint64{5, 4} {
			n, err := c.NewNonce(ctx)
			require.NoError(t, err)
			_, err = c.Verify(ctx, h.chain(), proof(t, h, testICCID, counter, n), new(record.AuthProof))
			require.ErrorIs(t, err, ErrCounterRegression)
			var ce *CounterError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, CounterError{CardID: testICCID, Last: 5, Got: counter}, *ce)
		}
	})

	t.Run("unknown nonce", func(t *testing.T) {
		n := make([]byte, record.NonceSize)
		_, err := c.Verify(ctx, h.chain(), proof(t, h, testICCID, 10, n), new(record.AuthProof))
		assert.ErrorIs(t, err, ErrNonce)
	})

	t.Run("expired nonce", func(t *testing.T) {
		n, err := c.NewNonce(ctx)
		require.NoError(t, err)
		defer clk.set(clk.now())
		clk.set(clk.now().Add(DefaultNonceTTL))
		_, err = c.Verify(ctx, h.chain(), proof(t, h, testICCID, 11, n), new(record.AuthProof))
		assert.ErrorIs(t, err, ErrNonce)
	})

	t.Run("other card ID", func(t *testing.T) {
		n, err := c.NewNonce(ctx)
		require.NoError(t, err)
		_, err = c.Verify(ctx, h.chain(), proof(t, h, testICCID2, 12, n), new(record.AuthProof))
		assert.ErrorIs(t, err, ErrCardID)
		_, err = c.Verify(ctx, h.chain(), proof(t, h, testICCID, 12, n), new(record.AuthProof))
		assert.NoError(t, err, "a refused record does not use the nonce up")
	})

	t.Run("tampered record", func(t *testing.T) {
		n, err := c.NewNonce(ctx)
		require.NoError(t, err)
		msg := proof(t, h, testICCID, 20, n)
		msg[len(msg)-1] ^= 1
		_, err = c.Verify(ctx, h.chain(), msg, new(record.AuthProof))
		assert.ErrorIs(t, err, record.ErrSignature)
	})

	t.Run("other key", func(t *testing.T) {
		n, err := c.NewNonce(ctx)
		require.NoError(t, err)
		other := &hierarchy{cardKey: newKey(t)}
		_, err = c.Verify(ctx, h.chain(), proof(t, other, testICCID, 21, n), new(record.AuthProof))
		assert.ErrorIs(t, err, record.ErrSignature)
	})

	t.Run("wrong record type", func(t *testing.T) {
		n, err := c.NewNonce(ctx)
		require.NoError(t, err)
		_, err = c.Verify(ctx, h.chain(), proof(t, h, testICCID, 22, n), new(record.Consent))
		assert.ErrorIs(t, err, record.ErrType)
	})

	t.Run("untrusted chain", func(t *testing.T) {
		n, err := c.NewNonce(ctx)
		require.NoError(t, err)
		_, err = c.Verify(ctx, [][]byte{h.card}, proof(t, h, testICCID, 23, n), new(record.AuthProof))
		assert.ErrorIs(t, err, ErrUntrusted)
	})

	t.Run("record without nonce", func(t *testing.T) {
		req := &record.RefundRequest{
			CardHeader: record.CardHeader{CardID: testICCID, Counter: 30},
			RefundID:   bytes.Repeat([]byte{3}, record.IDSize), RequestID: bytes.Repeat([]byte{1}, record.IDSize),
			Amount: 100, Currency: "EUR",
		}
		msg, err := record.Sign(rand.Reader, h.cardKey, req)
		require.NoError(t, err)
		_, err = c.Verify(ctx, h.chain(), msg, new(record.RefundRequest))
		require.NoError(t, err)
		_, err = c.Verify(ctx, h.chain(), msg, new(record.RefundRequest))
		assert.ErrorIs(t, err, ErrCounterRegression, "a replay repeats the counter")
	})
}

// failingCounters is a CounterStore that fails with err, when set, and is
// otherwise the MemoryCounters it holds.
type failingCounters struct {
	*MemoryCounters
	err error
}

func (s *failingCounters) Advance(ctx context.Context, cardID string, counter uint64) error {
	if s.err != nil {
		return s.err
	}
	return s.MemoryCounters.Advance(ctx, cardID, counter)
}

// TestChallengerNonceBeforeCounter: Verify spends the record's nonce
// before it advances the card's counter, so that a record refused for its
// nonce leaves the counter as it was; a counter store that fails
// otherwise than with a regression therefore leaves the nonce used (the
// card answers a new one), and its error is returned as it is.
func TestChallengerNonceBeforeCounter(t *testing.T) {
	ctx := context.Background()
	h := newHierarchy(t)
	counters := &failingCounters{MemoryCounters: NewMemoryCounters()}
	c := newChallenger(t, h, newClock(t0.Add(time.Hour)), ChallengerOptions{Counters: counters})
	verify := func(counter uint64, nonce []byte) error {
		_, err := c.Verify(ctx, h.chain(), proof(t, h, testICCID, counter, nonce), new(record.AuthProof))
		return err
	}
	newNonce := func() []byte {
		n, err := c.NewNonce(ctx)
		require.NoError(t, err)
		return n
	}
	require.ErrorIs(t, verify(5, make([]byte, record.NonceSize)), ErrNonce)
	require.NoError(t, verify(1, newNonce()), "the counter of the record refused for its nonce was not taken")

	down := errors.New("counter store down")
	counters.err = down
	n := newNonce()
	err := verify(2, n)
	require.ErrorIs(t, err, down)
	assert.NotErrorIs(t, err, ErrCounterRegression)
	counters.err = nil
	assert.ErrorIs(t, verify(2, n), ErrNonce, "the nonce was used")
	assert.NoError(t, verify(2, newNonce()), "the counter did not advance")
}

// TestChallengerMalleatedReplay replays a record whose ECDSA signature was
// changed from (r, s) to (r, n-s): still a valid ECDSA signature, other
// bytes. Records carry only low-S signatures, so the twin is refused as a
// bad signature, before its nonce is looked at.
func TestChallengerMalleatedReplay(t *testing.T) {
	ctx := context.Background()
	h := newHierarchy(t)
	c := newChallenger(t, h, newClock(t0.Add(time.Hour)), ChallengerOptions{})
	nonce, err := c.NewNonce(ctx)
	require.NoError(t, err)
	msg := proof(t, h, testICCID, 1, nonce)
	_, err = c.Verify(ctx, h.chain(), msg, new(record.AuthProof))
	require.NoError(t, err)

	// The signature is the final 64-byte byte string of the COSE_Sign1.
	twin := bytes.Clone(msg)
	sig := twin[len(twin)-64:]
	sVal := new(big.Int).SetBytes(sig[32:])
	sVal.Sub(elliptic.P256().Params().N, sVal)
	sVal.FillBytes(sig[32:])
	require.NotEqual(t, msg, twin)
	digest := record.SigStructureDigest(record.ProtectedHeader(record.TypeAuthProof), payloadOf(t, msg))
	require.True(t, ecdsa.Verify(&h.cardKey.PublicKey, digest[:], new(big.Int).SetBytes(sig[:32]), sVal), "the twin signature is a valid ECDSA signature")
	assert.ErrorIs(t, record.Verify(twin, &h.cardKey.PublicKey, new(record.AuthProof)), record.ErrSignature)

	_, err = c.Verify(ctx, h.chain(), twin, new(record.AuthProof))
	assert.ErrorIs(t, err, record.ErrSignature)
}

func TestChallengerConcurrentReplay(t *testing.T) {
	ctx := context.Background()
	h := newHierarchy(t)
	c := newChallenger(t, h, newClock(t0.Add(time.Hour)), ChallengerOptions{})
	nonce, err := c.NewNonce(ctx)
	require.NoError(t, err)
	msg := proof(t, h, testICCID, 1, nonce)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := c.Verify(ctx, h.chain(), msg, new(record.AuthProof))
			if err == nil {
				ok.Add(1)
			} else {
				assert.ErrorIs(t, err, ErrNonce)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), ok.Load())
}

func TestMemoryNonces(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryNonces(3)
	nonce := func(b byte) []byte { return []byte{b, b, b} }
	for b := byte(1); b <= 4; b++ {
		require.NoError(t, s.Add(ctx, nonce(b), t0.Add(time.Duration(b)*time.Minute)))
	}
	assert.Equal(t, 3, s.Len(), "bounded: the oldest left")
	assert.ErrorIs(t, s.Consume(ctx, nonce(1), t0), ErrNonce)
	assert.ErrorIs(t, s.Add(ctx, nonce(2), t0.Add(time.Hour)), ErrNonce, "a nonce is issued once")
	assert.ErrorIs(t, s.Add(ctx, nil, t0.Add(time.Hour)), ErrInvalid)

	require.NoError(t, s.Consume(ctx, nonce(2), t0))
	assert.ErrorIs(t, s.Consume(ctx, nonce(2), t0), ErrNonce, "used")
	assert.ErrorIs(t, s.Consume(ctx, nonce(3), t0.Add(3*time.Minute)), ErrNonce, "expired at its expiry")
	assert.Equal(t, 1, s.Len())
	require.NoError(t, s.Consume(ctx, nonce(4), t0.Add(3*time.Minute)))
	assert.Equal(t, 0, s.Len())

	// Expired nonces leave as time passes.
	for b := byte(10); b < 13; b++ {
		require.NoError(t, s.Add(ctx, nonce(b), t0.Add(time.Minute)))
	}
	assert.ErrorIs(t, s.Consume(ctx, nonce(99), t0.Add(time.Hour)), ErrNonce)
	assert.Equal(t, 0, s.Len())
}

// TestMemoryNoncesBoundCountsUnused: a store drops a nonce it holds only
// when it holds its maximum of nonces issued and unused; nonces used do
// not count, and the store's memory stays bounded by the nonces it holds
// however many nonces are issued and used while the oldest stays unused.
func TestMemoryNoncesBoundCountsUnused(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryNonces(2)
	nonce := func(b byte) []byte { return []byte{b, b, b} }
	expires := t0.Add(time.Hour)
	require.NoError(t, s.Add(ctx, nonce(1), expires))
	require.NoError(t, s.Add(ctx, nonce(2), expires))
	require.NoError(t, s.Consume(ctx, nonce(2), t0))
	require.NoError(t, s.Add(ctx, nonce(3), expires))
	assert.Equal(t, 2, s.Len(), "the first nonce and the third")
	assert.NoError(t, s.Consume(ctx, nonce(1), t0), "the first nonce, unused, was not dropped for one used")

	for b := byte(10); b < 250; b++ {
		require.NoError(t, s.Add(ctx, nonce(b), expires))
		require.NoError(t, s.Consume(ctx, nonce(b), t0))
		assert.LessOrEqual(t, len(s.issues), 2*s.Len()+1, "the issues kept are bounded by the nonces held")
	}
	assert.NoError(t, s.Consume(ctx, nonce(3), t0), "the third nonce, unused, held through them")
	require.NoError(t, s.Add(ctx, nonce(4), expires))
	require.NoError(t, s.Add(ctx, nonce(5), expires))
	require.NoError(t, s.Add(ctx, nonce(6), expires))
	assert.Equal(t, 2, s.Len(), "at its maximum, the oldest is dropped")
	assert.ErrorIs(t, s.Consume(ctx, nonce(4), t0), ErrNonce)
}

// TestMemoryNoncesDropsExpiringFirst: a store at its maximum, shared by a
// Challenger of a short TTL (1 minute) and one of a long TTL (1 hour),
// drops an expired nonce first, then the one expiring soonest (of two
// expiring together, the one issued first), whatever the order they were
// issued in: the nonce of the long TTL, issued first and still valid, is
// kept, and the nonces dropped are refused with ErrNonce.
func TestMemoryNoncesDropsExpiringFirst(t *testing.T) {
	ctx := context.Background()
	h := newHierarchy(t)
	start := t0.Add(time.Hour)
	clk := newClock(start)
	nonces := NewMemoryNonces(3)
	short := newChallenger(t, h, clk, ChallengerOptions{Nonces: nonces, TTL: time.Minute})
	long := newChallenger(t, h, clk, ChallengerOptions{Nonces: nonces, TTL: time.Hour})

	long1 := issue(t, long)   // expires at start+1h
	short1 := issue(t, short) // expires at start+1m
	clk.set(start.Add(2 * time.Minute))
	short2 := issue(t, short) // expires at start+3m
	require.Equal(t, 3, nonces.Len())
	short3 := issue(t, short) // expires at start+3m; drops short1, expired
	assert.Equal(t, 3, nonces.Len())
	long2 := issue(t, long) // drops short2, expiring soonest and issued before short3
	assert.Equal(t, 3, nonces.Len())

	for _, dropped := range []struct {
		name  string
		nonce []byte
	}{{"expired", short1}, {"expiring soonest", short2}} {
		_, err := long.Verify(ctx, h.chain(), proof(t, h, testICCID, 1, dropped.nonce), new(record.AuthProof))
		assert.ErrorIs(t, err, ErrNonce, dropped.name)
		assert.NotErrorIs(t, err, ErrCounterRegression, dropped.name)
	}
	use(t, h, long, 1, long1)
	use(t, h, short, 2, short3)
	use(t, h, long, 3, long2)
	assert.Zero(t, nonces.Len())
}

// TestMemoryNoncesUsedLeave: the memory that a store takes for the nonces
// used is at most as much again as for those it holds after they are used
// too, not only once another nonce is issued: a store whose nonces issued
// are all used keeps none of their issues.
func TestMemoryNoncesUsedLeave(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryNonces(0)
	expires := t0.Add(time.Hour)
	for b := range byte(100) {
		require.NoError(t, s.Add(ctx, []byte{b}, expires))
	}
	for b := range byte(100) {
		require.NoError(t, s.Consume(ctx, []byte{b}, t0))
		if !assert.LessOrEqual(t, len(s.issues), 2*s.Len()+1, "the issues kept are bounded by the nonces held, after %d used", b+1) {
			break
		}
	}
	assert.Zero(t, s.Len())
	assert.Nil(t, s.issues, "every nonce used, no issue kept, nor their array")
}

// TestMemoryNoncesLargeMax: a store made with a very large maximum holds
// room for the nonces it is given, not for its maximum.
func TestMemoryNoncesLargeMax(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryNonces(math.MaxInt)
	require.NotPanics(t, func() { require.NoError(t, s.Add(ctx, []byte{1}, t0.Add(time.Minute))) })
	assert.Equal(t, 1, s.Len())
	require.NoError(t, s.Consume(ctx, []byte{1}, t0))
	assert.Equal(t, 0, s.Len())
}

// TestMemoryNoncesDefaultMax: the zero MemoryNonces, and one made with a
// maximum of 0 or less, holds at most 100000 nonces: the 100001st issued
// drops the one that expires first.
func TestMemoryNoncesDefaultMax(t *testing.T) {
	ctx := context.Background()
	for name, s := range map[string]*MemoryNonces{"zero value": new(MemoryNonces), "0": NewMemoryNonces(0), "-1": NewMemoryNonces(-1)} {
		t.Run(name, func(t *testing.T) {
			nonce := func(i int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(i)) }
			for i := range 100000 {
				require.NoError(t, s.Add(ctx, nonce(i), t0.Add(time.Hour+time.Duration(i))))
			}
			assert.Equal(t, 100000, s.Len())
			require.NoError(t, s.Add(ctx, nonce(100000), t0.Add(2*time.Hour)))
			assert.Equal(t, 100000, s.Len(), "bounded")
			assert.ErrorIs(t, s.Consume(ctx, nonce(0), t0), ErrNonce, "the first to expire dropped")
			assert.NoError(t, s.Consume(ctx, nonce(1), t0), "the next kept")
		})
	}
}

// TestMemoryNoncesReissued: a nonce issued again, with the same expiry,
// after it was used stays usable until it is itself the nonce dropped,
// not when the store drops its first issue.
func TestMemoryNoncesReissued(t *testing.T) {
	ctx := context.Background()
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	same := bytes.Repeat([]byte{0xA1}, record.NonceSize)
	other := bytes.Repeat([]byte{0xB2}, record.NonceSize)
	nonces := NewMemoryNonces(2)
	c := newChallenger(t, h, clk, ChallengerOptions{
		Nonces: nonces,
		Rand:   bytes.NewReader(slices.Concat(same, same, other)),
	})

	first, err := c.NewNonce(ctx)
	require.NoError(t, err)
	require.Equal(t, same, first)
	_, err = c.Verify(ctx, h.chain(), proof(t, h, testICCID, 1, first), new(record.AuthProof))
	require.NoError(t, err)

	again, err := c.NewNonce(ctx) // the same bytes and expiry, the clock standing still
	require.NoError(t, err)
	require.Equal(t, same, again)
	third, err := c.NewNonce(ctx) // drops the first issue, already used
	require.NoError(t, err)
	require.Equal(t, other, third)
	assert.Equal(t, 2, nonces.Len(), "the nonce issued again and the third")

	_, err = c.Verify(ctx, h.chain(), proof(t, h, testICCID, 2, again), new(record.AuthProof))
	require.NoError(t, err, "the nonce issued again is still usable")
	_, err = c.Verify(ctx, h.chain(), proof(t, h, testICCID, 3, third), new(record.AuthProof))
	require.NoError(t, err)
}

// TestMemoryNoncesReissuedOutlivesFirstIssue: a nonce used and issued
// again, with a later expiry, stays usable once the expiry of its first
// issue has passed: dropping the first issue, expired, leaves the second
// held.
func TestMemoryNoncesReissuedOutlivesFirstIssue(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryNonces(0)
	n := []byte("reissued")
	// Two nonces held, so that the issue of n used stays among the issues
	// until it expires.
	require.NoError(t, s.Add(ctx, []byte("a"), t0.Add(time.Hour)))
	require.NoError(t, s.Add(ctx, []byte("b"), t0.Add(time.Hour)))
	require.NoError(t, s.Add(ctx, n, t0.Add(time.Minute)))
	require.NoError(t, s.Consume(ctx, n, t0))
	require.NoError(t, s.Add(ctx, n, t0.Add(time.Hour)))
	require.Equal(t, 3, s.Len())

	require.NoError(t, s.Consume(ctx, n, t0.Add(2*time.Minute)), "the second issue of n")
	assert.Equal(t, 2, s.Len())
	assert.ErrorIs(t, s.Consume(ctx, n, t0.Add(2*time.Minute)), ErrNonce, "used")
}

// TestMemoryNoncesReplayAfterCleanup: the proof over a nonce used is
// refused as a replay (ErrNonce, before its counter is looked at) until
// its expiry and after, whatever the store drops meanwhile: the other
// nonces, of shorter or longer lifetimes, used or expired and dropped
// until the store holds none (and lets its array of issues go), a clock
// stepped past every expiry and back, or the nonces dropped at its
// maximum. A nonce used is not held, and the store accepts only nonces
// it holds: what it drops or forgets of the nonces used cannot make one
// usable again.
func TestMemoryNoncesReplayAfterCleanup(t *testing.T) {
	ctx := context.Background()
	h := newHierarchy(t)
	start := t0.Add(time.Hour)
	for _, tt := range []struct {
		name string
		max  int
		// run issues and uses nonces with short (1 minute) and long (1
		// hour) lifetimes, moving clk, and returns the proof of a nonce
		// used, its nonce not expired by clk.
		run func(t *testing.T, clk *clock, short, long *Challenger, nonces *MemoryNonces) []byte
	}{
		{"none held, the other of a shorter lifetime issued after", 0,
			func(t *testing.T, clk *clock, short, long *Challenger, nonces *MemoryNonces) []byte {
				spent := use(t, h, long, 1, issue(t, long))
				use(t, h, short, 2, issue(t, short))
				require.Zero(t, nonces.Len())
				require.Nil(t, nonces.issues, "the issues let go")
				clk.set(start.Add(2 * time.Minute))
				return spent
			}},
		{"none held, the other of a shorter lifetime issued before and expired", 0,
			func(t *testing.T, clk *clock, short, long *Challenger, nonces *MemoryNonces) []byte {
				issue(t, short)
				spent := use(t, h, long, 1, issue(t, long))
				clk.set(start.Add(2 * time.Minute))
				unknown(t, h, long) // whose check drops the expired nonce
				require.Zero(t, nonces.Len())
				require.Nil(t, nonces.issues, "the issues let go")
				return spent
			}},
		{"the others of a longer lifetime held", 0,
			func(t *testing.T, clk *clock, short, long *Challenger, nonces *MemoryNonces) []byte {
				issue(t, long)
				spent := use(t, h, short, 1, issue(t, short))
				issue(t, long)
				require.Equal(t, 2, nonces.Len())
				clk.set(start.Add(30 * time.Second))
				return spent
			}},
		{"clock stepped past every expiry and back", 0,
			func(t *testing.T, clk *clock, short, long *Challenger, nonces *MemoryNonces) []byte {
				issue(t, short)
				spent := use(t, h, short, 1, issue(t, short))
				issue(t, long)
				clk.set(start.Add(2 * time.Hour))
				unknown(t, h, long)
				require.Zero(t, nonces.Len(), "every nonce expired and dropped")
				clk.set(start.Add(30 * time.Second))
				return spent
			}},
		{"the others dropped at the maximum", 2,
			func(t *testing.T, clk *clock, short, long *Challenger, nonces *MemoryNonces) []byte {
				spent := use(t, h, long, 1, issue(t, long))
				for range 5 {
					issue(t, short)
				}
				require.Equal(t, 2, nonces.Len())
				return spent
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock(start)
			nonces, counters := NewMemoryNonces(tt.max), NewMemoryCounters()
			short := newChallenger(t, h, clk, ChallengerOptions{Nonces: nonces, Counters: counters, TTL: time.Minute})
			long := newChallenger(t, h, clk, ChallengerOptions{Nonces: nonces, Counters: counters, TTL: time.Hour})
			spent := tt.run(t, clk, short, long, nonces)
			for _, c := range []*Challenger{short, long} {
				_, err := c.Verify(ctx, h.chain(), spent, new(record.AuthProof))
				assert.ErrorIs(t, err, ErrNonce, "replayed")
				assert.NotErrorIs(t, err, ErrCounterRegression, "refused for its nonce")
			}
			// A Challenger whose counters do not know the card (a counter
			// store restored from an older copy) refuses it just the same.
			fresh := newChallenger(t, h, clk, ChallengerOptions{Nonces: nonces, TTL: time.Minute})
			_, err := fresh.Verify(ctx, h.chain(), spent, new(record.AuthProof))
			assert.ErrorIs(t, err, ErrNonce, "replayed to fresh counters")
		})
	}
}

// issue returns a nonce newly issued by c.
func issue(t *testing.T, c *Challenger) []byte {
	t.Helper()
	n, err := c.NewNonce(context.Background())
	require.NoError(t, err)
	return n
}

// unknown verifies, through c, a proof of h's card over a nonce never
// issued, which must be refused with ErrNonce.
func unknown(t *testing.T, h *hierarchy, c *Challenger) {
	t.Helper()
	never := bytes.Repeat([]byte{7}, record.NonceSize)
	_, err := c.Verify(context.Background(), h.chain(), proof(t, h, testICCID, 2, never), new(record.AuthProof))
	require.ErrorIs(t, err, ErrNonce)
}

// use verifies, through c, the proof over nonce of h's card with counter,
// which must pass, and returns it.
func use(t *testing.T, h *hierarchy, c *Challenger, counter uint64, nonce []byte) []byte {
	t.Helper()
	msg := proof(t, h, testICCID, counter, nonce)
	_, err := c.Verify(context.Background(), h.chain(), msg, new(record.AuthProof))
	require.NoError(t, err)
	return msg
}

// TestNilMemoryStores: a nil *MemoryNonces or *MemoryCounters holds
// nothing and takes nothing: every call fails with ErrInvalid, Len is 0.
func TestNilMemoryStores(t *testing.T) {
	ctx := context.Background()
	var n *MemoryNonces
	assert.ErrorIs(t, n.Add(ctx, []byte{1}, t0.Add(time.Hour)), ErrInvalid)
	assert.ErrorIs(t, n.Consume(ctx, []byte{1}, t0), ErrInvalid)
	assert.Equal(t, 0, n.Len())
	var c *MemoryCounters
	assert.ErrorIs(t, c.Advance(ctx, testICCID, 1), ErrInvalid)
}

// TestEndedContext: a Challenger and the memory stores given a context
// that has ended fail with its error and change nothing: NewNonce issues
// no nonce, Verify spends no nonce and advances no counter, and so do
// Add, Consume and Advance of the stores; a nil context is refused with
// ErrInvalid alike.
func TestEndedContext(t *testing.T) {
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	nonces, counters := NewMemoryNonces(0), NewMemoryCounters()
	c := newChallenger(t, h, clk, ChallengerOptions{Nonces: nonces, Counters: counters})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel := context.WithDeadline(context.Background(), t0)
	defer cancel()
	for _, tt := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"deadline exceeded", expired, context.DeadlineExceeded},
		{"nil", nil, ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, err := c.NewNonce(tt.ctx)
			assert.ErrorIs(t, err, tt.want, "NewNonce")
			assert.Nil(t, n)
			assert.ErrorIs(t, nonces.Add(tt.ctx, []byte{1}, clk.now().Add(time.Hour)), tt.want, "Add")
			require.Equal(t, 0, nonces.Len(), "no nonce issued")

			nonce := issue(t, c)
			msg := proof(t, h, testICCID, 1, nonce)
			_, err = c.Verify(tt.ctx, h.chain(), msg, new(record.AuthProof))
			assert.ErrorIs(t, err, tt.want, "Verify")
			assert.ErrorIs(t, nonces.Consume(tt.ctx, nonce, clk.now()), tt.want, "Consume")
			assert.ErrorIs(t, counters.Advance(tt.ctx, testICCID, 1), tt.want, "Advance")
			require.Equal(t, 1, nonces.Len(), "the nonce not spent")
			use(t, h, c, 1, nonce) // and the counter not advanced

			// The next subtest starts again from counter 1.
			counters.mu.Lock()
			delete(counters.last, testICCID)
			counters.mu.Unlock()
		})
	}
}

func TestMemoryCounters(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryCounters()
	require.NoError(t, s.Advance(ctx, testICCID, 1))
	require.NoError(t, s.Advance(ctx, testICCID, 3))
	require.NoError(t, s.Advance(ctx, testICCID2, 1), "counters are per card")
	err := s.Advance(ctx, testICCID, 3)
	require.ErrorIs(t, err, ErrCounterRegression)
	var ce *CounterError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, uint64(3), ce.Last)
	assert.EqualError(t, err, "pki: card counter did not increase (replay or cloned card): card "+testICCID+" counter 3 not above 3")
	for _, other := range []error{ErrNonce, ErrInvalid, ErrUntrusted, ErrCardID} {
		assert.NotErrorIs(t, err, other, "a *CounterError matches ErrCounterRegression alone")
	}
	assert.ErrorIs(t, s.Advance(ctx, testICCID, 2), ErrCounterRegression)
	assert.ErrorIs(t, s.Advance(ctx, "89014103211118510738", 0), ErrCounterRegression, "zero is never above the start")
	assert.ErrorIs(t, s.Advance(ctx, "", 1), ErrInvalid, "no card has an empty ID")
	assert.NotContains(t, s.last, "", "nor holds a counter for one")

	// Concurrent advances to the same value: exactly one wins.
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if s.Advance(ctx, testICCID, 100) == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), ok.Load())
}

func TestVerifyReceipt(t *testing.T) {
	h := newHierarchy(t)
	k := newKey(t)
	der, err := h.ca.IssuePlatform(k.Public(), "casimpay platform", IssueOptions{})
	require.NoError(t, err)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{Revocation: RevocationBestEffort})
	vp, err := v.VerifyPlatform(append([][]byte{der}, h.ca.Chain()...))
	require.NoError(t, err)

	rc := &record.Receipt{
		Kind: record.ReceiptPayment, RequestID: bytes.Repeat([]byte{1}, 16), RequestHash: make([]byte, 32),
		ConsentHash: make([]byte, 32), Amount: 250, Currency: "EUR", PayerCardID: testICCID,
		MerchantID: "m-1", TransferIDs: [][]byte{bytes.Repeat([]byte{2}, 16)}, Time: 1,
	}
	msg, err := record.Sign(rand.Reader, k, rc)
	require.NoError(t, err)
	var got record.Receipt
	require.NoError(t, vp.VerifyReceipt(msg, &got))
	assert.Equal(t, uint64(250), got.Amount)

	forged, err := record.Sign(rand.Reader, h.cardKey, rc)
	require.NoError(t, err)
	assert.ErrorIs(t, vp.VerifyReceipt(forged, &got), record.ErrSignature)
}

// payloadOf returns the payload of the signed auth proof msg: the one
// encoding of the record it holds.
func payloadOf(t *testing.T, msg []byte) []byte {
	t.Helper()
	var p record.AuthProof
	require.NoError(t, record.Open(msg, &p))
	payload, err := record.Marshal(&p)
	require.NoError(t, err)
	return payload
}

// issuePlatform returns a new platform key and its chain under h, the
// certificate valid for validity (0: the default).
func issuePlatform(t testing.TB, h *hierarchy, validity time.Duration) (*ecdsa.PrivateKey, [][]byte) {
	t.Helper()
	k := newKey(t)
	der, err := h.ca.IssuePlatform(k.Public(), "casimpay platform", IssueOptions{Validity: validity})
	require.NoError(t, err)
	return k, append([][]byte{der}, h.ca.Chain()...)
}

// sampleReceipt returns a valid payment receipt.
func sampleReceipt() *record.Receipt {
	return &record.Receipt{
		Kind: record.ReceiptPayment, RequestID: bytes.Repeat([]byte{1}, 16), RequestHash: make([]byte, 32),
		ConsentHash: make([]byte, 32), Amount: 250, Currency: "EUR", PayerCardID: testICCID,
		MerchantID: "m-1", TransferIDs: [][]byte{bytes.Repeat([]byte{2}, 16)}, Time: 1,
	}
}

// signReceipt returns rc signed by key with chain in its x5chain.
func signReceipt(t testing.TB, key *ecdsa.PrivateKey, rc *record.Receipt, chain [][]byte) []byte {
	t.Helper()
	msg, err := record.SignReceipt(rand.Reader, key, rc, chain)
	require.NoError(t, err)
	return msg
}

// TestVerifyReceiptByItsChain: a receipt that carries its platform's
// chain (record.SignReceipt) verifies with that chain's key, checked as
// VerifyPlatform checks Info's, whatever the platform's chain of now: a
// receipt of the key the platform replaced and one of its new key both
// verify, and the chain is verified once for the receipts and Info that
// present it (one cache entry). A receipt without a chain verifies with
// the chain of now alone. A chain that does not verify (of another root,
// a leaf without the receipt-signing usage, revoked or expired), or that
// names a key that did not sign the receipt, or whose bytes changed, is
// refused with the error of its check.
func TestVerifyReceiptByItsChain(t *testing.T) {
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	v := newVerifier(t, h, clk, VerifierOptions{})
	addCRLs(t, h, v)
	platform := func(h *hierarchy, validity time.Duration) (*ecdsa.PrivateKey, [][]byte) {
		return issuePlatform(t, h, validity)
	}
	keyA, chainA := platform(h, 0)
	keyB, chainB := platform(h, 0)
	rc := sampleReceipt()
	sign := func(key *ecdsa.PrivateKey, chain [][]byte) []byte { return signReceipt(t, key, rc, chain) }
	msgA, msgB := sign(keyA, chainA), sign(keyB, chainB)

	_, err := v.VerifyPlatform(chainB) // Info's chain, after the key changed
	require.NoError(t, err)
	for name, c := range map[string]struct {
		msg []byte
		key *ecdsa.PrivateKey
	}{"former key": {msgA, keyA}, "new key": {msgB, keyB}} {
		var got record.Receipt
		vp, err := v.VerifyReceipt(c.msg, chainB, &got)
		require.NoError(t, err, name)
		assert.True(t, vp.PublicKey.Equal(c.key.Public()), name)
		assert.Equal(t, rc, &got, name)
		vp, err = v.ReceiptPlatform(c.msg)
		require.NoError(t, err, name)
		assert.True(t, vp.PublicKey.Equal(c.key.Public()), name)
	}
	assert.Equal(t, 2, v.cache.len(), "chains A and B, each verified once")

	plain, err := record.Sign(rand.Reader, keyA, rc)
	require.NoError(t, err)
	vp, err := v.ReceiptPlatform(plain)
	require.NoError(t, err)
	assert.Nil(t, vp, "no chain carried")
	_, err = v.VerifyReceipt(plain, chainA, new(record.Receipt))
	require.NoError(t, err, "with the chain of now")
	_, err = v.VerifyReceipt(plain, chainB, new(record.Receipt))
	assert.ErrorIs(t, err, record.ErrSignature, "a chain of now of another key")

	other := newHierarchy(t)
	keyO, chainO := platform(other, 0)
	expiring, chainE := platform(h, 10*time.Minute)
	revoked, chainR := platform(h, 0)
	require.NoError(t, h.ca.Revoke(mustParse(t, chainR[0]).SerialNumber, ReasonKeyCompromise))
	crl, err := h.ca.CRL(t0.Add(24 * time.Hour))
	require.NoError(t, err)
	require.NoError(t, v.AddCRL(crl))
	flipped := bytes.Clone(msgA)
	i := bytes.Index(flipped, chainA[0])
	require.Positive(t, i)
	flipped[i+len(chainA[0])-10] ^= 0x01 // in the signature of the certificate
	for name, c := range map[string]struct {
		msg  []byte
		want error
	}{
		"of another root":            {sign(keyO, chainO), ErrUntrusted},
		"a card's chain":             {sign(h.cardKey, h.chain()), ErrUsage},
		"revoked":                    {sign(revoked, chainR), ErrRevoked},
		"expired":                    {sign(expiring, chainE), ErrExpired},
		"another platform's chain":   {sign(keyA, chainB), record.ErrSignature},
		"a byte of the leaf flipped": {flipped, ErrUntrusted},
	} {
		_, err := v.VerifyReceipt(c.msg, chainA, new(record.Receipt))
		assert.ErrorIs(t, err, c.want, name)
	}

	_, err = v.VerifyReceipt([]byte{0xd2, 0x84}, chainA, new(record.Receipt))
	assert.ErrorIs(t, err, record.ErrMalformed)
	var nilV *Verifier
	_, err = nilV.VerifyReceipt(msgA, chainA, new(record.Receipt))
	assert.ErrorIs(t, err, ErrInvalid)
}

// TestDecodeReceiptAsReceiptPlatform: a receipt decoded once
// (Verifier.DecodeReceipt) has the platform that ReceiptPlatform gives
// for its message, or the same refusal, and verifies or is refused by
// VerifiedPlatform.VerifySignedReceipt exactly as VerifyReceipt verifies
// or refuses the message, with the same error and receipt: a receipt
// with a chain, one without, one of a chain of another root, of a
// revoked chain, of a key that the chain does not name, each with a byte
// flipped in every position in turn, and no message.
func TestDecodeReceiptAsReceiptPlatform(t *testing.T) {
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	v := newVerifier(t, h, clk, VerifierOptions{})
	addCRLs(t, h, v)
	platform := func(h *hierarchy) (*ecdsa.PrivateKey, [][]byte) { return issuePlatform(t, h, 0) }
	keyA, chainA := platform(h)
	keyB, chainB := platform(h)
	keyO, chainO := platform(newHierarchy(t))
	revoked, chainR := platform(h)
	require.NoError(t, h.ca.Revoke(mustParse(t, chainR[0]).SerialNumber, ReasonKeyCompromise))
	crl, err := h.ca.CRL(t0.Add(24 * time.Hour))
	require.NoError(t, err)
	require.NoError(t, v.AddCRL(crl))
	rc := sampleReceipt()
	sign := func(key *ecdsa.PrivateKey, chain [][]byte) []byte { return signReceipt(t, key, rc, chain) }
	plain, err := record.Sign(rand.Reader, keyA, rc)
	require.NoError(t, err)
	vpA, err := v.VerifyPlatform(chainA)
	require.NoError(t, err)

	same := func(name string, msg []byte) {
		t.Helper()
		want, wantErr := v.ReceiptPlatform(msg)
		sr, got, gotErr := v.DecodeReceipt(msg)
		require.Equal(t, wantErr, gotErr, name)
		require.Equal(t, want, got, name)
		require.Equal(t, wantErr == nil, sr != nil, name)
		if sr == nil {
			return
		}
		for _, vp := range []*VerifiedPlatform{got, vpA} {
			if vp == nil {
				continue
			}
			wantRc, gotRc := new(record.Receipt), new(record.Receipt)
			require.Equal(t, vp.VerifyReceipt(msg, wantRc), vp.VerifySignedReceipt(sr, gotRc), name)
			require.Equal(t, wantRc, gotRc, name)
		}
		var none *VerifiedPlatform
		require.Equal(t, none.VerifyReceipt(msg, rc), none.VerifySignedReceipt(sr, rc), name)
	}
	for name, msg := range map[string][]byte{
		"chain A": sign(keyA, chainA), "chain B": sign(keyB, chainB), "no chain": plain,
		"another root": sign(keyO, chainO), "revoked": sign(revoked, chainR), "key not named": sign(keyA, chainB),
	} {
		same(name, msg)
		for i := range msg {
			flipped := bytes.Clone(msg)
			flipped[i] ^= 0x01
			same(fmt.Sprintf("%s, byte %d flipped", name, i), flipped)
		}
	}
	same("none", nil)
	_, _, err = (*Verifier)(nil).DecodeReceipt(sign(keyA, chainA))
	assert.ErrorIs(t, err, ErrInvalid)
}

// TestReceiptPlatformNoVerifier: a nil or zero Verifier refuses
// ReceiptPlatform, DecodeReceipt and VerifyReceipt with ErrInvalid, for a
// receipt that carries no chain as for one that carries one, and for a
// message that is no receipt.
func TestReceiptPlatformNoVerifier(t *testing.T) {
	h := newHierarchy(t)
	key, chain := issuePlatform(t, h, 0)
	plain, err := record.Sign(rand.Reader, key, sampleReceipt())
	require.NoError(t, err)
	for vname, v := range map[string]*Verifier{"nil": nil, "zero": new(Verifier)} {
		for name, msg := range map[string][]byte{
			"no chain": plain, "a chain": signReceipt(t, key, sampleReceipt(), chain), "no receipt": {0xd2, 0x84},
		} {
			vp, err := v.ReceiptPlatform(msg)
			assert.ErrorIs(t, err, ErrInvalid, "%s Verifier, ReceiptPlatform, %s", vname, name)
			assert.Nil(t, vp)
			sr, vp, err := v.DecodeReceipt(msg)
			assert.ErrorIs(t, err, ErrInvalid, "%s Verifier, DecodeReceipt, %s", vname, name)
			assert.Nil(t, sr)
			assert.Nil(t, vp)
			vp, err = v.VerifyReceipt(msg, chain, new(record.Receipt))
			assert.ErrorIs(t, err, ErrInvalid, "%s Verifier, VerifyReceipt, %s", vname, name)
			assert.Nil(t, vp)
		}
	}
}

// TestChallengerReadsRandOneAtATime: a Challenger used by several
// goroutines at once reads its random source one call at a time, as a CA
// does, so that a source that is not safe for concurrent use (a
// *bytes.Reader, a seeded generator) gives every nonce bytes of its own:
// no two reads of the source overlap, and every nonce issued is
// distinct.
func TestChallengerReadsRandOneAtATime(t *testing.T) {
	const goroutines, each = 8, 10
	var inside, overlaps atomic.Int32
	var next atomic.Uint64
	src := readerFunc(func(p []byte) (int, error) {
		if inside.Add(1) > 1 {
			overlaps.Add(1)
		}
		defer inside.Add(-1)
		time.Sleep(200 * time.Microsecond) // a read that takes a while
		clear(p)
		n := next.Add(1)
		for i := range 8 {
			p[i] = byte(n >> (8 * i))
		}
		return len(p), nil
	})
	h := newHierarchy(t)
	c := newChallenger(t, h, newClock(t0.Add(time.Hour)), ChallengerOptions{Rand: src})
	var mu sync.Mutex
	seen := make(map[string]bool)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				n, err := c.NewNonce(context.Background())
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				seen[string(n)] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(0), overlaps.Load(), "reads of the random source that overlapped")
	assert.Len(t, seen, goroutines*each)
}
