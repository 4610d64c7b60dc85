package paytest

import (
	"testing"
	"time"
)

// SetWallClock has NewFixture start its clocks from now until tb ends.
func SetWallClock(tb testing.TB, now func() time.Time) {
	old := wallClock
	wallClock = now
	tb.Cleanup(func() { wallClock = old })
}
