package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	ledgersqlite "github.com/casimpay/casimpay/ledger/sqlite"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// BenchmarkPurchase: complete purchases in one process, one after the
// other, ledger and platform state in one SQLite file (synchronous=FULL),
// cards signing in software. "disk" keeps the file in the test's temporary
// directory, so every commit waits for an fsync; "tmpfs" keeps it in
// /dev/shm, where fsync costs nothing, to show the CPU cost of the
// platform against the crypto floor.
func BenchmarkPurchase(b *testing.B) {
	benchDirs(b, func(b *testing.B, f *paytest.Fixture) { paytest.BenchPurchase(b, paytest.NewShop(f, false)) })
}

// BenchmarkPurchaseParallel: paytest.ParallelPairs shoppers buying at
// once, each from its own till, on the same files as BenchmarkPurchase.
func BenchmarkPurchaseParallel(b *testing.B) {
	benchDirs(b, func(b *testing.B, f *paytest.Fixture) { paytest.BenchPurchaseParallel(b, f, paytest.ParallelPairs) })
}

// benchDirs runs bench as the sub-benchmarks "disk" and "tmpfs", on a
// fixture over a fresh SQLite file in each.
func benchDirs(b *testing.B, bench func(*testing.B, *paytest.Fixture)) {
	for _, bc := range []struct{ name, dir string }{{"disk", ""}, {"tmpfs", "/dev/shm"}} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			if bc.dir != "" {
				if _, err := os.Stat(bc.dir); err != nil {
					b.Skipf("no %s", bc.dir)
				}
				var err error
				if dir, err = os.MkdirTemp(bc.dir, "casimpay-bench-"); err != nil {
					b.Fatal(err)
				}
				defer os.RemoveAll(dir)
			}
			path := filepath.Join(dir, "casimpay.db")
			ls, err := ledgersqlite.Open(context.Background(), path, ledgersqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer ls.Close()
			s, err := open(b, path)
			if err != nil {
				b.Fatal(err)
			}
			bench(b, paytest.NewFixture(b, s, ls, paytest.BenchOptions()))
		})
	}
}
