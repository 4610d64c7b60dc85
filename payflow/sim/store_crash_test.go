package sim

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
	"github.com/casimpay/casimpay/payflow/memory"
)

// TestCrashStopsEveryStoreCall kills the process at each of its store
// writes in turn, the platform's and the ledger's, lost: the write fails
// with errCrashed and the fuse reports that it blew; then every read of
// either store, also Spent's, fails the same way.
func TestCrashStopsEveryStoreCall(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_000, 0)
	id := payflow.ID{1}
	writes := storeWrites(ctx, now)
	reads := map[string]func(s stateStore, l ledgerStore) error{
		"Card": func(s stateStore, _ ledgerStore) error { _, err := s.Card(ctx, "c"); return err },
		"Cards": func(s stateStore, _ ledgerStore) error {
			return s.Cards(ctx, func(*payflow.CardRecord) error { return nil })
		},
		"Spent":  func(s stateStore, _ ledgerStore) error { return s.Spent(ctx, []byte{1}, "c", 1) },
		"Token":  func(s stateStore, _ ledgerStore) error { _, err := s.Token(ctx, []byte{1}); return err },
		"Refund": func(s stateStore, _ ledgerStore) error { _, err := s.Refund(ctx, id); return err },
		"LookupIdempotent": func(s stateStore, _ ledgerStore) error {
			_, err := s.LookupIdempotent(ctx, "k", make([]byte, 32), now)
			return err
		},
		"ledger View": func(_ stateStore, l ledgerStore) error {
			return l.View(ctx, func(ledger.ReadTx) error { return nil })
		},
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			f := &fuse{}
			s, l := stateStore{inner: memory.New(), f: f}, ledgerStore{Store: ledgermemory.New(), f: f}
			f.arm(0, false)
			assert.ErrorIs(t, write(s, l), errCrashed)
			assert.True(t, f.disarm(), "the fuse blew")
			for name, read := range reads {
				assert.ErrorIs(t, read(s, l), errCrashed, name)
			}
		})
	}
}

// storeWrites is one call of each write of the platform's store and the
// ledger's, through the fuse, by name.
func storeWrites(ctx context.Context, now time.Time) map[string]func(s stateStore, l ledgerStore) error {
	return map[string]func(s stateStore, l ledgerStore) error{
		"PutCard":     func(s stateStore, _ ledgerStore) error { return s.PutCard(ctx, &payflow.CardRecord{}) },
		"PutMerchant": func(s stateStore, _ ledgerStore) error { return s.PutMerchant(ctx, &payflow.Merchant{}) },
		"SetCatalog":  func(s stateStore, _ ledgerStore) error { return s.SetCatalog(ctx, "m", nil) },
		"PutAsset":    func(s stateStore, _ ledgerStore) error { return s.PutAsset(ctx, payflow.Asset{}) },
		"Add":         func(s stateStore, _ ledgerStore) error { return s.Add(ctx, []byte{1}, now) },
		"Consume":     func(s stateStore, _ ledgerStore) error { return s.Consume(ctx, []byte{1}, now) },
		"Advance":     func(s stateStore, _ ledgerStore) error { return s.Advance(ctx, "c", 1) },
		"NonceKey": func(s stateStore, _ ledgerStore) error {
			_, err := s.NonceKey(ctx, []byte{1})
			return err
		},
		"Accept":        func(s stateStore, _ ledgerStore) error { return s.Accept(ctx, &payflow.Acceptance{}) },
		"UpdatePayment": func(s stateStore, _ ledgerStore) error { return s.UpdatePayment(ctx, &payflow.PaymentRecord{}, "") },
		"UpdateRefund": func(s stateStore, _ ledgerStore) error {
			return s.UpdateRefund(ctx, &payflow.RefundRecord{}, "", &payflow.PaymentRecord{}, "")
		},
		"BeginIdempotent": func(s stateStore, _ ledgerStore) error {
			_, err := s.BeginIdempotent(ctx, "k", make([]byte, 32), now, now.Add(time.Minute))
			return err
		},
		"FinishIdempotent": func(s stateStore, _ ledgerStore) error {
			return s.FinishIdempotent(ctx, "k", now, 200, []byte("{}"), now.Add(time.Hour))
		},
		"AbandonIdempotent": func(s stateStore, _ ledgerStore) error { return s.AbandonIdempotent(ctx, "k", now) },
		"DeleteExpired": func(s stateStore, _ ledgerStore) error {
			_, err := s.DeleteExpired(ctx, now)
			return err
		},
		"ledger Update": func(_ stateStore, l ledgerStore) error {
			return l.Update(ctx, func(ledger.Tx) error { return nil })
		},
	}
}

// TestCrashKeepsTheWritesBefore kills the process at its third store
// write of four: the store holds the two writes before it, and the third
// only when it reached the disk before the process died; never the fourth.
// A store error at the third write, the process running on, fails that
// write alone: the store holds the three others, and the third too when
// it committed.
func TestCrashKeepsTheWritesBefore(t *testing.T) {
	ctx := context.Background()
	names := []string{"m0", "m1", "m2", "m3"}
	for _, tt := range []struct {
		kill bool
		errs []error // of each write
		kept []string
	}{
		{kill: true, errs: []error{nil, nil, errCrashed, errCrashed}, kept: []string{"m0", "m1"}},
		{kill: false, errs: []error{nil, nil, errStoreFailed, nil}, kept: []string{"m0", "m1", "m3"}},
	} {
		for _, after := range []bool{false, true} {
			t.Run(fmt.Sprintf("kill %v after %v", tt.kill, after), func(t *testing.T) {
				disk := memory.New()
				f := &fuse{}
				s := stateStore{inner: disk, f: f}
				f.set(2, after, tt.kill)
				for i, name := range names {
					err := s.PutMerchant(ctx, &payflow.Merchant{ID: name, Name: name, Currency: currency})
					if tt.errs[i] == nil {
						require.NoError(t, err, name)
					} else {
						require.ErrorIs(t, err, tt.errs[i], name)
					}
				}
				require.True(t, f.disarm())
				want := tt.kept
				if after {
					want = slices.Insert(slices.Clone(want), 2, "m2")
				}
				assert.Equal(t, want, merchantsKept(t, disk, names))
			})
		}
	}
}

// merchantsKept returns those of the merchants named that disk holds.
func merchantsKept(t *testing.T, disk *memory.Store, names []string) []string {
	t.Helper()
	var kept []string
	for _, name := range names {
		if _, err := disk.Merchant(context.Background(), name); err == nil {
			kept = append(kept, name)
		} else {
			require.ErrorIs(t, err, payflow.ErrNotFound)
		}
	}
	return kept
}

// TestRestartReopensTheFiles restarts a platform whose stores are in a
// SQLite file: the process lets go of the stores it had, which refuse
// calls once closed, and starts on the file opened again.
func TestRestartReopensTheFiles(t *testing.T) {
	w := newWorld(context.Background(), Options{Seed: 5, Dir: t.TempDir()})
	t.Cleanup(w.close)
	require.NoError(t, w.setup())
	ps := w.ps
	require.NoError(t, w.restart("a planned restart"))
	assert.NotSame(t, ps, w.ps)
	_, err := ps.Merchant(w.ctx, w.merchants[0].id)
	assert.ErrorIs(t, err, sqlstate.ErrClosed, "the store closed")
	_, err = w.ps.Merchant(w.ctx, w.merchants[0].id)
	assert.NoError(t, err)
}
