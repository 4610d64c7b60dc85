package demo

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/queue"
)

// TestCloudAirOnPhoneClock: the cloud program dates the bystanders'
// adverts that it writes into the air on the phones' clock (WallClock),
// which the phones age them on (Air.Receive), whatever the cloud's own
// clock. The phones' clock stands a minute behind the wall clock (one
// minute keeps their EIDs of an epoch that the cloud resolves): Alice's
// phone hears the sellers among the bystanders AirTTL after the cloud
// wrote the air, and, once it moved its clock past the fading of those
// adverts and past the service queue's keeping of what it heard last
// (queue.DefaultTTL), hears them no more. The test sends the program the
// tick of the air (useTestTicks).
func TestCloudAirOnPhoneClock(t *testing.T) {
	dir := setUpFolder(t)
	clock := useStillClock(t, time.Now().Add(-time.Minute)) // read by the cloud program too
	ticks := useTestTicks(t)
	p := startCloudProgram(t, dir, nil)
	p.out.Require(t, "are in range")
	tick(t, p, ticks.air)
	tick(t, p, ticks.sweep) // taken once the air is written

	card, err := OpenCard(dir, "alice")
	require.NoError(t, err)
	t.Cleanup(func() { card.Close() })
	api, err := NewClient(p.url, false)
	require.NoError(t, err)
	root, err := LoadRoot(dir)
	require.NoError(t, err)
	var out bytes.Buffer
	ph, err := NewPhone(Grocery.Party("alice"), card, api, NewPrinter(&out).Screen("shopper"), root)
	require.NoError(t, err)
	require.NoError(t, ph.Login(t.Context()))
	heard := func(after time.Duration) []string {
		t.Helper()
		clock.Set(after)
		require.NoError(t, Air{Dir: dir}.Receive(NewRadio(1, 0), ph.Scanner, ph.Station, WallClock()))
		entries, err := ph.ServiceQueue(t.Context())
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name)
		}
		return names
	}
	assert.ElementsMatch(t, []string{"Coffee Cart", "Flower Stall"}, heard(AirTTL), out.String())
	assert.Empty(t, heard(AirTTL+queue.DefaultTTL+time.Second), out.String())
}
