// Command grocery runs a whole in-person purchase in one process: a cloud
// platform on the embedded SQLite store, a grocery merchant with a catalog,
// a shopper with a funded wallet, both with personalised virtual CA-SIM
// cards, and a simulated Bluetooth radio with two more stalls and two more
// shoppers in range. It prints what each phone's screen shows at every
// step, labelled [shopper], [seller] and [cloud], and exits 0 once both
// phones have verified the receipt, 1 when the purchase fails, and 2 on a
// flag or argument that it refuses. An interrupt (SIGINT or SIGTERM) ends
// it with exit status 1 and an error that names the signal. When the
// purchase stops short once the till asked, the till withdraws its payment
// request, as the seller program does, and says so when the request had
// expired, when the shopper's approval of it was still being settled (the
// payment's outcome unknown) and when the withdrawal failed; a request that
// the shopper paid as the till gave up is the purchase. A payment whose
// receipt the till could not verify (the program was interrupted first,
// say) is said to be paid, its receipt not checked. Phones whose
// selections of each other open two sessions, as the EID epoch ended
// after they heard each other or between the two selections, hear each
// other's new adverts and select each other again, up to 3 times
// (demo.SelectEachOther), and say so.
//
//	go run ./examples/grocery               # in a temporary folder
//	go run ./examples/grocery -data ./shop  # keep the state; run again to continue
//
// A -data folder that holds the cards or the database of an earlier run
// but not its demo CA (the folder pki/ removed, say), whose cards a new
// CA would not know, is refused at the setup (exit status 1), the error
// saying to restore pki/ or remove the whole folder, and nothing in it
// changes.
//
// Runs started at once on one -data folder, or with the cloud program on
// it, set it up once between them (the demo CA, the cards); a run that
// finds a card in use by another fails with "card in use", and the folder
// stays as the other left it.
//
// Flags:
//
//	-data DIR    keep the database, the demo CA and the card state files in
//	             DIR (default: a temporary folder, removed at exit); a DIR
//	             that is a file is refused with exit status 2, and one that
//	             cannot be written (nor made), or whose cards/ or database
//	             cannot be, with exit status 1 and a line that names it
//	             and says why
//	-seed N      seed of the simulated radio (default 1)
//	-loss P      share of adverts the radio loses, at least 0 and less than
//	             1 (default 0.2)
//	-rounds N    advertising rounds heard before the queues are shown, 1 to
//	             10000 (maxRounds; default 8)
//	-pin DIGITS  the PIN the shopper types, 4 to 12 digits (default 123456,
//	             the demo cards' PIN)
//	-puk DIGITS  the PUK the shopper types when the card's PIN is blocked
//	             (after 3 wrong PINs), 8 digits (the demo cards' PUK is
//	             12345678): it unblocks the card and makes -pin its PIN
//	             (default: none, and a blocked PIN fails the purchase,
//	             the shopper's phone saying that -puk unblocks it)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/casimpay/casimpay/examples/internal/demo"
	"github.com/casimpay/casimpay/payflow"
)

// maxRounds is the most advertising rounds that -rounds takes: a few
// seconds of broadcasting, where more would keep the program from its
// purchase for as long as the count is large.
const maxRounds = 10000

// now is the cloud's clock.
var now = time.Now

func main() {
	ctx, stop := demo.NotifyContext()
	defer stop()
	demo.Exit("grocery", run(ctx, os.Args[1:], os.Stdout))
}

// run is the program: it parses args and prints the screens to stdout.
func run(ctx context.Context, args []string, stdout io.Writer) (err error) {
	defer func() { err = demo.Interrupted(ctx, err) }()
	fs := flag.NewFlagSet("grocery", flag.ContinueOnError)
	data := fs.String("data", "", "keep the state in `DIR` (default: a temporary folder, removed at exit)")
	seed := fs.Uint64("seed", 1, "seed `N` of the simulated radio")
	loss := fs.Float64("loss", 0.2, "share `P` of the adverts that the radio loses, at least 0 and less than 1")
	rounds := fs.Int("rounds", 8, fmt.Sprintf("`N` advertising rounds heard before the queues are shown, 1 to %d", maxRounds))
	pin := fs.String("pin", demo.PIN, demo.PINUsage)
	puk := fs.String("puk", "", demo.PUKUsage)
	if err := demo.ParseFlags(fs, args); err != nil {
		return err
	}
	if !(*loss >= 0 && *loss < 1) { // NaN too
		return fmt.Errorf("%w: -loss must be in [0, 1)", demo.ErrUsage)
	}
	if *rounds < 1 || *rounds > maxRounds {
		return fmt.Errorf("%w: -rounds %d is not from 1 to %d", demo.ErrUsage, *rounds, maxRounds)
	}
	if err := demo.CheckPIN(*pin); err != nil {
		return err
	}
	if err := demo.CheckPUK(*puk); err != nil {
		return err
	}
	if err := demo.CheckData(*data); err != nil {
		return err
	}
	dir := *data
	if dir == "" {
		tmp, err := os.MkdirTemp("", "casimpay-grocery-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}

	pr := demo.NewPrinter(stdout)
	cloudScreen, shopperScreen, sellerScreen := pr.Screen("cloud"), pr.Screen("shopper"), pr.Screen("seller")
	step := func(format string, args ...any) { fmt.Fprintf(stdout, "\n== "+format+" ==\n", args...) }

	step("The cloud and the market")
	cloud, err := demo.OpenCloud(ctx, demo.CloudOptions{Dir: dir, Platform: payflow.PlatformOptions{Now: now}})
	if err != nil {
		return err
	}
	defer cloud.Close()
	cloudScreen.Printf("Platform on %s", cloud.Database)
	market := demo.Grocery
	ids, err := market.Setup(ctx, cloud, dir)
	if err != nil {
		return err
	}
	shop := market.Shops[0]
	cloudScreen.Printf("Merchant %s (%s) sells %d items in %s", shop.Name, shop.ID, len(shop.Catalog), market.Currency)
	var basketTotal uint64
	prices := make(map[string]uint64)
	for _, it := range shop.Catalog {
		prices[it.SKU] = it.UnitPrice
	}
	for _, it := range demo.GroceryBasket {
		basketTotal += prices[it.SKU] * it.Quantity
	}
	alice := market.Party("alice")
	if topped, err := demo.TopUp(ctx, cloud, ids["alice"], market.Currency, basketTotal, alice.Funds); err != nil {
		return err
	} else if topped {
		cloudScreen.Printf("Alice's wallet was short: topped up with %s", demo.Money(alice.Funds, market.Currency))
	}
	start := make(map[string]uint64)
	for _, owner := range []string{ids["alice"], shop.ID} {
		b, err := cloud.Platform.Balance(ctx, owner, market.Currency)
		if err != nil {
			return err
		}
		start[owner] = b.Posted
	}
	cloudScreen.Printf("Balances: Alice %s, %s %s", demo.Money(start[ids["alice"]], market.Currency), shop.Name, demo.Money(start[shop.ID], market.Currency))

	api := &demo.Narrator{API: cloud.Platform, Cloud: cloud, Screen: cloudScreen}
	root := cloud.Authority.Root.DER()
	var stations []*demo.Station
	var listeners []*demo.Listener
	var shopper, seller *demo.Phone
	for i := range market.Parties {
		p := &market.Parties[i]
		card, err := demo.OpenCard(dir, p.Name)
		if err != nil {
			return err
		}
		defer card.Close()
		screen := pr.Screen(p.Name)
		switch p.Name {
		case "alice":
			screen = shopperScreen
		case "till":
			screen = sellerScreen
		}
		ph, err := demo.NewPhone(p, card, api, screen, root)
		if err != nil {
			return err
		}
		stations = append(stations, ph.Station)
		listeners = append(listeners, ph.Scanner)
		switch p.Name {
		case "alice":
			shopper = ph
			shopper.PUK = *puk
		case "till":
			seller = ph
		}
	}

	step("1–2. Both apps start and log in; every card broadcasts its advert")
	if err := shopper.Login(ctx); err != nil {
		return err
	}
	if err := seller.Login(ctx); err != nil {
		return err
	}
	radio := demo.NewRadio(*seed, *loss)
	if err := radio.Rounds(ctx, *rounds, stations, listeners); err != nil {
		return err
	}
	shopperScreen.Printf("Heard %d advertising rounds from %d phones (%.0f%% of adverts lost)", *rounds, len(stations)-1, *loss*100)

	step("3. Service queues: the phones of the other role nearby, names from the cloud")
	sellers, err := shopper.ServiceQueue(ctx)
	if err != nil {
		return err
	}
	shoppers, err := seller.ServiceQueue(ctx)
	if err != nil {
		return err
	}

	step("4. Face to face, both confirm each other: same name, same pairing code")
	// The phones select each other again while their selections open two
	// sessions, as the EID epoch ended meanwhile: they hear each other's
	// new adverts and read the service queues again first.
	err = demo.SelectEachOther(shopper, seller, func() (*payflow.Confirmation, *payflow.Confirmation, error) {
		return demo.ChooseEachOther(ctx, shopper, sellers, shop.Name, seller, shoppers, alice.Display)
	}, func() (err error) {
		if err = radio.Rounds(ctx, *rounds, stations, listeners); err != nil {
			return err
		}
		if sellers, err = shopper.ServiceQueue(ctx); err != nil {
			return err
		}
		shoppers, err = seller.ServiceQueue(ctx)
		return err
	})
	if err != nil {
		return err
	}
	c1, err := shopper.AwaitPaired(ctx)
	if err != nil {
		return err
	}
	c2, err := seller.AwaitPaired(ctx)
	if err != nil {
		return err
	}
	if c1.SessionID != c2.SessionID || c1.PairingCode != c2.PairingCode {
		return fmt.Errorf("the phones are in different sessions")
	}

	step("5–6. The till sends a card-signed payment request; the cloud prices it")
	sale, err := seller.Price(ctx, c2.Name, demo.GroceryBasket, nil)
	if err != nil {
		return err
	}
	asked, err := seller.Ask(ctx, sale)
	if err != nil {
		return err
	}
	screen, err := shopper.AwaitRequest(ctx)
	var rc *payflow.Receipt
	if err == nil {
		step("7. The shopper approves with the card's PIN; the cloud settles and signs the receipt")
		rc, err = shopper.Approve(ctx, screen, *pin)
	}
	if err != nil {
		// A request left pending would be the first that the shopper's
		// phone finds in a later run with -data (the two cards meet in
		// this session again until their EIDs rotate): the till withdraws
		// it when the purchase stops short, as the seller program does,
		// and says why it could not. Were the program killed first, the
		// till's pairing in the later run, before the shopper's phone
		// looks for a request, would have the cloud cancel it
		// (PROTOCOL.md §6.1).
		again := "" // the temporary folder goes with the program
		if *data != "" {
			again = "run grocery again with -data " + *data + " to see it"
		}
		if _, rc, err = seller.GiveUp(ctx, ctx, sale.Shopper, asked, err, again); err != nil {
			return err
		}
	} else {
		if _, _, err := seller.AwaitSettled(ctx); err != nil {
			return seller.PaidUnchecked(sale.Shopper, asked, err) // the shopper has the receipt
		}
		// The purchase ended, both receipts shown: Alice and the till
		// are done with each other, and their phones no longer say busy.
		if err := shopper.Done(shop.Name); err != nil {
			return err
		}
		if err := seller.Done(alice.Display); err != nil {
			return err
		}
	}

	step("Final balances")
	for _, owner := range []struct{ id, name string }{{ids["alice"], alice.Display}, {shop.ID, shop.Name}} {
		b, err := cloud.Platform.Balance(ctx, owner.id, market.Currency)
		if err != nil {
			return err
		}
		cloudScreen.Printf("%-14s %s (was %s)", owner.name+":", demo.Money(b.Posted, market.Currency), demo.Money(start[owner.id], market.Currency))
	}
	if *data == "" {
		cloudScreen.Printf("Paid %s. Run with -data DIR to keep the accounts for another run.", demo.Money(rc.Amount, rc.Currency))
	} else {
		cloudScreen.Printf("Paid %s. The state is kept in %s: run again to continue.", demo.Money(rc.Amount, rc.Currency), dir)
	}
	return nil
}
