package sim

import (
	"context"
	"fmt"
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
	writes := map[string]func(s stateStore, l ledgerStore) error{
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

// TestCrashKeepsTheWritesBefore kills the process at its third store
// write of four: the store holds the two writes before it, and the third
// only when it reached the disk before the process died; never the fourth.
func TestCrashKeepsTheWritesBefore(t *testing.T) {
	ctx := context.Background()
	for _, after := range []bool{false, true} {
		t.Run(fmt.Sprint(after), func(t *testing.T) {
			disk := memory.New()
			f := &fuse{}
			s := stateStore{inner: disk, f: f}
			f.arm(2, after)
			names := []string{"m0", "m1", "m2", "m3"}
			for i, name := range names {
				err := s.PutMerchant(ctx, &payflow.Merchant{ID: name, Name: name, Currency: currency})
				if i < 2 {
					require.NoError(t, err, name)
				} else {
					require.ErrorIs(t, err, errCrashed, name)
				}
			}
			require.True(t, f.disarm())
			var kept []string
			for _, name := range names {
				if _, err := disk.Merchant(ctx, name); err == nil {
					kept = append(kept, name)
				} else {
					require.ErrorIs(t, err, payflow.ErrNotFound)
				}
			}
			want := []string{"m0", "m1"}
			if after {
				want = append(want, "m2")
			}
			assert.Equal(t, want, kept)
		})
	}
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
