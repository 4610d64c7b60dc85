package queue

import (
	"bytes"
	"cmp"
	"errors"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/casimpay/casimpay/adv"
)

// Defaults of Options.
const (
	DefaultTTL        = 10 * time.Second
	DefaultCapacity   = 1024
	DefaultAlpha      = 0.25
	DefaultHysteresis = 4.0 // dB
)

// MaxCapacity is the largest Options.Capacity: far more peers than one
// radio hears, and a bound on the memory New sets aside, which is
// proportional to the capacity.
const MaxCapacity = 1 << 16

// MaxTTL is the longest Options.TTL: an EID epoch (ten minutes). A card
// advertises an EID during its epoch only, so a peer not reported for an
// epoch is one whose EID no card advertises any more.
const MaxTTL = adv.EpochSeconds * time.Second

// The RSSI range Observe accepts, in dBm: what the Bluetooth HCI reports
// (127 means "not available" and is refused).
const (
	MinRSSI = -127
	MaxRSSI = 20
)

// Errors.
var (
	// ErrRole: New was given a role other than adv.Shopper or adv.Seller, or
	// Observe an advert without a valid role.
	ErrRole = errors.New("queue: invalid role")
	// ErrOptions: an Options field is out of range (a TTL below zero or
	// above MaxTTL, a Capacity below zero or above MaxCapacity, an Alpha
	// outside (0, 1], a NaN or +Inf Hysteresis).
	ErrOptions = errors.New("queue: invalid options")
	// ErrSameRole: the advert has this phone's own role, so it is not a
	// counterparty.
	ErrSameRole = errors.New("queue: advert of this phone's own role")
	// ErrRSSI: the RSSI is outside [MinRSSI, MaxRSSI].
	ErrRSSI = errors.New("queue: rssi out of range")
	// ErrFull: the queue is full and the newcomer is no stronger than the
	// weakest peer it could evict, or there is none it could evict (the
	// only peer held is the selected one).
	ErrFull = errors.New("queue: full of stronger peers")
	// ErrUnknownPeer: Select was given an EID the queue does not hold.
	ErrUnknownPeer = errors.New("queue: no such peer")
	// ErrNotMade: Observe or Select was called on a Queue that New did not
	// make (the zero Queue or a nil *Queue).
	ErrNotMade = errors.New("queue: not made by New")
)

// Options configure a Queue. The zero value gives the defaults.
type Options struct {
	// TTL is how long a peer stays after its last report, up to MaxTTL;
	// zero means DefaultTTL (10 s).
	TTL time.Duration
	// Capacity is the most peers held, up to MaxCapacity; zero means
	// DefaultCapacity (1,024).
	Capacity int
	// Alpha is the weight of a new report in the RSSI filter, in (0, 1];
	// zero means DefaultAlpha (0.25). 1 disables smoothing.
	Alpha float64
	// Hysteresis is the dead band, in dB, of the strength the queue is
	// ordered by, finite or negative (+Inf and NaN are refused); zero means
	// DefaultHysteresis (4 dB), a negative value (-Inf too) none.
	Hysteresis float64
	// Now is the clock, the same one the scanner's report times come from;
	// nil means time.Now. The queue calls it with its lock held, so it must
	// not call the Queue.
	Now func() time.Time
}

// Peer is a counterparty in the queue, as a Snapshot returns it.
type Peer struct {
	// Packet is the advert of the latest report, the one with the latest
	// time (of reports with the same time, the one Observe received
	// last), its reserved flag bits cleared (Flags holds adv.DefinedFlags
	// at most): a receiver ignores them (PROTOCOL.md §1.1). A late report,
	// whose time is before LastSeen, leaves it.
	Packet adv.Packet
	// RSSI is the smoothed received signal strength, dBm: the filter of
	// Queue over every report since the peer (re)appeared, in the order
	// Observe received them, late reports included (each is a measurement
	// of the peer, taken in as it arrives).
	RSSI float64
	// LastRSSI is the RSSI of the latest report, dBm: the one Packet
	// comes from. A late report leaves it.
	LastRSSI int
	// Level is the strength the queue is ordered by: RSSI held in a dead
	// band, so that it changes only when RSSI moves away from it by more
	// than the hysteresis.
	Level float64
	// FirstSeen is the earliest time of the reports since the peer
	// (re)appeared: a late report before it moves it back, unless it is
	// more than the TTL before it (had the reports come in the order of
	// their times, the peer would have expired in between, and that
	// report would have been of an earlier sighting).
	FirstSeen time.Time
	// LastSeen is the latest time of the reports since the peer
	// (re)appeared, the time of the report Packet and LastRSSI come from;
	// a late report does not move it back. A sweep that finds it after
	// now (the clock stepped back) sets it, and FirstSeen if after now,
	// to now (see Queue).
	LastSeen time.Time
	// Reports counts the reports since the peer (re)appeared, late ones
	// included.
	Reports int
	// Selected is true for the peer the user selected. A selected peer
	// stays in the queue after it expires; its LastSeen tells how long ago
	// it was heard.
	Selected bool
}

// Queue is the service queue of one phone: the peers of the other role its
// scanner reports, one entry per EID, nearest first.
//
// RSSI filter: an exponentially weighted moving average per peer,
// RSSI ← RSSI + Alpha·(report − RSSI), starting at the first report, over
// the reports in the order Observe receives them, a late one (a time before
// the peer's LastSeen) included: it is a measurement of the peer all the
// same, while the fields that name the latest report (Packet, LastRSSI,
// LastSeen) follow the report times (see Peer).
//
// Ordering: by Level (strongest first), then in the order the queue took the
// peers in (the earlier first; a peer back after it expired counts from its
// return). The order among equals follows the calls to Observe, not the
// report times, so that neither a late scan batch nor a step of the wall
// clock puts a newcomer above a peer listed before it. Level follows the
// filtered RSSI only when the two differ by more than Hysteresis dB (it then
// jumps to RSSI), so noise within the dead band never reorders the list,
// while a peer that really comes closer overtakes. Ordering uses RSSI
// alone, not the advert's Tx power, because the Tx power is a claim of the
// sender that costs nothing to inflate.
//
// Expiry: a peer not reported for TTL is left out of snapshots and
// forgotten, unless it is selected. Expiry is evaluated when the queue is
// read (Snapshot, Prune) or full, never per report; an app calls Prune
// periodically (every second, say) to be notified of peers that went away
// without any other report arriving. A report already older than the TTL
// when it arrives brings in no peer (Observe). When the clock steps back
// (Options.Now without a monotonic reading), a sweep that finds a peer last
// seen after now takes it as seen now (its FirstSeen too, if after now), so
// that it expires the TTL after that, not once the clock catches up. The
// sweeps are those of Snapshot, Prune and Observe of a newcomer when the
// queue is full; the last skips its sweep only when it knows that no peer
// has expired, none is last seen after now and none is weaker than the
// newcomer, so that it turns the newcomer away as a sweep would. Each call
// reads the clock with the queue's lock held, so that concurrent calls
// apply their times in the order they take effect in: one that waited for
// the lock does not apply a time earlier than that of a call before it,
// which would look like a step back, and only a clock that steps back
// makes a sweep find a peer last seen after now.
//
// EID rotation: every ten minutes (adv.Epoch) a peer's EID changes, and the
// new EID is a new entry while the old one expires after TTL. A selected
// entry keeps its old EID, which the cloud still resolves during the next
// epoch.
//
// Capacity: when the queue is full, a newcomer first displaces expired
// peers, then the weakest unselected peer (lowest filtered RSSI; the least
// recently seen among equals, by LastSeen; of those, the one first seen
// last, by FirstSeen, which leaves in place the peer listed longer; of
// those, the one with the lowest EID in byte order), and only if it is
// stronger than that peer; otherwise Observe returns ErrFull. Which peer
// goes thus depends on the peers alone, not on the order the queue took
// them in. A flood of adverts therefore cannot push out nearer peers or the
// selected one.
//
// Notifications: Changes returns a channel of capacity 1 that receives a
// value, without ever blocking the scanner, after a change a user could see.
// What a user sees of the queue is the peers a snapshot lists, their order
// (Level) and, of each, its Packet (role, EID, Tx power and the defined
// flags; reserved flag bits are cleared as a report is taken in, so they
// never count) and Selected. So a peer added or removed, a Level change, a
// new flags or Tx power value and a selection notify. The other fields of
// Peer (RSSI, LastRSSI, FirstSeen, LastSeen, Reports) change with nearly
// every report and notify nothing by themselves. Values coalesce: while one
// waits unreceived, later changes send none, for it stands for them too, so
// a slow UI loop misses no change; it takes a Snapshot when it receives one.
//
// A value on Changes means that a snapshot taken now may differ, in what a
// user sees, from the one the UI loop last drew. Changes has one reader, the
// UI loop, which takes a snapshot for each value it receives and draws it:
// each value goes to one receiver only, so a second reader would take values
// that the loop then misses. Other code may take snapshots too. Snapshot,
// AppendSnapshot and Prune forget the expired peers, and notify when one of
// them was listed by a snapshot taken since the last notification, which the
// UI loop may have drawn: a snapshot of other code, or a Prune, that forgets
// a peer the loop drew tells the loop. Peers that no snapshot listed since
// the last notification are left out by the loop's snapshot for it, still to
// come or being taken (its last drawing came before that notification), so
// forgetting them notifies nothing, and the loop does not draw the same list
// twice; it does, once, only when other code's snapshot, between a
// notification and the loop's snapshot for it, listed a peer that expired in
// between. Observe on a full queue notifies the newcomer it takes in after
// forgetting expired peers.
//
// A Queue is safe for concurrent use. Observe does not allocate once a
// peer is known.
//
// The zero Queue, and a nil *Queue, hold no peer and take none: New makes
// a Queue. Their Observe and Select return ErrNotMade; Snapshot and
// AppendSnapshot list no peer, Prune forgets none, Selected reports none,
// Deselect does nothing, Role is 0, and Changes returns a closed channel,
// so that a UI loop ranging over it ends at once rather than waiting for
// ever. No method panics.
type Queue struct {
	self    adv.Role
	ttl     time.Duration
	cap     int
	alpha   float64
	hyst    float64
	now     func() time.Time
	changes chan struct{}

	mu    sync.Mutex
	peers []Peer   // in no particular order
	seqs  []uint64 // seqs[i]: when peers[i] was taken in, by count
	seq   uint64   // the last of seqs given out
	// gen counts the notifications, from 1; listed is the gen of the
	// last snapshot, 0 if none was taken. A snapshot lists every peer
	// held, and every peer taken in (or seen back) notifies, so all the
	// peers held were listed since the last notification exactly when
	// listed == gen.
	gen      uint64
	listed   uint64
	keys     []sortKey         // scratch of AppendSnapshot
	index    map[adv.EID]int32 // EID → position in peers
	selected adv.EID
	hasSel   bool
	// Lower bounds, over the unselected peers, of the filtered RSSI and of
	// LastSeen, and an upper bound, over all peers, of LastSeen, exact
	// after each sweep: a full queue turns a weak newcomer away without a
	// sweep when no peer can have expired and none is last seen after now
	// (which a sweep would bring back to now).
	minRSSI float64
	oldest  time.Time
	newest  time.Time
}

// New returns an empty queue for a phone of role self, which keeps the
// adverts of the opposite role. It returns ErrRole for an invalid role,
// whatever the options, and ErrOptions for options out of range.
func New(self adv.Role, opts Options) (*Queue, error) {
	if !self.Valid() {
		return nil, ErrRole
	}
	q := &Queue{
		self:    self,
		ttl:     cmp.Or(opts.TTL, DefaultTTL),
		cap:     cmp.Or(opts.Capacity, DefaultCapacity),
		alpha:   cmp.Or(opts.Alpha, DefaultAlpha),
		hyst:    cmp.Or(opts.Hysteresis, DefaultHysteresis),
		now:     opts.Now,
		changes: make(chan struct{}, 1),
		gen:     1,
	}
	if q.ttl < 0 || q.ttl > MaxTTL || q.cap < 0 || q.cap > MaxCapacity || !(q.alpha > 0 && q.alpha <= 1) ||
		math.IsNaN(q.hyst) || math.IsInf(q.hyst, 1) {
		return nil, ErrOptions
	}
	if q.hyst < 0 {
		q.hyst = 0
	}
	if q.now == nil {
		q.now = time.Now
	}
	q.minRSSI = math.Inf(-1)
	q.peers = make([]Peer, 0, q.cap)
	q.seqs = make([]uint64, 0, q.cap)
	q.keys = make([]sortKey, 0, q.cap)
	q.index = make(map[adv.EID]int32, q.cap)
	return q, nil
}

// closed is what Changes returns for a Queue that New did not make.
var closed = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// made reports whether New made q. New sets changes, and nothing changes
// it after, so it is read without the lock.
func (q *Queue) made() bool { return q != nil && q.changes != nil }

// Changes returns the notification channel (see Queue). The same channel is
// returned every time, and it is never closed. For a Queue that New did not
// make it is a closed channel, which never delivers a value: a receive
// returns at once, ok false, and a range over it ends.
func (q *Queue) Changes() <-chan struct{} {
	if !q.made() {
		return closed
	}
	return q.changes
}

// Role returns the role of the phone that the queue is for, New's self:
// it keeps the adverts of the opposite role. A Queue that New did not make
// has none (0).
func (q *Queue) Role() adv.Role {
	if !q.made() {
		return 0
	}
	return q.self
}

// notifyLocked counts a notification and sends it, without blocking: a
// value already waiting stands for this one too.
func (q *Queue) notifyLocked() {
	q.gen++
	select {
	case q.changes <- struct{}{}:
	default:
	}
}

// Observe records one report of the scanner: a parsed advert, its RSSI in
// dBm and the time it was received (the zero time means Options.Now(), and
// so does a time after it). It returns ErrNotMade for a Queue that New did
// not make, ErrRole for an advert without a valid role, ErrSameRole for an
// advert of this phone's own role and ErrRSSI for an RSSI out of range, in
// that order when a report has several of these faults (its advert is
// checked before its RSSI), the queue unchanged then, and ErrFull when the
// queue is full of stronger peers, or holds the selected peer alone: it
// then takes in, evicts and forgets no peer and does not notify (an
// expired peer would have left room), although its sweep may have brought
// back to now the times of peers last seen after now (see Queue).
//
// A report received more than the TTL before Options.Now() (a late scan
// batch) of a peer that the queue does not hold live, a newcomer or one
// expired, is ignored: Observe returns nil, and the queue is unchanged and
// not notified, for that peer would be expired as it came; it evicts no
// peer. A late report of a live peer (or of the selected one) counts in its
// RSSI, Level and Reports as any other, but never moves its LastSeen back
// nor replaces its Packet or LastRSSI, which are those of the report with
// the latest time; one before FirstSeen, by the TTL at most, moves it back
// (see Peer).
func (q *Queue) Observe(p adv.Packet, rssi int, at time.Time) error {
	switch {
	case !q.made():
		return ErrNotMade
	case !p.Role.Valid():
		return ErrRole
	case p.Role == q.self:
		return ErrSameRole
	case rssi < MinRSSI || rssi > MaxRSSI:
		return ErrRSSI
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	if at.IsZero() || at.After(now) {
		at = now
	}
	changed, err := q.observeLocked(p, rssi, at, now)
	if changed {
		q.notifyLocked()
	}
	return err
}

func (q *Queue) observeLocked(p adv.Packet, rssi int, at, now time.Time) (changed bool, err error) {
	r := float64(rssi)
	i, ok := q.index[p.EID]
	if now.Sub(at) > q.ttl && (!ok || q.expired(&q.peers[i], now)) {
		return false, nil // expired as it came: nothing to show or evict for
	}
	p.Flags &= adv.DefinedFlags // reserved: ignored, so never shown
	if ok {
		pe := &q.peers[i]
		if q.expired(pe, at) {
			// Gone for longer than the TTL: a new sighting.
			*pe = sighting(p, rssi, at)
			q.seq++
			q.seqs[i] = q.seq
			q.minRSSI = min(q.minRSSI, r)
			q.newest = later(q.newest, at)
			return true, nil
		}
		if !at.Before(pe.LastSeen) { // the latest report: not a late one
			changed = pe.Packet.Flags != p.Flags || pe.Packet.TxPower != p.TxPower
			pe.Packet, pe.LastRSSI, pe.LastSeen = p, rssi, at
		} else if at.Before(pe.FirstSeen) && pe.FirstSeen.Sub(at) <= q.ttl {
			pe.FirstSeen = at
		}
		pe.RSSI += q.alpha * (r - pe.RSSI)
		pe.Reports++
		q.minRSSI = min(q.minRSSI, pe.RSSI)
		q.newest = later(q.newest, at)
		if math.Abs(pe.RSSI-pe.Level) > q.hyst {
			pe.Level = pe.RSSI
			changed = true
		}
		return changed, nil
	}

	if len(q.peers) >= q.cap {
		if r <= q.minRSSI && now.Sub(q.oldest) <= q.ttl && !q.newest.After(now) {
			return false, ErrFull // no weaker peer, none expired or to bring back: no sweep needed
		}
		victim, _, _ := q.sweepLocked(now)
		if len(q.peers) >= q.cap {
			if victim < 0 || r <= q.peers[victim].RSSI {
				// Still full: the sweep forgot no peer (one forgotten
				// would have left room), so nothing changed to notify.
				return false, ErrFull
			}
			q.removeLocked(victim)
		}
	}
	q.index[p.EID] = int32(len(q.peers))
	q.minRSSI = min(q.minRSSI, r)
	if at.Before(q.oldest) {
		q.oldest = at
	}
	q.newest = later(q.newest, at)
	q.peers = append(q.peers, sighting(p, rssi, at))
	q.seq++
	q.seqs = append(q.seqs, q.seq)
	return true, nil
}

// sighting returns a peer first reported at at.
func sighting(p adv.Packet, rssi int, at time.Time) Peer {
	r := float64(rssi)
	return Peer{Packet: p, RSSI: r, LastRSSI: rssi, Level: r, FirstSeen: at, LastSeen: at, Reports: 1}
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// expired reports whether an unselected peer was last seen more than the
// TTL before now.
func (q *Queue) expired(pe *Peer, now time.Time) bool {
	return !pe.Selected && now.Sub(pe.LastSeen) > q.ttl
}

// sweepLocked forgets the expired peers and returns the position of the
// weakest unselected peer left (−1 if none), how many it forgot and
// whether a snapshot taken since the last notification listed one of them.
// It brings back to now the times of peers last seen after now, and
// recomputes minRSSI, oldest and newest.
func (q *Queue) sweepLocked(now time.Time) (weakest, removed int, listed bool) {
	weakest = -1
	q.minRSSI, q.oldest, q.newest = math.Inf(1), now, time.Time{}
	for i := 0; i < len(q.peers); {
		pe := &q.peers[i]
		if pe.LastSeen.After(now) {
			// The clock stepped back: count the peer's absence from now.
			pe.LastSeen = now
			if pe.FirstSeen.After(now) {
				pe.FirstSeen = now
			}
		}
		if q.expired(pe, now) {
			listed = q.listed == q.gen
			q.removeLocked(i)
			removed++
			continue // the last peer moved to i
		}
		q.newest = later(q.newest, pe.LastSeen)
		if !pe.Selected {
			if weakest < 0 || weaker(pe, &q.peers[weakest]) {
				weakest = i
			}
			q.minRSSI = min(q.minRSSI, pe.RSSI)
			if pe.LastSeen.Before(q.oldest) {
				q.oldest = pe.LastSeen
			}
		}
		i++
	}
	return weakest, removed, listed
}

// weaker reports whether a is to be evicted before b (see Queue): the
// lower filtered RSSI, then the earlier LastSeen, then the later
// FirstSeen, then the lower EID.
func weaker(a, b *Peer) bool {
	if a.RSSI != b.RSSI {
		return a.RSSI < b.RSSI
	}
	if !a.LastSeen.Equal(b.LastSeen) {
		return a.LastSeen.Before(b.LastSeen)
	}
	if !a.FirstSeen.Equal(b.FirstSeen) {
		return a.FirstSeen.After(b.FirstSeen)
	}
	return bytes.Compare(a.Packet.EID[:], b.Packet.EID[:]) < 0
}

// removeLocked deletes the peer at i, moving the last peer into its place.
func (q *Queue) removeLocked(i int) {
	delete(q.index, q.peers[i].Packet.EID)
	last := len(q.peers) - 1
	if i != last {
		q.peers[i] = q.peers[last]
		q.seqs[i] = q.seqs[last]
		q.index[q.peers[i].Packet.EID] = int32(i)
	}
	q.peers[last] = Peer{}
	q.peers = q.peers[:last]
	q.seqs = q.seqs[:last]
}

// Prune forgets the peers not seen for the TTL (except the selected one)
// and returns how many it forgot. It notifies Changes when a snapshot taken
// since the last notification listed one of them (see Queue). A Queue that
// New did not make forgets none (0).
func (q *Queue) Prune() int {
	if !q.made() {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.expireLocked(q.now())
}

// expireLocked forgets the expired peers, notifies Changes when a snapshot
// taken since the last notification listed one of them, which the UI loop
// may have drawn, and returns how many it forgot.
func (q *Queue) expireLocked(now time.Time) int {
	_, removed, listed := q.sweepLocked(now)
	if listed {
		q.notifyLocked()
	}
	return removed
}

// Snapshot returns the peers in a new slice, nearest first (see Queue for
// the order), leaving out and forgetting those that expired. It notifies
// Changes of those it forgets, as Prune does, only when a snapshot taken
// since the last notification listed one of them, which the UI loop may
// have drawn (see Queue). A Queue that New did not make returns an empty
// slice.
func (q *Queue) Snapshot() []Peer {
	if !q.made() {
		return []Peer{}
	}
	q.mu.Lock()
	n := len(q.peers)
	q.mu.Unlock()
	return q.AppendSnapshot(make([]Peer, 0, n))
}

// AppendSnapshot appends the peers to dst, nearest first, and returns the
// extended slice; with a dst of enough capacity it does not allocate. Like
// Snapshot, it forgets the peers that expired, and notifies Changes of
// them only when a snapshot since the last notification listed one. A
// Queue that New did not make returns dst as it is.
func (q *Queue) AppendSnapshot(dst []Peer) []Peer {
	if !q.made() {
		return dst
	}
	q.mu.Lock()
	q.expireLocked(q.now())
	keys := q.keys[:0]
	for i := range q.peers {
		keys = append(keys, sortKey{level: q.peers[i].Level, seq: q.seqs[i], i: int32(i)})
	}
	q.listed = q.gen // every peer left is listed
	slices.SortFunc(keys, compareKeys)
	for _, k := range keys {
		dst = append(dst, q.peers[k.i])
	}
	q.keys = keys
	q.mu.Unlock()
	return dst
}

// sortKey is what the snapshot order looks at, for one peer.
type sortKey struct {
	level float64
	seq   uint64 // when the queue took the peer in, by count
	i     int32  // position in peers
}

// compareKeys is the snapshot order: Level descending, then the order the
// queue took the peers in. No two peers share a seq.
func compareKeys(a, b sortKey) int {
	if c := cmp.Compare(b.level, a.level); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// Select marks the peer with the given EID as the user's choice, replacing
// any earlier one, and returns it. The selected peer is neither expired nor
// evicted until Deselect or another Select. Selecting the selected peer
// again changes nothing and does not notify. It returns ErrUnknownPeer when
// the queue holds no live peer with that EID, and ErrNotMade for a Queue
// that New did not make.
func (q *Queue) Select(eid adv.EID) (Peer, error) {
	if !q.made() {
		return Peer{}, ErrNotMade
	}
	q.mu.Lock()
	i, ok := q.index[eid]
	if !ok || q.expired(&q.peers[i], q.now()) {
		q.mu.Unlock()
		return Peer{}, ErrUnknownPeer
	}
	again := q.peers[i].Selected
	if !again {
		q.clearSelectionLocked()
		q.peers[i].Selected = true
		q.selected, q.hasSel = eid, true
		q.notifyLocked()
	}
	pe := q.peers[i]
	q.mu.Unlock()
	return pe, nil
}

// Deselect clears the selection, if any. A peer that expired while selected
// goes at the next sweep. On a Queue that New did not make it does
// nothing.
func (q *Queue) Deselect() {
	if !q.made() {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.hasSel {
		q.clearSelectionLocked()
		q.notifyLocked()
	}
}

func (q *Queue) clearSelectionLocked() {
	if !q.hasSel {
		return
	}
	if i, ok := q.index[q.selected]; ok {
		pe := &q.peers[i]
		pe.Selected = false
		q.minRSSI = min(q.minRSSI, pe.RSSI)
		if pe.LastSeen.Before(q.oldest) {
			q.oldest = pe.LastSeen
		}
	}
	q.hasSel = false
	q.selected = adv.EID{}
}

// Selected returns the selected peer and whether there is one. A Queue
// that New did not make has none.
func (q *Queue) Selected() (Peer, bool) {
	if !q.made() {
		return Peer{}, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.hasSel {
		return Peer{}, false
	}
	return q.peers[q.index[q.selected]], true
}
