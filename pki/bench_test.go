package pki

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/casimpay/casimpay/pki/record"
)

func benchVerifier(b *testing.B, h *hierarchy, cacheSize int) *Verifier {
	v := newVerifier(b, h, newClock(t0.Add(time.Hour)), VerifierOptions{CacheSize: cacheSize})
	addCRLs(b, h, v)
	return v
}

// BenchmarkECDSAVerify is the baseline: one bare ecdsa.Verify of a P-256
// signature over a SHA-256 digest.
func BenchmarkECDSAVerify(b *testing.B) {
	key := newKey(b)
	digest := sha256.Sum256([]byte("baseline"))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.Verify(&key.PublicKey, digest[:], r, s) {
			b.Fatal("does not verify")
		}
	}
}

// BenchmarkVerifyCardFull verifies a card chain from scratch: parsing, two
// signatures, the profile and the CRLs.
func BenchmarkVerifyCardFull(b *testing.B) {
	h := newHierarchy(b)
	v := benchVerifier(b, h, -1)
	chain := h.chain()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyCard(chain); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCardCached verifies a chain found in the cache.
func BenchmarkVerifyCardCached(b *testing.B) {
	h := newHierarchy(b)
	v := benchVerifier(b, h, 0)
	chain := h.chain()
	if _, err := v.VerifyCard(chain); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyCard(chain); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRevoked asks, from every processor at once, whether a card
// chain read once is revoked (it is not), with CRLs that list other
// cards; compare with BenchmarkVerifyCardCached.
func BenchmarkRevoked(b *testing.B) {
	h := newHierarchy(b)
	for range 100 {
		s, err := randomSerial(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		if err := h.ca.Revoke(s, ReasonKeyCompromise); err != nil {
			b.Fatal(err)
		}
	}
	v := benchVerifier(b, h, 0)
	ids, err := v.CertIDs(h.chain())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if v.Revoked(ids) {
				b.Error("revoked")
				return
			}
		}
	})
}

// BenchmarkKnownCard is what a known card costs: its cached chain, then the
// signature and card ID of one record it signed. Compare with
// BenchmarkECDSAVerify of the same run.
func BenchmarkKnownCard(b *testing.B) {
	h := newHierarchy(b)
	v := benchVerifier(b, h, 0)
	chain := h.chain()
	msg := proof(b, h, testICCID, 1, make([]byte, record.NonceSize))
	if _, err := v.VerifyCard(chain); err != nil {
		b.Fatal(err)
	}
	var p record.AuthProof
	b.ReportAllocs()
	for b.Loop() {
		vc, err := v.VerifyCard(chain)
		if err != nil {
			b.Fatal(err)
		}
		if err := vc.VerifyRecord(msg, &p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChallenger is a whole proof of possession of a known card: cached
// chain, record signature, nonce consumed, counter advanced (in-memory
// stores). Nonces and records are prepared outside the timer.
func BenchmarkChallenger(b *testing.B) {
	ctx := context.Background()
	h := newHierarchy(b)
	clk := newClock(t0.Add(time.Hour))
	c := newChallenger(b, h, clk, ChallengerOptions{})
	chain := h.chain()
	const batch = 256
	msgs := make([][]byte, batch)
	counter := uint64(0)
	var p record.AuthProof
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%batch == 0 {
			b.StopTimer()
			for j := range msgs {
				n, err := c.NewNonce(ctx)
				if err != nil {
					b.Fatal(err)
				}
				counter++
				msgs[j] = proof(b, h, testICCID, counter, n)
			}
			b.StartTimer()
		}
		if _, err := c.Verify(ctx, chain, msgs[i%batch], &p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKnownCardRatio interleaves the two operations of the target, a
// known card (cached chain, record signature and card ID) and a bare
// ecdsa.Verify, one of each per iteration, so that both see the same load
// on a shared machine. It reports the median time of each over the last
// 4096 iterations (medians ignore the iterations a busy machine preempted)
// and their ratio (target ≤ 1.3).
func BenchmarkKnownCardRatio(b *testing.B) {
	h := newHierarchy(b)
	v := benchVerifier(b, h, 0)
	chain := h.chain()
	msg := proof(b, h, testICCID, 1, make([]byte, record.NonceSize))
	if _, err := v.VerifyCard(chain); err != nil {
		b.Fatal(err)
	}
	key := newKey(b)
	digest := sha256.Sum256([]byte("baseline"))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	var p record.AuthProof
	const window = 4096
	known := make([]time.Duration, window)
	bare := make([]time.Duration, window)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		vc, err := v.VerifyCard(chain)
		if err != nil {
			b.Fatal(err)
		}
		if err := vc.VerifyRecord(msg, &p); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if !ecdsa.Verify(&key.PublicKey, digest[:], r, s) {
			b.Fatal("does not verify")
		}
		known[i%window] = mid.Sub(start)
		bare[i%window] = time.Since(mid)
		i++
	}
	n := min(i, window)
	mk, mb := median(known[:n]), median(bare[:n])
	b.ReportMetric(float64(mk.Nanoseconds()), "knowncard-median-ns")
	b.ReportMetric(float64(mb.Nanoseconds()), "ecdsa-median-ns")
	b.ReportMetric(float64(mk)/float64(mb), "ratio")
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// BenchmarkMemoryNonces is one nonce issued and one used per iteration on
// a MemoryNonces: "held" with 1000 nonces held throughout, "at maximum"
// with the store full, so that each Add drops a nonce. Nonces are made
// outside the timer.
func BenchmarkMemoryNonces(b *testing.B) {
	ctx := context.Background()
	const held = 1000
	nonces := make([][]byte, 1<<16)
	for i := range nonces {
		nonces[i] = make([]byte, record.NonceSize)
		if _, err := rand.Read(nonces[i]); err != nil {
			b.Fatal(err)
		}
	}
	expires := t0.Add(time.Hour)
	b.Run("held", func(b *testing.B) {
		s := NewMemoryNonces(0)
		for _, n := range nonces[:held] {
			if err := s.Add(ctx, n, expires); err != nil {
				b.Fatal(err)
			}
		}
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			// The nonce used is the one issued held calls before.
			if err := s.Add(ctx, nonces[(i+held)%len(nonces)], expires); err != nil {
				b.Fatal(err)
			}
			if err := s.Consume(ctx, nonces[i%len(nonces)], t0); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("at maximum", func(b *testing.B) {
		s := NewMemoryNonces(held)
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			// Each Add drops the nonce issued held calls before, once full.
			if err := s.Add(ctx, nonces[i%len(nonces)], expires); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
