package sim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/casimpay/casimpay/ledger"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	ledgerpostgres "github.com/casimpay/casimpay/ledger/postgres"
	ledgersqlite "github.com/casimpay/casimpay/ledger/sqlite"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	paypostgres "github.com/casimpay/casimpay/payflow/postgres"
	paysqlite "github.com/casimpay/casimpay/payflow/sqlite"
	"github.com/casimpay/casimpay/pki"
)

// Fault is a kind of fault the simulation injects.
type Fault int

// The faults.
const (
	LostRequest Fault = iota // a call never reaches the platform; the phone sends it again
	LostReply                // the platform ran a call, its reply is lost; the phone sends it again
	Duplicate                // the network delivers a call twice
	ClockJump                // the clock jumps by seconds to minutes
	ExpiryJump               // the clock jumps past request (and maybe hold) lifetimes
	EpochChange              // the EID epoch ends, once or twice, between the phones' scan and their pairing
	Revoke                   // a card is revoked and fresh CRLs are published
	WrongPIN                 // the user types a wrong PIN, up to a lockout and a PUK unblock
	Restart                  // the platform stops and starts again on the same stores
	Crash                    // the platform dies at a store write, before or after it committed
	RotateKey                // the platform restarts with a new receipt key and certificate, the replaced one now and then revoked
	StoreError               // a store write fails, made or not, and the platform runs on; the phone (at set-up the operator) sends the call again
	numFaults
)

var faultNames = [numFaults]string{
	"lost-request", "lost-reply", "duplicate", "clock-jump", "expiry-jump",
	"epoch-change", "revoke", "wrong-pin", "restart", "crash", "rotate-key",
	"store-error",
}

func (f Fault) String() string {
	if f < 0 || f >= numFaults {
		return fmt.Sprintf("fault(%d)", int(f))
	}
	return faultNames[f]
}

// Faults returns every fault kind, in order.
func Faults() []Fault {
	out := make([]Fault, numFaults)
	for i := range out {
		out[i] = Fault(i)
	}
	return out
}

// Options configure Run. The zero value holds the defaults.
type Options struct {
	// Seed selects the run; the same seed replays the same run.
	Seed uint64
	// Steps is the number of random steps (default 40, also for a
	// negative value).
	Steps int
	// Shoppers is the number of shopper cards (default 4, also for a
	// negative value).
	Shoppers int
	// Dir, when set, keeps the platform's state and ledger in a SQLite
	// database in that directory, the file sim-SEED.db (SEED in decimal);
	// the default is the in-memory stores.
	Dir string
	// DSN, when set, keeps them in that PostgreSQL database instead, whose
	// schema must be empty; Dir is then ignored.
	DSN string
	// Disable lists fault kinds not to inject; a value that is no fault
	// kind is ignored.
	Disable []Fault
	// HTTP has the phones talk to the platform through payflow.Client and
	// the HTTP handler, over a transport in process that loses requests
	// and replies and duplicates requests, which the client's resends under
	// one Idempotency-Key must hide.
	HTTP bool
	// Logf, when set, receives every line of the trace as it is written,
	// several a step, each prefixed by the step and the virtual time.
	Logf func(format string, args ...any)
}

// Stats is what a run did.
type Stats struct {
	Seed uint64
	// Steps is the number of random steps taken in full: all those asked
	// for (Options.Steps, or its default) when the run passes, one less
	// than the step that broke when it fails.
	Steps int
	// Ops counts the operations by name (purchase, approve, captured, …).
	Ops map[string]int
	// Faults counts the injected faults by kind, as drawn: a crash or a
	// store error drawn for a call that made fewer store writes than the
	// one it was to hit counts too.
	Faults [numFaults]int
	// Trace is a digest of every step and every outcome: two runs of one
	// seed have the same Trace. It is set when the run passes, zero when
	// it fails.
	Trace [32]byte
}

// Failure is a broken invariant or an unexpected outcome.
type Failure struct {
	Seed uint64
	// Step is the step that broke: 0 in the set-up, one past the last
	// random step in the final checks.
	Step   int
	Detail string
	// Err is the error behind the failure, nil when the failure is a
	// check's.
	Err error
}

// Error names the seed, the step, the detail and the cause; a nil f's is
// its zero value's.
func (f *Failure) Error() string {
	if f == nil {
		f = &Failure{}
	}
	s := fmt.Sprintf("sim: seed %d step %d: %s", f.Seed, f.Step, f.Detail)
	if f.Err != nil {
		s += ": " + f.Err.Error()
	}
	return s
}

// Unwrap returns Err (nil for a nil f).
func (f *Failure) Unwrap() error {
	if f == nil {
		return nil
	}
	return f.Err
}

// Lifetimes used by the simulated platform.
const (
	requestTTL   = 120 * time.Second
	holdTTL      = 30 * time.Minute
	recoverAfter = 5 * time.Second
	ticketAsset  = "ticket:gala"
	ticketLedger = 100_100
	currency     = "EUR"
	currencyCode = 978
)

// start is the virtual time every run starts at.
var start = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// world is one simulated run.
type world struct {
	ctx   context.Context
	opts  Options
	rng   *rand.Rand
	bytes *rand.ChaCha8 // nonces, tokens, card keys, serials
	now   time.Time
	step  int
	stats *Stats
	trace hash.Hash
	off   [numFaults]bool

	root, issuer *pki.CA
	verifier     *pki.Verifier
	// platVerifier is the phones' Verifier, with which they verify the
	// receipts offline (RevocationBestEffort, the CRLs published).
	platVerifier *pki.Verifier
	// key and chain are the platform's receipt key and its certificate
	// chain (Info's) now; receiptKeys every one it had, in order, the
	// last of them key's.
	key         *ecdsa.PrivateKey
	chain       [][]byte
	receiptKeys []*receiptKey
	crlsAt      time.Time

	// The durable stores, which outlive the platform process.
	ps      durableState
	ls      ledger.Store
	closers []func() error
	// The platform process: its fuse, ledger and platform.
	fuse *fuse
	led  *ledger.Ledger
	plat *payflow.Platform
	// api is how the phones reach the platform: plat, or a payflow.Client
	// through handler, which stops with the process (its tries to store
	// replies end).
	api     payflow.API
	handler *payflow.Handler

	shoppers  []*card
	merchants []*merchant
	purchases []*purchase
	funded    uint64 // money paid in, in total
	issued    uint64 // tickets issued, in total
	nextID    uint64

	// failAt, when set, is the store write that the next runFailing
	// fails, whatever the draw would be: a fixed scenario of a test.
	failAt *writeFault

	// doubt is the request whose call the platform died during, from the
	// restart until the phone polls it: what its call left on the disk is
	// unknown, so the restart's expiry leaves it to the poll.
	doubt *purchase
}

// Run plays one seed and returns what it did. A broken invariant or an
// outcome the phones did not expect is a *Failure, and so is a set-up
// call of the operator that fails (wrapping its error); setting up the
// certificate authorities, the stores and the cards can fail with the
// error of the package concerned. When the set-up fails, the Stats are
// nil.
func Run(ctx context.Context, opts Options) (*Stats, error) {
	w := newWorld(ctx, opts)
	defer w.close()
	if err := w.setup(); err != nil {
		return nil, err
	}
	if err := w.check(); err != nil {
		return w.stats, err
	}
	for w.step = 1; w.step <= w.opts.Steps; w.step++ {
		if err := w.randomStep(); err != nil {
			return w.stats, w.fail(err)
		}
		if err := w.check(); err != nil {
			return w.stats, err
		}
		w.stats.Steps = w.step
	}
	if err := w.finish(); err != nil {
		return w.stats, w.fail(err)
	}
	if err := w.check(); err != nil {
		return w.stats, err
	}
	copy(w.stats.Trace[:], w.trace.Sum(nil))
	return w.stats, nil
}

// newWorld returns a world for opts, not set up yet.
func newWorld(ctx context.Context, opts Options) *world {
	if opts.Steps <= 0 {
		opts.Steps = 40
	}
	if opts.Shoppers <= 0 {
		opts.Shoppers = 4
	}
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], opts.Seed)
	w := &world{
		ctx:   ctx,
		opts:  opts,
		rng:   rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		bytes: rand.NewChaCha8(seed),
		now:   start,
		stats: &Stats{Seed: opts.Seed, Ops: map[string]int{}},
		trace: sha256.New(),
	}
	for _, f := range opts.Disable {
		if f >= 0 && f < numFaults {
			w.off[f] = true
		}
	}
	return w
}

// fail wraps err as the Failure of the current step.
func (w *world) fail(err error) error {
	var f *Failure
	if errors.As(err, &f) {
		return err
	}
	return &Failure{Seed: w.opts.Seed, Step: w.step, Detail: "unexpected", Err: err}
}

// failf is a Failure of the current step.
func (w *world) failf(format string, args ...any) error {
	return &Failure{Seed: w.opts.Seed, Step: w.step, Detail: fmt.Sprintf(format, args...)}
}

// logf records a line in the trace and the log.
func (w *world) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	fmt.Fprintf(w.trace, "%d %s\n", w.step, line)
	if w.opts.Logf != nil {
		w.opts.Logf("step %d %s: %s", w.step, w.now.Format("15:04:05.000"), line)
	}
}

func (w *world) clock() time.Time { return w.now }

// advance moves the virtual clock and keeps the CRLs fresh. In HTTP mode,
// whose bodies carry whole seconds, the clock moves by whole seconds.
func (w *world) advance(d time.Duration) error {
	if w.opts.HTTP {
		d = max(d.Round(time.Second), time.Second)
	}
	w.now = w.now.Add(d)
	if w.now.Sub(w.crlsAt) > 6*time.Hour {
		return w.publishCRLs()
	}
	return nil
}

// fault reports whether to inject fault f, with probability p, and counts it.
func (w *world) fault(f Fault, p float64) bool {
	if w.off[f] || w.rng.Float64() >= p {
		return false
	}
	w.stats.Faults[f]++
	return true
}

func (w *world) count(op string) { w.stats.Ops[op]++ }

// newID returns a fresh client-chosen ID.
func (w *world) newID() payflow.ID {
	w.nextID++
	var id payflow.ID
	binary.BigEndian.PutUint64(id[:8], w.opts.Seed)
	binary.BigEndian.PutUint64(id[8:], w.nextID)
	id[0] ^= 0xa5
	return id
}

func (w *world) setup() error {
	var err error
	caOpts := func(url string) pki.CAOptions { return pki.CAOptions{CRLURL: url, Now: w.clock, Rand: w.bytes} }
	rk, err := ecdsa.GenerateKey(elliptic.P256(), w.bytes)
	if err != nil {
		return err
	}
	if w.root, err = pki.NewRoot(rk, caOpts("https://pki.invalid/root.crl")); err != nil {
		return err
	}
	ik, err := ecdsa.GenerateKey(elliptic.P256(), w.bytes)
	if err != nil {
		return err
	}
	if w.issuer, err = w.root.NewIntermediate(ik, caOpts("https://pki.invalid/card.crl")); err != nil {
		return err
	}
	w.verifier, err = pki.NewVerifier(pki.VerifierOptions{
		Roots: [][]byte{w.root.DER()}, Intermediates: [][]byte{w.issuer.DER()}, Now: w.clock,
	})
	if err != nil {
		return err
	}
	w.platVerifier, err = pki.NewVerifier(pki.VerifierOptions{
		Roots: [][]byte{w.root.DER()}, Intermediates: [][]byte{w.issuer.DER()}, Now: w.clock,
		Revocation: pki.RevocationBestEffort,
	})
	if err != nil {
		return err
	}
	if err := w.publishCRLs(); err != nil {
		return err
	}
	if err := w.newReceiptKey(); err != nil {
		return err
	}
	if err := w.openStores(); err != nil {
		return err
	}
	if err := w.startPlatform(); err != nil {
		return err
	}
	return w.populate()
}

// publishCRLs publishes fresh CRLs of both CAs, which the platform's
// Verifier and the phones' take.
func (w *world) publishCRLs() error {
	for _, ca := range []*pki.CA{w.root, w.issuer} {
		crl, err := ca.CRL(w.now.Add(24 * time.Hour))
		if err != nil {
			return err
		}
		for _, v := range []*pki.Verifier{w.verifier, w.platVerifier} {
			if err := v.AddCRL(crl); err != nil {
				return err
			}
		}
	}
	w.crlsAt = w.now
	return nil
}

// receiptKey is a receipt key that the platform had, as the model knows
// it: its certificate chain, the virtual time from which the platform
// signed with it and until which (zero while it still does), and whether
// its certificate is revoked.
type receiptKey struct {
	key         *ecdsa.PrivateKey
	chain       [][]byte
	serial      *big.Int
	from, until time.Time
	revoked     bool
}

// newReceiptKey makes a new receipt key and its certificate, of the CA
// that issues the cards, the key the platform signs with from now on (once
// it starts again): w.key and w.chain. The key it replaces signs until now.
func (w *world) newReceiptKey() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), w.bytes)
	if err != nil {
		return err
	}
	cert, err := w.issuer.IssuePlatform(key.Public(), "casimpay simulated platform", pki.IssueOptions{})
	if err != nil {
		return err
	}
	sn, err := serial(cert)
	if err != nil {
		return err
	}
	if n := len(w.receiptKeys); n > 0 {
		w.receiptKeys[n-1].until = w.now
	}
	w.key, w.chain = key, append([][]byte{cert}, w.issuer.Chain()...)
	w.receiptKeys = append(w.receiptKeys, &receiptKey{key: key, chain: w.chain, serial: sn, from: w.now})
	return nil
}

// rotateKey has the platform replace its receipt key and certificate: a
// new key and certificate of the same CA, and a restart on the same
// stores with them. With revoke it also revokes the certificate replaced
// and publishes fresh CRLs: the phones refuse the receipts of that
// certificate from then on, and verify every other receipt by the chain
// it carries.
func (w *world) rotateKey(revoke bool) error {
	old := w.receiptKeys[len(w.receiptKeys)-1]
	if err := w.newReceiptKey(); err != nil {
		return err
	}
	if revoke {
		if err := w.issuer.Revoke(old.serial, pki.ReasonKeyCompromise); err != nil {
			return err
		}
		old.revoked = true
		if err := w.publishCRLs(); err != nil {
			return err
		}
		w.count("receipt-key-revoked")
	}
	w.logf("rotate the receipt key to %d (the replaced one revoked: %v)", len(w.receiptKeys)-1, revoke)
	return w.restart("a receipt key rotation")
}

// openStores opens the durable stores: in memory, in a SQLite file, or in
// a PostgreSQL database.
func (w *world) openStores() error {
	if w.opts.DSN != "" {
		ls, err := ledgerpostgres.Open(w.ctx, w.opts.DSN, ledgerpostgres.Options{MaxConns: 2})
		if err != nil {
			return err
		}
		ps, err := paypostgres.Open(w.ctx, w.opts.DSN, paypostgres.Options{MaxConns: 2})
		if err != nil {
			ls.Close()
			return err
		}
		w.ps, w.ls = ps, ls
		w.closers = []func() error{ps.Close, ls.Close}
		return nil
	}
	if w.opts.Dir == "" {
		if w.ps == nil {
			w.ps, w.ls = memory.New(), ledgermemory.New()
		}
		return nil
	}
	path := filepath.Join(w.opts.Dir, fmt.Sprintf("sim-%d.db", w.opts.Seed))
	ls, err := ledgersqlite.Open(w.ctx, path, ledgersqlite.Options{})
	if err != nil {
		return err
	}
	ps, err := paysqlite.Open(w.ctx, path, paysqlite.Options{})
	if err != nil {
		ls.Close()
		return err
	}
	w.ps, w.ls = ps, ls
	w.closers = []func() error{ps.Close, ls.Close}
	return nil
}

// closeStores closes SQLite stores (a stopped process lets go of its
// files); in-memory stores stay, as the disk would.
func (w *world) closeStores() error {
	var errs []error
	for _, c := range w.closers {
		errs = append(errs, c())
	}
	w.closers = nil
	return errors.Join(errs...)
}

// startPlatform starts a platform process on the durable stores.
func (w *world) startPlatform() error {
	w.fuse = &fuse{}
	var err error
	w.led, err = ledger.New(ledgerStore{Store: w.ls, f: w.fuse}, ledger.Options{Now: w.clock})
	if err != nil {
		return err
	}
	store := stateStore{inner: w.ps, f: w.fuse}
	w.plat, err = payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: w.led, Store: store, Verifier: w.verifier,
		Key: w.key, Chain: w.chain, Now: w.clock, Rand: w.bytes,
		RequestTTL: requestTTL, HoldTTL: holdTTL, RecoverAfter: recoverAfter,
		ResolveRate: 1000, ResolveBurst: 1000, LoginRate: 1000, LoginBurst: 1000,
		CatalogRate: 1000, CatalogBurst: 1000,
		Logger: slog.New(slog.DiscardHandler), // the counter regressions it provokes on purpose
	})
	if err != nil {
		return err
	}
	return w.connect(store)
}

// stopPlatform stops the platform process: its handler, when it has one,
// and its ledger.
func (w *world) stopPlatform() error {
	var errs []error
	if w.handler != nil {
		errs = append(errs, w.handler.Close())
	}
	errs = append(errs, w.led.Close())
	w.plat, w.led, w.handler = nil, nil, nil
	return errors.Join(errs...)
}

// restart stops the platform, reopens the stores when they are files,
// starts it again, lets RecoverAfter pass and runs the recovery sweep, as
// the platform's timer would.
func (w *world) restart(why string) error {
	if err := w.stopPlatform(); err != nil {
		return err
	}
	if w.opts.Dir != "" || w.opts.DSN != "" {
		if err := w.closeStores(); err != nil {
			return err
		}
		if err := w.openStores(); err != nil {
			return err
		}
	}
	if err := w.startPlatform(); err != nil {
		return err
	}
	if err := w.advance(recoverAfter + time.Second); err != nil {
		return err
	}
	n, err := w.recoverSweep("after " + why)
	if err != nil {
		return err
	}
	w.logf("restart after %s: recovered %d", why, n)
	w.count("recovered")
	w.stats.Ops["recovered-settlements"] += n
	return w.expire(false)
}

// sweepRounds bounds the rounds of the platform's timer that recoverSweep
// runs after a sweep whose store write failed.
const sweepRounds = 10

// recoverSweep runs RecoverSweep as the platform's timer does; when a
// settlement or refund is under way, half the time with one of its store
// writes failing (StoreError), made or not. After such a failure the
// timer's next rounds run the sweep again, each once the earliest
// settlement or refund left under way is due (the sweep defers one whose
// try failed), until none is left under way: what the failed sweep left,
// a later one finishes, and check finds nothing settled twice or lost. It
// returns the settlements and refunds finished.
func (w *world) recoverSweep(why string) (int, error) {
	_, left, err := w.underWay()
	if err != nil {
		return 0, err
	}
	sweep := func() (int, error) { return w.plat.RecoverSweep(w.ctx, 0) }
	var n int
	failed := false
	if left {
		failed = w.runFailing(0.5, 3, func() { n, err = sweep() })
	} else {
		n, err = sweep()
	}
	if !failed {
		if err != nil {
			return n, w.failf("recovery sweep %s: %v", why, err)
		}
		return n, nil
	}
	w.count("recover-sweep-failed")
	for range sweepRounds {
		due, left, err := w.underWay()
		if err != nil {
			return n, err
		}
		if !left {
			return n, nil
		}
		if next := due.Add(recoverAfter + time.Second); next.After(w.now) {
			if err := w.advance(next.Sub(w.now)); err != nil {
				return n, err
			}
		}
		m, err := sweep()
		if err != nil {
			return n, w.failf("recovery sweep again %s: %v", why, err)
		}
		n += m
		w.stats.Ops["recovered-after-failed-sweep"] += m
	}
	return n, w.failf("recovery sweep %s: settlements or refunds under way after %d more rounds", why, sweepRounds)
}

// underWay reports whether the store holds a settlement or refund under
// way (approving, capturing, voiding, or a refund pending), and the
// earliest time one of them is due.
func (w *world) underWay() (time.Time, bool, error) {
	var due time.Time
	left := false
	later := func(t time.Time) {
		if !left || t.Before(due) {
			due, left = t, true
		}
	}
	end := w.now.Add(100 * 365 * 24 * time.Hour)
	for _, state := range []string{payflow.StateApproving, "capturing", "voiding"} {
		rs, err := w.ps.DuePayments(w.ctx, state, end, 1000)
		if err != nil {
			return due, false, err
		}
		for _, r := range rs {
			later(r.Due())
		}
	}
	rs, err := w.ps.DueRefunds(w.ctx, end, 1000)
	if err != nil {
		return due, false, err
	}
	for _, r := range rs {
		later(r.Due())
	}
	return due, left, nil
}

func (w *world) close() {
	if w.led != nil {
		w.stopPlatform()
	}
	w.closeStores()
}

// serial returns the serial number of a DER certificate.
func serial(der []byte) (*big.Int, error) {
	c, err := pki.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return c.SerialNumber, nil
}
