package payflow

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"sync"
	"time"

	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

// Challenge nonces are stateless: a nonce carries its expiry and a MAC
// under the platform's nonce key (Store.NonceKey), so issuing one writes
// nothing (nor does the handler of NewHandler store the reply of a
// challenge under an Idempotency-Key) and any platform process sharing
// the database can check it. It is still usable once: accepting a record
// marks its nonce used (Store.Accept), in the transaction that advances
// the card's counter, and a nonce marked used is refused until it
// expires. A nonce is bound to the card it was issued for, and a consent
// nonce to its payment request too: the MAC covers the card ID (that of
// the challenge; the payer's for a consent nonce) and the request ID,
// which is empty for login and pairing challenges, each after its length
// in one octet, so that a record under another card ID, or of another
// request, is refused for its nonce.
//
//	bytes 0–7    expiry, Unix nanoseconds, big-endian
//	bytes 8–15   random
//	bytes 16–31  HMAC-SHA256(key, "CASIM-NONCE" || bytes 0–15 ||
//	             len(card ID) || card ID || len(request ID) || request ID)[0:16]
const (
	// usedNonceGrace is how long after its expiry a used nonce is kept, so
	// that a platform process whose clock lags the one that deletes
	// expired rows by less than that still finds it used.
	usedNonceGrace = 5 * time.Minute

	nonceKeySize = 32
	nonceTagSize = 16
	nonceLabel   = "CASIM-NONCE"
	// maxNonceBound is the longest card ID or request ID that a nonce is
	// bound to: its length is one octet of the MAC's input. Card IDs have
	// 19 or 20 octets, request IDs 16.
	maxNonceBound = 255
)

// errNonceForm is the cause of a nonce refused by openNonce.
var errNonceForm = errors.New("not a nonce of this platform")

// nonceMAC computes the MACs of nonces under one key, reusing its HMAC
// states. It is safe for concurrent use.
type nonceMAC struct {
	macs sync.Pool // of *nonceHasher under the key
}

// nonceHasher is an HMAC-SHA256 state with room for the MAC's input and
// its sum, so that computing a tag allocates nothing.
type nonceHasher struct {
	mac hash.Hash
	in  [len(nonceLabel) + 16 + 1 + maxNonceBound + 1 + maxNonceBound]byte
	sum [sha256.Size]byte
}

func newNonceMAC(key []byte) *nonceMAC {
	key = bytes.Clone(key)
	return &nonceMAC{macs: sync.Pool{New: func() any { return &nonceHasher{mac: hmac.New(sha256.New, key)} }}}
}

// newNonceKey returns the MAC of the platform's nonce key, stored by the
// first platform on the database.
func newNonceKey(ctx context.Context, s Store, rand io.Reader) (*nonceMAC, error) {
	candidate := make([]byte, nonceKeySize)
	if _, err := io.ReadFull(rand, candidate); err != nil {
		return nil, fmt.Errorf("payflow: nonce key: %w", err)
	}
	key, err := s.NonceKey(ctx, candidate)
	if err != nil {
		return nil, fmt.Errorf("payflow: nonce key: %w", err)
	}
	if len(key) != nonceKeySize {
		return nil, fmt.Errorf("payflow: nonce key of %d bytes", len(key))
	}
	return newNonceMAC(key), nil
}

// nonceTag puts in tag (nonceTagSize octets) the MAC of a nonce's first
// 16 bytes and the card ID and request ID (nil for none) it is bound to,
// each at most maxNonceBound octets long (nonceBound), each after its
// length.
func nonceTag(k *nonceMAC, tag, body []byte, cardID string, requestID []byte) {
	h := k.macs.Get().(*nonceHasher)
	in := append(h.in[:0], nonceLabel...)
	in = append(in, body[:16]...)
	in = append(in, byte(len(cardID)))
	in = append(in, cardID...)
	in = append(in, byte(len(requestID)))
	in = append(in, requestID...)
	h.mac.Reset()
	h.mac.Write(in)
	copy(tag[:nonceTagSize], h.mac.Sum(h.sum[:0]))
	k.macs.Put(h)
}

// nonceBound reports whether a nonce may be bound to cardID and
// requestID: whether neither is longer than maxNonceBound octets.
func nonceBound(cardID string, requestID []byte) bool {
	return len(cardID) <= maxNonceBound && len(requestID) <= maxNonceBound
}

// mintNonce returns a nonce usable until expires, bound to the card
// cardID and to requestID (nil for a challenge). A nonce carries an
// expiry from the Unix epoch to time.Unix(0, math.MaxInt64) (2262-04-11):
// an expiry before the epoch is carried as the epoch (the nonce is
// expired at the epoch and after, and usable until the epoch before it),
// and one after the latest as the latest (nonceExpiry).
func mintNonce(k *nonceMAC, rand io.Reader, expires time.Time, cardID string, requestID []byte) ([]byte, error) {
	if !nonceBound(cardID, requestID) {
		return nil, fmt.Errorf("payflow: a nonce bound to a card ID of %d octets and a request ID of %d", len(cardID), len(requestID))
	}
	n := make([]byte, record.NonceSize)
	binary.BigEndian.PutUint64(n[:8], nonceExpiry(expires))
	if _, err := io.ReadFull(rand, n[8:16]); err != nil {
		return nil, err
	}
	nonceTag(k, n[16:], n, cardID, requestID)
	return n, nil
}

// nonceExpiry returns the expiry that a nonce carries for expires, in
// Unix nanoseconds: expires clamped to the Unix epoch and
// time.Unix(0, math.MaxInt64). The times are compared, not their Unix
// nanoseconds, which wrap around outside 1678 to 2262 (time.UnixNano):
// an expiry in 1600 would otherwise be carried as one in 2184.
func nonceExpiry(expires time.Time) uint64 {
	switch {
	case expires.Before(time.Unix(0, 0)):
		return 0
	case expires.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return uint64(expires.UnixNano())
}

// openNonce checks a nonce's MAC for the card cardID and requestID (nil
// for a challenge), in constant time, and its expiry at now, and returns
// the expiry. A nonce that fails either, or that no card ID and request
// ID of those lengths are bound to (nonceBound), is an error matching
// pki.ErrNonce.
func openNonce(k *nonceMAC, n []byte, now time.Time, cardID string, requestID []byte) (time.Time, error) {
	if len(n) != record.NonceSize || !nonceBound(cardID, requestID) {
		return time.Time{}, fmt.Errorf("%w: %w", pki.ErrNonce, errNonceForm)
	}
	var tag [nonceTagSize]byte
	nonceTag(k, tag[:], n, cardID, requestID)
	if !hmac.Equal(n[16:], tag[:]) {
		return time.Time{}, fmt.Errorf("%w: %w", pki.ErrNonce, errNonceForm)
	}
	v := binary.BigEndian.Uint64(n[:8])
	if v > math.MaxInt64 {
		return time.Time{}, fmt.Errorf("%w: %w", pki.ErrNonce, errNonceForm)
	}
	exp := time.Unix(0, int64(v))
	if !now.Before(exp) {
		return time.Time{}, fmt.Errorf("%w: expired", pki.ErrNonce)
	}
	return exp, nil
}
