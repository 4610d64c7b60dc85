package adv

import (
	"crypto/aes"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/casimpay/casimpay/internal/cputime"
)

func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"casimpay_seller.hex", "ibeacon.hex", "exposure_notification.hex"} {
		in := readHex(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			start := cputime.Process()
			for b.Loop() {
				_, _ = Parse(in)
			}
			cputime.Report(b, start)
		})
	}
}

func BenchmarkAppendBinary(b *testing.B) {
	p := testPacket()
	buf := make([]byte, 0, Size)
	b.ReportAllocs()
	start := cputime.Process()
	for b.Loop() {
		buf, _ = p.AppendBinary(buf[:0])
	}
	cputime.Report(b, start)
}

// BenchmarkAESBlock is the baseline of EID derivation: one bare AES-128
// block encryption with an expanded key.
func BenchmarkAESBlock(b *testing.B) {
	block, err := aes.NewCipher(seq(0))
	if err != nil {
		b.Fatal(err)
	}
	buf := new([16]byte)
	b.ReportAllocs()
	start := cputime.Process()
	for b.Loop() {
		block.Encrypt(buf[:], buf[:])
	}
	cputime.Report(b, start)
}

func BenchmarkEIDKeyEID(b *testing.B) {
	k, err := NewEIDKey(seq(0))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var e uint32
	start := cputime.Process()
	for b.Loop() {
		_ = k.EID(e)
		e++
	}
	cputime.Report(b, start)
}

func BenchmarkDeriveEID(b *testing.B) {
	secret := seq(0)
	b.ReportAllocs()
	start := cputime.Process()
	for b.Loop() {
		_, _ = DeriveEID(secret, 2945376)
	}
	cputime.Report(b, start)
}

func BenchmarkPairingCode(b *testing.B) {
	x, y := eidOf(b, 1, 1), eidOf(b, 2, 1)
	b.ReportAllocs()
	start := cputime.Process()
	for b.Loop() {
		_ = PairingCode(x, y)
	}
	cputime.Report(b, start)
}

const benchCards = 1_000_000

var (
	benchOnce     sync.Once
	benchResolver *Resolver
)

// enrolled returns a Resolver with benchCards cards, enrolled in parallel
// once per process (deriving a million EID keys takes a few seconds).
func enrolled(b *testing.B) *Resolver {
	benchOnce.Do(func() {
		r := new(Resolver)
		var wg sync.WaitGroup
		const workers = 4
		for w := range workers {
			wg.Go(func() {
				for i := w; i < benchCards; i += workers {
					if err := r.Enrol(cardIDOf(i), secretOf(i)); err != nil {
						panic(err)
					}
				}
			})
		}
		wg.Wait()
		benchResolver = r
	})
	return benchResolver
}

// BenchmarkResolverBuild measures the table of one new epoch for a million
// cards, as Advance builds it once per epoch.
func BenchmarkResolverBuild(b *testing.B) {
	r := enrolled(b)
	now := exampleTime
	r.Advance(now)
	b.ReportAllocs()
	b.ResetTimer()
	start := cputime.Process()
	for b.Loop() {
		now = now.Add(EpochSeconds * time.Second)
		r.Advance(now) // one epoch later: exactly one table is missing
	}
	cputime.Report(b, start)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchCards, "ns/card")
}

// BenchmarkDeriveAll is the baseline of BenchmarkResolverBuild: the AES work
// alone of one epoch for a million cards (expand each card's key, encrypt
// one block), spread over the same number of goroutines as a build.
func BenchmarkDeriveAll(b *testing.B) {
	r := enrolled(b)
	keys := make([][16]byte, len(r.cards))
	for i, c := range r.cards {
		keys[i] = c.key
	}
	workers := runtime.GOMAXPROCS(0)
	b.ReportAllocs()
	start := cputime.Process()
	for b.Loop() {
		var wg sync.WaitGroup
		chunk := (len(keys) + workers - 1) / workers
		for lo := 0; lo < len(keys); lo += chunk {
			part := keys[lo:min(lo+chunk, len(keys))]
			wg.Go(func() {
				buf := new([16]byte)
				for i := range part {
					block, err := aes.NewCipher(part[i][:])
					if err != nil {
						panic(err)
					}
					block.Encrypt(buf[:], buf[:])
				}
			})
		}
		wg.Wait()
	}
	cputime.Report(b, start)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchCards, "ns/card")
}

// BenchmarkResolverColdStart measures the first Advance of a process: the
// four tables of the window, each card's key expanded once for all four.
func BenchmarkResolverColdStart(b *testing.B) {
	r := enrolled(b)
	now := exampleTime.Add(1000 * time.Hour)
	b.ReportAllocs()
	start := cputime.Process()
	for b.Loop() {
		now = now.Add(100 * time.Hour)
		r.Advance(now)
	}
	cputime.Report(b, start)
}

func BenchmarkResolve(b *testing.B) {
	r := enrolled(b)
	now := exampleTime
	e := Epoch(now)
	const n = 1024
	eids := make([]EID, n)
	for i := range eids {
		eids[i] = eidOf(b, i*(benchCards/n), e)
	}
	r.Resolve(eids[0], now)
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		start := cputime.Process()
		for b.Loop() {
			if _, ok := r.Resolve(eids[i%n], now); !ok {
				b.Fatal("miss")
			}
			i++
		}
		cputime.Report(b, start)
	})
	b.Run("miss", func(b *testing.B) {
		miss := eidOf(b, benchCards+1, e)
		b.ReportAllocs()
		start := cputime.Process()
		for b.Loop() {
			if _, ok := r.Resolve(miss, now); ok {
				b.Fatal("hit")
			}
		}
		cputime.Report(b, start)
	})
}

// BenchmarkResolveNewEpoch measures the first resolution of each epoch
// among a million cards. "built ahead": a resolution in the second half of
// the epoch before started the build of the table it needs, which ended
// before it (untimed). "built by Resolve", the baseline: no resolution
// came in that half, so the first resolution of the epoch builds the
// table and waits for it, as every resolution did before Resolve built
// ahead; each of its timed resolutions builds one table.
//
// Every run of either starts an hour after the last epoch of the run
// before, on the one Resolver: a build installs no table in the place of
// one of a later epoch (see Advance), so a run that went back in time
// would find tables of the runs before and build fewer.
func BenchmarkResolveNewEpoch(b *testing.B) {
	r := enrolled(b)
	next := EpochStart(Epoch(exampleTime.Add(-1000 * time.Hour)))
	for _, ahead := range []bool{true, false} {
		name := "built_by_Resolve"
		if ahead {
			name = "built_ahead"
		}
		b.Run(name, func(b *testing.B) {
			start := next
			defer func() { next = start.Add(time.Hour) }()
			builds := 0
			if ahead {
				r.Advance(start)
			} else {
				// The tables of the epoch before start, so that the first
				// timed resolution, in the epoch after start, builds one too.
				r.Advance(start.Add(-EpochSeconds * time.Second))
				r.hookBuild = func([]uint32) { builds++ }
				defer func() { r.hookBuild = nil }()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				e := Epoch(start)
				eid := eidOf(b, i, e+1)
				if ahead {
					r.Resolve(eid, start.Add(aheadAfter))
					for r.ahead.Load() {
						runtime.Gosched()
					}
				}
				start = EpochStart(e + 1)
				b.StartTimer()
				if _, ok := r.Resolve(eid, start); !ok {
					b.Fatal("miss")
				}
			}
			if !ahead && builds != b.N {
				b.Fatalf("%d of %d resolutions built a table", builds, b.N)
			}
		})
	}
}

// BenchmarkMapLookup is the baseline of Resolve: a Go map from EID to card
// ID holding the same million EIDs of one epoch.
func BenchmarkMapLookup(b *testing.B) {
	e := Epoch(exampleTime)
	m := make(map[EID]string, benchCards)
	const n = 1024
	eids := make([]EID, 0, n)
	for i := range benchCards {
		k, err := NewEIDKey(secretOf(i))
		if err != nil {
			b.Fatal(err)
		}
		eid := k.EID(e)
		m[eid] = cardIDOf(i)
		if i%(benchCards/n) == 0 && len(eids) < n {
			eids = append(eids, eid)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	start := cputime.Process()
	for b.Loop() {
		if _, ok := m[eids[i%n]]; !ok {
			b.Fatal(fmt.Sprint("miss ", i))
		}
		i++
	}
	cputime.Report(b, start)
}
