package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/ledger"
	ledgerpostgres "github.com/casimpay/casimpay/ledger/postgres"
	ledgersqlite "github.com/casimpay/casimpay/ledger/sqlite"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	paypostgres "github.com/casimpay/casimpay/payflow/postgres"
	paysqlite "github.com/casimpay/casimpay/payflow/sqlite"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

var rounds = flag.Int("procs.rounds", 20, "purchases raced across the platform processes by TestPlatformProcesses")

// Environment of a platform process of TestPlatformProcesses: the DSN of
// the shared database and the directory holding the trust anchors, CRLs,
// receipt key and chain.
const (
	envDSN   = "CASIMPAY_PROCS_DSN"
	envTrust = "CASIMPAY_PROCS_TRUST"
)

// TestPlatformProcess is one platform process of TestPlatformProcesses:
// it serves the HTTP API on a loopback port from the shared database
// (PostgreSQL or a SQLite file), prints "addr <host:port>" and never
// returns.
func TestPlatformProcess(t *testing.T) {
	dsn := os.Getenv(envDSN)
	if dsn == "" {
		t.Skip("a platform process of TestPlatformProcesses")
	}
	dir := os.Getenv(envTrust)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			die("%v", err)
		}
		return b
	}
	ctx := context.Background()
	v, err := pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{read("root")}, Intermediates: [][]byte{read("issuer")}})
	if err != nil {
		die("verifier: %v", err)
	}
	for _, crl := range []string{"root.crl", "issuer.crl"} {
		if err := v.AddCRL(read(crl)); err != nil {
			die("CRL: %v", err)
		}
	}
	key, err := x509.ParsePKCS8PrivateKey(read("key"))
	if err != nil {
		die("key: %v", err)
	}
	ls, ps, err := openShared(ctx, dsn)
	if err != nil {
		die("%v", err)
	}
	led, err := ledger.New(ls, ledger.Options{})
	if err != nil {
		die("ledger: %v", err)
	}
	p, err := payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: led, Store: ps, Verifier: v, Key: key.(crypto.Signer), Chain: [][]byte{read("platform"), read("issuer")},
	})
	if err != nil {
		die("platform: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		die("listen: %v", err)
	}
	fmt.Printf("addr %s\n", l.Addr())
	h, err := payflow.NewHandler(p, payflow.HandlerOptions{Replies: ps, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		die("handler: %v", err)
	}
	srv := payflow.NewServer("", h)
	die("serve: %v", srv.Serve(l))
}

// sqlitePrefix marks a shared database that is a SQLite file: the rest of
// the "DSN" is its path.
const sqlitePrefix = "sqlite:"

type closer interface{ Close() error }

// sharedLedger and sharedState are the two stores on the shared database.
type (
	sharedLedger interface {
		ledger.Store
		closer
	}
	sharedState interface {
		payflow.Store
		closer
	}
)

// openShared opens the ledger's and the platform's stores on the shared
// database: a PostgreSQL DSN, or sqlitePrefix and the path of a SQLite
// file.
func openShared(ctx context.Context, dsn string) (sharedLedger, sharedState, error) {
	openLedger := func() (sharedLedger, error) { return ledgerpostgres.Open(ctx, dsn, ledgerpostgres.Options{}) }
	openState := func() (sharedState, error) { return paypostgres.Open(ctx, dsn, paypostgres.Options{}) }
	if path, ok := strings.CutPrefix(dsn, sqlitePrefix); ok {
		openLedger = func() (sharedLedger, error) { return ledgersqlite.Open(ctx, path, ledgersqlite.Options{}) }
		openState = func() (sharedState, error) { return paysqlite.Open(ctx, path, paysqlite.Options{}) }
	}
	ls, err := openLedger()
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: %w", err)
	}
	ps, err := openState()
	if err != nil {
		ls.Close()
		return nil, nil, fmt.Errorf("state: %w", err)
	}
	return ls, ps, nil
}

// startProcess starts a platform process and returns its base URL.
func startProcess(t *testing.T, dsn, dir string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPlatformProcess$", "-test.count=1", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), envDSN+"="+dsn, envTrust+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "addr ")
	require.True(t, ok, "platform process: %s", line)
	return "http://" + addr
}

// writeTrust writes what the platform processes need of the fixture.
func writeTrust(t *testing.T, f *paytest.Fixture) string {
	dir := t.TempDir()
	key, err := x509.MarshalPKCS8PrivateKey(f.Key)
	require.NoError(t, err)
	rootCRL, err := f.Root.CRL(time.Now().Add(24 * time.Hour))
	require.NoError(t, err)
	issuerCRL, err := f.Issuer.CRL(time.Now().Add(24 * time.Hour))
	require.NoError(t, err)
	for name, b := range map[string][]byte{
		"root": f.Root.DER(), "issuer": f.Issuer.DER(), "root.crl": rootCRL, "issuer.crl": issuerCRL,
		"key": key, "platform": f.PlatformChain[0],
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
	}
	return dir
}

// post sends one POST with an idempotency key, as a retrying phone does.
func post(base, path, key string, in any) (status int, replayed bool, body []byte, err error) {
	b, err := cbor.Marshal(in)
	if err != nil {
		return 0, false, nil, err
	}
	req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(b))
	if err != nil {
		return 0, false, nil, err
	}
	req.Header.Set("Content-Type", payflow.ContentType)
	req.Header.Set(payflow.IdempotencyKeyHeader, key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get(payflow.ReplayedHeader) == "true", body, err
}

// TestPlatformProcesses runs three platform processes on one PostgreSQL
// database, and again on one SQLite file (each process with its own
// connections and group commit, meeting the others at SQLite's file
// lock), and has the same phones talk to all of them: each purchase is
// paired, created, retried and approved through different processes, and
// then approved twice (with one idempotency key, on two processes), once
// more through a third, and cancelled, all at once. Exactly one outcome
// wins, the ledger moves the money once when it is a capture and not at
// all otherwise, and the stored replies agree. A capture is then partly
// refunded through the three processes at once, with the same signed
// refund: the money comes back once.
func TestPlatformProcesses(t *testing.T) {
	t.Run("postgres", func(t *testing.T) { platformProcesses(t, testenv.PostgresSchema(t)) })
	t.Run("sqlite", func(t *testing.T) { platformProcesses(t, sqlitePrefix+filepath.Join(t.TempDir(), "casimpay.db")) })
}

// platformProcesses is TestPlatformProcesses on the shared database dsn
// (see openShared).
func platformProcesses(t *testing.T, dsn string) {
	ctx := context.Background()
	ls, ps, err := openShared(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() {
		ps.Close()
		ls.Close()
	})
	f := paytest.NewFixture(t, ps, ls, paytest.Options{})
	shop := paytest.NewShop(f, false)
	dir := writeTrust(t, f)

	var bases []string
	var clients []*payflow.Client
	for range 3 {
		base := startProcess(t, dsn, dir)
		bases = append(bases, base)
		c, err := payflow.NewClient(base, payflow.ClientOptions{MaxAttempts: 1})
		require.NoError(t, err)
		clients = append(clients, c)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	other := func(i int) int { return (i + 1 + rng.IntN(2)) % 3 }

	// Both phones log in again, each through a process of its own.
	for i, c := range []*paytest.Card{shop.Shopper, shop.Seller} {
		role := record.RoleShopper
		if i == 1 {
			role = record.RoleSeller
		}
		resp, err := clients[i].Login(ctx, &payflow.LoginRequest{Proof: c.Proof(role, nil)})
		require.NoError(t, err)
		c.Token = resp.Token
	}
	start := shop.Balances("EUR")
	var captured uint64
	outcomes := map[string]int{}
	for round := range *rounds {
		a := rng.IntN(3)
		// Pairing: each card through another process.
		_, err := clients[a].Pair(ctx, &payflow.PairRequest{Proof: shop.Shopper.Proof(record.RoleShopper, shop.Seller.EID())})
		require.NoError(t, err)
		sess, err := clients[other(a)].Pair(ctx, &payflow.PairRequest{Proof: shop.Seller.Proof(record.RoleSeller, shop.Shopper.EID())})
		require.NoError(t, err)
		require.Equal(t, payflow.SessionPaired, sess.State)
		// The request, and the same bytes again through another process.
		amount := 1 + uint64(rng.IntN(200))
		msg := shop.Seller.MustSign(paytest.Request(sess, "EUR", amount))
		v, err := clients[a].CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
		require.NoError(t, err)
		again, err := clients[other(a)].CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
		require.NoError(t, err)
		assert.Equal(t, v, again)
		pv, err := clients[rng.IntN(3)].Payment(ctx, shop.Shopper.Token, v.ID)
		require.NoError(t, err)
		consent := shop.Shopper.MustSign(paytest.Consent(pv))

		// The race: one approval sent twice under one key to two processes,
		// the same consent once more to the third, and the seller's cancel.
		key := fmt.Sprintf("approve-%d", round)
		path := "/v1/requests/" + v.ID.String() + "/consent"
		var wg sync.WaitGroup
		type raw struct {
			status   int
			replayed bool
			body     []byte
		}
		var keyed [2]raw
		var third, cancel error
		var thirdView, cancelView *payflow.PaymentView
		for i := range 2 {
			wg.Go(func() {
				s, r, b, err := post(bases[(a+i)%3], path, key, &payflow.ApproveRequest{Consent: consent})
				assert.NoError(t, err)
				keyed[i] = raw{s, r, b}
			})
		}
		wg.Go(func() {
			thirdView, third = clients[(a+2)%3].Approve(ctx, &payflow.ApproveRequest{Consent: consent})
		})
		// Half the cancels start up to 12 ms late, so that either side wins.
		delay, canceller := time.Duration(rng.IntN(12000))*time.Microsecond, clients[rng.IntN(3)]
		if rng.IntN(2) == 0 {
			delay = 0
		}
		wg.Go(func() {
			time.Sleep(delay)
			cancelView, cancel = canceller.Cancel(ctx, shop.Seller.Token, v.ID)
		})
		wg.Wait()

		final, err := clients[rng.IntN(3)].Payment(ctx, shop.Seller.Token, v.ID)
		require.NoError(t, err)
		outcomes[final.State]++
		// Every copy of the consent that is answered carries the one
		// receipt: a copy that arrives while another settles the payment
		// finishes the same settlement.
		approvals := 0
		var receipts [][]byte
		for _, k := range keyed {
			switch k.status {
			case http.StatusOK:
				var kv payflow.PaymentView
				require.NoError(t, cbor.Unmarshal(k.body, &kv))
				assert.Equal(t, payflow.StateCaptured, kv.State)
				if len(receipts) > 0 {
					assert.True(t, k.replayed || keyed[0].replayed, "one of the key's two replies is the stored one")
				}
				approvals++
				receipts = append(receipts, kv.Receipt)
			case http.StatusConflict:
				// in flight on the other process, or the nonce was
				// spent, or final
			default:
				t.Errorf("round %d: approval status %d: %s", round, k.status, k.body)
			}
		}
		if third == nil {
			approvals++
			receipts = append(receipts, thirdView.Receipt)
		} else {
			assert.True(t, errors.Is(third, payflow.ErrReplay) || errors.Is(third, payflow.ErrFinal), "third approval: %v", third)
		}
		switch final.State {
		case payflow.StateCaptured:
			captured += amount
			// The same refund through all three processes at once: one
			// refund, the same view for every copy that is answered.
			var rid payflow.ID
			binary.BigEndian.PutUint64(rid[:], rng.Uint64())
			rid[15] = byte(round)
			part := amount/2 + 1
			refund := shop.Seller.MustSign(&record.RefundRequest{RefundID: rid[:], RequestID: v.ID[:], Amount: part, Currency: "EUR"})
			var views [3]*payflow.RefundView
			var errs [3]error
			var rg sync.WaitGroup
			for i := range 3 {
				rg.Go(func() { views[i], errs[i] = clients[i].Refund(ctx, &payflow.RefundRequest{Refund: refund}) })
			}
			rg.Wait()
			var first *payflow.RefundView
			for i := range 3 {
				if errs[i] != nil {
					// Lost the race before the winner stored the refund.
					assert.ErrorIs(t, errs[i], payflow.ErrClone, "round %d: refund copy %d", round, i)
					continue
				}
				if first == nil {
					first = views[i]
				}
				assert.Equal(t, first, views[i], "round %d: refund copies agree", round)
			}
			require.NotNil(t, first, "round %d: no copy of the refund was answered", round)
			assert.Equal(t, part, first.Refunded)
			captured -= part
			assert.NotZero(t, approvals, "round %d: an approval is answered", round)
			for _, rc := range receipts {
				assert.Equal(t, final.Receipt, rc, "round %d: every answered approval has the receipt", round)
			}
			// The cancel came after the capture, or while it was under way.
			assert.True(t, errors.Is(cancel, payflow.ErrFinal) || errors.Is(cancel, payflow.ErrConflict), "round %d: cancel: %v", round, cancel)
		case payflow.StateCancelled:
			assert.Zero(t, approvals, "round %d: no approval succeeds after the cancel", round)
			require.NoError(t, cancel)
			assert.Equal(t, payflow.StateCancelled, cancelView.State)
		default:
			t.Fatalf("round %d ended %s", round, final.State)
		}
		b := shop.Balances("EUR")
		require.Equal(t, start[0].Posted-captured, b[0].Posted, "round %d: the shopper paid once per capture", round)
		require.Equal(t, start[1].Posted+captured, b[1].Posted, "round %d: the merchant got each capture once", round)
		require.Zero(t, b[0].Held)
	}
	require.NoError(t, f.Ledger.Verify(ctx))
	t.Logf("%d purchases raced over 3 processes: %v", *rounds, outcomes)
}
