package payflow

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
)

// heldSecret returns the secret that r holds card id with, and whether it
// holds it.
func heldSecret(r *eidResolver, id string) ([]byte, bool) {
	h, ok := r.cards[id]
	return h.secret[:], ok
}

// isSeller reports whether r holds card id as a seller card.
func isSeller(r *eidResolver, id string) bool {
	return r.hides(id, func(_ string, seller bool) bool { return seller })
}

// TestResolverReadKeepsLaterEnrolment: a read that began before this
// process enrolled a card neither puts the card's former secret back nor
// takes the card out, while a read that began after the enrolment loads
// what it found; the marks of enrolments go once the last read ends, not
// before.
func TestResolverReadKeepsLaterEnrolment(t *testing.T) {
	const id = "8944000000000000001"
	oldSecret, newSecret := bytes.Repeat([]byte{0x5a}, adv.SecretSize), bytes.Repeat([]byte{0x5b}, adv.SecretSize)
	var r eidResolver
	require.NoError(t, r.enrol(id, oldSecret, false))
	assert.Empty(t, r.setAt, "no read under way: no mark")

	early := r.begin()
	require.NoError(t, r.enrol(id, newSecret, false))
	late := r.begin()
	require.NoError(t, r.load(id, oldSecret, false, early))
	got, ok := heldSecret(&r, id)
	require.True(t, ok)
	assert.Equal(t, newSecret, got, "a read begun before the enrolment")
	assert.False(t, r.drop(id, early), "a read begun before the enrolment")
	_, ok = heldSecret(&r, id)
	assert.True(t, ok)

	r.end() // one read still under way: the marks stay
	require.NoError(t, r.load(id, oldSecret, false, early))
	got, _ = heldSecret(&r, id)
	assert.Equal(t, newSecret, got, "after another read ended")

	require.NoError(t, r.load(id, oldSecret, false, late))
	got, _ = heldSecret(&r, id)
	assert.Equal(t, oldSecret, got, "a read begun after the enrolment")
	r.end()
	assert.Empty(t, r.setAt, "the last read ended")
	assert.Empty(t, r.roleAt, "the last read ended")

	g := r.begin()
	assert.True(t, r.drop(id, g))
	r.end()
	_, ok = heldSecret(&r, id)
	assert.False(t, ok)
}

// TestResolverReadKeepsLaterRole: a read that began before this process
// set a card's role (an enrolment of the card or of its merchant) keeps
// that role, by load as by readRole, while a read that began after sets
// the role it found.
func TestResolverReadKeepsLaterRole(t *testing.T) {
	const id = "8944000000000000001"
	secret := bytes.Repeat([]byte{0x5a}, adv.SecretSize)
	var r eidResolver

	early := r.begin()
	require.NoError(t, r.enrol(id, secret, true))
	r.readRole(id, false, early)
	assert.True(t, isSeller(&r, id), "readRole of a read begun before the enrolment")
	require.NoError(t, r.load(id, secret, false, early))
	assert.True(t, isSeller(&r, id), "load of a read begun before the enrolment")
	r.end()

	early = r.begin()
	r.setSeller(false, id)
	late := r.begin()
	r.readRole(id, true, early)
	assert.False(t, isSeller(&r, id), "readRole of a read begun before setSeller")
	require.NoError(t, r.load(id, secret, true, early))
	assert.False(t, isSeller(&r, id), "load of a read begun before setSeller")
	r.readRole(id, true, late)
	assert.True(t, isSeller(&r, id), "readRole of a read begun after setSeller")
	r.end()
	r.end()

	r.begin()
	r.setSeller(false, id)
	late = r.begin()
	require.NoError(t, r.load(id, secret, true, late))
	assert.True(t, isSeller(&r, id), "load of a read begun after setSeller")
	r.end()
	r.end()
}

// TestReadRoleKeepsRoleSetBetweenItsLocks: a readRole that found, under
// its read lock, a role to change, and before it took its write lock met
// a setSeller of this process, keeps the role setSeller set: it looks
// again under the write lock.
func TestReadRoleKeepsRoleSetBetweenItsLocks(t *testing.T) {
	const id = "8944000000000000001"
	var r eidResolver
	require.NoError(t, r.enrol(id, bytes.Repeat([]byte{0x5a}, adv.SecretSize), true))
	gaps := 0
	r.hookRoleLocks = func() {
		gaps++
		r.setSeller(true, id)
	}
	read := r.begin()
	r.readRole(id, false, read) // the read found the card of no merchant
	r.end()
	assert.Equal(t, 1, gaps, "readRole found a role to change")
	assert.True(t, isSeller(&r, id), "the role set between readRole's locks")

	read = r.begin()
	r.hookRoleLocks = nil
	r.readRole(id, false, read)
	r.end()
	assert.False(t, isSeller(&r, id), "a read begun after the setSeller")
}

// TestResolverHidesHeldCardsOnly: setSeller and readRole take the role of
// the cards that the resolver holds and hold no other card for it; hides
// answers false for a card that it does not hold, and for a nil hide.
func TestResolverHidesHeldCardsOnly(t *testing.T) {
	const id, other = "8944000000000000001", "8944000000000000002"
	all := func(string, bool) bool { return true }
	var r eidResolver
	r.setSeller(true, other)
	r.readRole(other, true, r.begin())
	r.end()
	_, ok := heldSecret(&r, other)
	assert.False(t, ok)
	assert.False(t, r.hides(other, all), "a card the resolver does not hold")

	require.NoError(t, r.enrol(id, bytes.Repeat([]byte{0x5a}, adv.SecretSize), false))
	assert.True(t, r.hides(id, all))
	assert.False(t, r.hides(id, nil))
	assert.Equal(t, []string{id}, r.CardIDs())
}
