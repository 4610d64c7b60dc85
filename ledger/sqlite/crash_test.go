package sqlite

import (
	"bufio"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

var crashKills = flag.Int("crash.kills", 20, "how many times TestCrash kills the writing process")

// Environment of the child process of TestCrash.
const (
	crashEnvDB    = "CASIMPAY_CRASH_DB"    // database path; set only in the child
	crashEnvRun   = "CASIMPAY_CRASH_RUN"   // run number, part of new transfer IDs
	crashEnvRetry = "CASIMPAY_CRASH_RETRY" // file of IDs to submit again first
)

const (
	crashAccounts  = 8
	crashProducers = 32
)

// crashTransfer derives every field of a transfer from its ID, so that a
// retry after a crash resubmits exactly the same event.
func crashTransfer(id ledger.ID) ledger.Transfer {
	h := binary.BigEndian.Uint64(id[8:])*0x9e3779b97f4a7c15 ^ binary.BigEndian.Uint64(id[:8])
	debit := h % crashAccounts
	credit := (debit + 1 + (h>>8)%(crashAccounts-1)) % crashAccounts
	return ledger.Transfer{
		ID:              id,
		DebitAccountID:  ledger.IDFromUint64(debit + 1),
		CreditAccountID: ledger.IDFromUint64(credit + 1),
		Amount:          1 + (h>>16)%1000,
		Ledger:          978,
		Code:            1,
	}
}

func crashAccountsList() []ledger.Account {
	a := make([]ledger.Account, crashAccounts)
	for i := range a {
		a[i] = ledger.Account{ID: ledger.IDFromUint64(uint64(i + 1)), Ledger: 978, Code: 1}
	}
	return a
}

// TestCrashChild is the writing process of TestCrash; it runs only when
// TestCrash starts it. It prints "S <id>" before it submits a transfer and
// "C <id>" after the ledger answered created (or exists, for a retry), and
// writes until it is killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnvDB)
	if path == "" {
		t.Skip("the child process of TestCrash")
	}
	run, err := strconv.ParseUint(os.Getenv(crashEnvRun), 10, 32)
	require.NoError(t, err)
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	l, err := ledger.New(s, ledger.Options{})
	require.NoError(t, err)
	res, err := l.CreateAccounts(ctx, crashAccountsList())
	require.NoError(t, err)
	for _, r := range res {
		require.Contains(t, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountExists}, r)
	}

	var mu sync.Mutex
	emit := func(kind byte, ids []ledger.ID) {
		var b strings.Builder
		for _, id := range ids {
			b.WriteByte(kind)
			b.WriteByte(' ')
			b.WriteString(id.String())
			b.WriteByte('\n')
		}
		mu.Lock()
		defer mu.Unlock()
		_, err := os.Stdout.WriteString(b.String()) // one write: whole lines
		if err != nil {
			panic(err)
		}
	}
	submit := func(ids []ledger.ID, retry bool) {
		ts := make([]ledger.Transfer, len(ids))
		for i, id := range ids {
			ts[i] = crashTransfer(id)
		}
		emit('S', ids)
		res, err := l.CreateTransfers(ctx, ts)
		if err != nil {
			panic(err)
		}
		for i, r := range res {
			if r != ledger.TransferCreated && !(retry && r == ledger.TransferExists) {
				panic(fmt.Sprintf("transfer %v: %v", ids[i], r))
			}
		}
		emit('C', ids)
	}

	if f := os.Getenv(crashEnvRetry); f != "" {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var ids []ledger.ID
		for line := range strings.Lines(string(b)) {
			id, err := ledger.ParseID(strings.TrimSpace(line))
			require.NoError(t, err)
			ids = append(ids, id)
		}
		for len(ids) > 0 {
			n := min(len(ids), 100)
			submit(ids[:n], true)
			ids = ids[n:]
		}
	}
	emit('R', nil)
	os.Stdout.WriteString("READY\n")

	var wg sync.WaitGroup
	for p := range crashProducers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(run, uint64(p)))
			for seq := uint64(0); ; {
				n := 1 + rng.IntN(4)
				ids := make([]ledger.ID, n)
				for i := range ids {
					ids[i] = ledger.IDFromUint64s(run<<32|uint64(p), seq)
					seq++
				}
				submit(ids, false)
			}
		})
	}
	wg.Wait()
}

// crashLog is what the parent learned from a child's output.
type crashLog struct {
	submitted, acked map[ledger.ID]bool
}

// TestCrash kills a process that writes transfers through the group-commit
// batcher into a durable SQLite store, at random points, again and again.
// After every kill the database must verify, hold every transfer whose
// creation was acknowledged, and hold nothing that was never submitted; the
// next run first submits the unacknowledged transfers again, with the same
// IDs, and each of them must be created exactly once. At the end every
// account's balances must equal the sum of the amounts of all submitted
// transfers: nothing lost, nothing applied twice.
func TestCrash(t *testing.T) {
	if os.Getenv(crashEnvDB) != "" {
		t.Skip("in the child process")
	}
	if testing.Short() {
		t.Skip("spawns and kills processes; skipped in -short mode")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "crash.db")
	log := crashLog{submitted: map[ledger.ID]bool{}, acked: map[ledger.ID]bool{}}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for run := 1; run <= *crashKills; run++ {
		retry := filepath.Join(dir, "retry")
		var pending []string
		for id := range log.submitted {
			if !log.acked[id] {
				pending = append(pending, id.String())
			}
		}
		require.NoError(t, os.WriteFile(retry, []byte(strings.Join(pending, "\n")), 0o600))
		// Every fourth run is killed early, counted from the start of the
		// process: while it opens the database (the first run: while it
		// creates and migrates it) or retries.
		early := run%4 == 1
		delay := time.Duration(20+rng.IntN(300)) * time.Millisecond
		if early {
			delay = time.Duration(rng.IntN(150)) * time.Millisecond
		}
		n := crashRun(t, path, run, retry, delay, early, log)
		from := "ready"
		if early {
			from = "start"
		}
		t.Logf("run %d: killed %v after %s; %d retried, %d acknowledged", run, delay, from, len(pending), n)
		crashCheck(t, path, log, false)
	}
	crashCheck(t, path, log, true)
}

// crashRun starts the child, kills it delay after it is ready (or, when
// early, delay after it started), and records its output in log. It returns
// how many IDs it acknowledged.
func crashRun(t *testing.T, path string, run int, retry string, delay time.Duration, early bool, log crashLog) int {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnvDB+"="+path, crashEnvRun+"="+strconv.Itoa(run), crashEnvRetry+"="+retry)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	ready := make(chan struct{})
	done := make(chan int)
	go func() {
		acked := 0
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "READY":
				close(ready)
			case strings.HasPrefix(line, "S "), strings.HasPrefix(line, "C "):
				id, err := ledger.ParseID(line[2:])
				if err != nil {
					continue // a line cut by the kill
				}
				if line[0] == 'S' {
					log.submitted[id] = true
				} else {
					log.acked[id] = true
					acked++
				}
			}
		}
		done <- acked
	}()
	if early {
		time.Sleep(delay)
	} else {
		select {
		case <-ready:
			time.Sleep(delay)
		case <-time.After(30 * time.Second):
			t.Error("child not ready after 30s")
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	acked := <-done
	err = cmd.Wait()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "child output: %s", stderr.String())
	ws, ok := exitErr.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "child died on its own: %v\n%s", err, stderr.String())
	return acked
}

// crashCheck opens the database after a kill and checks it. With final, it
// first submits every unacknowledged transfer again and then requires the
// exact balances.
func crashCheck(t *testing.T, path string, log crashLog, final bool) {
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	defer s.Close()
	l, err := ledger.New(s, ledger.Options{})
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, l.Verify(ctx))

	stored := map[ledger.ID]bool{}
	require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
		return tx.ForEachTransfer(func(tr ledger.Transfer) error {
			require.True(t, log.submitted[tr.ID], "transfer %v stored but never submitted", tr.ID)
			want := crashTransfer(tr.ID)
			want.Timestamp = tr.Timestamp
			require.Equal(t, want, tr)
			stored[tr.ID] = true
			return nil
		})
	}))
	for id := range log.acked {
		require.True(t, stored[id], "acknowledged transfer %v lost", id)
	}
	if !final {
		return
	}
	var again []ledger.Transfer
	for id := range log.submitted {
		if !log.acked[id] {
			again = append(again, crashTransfer(id))
		}
	}
	for len(again) > 0 {
		n := min(len(again), ledger.BatchMax)
		res, err := l.CreateTransfers(ctx, again[:n])
		require.NoError(t, err)
		for i, r := range res {
			require.Contains(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferExists}, r, "transfer %v", again[i].ID)
		}
		again = again[n:]
	}
	require.NoError(t, l.Verify(ctx))
	debits := make(map[ledger.ID]uint64)
	credits := make(map[ledger.ID]uint64)
	for id := range log.submitted {
		tr := crashTransfer(id)
		debits[tr.DebitAccountID] += tr.Amount
		credits[tr.CreditAccountID] += tr.Amount
	}
	ids := make([]ledger.ID, crashAccounts)
	for i := range ids {
		ids[i] = ledger.IDFromUint64(uint64(i + 1))
	}
	accounts, err := l.LookupAccounts(ctx, ids)
	require.NoError(t, err)
	require.Len(t, accounts, crashAccounts)
	for _, a := range accounts {
		assert.Equal(t, debits[a.ID], a.DebitsPosted, "debits of %v", a.ID)
		assert.Equal(t, credits[a.ID], a.CreditsPosted, "credits of %v", a.ID)
		assert.Zero(t, a.DebitsPending+a.CreditsPending)
	}
	t.Logf("%d transfers submitted, %d acknowledged before a kill", len(log.submitted), len(log.acked))
}
