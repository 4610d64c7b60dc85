package sqlstate_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlfault"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
)

// batchWrites are writes of different cards and rows, on a store that
// holds request 2 pending (withPayment), each of which does what it does
// whichever of the others ran before it.
var batchWrites = []func(ctx context.Context, s *sqlstate.Store) error{
	func(ctx context.Context, s *sqlstate.Store) error {
		return s.Accept(ctx, &payflow.Acceptance{Nonce: []byte("nonce 1"), NonceExpires: t0.Add(time.Hour), CardID: shopperCard, Counter: 1,
			Token: &payflow.TokenRecord{Hash: []byte("token"), CardID: shopperCard, CertHash: []byte("cert"), ExpiresAt: t0.Add(time.Hour)}})
	},
	func(ctx context.Context, s *sqlstate.Store) error {
		return s.Accept(ctx, &payflow.Acceptance{Nonce: []byte("nonce 2"), NonceExpires: t0.Add(time.Hour), CardID: sellerCard, Counter: 1,
			Insert: faultPayment(3, payflow.StatePending)})
	},
	func(ctx context.Context, s *sqlstate.Store) error {
		p := faultPayment(2, payflow.StateDeclined)
		p.Version, p.UpdatedAt = 1, t0.Add(time.Second)
		return s.UpdatePayment(ctx, p, payflow.StatePending)
	},
}

// inOneBatch runs batchWrites on fs as concurrent writes that its Batcher
// commits as one batch, in their order, the statement numbered n of the
// batch failed (0: none), and returns what each returned. The first
// write leads and waits for the lock, which the test holds until all
// are queued. Run in a synctest bubble, which tells when a write waits.
func inOneBatch(t *testing.T, fs *faultyStore, n int) []error {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, fs.lock.Lock(ctx))
	errs := make([]error, len(batchWrites))
	var wg sync.WaitGroup
	for i, w := range batchWrites {
		wg.Go(func() { errs[i] = w(ctx, fs.s) })
		synctest.Wait() // queued, its statements prepared
	}
	fs.f.Arm(n)
	fs.lock.Unlock()
	wg.Wait()
	return errs
}

// TestBatchWriteFaults: a statement of a batch of concurrent writes that
// fails (one of a write, or BEGIN, a savepoint, RELEASE or COMMIT of the
// batch) fails its write, or every write of the batch for a statement of
// the batch, with its error: the tables then hold exactly what the
// writes that did not fail write when run alone, and those that failed,
// made again, leave them as all the writes leave them, none lost and
// none twice.
func TestBatchWriteFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		migrated := migratedFile(t)
		setup := withPayment(payflow.StatePending)
		// alone returns the tables after the writes numbered which, run one
		// after the other.
		alone := func(which []int) map[string][]string {
			fs := newFaultyStore(t, migrated, true)
			setup(t, fs.s)
			for _, i := range which {
				require.NoError(t, batchWrites[i](ctx, fs.s))
			}
			return fs.dump(t)
		}
		all := alone([]int{0, 1, 2})
		some := 0 // batches in which one write failed and others did not
		for n := 1; ; n++ {
			fs := newFaultyStore(t, migrated, true)
			setup(t, fs.s)
			errs := inOneBatch(t, fs, n)
			failed := fs.f.Failure()
			fs.f.Arm(0)
			if failed == "" {
				assert.Equal(t, []error{nil, nil, nil}, errs, "%d statements run", n-1)
				assert.Equal(t, all, fs.dump(t), "%d statements run", n-1)
				break
			}
			kept, lost, err := sqlfault.Split(errs)
			require.NoError(t, err, "statement %d, %s, failed", n, failed)
			require.NotEmpty(t, lost, "statement %d, %s, failed", n, failed)
			if len(kept) > 0 {
				some++
			}
			assert.Equal(t, alone(kept), fs.dump(t), "statement %d, %s, failed: the writes %v kept", n, failed, kept)
			for _, i := range lost {
				require.NoError(t, batchWrites[i](ctx, fs.s), "write %d made again", i)
			}
			assert.Equal(t, all, fs.dump(t), "statement %d, %s, failed: the writes %v made again", n, failed, lost)
		}
		assert.Positive(t, some, "batches in which a write failed alone")
	})
}
