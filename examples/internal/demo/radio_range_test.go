package demo

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/queue"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestDistance: the distance between two parties is that of their
// positions, and at least 10 cm, also for two at the same spot.
func TestDistance(t *testing.T) {
	assert.Equal(t, 5.0, (&Party{X: 3}).Distance(&Party{Y: 4}))
	assert.Equal(t, 0.1, (&Party{X: 1, Y: 1}).Distance(&Party{X: 1, Y: 1}))
}

// TestHearRange: an advert from nearer than 10 cm is heard as from 10 cm
// away, and one from very far at the weakest RSSI a scanner reports
// (queue.MinRSSI), never below.
func TestHearRange(t *testing.T) {
	near, at := NewRadio(3, 0), NewRadio(3, 0)
	for range 20 {
		got, ok := near.Hear(0)
		require.True(t, ok)
		want, _ := at.Hear(0.1)
		require.Equal(t, want, got)
	}
	far := NewRadio(3, 0)
	for range 20 {
		rssi, ok := far.Hear(1e9)
		require.True(t, ok)
		require.Equal(t, queue.MinRSSI, rssi)
	}
}

// TestBroadcastDrawsForOthersOnly: a listener does not hear its own
// station, not even as a draw of the radio's noise: what it hears of the
// other is what the radio's first draw gives for that distance.
func TestBroadcastDrawsForOthersOnly(t *testing.T) {
	aliceStation, till := airStations(t)
	alice := shopperListener(t)
	require.NoError(t, NewRadio(5, 0).Broadcast([]*Station{aliceStation, till}, []*Listener{alice}, time.Now()))
	want, _ := NewRadio(5, 0).Hear(alice.Party.Distance(till.Party))
	peers := alice.Queue.Snapshot()
	require.Len(t, peers, 1)
	assert.Equal(t, want, peers[0].LastRSSI)
}

// airStations returns the stations of the grocery's alice and till, with
// cards of a CA of their own.
func airStations(t *testing.T) (alice, till *Station) {
	t.Helper()
	_, issuer, err := simcardtest.NewCA()
	require.NoError(t, err)
	var stations []*Station
	for _, name := range []string{"alice", "till"} {
		v, err := simcardtest.NewCard(issuer, simcardtest.Options{})
		require.NoError(t, err)
		stations = append(stations, &Station{Party: Grocery.Party(name), Card: &Card{Card: v.Card, Name: name, ICCID: v.Enrolment.ICCID}})
	}
	return stations[0], stations[1]
}

// shopperListener returns the scanner of the grocery's alice, its queue
// empty.
func shopperListener(t *testing.T) *Listener {
	t.Helper()
	q, err := queue.New(adv.Shopper, queue.Options{})
	require.NoError(t, err)
	return &Listener{Party: Grocery.Party("alice"), Queue: q}
}

// TestAirReceive: an air not yet made holds no advert; a station's advert
// is written, readable by its user alone, into the air's folder, which
// only its user may enter, and heard until AirTTL has passed since it was
// written, AirTTL itself included, except by the listener whose own
// station it is; what another file of the air holds, such as a writer's
// temporary file, is not heard.
func TestAirReceive(t *testing.T) {
	_, till := airStations(t)
	air := Air{Dir: t.TempDir()}
	sent := time.Now().Truncate(time.Second)
	heard := func(self *Station, at time.Time) int {
		t.Helper()
		l := shopperListener(t)
		require.NoError(t, air.Receive(NewRadio(1, 0), l, self, at))
		return len(l.Queue.Snapshot())
	}
	assert.Equal(t, 0, heard(nil, sent), "no air yet")

	require.NoError(t, air.Send([]*Station{till}, sent))
	path := air.path(till)
	for p, perm := range map[string]os.FileMode{air.folder(): 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, perm, fi.Mode().Perm(), p)
	}
	assert.Equal(t, 1, heard(nil, sent.Add(AirTTL)), "AirTTL old")
	assert.Equal(t, 0, heard(till, sent), "the listener's own station")

	require.NoError(t, os.Rename(path, filepath.Join(air.folder(), "."+filepath.Base(path)+".tmp1")))
	assert.Equal(t, 0, heard(nil, sent), "not an advert's file")
}

// TestAirAgesOnPhonesClock: an advert's age in the air is measured on the
// clock that the phones send and listen with (WallClock), not on the
// file system's: an advert sent at a time ahead of the file system's
// clock (a test's phones' clock moved on) is heard at that time, up to
// AirTTL after it, and not once AirTTL has passed.
func TestAirAgesOnPhonesClock(t *testing.T) {
	_, till := airStations(t)
	air := Air{Dir: t.TempDir()}
	sent := time.Now().Add(time.Hour)
	require.NoError(t, air.Send([]*Station{till}, sent))
	for at, want := range map[time.Time]int{sent: 1, sent.Add(AirTTL): 1, sent.Add(AirTTL + time.Nanosecond): 0} {
		l := shopperListener(t)
		require.NoError(t, air.Receive(NewRadio(1, 0), l, nil, at))
		assert.Len(t, l.Queue.Snapshot(), want, "at %v after sending", at.Sub(sent))
	}
}
