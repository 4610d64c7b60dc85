// Command tickets sells an e-ticket phone to phone: an event organiser
// issues seats as assets of the ledger (one ledger per seat) to a reseller,
// and a fan buys one from the reseller's phone. The seat and the money move
// in one atomic request, the seat as an asset leg of the payment (delivery
// versus payment): the fan holds the seat and the reseller does not. When
// the reseller then offers the same seat to a second fan, the cloud
// refuses to settle and neither the seat nor the money moves. A fan and
// the reseller whose selections of each other open two sessions, as the
// EID epoch ended after they heard each other or between the two
// selections, hear each other's new adverts and select each other again,
// up to 3 times (demo.SelectEachOther), and say so. The fans' service
// queues show the reseller's phone with the flags of its advert: assets,
// as her app exchanges e-tickets, and busy to the second fan, as her
// session with the first is still paired; the first fan, done with the
// reseller once she has her receipt, leaves that session, and her phone
// no longer says busy in the reseller's queue. Each phone's lines
// are labelled by its role, as in the other examples: [seller] for the
// reseller's, [shopper] for the fans', each fan's in the section of the
// sale to that fan. The cloud keeps its state in a temporary folder,
// removed at exit. It exits 0 once the first fan holds the seat and the
// cloud refused the second sale, 1 when a step goes otherwise, and 2 on a
// flag or argument that it refuses. An interrupt (SIGINT or SIGTERM) ends
// it with exit status 1 and an error that names the signal.
//
//	go run ./examples/tickets
//
// Flags:
//
//	-seed N  seed of the simulated radio (default 1)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/examples/internal/demo"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

func main() {
	ctx, stop := demo.NotifyContext()
	defer stop()
	demo.Exit("tickets", run(ctx, os.Args[1:], os.Stdout))
}

// The seats on sale, each an asset with a ledger of its own.
var seats = []struct {
	asset  string
	ledger uint32
	sku    string
	name   string
	price  uint64
}{
	{"ARENA-1231-A12", 1012, "A12", "New Year gig, seat A12", 4500},
	{"ARENA-1231-A14", 1014, "A14", "New Year gig, seat A14", 4500},
}

// market is the reseller Dana in front of two fans.
var market = demo.Market{
	Currency: "EUR",
	Shops:    []demo.Shop{{ID: "dana-tickets", Name: "Dana's Tickets"}},
	Parties: []demo.Party{
		// Dana's app exchanges e-tickets: her phone advertises assets.
		{Name: "dana", Display: "Dana's phone", Role: adv.Seller, MerchantID: "dana-tickets", X: 0, Y: 0, Assets: true},
		{Name: "erin", Display: "Erin", Role: adv.Shopper, X: 0.7, Y: 0.2, Funds: 10000},
		{Name: "frank", Display: "Frank", Role: adv.Shopper, X: 2.5, Y: -1, Funds: 10000},
	},
}

const organiser = "Riverside Arena"

func run(ctx context.Context, args []string, stdout io.Writer) (err error) {
	defer func() { err = demo.Interrupted(ctx, err) }()
	fs := flag.NewFlagSet("tickets", flag.ContinueOnError)
	seed := fs.Uint64("seed", 1, "seed `N` of the simulated radio")
	if err := demo.ParseFlags(fs, args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "casimpay-tickets-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	pr := demo.NewPrinter(stdout)
	cloudScreen := pr.Screen("cloud")
	step := func(format string, args ...any) { fmt.Fprintf(stdout, "\n== "+format+" ==\n", args...) }

	step("%s issues e-tickets to a reseller", organiser)
	cloud, err := demo.OpenCloud(ctx, demo.CloudOptions{Dir: dir})
	if err != nil {
		return err
	}
	defer cloud.Close()
	// A copy of the market's shops, so that the package's market keeps its
	// catalog for another run in this process.
	m := market
	m.Shops = slices.Clone(market.Shops)
	m.Shops[0].Catalog = slices.Clone(m.Shops[0].Catalog)
	for _, s := range seats {
		m.Shops[0].Catalog = append(m.Shops[0].Catalog, payflow.CatalogItem{SKU: s.sku, Name: s.name, UnitPrice: s.price})
	}
	ids, err := m.Setup(ctx, cloud, dir)
	if err != nil {
		return err
	}
	shop := m.Shops[0]
	for _, s := range seats {
		if err := cloud.Platform.RegisterAsset(ctx, s.asset, s.ledger); err != nil {
			return err
		}
		if err := cloud.Platform.Issue(ctx, payflow.ID{byte(s.ledger >> 8), byte(s.ledger)}, shop.ID, s.asset, 1); err != nil {
			return err
		}
		cloudScreen.Printf("%s issues %s (ledger %d) to %s", organiser, s.asset, s.ledger, shop.Name)
	}

	api := &demo.Narrator{API: cloud.Platform, Cloud: cloud, Screen: cloudScreen}
	root := cloud.Authority.Root.DER()
	phones := map[string]*demo.Phone{}
	var stations []*demo.Station
	var listeners []*demo.Listener
	for i := range m.Parties {
		p := &m.Parties[i]
		card, err := demo.OpenCard(dir, p.Name)
		if err != nil {
			return err
		}
		defer card.Close()
		ph, err := demo.NewPhone(p, card, api, pr.Screen(p.Role.String()), root)
		if err != nil {
			return err
		}
		phones[p.Name] = ph
		stations = append(stations, ph.Station)
		listeners = append(listeners, ph.Scanner)
	}
	dana, erin, frank := phones["dana"], phones["erin"], phones["frank"]
	for _, ph := range []*demo.Phone{dana, erin, frank} {
		if err := ph.Login(ctx); err != nil {
			return err
		}
	}
	radio := demo.NewRadio(*seed, 0.2)
	if err := radio.Rounds(ctx, 8, stations, listeners); err != nil {
		return err
	}
	owners := []struct{ id, name string }{{shop.ID, shop.Name}, {ids["erin"], "Erin"}, {ids["frank"], "Frank"}}
	holdings := func() error {
		for _, s := range seats {
			for _, owner := range owners {
				b, err := cloud.Platform.Balance(ctx, owner.id, s.asset)
				if errors.Is(err, payflow.ErrNotFound) {
					continue // never held one
				}
				if err != nil {
					return err
				}
				if b.Posted > 0 {
					cloudScreen.Printf("%s is held by %s", s.asset, owner.name)
				}
			}
		}
		for _, owner := range owners {
			b, err := cloud.Platform.Balance(ctx, owner.id, m.Currency)
			if err != nil {
				return err
			}
			cloudScreen.Printf("%-15s %s", owner.name+":", demo.Money(b.Posted, m.Currency))
		}
		return nil
	}
	if err := holdings(); err != nil {
		return err
	}

	// sell pairs the reseller with a fan and offers seat A12; it returns
	// the payment screen that the fan's phone shows.
	sell := func(fan *demo.Phone) (*payflow.PaymentView, error) {
		// The phones select each other again while their selections
		// open two sessions, as the EID epoch ended meanwhile: they hear
		// each other's new adverts first.
		err := demo.SelectEachOther(fan, dana, func() (*payflow.Confirmation, *payflow.Confirmation, error) {
			sellers, err := fan.ServiceQueue(ctx)
			if err != nil {
				return nil, nil, err
			}
			fans, err := dana.ServiceQueue(ctx)
			if err != nil {
				return nil, nil, err
			}
			return demo.ChooseEachOther(ctx, fan, sellers, shop.Name, dana, fans, fan.Party.Display)
		}, func() error { return radio.Rounds(ctx, 8, stations, listeners) })
		if err != nil {
			return nil, err
		}
		if _, err := fan.AwaitPaired(ctx); err != nil {
			return nil, err
		}
		if _, err := dana.AwaitPaired(ctx); err != nil {
			return nil, err
		}
		if _, err := dana.Charge(ctx, fan.Party.Display, []demo.Item{{SKU: seats[0].sku, Quantity: 1}}, []record.Leg{{Asset: seats[0].asset, Amount: 1}}); err != nil {
			return nil, err
		}
		return fan.AwaitRequest(ctx)
	}

	step("Erin buys seat A12 from Dana, phone to phone: the seat and the money move together")
	screen, err := sell(erin)
	if err != nil {
		return err
	}
	if _, err := erin.Approve(ctx, screen, demo.PIN); err != nil {
		return err
	}
	// Erin, her seat bought, is done with Dana: her phone leaves the
	// session, and its advert no longer says busy.
	if err := erin.Done(shop.Name); err != nil {
		return err
	}
	if _, _, err := dana.AwaitSettled(ctx); err != nil {
		return err
	}
	if err := holdings(); err != nil {
		return err
	}

	step("Dana offers seat A12 again, to Frank: Dana no longer holds it")
	// The phones hear the adverts around as they are now: Dana's says
	// busy, her session with Erin still paired (she goes on to Frank
	// without pressing done), and Erin's, done, no longer does.
	if err := radio.Rounds(ctx, 8, stations, listeners); err != nil {
		return err
	}
	if screen, err = sell(frank); err != nil {
		return err
	}
	_, err = frank.Approve(ctx, screen, demo.PIN)
	if !errors.Is(err, payflow.ErrFunds) {
		return fmt.Errorf("the second sale of %s: got %v, want a refusal", seats[0].asset, err)
	}
	// The phone cannot tell which leg was short: the money, or the seat
	// that the reseller delivers with it.
	frank.Screen.Printf("The cloud refused to settle, nothing paid: a leg of the payment is not covered, %s's money or the seat that %s delivers with it (%v)",
		frank.Party.Display, shop.Name, err)
	// The funds short are the seat the reseller should deliver, not the
	// fan's money.
	held, err := cloud.Platform.Balance(ctx, shop.ID, seats[0].asset)
	if err != nil {
		return err
	}
	cloudScreen.Printf("Nothing moved: %s holds %s to deliver, and the seat leg and the money leg are linked, all or nothing",
		shop.Name, demo.Money(held.Posted, seats[0].asset))
	v, err := dana.Seller.Cancel(ctx)
	if err != nil {
		return err
	}
	dana.Screen.Printf("Request %s %s", demo.Short(v.ID), v.State)
	return holdings()
}
