package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/examples/internal/demo"
	"github.com/casimpay/casimpay/examples/internal/outwait"
)

func TestTickets(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-seed", "3"}, &out))
	s := out.String()
	sections := strings.Split(s, "\n== ")
	require.Len(t, sections, 4, s)
	issued, first, second := sections[1], sections[2], sections[3]

	assert.Contains(t, issued, "[cloud]   ARENA-1231-A12 is held by Dana's Tickets\n")
	// Each phone's lines are labelled by its role, as in the other
	// examples: Erin's and Frank's "[shopper]", in the section of each
	// one's purchase, Dana's "[seller]".
	for line := range strings.SplitSeq(strings.TrimSpace(s), "\n") {
		if line != "" && !strings.HasPrefix(line, "== ") {
			assert.Regexp(t, `^\[(cloud|seller|shopper)\] `, line)
		}
	}
	assert.Contains(t, issued, "[shopper] Erin logged in with card ")
	assert.Contains(t, issued, "[shopper] Frank logged in with card ")
	assert.Contains(t, issued, "[seller]  Dana's phone logged in with card ")
	assert.Contains(t, first, "[shopper] Erin taps 1. Dana's Tickets\n")
	assert.Contains(t, second, "[shopper] Frank taps 1. Dana's Tickets\n")
	assert.Contains(t, issued, "[cloud]   Erin:           EUR 100.00\n")

	// The service queues show the flags of the adverts: Dana's phone
	// exchanges assets, and is busy to Frank, its session with Erin still
	// paired; Erin's phone, done with Dana after her receipt, is not.
	queueLine := func(label, name, marks string) string {
		return `(?m)^\[` + label + `\] +\d\. ` + name + ` +-\d+ dBm  \(EID [0-9a-f]{8}…\)` + marks + `$`
	}
	assert.Regexp(t, queueLine("shopper", "Dana's Tickets", `  \[assets\]`), first)
	assert.Regexp(t, queueLine("seller", "Erin", ""), first)
	assert.Regexp(t, queueLine("shopper", "Dana's Tickets", `  \[busy, assets\]`), second)
	assert.Regexp(t, queueLine("seller", "Erin", ""), second)
	assert.Contains(t, first, "[shopper] Done with Dana's Tickets: the phone leaves the session, and its advert no longer says busy\n")
	assert.Regexp(t, queueLine("seller", "Frank", ""), second)
	assert.NotContains(t, first, "[busy", "no queue line of the first sale shows busy")

	// The seat and the money moved in one request, with one receipt.
	assert.Contains(t, first, "[shopper]    1 × ARENA-1231-A12         you receive it with the payment\n")
	assert.Contains(t, first, "[cloud]   Balances now: Erin EUR 55.00, Dana's Tickets EUR 45.00, Erin 1 ARENA-1231-A12, Dana's Tickets 0 ARENA-1231-A12\n")
	assert.Contains(t, first, "[shopper]   1 × ARENA-1231-A12 delivered\n")
	assert.Contains(t, first, "[seller]    1 × ARENA-1231-A12 delivered\n")
	assert.Contains(t, first, "[shopper]   ledger transfers: 2,")
	assert.Contains(t, first, "[cloud]   ARENA-1231-A12 is held by Erin\n")
	assert.NotContains(t, first, "ARENA-1231-A12 is held by Dana's Tickets")
	assert.Contains(t, first, "[cloud]   ARENA-1231-A14 is held by Dana's Tickets\n")

	// The old holder cannot sell it again: nothing moves, and Frank's
	// screen, which cannot tell which leg was short, does not say that his
	// money was.
	assert.Contains(t, second, "[shopper] The cloud refused to settle, nothing paid: a leg of the payment is not covered, Frank's money or the seat that Dana's Tickets delivers with it (payflow: insufficient funds")
	assert.Contains(t, second, "[cloud]   Nothing moved: Dana's Tickets holds 0 ARENA-1231-A12 to deliver, and the seat leg and the money leg are linked, all or nothing\n", "the funds short are the seller's seat, not Frank's money")
	assert.NotContains(t, second, "Receipt verified")
	assert.Regexp(t, `(?m)^\[seller\]  Request [0-9a-f]{8} cancelled$`, second)
	tail := second[strings.LastIndex(second, "[seller]  Request"):]
	for _, line := range []string{
		"[cloud]   ARENA-1231-A12 is held by Erin\n",
		"[cloud]   Dana's Tickets: EUR 45.00\n",
		"[cloud]   Erin:           EUR 55.00\n",
		"[cloud]   Frank:          EUR 100.00\n",
	} {
		assert.Contains(t, tail, line)
	}
}

// The program leaves the package's market as it found it: a second run in
// the same process sets up the same catalog. Each run removes its
// temporary folder at exit.
func TestTicketsRunsTwice(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	catalog := len(market.Shops[0].Catalog)
	for range 2 {
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), nil, &out))
		assert.Contains(t, out.String(), "[cloud]   ARENA-1231-A12 is held by Erin\n")
		entries, err := os.ReadDir(tmp)
		require.NoError(t, err)
		assert.Empty(t, entries, "the temporary folder of the cloud's state is removed at exit")
	}
	assert.Len(t, market.Shops[0].Catalog, catalog)
}

// An argument after the flags is refused, not dropped with the flags after
// it, before the cloud opens. TestTicketsInterruptSaysSo: an interrupt
// ends the program with an error that names the signal, not "context
// canceled" alone.
func TestTicketsInterruptSaysSo(t *testing.T) {
	errInterrupt := errors.New("interrupt signal received")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errInterrupt)
	var out bytes.Buffer
	err := run(ctx, nil, &out)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, errInterrupt)
	assert.True(t, strings.HasSuffix(err.Error(), "context canceled (interrupt signal received)"), err.Error())
}

func TestTicketsFlags(t *testing.T) {
	var out bytes.Buffer
	assert.ErrorIs(t, run(context.Background(), []string{"3", "-seed", "4"}, &out), demo.ErrUsage)
	assert.Empty(t, out.String())
}

// TestTicketsAcrossEIDRotation: the EID epoch of the phones ends after
// they heard each other's adverts and before the fans and the reseller
// select each other, so that each names its own new EID and the other's
// of the epoch before, in a session of its own (PROTOCOL.md §6.1): the
// phones hear each other's new adverts, select each other again, and both
// sales go as without the rotation.
func TestTicketsAcrossEIDRotation(t *testing.T) {
	// The phones' clock stands still just before the end of the epoch of
	// the cloud's clock until the radio rounds are heard (the holdings
	// shown next), and goes on from its end then.
	end := adv.EpochStart(adv.Epoch(time.Now()) + 1)
	var mu sync.Mutex
	clock := func() time.Time { return end.Add(-time.Millisecond) }
	demo.WallClock = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock()
	}
	defer func() { demo.WallClock = time.Now }()
	ctx, cancel := outwait.Context(t)
	defer cancel()
	stepped := false
	out := &outwait.Output{Line: func(line string) {
		mu.Lock()
		defer mu.Unlock()
		if !stepped && strings.Contains(line, " is held by ") {
			stepped = true
			at := time.Now()
			clock = func() time.Time { return end.Add(time.Since(at)) }
		}
	}}
	require.NoError(t, run(ctx, nil, out), out.String())
	s := out.String()
	for _, label := range []string{"[shopper] ", "[seller]  "} {
		assert.Contains(t, s, label+"The other screen shows another pairing code: selecting again after the EIDs changed\n")
	}
	assert.Contains(t, s, "[cloud]   ARENA-1231-A12 is held by Erin\n")
	assert.Contains(t, s, "[shopper] The cloud refused to settle, nothing paid: a leg of the payment is not covered, Frank's money or the seat that Dana's Tickets delivers with it (payflow: insufficient funds")
}
