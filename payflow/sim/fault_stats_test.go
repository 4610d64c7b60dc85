package sim_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow/sim"
)

// TestEveryFaultIsInjected plays four seeds of 80 steps, one through HTTP,
// and checks that together they inject every kind of fault and that a
// restart recovered a settlement; that each seed has a trace of its own;
// and that one of them, run with every kind disabled, injects none.
func TestEveryFaultIsInjected(t *testing.T) {
	var faults [len(sim.Stats{}.Faults)]int
	recovered := 0
	traces := map[[32]byte]uint64{}
	for seed := uint64(1); seed <= 4; seed++ {
		st, err := sim.Run(context.Background(), sim.Options{Seed: seed, Steps: 80, HTTP: seed == 2})
		require.NoError(t, err, "seed %d", seed)
		for f, n := range st.Faults {
			faults[f] += n
		}
		recovered += st.Ops["recovered-settlements"]
		assert.NotZero(t, st.Trace, "seed %d", seed)
		assert.NotContains(t, traces, st.Trace, "seed %d", seed)
		traces[st.Trace] = seed
	}
	for _, f := range sim.Faults() {
		assert.Positive(t, faults[f], "%s injected", f)
	}
	assert.Positive(t, recovered, "settlements recovered after a restart")

	st, err := sim.Run(context.Background(), sim.Options{Seed: 2, Steps: 80, HTTP: true, Disable: sim.Faults()})
	require.NoError(t, err)
	assert.Zero(t, st.Faults, "every kind disabled")
	assert.Positive(t, st.Ops["created"])
}

// TestFaultNames: each kind keeps its number and has its name, store-error
// the last; a number that is no kind is named by the number.
func TestFaultNames(t *testing.T) {
	assert.Equal(t, sim.Fault(9), sim.Crash)
	assert.Equal(t, sim.Fault(10), sim.RotateKey)
	assert.Equal(t, sim.Fault(11), sim.StoreError)
	assert.Equal(t, "store-error", sim.StoreError.String())
	assert.Equal(t, sim.StoreError, sim.Faults()[len(sim.Faults())-1])
	assert.Equal(t, "fault(12)", sim.Fault(12).String())
	assert.Equal(t, "fault(-1)", sim.Fault(-1).String())
}
