package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestSetUpAfterAStoreError sets worlds up, one seed after another, with
// store errors the only fault, until each kind of set-up call had a store
// write fail 3 times, made or not: the call got no verdict, every time,
// and is run again, and then succeeds; and every set-up is whole: every
// card is enrolled with its advertising secret and its EIDs resolve (each
// shopper pairs with each till), each merchant has its seller card and
// its catalog, the asset is registered, and every wallet and merchant
// account holds what the model funded and issued, once (check).
func TestSetUpAfterAStoreError(t *testing.T) {
	kinds := []string{"enrol-card", "enrol-merchant", "set-catalog", "register-asset", "issue", "open-account", "fund"}
	failed := map[string]int{}
	again := 0
	done := func() bool {
		for _, k := range kinds {
			if failed[k] < 3 {
				return false
			}
		}
		return true
	}
	var off []Fault
	for _, f := range Faults() {
		if f != StoreError {
			off = append(off, f)
		}
	}
	seeds := 0
	for seed := uint64(1); !done() && seed <= 400; seed++ {
		seeds++
		w := setUpWorld(t, Options{Seed: seed, Disable: off})
		for _, k := range kinds {
			failed[k] += w.stats.Ops["store-error-at-"+k]
		}
		again += w.stats.Ops["sent-again-after-store-error"]
		assert.Equal(t, w.stats.Faults, [numFaults]int{StoreError: w.stats.Faults[StoreError]}, "seed %d", seed)

		w.off[StoreError] = true
		for _, c := range append(w.shoppers, w.merchants[0].seller, w.merchants[1].seller) {
			r, err := w.ps.Card(w.ctx, c.id)
			require.NoError(t, err, "seed %d", seed)
			assert.Equal(t, c.secret, r.AdvSecret, "seed %d", seed)
		}
		for _, m := range w.merchants {
			r, err := w.ps.Merchant(w.ctx, m.id)
			require.NoError(t, err, "seed %d", seed)
			assert.Equal(t, []string{m.seller.id}, r.SellerCardIDs, "seed %d", seed)
			items, err := w.ps.Catalog(w.ctx, m.id)
			require.NoError(t, err, "seed %d", seed)
			assert.Equal(t, catalog, items, "seed %d", seed)
			for _, s := range w.shoppers {
				sess, err := w.pair(s, m)
				require.NoError(t, err, "seed %d", seed)
				assert.Equal(t, payflow.SessionPaired, sess.State, "seed %d", seed)
			}
		}
		a, err := w.ps.Asset(w.ctx, ticketAsset)
		require.NoError(t, err, "seed %d", seed)
		assert.Equal(t, payflow.Asset{Name: ticketAsset, Ledger: ticketLedger}, a)
		require.NoError(t, w.check(), "seed %d", seed)
	}
	t.Logf("seeds %d, failed %v, again %d", seeds, failed, again)
	assert.True(t, done(), "store errors at set-up in %d seeds: %v", seeds, failed)
	total := 0
	for _, n := range failed {
		total += n
	}
	assert.Equal(t, total, again, "every set-up call whose write failed got no verdict and was run again")
}

// TestSetUpCall runs set-up calls that make one store write each, the
// write failing (failAt) or not, and answer the store's error or a
// verdict: a call whose write failed and that got no verdict is run
// again, and its second run's outcome is the call's; a verdict, at the
// first run or the second, is a *Failure naming the call and wrapping the
// error.
func TestSetUpCall(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fail  bool
		errs  []error // of each run
		runs  int
		want  error
		again int
	}{
		{"not failing", false, []error{nil}, 1, nil, 0},
		{"no verdict", true, []error{nil, nil}, 2, nil, 1},
		{"verdict", false, []error{payflow.ErrConflict}, 1, payflow.ErrConflict, 0},
		{"verdict after a failure", true, []error{payflow.ErrConflict}, 1, payflow.ErrConflict, 0},
		{"verdict when run again", true, []error{nil, payflow.ErrConflict}, 2, payflow.ErrConflict, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := calmWorld(t, 5)
			if tt.fail {
				w.failAt = &writeFault{}
			}
			runs := 0
			err := w.setUp("x", func() error {
				werr := w.fuse.write(func() error { return nil })
				runs++
				if err := tt.errs[runs-1]; err != nil {
					return err
				}
				return werr
			})
			assert.Equal(t, tt.runs, runs)
			assert.Equal(t, tt.again, w.stats.Ops["sent-again-after-store-error"])
			failed := 0
			if tt.fail {
				failed = 1
			}
			assert.Equal(t, failed, w.stats.Ops["store-error-at-x"])
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			var f *Failure
			require.ErrorAs(t, err, &f)
			assert.Equal(t, "set-up x", f.Detail)
			assert.Equal(t, 0, f.Step, "the set-up's step")
			assert.ErrorIs(t, err, tt.want)
		})
	}
}
