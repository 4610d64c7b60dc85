package demo

import (
	"os"
	"testing"
)

// TestMain has the phones scan as often as they poll the cloud
// (ScanPause): a test waits for what a scan finds, never for a scan's
// pause.
func TestMain(m *testing.M) {
	ScanPause = PollInterval
	os.Exit(m.Run())
}
