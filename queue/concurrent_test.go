package queue

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentSelection: Select, Deselect and Selected are safe to call
// from goroutines that share nothing else, while reports arrive; run with
// -race. The goroutines keep their findings to themselves until they end,
// so that nothing but the queue orders their calls.
func TestConcurrentSelection(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	at := c.Now()
	for i := range 4 {
		require.NoError(t, q.Observe(seller(i), -60, at))
	}
	const n = 500
	var wg sync.WaitGroup
	var selectErrs, observeErrs, unselected int
	wg.Go(func() {
		for i := range n {
			if _, err := q.Select(eid(i % 4)); err != nil {
				selectErrs++
			}
			q.Deselect()
		}
	})
	wg.Go(func() {
		for range n {
			q.Deselect()
		}
	})
	wg.Go(func() {
		for range n {
			if p, ok := q.Selected(); ok && !p.Selected {
				unselected++
			}
		}
	})
	wg.Go(func() {
		for i := range n {
			if err := q.Observe(seller(i%4), -60-i%10, at); err != nil {
				observeErrs++
			}
		}
	})
	wg.Wait()
	assert.Zero(t, selectErrs, "Select errors")
	assert.Zero(t, observeErrs, "Observe errors")
	assert.Zero(t, unselected, "Selected peers without their flag")
	q.Deselect()
	_, ok := q.Selected()
	assert.False(t, ok)
}
