package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// only returns a world that injects no fault but f.
func only(t *testing.T, seed uint64, f Fault) *world {
	t.Helper()
	w := calmWorld(t, seed)
	w.off[f] = false
	return w
}

// TestDeliveryFaults delivers calls with one fault kind injected until it
// was injected 20 times, and checks each delivery against the count of
// that fault: a lost request reaches the platform once, as its resend,
// with no second reply; a lost reply or a duplicate has the platform run
// the call twice, the second reply the second run's; a call without the
// fault runs once. No other fault is counted.
func TestDeliveryFaults(t *testing.T) {
	for _, f := range []Fault{LostRequest, LostReply, Duplicate} {
		t.Run(f.String(), func(t *testing.T) {
			w := only(t, 5, f)
			for i := 0; w.stats.Faults[f] < 20 && i < 2000; i++ {
				before := w.stats.Faults[f]
				runs := 0
				got, again, how := deliver(w, func() (int, error) { runs++; return runs, nil })
				require.Equal(t, answered, how)
				assert.Equal(t, reply[int]{v: 1}, got)
				if w.stats.Faults[f] == before || f == LostRequest {
					assert.Equal(t, 1, runs)
					assert.Nil(t, again)
					continue
				}
				assert.Equal(t, 2, runs)
				assert.Equal(t, &reply[int]{v: 2}, again)
			}
			want := [numFaults]int{}
			want[f] = 20
			assert.Equal(t, want, w.stats.Faults)
		})
	}
}

// TestDeliveryCrashes delivers calls that make 8 store writes each, with
// crashes injected, until 200 crashed: a crashed delivery reports nothing
// of the call, whose writes fail from one on, and the writes before it
// reached the store, and that one too when it committed. Over the crashes
// every write is the one the process dies at, both before and after it
// reached the store. A delivery not crashed makes all 8 writes.
func TestDeliveryCrashes(t *testing.T) {
	w := only(t, 5, Crash)
	var lost, committed [8]int // crashes at write i, lost or committed
	for i := 0; w.stats.Faults[Crash] < 200 && i < 20_000; i++ {
		before := w.stats.Faults[Crash]
		made, failed := 0, -1
		got, again, f := deliver(w, func() (int, error) {
			for i := range 8 {
				if err := w.fuse.write(func() error { made++; return nil }); err != nil {
					failed = i
					return i, err
				}
			}
			return 8, nil
		})
		assert.Nil(t, again)
		if w.stats.Faults[Crash] == before {
			require.Equal(t, answered, f)
			assert.Equal(t, reply[int]{v: 8}, got)
			assert.Equal(t, 8, made)
			continue
		}
		require.Equal(t, crashed, f)
		assert.Equal(t, reply[int]{}, got)
		require.NotEqual(t, -1, failed, "no write failed")
		switch made {
		case failed:
			lost[failed]++
		case failed + 1:
			committed[failed]++
		default:
			t.Fatalf("%d writes made, the process died at write %d", made, failed)
		}
		require.ErrorIs(t, w.fuse.read(), errCrashed)
		w.fuse = &fuse{} // the process restarted
	}
	assert.Equal(t, 200, w.stats.Faults[Crash])
	for i := range 8 {
		assert.Positive(t, lost[i], "crashes at write %d, lost", i)
		assert.Positive(t, committed[i], "crashes at write %d, committed", i)
	}
}

// TestDeliveryStoreErrors delivers calls that make 8 store writes each,
// with store errors injected, until 200 writes failed: a delivery whose
// write failed reports the call's reply, the store's error, and failed;
// the process runs on (the fuse lets reads through), the writes before
// and after the one that failed were made, and that one too when it
// committed. Over the failures every write is the one that fails, both
// before and after it reached the store. A delivery without the fault
// makes all 8 writes.
func TestDeliveryStoreErrors(t *testing.T) {
	w := only(t, 5, StoreError)
	var lost, committed [8]int // failures at write i, lost or committed
	for i := 0; w.stats.Faults[StoreError] < 200 && i < 20_000; i++ {
		before := w.stats.Faults[StoreError]
		var made [8]bool
		at := -1
		got, again, how := deliver(w, func() (int, error) {
			var err error
			for i := range 8 {
				if werr := w.fuse.write(func() error { made[i] = true; return nil }); werr != nil {
					at, err = i, werr
				}
			}
			return at, err
		})
		assert.Nil(t, again)
		require.NoError(t, w.fuse.read())
		if w.stats.Faults[StoreError] == before {
			require.Equal(t, answered, how)
			assert.Equal(t, reply[int]{v: -1}, got)
			assert.Equal(t, [8]bool{true, true, true, true, true, true, true, true}, made)
			continue
		}
		require.Equal(t, failed, how)
		require.NotEqual(t, -1, at, "no write failed")
		assert.Equal(t, reply[int]{v: at, err: errStoreFailed}, got)
		for j, m := range made {
			if j != at {
				assert.True(t, m, "write %d, the failure at %d", j, at)
			}
		}
		if made[at] {
			committed[at]++
		} else {
			lost[at]++
		}
	}
	assert.Equal(t, 200, w.stats.Faults[StoreError])
	assert.Equal(t, 200, w.stats.Ops["store-write-failed"])
	for i := range 8 {
		assert.Positive(t, lost[i], "failures at write %d, lost", i)
		assert.Positive(t, committed[i], "failures at write %d, committed", i)
	}
}

// TestSendFailing sends calls that make 8 store writes each, and report
// the first write's error, with a store error injected at every call: the
// phone sends the call again once when a write failed and again says so
// (its second run, not failed, answers nil), and not when again says no;
// a call that makes no write fails none and is sent once.
func TestSendFailing(t *testing.T) {
	w := only(t, 5, StoreError)
	for _, resend := range []bool{true, false} {
		for range 20 {
			runs := 0
			err := w.sendFailing(1, callWrites, func(error) bool { return resend }, func() error {
				runs++
				var first error
				for range 8 {
					if err := w.fuse.write(func() error { return nil }); err != nil && first == nil {
						first = err
					}
				}
				return first
			})
			if resend {
				assert.NoError(t, err)
				assert.Equal(t, 2, runs)
			} else {
				assert.ErrorIs(t, err, errStoreFailed)
				assert.Equal(t, 1, runs)
			}
		}
	}
	runs := 0
	assert.NoError(t, w.sendFailing(1, callWrites, noVerdict, func() error { runs++; return nil }))
	assert.Equal(t, 1, runs)
	assert.Equal(t, 41, w.stats.Faults[StoreError])
	assert.Equal(t, 40, w.stats.Ops["store-write-failed"])
	assert.Equal(t, 20, w.stats.Ops["sent-again-after-store-error"])
}

// TestNoVerdict: the errors that say nothing of a call's outcome are the
// client's retried ones, internal (an error of the store that matches no
// sentinel too), unavailable and idempotency_in_flight; a verdict, and
// no error, are not.
func TestNoVerdict(t *testing.T) {
	for _, err := range []error{errStoreFailed, payflow.ErrInternal, payflow.ErrUnavailable, payflow.ErrInFlight, payflow.ErrContended} {
		assert.True(t, noVerdict(err), "%v", err)
	}
	for _, err := range []error{nil, payflow.ErrReplay, payflow.ErrConflict, payflow.ErrFunds, payflow.ErrCard} {
		assert.False(t, noVerdict(err), "%v", err)
	}
}
