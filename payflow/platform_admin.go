package payflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/pki/record"
)

// EnrollCard enrols a card: its chain (DER, card certificate first) must
// verify with the platform's pki.Verifier, and advSecret is the card's
// advertising secret (adv.SecretSize bytes) from personalisation. It
// returns the card ID. Enrolling a card again replaces its chain, secret
// and name; the tokens of its logins serve only while it is enrolled with
// the card certificate they were proved with (Platform.Login), so that
// enrolling it with another one (a new key after the old certificate's
// revocation, say) ends them. Such an enrolment, and one with another
// secret, also ends the card's sessions and cancels the pending requests
// that it signed or would pay (Store.PutCard), as its revocation
// withdraws them: what the card confirmed or signed as enrolled before
// goes with it (a session is named by its cards' EIDs, which the secret
// derives, so that no card given the former secret meets the card's
// sessions again). The process's EID resolver then holds the card with
// the secret that the store holds, read again once written, so that of
// enrolments of one card at once with different secrets in one process
// it ends with the one the store kept. A platform process that holds
// the former chain in its card cache accepts the former key's records
// until the entry expires (PlatformOptions.CacheTTL); what they store
// then stays. No two cards share a secret, or an EID would resolve to
// either. Errors: ErrCard for a chain that does not verify, ErrInvalid
// for a bad secret or name, ErrConflict for a secret another enrolled
// card has, and the store's, of its write or of the read of the card
// once written (the card then stored, see enrolStored).
func (p *Platform) EnrollCard(ctx context.Context, chain [][]byte, advSecret []byte, displayName string) (string, error) {
	vc, err := p.verifier.VerifyCard(chain)
	if err != nil {
		return "", verifyError(err)
	}
	c := &CardRecord{ID: vc.CardID, Chain: chain, AdvSecret: advSecret, DisplayName: displayName, EnrolledAt: p.now()}
	if err := CheckCard(c); err != nil {
		return "", err
	}
	if err := checkName("display name", displayName); err != nil {
		return "", err
	}
	if err := p.store.PutCard(ctx, c); err != nil {
		return "", err
	}
	p.cache.forgetCard(c.ID)
	if err := p.enrolStored(ctx, c.ID); err != nil {
		return "", err
	}
	return c.ID, nil
}

// enrolStored enrols card id, which this process has just stored, in its
// EID resolver with the advertising secret, and the role (a seller card or
// not), that the store holds for it now: read again, under p.enrolling,
// rather than the one written, so that of enrolments of one card at once
// with different secrets the resolver ends with the secret the store
// holds. Each reads the store after its own write, and the last to read
// does so after every write, whichever order the writes and the reads came
// in. A read that fails leaves the resolver as it was, and is returned
// (the card stored: its EIDs resolve once a reload, which an EID that does
// not resolve starts, has loaded it); the read is not cut short by ctx's
// end, which would leave the card stored and not loaded in the same way.
func (p *Platform) enrolStored(ctx context.Context, id string) error {
	p.enrolling.Lock()
	defer p.enrolling.Unlock()
	c, err := p.store.Card(context.WithoutCancel(ctx), id)
	if err != nil {
		return err
	}
	if err := p.resolver.enrol(id, c.AdvSecret, c.MerchantID != ""); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// checkID checks an identifier the records carry (a merchant ID, a SKU,
// an asset name): record.CheckText's rule.
func checkID(field, s string) error {
	if err := record.CheckText(field, s); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// checkMerchantUTF8 refuses a merchant ID that is not UTF-8 with
// ErrInvalid: no merchant is enrolled under one (checkID), and a reply
// naming it could not be encoded (a CBOR text string is UTF-8).
func checkMerchantUTF8(id string) error {
	if !utf8.ValidString(id) {
		return fmt.Errorf("%w: merchant ID must be UTF-8", ErrInvalid)
	}
	return nil
}

// checkName checks a name shown on the phones' screens (a card's display
// name, a merchant's name, a catalog item's name): record.CheckName's
// rule, so that whatever is accepted here fits in a receipt.
func checkName(field, s string) error {
	if err := record.CheckName(field, s); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// EnrollMerchant enrols or updates a merchant: its ID and currency are
// checked, its ledger account in its currency is created, and its seller
// cards (already enrolled) become its cards, the only ones: enrolling a
// merchant again without one of its seller cards takes that card away
// (it stays enrolled, as a shopper's card), and listing a card of another
// merchant moves it here. The change holds at once in this Platform and
// within PlatformOptions.CacheTTL in others on the same store, but for
// the EID of a card made a seller card, which the others answer a shopper
// card as an unknown EID until they reload the cards or the card logs in
// there: to a shopper card that asks, at the latest CardReloadInterval
// after the change (see Platform.Resolve). A merchant
// keeps the currency it was first enrolled in, which its account, its
// catalog's prices and its payment requests are in. Its ID may not be an
// ICCID (record.CheckCardID), which a card could have: Balance tells a
// card's wallet from a merchant's account by the owner's ID; nor "." or
// "..", which the catalog's path (PROTOCOL.md §5.2) carries only with its
// dots escaped, and which a proxy that unescapes them and resolves dot
// segments would make unreachable. A merchant "." or ".." that a store
// holds already, enrolled before this rule, is served as before (its
// catalog read, its seller cards signing its requests) but cannot be
// enrolled again. Errors:
// ErrInvalid, ErrNotFound for a seller card that is not enrolled,
// ErrConflict for a merchant enrolled in another currency or whose
// ledger account exists closed or with other fields (flags, user data,
// ledger, code), which stores nothing.
//
// The account is created before the merchant is written, since the ledger
// and the store share no transaction: written first, the merchant would
// stay stored, its currency fixed, when the ledger then refused or failed
// its account (no call deletes a merchant). The ledger deletes no account,
// so that of two first enrolments of one merchant at once in different
// currencies, the one whose write comes second (refused with ErrConflict
// naming the currency the merchant is enrolled in, as an enrolment after
// the first would be) leaves its account in the other currency in the
// ledger, empty: no transfer of the platform names it, the merchant's
// currency never changing, but Balance answers it (an empty balance)
// rather than ErrNotFound.
func (p *Platform) EnrollMerchant(ctx context.Context, m Merchant) error {
	if err := checkID("merchant ID", m.ID); err != nil {
		return err
	}
	if record.CheckCardID("merchant ID", m.ID) == nil {
		return fmt.Errorf("%w: merchant ID %q is a card ID", ErrInvalid, m.ID)
	}
	if m.ID == "." || m.ID == ".." {
		return fmt.Errorf("%w: merchant ID %q is a dot segment, which a URL path carries only escaped", ErrInvalid, m.ID)
	}
	if err := checkName("merchant name", m.Name); err != nil {
		return err
	}
	cur, ok := ledger.LookupCurrency(m.Currency)
	if !ok {
		return fmt.Errorf("%w: unknown currency %q", ErrInvalid, m.Currency)
	}
	old, err := p.store.Merchant(ctx, m.ID)
	switch {
	case err == nil && old.Currency != m.Currency:
		return enrolledIn(old)
	case err != nil && !errors.Is(err, ErrNotFound):
		return err
	}
	// No call deletes a card: one enrolled now still is when the store
	// writes the merchant, so that no refusal for a seller card leaves a
	// ledger account behind.
	for _, id := range m.SellerCardIDs {
		if _, err := p.store.Card(ctx, id); errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: seller card %s is not enrolled", ErrNotFound, id)
		} else if err != nil {
			return err
		}
	}
	if err := p.createAccounts(ctx, account(AccountMerchant, cur.Numeric, m.ID)); err != nil {
		return err
	}
	err = p.store.PutMerchant(ctx, &m)
	if errors.Is(err, ErrConflict) {
		// Enrolled since it was read, in another currency: the store
		// keeps a merchant's currency.
		if now, rerr := p.store.Merchant(ctx, m.ID); rerr == nil && now.Currency != m.Currency {
			err = enrolledIn(now)
		}
	}
	forget(&p.cache, p.cache.merchants, m.ID)
	// Its seller cards before, those read above and any another process
	// added since, are no more unless listed: every card cached as the
	// merchant's goes, with those listed, which may be cached as another's.
	p.cache.forgetCardsOf(m.ID, m.SellerCardIDs)
	if err == nil {
		p.setRoles(old, m.SellerCardIDs)
	}
	return err
}

// setRoles sets in the EID resolver the roles that an enrolment of a
// merchant has just stored: its cards listed are seller cards, and those
// that it had (old: the merchant as read before, nil for a new one) and
// that are not listed are not. It holds p.enrolling, as enrolStored does
// over its read of a card and its update of the resolver, so that an
// enrolment of a card read before the merchant was written does not set
// its former role back. Concurrent enrolments of merchants that move a
// card may leave it held as a shopper card while it is a seller card:
// hidden from shopper cards until a read of the card sets its role (see
// Platform.resolve), never named to a card from which its card read
// hides it.
func (p *Platform) setRoles(old *Merchant, listed []string) {
	var left []string
	if old != nil {
		for _, id := range old.SellerCardIDs {
			if !slices.Contains(listed, id) {
				left = append(left, id)
			}
		}
	}
	p.enrolling.Lock()
	defer p.enrolling.Unlock()
	p.resolver.setSeller(false, left...)
	p.resolver.setSeller(true, listed...)
}

// enrolledIn is the refusal of an enrolment of merchant m's ID in another
// currency than m's.
func enrolledIn(m *Merchant) error {
	return fmt.Errorf("%w: merchant %q is enrolled in %s", ErrConflict, m.ID, m.Currency)
}

// SetCatalog replaces a merchant's catalog; prices are in the merchant's
// currency. SKUs are identifiers (record.CheckText), names are shown on
// the phones and printed in receipts (record.CheckName: UTF-8, without
// control, bidirectional formatting or invisible characters). A price may
// be zero (an item given away): its lines are of amount zero, and a
// request of such items alone, its total zero, is valid only with an asset
// leg (record.PaymentRequest), which then moves alone. Errors:
// ErrNotFound, ErrInvalid for a bad or repeated SKU, a bad name, a price
// over 2^63−1 or more than MaxCatalogItems items.
//
// A catalog holds at most MaxCatalogItems items, so that a Client with its
// default limits reads any catalog the platform sets.
func (p *Platform) SetCatalog(ctx context.Context, merchantID string, items []CatalogItem) error {
	if err := checkCatalogItems(items); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return p.store.SetCatalog(ctx, merchantID, items)
}

// MaxCatalogItems is the most items a catalog holds (SetCatalog). At the
// longest SKUs, names and prices a catalog item may have (145 octets of
// CBOR) a catalog of this many is a reply of about 3.6 MB, within
// DefaultMaxReplyBytes and the number of array elements a Client decodes.
const MaxCatalogItems = 25000

// checkCatalogItems checks the items of a catalog as SetCatalog sets them:
// SKUs of the records' form (record.CheckText), names that receipts can
// carry (record.CheckName), no SKU twice, prices of at most 2^63-1 and at
// most MaxCatalogItems items. Its error matches no payflow sentinel: the
// platform refuses such items as ErrInvalid (SetCatalog), a Seller a
// catalog that carries them as ErrMismatch (checkCatalog).
func checkCatalogItems(items []CatalogItem) error {
	if len(items) > MaxCatalogItems {
		return fmt.Errorf("a catalog holds at most %d items, not %d", MaxCatalogItems, len(items))
	}
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		if err := record.CheckText("SKU", it.SKU); err != nil {
			return err
		}
		if err := record.CheckName("item name", it.Name); err != nil {
			return err
		}
		if seen[it.SKU] {
			return fmt.Errorf("SKU %q twice", it.SKU)
		}
		if it.UnitPrice > record.MaxAmount {
			return fmt.Errorf("the price of %q exceeds 2^63-1", it.SKU)
		}
		seen[it.SKU] = true
	}
	return nil
}

// Catalog implements API. A merchant ID that is not UTF-8, which no
// merchant has, is ErrInvalid. Once the token is checked, the read draws
// on the card's budget of catalog reads (PlatformOptions.CatalogRate and
// CatalogBurst; a *RateLimitedError past it), a budget of its own that EID
// resolutions do not touch; a read that fails for the platform (a store
// error: internal or unavailable) is given back, and one answered
// ErrInvalid or ErrNotFound is not.
func (p *Platform) Catalog(ctx context.Context, token string, merchantID string) (*Catalog, error) {
	me, err := p.auth(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := p.catalogReads.allow(me.ID, p.now()); err != nil {
		return nil, err
	}
	c, err := p.catalog(ctx, merchantID)
	if serverError(err) {
		p.catalogReads.giveBack(me.ID)
	}
	return c, err
}

// catalog returns the catalog of merchant merchantID.
func (p *Platform) catalog(ctx context.Context, merchantID string) (*Catalog, error) {
	if err := checkMerchantUTF8(merchantID); err != nil {
		return nil, err
	}
	m, err := p.merchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	items, err := p.store.Catalog(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	return &Catalog{MerchantID: m.ID, Currency: m.Currency, Items: items}, nil
}

// RegisterAsset registers an asset (a kind of e-ticket, for instance) under
// a ledger code above 999, so that payment requests may carry legs of it.
// Errors: ErrInvalid for a bad name, a currency code or a code below 1000;
// ErrConflict when the name or the code is registered otherwise.
func (p *Platform) RegisterAsset(ctx context.Context, name string, ledgerCode uint32) error {
	if err := checkID("asset name", name); err != nil {
		return err
	}
	if _, ok := ledger.LookupCurrency(name); ok {
		return fmt.Errorf("%w: asset name %q is a currency code", ErrInvalid, name)
	}
	if ledgerCode < 1000 {
		return fmt.Errorf("%w: asset ledger codes start at 1000", ErrInvalid)
	}
	return p.store.PutAsset(ctx, Asset{Name: name, Ledger: ledgerCode})
}

// OpenAccount opens the wallet of an enrolled card in a currency or a
// registered asset. Opening it again is a no-op. Errors: ErrNotFound for
// a card that is not enrolled, ErrInvalid for a unit that is neither a
// currency nor a registered asset, neither opening an account;
// ErrConflict for a wallet that the ledger holds closed or with other
// fields.
func (p *Platform) OpenAccount(ctx context.Context, cardID, unit string) error {
	if _, err := p.store.Card(ctx, cardID); err != nil {
		return err
	}
	lc, err := p.unitLedger(ctx, unit)
	if err != nil {
		return err
	}
	return p.createAccounts(ctx, account(AccountWallet, lc, cardID))
}

// Fund moves amount of currency from the platform's funding source (money
// paid in from outside) to a card's wallet, opened by OpenAccount. The
// ledger transfer ID derives from fundingID, so a retry funds once; the
// same ID with another amount, card or currency is ErrConflict and moves
// nothing, and so is a wallet whose ID the ledger holds with other flags,
// user data, ledger or code (one that OpenAccount refuses as taken); a
// wallet that the ledger does not hold is ErrNotFound. A wallet that the
// ledger holds closed is ErrConflict and moves nothing, the ID left to
// fund the wallet once it is reopened; when it was closed after the
// platform looked, the ledger refuses the transfer and keeps its ID
// failed, which is ErrConflict for good. A funding that the ledger made
// before the wallet was closed is a retry all the same: nil, nothing more
// moved. An unknown currency, the zero ID, or an amount of zero or above
// ledger.AmountLimit is ErrInvalid, and moves nothing.
func (p *Platform) Fund(ctx context.Context, fundingID ID, cardID, currency string, amount uint64) error {
	cur, ok := ledger.LookupCurrency(currency)
	if !ok {
		return fmt.Errorf("%w: unknown currency %q", ErrInvalid, currency)
	}
	return p.issue(ctx, fundingID, kindFund, AccountFunding, TransferFunding, account(AccountWallet, cur.Numeric, cardID), false, amount)
}

// Issue moves amount of a registered asset from its issuer to a merchant,
// creating the merchant's account in that asset (unless the amount or the
// ID is refused: ErrInvalid, as Fund refuses them). A merchant that is
// not enrolled, or an asset that is not registered, is ErrNotFound, and
// opens no account. The ledger transfer ID derives from
// issueID, so a retry issues once; the same ID with another amount,
// merchant or asset is ErrConflict and moves nothing, and so is a
// merchant's account that the ledger holds closed or with other fields,
// unless the ledger made the issue under this ID before the account was
// closed: a retry then is nil, nothing more moved.
func (p *Platform) Issue(ctx context.Context, issueID ID, merchantID, asset string, amount uint64) error {
	if _, err := p.store.Merchant(ctx, merchantID); err != nil {
		return err
	}
	a, err := p.store.Asset(ctx, asset)
	if err != nil {
		return err
	}
	return p.issue(ctx, issueID, kindIssue, AccountIssuer, TransferIssue, account(AccountMerchant, a.Ledger, merchantID), true, amount)
}

// issue moves amount from the source account sourceCode in to's ledger to
// the account to, by a transfer of the given code whose ID derives from
// id and kind. The source account is created first, and so is to when
// open is set; otherwise to must exist (ErrNotFound) as the platform's
// account (ErrConflict when its ID is taken, see checkOpen). An account
// found closed refuses the transfer (ErrConflict) unless the ledger made
// it already (see unlessMade).
func (p *Platform) issue(ctx context.Context, id ID, kind byte, sourceCode, code uint16, to ledger.Account, open bool, amount uint64) error {
	switch {
	case id.IsZero():
		return fmt.Errorf("%w: zero ID", ErrInvalid)
	case amount == 0 || amount > ledger.AmountLimit:
		return fmt.Errorf("%w: amount %d, want 1 to %d", ErrInvalid, amount, uint64(ledger.AmountLimit))
	}
	source := account(sourceCode, to.Ledger, "")
	t := ledger.Transfer{
		ID: TransferID(id, 0, 0, kind), DebitAccountID: source.ID, CreditAccountID: to.ID,
		Amount: amount, UserData128: ledger.ID(id), Ledger: to.Ledger, Code: code,
	}
	accounts := []ledger.Account{source}
	if open {
		accounts = append(accounts, to)
	}
	err := p.createAccounts(ctx, accounts...)
	if err == nil && !open {
		// The receiving account must exist, open, before the transfer:
		// the ledger burns the ID of a transfer to a missing or closed
		// account (a transient failure, as in TigerBeetle), and the
		// caller's retry with the same ID after opening or reopening the
		// account would then fail for good.
		err = p.checkOpen(ctx, true, to)
	}
	// A transfer made before an account was closed (a retry after a lost
	// reply) is not refused: the ledger answers it exists.
	if err := p.unlessMade(ctx, err, []ledger.Transfer{t}); err != nil {
		return err
	}
	err = p.transfer(ctx, t)
	const kept = "the ledger keeps the refused transfer's ID: use another"
	if ce := asClosed(err); ce != nil { // closed since it was looked at
		return fmt.Errorf("%w: %w (%s)", ErrConflict, ce, kept)
	}
	if errors.Is(err, errRefusedBefore) {
		// Of the refusals whose IDs the ledger keeps, only a closed
		// account's can meet this transfer: its source was created above,
		// without a limit, and to exists.
		return fmt.Errorf("%w: ledger: the transfer under this ID was refused before, its account closed (%s)", ErrConflict, kept)
	}
	return err
}

// Balance is an account's position in minor units (or asset units).
type Balance struct {
	// Posted is what the owner holds: credits posted minus debits posted.
	Posted uint64
	// Held is the part of Posted on hold for pending payments.
	Held uint64
	// Incoming is what pending payments will credit once captured.
	Incoming uint64
}

// Available is what the owner may spend now: Posted minus Held.
func (b Balance) Available() uint64 { return b.Posted - b.Held }

// Balance returns the balance of a card's wallet or of a merchant's
// account in a currency or asset. Errors: ErrInvalid for a unit that is
// neither a currency nor a registered asset; ErrNotFound when the owner
// has no such account; ErrConflict, naming the account and the ledger's
// result, when the ledger holds its ID with other flags, user data,
// ledger or code than the platform's account (created by another client
// of the ledger: see OpenAccount), whose balance may be below zero. The
// platform's accounts have debits_must_not_exceed_credits, so that
// Posted is never below zero, nor Held above it.
func (p *Platform) Balance(ctx context.Context, owner, unit string) (Balance, error) {
	lc, err := p.unitLedger(ctx, unit)
	if err != nil {
		return Balance{}, err
	}
	code := AccountWallet
	if _, err := p.store.Card(ctx, owner); errors.Is(err, ErrNotFound) {
		code = AccountMerchant
	} else if err != nil {
		return Balance{}, err
	}
	want := account(code, lc, owner)
	accs, err := p.ledger.LookupAccounts(ctx, []ledger.ID{want.ID})
	if err != nil {
		return Balance{}, ledgerUnavailable(err)
	}
	if len(accs) == 0 {
		return Balance{}, fmt.Errorf("%w: %s has no account in %s", ErrNotFound, owner, unit)
	}
	a := accs[0]
	if _, err := heldAsOwn(want, a); err != nil {
		return Balance{}, err
	}
	return Balance{Posted: a.CreditsPosted - a.DebitsPosted, Held: a.DebitsPending, Incoming: a.CreditsPending}, nil
}

// ceilSeconds is d in whole seconds, rounded up; it divides first, so
// that the longest time.Duration does not overflow.
func ceilSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	}
	return s
}

// seconds converts a lifetime to whole seconds, rounded up and at least
// one, for ledger timeouts: a hold never expires in the ledger before the
// lifetime ends.
func seconds(d time.Duration) uint32 {
	s := ceilSeconds(d)
	if s > 1<<32-1 {
		return 1<<32 - 1
	}
	if s < 1 {
		return 1
	}
	return uint32(s)
}
