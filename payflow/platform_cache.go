package payflow

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/pki"
)

// cache keeps enrolled cards and merchants for a short while, so that the
// many reads of one purchase do not each go to the database. Entries live
// CacheTTL; a change made by this process drops its entry at once (and
// keeps out a read of the store that began before it), one made by
// another process is seen here within CacheTTL. It also keeps, as long,
// the card IDs that the store did not hold (absent), so that a card ID
// that is not enrolled is looked up no more often than an enrolled one
// and its records are not told apart by the time of their refusal. It
// keeps at most maxCached cards, as many absent card IDs and as many
// merchants: a put into a full map drops, from that map's oldest entry
// on, those expired by then, or else its oldest entry, and keeps the
// others (see table.keep). Certificates are not trusted from it: every
// record is verified against the pki.Verifier and its CRLs. A cached
// card keeps the EID key of its advertising secret once derived (see
// cachedCard.eidKey), the names of its chain's certificates once read
// (see cachedCard.revoked), and the key of its certificate once read
// (see cachedCard.leafKey). It is safe for concurrent use.
type cache struct {
	ttl time.Duration

	mu        sync.Mutex
	gen       uint64 // counts forget calls: a read older than one is not kept
	cards     *table[*cachedCard]
	absent    *table[error] // card IDs the store did not hold, with its ErrNotFound
	merchants *table[*Merchant]
}

// cachedCard is a card as the cache keeps it, with the EID key of its
// advertising secret, the names of its chain's certificates, with the
// end of the chain's validity (see cachedCard.certIDs), and the key of its
// certificate (see cachedCard.leafKey), from the first time each was
// needed: derived once per card and secret, and read once
// per card and chain, for as long as the card stays in the cache, where a
// read of the store that finds the same secret or chain again carries it
// over.
type cachedCard struct {
	rec  *CardRecord
	key  atomic.Pointer[adv.EIDKey]  // of rec.AdvSecret; nil until derived
	ids  atomic.Pointer[pki.CertIDs] // of rec.Chain; nil until read
	leaf atomic.Pointer[leafKey]     // of rec.Chain[0]; nil until read
}

// leafKey is the public key of a card's certificate, the first of its
// chain: nil for one that gives no ECDSA key.
type leafKey struct{ pub *ecdsa.PublicKey }

type cached[T any] struct {
	v       T
	expires time.Time
	seq     uint64 // the entry's place in the order of table.keep
}

// maxCached is the most cards, the most absent card IDs and the most
// merchants that the cache keeps (table.keep), and the most tokens that
// tokenCache keeps.
const maxCached = 100000

func (c *cache) init(ttl time.Duration) {
	c.ttl = ttl
	c.cards = newTable[*cachedCard](maxCached)
	c.absent = newTable[error](maxCached)
	c.merchants = newTable[*Merchant](maxCached)
}

// table is one of the cache's maps, or tokenCache's, with the order in
// which keep kept its entries, so that a full one drops its oldest
// entries, those expired or else one, rather than all of them. It is
// guarded by the lock of the cache (or tokenCache) that holds it.
type table[T any] struct {
	limit int // the most entries kept
	m     map[string]cached[T]
	// order lists, from head on, the entries kept, in the order keep kept
	// them, with those deleted or kept again since (stale: another seq,
	// or none, in m), which evict skips and compact drops.
	order []tableKey
	head  int
	seq   uint64 // counts the entries kept
}

type tableKey struct {
	key string
	seq uint64
}

func newTable[T any](limit int) *table[T] {
	return &table[T]{limit: limit, m: make(map[string]cached[T])}
}

// keep keeps v under key until expires. A table that holds limit entries
// and not key drops first, from the oldest entry kept on, those expired
// at now, up to the first one that is not; when none was, it drops the
// oldest one (evict). All expire CacheTTL after the read of the store
// that they come from began (put), and tokens TokenTTL after their login,
// so the oldest mostly expire first: an entry kept after another expires
// before it when its read began first (one call's read outlasting
// another's), a token when it was issued first (read from the store after
// a later login here), or when the clock went back, and it
// then stays, expired, until the entries kept before it are dropped, a
// put into the full table dropping one of those that has not expired.
// The order of the entries costs O(1) amortised per entry: each is
// listed once, skipped or dropped once, and compact runs when more than
// half of the list is stale, in time linear in the list.
func (t *table[T]) keep(key string, v T, expires, now time.Time) {
	if _, ok := t.m[key]; !ok && len(t.m) >= t.limit {
		t.evict(now)
	}
	t.seq++
	t.m[key] = cached[T]{v: v, expires: expires, seq: t.seq}
	t.order = append(t.order, tableKey{key, t.seq})
	if len(t.order) > 2*len(t.m)+16 {
		t.compact()
	}
}

// live reports whether k is the entry that t holds under its key.
func (t *table[T]) live(k tableKey) bool {
	e, ok := t.m[k.key]
	return ok && e.seq == k.seq
}

// evict drops, from the oldest entry on, those expired at now, up to the
// first that is not; when none was expired, it drops that one, the
// oldest.
func (t *table[T]) evict(now time.Time) {
	dropped := false
	for t.head < len(t.order) {
		k := t.order[t.head]
		live := t.live(k)
		expired := live && !now.Before(t.m[k.key].expires)
		if live && dropped && !expired {
			return
		}
		t.order[t.head] = tableKey{}
		t.head++
		if live {
			delete(t.m, k.key)
			if !expired {
				return
			}
			dropped = true
		}
	}
}

// compact drops the stale keys from the order of the entries.
func (t *table[T]) compact() {
	order := t.order[:0]
	for _, k := range t.order[t.head:] {
		if t.live(k) {
			order = append(order, k)
		}
	}
	clear(t.order[len(order):])
	t.order, t.head = order, 0
}

// empty drops every entry.
func (t *table[T]) empty() {
	clear(t.m)
	clear(t.order)
	t.order, t.head = t.order[:0], 0
}

// ownAccounts is the set of the ledger accounts found to be the
// platform's own: held under their IDs with the flags, user data, ledger
// and code of the platform's definition (heldAsOwn, which checkLegAccounts
// applies), or created or found so by createAccounts. The ledger changes
// no field of an account but the balances and the AccountClosed flag,
// which heldAsOwn ignores, and deletes no account, so an account found
// once to be the platform's stays so for every process that shares the
// ledger: the set keeps its IDs without expiry, and checkLegAccounts looks
// up only the accounts not in it. An account found with other fields is
// never added, and is looked up again at every check. The set holds at
// most maxOwnAccounts IDs (about 4 MB with their order): an account added
// to a full set drops the one added first of those it holds, so that only
// that one is looked up again at its next check; an account added again
// while held keeps its place. Its zero value is an empty set; it is safe
// for concurrent use.
type ownAccounts struct {
	mu  sync.Mutex
	ids map[ledger.ID]struct{}
	// order lists the IDs held in the order add kept them, oldest at
	// next once it holds maxOwnAccounts (a ring, each added one taking the
	// oldest's place).
	order []ledger.ID
	next  int
}

// maxOwnAccounts is the most account IDs that ownAccounts keeps.
const maxOwnAccounts = 100000

// add keeps the IDs of accounts, each found to be the platform's own.
func (s *ownAccounts) add(accounts ...ledger.Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = make(map[ledger.ID]struct{})
	}
	for i := range accounts {
		id := accounts[i].ID
		if _, ok := s.ids[id]; ok {
			continue
		}
		if len(s.order) < maxOwnAccounts {
			s.order = append(s.order, id)
		} else {
			delete(s.ids, s.order[s.next])
			s.order[s.next] = id
			s.next = (s.next + 1) % maxOwnAccounts
		}
		s.ids[id] = struct{}{}
	}
}

// unknown returns the IDs of the accounts that the set does not hold, in
// their order, or nil when it holds them all.
func (s *ownAccounts) unknown(accounts []ledger.Account) []ledger.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []ledger.ID
	for i := range accounts {
		if _, ok := s.ids[accounts[i].ID]; !ok {
			ids = append(ids, accounts[i].ID)
		}
	}
	return ids
}

// generation returns the count of forget calls, which a caller takes
// before it reads the store and hands to put.
func (c *cache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func get[T any](c *cache, t *table[T], key string, now time.Time) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := t.m[key]
	if !ok || !now.Before(e.expires) {
		var zero T
		return zero, false
	}
	return e.v, true
}

// put keeps v for CacheTTL from now, read from the store after generation
// returned gen, unless forget was called since: v may then predate the
// change forget announced. A table that holds maxCached entries drops
// first, from its oldest entry on, those expired, or else its oldest one
// (table.keep).
func put[T any](c *cache, t *table[T], key string, v T, gen uint64, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	t.keep(key, v, now.Add(c.ttl), now)
}

// forget drops the entry of key after a change of the store.
func forget[T any](c *cache, t *table[T], key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(t.m, key)
}

// forgetCard drops the entry of card id, and its ID from the absent
// ones, after a change of the store.
func (c *cache) forgetCard(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.cards.m, id)
	delete(c.absent.m, id)
}

// forgetAbsent drops every absent card ID, once a read of the store may
// have found some of them enrolled.
func (c *cache) forgetAbsent() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.absent.empty()
}

// forgetCardsOf drops, after a change of merchant's seller cards, every
// card cached as one of them, whether this process wrote it so or read it
// so after another process did, and every card in ids.
func (c *cache) forgetCardsOf(merchant string, ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	maps.DeleteFunc(c.cards.m, func(_ string, e cached[*cachedCard]) bool { return e.v.rec.MerchantID == merchant })
	for _, id := range ids {
		delete(c.cards.m, id)
	}
}

// sameSecret reports, in time that does not depend on their bytes,
// whether a and b hold the same advertising secret.
func sameSecret(a, b *CardRecord) bool {
	return subtle.ConstantTimeCompare(a.AdvSecret, b.AdvSecret) == 1
}

// sameChain reports whether a and b hold the same certificate chain,
// which is public.
func sameChain(a, b *CardRecord) bool {
	return slices.EqualFunc(a.Chain, b.Chain, bytes.Equal)
}

// entry returns the entry of card id, expired or not, or nil.
func (c *cache) entry(id string) *cachedCard {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cards.m[id].v
}

// eidKey returns the EID key of the card's advertising secret, derived
// at its first call and kept with the card (or carried over from the
// entry it replaced, of the same secret: see Platform.cardEntry). Its
// secret never changes, so a card whose secret has changed, which is
// another entry, is never checked with the key of its former secret.
func (e *cachedCard) eidKey() (*adv.EIDKey, error) {
	if k := e.key.Load(); k != nil {
		return k, nil
	}
	k, err := adv.NewEIDKey(e.rec.AdvSecret)
	if err != nil {
		return nil, fmt.Errorf("%w: card %s: %v", ErrInternal, e.rec.ID, err)
	}
	e.key.CompareAndSwap(nil, k)
	return k, nil
}

// certIDs returns the names of the certificates of the card's chain
// (pki.Verifier.CertIDs, which checks their signatures), read at its
// first call and kept with the card (or carried over from the entry it
// replaced, of the same chain). A chain that pki cannot read, which
// enrolment never stores, is ErrInternal.
func (e *cachedCard) certIDs(v *pki.Verifier) (*pki.CertIDs, error) {
	ids := e.ids.Load()
	if ids == nil {
		var err error
		if ids, err = v.CertIDs(e.rec.Chain); err != nil {
			return nil, fmt.Errorf("%w: card %s: %v", ErrInternal, e.rec.ID, err)
		}
		e.ids.CompareAndSwap(nil, ids)
	}
	return ids, nil
}

// leafKey returns the public key of the card's certificate (certKey), read
// at its first call and kept with the card (or carried over from the
// entry it replaced, of the same chain), so that the records under the
// card's ID are checked against it before its chain
// (Platform.verifySignature) without reading the certificate again.
func (e *cachedCard) leafKey() *ecdsa.PublicKey {
	if k := e.leaf.Load(); k != nil {
		return k.pub
	}
	k := &leafKey{pub: certKey(e.rec)}
	e.leaf.CompareAndSwap(nil, k)
	return k.pub
}

// revoked reports whether v's CRLs list the card's certificate or a CA
// certificate above it (pki.Verifier.Revoked: every chain that the chain
// check of a login finds pki.ErrRevoked, from the same CRLs, and maybe
// one that it accepts through a path that leaves the listed certificate
// out, so refusal lets that check decide), with the names of the card's
// chain (certIDs): a map lookup or two for each certificate, without
// allocating.
func (e *cachedCard) revoked(v *pki.Verifier) (bool, error) {
	ids, err := e.certIDs(v)
	if err != nil {
		return false, err
	}
	return v.Revoked(ids), nil
}

// expiry returns the end of the card's chain's validity as read with its
// names (certIDs; pki.CertIDs.NotAfter): the earliest NotAfter of the
// certificates of the chain and of v's roots that may have issued one of
// them, so that the root the chain verifies to, which the chain does not
// hold, counts too. Before it, no login of the card is refused for the
// end of a certificate's validity.
func (e *cachedCard) expiry(v *pki.Verifier) (time.Time, error) {
	ids, err := e.certIDs(v)
	if err != nil {
		return time.Time{}, err
	}
	return ids.NotAfter(), nil
}

// card returns an enrolled card; the caller must not modify it.
func (p *Platform) card(ctx context.Context, id string) (*CardRecord, error) {
	e, err := p.cardEntry(ctx, id)
	if err != nil {
		return nil, err
	}
	return e.rec, nil
}

// cardEntry returns an enrolled card with the EID key of its advertising
// secret and the names of its chain's certificates, if derived yet: the
// cache's entry, taken with one hold of its lock, or one made of a read
// of the store, which the cache keeps (with the key of the entry it
// replaces if that was of the same secret, and its names if of the same
// chain) when it keeps cards at all; the caller must not modify it. The
// role of a card read sets the role that the EID resolver holds it with
// (eidResolver.readRole). A card that the store does not hold is
// ErrNotFound, and the cache keeps its ID as absent, with the store's
// error, for CacheTTL, as it keeps a card found.
func (p *Platform) cardEntry(ctx context.Context, id string) (*cachedCard, error) {
	now := p.now()
	if e, ok := get(&p.cache, p.cache.cards, id, now); ok {
		return e, nil
	}
	if err, ok := get(&p.cache, p.cache.absent, id, now); ok {
		return nil, err
	}
	gen := p.cache.generation()
	roles := p.resolver.begin()
	defer p.resolver.end()
	c, err := p.store.Card(ctx, id)
	if errors.Is(err, ErrNotFound) {
		put(&p.cache, p.cache.absent, id, err, gen, now)
	}
	if err != nil {
		return nil, err
	}
	p.resolver.readRole(id, c.MerchantID != "", roles)
	e := &cachedCard{rec: c}
	if p.cache.ttl > 0 {
		if old := p.cache.entry(id); old != nil {
			// Read again after its entry expired, with the same secret
			// or chain.
			if sameSecret(old.rec, c) {
				e.key.Store(old.key.Load())
			}
			if sameChain(old.rec, c) {
				e.ids.Store(old.ids.Load())
				e.leaf.Store(old.leaf.Load())
			}
		}
		put(&p.cache, p.cache.cards, id, e, gen, now)
	}
	return e, nil
}

// merchant returns a merchant; the caller must not modify it.
func (p *Platform) merchant(ctx context.Context, id string) (*Merchant, error) {
	now := p.now()
	if m, ok := get(&p.cache, p.cache.merchants, id, now); ok {
		return m, nil
	}
	gen := p.cache.generation()
	m, err := p.store.Merchant(ctx, id)
	if err != nil {
		return nil, err
	}
	put(&p.cache, p.cache.merchants, id, m, gen, now)
	return m, nil
}

// tokenCache keeps the tokens that a platform process issued, or read
// from the store, until they expire, so that the calls of a phone that
// holds one do not each read the store for it. A stored token never
// changes: the store keeps it as its login wrote it and deletes it only
// once it has expired at the time given to Store.DeleteExpired, so the
// cache answers nothing that the store would answer otherwise. Nor does
// it answer a token expired at the time of the process's latest such
// deletion (sweep, from Platform.ExpireDue), which the store may no
// longer hold, once the clock has gone back before its expiry: that
// token is read from the store at every call. (A token that another
// process, whose clock is ahead of this one's, deleted is kept here until
// this process's clock reaches its expiry.) It keeps no token that
// the store did not hold: every call with an unknown token reads the
// store. It keeps at most maxCached tokens: a put into a full cache drops,
// from the oldest token kept on, those expired by then, or else the
// oldest one, and keeps the others (table.keep), so that a burst of logins
// past the bound costs the phones of the oldest tokens a read each, not
// every phone. It compares a token's expiry by the wall clock, as the store
// does: it keeps the expiry without the monotonic clock reading that
// time.Now gives a login's time, which a suspend of the machine (that
// the monotonic clock does not count) or a wall clock set forward would
// leave behind the wall clock, keeping the token past its expiry and
// past its deletion from the store. Its zero value is empty; it is safe
// for concurrent use.
type tokenCache struct {
	mu    sync.Mutex
	t     *table[TokenRecord] // under the hash of each token; nil until the first put
	swept time.Time           // the latest time of sweep
}

// get returns the token whose hash is h, unexpired at now and at the
// latest time of sweep, and whether the cache holds it; it drops another.
func (c *tokenCache) get(h [sha256.Size]byte, now time.Time) (*TokenRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t == nil {
		return nil, false
	}
	e, ok := c.t.m[string(h[:])]
	if !ok {
		return nil, false
	}
	t := e.v
	if !now.Before(t.ExpiresAt) || !c.swept.Before(t.ExpiresAt) {
		delete(c.t.m, string(h[:]))
		return nil, false
	}
	return &t, true
}

// sweep records that the store deletes the tokens expired at now
// (Store.DeleteExpired): get answers none of them from then on, whatever
// the time it is given.
func (c *tokenCache) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.After(c.swept) {
		c.swept = now.Round(0)
	}
}

// put keeps a copy of t, a token stored under its hash (a SHA-256), with
// its expiry as the store keeps it, without a monotonic clock reading; a
// full cache drops first those expired at now, or else the oldest.
func (c *tokenCache) put(t *TokenRecord, now time.Time) {
	if len(t.Hash) != sha256.Size {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t == nil {
		c.t = newTable[TokenRecord](maxCached)
	}
	kept := *t
	kept.Hash, kept.CertHash, kept.ExpiresAt = bytes.Clone(t.Hash), bytes.Clone(t.CertHash), t.ExpiresAt.Round(0)
	c.t.keep(string(kept.Hash), kept, kept.ExpiresAt, now)
}
