package demo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
)

// Party is a phone of a market: its card, its user and where it stands.
type Party struct {
	// Name names the card file; Display is the user's name as the cloud
	// shows it (for a seller card, the till's name; the merchant's name is
	// what shoppers see).
	Name, Display string
	Role          adv.Role
	// MerchantID is the merchant of a seller card.
	MerchantID string
	// X and Y place the phone, in metres; the radio derives the signal
	// strength from the distance.
	X, Y float64
	// Funds is what the wallet of a shopper card receives on enrolment, in
	// minor units of the market's currency.
	Funds uint64
	// Assets has the phone's app exchange e-tickets and other assets, not
	// only money (payflow.PhoneOptions.Assets): its advert says so
	// (adv.FlagAssets), which the other phones' service queues show.
	Assets bool
}

// Distance returns the distance between two parties in metres, at least
// 10 cm.
func (p *Party) Distance(q *Party) float64 {
	return max(0.1, math.Hypot(p.X-q.X, p.Y-q.Y))
}

// Shop is a merchant of a market.
type Shop struct {
	ID, Name string
	Catalog  []payflow.CatalogItem
}

// Market is everything the cloud knows before a purchase: merchants with
// their catalogs, and the cards of the phones around.
type Market struct {
	Currency string
	Shops    []Shop
	Parties  []Party
}

// Party returns the party with the given card name.
func (m *Market) Party(name string) *Party {
	for i := range m.Parties {
		if m.Parties[i].Name == name {
			return &m.Parties[i]
		}
	}
	return nil
}

// Setup makes the market exist on the cloud of the data folder dir: it
// personalises and enrols the cards that do not exist yet, enrols the
// merchants with their seller cards and catalogs, and funds each new
// shopper wallet once. Running it again changes nothing but the catalogs.
// It returns the ICCID of each card by name. It holds the data folder's
// setup lock meanwhile (SetupLockFile), waiting until ctx ends while
// another program, or another Setup or LoadAuthority, holds it, so that
// programs started at once on one folder make each card once. The cards
// that it finds enrolled it loads into the cloud's EID resolver
// (payflow.Platform.Reload): another program may have enrolled them after
// the cloud started, and the platform would otherwise not name them until
// its own reload for an EID it does not know, which it makes at most once
// a second.
func (m *Market) Setup(ctx context.Context, c *Cloud, dir string) (_ map[string]string, err error) {
	unlock, err := holdSetup(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, unlock()) }()
	ids := make(map[string]string, len(m.Parties))
	for _, p := range m.Parties {
		id, err := ensureCard(ctx, c, dir, p.Name, p.Display)
		if err != nil {
			return nil, err
		}
		ids[p.Name] = id
	}
	if err := c.Platform.Reload(ctx); err != nil {
		return nil, fmt.Errorf("demo: loading the enrolled cards: %w", err)
	}
	return ids, m.setup(ctx, c, ids)
}

// SetupInMemory is Setup with cards that live in memory only, made anew
// on every call; it returns them by name.
func (m *Market) SetupInMemory(ctx context.Context, c *Cloud) (map[string]*Card, error) {
	cards := make(map[string]*Card, len(m.Parties))
	ids := make(map[string]string, len(m.Parties))
	for _, p := range m.Parties {
		card, err := NewMemoryCard(ctx, c, p.Name, p.Display)
		if err != nil {
			return nil, err
		}
		cards[p.Name], ids[p.Name] = card, card.ICCID
	}
	return cards, m.setup(ctx, c, ids)
}

// setup enrols the merchants and funds the wallets of the cards ids.
func (m *Market) setup(ctx context.Context, c *Cloud, ids map[string]string) error {
	for _, s := range m.Shops {
		var sellers []string
		for _, p := range m.Parties {
			if p.MerchantID == s.ID {
				sellers = append(sellers, ids[p.Name])
			}
		}
		err := c.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: s.ID, Name: s.Name, Currency: m.Currency, SellerCardIDs: sellers})
		if err != nil {
			return fmt.Errorf("demo: merchant %s: %w", s.ID, err)
		}
		if err := c.Platform.SetCatalog(ctx, s.ID, s.Catalog); err != nil {
			return fmt.Errorf("demo: catalog of %s: %w", s.ID, err)
		}
	}
	for _, p := range m.Parties {
		if p.Role != adv.Shopper {
			continue
		}
		if err := c.Platform.OpenAccount(ctx, ids[p.Name], m.Currency); err != nil {
			return fmt.Errorf("demo: wallet of %s: %w", p.Name, err)
		}
		if p.Funds > 0 {
			// Derived from the card: a second run funds nothing more.
			fid := fundingID(ids[p.Name], m.Currency)
			if err := c.Platform.Fund(ctx, fid, ids[p.Name], m.Currency, p.Funds); err != nil {
				return fmt.Errorf("demo: fund %s: %w", p.Name, err)
			}
		}
	}
	return nil
}

// TopUp funds a wallet with amount when less than need is available, and
// reports whether it did.
func TopUp(ctx context.Context, c *Cloud, cardID, currency string, need, amount uint64) (bool, error) {
	b, err := c.Platform.Balance(ctx, cardID, currency)
	if err != nil {
		return false, err
	}
	if b.Available() >= need {
		return false, nil
	}
	var id payflow.ID
	if _, err := rand.Read(id[:]); err != nil {
		return false, err
	}
	return true, c.Platform.Fund(ctx, id, cardID, currency, amount)
}

// Grocery is the market of the grocery examples: Alice in front of the
// till of Corner Grocer, with two other stalls and two other shoppers
// within Bluetooth range.
var Grocery = Market{
	Currency: "EUR",
	Shops: []Shop{
		{ID: "corner-grocer", Name: "Corner Grocer", Catalog: []payflow.CatalogItem{
			{SKU: "apple", Name: "Apple (Braeburn)", UnitPrice: 45},
			{SKU: "bread", Name: "Sourdough loaf", UnitPrice: 420},
			{SKU: "coffee", Name: "Ground coffee 250 g", UnitPrice: 549},
			{SKU: "eggs", Name: "Free-range eggs (6)", UnitPrice: 289},
			{SKU: "milk", Name: "Milk 1 l", UnitPrice: 119},
		}},
		{ID: "coffee-cart", Name: "Coffee Cart", Catalog: []payflow.CatalogItem{
			{SKU: "espresso", Name: "Espresso", UnitPrice: 220},
		}},
		{ID: "flower-stall", Name: "Flower Stall", Catalog: []payflow.CatalogItem{
			{SKU: "tulips", Name: "Tulips (10)", UnitPrice: 650},
		}},
	},
	Parties: []Party{
		{Name: "alice", Display: "Alice", Role: adv.Shopper, X: 0, Y: 0, Funds: 5000},
		{Name: "till", Display: "Corner Grocer till 1", Role: adv.Seller, MerchantID: "corner-grocer", X: 0.8, Y: 0},
		{Name: "bob", Display: "Bob", Role: adv.Shopper, X: 1.5, Y: 1.8},
		{Name: "chen", Display: "Chen", Role: adv.Shopper, X: -4, Y: 3},
		{Name: "coffee-cart", Display: "Coffee Cart", Role: adv.Seller, MerchantID: "coffee-cart", X: 0, Y: 3.5},
		{Name: "flower-stall", Display: "Flower Stall", Role: adv.Seller, MerchantID: "flower-stall", X: -5, Y: -3},
	},
}

// GroceryBasket is what Alice buys.
var GroceryBasket = []Item{{"apple", 4}, {"bread", 1}, {"milk", 2}, {"eggs", 1}}

// Item is a SKU and a quantity of a basket.
type Item struct {
	SKU      string
	Quantity uint64
}

// LoadPrice is the price of the one item of each shop of LoadMarket.
const LoadPrice = 100

// MaxLoadPairs is the most pairs of LoadMarket that the cloud program
// enrols (its -pairs) and the load generator drives (its -pairs): each
// pair is two cards, whose state files the cloud writes into its data
// folder, a merchant with its catalog and a funded wallet, all made or
// enrolled again at every start of the cloud, and the load generator runs
// two phones of each at once.
const MaxLoadPairs = 1000

// LoadMarket is the market of the load generator: n pairs of a shopper
// and a seller, each seller the till of a shop of its own (so that the
// pairs do not all credit one hot merchant account), each shopper funded
// for a million purchases.
func LoadMarket(n int) Market {
	m := Market{Currency: "EUR"}
	for i := range n {
		shop := fmt.Sprintf("load-shop-%03d", i)
		m.Shops = append(m.Shops, Shop{ID: shop, Name: fmt.Sprintf("Load shop %d", i), Catalog: []payflow.CatalogItem{
			{SKU: "item", Name: "Item", UnitPrice: LoadPrice},
		}})
		m.Parties = append(m.Parties,
			Party{Name: LoadShopper(i), Display: fmt.Sprintf("Load shopper %d", i), Role: adv.Shopper, Funds: 1_000_000 * LoadPrice},
			Party{Name: LoadSeller(i), Display: fmt.Sprintf("Load till %d", i), Role: adv.Seller, MerchantID: shop},
		)
	}
	return m
}

// LoadShopper and LoadSeller name the cards of pair i of LoadMarket.
func LoadShopper(i int) string { return fmt.Sprintf("load-shopper-%03d", i) }

// LoadSeller names the seller card of pair i of LoadMarket.
func LoadSeller(i int) string { return fmt.Sprintf("load-till-%03d", i) }
