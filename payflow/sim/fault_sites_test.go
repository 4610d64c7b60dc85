package sim

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestExpiryJumps steps a world that injects only expiry jumps until both
// kinds happened 5 times at least, and checks each jump: one between
// steps moves the clock by the request lifetime at least, and runs the
// platform's timer now and then when no hold fell due (and, when none ran,
// then too); one before a consent has that consent refused as late.
func TestExpiryJumps(t *testing.T) {
	w := only(t, 9, ExpiryJump)
	var jumps, late, timed, untimed int
	for w.step = 1; (jumps < 5 || late < 5) && w.step < 1000; w.step++ {
		faults, ops, before := w.stats.Faults[ExpiryJump], maps.Clone(w.stats.Ops), w.now
		var holds []time.Time
		for _, p := range w.purchases {
			if p.state == payflow.StateHeld {
				holds = append(holds, p.holdExpiresAt)
			}
		}
		require.NoError(t, w.randomStep())
		switch {
		case w.stats.Faults[ExpiryJump] == faults:
		case w.stats.Ops["approve"] > ops["approve"]:
			assert.Equal(t, faults+1, w.stats.Faults[ExpiryJump])
			assert.Equal(t, ops["late-consent-refused"]+1, w.stats.Ops["late-consent-refused"], "step %d", w.step)
			late++
		default:
			assert.Equal(t, faults+1, w.stats.Faults[ExpiryJump])
			assert.GreaterOrEqual(t, w.now.Sub(before), requestTTL, "step %d", w.step)
			jumps++
			due := false
			for _, h := range holds {
				due = due || !w.now.Before(h)
			}
			switch ran := w.stats.Ops["expire-due"] > ops["expire-due"]; {
			case due:
				assert.True(t, ran, "step %d: a hold fell due", w.step)
			case ran:
				timed++
			default:
				untimed++
			}
		}
	}
	assert.GreaterOrEqual(t, jumps, 5)
	assert.GreaterOrEqual(t, late, 5)
	assert.Positive(t, timed, "jumps that ran the timer with no hold due")
	assert.Positive(t, untimed, "jumps that did not")
}

// TestFundingDuplicates pays money into wallets 60 times in a world that
// injects only duplicates: a funding with the fault is sent twice, one
// without it once, and the money is counted once either way (check).
func TestFundingDuplicates(t *testing.T) {
	w := only(t, 9, Duplicate)
	var line string
	w.opts.Logf = func(format string, args ...any) { line = fmt.Sprintf(format, args...) }
	for range 60 {
		before := w.stats.Faults[Duplicate]
		require.NoError(t, w.fund())
		want := "×1"
		if w.stats.Faults[Duplicate] > before {
			want = "×2"
		}
		assert.True(t, strings.HasSuffix(line, want), "%s, want %s", line, want)
	}
	assert.Positive(t, w.stats.Faults[Duplicate])
	require.NoError(t, w.check())
}
