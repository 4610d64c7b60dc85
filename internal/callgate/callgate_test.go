package callgate_test

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/callgate"
)

// TestGate: an open Gate counts the calls that enter; Close reports true
// once, and refuses the calls after it; Wait waits, durably blocked,
// until the calls that entered before Close have left.
func TestGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g callgate.Gate
		require.True(t, g.Enter())
		require.True(t, g.Enter())
		assert.True(t, g.Close(), "the first Close closes the Gate")
		assert.False(t, g.Close(), "a second Close finds it closed")
		assert.False(t, g.Enter(), "no call enters a closed Gate")
		waited := make(chan struct{})
		go func() {
			g.Wait()
			close(waited)
		}()
		for left := range 2 {
			synctest.Wait()
			select {
			case <-waited:
				t.Fatalf("Wait returned with %d of 2 calls left", left)
			default:
			}
			g.Leave()
		}
		synctest.Wait()
		select {
		case <-waited:
		default:
			t.Fatal("Wait did not return once both calls left")
		}
	})
}

// TestEnterMeetsClose: a call that finds the Gate open and meets Close
// before it takes the Gate's lock is refused, and not counted: Wait
// returns at once.
func TestEnterMeetsClose(t *testing.T) {
	var g callgate.Gate
	entered := 0
	g.Entering = func() {
		entered++
		assert.True(t, g.Close())
	}
	assert.False(t, g.Enter())
	assert.Equal(t, 1, entered, "Entering ran once the Gate was found open")
	synctest.Test(t, func(t *testing.T) {
		waited := make(chan struct{})
		go func() {
			g.Wait()
			close(waited)
		}()
		synctest.Wait()
		select {
		case <-waited:
		default:
			t.Fatal("Wait waits for a call that was refused")
		}
	})
	assert.False(t, g.Enter())
	assert.Equal(t, 1, entered, "a closed Gate refuses at once, without Entering")
}
