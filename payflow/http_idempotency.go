package payflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// IdempotencyKeyHeader is the request header that makes a POST safe to
// retry: the first reply under a key is stored and replayed. The handler
// refuses a malformed key, or two, on any request, a GET too, which
// otherwise does not use it.
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
// Idempotency-Key. Every payflow.Store implements it in the platform's
// database, so that several handler processes serving one database share
// the replies; NewHandler keeps them in process memory when none is given.
//
// BeginIdempotent claims key for a request whose body hashes to bodyHash:
// it returns nil, nil when the caller now holds the key (until lease) and
// must run the request; the stored reply when a request with the same key
// and body finished before; an error matching ErrInFlight while another
// request holds the key; and one matching ErrKeyReuse when the key was
// used with another body; an empty bodyHash is refused with one matching
// ErrInvalid (CheckBodyHash). A row expired at now counts as absent. A
// store shared by several processes may also fail with ErrKeyContended
// (which matches ErrUnavailable) when the key it finds held is released
// again and again while it claims it; the handler answers that, as any
// other error of the store, 503 unavailable, and the client retries.
// FinishIdempotent stores the reply of a key held under lease (the lease
// it was claimed with) until expires; AbandonIdempotent releases a key
// held under lease without a reply, so that a retry runs the request
// again. Neither touches a key that another request claimed after lease
// passed: FinishIdempotent then fails with ErrNotFound and
// AbandonIdempotent does nothing.
//
// Implementations must be safe for concurrent use.
type ReplyStore interface {
	BeginIdempotent(ctx context.Context, key string, bodyHash []byte, now, lease time.Time) (*IdempotentReply, error)
	FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, reply []byte, expires time.Time) error
	AbandonIdempotent(ctx context.Context, key string, lease time.Time) error
}

// ReplyMemory is a ReplyStore in process memory: what the memory store
// keeps replies in, and what NewHandler keeps them in when it is given
// neither a ReplyStore nor a *Platform (whose Store keeps them). Expired
// entries are deleted as the map grows and by DeleteExpired. A
// ReplyMemory is safe for concurrent use.
type ReplyMemory struct {
	mu      sync.Mutex
	entries map[string]*replyEntry
	sweepAt int // sweep expired entries when the map reaches this size
}

type replyEntry struct {
	hash     []byte
	done     bool
	status   int
	body     []byte
	deadline time.Time // lease while in flight, expiry once done
}

var _ ReplyStore = (*ReplyMemory)(nil)

// NewReplyMemory returns an empty ReplyMemory.
func NewReplyMemory() *ReplyMemory {
	return &ReplyMemory{entries: make(map[string]*replyEntry), sweepAt: 1024}
}

// BeginIdempotent implements ReplyStore.
func (m *ReplyMemory) BeginIdempotent(_ context.Context, key string, bodyHash []byte, now, lease time.Time) (*IdempotentReply, error) {
	if err := CheckBodyHash(bodyHash); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok && now.Before(e.deadline) {
		switch {
		case !bytes.Equal(e.hash, bodyHash):
			return nil, ErrKeyReuse
		case !e.done:
			return nil, ErrInFlight
		}
		return &IdempotentReply{Status: e.status, Reply: bytes.Clone(e.body)}, nil
	}
	if len(m.entries) >= m.sweepAt {
		m.sweepLocked(now)
	}
	m.entries[key] = &replyEntry{hash: bytes.Clone(bodyHash), deadline: lease}
	return nil, nil
}

// sweepLocked deletes the entries expired at now, sets the next sweep at
// twice the entries left, so that sweeping costs amortised constant time,
// and returns how many it deleted.
func (m *ReplyMemory) sweepLocked(now time.Time) int {
	n := 0
	for k, e := range m.entries {
		if !now.Before(e.deadline) {
			delete(m.entries, k)
			n++
		}
	}
	m.sweepAt = max(1024, 2*len(m.entries))
	return n
}

// DeleteExpired deletes the entries expired at now (finished replies past
// their expiry, keys held past their lease) and returns how many.
func (m *ReplyMemory) DeleteExpired(now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sweepLocked(now)
}

// FinishIdempotent implements ReplyStore.
func (m *ReplyMemory) FinishIdempotent(_ context.Context, key string, lease time.Time, status int, body []byte, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || e.done || !e.deadline.Equal(lease) {
		return fmt.Errorf("%w: idempotency key not in flight", ErrNotFound)
	}
	e.done, e.status, e.body, e.deadline = true, status, bytes.Clone(body), expires
	return nil
}

// AbandonIdempotent implements ReplyStore.
func (m *ReplyMemory) AbandonIdempotent(_ context.Context, key string, lease time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok && !e.done && e.deadline.Equal(lease) {
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
// in hexadecimal, of the method and path, the SHA-256 of the bearer token
// (empty when there is none) and the key. The same key sent to another
// endpoint or by another card is another key.
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

// storableReply reports whether a reply with an error code (empty for a
// success) is final and stored for the key. Replies that a retry may
// change are not: a lost race, rate limiting and server-side failures.
func storableReply(code string) bool {
	switch code {
	case "", "invalid", "unauthorized", "forbidden", "not_found", "bad_signature",
		"card_not_trusted", "card_counter_regression", "nonce_replayed", "expired",
		"final_state", "mismatch", "insufficient_funds", "over_limit":
		return true
	}
	return false
}
