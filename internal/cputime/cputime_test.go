//go:build unix

package cputime

import (
	"testing"
	"time"
)

func TestProcessCountsWork(t *testing.T) {
	start := Process()
	if start <= 0 {
		t.Fatalf("Process() = %v at start, want > 0", start)
	}
	// Spin until the CPU clock advances; a clock that stands still fails
	// when the wall-time deadline passes.
	deadline := time.Now().Add(5 * time.Second)
	x := uint64(1)
	for Process()-start < time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("Process() advanced %v in 5s of spinning", Process()-start)
		}
		for range 1000 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
	}
	_ = x
}
