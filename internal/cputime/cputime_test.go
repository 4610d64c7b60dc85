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

// TestReport: Report gives b the metric cpu-ns/op, the CPU time since
// start over b.N. Here start is b.N milliseconds of CPU time back, so the
// metric is a millisecond and the little CPU time the benchmark itself
// takes.
func TestReport(t *testing.T) {
	r := testing.Benchmark(func(b *testing.B) {
		Report(b, Process()-time.Duration(b.N)*time.Millisecond)
	})
	v, ok := r.Extra["cpu-ns/op"]
	if !ok {
		t.Fatalf("no cpu-ns/op metric among %v", r.Extra)
	}
	if ms := float64(time.Millisecond); v < ms || v > 1.1*ms {
		t.Errorf("cpu-ns/op = %v, want %v to %v", v, ms, 1.1*ms)
	}
}
