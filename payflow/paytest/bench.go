package paytest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// Signatures and verifications of one purchase: four auth proofs (login
// and pairing of both cards), the request and the consent are signed by
// cards and verified by the platform; the receipt is signed by the
// platform.
const (
	PurchaseSignatures    = 7
	PurchaseVerifications = 6
)

// CryptoFloor returns the time that the bare ECDSA P-256 signatures and
// verifications of one purchase take on this machine, measured over n
// rounds.
func CryptoFloor(n int) time.Duration {
	fl := newFloor()
	start := time.Now()
	for range n {
		fl.round()
	}
	return time.Since(start) / time.Duration(n)
}

type floor struct {
	key    *ecdsa.PrivateKey
	digest [32]byte
	sig    []byte
}

func newFloor() *floor {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fl := &floor{key: key, digest: sha256.Sum256([]byte("casimpay"))}
	fl.sig, _ = ecdsa.SignASN1(rand.Reader, key, fl.digest[:])
	return fl
}

// round does the signatures and verifications of one purchase.
func (fl *floor) round() {
	for range PurchaseSignatures {
		_, _ = ecdsa.SignASN1(rand.Reader, fl.key, fl.digest[:])
	}
	for range PurchaseVerifications {
		ecdsa.VerifyASN1(&fl.key.PublicKey, fl.digest[:], fl.sig)
	}
}

// BenchPurchase measures complete purchases on s, one after the other:
// challenge and login of both cards, pairing of both, the signed request,
// the payment screen, the consent, and the capture with its receipt. Each
// iteration also times, outside the benchmark's clock, one round of the
// bare crypto of a purchase (the floor), so that both are measured under
// the same load. It reports purchases/s, floor-purchases/s and their
// ratio, of-floor.
func BenchPurchase(b *testing.B, s *Shop) {
	ctx := context.Background()
	must(b, s.Platform.Fund(ctx, payflow.ID{0xbe}, s.Shopper.ID, "EUR", 1<<50))
	fl := newFloor()
	var spent, floorSpent time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		start := time.Now()
		fl.round()
		floorSpent += time.Since(start)
		b.StartTimer()
		start = time.Now()
		s.Shopper.Login(record.RoleShopper)
		s.Seller.Login(record.RoleSeller)
		sess := s.Pair(s.Shopper, s.Seller)
		v, err := s.Create(Request(sess, "EUR", 690, record.Item{SKU: "apple", Quantity: 2}, record.Item{SKU: "bread", Quantity: 1}))
		must(b, err)
		done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.Consent(v.ID)})
		must(b, err)
		if done.State != payflow.StateCaptured || len(done.Receipt) == 0 {
			b.Fatalf("state %s", done.State)
		}
		spent += time.Since(start)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(n*float64(time.Second)/float64(spent), "purchases/s")
	b.ReportMetric(n*float64(time.Second)/float64(floorSpent), "floor-purchases/s")
	b.ReportMetric(float64(floorSpent)/float64(spent), "of-floor")
}
