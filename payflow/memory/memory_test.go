package memory_test

import (
	"testing"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

func TestConformance(t *testing.T) {
	paytest.Run(t, func(*testing.T) payflow.Store { return memory.New() })
}
