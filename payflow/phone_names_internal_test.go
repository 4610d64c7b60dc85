package payflow

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
)

// TestPhoneResolvesAgainOnceANameExpires: a phone answers a resolution of
// an EID from the name it keeps until PeerNameTTL after it asked, and
// from then on asks the platform again, whose new answer it returns.
func TestPhoneResolvesAgainOnceANameExpires(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	p := namingPhone(&now)
	api := newHeldNameAPI(testEID(99)) // holds no answer here
	p.api = api
	eid := testEID(1)
	resolve := func() string {
		t.Helper()
		r, err := p.resolve(context.Background(), eid)
		require.NoError(t, err)
		require.NotNil(t, r)
		return r.DisplayName
	}
	assert.Equal(t, "Corner Shop", resolve())
	api.rename("Corner Shop & Co")
	now = now.Add(PeerNameTTL - time.Nanosecond)
	assert.Equal(t, "Corner Shop", resolve(), "kept")
	assert.Equal(t, 1, api.callsOf(eid))
	now = now.Add(time.Nanosecond)
	assert.Equal(t, "Corner Shop & Co", resolve(), "asked again")
	assert.Equal(t, 2, api.callsOf(eid))
}

// TestPhonePrunesNamesAfterItsClockWentBack: a phone whose clock went
// back looks for expired names PeerNameTTL after its last look by the
// clock as it reads now, not as it read before: a name asked after the
// clock went back is dropped PeerNameTTL after it expired.
func TestPhonePrunesNamesAfterItsClockWentBack(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	p := namingPhone(&now)
	resolveNamed(t, p, 0) // looks for expired names
	now = now.Add(-time.Hour)
	resolveNamed(t, p, 1) // looks again, the clock behind the last look
	now = now.Add(2 * PeerNameTTL)
	resolveNamed(t, p, 2) // name 1 expired PeerNameTTL ago
	assert.ElementsMatch(t, []adv.EID{testEID(0), testEID(2)}, slices.Collect(maps.Keys(p.names)))
}

// TestPhoneKeepsAnAnswerInFlightWhenFullOfNames: a phone that drops the
// maxNames answers it keeps, none of them forgotten, keeps the answer to
// a resolution sent before that arrives then, without asking again.
func TestPhoneKeepsAnAnswerInFlightWhenFullOfNames(t *testing.T) {
	require.Equal(t, 4096, maxNames)
	now := time.Unix(1_800_000_000, 0)
	p := namingPhone(&now)
	x := testEID(maxNames + 1)
	api := newHeldNameAPI(x)
	p.api = api
	done := make(chan error, 1)
	go func() {
		_, err := p.resolve(context.Background(), x)
		done <- err
	}()
	<-api.asked
	for i := range maxNames {
		resolveNamed(t, p, i)
	}
	require.Len(t, p.names, maxNames)
	close(api.release) // finds maxNames names, which it drops
	require.NoError(t, <-done)
	assert.Equal(t, []adv.EID{x}, slices.Collect(maps.Keys(p.names)))
	assert.Equal(t, 1, api.callsOf(x), "not asked again")
}
