package payflow

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReplyMemoryKeepsItsOwnCopies: a ReplyMemory keeps copies of the body
// hash of a new key, of a key taken over, and of a stored reply, so that a
// caller that reuses its slices afterwards changes nothing stored.
func TestReplyMemoryKeepsItsOwnCopies(t *testing.T) {
	ctx := context.Background()
	t0 := time.Unix(1_800_000_000, 0)
	lease := t0.Add(time.Minute)

	m := NewReplyMemory()
	h := []byte{1, 2}
	_, err := m.BeginIdempotent(ctx, "k", h, t0, lease)
	require.NoError(t, err)
	h[0] = 9
	_, err = m.BeginIdempotent(ctx, "k", []byte{1, 2}, t0, lease)
	assert.ErrorIs(t, err, ErrInFlight, "the hash of a new key")

	body := []byte("first")
	require.NoError(t, m.FinishIdempotent(ctx, "k", lease, 200, body, t0.Add(time.Hour)))
	copy(body, "xxxxx")
	rep, err := m.BeginIdempotent(ctx, "k", []byte{1, 2}, t0, lease)
	require.NoError(t, err)
	assert.Equal(t, &IdempotentReply{Status: 200, Reply: []byte("first")}, rep, "the stored reply")

	// An expired entry left unswept, since the call sweeps a and b first.
	m = NewReplyMemory()
	begin(t, m, "a", t0, t0.Add(10*time.Second))
	begin(t, m, "b", t0, t0.Add(20*time.Second))
	begin(t, m, "k", t0, t0.Add(30*time.Second))
	now := t0.Add(time.Minute)
	h = []byte{3, 4}
	rep, err = m.BeginIdempotent(ctx, "k", h, now, now.Add(time.Minute))
	require.NoError(t, err)
	require.Nil(t, rep, "the expired entry is taken over")
	h[0] = 9
	_, err = m.BeginIdempotent(ctx, "k", []byte{3, 4}, now, now.Add(time.Minute))
	assert.ErrorIs(t, err, ErrInFlight, "the hash of a key taken over")
}

// TestReplyMemoryReordersChangedDeadlines: an entry taken over under a new
// lease, or finished under an expiry later than its lease, moves to the
// place of its new deadline, so that the entries expired before it are
// still deleted.
func TestReplyMemoryReordersChangedDeadlines(t *testing.T) {
	ctx := context.Background()
	t0 := time.Unix(1_800_000_000, 0)

	// Taken over: a and b are swept by the call, k taken over, d expired.
	m := NewReplyMemory()
	begin(t, m, "a", t0, t0.Add(10*time.Second))
	begin(t, m, "b", t0, t0.Add(20*time.Second))
	begin(t, m, "k", t0, t0.Add(30*time.Second))
	begin(t, m, "d", t0, t0.Add(40*time.Second))
	now := t0.Add(time.Minute)
	rep, err := m.BeginIdempotent(ctx, "k", []byte("k2"), now, now.Add(time.Hour))
	require.NoError(t, err)
	require.Nil(t, rep)
	pauses(t, m, 0)
	assert.Equal(t, 1, m.DeleteExpired(now), "d is deleted")
	_, err = m.LookupIdempotent(ctx, "k", []byte("k2"), now)
	assert.ErrorIs(t, err, ErrInFlight, "k is held")

	// Finished: k's reply expires after b's lease.
	m = NewReplyMemory()
	lease := t0.Add(10 * time.Second)
	begin(t, m, "k", t0, lease)
	begin(t, m, "b", t0, t0.Add(20*time.Second))
	require.NoError(t, m.FinishIdempotent(ctx, "k", lease, 200, []byte("r"), t0.Add(time.Hour)))
	pauses(t, m, 0)
	assert.Equal(t, 1, m.DeleteExpired(now), "b is deleted")
	rep, err = m.LookupIdempotent(ctx, "k", []byte("k"), now)
	require.NoError(t, err)
	assert.Equal(t, &IdempotentReply{Status: 200, Reply: []byte("r")}, rep, "k's reply is kept")
}

// TestIdempotencyKeyEdges: a key is 1 to 255 octets from '!' to '~',
// the first as the others.
func TestIdempotencyKeyEdges(t *testing.T) {
	for k, want := range map[string]bool{
		"":                       false,
		"!":                      true,
		"~":                      true,
		"a b":                    false,
		"a\x7f":                  false,
		"a\x80":                  false,
		"\x1fa":                  false,
		"\x7fa":                  false,
		strings.Repeat("k", 255): true,
		strings.Repeat("k", 256): false,
	} {
		assert.Equal(t, want, validIdempotencyKey(k), "%q", k)
	}
}

// nonceKeyStore is a Store whose NonceKey keeps the first candidate it is
// given and returns the key kept, or fails with err when set.
type nonceKeyStore struct {
	Store
	key []byte
	err error
}

func (s *nonceKeyStore) NonceKey(_ context.Context, candidate []byte) ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.key == nil {
		s.key = bytes.Clone(candidate)
	}
	return s.key, nil
}

// TestNonceRandomFails: a nonce key is not made, and a nonce not minted,
// when the random source fails; the store is then given no key.
func TestNonceRandomFails(t *testing.T) {
	down := errors.New("random source down")
	st := &nonceKeyStore{}
	k, err := newNonceKey(context.Background(), st, iotest.ErrReader(down))
	require.ErrorIs(t, err, down)
	assert.EqualError(t, err, "payflow: nonce key: random source down")
	assert.Nil(t, k)
	assert.Nil(t, st.key, "no key is stored")

	mac := newNonceMAC(bytes.Repeat([]byte{7}, nonceKeySize))
	n, err := mintNonce(mac, iotest.ErrReader(down), time.Unix(1_800_000_000, 0), "card", nil)
	assert.ErrorIs(t, err, down)
	assert.Nil(t, n)
}

// TestNonceKeyStoreFails: no nonce key is made when the store cannot keep
// or read one: the store's error.
func TestNonceKeyStoreFails(t *testing.T) {
	lost := errors.New("connection lost")
	k, err := newNonceKey(context.Background(), &nonceKeyStore{err: lost}, bytes.NewReader(make([]byte, nonceKeySize)))
	require.ErrorIs(t, err, lost)
	assert.EqualError(t, err, "payflow: nonce key: connection lost")
	assert.Nil(t, k)
}

// TestReplyMemoryRefusedArgs: BeginIdempotent and LookupIdempotent refuse
// an empty body hash and the zero time as now with ErrInvalid
// (CheckBodyHash, CheckNow), and the refused calls claim nothing.
func TestReplyMemoryRefusedArgs(t *testing.T) {
	ctx := context.Background()
	t0 := time.Unix(1_800_000_000, 0)
	m := NewReplyMemory()
	for _, h := range [][]byte{nil, {}} {
		_, err := m.BeginIdempotent(ctx, "k", h, t0, t0.Add(time.Minute))
		assert.ErrorIs(t, err, ErrInvalid, "Begin, hash %v", h)
		_, err = m.LookupIdempotent(ctx, "k", h, t0)
		assert.ErrorIs(t, err, ErrInvalid, "Lookup, hash %v", h)
	}
	_, err := m.LookupIdempotent(ctx, "k", []byte{1}, time.Time{})
	assert.ErrorIs(t, err, ErrInvalid, "Lookup, the zero now")
	assert.Empty(t, m.entries, "nothing claimed")
	rep, err := m.BeginIdempotent(ctx, "k", []byte{1}, t0, t0.Add(time.Minute))
	require.NoError(t, err)
	assert.Nil(t, rep, "the key is free")
}

// TestReplyMemoryKeyReusedInFlight: a key in flight is reused, not in
// flight, for a request of another body (PROTOCOL.md §5.5, rule 3), to
// BeginIdempotent and LookupIdempotent alike.
func TestReplyMemoryKeyReusedInFlight(t *testing.T) {
	ctx := context.Background()
	t0 := time.Unix(1_800_000_000, 0)
	m := NewReplyMemory()
	begin(t, m, "k", t0, t0.Add(time.Minute))
	_, err := m.BeginIdempotent(ctx, "k", []byte("other"), t0, t0.Add(time.Minute))
	assert.ErrorIs(t, err, ErrKeyReuse, "Begin")
	_, err = m.LookupIdempotent(ctx, "k", []byte("other"), t0)
	assert.ErrorIs(t, err, ErrKeyReuse, "Lookup")
}

// TestReplyMemoryRepliesAreCopies: the reply that BeginIdempotent and
// LookupIdempotent return is the caller's own: changing it changes nothing
// stored.
func TestReplyMemoryRepliesAreCopies(t *testing.T) {
	ctx := context.Background()
	t0 := time.Unix(1_800_000_000, 0)
	lease := t0.Add(time.Minute)
	m := NewReplyMemory()
	begin(t, m, "k", t0, lease)
	require.NoError(t, m.FinishIdempotent(ctx, "k", lease, 200, []byte("first"), t0.Add(time.Hour)))
	rep, err := m.BeginIdempotent(ctx, "k", []byte("k"), t0, lease)
	require.NoError(t, err)
	copy(rep.Reply, "xxxxx")
	rep, err = m.LookupIdempotent(ctx, "k", []byte("k"), t0)
	require.NoError(t, err)
	assert.Equal(t, &IdempotentReply{Status: 200, Reply: []byte("first")}, rep, "Begin's reply changed")
	copy(rep.Reply, "yyyyy")
	rep, err = m.BeginIdempotent(ctx, "k", []byte("k"), t0, lease)
	require.NoError(t, err)
	assert.Equal(t, &IdempotentReply{Status: 200, Reply: []byte("first")}, rep, "Lookup's reply changed")
}
