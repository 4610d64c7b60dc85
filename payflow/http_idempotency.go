package payflow

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// IdempotencyKeyHeader is the request header that makes a POST safe to
// retry: the first reply under a key is stored and replayed. The handler
// takes the value without the spaces and tabs around it, and refuses a
// malformed key, or two, on any request, a GET too, which otherwise does
// not use it.
const IdempotencyKeyHeader = "Idempotency-Key"

// ReplayedHeader is set to "true" on a reply replayed from the store.
const ReplayedHeader = "Idempotent-Replayed"

// maxIdempotencyKey is the longest Idempotency-Key accepted.
const maxIdempotencyKey = 255

// Defaults of HandlerOptions.
const (
	DefaultReplyTTL   = 24 * time.Hour
	DefaultReplyLease = time.Minute
)

// ReplyStore keeps the replies of POST requests sent with an
// Idempotency-Key: the final replies, but for the refusals given before
// the bearer token or the record's signature is verified and the replies
// of logins and challenges (HandlerOptions.Replies says which). Every
// payflow.Store implements it in the platform's database, so that several
// handler processes serving one database share the replies; NewHandler
// keeps them in process memory when none is given.
//
// BeginIdempotent claims key for a request whose body hashes to bodyHash:
// it returns nil, nil when the caller now holds the key (until lease) and
// must run the request; the stored reply when a request with the same key
// and body finished before; an error matching ErrInFlight while another
// request holds the key; and one matching ErrKeyReuse when the key was
// used with another body; an empty bodyHash, or the zero time as now, is
// refused with one matching ErrInvalid (CheckBodyHash, CheckNow). A row
// expired at now counts as absent: one whose lease or expiry is at or
// before now, or is the zero time, which has expired at every now. A
// store shared by several processes may also fail with ErrKeyContended
// (which matches ErrUnavailable) when the key it finds held is released
// again and again while it claims it; the handler answers that, as any
// other error of the store, 503 unavailable, and the client retries.
// FinishIdempotent stores the reply of a key held under lease (the lease
// it was claimed with) until expires; AbandonIdempotent releases a key
// held under lease without a reply, so that a retry runs the request
// again. Neither touches a key that another request claimed after lease
// passed: FinishIdempotent then fails with ErrNotFound and
// AbandonIdempotent does nothing. The handler replays a stored reply
// only when its status is a final status that carries a body (from 200 to
// 599, but 204, 205 and 304), as every status it stores is: it answers
// any other, which net/http would refuse or send without the body, with
// 500 internal, and logs it.
//
// Implementations must be safe for concurrent use.
type ReplyStore interface {
	BeginIdempotent(ctx context.Context, key string, bodyHash []byte, now, lease time.Time) (*IdempotentReply, error)
	FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, reply []byte, expires time.Time) error
	AbandonIdempotent(ctx context.Context, key string, lease time.Time) error
}

// ReplyReader is a ReplyStore that can read a key's entry without
// claiming it. LookupIdempotent returns what BeginIdempotent would
// return for a live entry of key at now (the stored reply of a request
// with the same key and body hash that finished, an error matching
// ErrInFlight or ErrKeyReuse), and nil, nil when key has no live entry,
// and writes nothing. It refuses what BeginIdempotent refuses with an
// error matching ErrInvalid: an empty bodyHash, the zero time as now
// and, in a Store (see below), a key that no Store keeps
// (StorableText). The handler of NewHandler reads a key so before it
// answers, without claiming the key, a POST whose card-signed record the
// platform refused before verifying its card and signature (PROTOCOL.md
// §5.5): such a request then writes nothing to the store. In front of a
// store that is no ReplyReader the handler claims the key for it and
// releases it after, two writes. ReplyMemory and the stores of the
// packages memory, sqlite and postgres implement it.
type ReplyReader interface {
	ReplyStore
	LookupIdempotent(ctx context.Context, key string, bodyHash []byte, now time.Time) (*IdempotentReply, error)
}

var _ ReplyReader = (*ReplyMemory)(nil)

// ReplyMemory is a ReplyStore in process memory: what the memory store
// keeps replies in, and what NewHandler keeps them in when it is given
// neither a ReplyStore nor a *Platform (whose Store keeps them). It keeps
// its entries in the order of their deadlines (a key's lease while it is
// in flight, its reply's expiry once finished), whatever the times its
// callers give, and each BeginIdempotent, before it looks its key up,
// deletes the entries expired at its now that come first in that order,
// two at most: no call deletes more or walks the entries, however many
// there are (an entry deleted, added or changed costs a time logarithmic
// in their number), and while expired entries are held their number
// falls with every call that adds a key. DeleteExpired deletes every
// expired entry, 256 entries at most in one hold of the lock, releasing
// it between batches, so that no other call waits for a whole sweep. It
// keeps leases and expiries on the wall clock only, as the SQL stores do,
// without the monotonic clock reading of a time.Now (time.Time.Round(0)),
// so that they compare with the times of later calls on the wall clock. An
// entry is deleted only once expired: a reply is replayed until its
// expiry and a key in flight is held until its lease ends, as the
// ReplyStore contract says. The zero value is an empty ReplyMemory, as
// one of NewReplyMemory is, ready to use. A ReplyMemory is safe for
// concurrent use.
type ReplyMemory struct {
	mu      sync.Mutex
	entries map[string]*replyEntry
	due     replyHeap // the entries, the soonest deadline first

	betweenBatches func() // called, when set, between two batches of DeleteExpired, the lock released
}

// deleteBatch is the most entries that DeleteExpired deletes in one hold
// of a ReplyMemory's lock.
const deleteBatch = 256

type replyEntry struct {
	key      string
	hash     []byte
	done     bool
	status   int
	body     []byte
	deadline time.Time // lease while in flight, expiry once done
	index    int       // in due
}

// replyHeap is a min-heap of entries by deadline (container/heap's
// interface), each entry knowing its index in it. The resolution limiter
// keeps its buckets in a list in the order they were last drawn on, which
// is the order they refill in at the latest, since each refills within
// one fixed time of its last draw; a ReplyMemory's deadlines are its
// callers' to choose, a lease or an expiry of any length, so that no
// order of writes is one of deadlines, and a heap orders them instead.
type replyHeap []*replyEntry

func (h replyHeap) Len() int           { return len(h) }
func (h replyHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }

func (h replyHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *replyHeap) Push(x any) {
	e := x.(*replyEntry)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *replyHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

var _ ReplyStore = (*ReplyMemory)(nil)

// NewReplyMemory returns an empty ReplyMemory.
func NewReplyMemory() *ReplyMemory {
	return &ReplyMemory{entries: make(map[string]*replyEntry)}
}

// BeginIdempotent implements ReplyStore. It first deletes up to two
// entries expired at now (sweepPerCall), those due first.
func (m *ReplyMemory) BeginIdempotent(_ context.Context, key string, bodyHash []byte, now, lease time.Time) (*IdempotentReply, error) {
	if err := checkReplyArgs(bodyHash, now); err != nil {
		return nil, err
	}
	lease = lease.Round(0) // on the wall clock, as the stores keep it
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now, sweepPerCall)
	e, ok := m.entries[key]
	if ok && !expired(e.deadline, now) {
		return e.found(bodyHash)
	}
	if ok {
		// Expired, not yet deleted: taken over.
		e.hash, e.done, e.status, e.body, e.deadline = bytes.Clone(bodyHash), false, 0, nil, lease
		heap.Fix(&m.due, e.index)
		return nil, nil
	}
	e = &replyEntry{key: key, hash: bytes.Clone(bodyHash), deadline: lease}
	if m.entries == nil { // the zero ReplyMemory
		m.entries = make(map[string]*replyEntry)
	}
	m.entries[key] = e
	heap.Push(&m.due, e)
	return nil, nil
}

// LookupIdempotent implements ReplyReader: it reads key's entry as
// BeginIdempotent would find it at now, and changes nothing, neither the
// entry nor the expired entries that BeginIdempotent deletes.
func (m *ReplyMemory) LookupIdempotent(_ context.Context, key string, bodyHash []byte, now time.Time) (*IdempotentReply, error) {
	if err := checkReplyArgs(bodyHash, now); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || expired(e.deadline, now) {
		return nil, nil
	}
	return e.found(bodyHash)
}

// checkReplyArgs refuses the body hash and time of BeginIdempotent and
// LookupIdempotent that no entry is kept for (CheckBodyHash, CheckNow).
func checkReplyArgs(bodyHash []byte, now time.Time) error {
	if err := CheckBodyHash(bodyHash); err != nil {
		return err
	}
	return CheckNow(now)
}

// found is what BeginIdempotent and LookupIdempotent answer of a live
// entry for a request whose body hashes to bodyHash.
func (e *replyEntry) found(bodyHash []byte) (*IdempotentReply, error) {
	switch {
	case !bytes.Equal(e.hash, bodyHash):
		return nil, ErrKeyReuse
	case !e.done:
		return nil, ErrInFlight
	}
	return &IdempotentReply{Status: e.status, Reply: append([]byte{}, e.body...)}, nil
}

// sweepLocked deletes the entries expired at now, most at most, those due
// first, and returns how many it deleted.
func (m *ReplyMemory) sweepLocked(now time.Time, most int) int {
	n := 0
	for ; n < most && m.expiredLocked(now); n++ {
		e := heap.Pop(&m.due).(*replyEntry)
		delete(m.entries, e.key)
	}
	return n
}

// expiredLocked reports whether an entry is expired at now.
func (m *ReplyMemory) expiredLocked(now time.Time) bool {
	return len(m.due) > 0 && expired(m.due[0].deadline, now)
}

// DeleteExpired deletes the entries expired at now (finished replies past
// their expiry, keys held past their lease) and returns how many, those
// due first, without walking the live ones, in batches of at most 256
// entries, each in one hold of the lock, which other calls take between
// two batches. An entry that expired at now and that another call
// deletes or takes over meanwhile is not counted; one written meanwhile
// that has expired at now may be deleted too. It ends, having deleted at
// most as many entries as it held when it started: entries written
// meanwhile already expired at now (by a process whose clock is behind
// the sweeper's) do not keep it going.
func (m *ReplyMemory) DeleteExpired(now time.Time) int {
	m.mu.Lock()
	left := len(m.due)
	m.mu.Unlock()
	n := 0
	for left > 0 {
		m.mu.Lock()
		d := m.sweepLocked(now, min(left, deleteBatch))
		n, left = n+d, left-d
		more := left > 0 && m.expiredLocked(now)
		m.mu.Unlock()
		if !more {
			return n
		}
		if m.betweenBatches != nil {
			m.betweenBatches()
		}
	}
	return n
}

// FinishIdempotent implements ReplyStore.
func (m *ReplyMemory) FinishIdempotent(_ context.Context, key string, lease time.Time, status int, body []byte, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || e.done || !e.deadline.Equal(lease) {
		return fmt.Errorf("%w: idempotency key not in flight", ErrNotFound)
	}
	e.done, e.status, e.body, e.deadline = true, status, bytes.Clone(body), expires.Round(0)
	heap.Fix(&m.due, e.index)
	return nil
}

// AbandonIdempotent implements ReplyStore.
func (m *ReplyMemory) AbandonIdempotent(_ context.Context, key string, lease time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok && !e.done && e.deadline.Equal(lease) {
		heap.Remove(&m.due, e.index)
		delete(m.entries, key)
	}
	return nil
}

// validIdempotencyKey reports whether k is 1 to 255 visible ASCII
// characters.
func validIdempotencyKey(k string) bool {
	if len(k) == 0 || len(k) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// scopedIdempotencyKey is the stored form of a client's key: the SHA-256,
// in hexadecimal, of the method and path, the SHA-256 of token and the
// key. token is the bearer token of an endpoint that takes one, and empty
// for the others, whatever Authorization header the request carries. The
// same key sent to another endpoint or under another token is another
// key; the POSTs that take no token share one scope per path (PROTOCOL.md
// §5.5).
func scopedIdempotencyKey(method, path, token, key string) string {
	th := sha256.Sum256([]byte(token))
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(th[:])
	h.Write([]byte(key))
	return hex.EncodeToString(h.Sum(nil))
}

// storableReply reports whether a reply is final and stored for the key.
// Replies that a retry may change are not: a lost race, rate limiting and
// server-side failures. Nor are those of calls refused before anything
// was written, which a retry is refused the same way and whose storing
// would only let any caller fill the store: unauthorized (a token is
// refused before anything is written, made-up tokens included) and the
// refusals of a record given before its signature was verified, which
// the platform marks errUnverified.
func storableReply(rep httpReply) bool {
	if errors.Is(rep.err, errUnverified) {
		return false
	}
	code := rep.code
	switch code {
	case "", "invalid", "forbidden", "not_found", "bad_signature",
		"card_not_trusted", "card_counter_regression", "nonce_replayed", "expired",
		"final_state", "mismatch", "insufficient_funds", "over_limit":
		return true
	}
	return false
}
