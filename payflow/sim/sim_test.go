package sim_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/payflow/sim"
)

var (
	seeds    = flag.Int("sim.seeds", 200, "number of seeds TestSimulation runs")
	firstOf  = flag.Uint64("sim.first", 1, "first seed TestSimulation and TestSimulationPostgres run (the others follow it)")
	oneSeed  = flag.Uint64("sim.seed", 0, "run only this seed (replay of a failure)")
	steps    = flag.Int("sim.steps", 0, "steps per seed (0: the default)")
	sqliteN  = flag.Int("sim.sqlite", 25, "run every n-th seed on SQLite files, with half the steps (0: never)")
	httpN    = flag.Int("sim.http", 3, "run every n-th seed through the HTTP client and handler (0: never)")
	pgSeeds  = flag.Int("sim.pg-seeds", 6, "number of seeds TestSimulationPostgres runs")
	simTrace = flag.Bool("sim.trace", false, "log every step")
	disable  = flag.String("sim.disable", "", "comma-separated fault kinds not to inject")
)

func disabled(t *testing.T) []sim.Fault {
	var out []sim.Fault
	for _, name := range strings.Split(*disable, ",") {
		if name == "" {
			continue
		}
		found := false
		for _, f := range sim.Faults() {
			if f.String() == name {
				out, found = append(out, f), true
			}
		}
		require.True(t, found, "unknown fault kind %q", name)
	}
	return out
}

// TestSimulation plays many seeds and checks every invariant after every
// step. A failing seed is printed with the flag that replays it.
func TestSimulation(t *testing.T) {
	first, n := seedRange(*seeds)
	if testing.Short() && *oneSeed == 0 {
		n = min(n, 40)
	}
	off := disabled(t)
	var mu sync.Mutex
	total := sim.Stats{Ops: map[string]int{}}
	var failed []uint64
	work := make(chan uint64)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range work {
				opts := sim.Options{Seed: seed, Steps: *steps, Disable: off}
				opts.HTTP = *httpN > 0 && seed%uint64(*httpN) == 1%uint64(*httpN)
				if *sqliteN > 0 && seed%uint64(*sqliteN) == 0 {
					// Every SQLite commit is an fsync: fewer steps.
					opts.Dir = t.TempDir()
					opts.Steps = max(*steps, 40) / 2
				}
				if *simTrace {
					opts.Logf = t.Logf
				}
				st, err := sim.Run(context.Background(), opts)
				mu.Lock()
				if err != nil {
					failed = append(failed, seed)
					t.Errorf("%v", err)
					t.Logf("replay with -sim.seed=%d -sim.trace", seed)
				} else {
					total.Steps += st.Steps
					for k, v := range st.Ops {
						total.Ops[k] += v
					}
					for i, v := range st.Faults {
						total.Faults[i] += v
					}
				}
				mu.Unlock()
			}
		}()
	}
	for seed := first; seed < first+n; seed++ {
		work <- seed
	}
	close(work)
	wg.Wait()
	t.Logf("seeds %d, failed %v, steps %d", n, failed, total.Steps)
	for _, f := range sim.Faults() {
		t.Logf("fault %-13s %6d", f, total.Faults[f])
	}
	for _, k := range slices.Sorted(maps.Keys(total.Ops)) {
		t.Logf("op %-22s %6d", k, total.Ops[k])
	}
}

// seedRange returns the seeds to play: n from -sim.first, or the one
// -sim.seed names.
func seedRange(n int) (first, count uint64) {
	if *oneSeed != 0 {
		return *oneSeed, 1
	}
	return *firstOf, uint64(n)
}

// TestReplayIsIdentical runs seeds twice, on both stores, and compares
// everything they did.
func TestReplayIsIdentical(t *testing.T) {
	for _, seed := range []uint64{3, 17, 40} {
		for _, store := range []string{"memory", "sqlite"} {
			if store == "sqlite" && seed != 17 {
				continue
			}
			t.Run(fmt.Sprintf("%s/%d", store, seed), func(t *testing.T) {
				run := func() *sim.Stats {
					opts := sim.Options{Seed: seed, Steps: 20}
					if store == "sqlite" {
						opts.Dir = t.TempDir()
					}
					st, err := sim.Run(context.Background(), opts)
					require.NoError(t, err)
					return st
				}
				a, b := run(), run()
				assert.Equal(t, a, b)
				assert.Equal(t, 20, a.Steps)
			})
		}
	}
}

// TestFailureNamesTheSeed checks the shape of a failure report.
func TestFailureNamesTheSeed(t *testing.T) {
	cause := errors.New("boom")
	err := error(&sim.Failure{Seed: 7, Step: 3, Detail: "wallet differs", Err: cause})
	assert.Equal(t, "sim: seed 7 step 3: wallet differs: boom", err.Error())
	assert.ErrorIs(t, err, cause)
}

// TestFailureZeroAndNil: the Error of a zero and of a nil *Failure gives
// the text of a zero one, and a nil one unwraps to nothing (was: a nil
// dereference for the nil one).
func TestFailureZeroAndNil(t *testing.T) {
	for name, f := range map[string]*sim.Failure{"zero": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			err := error(f)
			assert.Equal(t, "sim: seed 0 step 0: ", err.Error())
			assert.NoError(t, errors.Unwrap(err))
		})
	}
}

// TestSimulationPostgres plays a few seeds with the platform's state and
// ledger in PostgreSQL, each in a fresh schema, restarts reopening it: 20
// steps each unless -sim.steps asks for more; -sim.first and -sim.seed
// choose the seeds as for TestSimulation.
func TestSimulationPostgres(t *testing.T) {
	testenv.PostgresDSN(t)
	first, n := seedRange(*pgSeeds)
	pgSteps := max(*steps, 20)
	for seed := first; seed < first+n; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			opts := sim.Options{Seed: seed, Steps: pgSteps, DSN: testenv.PostgresSchema(t), HTTP: seed%2 == 0}
			if *simTrace {
				opts.Logf = t.Logf
			}
			st, err := sim.Run(context.Background(), opts)
			require.NoError(t, err, "replay with -run TestSimulationPostgres -sim.seed=%d -sim.steps=%d -sim.trace", seed, pgSteps)
			assert.Equal(t, pgSteps, st.Steps)
		})
	}
}

// TestReceiptKeyRotation plays seeds in which the platform replaces its
// receipt key and certificate (rotate-key), now and then revoking the one
// it replaced, in memory, through HTTP and on SQLite files: every receipt
// that the phones get, also one signed before a rotation and read again
// or answered for a consent or refund sent again, carries the chain of a
// key the platform had, was signed by that key while the platform used
// it, and verifies on the phones by that chain, unless its certificate
// was revoked since, which the phones then refuse (pki.ErrRevoked). The
// first seed that rotates and revokes replays identically, and the first
// that rotates, run with rotate-key disabled, rotates nothing.
func TestReceiptKeyRotation(t *testing.T) {
	var rotations, replaced, revoked int
	replayed, rotating := false, uint64(0)
	for seed := uint64(1); seed <= 60; seed++ {
		opts := sim.Options{Seed: seed, Steps: 60, HTTP: seed%3 == 0}
		if seed%20 == 0 {
			opts.Dir = t.TempDir()
		}
		st, err := sim.Run(context.Background(), opts)
		require.NoError(t, err, "seed %d, %d steps, HTTP %v, SQLite %v", seed, opts.Steps, opts.HTTP, opts.Dir != "")
		if !replayed && opts.Dir == "" && st.Ops["receipt-key-revoked"] > 0 {
			again, err := sim.Run(context.Background(), opts)
			require.NoError(t, err)
			assert.Equal(t, st, again, "seed %d replayed", seed)
			replayed = true
		}
		if rotating == 0 && opts.Dir == "" && !opts.HTTP && st.Faults[sim.RotateKey] > 0 {
			rotating = seed
		}
		rotations += st.Faults[sim.RotateKey]
		replaced += st.Ops["receipt-of-replaced-key"]
		revoked += st.Ops["receipt-of-revoked-key"]
	}
	t.Logf("rotations %d, receipts verified of a replaced key %d, refused of a revoked one %d", rotations, replaced, revoked)
	assert.Positive(t, rotations)
	assert.Positive(t, replaced, "receipts of a replaced key verified")
	assert.Positive(t, revoked, "receipts of a revoked key refused")
	assert.True(t, replayed, "a seed that rotates and revokes replayed")

	require.NotZero(t, rotating)
	st, err := sim.Run(context.Background(), sim.Options{Seed: rotating, Steps: 60, Disable: []sim.Fault{sim.RotateKey}})
	require.NoError(t, err)
	assert.Zero(t, st.Faults[sim.RotateKey], "seed %d, rotate-key disabled", rotating)
}
