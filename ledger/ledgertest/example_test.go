package ledgertest_test

import (
	"fmt"
	"time"

	"github.com/casimpay/casimpay/ledger/ledgertest"
)

// A store's test runs the suite with
//
//	func TestConformance(t *testing.T) {
//		ledgertest.Run(t, ledgertest.Config{
//			NewStore: func(t *testing.T) ledger.Store { return memory.New() },
//		})
//	}
//
// and the suite drives expiry with a Clock.
func ExampleClock() {
	c := ledgertest.NewClock(ledgertest.Epoch)
	c.Advance(90 * time.Second)
	fmt.Println(c.Now().Format(time.RFC3339))
	// Output:
	// 2026-01-01T00:01:30Z
}
