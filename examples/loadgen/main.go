// Command loadgen drives concurrent shopper–seller pairs through complete
// purchases for a while and reports purchases per second, the p50, p95,
// p99 and longest latency of a purchase, and the errors, with a progress
// line every -progress (a second by default). A purchase is what the two
// phones (payflow.Seller and payflow.Shopper) do after pairing: the
// seller's card signs a payment request, the cloud prices it, the
// shopper's phone fetches the payment screen, the card verifies the PIN
// and signs the consent, the cloud holds, captures and signs the receipt,
// and the shopper's phone verifies it. A purchase counts once the seller's
// till has verified the receipt, also one that the platform captured after
// the reply to the shopper's consent was lost. While the cloud does not
// answer a call of a purchase, or still works on one that it did not
// answer in time, the phone asks again, as the seller and shopper programs
// do: a purchase whose outcome is unknown is not an error. One still under
// way 2 seconds after -duration, also one whose outcome the cloud has not
// answered by then, counts as a timeout error, so that the run ends on
// time. An interrupt (SIGINT or SIGTERM) ends the run at once: loadgen
// prints the results so far and exits with status 1, as it does when no
// purchase completed (a second interrupt ends it before it has printed
// them), and one while it sets up exits 1 with an error that names the
// signal; a flag it refuses is exit status 2.
//
// By default the platform runs in this process on the embedded SQLite
// store in a temporary folder, with virtual cards in memory:
//
//	go run ./examples/loadgen -pairs 16 -duration 10s
//	go run ./examples/loadgen -http            # the same through the HTTP API on loopback
//	go run ./examples/loadgen -postgres 'postgres://…'
//
// Against a cloud program in another process, whose data folder holds the
// load cards (started with -pairs at least as large):
//
//	go run ./examples/cloud -pairs 16
//	go run ./examples/loadgen -pairs 16 -url http://127.0.0.1:8080
//
// A plain http URL whose host is not loopback is refused (exit status 2)
// unless -plain-http is given: over it the cards' bearer tokens and signed
// records cross the network in clear.
//
// The cards of a pair meet in the same session until their EIDs rotate,
// every ten minutes, and a seller phone moves past at most 16 request
// indexes that an earlier process used in its session per request, the
// next request going on from there, and a request there that was paid,
// which the phone did not see paid, ends the request with ErrFinal,
// reported once (PROTOCOL.md §5.6). So a second run with -url in the same
// ten-minute epoch as one that made N purchases per pair first counts
// about N final_state errors per pair, one for each of the first run's
// payments, while its sellers move past the first run's requests; after
// the next epoch (Unix time / 600) the sessions are new.
//
// Flags:
//
//	-pairs N         concurrent shopper–seller pairs, 1 to 1000 (default 8)
//	-duration D      how long to run, more than 0 (default 10s)
//	-progress D      interval of the progress line, 100ms at least
//	                 (default 1s)
//	-data DIR        the data folder (default: a temporary one in process,
//	                 $TMPDIR/casimpay-demo with -url); a DIR that is a file
//	                 is refused with exit status 2, and one that cannot be
//	                 written (with -url, its cards/) with exit status 1
//	                 and a line that names it and says why
//	-postgres DSN    in process: keep the state in PostgreSQL; a DSN that
//	                 does not parse (as a URL or keyword/value pairs), or
//	                 of white space alone, is refused with exit status 2
//	-http            in process: go through the HTTP API on a loopback port
//	-url URL         drive the cloud program at URL instead; with -postgres
//	                 or -http, which are for the platform in process, it is
//	                 refused with exit status 2
//	-plain-http      with -url: allow a plain http URL whose host is not
//	                 loopback (127.0.0.0/8, ::1 or localhost), over which
//	                 the cards' bearer tokens and signed records cross the
//	                 network in clear; without -url it is refused with
//	                 exit status 2
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/examples/internal/demo"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/queue"
)

func main() {
	ctx, stop := demo.NotifyContext()
	defer stop()
	demo.Exit("loadgen", run(ctx, os.Args[1:], os.Stdout))
}

// errInterrupted is the error of a run that an interrupt (SIGINT or
// SIGTERM) ended before -duration: its results, printed all the same,
// are partial.
var errInterrupted = errors.New("interrupted before -duration ended: the results are partial")

// minProgress is the shortest interval of the progress line that -progress
// takes: a shorter one would flood the output with lines.
const minProgress = 100 * time.Millisecond

type config struct {
	pairs              int
	duration, progress time.Duration
	dir, dsn, url      string
	http, plainHTTP    bool
	// platform configures the platform in process (tests shorten
	// lifetimes), and wrap, when set, wraps the API the phones talk to.
	platform payflow.PlatformOptions
	wrap     func(payflow.API) payflow.API
}

func run(ctx context.Context, args []string, stdout io.Writer) (err error) {
	defer func() { err = demo.Interrupted(ctx, err) }()
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	var c config
	fs.IntVar(&c.pairs, "pairs", 8, fmt.Sprintf("`N` concurrent shopper–seller pairs, 1 to %d", demo.MaxLoadPairs))
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "run for `D`, more than 0")
	fs.DurationVar(&c.progress, "progress", time.Second, fmt.Sprintf("print a progress line every `D`, at least %v", minProgress))
	fs.StringVar(&c.dir, "data", "", "the data folder `DIR` (default: a temporary one in process, "+demo.DefaultDir()+" with -url)")
	fs.StringVar(&c.dsn, "postgres", "", "in process: PostgreSQL `DSN`")
	fs.BoolVar(&c.http, "http", false, "in process: go through the HTTP API on a loopback port")
	fs.StringVar(&c.url, "url", "", "drive the cloud program at `URL` (not with -postgres or -http)")
	fs.BoolVar(&c.plainHTTP, "plain-http", false, "with -url: "+demo.PlainHTTPUsage)
	if err := demo.ParseFlags(fs, args); err != nil {
		return err
	}
	if c.pairs < 1 || c.pairs > demo.MaxLoadPairs {
		return fmt.Errorf("%w: -pairs must be from 1 to %d", demo.ErrUsage, demo.MaxLoadPairs)
	}
	if c.duration <= 0 {
		return fmt.Errorf("%w: -duration must be positive", demo.ErrUsage)
	}
	if c.progress < minProgress {
		return fmt.Errorf("%w: -progress must be at least %v", demo.ErrUsage, minProgress)
	}
	if c.url != "" && (c.dsn != "" || c.http) {
		return fmt.Errorf("%w: -postgres and -http are for the platform in process, not with -url", demo.ErrUsage)
	}
	if c.plainHTTP && c.url == "" {
		return fmt.Errorf("%w: -plain-http is for -url", demo.ErrUsage)
	}
	if c.url != "" {
		if err := demo.CheckURL(c.url, c.plainHTTP); err != nil {
			return err
		}
	}
	if err := demo.CheckDSN(c.dsn); err != nil {
		return err
	}
	if err := demo.CheckData(c.dir); err != nil {
		return err
	}
	pairs, where, cleanup, err := setup(ctx, &c)
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintf(stdout, "loadgen: %d pairs for %v against %s\n", c.pairs, c.duration, where)
	res, err := drive(ctx, pairs, c.duration, c.progress, stdout)
	if err != nil {
		return err
	}
	res.print(stdout)
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", errInterrupted, context.Cause(ctx))
	}
	if res.purchases == 0 {
		return errors.New("no purchase completed")
	}
	return nil
}

// pair is a shopper phone and a seller phone, paired.
type pair struct {
	shopper, seller *demo.Phone
}

// setup builds the pairs: cards enrolled on a platform in process, or
// those of the cloud program's data folder.
func setup(ctx context.Context, c *config) (pairs []*pair, where string, cleanup func(), err error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	quiet := demo.NewPrinter(io.Discard)
	market := demo.LoadMarket(c.pairs)
	var api payflow.API
	var cards map[string]*demo.Card
	var root []byte
	if c.url == "" {
		dir := c.dir
		if dir == "" {
			tmp, err := os.MkdirTemp("", "casimpay-loadgen-")
			if err != nil {
				return nil, "", nil, err
			}
			closers = append(closers, func() { os.RemoveAll(tmp) })
			dir = tmp
		}
		cloud, err := demo.OpenCloud(ctx, demo.CloudOptions{Dir: dir, PostgresDSN: c.dsn, Platform: c.platform})
		if err != nil {
			return nil, "", nil, err
		}
		closers = append(closers, func() { cloud.Close() })
		if cards, err = market.SetupInMemory(ctx, cloud); err != nil {
			return nil, "", nil, err
		}
		api, where, root = cloud.Platform, "the platform in process on "+cloud.Database, cloud.Authority.Root.DER()
		if c.http {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, "", nil, err
			}
			logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			h, err := payflow.NewHandler(cloud.Platform, payflow.HandlerOptions{Replies: cloud.Store, Logger: logger})
			if err != nil {
				return nil, "", nil, err
			}
			srv := payflow.NewServer("", h)
			go srv.Serve(ln)
			closers = append(closers, func() {
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				srv.Shutdown(sctx)
				h.Close() // before the cloud's store closes
			})
			url := "http://" + ln.Addr().String()
			if api, err = payflow.NewClient(url, payflow.ClientOptions{}); err != nil {
				return nil, "", nil, err
			}
			where = "the HTTP API at " + url + " of a platform on " + cloud.Database
		}
	} else {
		dir := c.dir
		if dir == "" {
			dir = demo.DefaultDir()
		}
		// The root first: without it no cloud set up the folder, and a
		// missing card is one that the cloud did not enrol.
		if root, err = demo.LoadRoot(dir); err != nil {
			return nil, "", nil, demo.NoCloudHint(err)
		}
		cards = make(map[string]*demo.Card)
		for _, p := range market.Parties {
			card, err := demo.OpenCard(dir, p.Name)
			if errors.Is(err, os.ErrNotExist) {
				return nil, "", nil, fmt.Errorf("%w (start the cloud with -pairs %d)", err, c.pairs)
			}
			if err != nil {
				return nil, "", nil, err
			}
			closers = append(closers, func() { card.Close() })
			cards[p.Name] = card
		}
		if api, err = demo.NewClient(c.url, c.plainHTTP); err != nil {
			return nil, "", nil, err
		}
		where = c.url
	}
	if c.wrap != nil {
		api = c.wrap(api)
	}
	for i := range c.pairs {
		p := &pair{}
		for _, ph := range []**demo.Phone{&p.shopper, &p.seller} {
			name := demo.LoadShopper(i)
			if ph == &p.seller {
				name = demo.LoadSeller(i)
			}
			if *ph, err = demo.NewPhone(market.Party(name), cards[name], api, quiet.Screen(name), root); err != nil {
				return nil, "", nil, err
			}
			if err := (*ph).Login(ctx); err != nil {
				return nil, "", nil, err
			}
		}
		if err := p.pair(ctx); err != nil {
			return nil, "", nil, err
		}
		pairs = append(pairs, p)
	}
	return pairs, where, closeAll, nil
}

// pair has both phones hear each other's advert and select each other,
// and again, with the EIDs of the phones' clock then, while their
// selections open two sessions as the EID epoch ended between them
// (demo.SelectEachOther), and waits until the shopper is paired.
func (p *pair) pair(ctx context.Context) error {
	err := demo.SelectEachOther(p.shopper, p.seller, func() (c1, c2 *payflow.Confirmation, err error) {
		now := demo.WallClock()
		shopperEID, err := p.shopper.EID(now)
		if err != nil {
			return nil, nil, err
		}
		sellerEID, err := p.seller.EID(now)
		if err != nil {
			return nil, nil, err
		}
		for _, h := range []struct {
			q   *queue.Queue
			eid adv.EID
			r   adv.Role
		}{{p.shopper.Scanner.Queue, sellerEID, adv.Seller}, {p.seller.Scanner.Queue, shopperEID, adv.Shopper}} {
			if err := h.q.Observe(adv.Packet{Role: h.r, EID: h.eid}, -60, time.Time{}); err != nil {
				return nil, nil, err
			}
		}
		if c1, err = p.shopper.Shopper.Select(ctx, sellerEID); err != nil {
			return nil, nil, err
		}
		c2, err = p.seller.Seller.Select(ctx, shopperEID)
		return c1, c2, err
	}, nil)
	if err != nil {
		return err
	}
	_, err = p.shopper.Shopper.WaitPaired(ctx)
	return err
}

// purchase runs one purchase of the pair with payflow's phone logic: the
// seller's card signs the request, the shopper's phone fetches the payment
// screen (checked against the signed request), the card verifies the PIN
// and signs the consent, the cloud settles, the shopper's phone verifies
// the receipt offline, and the seller's till reads the payment and
// verifies its receipt too, as a till shows the payment before it asks
// for the next (a Request fails with ErrFinal while a payment on screen
// was not seen paid). A payment settled in an earlier purchase whose
// receipt did not reach the shopper's phone is collected first
// (demo.Phone.NextRequest). While the cloud does not answer a call of the
// purchase (payflow.ErrUnavailable), or still works on one that it did not
// answer in time (payflow.ErrInFlight), the phone asks again, as the phone
// programs do (demo.ThroughOutage), until ctx ends: the outcome is not
// known yet. A payment request or consent sent again is the one the card
// signed, which the phone keeps (payflow's Seller.Request and
// Shopper.ApproveShown): one recorded without an answer is cancelled and
// the card signs a new request, and a consent settled without an answer
// returns its receipt. When the approval fails otherwise, the till reads
// its request once: one that the platform captured all the same counts
// once its receipt verifies, and the till, having seen it paid, asks for
// the next payment without ErrFinal; otherwise the approval's error fails
// the purchase. A request that ends without a capture fails the purchase
// with ErrFinal.
func (p *pair) purchase(ctx context.Context) error {
	err := demo.ThroughOutage(ctx, func() error {
		_, err := p.seller.Seller.Request(ctx, payflow.Charge{Items: []record.Item{{SKU: "item", Quantity: 1}}})
		return err
	})
	if err != nil {
		return err
	}
	var screen *payflow.PaymentView
	err = demo.ThroughOutage(ctx, func() (err error) {
		screen, err = p.shopper.NextRequest(ctx)
		return err
	})
	if err != nil {
		return err
	}
	err = demo.ThroughOutage(ctx, func() error {
		_, err := p.shopper.Shopper.ApproveShown(ctx, screen, demo.PIN)
		return err
	})
	if err != nil {
		if v, serr := p.seller.Seller.Status(ctx); serr != nil || v.State != payflow.StateCaptured {
			return err
		}
	}
	var v *payflow.PaymentView
	var rc *payflow.Receipt
	err = demo.ThroughOutage(ctx, func() (err error) {
		v, rc, err = p.seller.Seller.Wait(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if rc == nil {
		return fmt.Errorf("%w: payment %s", payflow.ErrFinal, v.State)
	}
	return nil
}

// purchaseGrace is how long past the end of a run a purchase under way
// may take to complete.
const purchaseGrace = 2 * time.Second

// result is what a run measured.
type result struct {
	elapsed   time.Duration
	purchases int
	latencies []time.Duration
	errors    map[string]int
}

// drive runs every pair in a loop of purchases for d, printing progress.
// A purchase under way when d is over may complete within purchaseGrace,
// and counts as a "timeout" error when it does not, also one that waits
// for the cloud to answer (purchase); ctx ending stops all at once.
func drive(ctx context.Context, pairs []*pair, d, progress time.Duration, stdout io.Writer) (*result, error) {
	deadline := time.Now().Add(d)
	var (
		count, failed atomic.Int64
		mu            sync.Mutex
		latencies     []time.Duration
		errs          = map[string]int{}
		wg            sync.WaitGroup
	)
	start := time.Now()
	for _, p := range pairs {
		wg.Go(func() {
			var mine []time.Duration
			pctx, cancel := context.WithDeadline(ctx, deadline.Add(purchaseGrace))
			defer cancel()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				err := p.purchase(pctx)
				switch {
				case err == nil:
					mine = append(mine, time.Since(t0))
					count.Add(1)
				case ctx.Err() != nil:
				default:
					failed.Add(1)
					code := payflow.AsError(err).Code
					if pctx.Err() != nil {
						code = "timeout" // not complete within purchaseGrace
					}
					mu.Lock()
					errs[code]++
					mu.Unlock()
					if errors.Is(err, payflow.ErrExpired) {
						_ = p.pair(pctx) // the session ended: pair again
					}
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	tick := time.NewTicker(progress)
	defer tick.Stop()
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	last, lastAt := int64(0), start
	for {
		select {
		case <-finished:
			return &result{elapsed: time.Since(start), purchases: len(latencies), latencies: latencies, errors: errs}, nil
		case now := <-tick.C:
			n := count.Load()
			fmt.Fprintf(stdout, "loadgen: %5.1fs  %7d purchases  %7.1f/s  %d errors\n",
				now.Sub(start).Seconds(), n, float64(n-last)/now.Sub(lastAt).Seconds(), failed.Load())
			last, lastAt = n, now
		}
	}
}

// percentile returns the p-th percentile (nearest rank) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func (r *result) print(w io.Writer) {
	slices.Sort(r.latencies)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(w, "purchases: %d in %.1fs = %.1f/s\n", r.purchases, r.elapsed.Seconds(), float64(r.purchases)/r.elapsed.Seconds())
	fmt.Fprintf(w, "latency: p50 %s, p95 %s, p99 %s, max %s\n",
		ms(percentile(r.latencies, 50)), ms(percentile(r.latencies, 95)), ms(percentile(r.latencies, 99)), ms(percentile(r.latencies, 100)))
	var parts []string
	total := 0
	for code, n := range r.errors {
		parts = append(parts, fmt.Sprintf("%s %d", code, n))
		total += n
	}
	slices.Sort(parts)
	if total == 0 {
		fmt.Fprintln(w, "errors: 0")
		return
	}
	fmt.Fprintf(w, "errors: %d (%s)\n", total, strings.Join(parts, ", "))
}
