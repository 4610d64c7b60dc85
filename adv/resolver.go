package adv

import (
	"crypto/aes"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrCardID is returned by Enrol for an empty card ID.
var ErrCardID = errors.New("adv: empty card id")

// ErrNilResolver is returned by Enrol on a nil *Resolver, which holds no
// cards and can take none.
var ErrNilResolver = errors.New("adv: nil Resolver")

// ring is the number of epoch tables a Resolver keeps: the previous, the
// current and the next epoch, plus the one after, which Advance builds ahead.
const ring = 4

// aheadAfter is how far into an epoch a resolution starts the build of the
// table of the epoch after next, when there is none (see Resolve).
const aheadAfter = EpochSeconds / 2 * time.Second

// parallelMin is the number of cards below which a table is built by one
// goroutine.
const parallelMin = 4096

// Resolver maps the EIDs seen on the air to the cards that sent them, as the
// cloud does before it shows a counterparty's name. It holds the advertising
// secret of every enrolled card and, for each epoch near now, a precomputed
// table from EID to card.
//
// Resolve accepts the EIDs of the current epoch and of the epochs just
// before and after (so clocks that differ by up to ten minutes still
// agree), nothing older and nothing newer. The table of an epoch is built
// ahead of time: the first resolution in the second half of the epoch two
// before it that finds it missing starts its build in a goroutine, which
// ends with the build (one at a time), so that the resolutions of the next
// epoch find every table they need; such a build that runs epochs late
// replaces no table of a later epoch, and none starts while the table's
// place in the ring holds one of a later epoch. Advance builds the tables
// too, and returns when they are installed: at start-up, say, or from a
// timer where resolutions are too rare to start the builds. Resolve builds
// the tables it lacks itself, and waits for that build, only when neither
// came first (the first resolution of a Resolver, or the first of an epoch
// when none came in the second half of the epoch before); it then looks the
// EID up in the tables of its own epochs as it installs them, under the
// same lock, so that a resolution at once of a time two or more epochs
// away, whose tables take the same places in the ring, does not replace
// them between its build and its lookup. Such a resolution first waits for
// the build under way, if any (Advance's or one ahead), and builds only the
// tables still missing after it. A build runs without the Resolver's lock,
// on every processor for large tables, from a copy of the enrolled cards;
// cards enrolled or removed meanwhile are applied to the new tables when
// they are installed, so Enrol, and Resolve when it builds nothing, wait
// only for that copy and that installation. BENCHMARKS.md gives the build
// time for 1,000,000 cards.
//
// Memory: each epoch table has a power-of-two number of 24-octet slots, at
// least two per card, and a Resolver keeps up to four (about 200 MB for
// 1,000,000 cards), besides each card's ID and 16-octet EID key.
//
// The zero Resolver is empty and ready to use. A nil *Resolver is empty
// too, and stays so: Resolve finds nothing in it, Advance builds nothing
// and Enrol fails with ErrNilResolver. A Resolver is safe for concurrent
// use; once the tables it needs are in place, Resolve takes only a read
// lock and, but for the build it starts ahead once an epoch, does not
// allocate.
type Resolver struct {
	build sync.Mutex // held by the one build at a time; taken before mu

	mu       sync.RWMutex
	index    map[string]uint32 // card ID → position in cards
	cards    []card
	free     []uint32 // positions in cards that hold no card
	tables   [ring]*table
	building bool     // a build is under way
	dirty    []uint32 // positions changed since the build copied cards

	ahead atomic.Bool // a build started by Resolve ahead of time is under way

	// hookBuild, when set by a test, runs while a build works on its copy
	// of the cards, with the epochs of the tables it builds.
	hookBuild func(epochs []uint32)
	// hookResolveBuilt, when set by a test, runs in a resolution that
	// built the tables it lacked, once that build has returned.
	hookResolveBuilt func()
}

// card is one enrolled card; live is false for a free position.
type card struct {
	id   string
	key  [16]byte // EIDK
	live bool
}

// keyOnly is a card without its ID, as a build copies it: memory without
// pointers, which the garbage collector does not scan.
type keyOnly struct {
	key  [16]byte
	live bool
}

// Len returns the number of enrolled cards.
func (r *Resolver) Len() int {
	if r == nil {
		return 0
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.index)
}

// CardIDs returns the IDs of the enrolled cards, in byte order: those of
// the cards Resolve names. It holds the read lock only while it copies
// them.
func (r *Resolver) CardIDs() []string {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	ids := make([]string, 0, len(r.index))
	for _, c := range r.cards {
		if c.live {
			ids = append(ids, c.id)
		}
	}
	r.mu.RUnlock()
	slices.Sort(ids)
	return ids
}

// Enrol adds a card with its advertising secret, or replaces the secret of a
// card already enrolled; the card's EIDs resolve from then on. It returns
// ErrCardID for an empty card ID, ErrSecret for a secret that is not
// SecretSize octets and ErrNilResolver on a nil *Resolver, checked in that
// order, and leaves the Resolver unchanged then: a card already enrolled
// keeps its secret. The Resolver keeps only the derived EID key.
//
// Enrol does not compare the secret with those of the other cards: two
// card IDs enrolled with one secret share every EID, and Resolve names
// either of them, which one being unspecified (it may differ from one
// epoch to the next), until one is removed or enrolled again with a secret
// of its own; CardIDs lists both. Keeping secrets unique is the caller's
// part: the cloud refuses such an enrolment in its store (PROTOCOL.md
// §1.2) and checks the card Resolve names against the secret it stores,
// for the Resolver of one of its processes holds such a pair for a while
// when another process gives a card the secret of a card deleted or
// enrolled again with another, until it reads the store again.
func (r *Resolver) Enrol(cardID string, secret []byte) error {
	if cardID == "" {
		return ErrCardID
	}
	k, err := eidk(secret)
	if err != nil {
		return err
	}
	if r == nil {
		return ErrNilResolver
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.index == nil {
		r.index = make(map[string]uint32)
	}
	pos, ok := r.index[cardID]
	if ok {
		r.unlinkLocked(pos)
		r.cards[pos].key = k
	} else {
		if n := len(r.free); n > 0 {
			pos = r.free[n-1]
			r.free = r.free[:n-1]
		} else {
			pos = uint32(len(r.cards))
			r.cards = append(r.cards, card{})
		}
		r.cards[pos] = card{id: cardID, key: k, live: true}
		r.index[cardID] = pos
	}
	r.linkLocked(pos)
	r.touchLocked(pos)
	return nil
}

// Remove withdraws a card; its EIDs stop resolving at once. It reports
// whether the card was enrolled.
func (r *Resolver) Remove(cardID string) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	pos, ok := r.index[cardID]
	if !ok {
		return false
	}
	r.unlinkLocked(pos)
	delete(r.index, cardID)
	r.cards[pos] = card{}
	r.free = append(r.free, pos)
	r.touchLocked(pos)
	return true
}

// touchLocked records a changed card position for the build under way.
func (r *Resolver) touchLocked(pos uint32) {
	if r.building {
		r.dirty = append(r.dirty, pos)
	}
}

// Resolve returns the card whose EID for the epoch of now, the epoch before
// or the epoch after (NearEpochs) is eid, and whether there is one. It
// builds the tables it lacks first (see Advance) and looks eid up in them
// with the lock it installs them with held, so that it finds them whatever
// the epochs of the resolutions made at once; once they exist it takes
// only a read lock and does not allocate, except that the first call in
// the second half of an epoch that finds the table of the epoch after next
// missing, its place holding none of a later epoch (one that built the
// tables it lacked included), starts its build in a goroutine (see
// Resolver), without waiting for it.
func (r *Resolver) Resolve(eid EID, now time.Time) (cardID string, ok bool) {
	if r == nil {
		return "", false
	}
	e := Epoch(now)
	var ahead bool
	r.mu.RLock()
	if r.coversLocked(e, 1) {
		cardID, ok, ahead = r.resolveLocked(eid, e, now)
		r.mu.RUnlock()
	} else {
		r.mu.RUnlock()
		// Looked up as the tables are installed, before another build
		// (of a resolution epochs apart) can replace them.
		r.advance(e, 1, func() { cardID, ok, ahead = r.resolveLocked(eid, e, now) })
		if r.hookResolveBuilt != nil {
			r.hookResolveBuilt()
		}
	}
	if ahead {
		// Also after a build of its own: the tables it built are not the
		// one of the epoch after next.
		r.buildAhead(e)
	}
	return cardID, ok
}

// resolveLocked looks eid up in the tables of the epochs near e, which
// must be in place, and reports whether a resolution at now should start
// the build ahead (wantsAheadLocked).
func (r *Resolver) resolveLocked(eid EID, e uint32, now time.Time) (cardID string, ok, ahead bool) {
	cardID, ok = r.lookupLocked(eid, e)
	return cardID, ok, r.wantsAheadLocked(e, now)
}

// wantsAheadLocked reports whether a resolution at now, in epoch e, should
// start the build of the table of epoch e+2: now is aheadAfter or more into
// e, that table is missing and its place in the ring holds none of a later
// epoch (which the build would not replace), and no build ahead is under
// way.
func (r *Resolver) wantsAheadLocked(e uint32, now time.Time) bool {
	next := e + 2
	if next < e || now.Sub(EpochStart(e)) < aheadAfter || r.ahead.Load() {
		return false
	}
	return r.lacksLocked(next, false)
}

// lacksLocked reports whether a build should make the table of epoch ep:
// its place in the ring holds no table of ep and, unless replace (a
// resolution's own build), none of a later epoch, which such a build
// leaves in place (see advance).
func (r *Resolver) lacksLocked(ep uint32, replace bool) bool {
	t := r.tables[ep%ring]
	return t == nil || t.epoch < ep || replace && t.epoch != ep
}

// buildAhead starts, unless one is under way, a goroutine that builds the
// tables of the window of epoch e that Advance builds, and ends with it.
func (r *Resolver) buildAhead(e uint32) {
	if !r.ahead.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer r.ahead.Store(false)
		r.advance(e, 2, nil)
	}()
}

// Advance builds the tables of the epoch of now, the one before and the two
// after, which it does not have yet, so that Resolve finds them ready until
// the next epoch ends; the tables of older epochs are dropped. It replaces
// no table of a later epoch (one in the same place of the ring of four):
// given a time older than the resolutions', it leaves the tables they need
// in place, and the epochs whose places such a table holds have none (a
// resolution there builds them). It uses every processor for large
// tables, and returns when they are installed.
func (r *Resolver) Advance(now time.Time) {
	if r == nil {
		return
	}
	r.advance(Epoch(now), 2, nil)
}

// window returns the epochs from e−1 to e+after, leaving out those that
// would wrap around the uint32 range.
func window(e, after uint32) (eps [ring]uint32, n int) {
	if e > 0 {
		eps[n] = e - 1
		n++
	}
	for k := uint32(0); k <= after && e+k >= e; k++ {
		eps[n] = e + k
		n++
	}
	return eps, n
}

// coversLocked reports whether the tables of the epochs from e−1 to
// e+after are all in place: whether a resolution's own build,
// advance(e, after, resolved), would make none.
func (r *Resolver) coversLocked(e, after uint32) bool {
	eps, n := window(e, after)
	for _, ep := range eps[:n] {
		if r.lacksLocked(ep, true) {
			return false
		}
	}
	return true
}

// NearEpochs returns the epochs whose EIDs Resolve accepts in epoch e: e,
// then e−1 and e+1, leaving out those that would wrap around the uint32
// range (the first and the last epoch are not next to each other); n is
// how many of eps it returns.
func NearEpochs(e uint32) (eps [3]uint32, n int) {
	eps[0], n = e, 1
	if e > 0 {
		eps[n] = e - 1
		n++
	}
	if e < math.MaxUint32 {
		eps[n] = e + 1
		n++
	}
	return eps, n
}

func (r *Resolver) lookupLocked(eid EID, e uint32) (string, bool) {
	eps, n := NearEpochs(e)
	for _, ep := range eps[:n] {
		t := r.tables[ep%ring]
		if t == nil || t.epoch != ep {
			continue
		}
		if pos, ok := t.lookup(eid); ok {
			return r.cards[pos].id, true
		}
	}
	return "", false
}

// advance builds and installs the missing tables from epoch e−1 to
// e+after. Only the copy of the cards and the installation hold mu. A
// resolution's own build (resolved not nil), for a resolution at e,
// replaces any table, and calls resolved with mu held once the tables
// from e−1 to e+after are all in place (installed, or found in place),
// so that resolved finds them before another build replaces them; any
// other (Advance, a build ahead) builds and installs none in the place of
// a table of a later epoch, so that one given an old time, or one ahead
// that runs epochs after the resolution that started it, does not evict
// the tables that the resolutions of now need.
func (r *Resolver) advance(e, after uint32, resolved func()) {
	r.build.Lock()
	defer r.build.Unlock()

	r.mu.Lock()
	eps, n := window(e, after)
	var missing []uint32
	for _, ep := range eps[:n] {
		if r.lacksLocked(ep, resolved != nil) {
			missing = append(missing, ep)
		}
	}
	if len(missing) == 0 {
		if resolved != nil {
			resolved()
		}
		r.mu.Unlock()
		return
	}
	size := tableSize(len(r.index))
	snap := make([]keyOnly, len(r.cards))
	for i := range r.cards {
		snap[i] = keyOnly{key: r.cards[i].key, live: r.cards[i].live}
	}
	r.building, r.dirty = true, nil
	r.mu.Unlock()

	if r.hookBuild != nil {
		r.hookBuild(missing)
	}
	ts := make([]*table, len(missing))
	for i, ep := range missing {
		ts[i] = newTable(ep, size)
	}
	fillTables(ts, snap)

	r.mu.Lock()
	defer r.mu.Unlock()
	slices.Sort(r.dirty)
	size = tableSize(len(r.index))
	for i, t := range ts {
		if len(t.entries) < size {
			ts[i] = t.grown(size)
		}
	}
	for _, pos := range slices.Compact(r.dirty) {
		if int(pos) < len(snap) && snap[pos].live {
			unlink(ts, newEIDKey(snap[pos].key), pos)
		}
		if c := r.cards[pos]; c.live {
			link(ts, newEIDKey(c.key), pos, size)
		}
	}
	r.building, r.dirty = false, nil
	for _, t := range ts {
		r.tables[t.epoch%ring] = t
	}
	if resolved != nil {
		resolved()
	}
}

// fillTables fills empty tables with the EIDs of every card, in two
// parallel passes. The first derives the EIDs, card by card, expanding each
// card's AES key once for all tables. The second splits each table into as
// many contiguous regions as there are workers; each worker places the EIDs
// whose home slot lies in its region with plain writes, so that its cache
// misses overlap, and sets aside the few whose probe runs past the region's
// end, which are placed last, one by one.
func fillTables(ts []*table, cards []keyOnly) {
	workers := runtime.GOMAXPROCS(0)
	if len(cards) < parallelMin || workers < 2 {
		workers = 1
	}
	eids := make([][]EID, len(ts))
	for i := range eids {
		eids[i] = make([]EID, len(cards))
	}
	chunk := (len(cards) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := min(w*chunk, len(cards)), min((w+1)*chunk, len(cards))
		wg.Go(func() { derive(ts, eids, cards, lo, hi) })
	}
	wg.Wait()

	// overflow[w][i]: entries of table i that worker w could not place.
	overflow := make([][][]entry, workers)
	for w := range workers {
		overflow[w] = make([][]entry, len(ts))
		wg.Go(func() {
			for i, t := range ts {
				size := len(t.entries)
				lo, hi := w*size/workers, (w+1)*size/workers
				overflow[w][i] = t.placeRegion(eids[i], cards, lo, hi)
			}
		})
	}
	wg.Wait()
	for w := range overflow {
		for i, t := range ts {
			for _, e := range overflow[w][i] {
				t.place(e)
			}
		}
	}
}

// derive computes the EIDs of the cards from lo to hi for every table.
func derive(ts []*table, eids [][]EID, cards []keyOnly, lo, hi int) {
	buf := new([16]byte)
	for i := lo; i < hi; i++ {
		c := &cards[i]
		if !c.live {
			continue
		}
		b, err := aes.NewCipher(c.key[:])
		if err != nil {
			continue // unreachable: the key is 16 octets
		}
		for j, t := range ts {
			eids[j][i] = eidWith(b, t.epoch, buf)
		}
	}
}

// linkLocked inserts the card at pos into every table the Resolver has.
func (r *Resolver) linkLocked(pos uint32) {
	if r.tables == [ring]*table{} {
		return
	}
	link(r.tables[:], newEIDKey(r.cards[pos].key), pos, tableSize(len(r.index)))
}

// unlinkLocked removes the card at pos from every table the Resolver has.
func (r *Resolver) unlinkLocked(pos uint32) {
	if r.tables == [ring]*table{} {
		return
	}
	unlink(r.tables[:], newEIDKey(r.cards[pos].key), pos)
}

// link inserts the EIDs of the card at pos, whose EID key is k, into the
// tables of ts that are not nil, first replacing with a grown copy each one
// shorter than size.
func link(ts []*table, k *EIDKey, pos uint32, size int) {
	for i, t := range ts {
		if t == nil {
			continue
		}
		if len(t.entries) < size {
			t = t.grown(size)
			ts[i] = t
		}
		t.insert(k.EID(t.epoch), pos)
	}
}

// unlink removes the EIDs of the card at pos, whose EID key is k, from the
// tables of ts that are not nil.
func unlink(ts []*table, k *EIDKey, pos uint32) {
	for _, t := range ts {
		if t != nil {
			t.remove(k.EID(t.epoch), pos)
		}
	}
}

// table is an open-addressing hash table with linear probing from the EIDs
// of one epoch to card positions, keyed by the first 8 octets of the EID
// (which AES makes uniformly random) and checked against all 16.
// Its length is a power of two, at least twice the number of cards.
type table struct {
	epoch   uint32
	shift   uint // 64 − log2(len(entries))
	entries []entry
}

// entry is one slot of a table; pos1 is the card position plus one, and
// zero for an empty slot.
type entry struct {
	k0, k1 uint64
	pos1   uint32
}

// tableSize returns the table length for n cards.
func tableSize(n int) int {
	size := 16
	for size < 2*n {
		size *= 2
	}
	return size
}

// newTable returns an empty table of the given length for epoch.
func newTable(epoch uint32, size int) *table {
	entries := make([]entry, size)
	shift := uint(64)
	for s := size; s > 1; s >>= 1 {
		shift--
	}
	return &table{epoch: epoch, shift: shift, entries: entries}
}

// grown returns a copy of t of the given length.
func (t *table) grown(size int) *table {
	g := newTable(t.epoch, size)
	for _, e := range t.entries {
		if e.pos1 != 0 {
			g.place(e)
		}
	}
	return g
}

func keys(eid EID) (k0, k1 uint64) {
	return binary.LittleEndian.Uint64(eid[:8]), binary.LittleEndian.Uint64(eid[8:])
}

// home returns the slot where probing for k0 starts (Fibonacci hashing).
func (t *table) home(k0 uint64) int {
	return int((k0 * 0x9E3779B97F4A7C15) >> t.shift)
}

func (t *table) lookup(eid EID) (uint32, bool) {
	k0, k1 := keys(eid)
	mask := len(t.entries) - 1
	for i := t.home(k0); ; i = (i + 1) & mask {
		e := &t.entries[i]
		if e.pos1 == 0 {
			return 0, false
		}
		if e.k0 == k0 && e.k1 == k1 {
			return e.pos1 - 1, true
		}
	}
}

func (t *table) insert(eid EID, pos uint32) {
	k0, k1 := keys(eid)
	t.place(entry{k0: k0, k1: k1, pos1: pos + 1})
}

func (t *table) place(e entry) {
	mask := len(t.entries) - 1
	i := t.home(e.k0)
	for t.entries[i].pos1 != 0 {
		i = (i + 1) & mask
	}
	t.entries[i] = e
}

// placeRegion places the EIDs of live cards whose home slot lies in
// [lo, hi), probing no further than hi, and returns those it could not
// place. Workers with disjoint regions may run it at once on one table.
func (t *table) placeRegion(eids []EID, cards []keyOnly, lo, hi int) []entry {
	var rest []entry
	for i := range eids {
		if !cards[i].live {
			continue
		}
		k0, k1 := keys(eids[i])
		h := t.home(k0)
		if h < lo || h >= hi {
			continue
		}
		e := entry{k0: k0, k1: k1, pos1: uint32(i) + 1}
		for h < hi && t.entries[h].pos1 != 0 {
			h++
		}
		if h == hi {
			rest = append(rest, e)
			continue
		}
		t.entries[h] = e
	}
	return rest
}

// remove deletes the entry of eid for the card at pos, if present, by
// backward-shift deletion, which keeps every probe sequence unbroken without
// tombstones.
func (t *table) remove(eid EID, pos uint32) {
	k0, k1 := keys(eid)
	mask := len(t.entries) - 1
	i := t.home(k0)
	for {
		e := t.entries[i]
		if e.pos1 == 0 {
			return
		}
		if e.k0 == k0 && e.k1 == k1 && e.pos1 == pos+1 {
			break
		}
		i = (i + 1) & mask
	}
	j := i
	for {
		t.entries[i] = entry{}
		for {
			j = (j + 1) & mask
			if t.entries[j].pos1 == 0 {
				return
			}
			h := t.home(t.entries[j].k0)
			// The entry at j may move back to i unless its home lies
			// cyclically in (i, j].
			if i <= j {
				if i < h && h <= j {
					continue
				}
			} else if i < h || h <= j {
				continue
			}
			break
		}
		t.entries[i] = t.entries[j]
		i = j
	}
}
