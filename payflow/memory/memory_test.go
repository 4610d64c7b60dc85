package memory_test

import (
	"testing"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

func TestConformance(t *testing.T) {
	paytest.Run(t, func(*testing.T) payflow.Store { return memory.New() })
}

func TestPlatform(t *testing.T) {
	paytest.RunPlatform(t, func(t *testing.T) *paytest.Fixture {
		return paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	})
}
