package paytest

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
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

// floor does the bare ECDSA P-256 signatures and verifications of one
// purchase, the baseline of the purchase benchmarks.
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

// BenchOptions are the fixture options of the purchase benchmarks: cards
// sign in software, so that the figures are the platform's, and the
// platform resolves a card's EIDs, and logs it in, as often as the
// benchmark pairs it. A benchmark logs in and pairs the same two cards for
// every purchase, hundreds of times a second, where the default rates
// (payflow.DefaultResolveRate and DefaultLoginRate per second and card)
// are a till's pace and would refuse them with ErrRateLimited.
func BenchOptions() Options {
	return Options{SoftCards: true, Platform: payflow.PlatformOptions{
		ResolveRate: 1e9, ResolveBurst: math.MaxInt32,
		LoginRate: 1e9, LoginBurst: math.MaxInt32,
	}}
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
		must(b, s.Purchase(ctx))
		spent += time.Since(start)
	}
	b.StopTimer()
	report(b, spent, floorSpent)
}

// ParallelPairs is how many shoppers buy at once in the benchmarks of
// BenchPurchaseParallel.
const ParallelPairs = 32

// BenchPurchaseParallel measures complete purchases on f made by pairs
// shoppers at once, each buying from its own merchant's till one purchase
// after the other: the platform's throughput when many tills sell at the
// same time. The floor is measured alike, pairs goroutines doing the bare
// crypto of a purchase, in turns with the purchases (a turn of floor
// rounds outside the benchmark's clock, then a turn of as many purchases),
// so that both see the same load and the same cores. It reports
// purchases/s, floor-purchases/s and their ratio, of-floor.
func BenchPurchaseParallel(b *testing.B, f *Fixture, pairs int) {
	ctx := context.Background()
	shops := make([]*Shop, pairs)
	floors := make([]*floor, pairs)
	for i := range shops {
		shops[i] = benchShop(f, i)
		floors[i] = newFloor()
	}
	var spent, floorSpent time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for left := b.N; left > 0; {
		n := min(left, 8*pairs)
		left -= n
		b.StopTimer()
		d, _ := inParallel(pairs, n, func(w int) error {
			floors[w].round()
			return nil
		})
		floorSpent += d
		b.StartTimer()
		d, err := inParallel(pairs, n, func(w int) error { return shops[w].Purchase(ctx) })
		must(b, err)
		spent += d
	}
	b.StopTimer()
	report(b, spent, floorSpent)
}

// benchShop enrols the i-th pair of BenchPurchaseParallel: a shopper
// funded without limit in practice and a merchant with Catalog and one
// seller card.
func benchShop(f *Fixture, i int) *Shop {
	ctx := context.Background()
	s := &Shop{Fixture: f, Shopper: f.NewCard(fmt.Sprintf("Shopper %d", i)), Seller: f.NewCard(fmt.Sprintf("Till %d", i))}
	merchant := fmt.Sprintf("grocer-%d", i)
	must(f.TB, f.Platform.EnrollMerchant(ctx, payflow.Merchant{
		ID: merchant, Name: "Grocer", Currency: "EUR", SellerCardIDs: []string{s.Seller.ID},
	}))
	must(f.TB, f.Platform.SetCatalog(ctx, merchant, Catalog))
	must(f.TB, f.Platform.OpenAccount(ctx, s.Shopper.ID, "EUR"))
	must(f.TB, f.Platform.Fund(ctx, payflow.ID{0xbe, byte(i >> 8), byte(i)}, s.Shopper.ID, "EUR", 1<<50))
	return s
}

// inParallel runs fn n times on workers goroutines, worker w calling
// fn(w) one call after the other, and returns the wall time and the first
// error.
func inParallel(workers, n int, fn func(w int) error) (time.Duration, error) {
	var (
		next int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		err  error
	)
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for atomic.AddInt64(&next, 1) <= int64(n) {
				if e := fn(w); e != nil {
					mu.Lock()
					err = cmp.Or(err, e)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), err
}

// Purchase is one complete purchase of the shop's shopper from its
// seller, from the logins and pairing to the captured request with its
// receipt, as the purchase benchmarks make it.
func (s *Shop) Purchase(ctx context.Context) error {
	if _, err := s.Shopper.login(record.RoleShopper); err != nil {
		return err
	}
	if _, err := s.Seller.login(record.RoleSeller); err != nil {
		return err
	}
	sess, err := s.pair(s.Shopper, s.Seller)
	if err != nil {
		return err
	}
	v, err := s.Create(Request(sess, "EUR", 690, record.Item{SKU: "apple", Quantity: 2}, record.Item{SKU: "bread", Quantity: 1}))
	if err != nil {
		return err
	}
	consent, err := s.consent(v.ID)
	if err != nil {
		return err
	}
	done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	if err != nil {
		return err
	}
	if done.State != payflow.StateCaptured || len(done.Receipt) == 0 {
		return fmt.Errorf("request %s, want captured with a receipt", done.State)
	}
	return nil
}

// report reports the purchases/s of b.N purchases in spent, the
// floor-purchases/s of as many floor rounds in floorSpent, and their
// ratio, of-floor.
func report(b *testing.B, spent, floorSpent time.Duration) {
	n := float64(b.N)
	b.ReportMetric(n*float64(time.Second)/float64(spent), "purchases/s")
	b.ReportMetric(n*float64(time.Second)/float64(floorSpent), "floor-purchases/s")
	b.ReportMetric(float64(floorSpent)/float64(spent), "of-floor")
}
