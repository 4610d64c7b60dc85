package demo

import (
	"os"
	"testing"
	"time"
)

// TestMain has the phones scan as often as they poll the cloud
// (ScanPause), and ask a cloud that does not answer again at once
// (OutagePause, RetryBackoff): a test waits for what a scan finds or for
// the cloud's answer, never for a pause.
func TestMain(m *testing.M) {
	ScanPause = PollInterval
	OutagePause, RetryBackoff = time.Millisecond, time.Millisecond
	os.Exit(m.Run())
}
