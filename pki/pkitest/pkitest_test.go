package pkitest_test

import (
	"testing"

	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/pkitest"
)

func TestMemoryNoncesConformance(t *testing.T) {
	pkitest.NonceStore(t, func(t *testing.T) pki.NonceStore { return pki.NewMemoryNonces(0) })
}

func TestMemoryCountersConformance(t *testing.T) {
	pkitest.CounterStore(t, func(t *testing.T) pki.CounterStore { return pki.NewMemoryCounters() })
}

func TestZeroValueStores(t *testing.T) {
	pkitest.NonceStore(t, func(t *testing.T) pki.NonceStore { return new(pki.MemoryNonces) })
	pkitest.CounterStore(t, func(t *testing.T) pki.CounterStore { return new(pki.MemoryCounters) })
}
