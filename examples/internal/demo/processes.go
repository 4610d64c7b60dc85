package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/internal/ctxsleep"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/queue"
	"github.com/casimpay/casimpay/simcard"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultDir is the data folder that the cloud, seller and shopper
// programs share when no -data flag is given.
func DefaultDir() string { return filepath.Join(os.TempDir(), "casimpay-demo") }

// CloudLockFile is the file of a data folder that the cloud program
// locks while it serves the folder (flock(2) where the system has it, see
// LockCard), so that a second cloud started on the folder fails with
// ErrCloudRunning before it sets anything up or writes its URL over the
// first's URLFile, which the phones would then dial.
const CloudLockFile = "cloud.lock"

// ErrCloudRunning is the error of a cloud program started on a data
// folder that another cloud program serves.
var ErrCloudRunning = errors.New("demo: another cloud serves this data folder")

// holdCloud locks the data folder dir for the cloud program (its
// CloudLockFile), without waiting: ErrCloudRunning, naming dir, when
// another cloud holds it. It returns the function that releases the lock.
func holdCloud(dir string) (unlock func() error, err error) {
	path := filepath.Join(dir, CloudLockFile)
	lf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", cannotWrite("the data folder "+dir, err))
	}
	unlock, err = lockOpen(lf, nil)
	if errors.Is(err, ErrCardInUse) {
		return nil, fmt.Errorf("%w: %s", ErrCloudRunning, dir)
	}
	return unlock, err
}

// URLFile is the file of the data folder in which the cloud program
// writes the base URL it serves, for the phone programs to find it.
const URLFile = "cloud.url"

// ErrEmptyURLFile is the error of a phone program without -url whose
// data folder holds an empty URLFile.
var ErrEmptyURLFile = errors.New("demo: the cloud URL file is empty")

// ErrNoAnswer is the error of a phone program whose login the cloud did
// not answer within -wait.
var ErrNoAnswer = errors.New("demo: the cloud did not answer in time")

// Bystanders are the cards of the grocery market that the cloud program
// broadcasts itself, so that the queues of the phone programs show a
// choice.
var Bystanders = []string{"bob", "chen", "coffee-cart", "flower-stall"}

// PINUsage is the usage of the -pin flag of the programs whose shopper
// types the PIN (CheckPIN).
var PINUsage = fmt.Sprintf("the PIN the shopper types, %d to %d `DIGITS`", simcard.MinPIN, simcard.MaxPIN)

// PUKUsage is the usage of the -puk flag of the programs whose shopper
// types the PIN (CheckPUK).
var PUKUsage = fmt.Sprintf("the PUK the shopper types when the card's PIN is blocked, %d `DIGITS`, which makes -pin the card's PIN", simcard.PUKLength)

// CheckPIN refuses a -pin flag that no card takes (simcard.ValidPIN) with
// ErrUsage.
func CheckPIN(pin string) error {
	if !simcard.ValidPIN(pin) {
		return fmt.Errorf("%w: -pin must have %d to %d digits", ErrUsage, simcard.MinPIN, simcard.MaxPIN)
	}
	return nil
}

// CheckPUK refuses a -puk flag that no card takes (simcard.ValidPUK) with
// ErrUsage; an empty one, no PUK given, it takes.
func CheckPUK(puk string) error {
	if puk != "" && !simcard.ValidPUK(puk) {
		return fmt.Errorf("%w: -puk must have %d digits", ErrUsage, simcard.PUKLength)
	}
	return nil
}

// CheckURL refuses a -url flag that NewClient refuses (such as one whose
// scheme is not http or https, that does not parse, or, without
// -plain-http, plainHTTP, a plain http one whose host is not loopback)
// with ErrUsage, wrapping the client's error, which matches
// payflow.ErrInvalid.
func CheckURL(url string, plainHTTP bool) error {
	if _, err := NewClient(url, plainHTTP); err != nil {
		return fmt.Errorf("%w: -url: %w", ErrUsage, err)
	}
	return nil
}

// PlainHTTPUsage is the usage of the -plain-http flag of the programs that
// call the cloud at a URL (payflow.ClientOptions.AllowPlainHTTP).
const PlainHTTPUsage = "allow a plain http cloud URL whose host is not loopback, over which the cards' bearer tokens and signed records cross the network in clear"

// httpClient, when not nil, sends the calls of the clients that NewClient
// makes (payflow.ClientOptions.HTTPClient) in place of payflow's own: nil,
// as the programs have it. A test sets it before it runs a program, to
// see the connections that the program makes (with a Transport whose
// DialContext it wraps, say), and to act at one of them; a program never
// changes it.
var httpClient *http.Client

// RetryBackoff is the shortest pause of the clients that NewClient makes
// before they send a call again (payflow.ClientOptions.MinBackoff):
// payflow.DefaultMinBackoff. A test sets it before it runs a program, as
// it does OutagePause; a program never changes it.
var RetryBackoff = payflow.DefaultMinBackoff

// NewClient is payflow.NewClient of the cloud's URL with the default
// options but three: plainHTTP (the -plain-http flag) allowing a plain
// http URL whose host is not loopback, httpClient sending the calls, and
// RetryBackoff the shortest pause before a retry. The error of such a URL
// refused without plainHTTP names the flag.
func NewClient(url string, plainHTTP bool) (*payflow.Client, error) {
	c, err := payflow.NewClient(url, payflow.ClientOptions{AllowPlainHTTP: plainHTTP, HTTPClient: httpClient, MinBackoff: RetryBackoff})
	if err != nil && !plainHTTP {
		if _, perr := payflow.NewClient(url, payflow.ClientOptions{AllowPlainHTTP: true}); perr == nil {
			return nil, fmt.Errorf("%w (-plain-http allows it)", err)
		}
	}
	return c, err
}

// CheckDSN refuses a -postgres flag that does not parse as a PostgreSQL
// connection string (a URL or keyword/value pairs, pgxpool.ParseConfig)
// with ErrUsage, wrapping the parser's error, whose text hides the
// password; an empty one, no -postgres given, it takes. One of white space
// alone, which the parser takes for no setting at all (libpq's defaults:
// the local server, the user's name), it refuses too: it names no server.
// A DSN that parses but whose server does not answer fails when the
// program opens the store (OpenCloud), with exit status 1.
func CheckDSN(dsn string) error {
	if dsn == "" {
		return nil
	}
	if strings.TrimSpace(dsn) == "" {
		return fmt.Errorf("%w: -postgres: white space alone names no server", ErrUsage)
	}
	if _, err := pgxpool.ParseConfig(dsn); err != nil {
		return fmt.Errorf("%w: -postgres: %w", ErrUsage, err)
	}
	return nil
}

// CheckData refuses a -data, dir, that names something other than a
// folder, such as a file, or a path through a file, with ErrUsage. It
// takes a dir that does not exist, which the program makes, and an empty
// one, which the programs with a temporary folder as the default take for
// no -data given. A path through a file is told by the nearest of the
// folders above dir that exists, where the system does not say so itself
// (Windows, which reports a path not found).
func CheckData(dir string) error {
	if dir == "" {
		return nil
	}
	for p := dir; ; {
		fi, err := os.Stat(p)
		if (err == nil && !fi.IsDir()) || errors.Is(err, syscall.ENOTDIR) {
			return fmt.Errorf("%w: -data %s is not a folder", ErrUsage, dir)
		}
		parent := filepath.Dir(p)
		if !errors.Is(err, fs.ErrNotExist) || parent == p {
			return nil // a folder, or what the program reports as it makes it
		}
		p = parent
	}
}

// checkData refuses an empty -data, dir, with ErrUsage, as well as what
// CheckData refuses: the cloud and the phone programs share the data
// folder, which is never the working folder unnamed.
func checkData(dir string) error {
	if dir == "" {
		return fmt.Errorf("%w: -data needs a folder", ErrUsage)
	}
	return CheckData(dir)
}

// ErrUsage is the error of a flag value, or an argument after the flags,
// that a program refuses, and of a flag that the flag package refuses
// (ParseFlags). A program ends with exit status 2 on it (Exit).
var ErrUsage = errors.New("demo: invalid usage")

// ParseFlags parses args with fs and refuses an argument left after the
// flags (ErrUsage): the programs take none, and the flag package stops at
// the first one, so that a flag after it would be dropped unseen. A flag
// that fs refuses, which fs has printed with the usage, is ErrUsage too
// (Exit prints it no more); -h is flag.ErrHelp.
func ParseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &flagError{err}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q (the program takes only flags)", ErrUsage, fs.Arg(0))
	}
	return nil
}

// RunCloud is the cloud program: it opens the platform of the data folder
// (SQLite, or PostgreSQL with -postgres), sets up the grocery market,
// serves the HTTP API on -listen, writes its URL into the data folder
// (the loopback address for a -listen on every interface, dialURL),
// broadcasts the bystanders' adverts, runs the sweeps, and prints what the
// cloud does until ctx ends (an interrupt), and then waits for the calls
// under way, for shutdownWait (5 seconds) at most: it cuts those still
// under way then, says so, and returns nil all the same, having removed
// its URL file and the bystanders' adverts. With -pairs N,
// from 0 to MaxLoadPairs, it also enrols the cards of LoadMarket(N).
// One started on a data folder that another cloud program serves fails
// with ErrCloudRunning once it has opened the platform, before it sets
// anything up or writes its URL (CloudLockFile).
// An error of a run that ctx ended, such as an interrupt, names the
// cause of that end, the signal (Interrupted).
func RunCloud(ctx context.Context, args []string, stdout io.Writer) (err error) {
	defer func() { err = Interrupted(ctx, err) }()
	fs := flag.NewFlagSet("cloud", flag.ContinueOnError)
	dir := fs.String("data", DefaultDir(), "the data folder `DIR`: demo CA, cards, SQLite database")
	listen := fs.String("listen", "127.0.0.1:8080", "serve the HTTP API on `host:port`")
	dsn := fs.String("postgres", "", "keep ledger and platform state in PostgreSQL at `DSN` instead of SQLite")
	pairs := fs.Int("pairs", 0, fmt.Sprintf("also enrol the cards of `N` load generator pairs (examples/loadgen -url), 0 to %d", MaxLoadPairs))
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if *pairs < 0 || *pairs > MaxLoadPairs {
		return fmt.Errorf("%w: -pairs must be from 0 to %d", ErrUsage, MaxLoadPairs)
	}
	if err := checkData(*dir); err != nil {
		return err
	}
	if err := checkListen(*listen); err != nil {
		return err
	}
	if err := CheckDSN(*dsn); err != nil {
		return err
	}
	// The address first: one in use is refused before the data folder
	// gets a CA, cards and a database.
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	defer ln.Close() // once served, the server closes it
	screen := NewPrinter(stdout).Screen("cloud")
	cloud, err := OpenCloud(ctx, CloudOptions{Dir: *dir, PostgresDSN: *dsn})
	if err != nil {
		return err
	}
	defer cloud.Close()
	unlock, err := holdCloud(*dir)
	if err != nil {
		return err
	}
	defer unlock()
	market := Grocery
	ids, err := market.Setup(ctx, cloud, *dir)
	if err != nil {
		return err
	}
	if *pairs > 0 {
		load := LoadMarket(*pairs)
		if _, err := load.Setup(ctx, cloud, *dir); err != nil {
			return err
		}
		screen.Printf("Cards of %d load generator pairs enrolled", *pairs)
	}
	alice := market.Party("alice")
	topUp := func() error {
		ok, err := TopUp(ctx, cloud, ids["alice"], market.Currency, alice.Funds/2, alice.Funds)
		if ok {
			screen.Printf("Alice's wallet was short: topped up with %s", Money(alice.Funds, market.Currency))
		}
		return err
	}
	if err := topUp(); err != nil {
		return err
	}
	for _, owner := range []struct{ id, name string }{{ids["alice"], "Alice"}, {market.Shops[0].ID, market.Shops[0].Name}} {
		b, err := cloud.Platform.Balance(ctx, owner.id, market.Currency)
		if err != nil {
			return err
		}
		screen.Printf("Balance of %s: %s", owner.name, Money(b.Posted, market.Currency))
	}

	var bystanders []*Station
	for _, name := range Bystanders {
		card, err := OpenCard(*dir, name)
		if err != nil {
			return err
		}
		defer card.Close()
		bystanders = append(bystanders, &Station{Party: market.Party(name), Card: card})
	}
	air := Air{Dir: *dir}

	url := dialURL(*listen, ln.Addr().(*net.TCPAddr)) // a "tcp" listener's address
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	api := &Narrator{API: cloud.Platform, Cloud: cloud, Screen: screen}
	h, err := payflow.NewHandler(api, payflow.HandlerOptions{Replies: cloud.Store, Logger: logger})
	if err != nil {
		return err
	}
	// Once the server is shut down and before the cloud closes its
	// store: ends the tries to store the replies it failed to store.
	defer h.Close()
	srv := payflow.NewServer("", h)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	urlPath := filepath.Join(*dir, URLFile)
	// Whole or not at all: the phones and the tests read it while it appears.
	if err := writeFile(urlPath, []byte(url+"\n"), 0o600, false); err != nil {
		srv.Close()
		return err
	}
	defer os.Remove(urlPath)
	screen.Printf("Platform on %s, serving %s", cloud.Database, url)
	screen.Printf("Bob, Chen, Coffee Cart and Flower Stall are in range; start the seller and the shopper with -data %s", *dir)

	ticks, stopTicks := newCloudTicks()
	defer stopTicks()
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := WithShutdownWait(context.Background(), shutdownWait)
			defer cancel()
			for _, s := range bystanders {
				os.Remove(air.path(s))
			}
			err := srv.Shutdown(sctx)
			if errors.Is(err, context.DeadlineExceeded) {
				screen.Printf("Stopped: the calls still under way %v after the interrupt were cut", shutdownWait)
				return srv.Close()
			}
			return err
		case err := <-served:
			return err
		case <-ticks.air:
			err = air.Send(bystanders, WallClock())
		case <-ticks.sweep:
			if err = sweepDue(ctx, cloud, screen); err == nil {
				err = topUp()
			}
		case <-ticks.crl:
			err = cloud.RefreshCRLs()
		}
		if err != nil && ctx.Err() == nil {
			screen.Printf("error: %v", err)
		}
	}
}

// cloudTicks are the ticks of the cloud program's work while it serves
// (RunCloud): air's, at which it writes the bystanders' adverts into the
// air (every 300 ms), dated on the phones' clock (WallClock), on which
// they age adverts (Air.Receive), sweep's, at which it sweeps (sweepDue)
// and tops Alice's wallet up (every 5 seconds), and crl's, at which it
// refreshes its CRLs (every hour).
type cloudTicks struct{ air, sweep, crl <-chan time.Time }

// newCloudTicks starts the tickers of the cloud program's work
// (cloudTicks) and returns their ticks and the function that stops them.
// A test sets it before it runs the cloud program, to ticks that it sends
// itself, so that the program does its work in the order and at the steps
// that the test chooses rather than at times; a program never changes it.
var newCloudTicks = func() (cloudTicks, func()) {
	air, sweep, crl := time.NewTicker(300*time.Millisecond), time.NewTicker(5*time.Second), time.NewTicker(time.Hour)
	return cloudTicks{air: air.C, sweep: sweep.C, crl: crl.C}, func() {
		air.Stop()
		sweep.Stop()
		crl.Stop()
	}
}

// sweepDue ends the requests past their expiry and completes the
// settlements that calls cut short left under way (payflow.Platform's
// ExpireDue and RecoverSweep), and says on screen how many it completed:
// the Narrator prints a payment when the call that settled it returns,
// which a call cut short does not, and a consent sent again after the
// sweep settled it finds it settled and prints nothing either.
func sweepDue(ctx context.Context, cloud *Cloud, screen *Screen) error {
	if _, err := cloud.Platform.ExpireDue(ctx, 0); err != nil {
		return err
	}
	n, err := cloud.Platform.RecoverSweep(ctx, 0)
	if n > 0 {
		screen.Printf("Recovery sweep: %d settlement(s) that cut calls left under way completed", n)
	}
	return err
}

// checkListen refuses a -listen, listen, that is no host:port with
// ErrUsage: an empty one, which net.Listen takes for every interface's
// at a random port, one without a port (":" as well, the same), and one
// whose port is no number from 0 to 65535 nor a service's name. A port
// of 0 is a random one, which the cloud writes into its URL file.
func checkListen(listen string) error {
	_, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		return fmt.Errorf("%w: -listen %q is not host:port", ErrUsage, listen)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("%w: -listen %q: %w", ErrUsage, listen, err)
	}
	return nil
}

// dialURL is the URL at which the phones reach a server that listens on
// addr, the address of the -listen flag listen. The unspecified address,
// where the server listens on every interface, is no address to dial:
// dialURL names the loopback address instead, [::1] for a listen host of
// [::] and 127.0.0.1 for any other (0.0.0.0, or none); a listen host that
// is a name or an address is kept as addr gives it, with addr's port, and
// the zone of a link-local address ("[fe80::1%eth0]") escaped as a URL
// takes it ("[fe80::1%25eth0]").
func dialURL(listen string, addr *net.TCPAddr) string {
	if addr.IP.IsUnspecified() {
		ip := net.IPv4(127, 0, 0, 1)
		lhost, _, _ := net.SplitHostPort(listen)
		if l := net.ParseIP(lhost); l != nil && l.To4() == nil {
			ip = net.IPv6loopback
		}
		addr = &net.TCPAddr{IP: ip, Port: addr.Port}
	}
	// As a URL's host: a zone's "%" escaped (RFC 6874), which a URL
	// parser otherwise refuses.
	return (&url.URL{Scheme: "http", Host: addr.String()}).String()
}

// shutdownWait is how long the cloud program, interrupted, waits for the
// calls under way before it cuts them (RunCloud).
const shutdownWait = 5 * time.Second

// WithShutdownWait makes the context of the cloud program's wait for the
// calls under way once it is interrupted, shutdownWait, from ctx
// (RunCloud): context.WithTimeout, whose deadline passes once wait has
// passed. A test sets it before it runs the cloud program (to
// outwait.Waits' WithTimeout), to have that deadline pass at a step of
// its own rather than after 5 seconds; a program never changes it. It
// must not be nil.
var WithShutdownWait = context.WithTimeout

// WithWait makes the context of a wait of a phone program that -wait
// bounds, wait, from ctx: the wait for the cloud's login (login), and then
// the one wait for the other phone, which starts with the scan
// (runPhone). It is context.WithTimeout, whose deadline passes once wait
// has passed, and the programs make those contexts through it alone. A
// test sets it before it runs phone programs (to outwait.Waits'
// WithTimeout), to see which waits a program makes, and when, and to have
// their deadlines pass at a step of its own rather than at a time; a
// program never changes it. It must not be nil.
var WithWait = context.WithTimeout

// phoneFlags are the flags of the phone programs.
type phoneFlags struct {
	dir, url, pick, pin, puk string
	seed                     uint64
	wait                     time.Duration
	plainHTTP                bool
}

func parsePhoneFlags(name, pick string, args []string) (*phoneFlags, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	f := &phoneFlags{}
	fs.StringVar(&f.dir, "data", DefaultDir(), "the cloud's data folder `DIR` (cards, CA, the air)")
	fs.StringVar(&f.url, "url", "", "the cloud's base `URL` (default: the one the cloud wrote into the data folder)")
	fs.BoolVar(&f.plainHTTP, "plain-http", false, PlainHTTPUsage)
	fs.StringVar(&f.pick, "pick", pick, "the `NAME` to tap in the service queue")
	fs.Uint64Var(&f.seed, "seed", 1, "seed `N` of the simulated radio")
	fs.DurationVar(&f.wait, "wait", 2*time.Minute, "wait up to `DURATION` for the cloud's login, and then for the other phone (to find it, pair with it and buy)")
	if name == "shopper" {
		fs.StringVar(&f.pin, "pin", PIN, PINUsage)
		fs.StringVar(&f.puk, "puk", "", PUKUsage)
	}
	if err := ParseFlags(fs, args); err != nil {
		return nil, err
	}
	if f.wait <= 0 {
		return nil, fmt.Errorf("%w: -wait must be positive", ErrUsage)
	}
	if err := checkData(f.dir); err != nil {
		return nil, err
	}
	// A name that no phone can have, which the cloud refuses at
	// enrolment, would be scanned for until -wait ends.
	if err := record.CheckName("name", f.pick); err != nil {
		return nil, fmt.Errorf("%w: -pick %q is no phone's name: %w", ErrUsage, f.pick, err)
	}
	if name == "shopper" {
		if err := CheckPIN(f.pin); err != nil {
			return nil, err
		}
		if err := CheckPUK(f.puk); err != nil {
			return nil, err
		}
	}
	if f.url != "" {
		if err := CheckURL(f.url, f.plainHTTP); err != nil {
			return nil, err
		}
	} else {
		b, err := os.ReadFile(filepath.Join(f.dir, URLFile))
		if err != nil {
			return nil, fmt.Errorf("no -url and no cloud running with -data %s: %w", f.dir, err)
		}
		if f.url = strings.TrimSpace(string(b)); f.url == "" {
			return nil, fmt.Errorf("%w: %s", ErrEmptyURLFile, filepath.Join(f.dir, URLFile))
		}
	}
	return f, nil
}

// startPhone opens the card name of the data folder (OpenCard), makes
// sure that its radio can write the air (air/, or, while that is missing,
// the data folder, in which it is made), which it refuses otherwise with
// one line that names the folder and says why, as LoadAuthority does,
// logs the card in to the cloud over HTTP, giving up after -wait (login),
// and starts its radio: every 200 ms it writes its advert into the air
// and hears the others. The phone stops broadcasting, and closes its
// card, when the returned function is called.
func startPhone(ctx context.Context, f *phoneFlags, name, label string, stdout io.Writer) (_ *Phone, stop func(), err error) {
	card, err := OpenCard(f.dir, name)
	if err != nil {
		return nil, nil, NoCloudHint(err)
	}
	defer func() {
		if err != nil {
			card.Close()
		}
	}()
	root, err := LoadRoot(f.dir)
	if err != nil {
		return nil, nil, NoCloudHint(err)
	}
	if err := checkFolderOf(f.dir, airFolder); err != nil {
		return nil, nil, err
	}
	party := *Grocery.Party(name)
	client, err := NewClient(f.url, f.plainHTTP)
	if err != nil {
		return nil, nil, err
	}
	ph, err := NewPhone(&party, card, client, NewPrinter(stdout).Screen(label), root)
	if err != nil {
		return nil, nil, err
	}
	ph.PUK = f.puk
	ph.Screen.Printf("Cloud at %s", f.url)
	if err := login(ctx, ph, f); err != nil {
		return nil, nil, err
	}
	air, radio := Air{Dir: f.dir}, NewRadio(f.seed, 0.2)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			now := WallClock()
			if err := air.Send([]*Station{ph.Station}, now); err != nil {
				ph.Screen.Printf("radio: %v", err)
			}
			if err := air.Receive(radio, ph.Scanner, ph.Station, now); err != nil {
				ph.Screen.Printf("radio: %v", err)
			}
			select {
			case <-ctx.Done():
				os.Remove(air.path(ph.Station))
				return
			case <-t.C:
			}
		}
	}()
	return ph, func() { cancel(); <-done; card.Close() }, nil
}

// login logs ph in to the cloud, asking again while the cloud does not
// answer (ThroughOutage: it may be starting or restarting), and gives up
// once -wait has passed (ErrNoAnswer): the client alone would give up on
// a cloud that refuses connections after a few attempts, and send its
// calls again for more than a minute against one that accepts them and
// never answers. A cloud that does not know the card (one that never
// enrolled it, started with another data folder), which refuses its login
// as one that the key of the card it enrolled did not sign
// (payflow.ErrSignature: the platform tells no one which cards it holds),
// fails the login with an error that names the card and says what to do
// (notEnrolledHint).
func login(ctx context.Context, ph *Phone, f *phoneFlags) error {
	lctx, cancel := WithWait(ctx, f.wait)
	defer cancel()
	err := ThroughOutage(lctx, func() error { return ph.Login(lctx) })
	if err != nil && ctx.Err() == nil && errors.Is(lctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: logging in to %s within -wait %s: %w", ErrNoAnswer, f.url, f.wait, err)
	}
	return notEnrolledHint(ph.Party.Name, f.url, err)
}

// notEnrolledHint adds to err, the error of the login of the card name to
// the cloud at url, when it matches payflow.ErrSignature (the cloud does
// not know the card, or knows it with another key: it answers both alike),
// which card and login it was and what to do, as NoCloudHint does for a
// data folder without cards. Any other error is returned as it is.
func notEnrolledHint(name, url string, err error) error {
	if !errors.Is(err, payflow.ErrSignature) {
		return err
	}
	return fmt.Errorf("demo: card %s: logging in to %s: %w (the cloud did not enrol this card with its key: point -url at the cloud started with this data folder)", name, url, err)
}

// ScanPause is how long a phone program lets the adverts of everyone
// around arrive before each scan of its service queue (find): 1.5
// seconds. A test sets it before it starts phones, as it does SettleWait;
// a program never changes it.
var ScanPause = 1500 * time.Millisecond

// find scans until the service queue holds the phone named name, shows
// the queue and taps it, giving up when ctx, whose deadline is -wait's,
// ends: the error says "NAME not found before -wait ended" when the
// deadline passed, and "NAME not found" with ctx's cause (the signal)
// otherwise. A resolution of the EIDs heard that the cloud does not
// answer (noAnswer: it may be restarting) is asked again at the next
// scan; when ctx ends meanwhile, the error names the cloud's last one.
func (p *Phone) find(ctx context.Context, name string) (payflow.QueueEntry, error) {
	p.Screen.Printf("Scanning for %s…", name)
	var unanswered error // of the last scan, if the cloud did not answer it
	for {
		// Let a few adverts of everyone around arrive first.
		if err := ctxsleep.Sleep(ctx, ScanPause); err != nil {
			if unanswered != nil {
				err = fmt.Errorf("%w (the cloud did not answer: %w)", err, unanswered)
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return payflow.QueueEntry{}, fmt.Errorf("demo: %s not found before -wait ended: %w", name, err)
			}
			return payflow.QueueEntry{}, fmt.Errorf("demo: %s not found: %w", name, err)
		}
		if len(p.Scanner.Queue.Snapshot()) == 0 {
			continue
		}
		entries, err := p.ServiceQueue(ctx)
		unanswered = nil
		if noAnswer(err) {
			unanswered = err
			continue
		}
		if err != nil {
			return payflow.QueueEntry{}, err
		}
		if e, err := p.Choose(entries, name); err == nil {
			return e, nil
		}
	}
}

// runPhone is what the phone programs share: it parses the flags of
// program, starts the phone of the card name (see startPhone, whose login
// has a -wait of its own), finds the phone that -pick names and selects it
// (selectPick) and pairs with it, waiting for the other phone's
// confirmation through an outage of the cloud (ThroughOutage), and
// selecting it again when the EIDs change meanwhile (awaitPaired), then runs
// buy with the pairing's confirmation and wctx, the context of the wait
// for the other phone: one -wait from the start of the scan, which the
// scan, the pairing and buy share. One whose wait ends before the cloud
// answered its selection (selectPick), or before the other phone's
// confirmation came (awaitPaired), says so.
func runPhone(ctx context.Context, program, name, pick string, args []string, stdout io.Writer,
	buy func(wctx context.Context, f *phoneFlags, ph *Phone, c *payflow.Confirmation) error) error {
	f, err := parsePhoneFlags(program, pick, args)
	if err != nil {
		return err
	}
	ph, stop, err := startPhone(ctx, f, name, program, stdout)
	if err != nil {
		return err
	}
	defer stop()
	wctx, cancel := WithWait(ctx, f.wait)
	defer cancel()
	sel, err := ph.selectPick(wctx, f.pick)
	if err != nil {
		return err
	}
	c, err := ph.awaitPaired(wctx, f.pick, sel)
	if err != nil {
		return err
	}
	return buy(wctx, f, ph, c)
}

// selectPick finds the phone named pick (find) and selects it (Confirm),
// through an outage of the cloud (ThroughOutage), until wctx, the phone
// program's wait, ends. A confirmation sent again is a new
// one, which the card signs over a new challenge (payflow's Select): one
// that the cloud took without its answer reaching the phone pairs the
// phone into the same session again. A confirmation that the cloud does
// not answer for longer than the phone's queue keeps the other phone's
// advert after it was last heard (queue.ErrUnknownPeer: the other phone
// went out of range, or its EID rotated, meanwhile) has the phone scan
// again, until -wait ends; one that fails so once the wait has ended
// (the phone tapped the other phone just as -wait ended, or was
// interrupted) ends the phone with an error that says so, both the wait's
// and queue.ErrUnknownPeer. A selection that the cloud has not answered
// when the wait ends fails with an error that says that it had no answer
// before -wait ended, or before the phone was interrupted (waitEnded).
func (p *Phone) selectPick(wctx context.Context, pick string) (*payflow.Confirmation, error) {
	for {
		e, err := p.find(wctx, pick)
		if err != nil {
			return nil, err
		}
		var sel *payflow.Confirmation
		err = ThroughOutage(wctx, func() (err error) {
			sel, err = p.Confirm(wctx, e)
			return err
		})
		if !errors.Is(err, queue.ErrUnknownPeer) {
			return sel, waitEnded(wctx, "the phone", "no answer to the selection of "+pick, err)
		}
		if wctx.Err() != nil {
			return nil, fmt.Errorf("demo: %s went out of range as the wait for it ended: %w (%w)", pick, context.Cause(wctx), err)
		}
		p.Screen.Printf("%s is out of range: scanning again", pick)
	}
}

// rotationCheck is how often a phone program waiting for the other
// phone's confirmation looks whether the EIDs changed (awaitPaired).
const rotationCheck = 500 * time.Millisecond

// errEIDsChanged ends the wait of a phone program for the other phone's
// confirmation when the EIDs changed meanwhile (awaitPaired).
var errEIDsChanged = errors.New("demo: the EIDs changed")

// awaitPaired waits for the confirmation of the phone named pick in the
// session selected, sel (AwaitPaired, through an outage of the cloud:
// ThroughOutage), until ctx ends. Two phones that select each other on
// either side of the end of an EID epoch each open a session of their own,
// which the other never confirms (PROTOCOL.md §6.1): so when the EIDs
// changed while the phone waits (eidsChanged: its own epoch ended, or pick
// advertises a new EID), the phone says so, finds pick again (find, which
// taps pick's newest EID) and selects it (Confirm, which shows the pairing
// code of the new EIDs), and waits on in that session; unless pick's
// selection of the session waited in, signed before the EIDs changed,
// paired it as the phone looked for pick (pairedMeanwhile): the phone
// says so and goes on in that session, as pick does. A selection that
// fails as pick went unheard (queue.ErrUnknownPeer) leaves the phone in
// the session selected before, waiting on. A phone paired in a session
// that pick left meanwhile, as its selection of pick, signed before the
// EIDs changed, reached the cloud after pick selected it again under the
// new EIDs (movedOn), says so, selects pick again, and waits on in pick's
// new session. A wait that ctx ended fails with an error that says that
// pick's confirmation did not come before -wait ended (waitEnded).
func (p *Phone) awaitPaired(ctx context.Context, pick string, sel *payflow.Confirmation) (*payflow.Confirmation, error) {
	for {
		epoch := adv.Epoch(WallClock())
		actx, cancel := context.WithCancelCause(ctx)
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			for ctxsleep.Sleep(actx, rotationCheck) == nil {
				if p.eidsChanged(actx, pick, epoch) {
					cancel(errEIDsChanged)
					return
				}
			}
		}()
		var c *payflow.Confirmation
		err := ThroughOutage(actx, func() (err error) {
			c, err = p.AwaitPaired(actx)
			return err
		})
		cancel(nil)
		<-watched
		var e payflow.QueueEntry
		switch {
		case err == nil:
			again, moved := p.movedOn(ctx, c, pick)
			if !moved {
				return c, nil
			}
			p.Screen.Printf("%s selected this phone again after the EIDs changed: selecting it again", pick)
			e = again
		case ctx.Err() != nil || !errors.Is(context.Cause(actx), errEIDsChanged):
			return nil, waitEnded(ctx, "the phone", "no confirmation from "+pick, err)
		default:
			p.Screen.Printf("No confirmation from %s yet: selecting again after the EIDs changed", pick)
			if e, err = p.find(ctx, pick); err != nil {
				return nil, err
			}
			if p.pairedMeanwhile(ctx, sel) {
				p.Screen.Printf("%s confirmed session %s meanwhile: waiting on in it", pick, Short(sel.SessionID))
				continue
			}
		}
		err = ThroughOutage(ctx, func() error {
			c, err := p.Confirm(ctx, e)
			if err == nil {
				sel = c
			}
			return err
		})
		if err != nil && !errors.Is(err, queue.ErrUnknownPeer) {
			return nil, waitEnded(ctx, "the phone", "no confirmation from "+pick, err)
		}
	}
}

// pairedMeanwhile reports whether the cloud shows the session of sel (nil:
// none) paired (session); an error of the cloud that is an answer, or ctx
// ending, reports it not paired.
func (p *Phone) pairedMeanwhile(ctx context.Context, sel *payflow.Confirmation) bool {
	if sel == nil {
		return false
	}
	s, err := p.session(ctx, sel.SessionID)
	return err == nil && s.State == payflow.SessionPaired
}

// session reads the session id with the token of the phone's login
// (Login), logging in again when the phone has none or the cloud no longer
// takes it (payflow.ErrUnauthorized: a token lives an hour, and a phone
// program may wait longer), through an outage of the cloud
// (ThroughOutage) until ctx ends.
func (p *Phone) session(ctx context.Context, id payflow.ID) (*payflow.SessionView, error) {
	var s *payflow.SessionView
	err := ThroughOutage(ctx, func() (err error) {
		if p.Token != "" {
			if s, err = p.API.Session(ctx, p.Token, id); !errors.Is(err, payflow.ErrUnauthorized) {
				return err
			}
		}
		r, err := p.app().Login(ctx)
		if err != nil {
			return err
		}
		p.Token = r.Token
		s, err = p.API.Session(ctx, p.Token, id)
		return err
	})
	return s, err
}

// movedOn reports whether pick, paired with this phone in the session of
// c, has selected this phone under the EIDs of a newer epoch, and returns
// pick's entry of the service queue to select it again. The other phone,
// waiting in that session, may have left it (awaitPaired) before this
// phone's selection, signed before the EIDs changed, reached the cloud and
// paired it: it then waits in the session of pick's newest EID in the
// service queue (Choose) and this card's EID now, which the cloud knows
// once pick's selection opened it, under the ID of the two EIDs
// (payflow.SessionID). The phone reads that session through session
// (logging in again, waiting out an outage); an error of the cloud
// that is an answer, or ctx ending, reports no move.
func (p *Phone) movedOn(ctx context.Context, c *payflow.Confirmation, pick string) (payflow.QueueEntry, bool) {
	entries, err := p.app().Peers(ctx)
	if err != nil {
		return payflow.QueueEntry{}, false
	}
	i, ok := p.newest(entries, pick)
	if !ok {
		return payflow.QueueEntry{}, false
	}
	own, err := p.EID(WallClock())
	if err != nil {
		return payflow.QueueEntry{}, false
	}
	shopper, seller := own, entries[i].EID
	if p.Party.Role == adv.Seller {
		shopper, seller = seller, own
	}
	id := payflow.SessionID(shopper[:], seller[:])
	if id == c.SessionID {
		return payflow.QueueEntry{}, false
	}
	_, err = p.session(ctx, id)
	return entries[i], err == nil
}

// eidsChanged reports whether the EIDs of the phone's selection of pick
// changed: the epoch of its clock is no longer epoch, the one in which the
// phone started waiting, or the newest EID of pick in the service queue
// (Choose) is not the one selected.
func (p *Phone) eidsChanged(ctx context.Context, pick string, epoch uint32) bool {
	if adv.Epoch(WallClock()) != epoch {
		return true
	}
	sel, ok := p.Scanner.Queue.Selected()
	if !ok {
		return false
	}
	entries, err := p.app().Peers(ctx)
	if err != nil {
		return false
	}
	i, ok := p.newest(entries, pick)
	return ok && entries[i].EID != sel.Packet.EID
}

// OutagePause is how long a phone program, or the load generator,
// pauses before it asks the cloud again while the cloud does not answer
// (ThroughOutage): 250 ms. A test sets it before it runs a program, as it
// does ScanPause; a program never changes it.
var OutagePause = 250 * time.Millisecond

// ThroughOutage calls wait, a call of a phone program to the cloud (its
// login, its confirmation of the other phone and its wait for it, the
// seller's catalog read and payment request, the shopper's wait for the
// request and its approval), or of a phone of the load generator, and
// again after OutagePause while it fails with
// payflow.ErrUnavailable (the cloud does not answer: it may be starting
// or restarting) or with payflow.ErrInFlight (the cloud still works on an
// attempt of the call that it did not answer in time, such as an approval
// whose settlement a slow ledger holds up), until ctx ends; it returns
// wait's last error. The client gives up on a call after a few attempts,
// well within a restart and, when they are answered in flight, long
// before a slow settlement ends. The phone keeps what such a call sent
// (payflow's Seller.Request and Shopper.ApproveShown) and sends it again.
func ThroughOutage(ctx context.Context, wait func() error) error {
	return waitOut(ctx, noAnswer, wait)
}

// waitOut calls wait, and again after OutagePause while pending says
// that its error is no outcome yet, until ctx ends; it returns wait's
// last error.
func waitOut(ctx context.Context, pending func(error) bool, wait func() error) error {
	err := wait()
	for pending(err) && ctxsleep.Sleep(ctx, OutagePause) == nil {
		err = wait()
	}
	return err
}

// noAnswer reports whether err, the error of a call to the cloud, is no
// answer yet, which a phone program waits out (ThroughOutage): the cloud
// could not be reached or failed (payflow.ErrUnavailable), or still works
// on the call (payflow.ErrInFlight).
func noAnswer(err error) bool {
	return errors.Is(err, payflow.ErrUnavailable) || errors.Is(err, payflow.ErrInFlight)
}

// RunSeller is the seller program: the till of Corner Grocer finds Alice
// in its service queue, pairs with her phone, reads the catalog, charges
// the grocery basket and waits for the verified receipt, asking again, and
// sending the payment request again, while the cloud does not answer
// (ErrUnavailable: it may be restarting) or still works on the call that
// it did not answer in time (ErrInFlight: a slow database, say), until
// -wait ends (ThroughOutage). A request sent again is the one that got no
// answer, as the card signed it (payflow.Seller.Request): one that the
// cloud recorded is cancelled and the card signs a new one; one that Alice
// paid meanwhile is the purchase, whose receipt the till verifies, and the
// till asks nothing more. An approval of Alice's that the cloud is
// settling as the till cancels the request is waited out
// (payflow.Seller.Request), so that a payment it makes is the purchase,
// not a failure of the till: one call waits for SettleWait
// (payflow.DefaultSettleWait, 10 seconds) at most, and when the cloud
// still answers its cancellation payflow.ErrConflict then (a cloud whose
// ledger stalls, or an approval whose outcome the cloud could not record,
// left to its recovery sweep), the till sends the request again and waits
// on until -wait ends, as through an outage, and then goes on with the
// request's outcome: one paid is the purchase, one cancelled is followed
// by a new request.
//
// When the till gives up once it asked (-wait ends, an interrupt, or an
// error of the cloud) before it saw Alice's payment, it withdraws its
// payment request (Withdraw), so that Alice's next run does not pay it:
// the one it waits for, or the one it sent without an answer yet (the
// cloud may record it all the same), which the till sends again to cancel
// it (payflow.Seller.Cancel); it then fails with the error it gave up on,
// which says, when -wait ended the wait for Alice's payment, which request
// she did not pay before it ended. One that Alice paid as the till gave up
// is the purchase. When an approval of Alice's is still being settled as
// the withdrawal ends, the till says that the payment's outcome is unknown
// and fails with the cloud's payflow.ErrConflict; when the request expired
// meanwhile, it says so (no one can pay it); when the withdrawal fails
// otherwise, it says that Alice may still pay the request (the till's next
// pairing with her cancels it: PROTOCOL.md §6.1) and fails with both
// errors. A request that the till learnt Alice paid is not withdrawn: when
// its receipt cannot be verified before -wait ends, the till says it was
// paid, its receipt not checked, and fails with the error of that wait. An
// error of a run that ctx ended, such as an interrupt, names the cause of
// that end, the signal (Interrupted).
func RunSeller(ctx context.Context, args []string, stdout io.Writer) (err error) {
	defer func() { err = Interrupted(ctx, err) }()
	return runPhone(ctx, "seller", "till", "Alice", args, stdout, func(wctx context.Context, _ *phoneFlags, ph *Phone, c *payflow.Confirmation) error {
		var sale *Sale
		err := ThroughOutage(wctx, func() (err error) {
			sale, err = ph.Price(ctx, c.Name, GroceryBasket, nil)
			return err
		})
		if err != nil {
			return err
		}
		// A request sent again that the till cancels may be one whose
		// approval the cloud is still settling after the till waited for
		// it (AskAgain's ErrConflict): the payment may well be made, so
		// the till waits on, as through an outage.
		again := false                 // the request was sent again
		var asked *payflow.PaymentView // the request on screen
		err = waitOut(wctx, func(err error) bool {
			return noAnswer(err) || again && errors.Is(err, payflow.ErrConflict)
		}, func() error {
			if err == nil {
				asked, err = ph.Ask(ctx, sale)
			} else {
				again = true
				asked, err = ph.AskAgain(ctx, sale, err)
			}
			return err
		})
		// The request of the sale sent again was paid (Ask shows and asks
		// past one made before): it is on screen, its receipt to verify,
		// and is the purchase.
		paid, _ := errors.AsType[*payflow.PaidError](err)
		if paid != nil {
			ph.Screen.Printf("Payment request %s, which the cloud had not answered, was paid: it is the purchase", Short(paid.Payment.ID))
			asked, err = paid.Payment, nil
		}
		v, rc, err := settle(ctx, wctx, ph, sale, asked, paid != nil, err)
		if err != nil {
			return err
		}
		if paid != nil && v.ID != paid.Payment.ID {
			return fmt.Errorf("demo: request %s was paid, but the till shows request %s: %w", Short(paid.Payment.ID), Short(v.ID), paid)
		}
		if rc == nil {
			return fmt.Errorf("demo: request %s ended %s", Short(v.ID), v.State)
		}
		return nil
	})
}

// settle waits until the till's payment request of sale, asked (or paid,
// the request sent again that the shopper paid), is settled, after err,
// the error of asking it, and returns its view and, when paid, its
// verified receipt. A wait that wctx ended fails with an error that says
// which request was not paid before -wait ended (waitEnded). When it
// cannot, it gives the request up (GiveUp), unless the shopper paid it
// (paid, asked then the paid request's view): then nothing is withdrawn
// (PaidUnchecked).
func settle(ctx, wctx context.Context, ph *Phone, sale *Sale, asked *payflow.PaymentView, paid bool, err error) (*payflow.PaymentView, *payflow.Receipt, error) {
	var v *payflow.PaymentView
	var rc *payflow.Receipt
	if err == nil {
		err = ThroughOutage(wctx, func() (err error) {
			v, rc, err = ph.AwaitSettled(wctx)
			return err
		})
		if !paid {
			err = waitEnded(wctx, "the till", fmt.Sprintf("no payment of request %s from %s", Short(asked.ID), sale.Shopper), err)
		}
	}
	switch {
	case err == nil:
		return v, rc, nil
	case paid:
		return nil, nil, ph.PaidUnchecked(sale.Shopper, asked, err)
	}
	return ph.GiveUp(ctx, wctx, sale.Shopper, asked, err, sellerAgain)
}

// sellerAgain is how the seller program's user learns the outcome of a
// payment that its till could not learn (GiveUp).
const sellerAgain = "run the seller again to see it"

// GiveUp withdraws the till's payment request (Withdraw) once the till
// gave up on it with err, as RunSeller says: shopper is the name of the
// shopper it asked, wctx the context of the program's wait (ctx itself
// when it has none), asked the request's view when the cloud answered
// it, and again how the user learns the outcome of a payment that the
// till could not learn ("" when there is no way: nothing is said). It
// returns the paid request and its verified receipt when the shopper
// paid it as the till gave up, PaidUnchecked's error when she paid a
// request whose receipt the phone does not check (Withdraw), and
// otherwise err, or an error that says what kept the request from being
// withdrawn as well: that it expired (payflow.ErrExpired), that the
// shopper's approval of it was still being settled (payflow.ErrConflict,
// the payment's outcome unknown), or that the shopper may still pay it.
// Each is shown on the till's screen too.
func (p *Phone) GiveUp(ctx, wctx context.Context, shopper string, asked *payflow.PaymentView, err error, again string) (*payflow.PaymentView, *payflow.Receipt, error) {
	v, rc, werr := p.Withdraw(ctx)
	if _, paid := errors.AsType[*payflow.PaidError](werr); paid { // its receipt not checked
		return nil, nil, p.PaidUnchecked(shopper, v, werr)
	}
	switch {
	case werr == nil && rc != nil:
		return v, rc, nil // paid as the till gave up
	case werr == nil, errors.Is(werr, payflow.ErrNoPayment): // withdrawn, or never recorded
		return nil, nil, err
	}
	what := "the payment request"
	if asked != nil {
		what = "request " + Short(asked.ID)
	}
	if errors.Is(werr, payflow.ErrExpired) {
		p.Screen.Printf("%s expired: no one can pay it", strings.ToUpper(what[:1])+what[1:])
		return nil, nil, errors.Join(err, fmt.Errorf("demo: %s expired: no one can pay it: %w", what, werr))
	}
	if errors.Is(werr, payflow.ErrConflict) {
		when := whyStopped(ctx, wctx, "the till")
		unknown := "the payment's outcome is unknown"
		if again != "" {
			unknown += " (" + again + ")"
		}
		p.Screen.Printf("%s's approval of %s was still being settled when %s: %s", shopper, what, when, unknown)
		werr = fmt.Errorf("demo: %s: %s's approval was still being settled when %s; %s: %w", what, shopper, when, unknown, werr)
		if errors.Is(err, payflow.ErrConflict) { // said already
			return nil, nil, werr
		}
		return nil, nil, fmt.Errorf("%w (%w)", werr, err)
	}
	p.Screen.Printf("Could not withdraw %s: %s may still pay it until the till pairs with her again", what, shopper)
	return nil, nil, errors.Join(err, fmt.Errorf("demo: %s was not withdrawn, and %s may still pay it: %w", what, shopper, werr))
}

// PaidUnchecked is the end of a till whose payment request paid, its
// view, the shopper paid, but whose receipt it could not verify (err):
// nothing is withdrawn, the payment made. It says so on the till's
// screen and returns an error that says so, wrapping err.
func (p *Phone) PaidUnchecked(shopper string, paid *payflow.PaymentView, err error) error {
	p.Screen.Printf("%s paid request %s, but its receipt was not checked", shopper, Short(paid.ID))
	return fmt.Errorf("demo: %s paid request %s, but its receipt was not checked: %w", shopper, Short(paid.ID), err)
}

// RunShopper is the shopper program: Alice's phone finds Corner Grocer in
// its service queue, pairs with the till, waits for the payment screen,
// shows it and approves it with the card's PIN, asking again, and sending
// the approval again, while the cloud does not answer (ErrUnavailable: it
// may be restarting) or still works on the call that it did not answer in
// time (ErrInFlight: the settlement of the approval, which a slow ledger
// holds up, say), until -wait ends (ThroughOutage). The approval sent
// again is the consent that the card signed, the PIN not asked again.
// When the phone stops waiting for the approval's answer (-wait ends, or
// it is interrupted) before the cloud gave one, the payment may have
// gone through: the phone says so, on its screen and in its error, with
// where to see whether it did (the till's screen). When it stops before
// it sent a consent (the card signs one only once the phone has read the
// request again from the cloud), it says that the approval was not sent.
// When -wait ends before the payment request came, the phone's error says
// so (awaitRequest). An error of a run that ctx ended, such as an
// interrupt, names the cause of that end, the signal (Interrupted).
func RunShopper(ctx context.Context, args []string, stdout io.Writer) (err error) {
	defer func() { err = Interrupted(ctx, err) }()
	return runPhone(ctx, "shopper", "alice", "Corner Grocer", args, stdout, func(wctx context.Context, f *phoneFlags, ph *Phone, _ *payflow.Confirmation) error {
		v, err := awaitRequest(wctx, ph, f.pick)
		if err != nil {
			return err
		}
		// A consent that the cloud did not answer may have been settled:
		// the phone keeps it and sends it again, the card signing no other
		// (payflow's ApproveShown).
		consents := ph.consents.Load()
		err = ThroughOutage(wctx, func() error {
			if err == nil {
				_, err = ph.Approve(ctx, v, f.pin)
			} else {
				_, err = ph.ApproveAgain(ctx, v, f.pin, err)
			}
			return err
		})
		if !unanswered(err) {
			return err
		}
		why := whyStopped(ctx, wctx, "the phone")
		what := fmt.Sprintf("approval of request %s got no answer before %s: the payment may have gone through (the till shows whether it was paid)", Short(v.ID), why)
		if ph.consents.Load() == consents { // no consent left the phone
			what = fmt.Sprintf("approval of request %s was not sent before %s", Short(v.ID), why)
		}
		ph.Screen.Printf("The %s", what)
		return fmt.Errorf("demo: the %s: %w", what, err)
	})
}

// awaitRequest is the shopper program's wait for the payment request of
// from, the seller paired with (AwaitRequest), through an outage of the
// cloud (ThroughOutage) until ctx, the program's wait, ends; a wait that
// ctx ended fails with an error that says so (waitEnded).
func awaitRequest(ctx context.Context, ph *Phone, from string) (*payflow.PaymentView, error) {
	var v *payflow.PaymentView
	err := ThroughOutage(ctx, func() (err error) {
		v, err = ph.AwaitRequest(ctx)
		return err
	})
	return v, waitEnded(ctx, "the phone", "no payment request from "+from, err)
}

// waitEnded returns err, the error of a phone program's wait for what
// through ctx, the program's wait, wrapped to say that what did not come
// before -wait ended or who (the phone, or the till) was interrupted,
// when ctx ended and err is what it left (unanswered: the cloud did not
// answer, or the wait ended); other errors as they are.
func waitEnded(ctx context.Context, who, what string, err error) error {
	if ctx.Err() == nil || !unanswered(err) {
		return err
	}
	why := "-wait ended"
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		why = who + " was interrupted"
	}
	return fmt.Errorf("demo: %s before %s: %w", what, why, err)
}

// whyStopped says why who, a phone program, stopped waiting for the
// cloud: who was interrupted (ctx ended), -wait ended (wctx), or who gave
// up.
func whyStopped(ctx, wctx context.Context, who string) string {
	switch {
	case ctx.Err() != nil:
		return who + " was interrupted"
	case wctx.Err() != nil:
		return "-wait ended"
	}
	return who + " gave up"
}

// unanswered reports whether err, the error of a call to the cloud, left
// the call without the cloud's verdict: the cloud did not answer it
// (noAnswer), or the caller stopped waiting for it (its context ended).
func unanswered(err error) bool {
	return noAnswer(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// NotifyContext returns the context of an example program, which ends
// at its first interrupt (SIGINT, Ctrl-C) or SIGTERM, and the function
// that stops relaying them. Once the context has ended, they are no
// longer relayed: a second one ends the process at once, as the system's
// default does, where the program, interrupted, takes its time to end
// (a till withdrawing its payment request, for 13 seconds at most, or
// the cloud waiting 5 seconds for the calls under way). A process started
// with SIGINT ignored (a background job of a shell without job control)
// goes back to ignoring it once the context has ended: a second
// interrupt is ignored there, and SIGTERM still ends it.
func NotifyContext() (context.Context, context.CancelFunc) {
	return notifyContext(func() {})
}

// notifyContext is NotifyContext, which calls stopped once it no longer
// relays the signals, its context ended: a test tells by it when a second
// interrupt gets the system's default.
func notifyContext(stopped func()) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
		stopped()
	}()
	return ctx, stop
}

// Interrupted returns err, the error of a program whose context ctx
// (NotifyContext) ended, with the cause of the end added, such as
// "interrupt signal received", where err does not hold it already: a run
// cut short by an interrupt says so, rather than "context canceled"
// alone. An err of a context not ended, and nil, it returns as they are.
func Interrupted(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	cause := context.Cause(ctx)
	if errors.Is(err, cause) {
		return err
	}
	return fmt.Errorf("%w (%w)", err, cause)
}

// flagError is a flag that the flag package refused, and printed with the
// usage (ParseFlags); it matches ErrUsage.
type flagError struct{ err error }

func (e *flagError) Error() string   { return fmt.Sprintf("%v: %v", ErrUsage, e.err) }
func (e *flagError) Unwrap() []error { return []error{ErrUsage, e.err} }

// Exit is how the example programs end: nil and -h exit 0; a usage error
// (ErrUsage: a flag or argument refused) exits 2, as a program of the
// flag package does, and other errors exit 1. The error is printed once:
// one of the flag package, which it printed with the usage as it refused
// the flag (ParseFlags), is not printed again.
func Exit(name string, err error) {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return
	}
	var fe *flagError
	if !errors.As(err, &fe) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	}
	if errors.Is(err, ErrUsage) {
		os.Exit(2)
	}
	os.Exit(1)
}
