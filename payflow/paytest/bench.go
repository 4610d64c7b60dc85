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
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("casimpay"))
	sig, _ := ecdsa.SignASN1(rand.Reader, key, digest[:])
	start := time.Now()
	for range n {
		for range PurchaseSignatures {
			_, _ = ecdsa.SignASN1(rand.Reader, key, digest[:])
		}
		for range PurchaseVerifications {
			ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig)
		}
	}
	return time.Since(start) / time.Duration(n)
}

// BenchPurchase measures complete purchases on s, one after the other:
// challenge and login of both cards, pairing of both, the signed request,
// the payment screen, the consent, and the capture with its receipt. It
// reports purchases/s and the fraction of the crypto floor (CryptoFloor,
// measured in the same run) that this rate reaches.
func BenchPurchase(b *testing.B, s *Shop) {
	ctx := context.Background()
	must(b, s.Platform.Fund(ctx, payflow.ID{0xbe}, s.Shopper.ID, "EUR", 1<<50))
	floor := CryptoFloor(50)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
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
	}
	per := time.Since(start) / time.Duration(b.N)
	b.StopTimer()
	b.ReportMetric(float64(time.Second)/float64(per), "purchases/s")
	b.ReportMetric(float64(time.Second)/float64(floor), "floor-purchases/s")
	b.ReportMetric(float64(floor)/float64(per), "of-floor")
}
