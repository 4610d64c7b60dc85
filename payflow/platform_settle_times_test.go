package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestSettlementRecordsItsTime: a settlement records the time of the step
// that ended it, a minute after the request's creation (and, with manual
// capture, another after its hold), as the request's update and
// settlement times and as its receipt's time, to the millisecond, and
// leaves no state to void to, its captured amount the amount posted.
func TestSettlementRecordsItsTime(t *testing.T) {
	for _, manual := range []bool{false, true} {
		t.Run(map[bool]string{false: "auto", true: "manual"}[manual], func(t *testing.T) {
			ctx := context.Background()
			s := newShop(t, manual, paytest.Options{})
			v, _ := s.request(t)
			s.Clock.Advance(time.Minute)
			consent := s.consent(t, v.ID)
			got, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
			require.NoError(t, err)
			if manual {
				require.Equal(t, payflow.StateHeld, got.State)
				held, err := s.Store.Payment(ctx, v.ID)
				require.NoError(t, err)
				assert.Equal(t, s.Clock.Now(), held.UpdatedAt, "held at the approval's time")
				s.Clock.Advance(time.Minute)
				got, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
				require.NoError(t, err)
			}
			require.Equal(t, payflow.StateCaptured, got.State)
			now := s.Clock.Now()
			r, err := s.Store.Payment(ctx, v.ID)
			require.NoError(t, err)
			assert.Equal(t, now, r.UpdatedAt)
			assert.Equal(t, now, r.SettledAt)
			assert.Empty(t, r.VoidTo)
			assert.Equal(t, uint64(690), r.Captured)
			rc := s.VerifiedReceipt(t, r.Receipt)
			assert.Equal(t, uint64(now.UnixMilli()), rc.Time)
			assert.Equal(t, uint64(690), rc.Amount)
		})
	}
}
