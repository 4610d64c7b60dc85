package memory_test

import (
	"testing"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/ledgertest"
	"github.com/casimpay/casimpay/ledger/memory"
)

func TestConformance(t *testing.T) {
	ledgertest.Run(t, ledgertest.Config{
		NewStore:   func(t *testing.T) ledger.Store { return memory.New() },
		ModelSteps: 40,
	})
}

func TestNotMade(t *testing.T) {
	ledgertest.RunNotMade(t, (*memory.Store)(nil), new(memory.Store))
}
