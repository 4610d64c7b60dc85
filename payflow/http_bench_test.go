package payflow_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// benchPairs is how many shopper and seller phones buy at once.
const benchPairs = 64

// benchMarket enrols pairs shoppers, funded without limit in practice,
// and pairs merchants with one seller card each, builds their phones over
// api and pairs them one to one.
func benchMarket(b *testing.B, f *paytest.Fixture, api payflow.API, pairs int) []*phoneWorld {
	b.Helper()
	ctx := context.Background()
	worlds := make([]*phoneWorld, pairs)
	for i := range worlds {
		w := &phoneWorld{f: f, shopperCard: enrolPhoneCard(b, f, fmt.Sprintf("Shopper %d", i)), sellerCard: enrolPhoneCard(b, f, fmt.Sprintf("Till %d", i))}
		merchant := fmt.Sprintf("shop-%d", i)
		require.NoError(b, f.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: merchant, Name: "Shop", Currency: "EUR", SellerCardIDs: []string{w.sellerCard.Enrolment.ICCID}}))
		require.NoError(b, f.Platform.SetCatalog(ctx, merchant, phoneCatalog))
		require.NoError(b, f.Platform.OpenAccount(ctx, w.shopperCard.Enrolment.ICCID, "EUR"))
		require.NoError(b, f.Platform.Fund(ctx, payflow.ID{0xf2, byte(i)}, w.shopperCard.Enrolment.ICCID, "EUR", 1<<50))
		var err error
		w.shopper, err = payflow.NewShopper(w.shopperCard.Card, phoneOptions(f, api))
		require.NoError(b, err)
		w.seller, err = payflow.NewSeller(w.sellerCard.Card, phoneOptions(f, api))
		require.NoError(b, err)
		w.pair(b)
		worlds[i] = w
	}
	return worlds
}

// BenchmarkHTTPPurchase measures complete purchases over HTTP on loopback
// with the SQLite store: 64 paired phones at once, each purchase being
// the seller's signed request, the shopper's payment screen, PIN, consent
// and verified receipt, and the seller's verified receipt, with virtual
// CA-SIMs signing behind APDUs. It reports purchases per second and the
// p50 and p99 latency of one purchase. "disk" keeps the database in the
// test's temporary directory, where every commit waits for an fsync;
// "tmpfs" keeps it in /dev/shm, to show the CPU cost. The "inprocess"
// runs are the baseline: the same phones calling the platform directly.
func BenchmarkHTTPPurchase(b *testing.B) {
	for _, bc := range []struct {
		name, dir string
		http      bool
	}{{"disk", "", true}, {"tmpfs", "/dev/shm", true}, {"tmpfs/inprocess", "/dev/shm", false}} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			if bc.dir != "" {
				if _, err := os.Stat(bc.dir); err != nil {
					b.Skipf("no %s", bc.dir)
				}
				var err error
				if dir, err = os.MkdirTemp(bc.dir, "casimpay-http-bench-"); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { os.RemoveAll(dir) })
			}
			f := sqliteFixtureIn(b, dir)
			var api payflow.API = f.Platform
			if bc.http {
				api = mustClient(b, serve(b, f), payflow.ClientOptions{})
			}
			benchHTTPPurchase(b, f, api)
		})
	}
}

func benchHTTPPurchase(b *testing.B, f *paytest.Fixture, api payflow.API) {
	worlds := benchMarket(b, f, api, benchPairs)
	ctx := context.Background()
	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
		failed    atomic.Value
	)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, w := range worlds {
		wg.Go(func() {
			var mine []time.Duration
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := benchPurchase(ctx, w); err != nil {
					failed.Store(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "purchases/s")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[min(len(latencies)-1, len(latencies)*99/100)].Microseconds())/1000, "p99-ms")
}

// benchPurchase is one purchase between the phones of w.
func benchPurchase(ctx context.Context, w *phoneWorld) error {
	if _, err := w.seller.Request(ctx, basket); err != nil {
		return fmt.Errorf("request: %w", err)
	}
	if _, err := w.shopper.WaitPayment(ctx); err != nil {
		return fmt.Errorf("payment screen: %w", err)
	}
	rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
	if err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	v, src, err := w.seller.Wait(ctx)
	if err != nil {
		return fmt.Errorf("seller status: %w", err)
	}
	if v.State != payflow.StateCaptured || string(src.Signed) != string(rc.Signed) {
		return fmt.Errorf("seller sees %s", v.State)
	}
	return nil
}

// BenchmarkHTTPCall measures the transport alone: client calls through
// the handler on loopback to an API that answers at once, from
// GOMAXPROCS×4 goroutines. POST calls carry an Idempotency-Key whose
// reply the handler stores in memory.
func BenchmarkHTTPCall(b *testing.B) {
	ctx := context.Background()
	request := make([]byte, 400) // the size of a signed payment request
	for _, bc := range []struct {
		name string
		call func(c *payflow.Client) error
	}{
		{"GET", func(c *payflow.Client) error {
			_, err := c.Payment(ctx, "token", payflow.ID{1})
			return err
		}},
		{"POST", func(c *payflow.Client) error {
			_, err := c.CreateRequest(ctx, &payflow.CreateRequest{Request: request})
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httptest.NewServer(mustHandler(b, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger()}))
			defer srv.Close()
			c := mustClient(b, srv.URL, payflow.ClientOptions{})
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bc.call(c); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
