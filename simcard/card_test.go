package simcard_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	caOnce sync.Once
	caRoot *pki.CA
	caCard *pki.CA
	caErr  error
)

func issuer(t testing.TB) *pki.CA {
	t.Helper()
	caOnce.Do(func() { caRoot, caCard, caErr = simcardtest.NewCA() })
	require.NoError(t, caErr)
	return caCard
}

func newCard(t testing.TB) *simcardtest.Virtual {
	t.Helper()
	v, err := simcardtest.NewCard(issuer(t), simcardtest.Options{})
	require.NoError(t, err)
	return v
}

func TestStatusErrorIs(t *testing.T) {
	sentinels := []error{simcard.ErrWrongPIN, simcard.ErrPINBlocked, simcard.ErrWrongPUK, simcard.ErrPUKBlocked,
		simcard.ErrPINRequired, simcard.ErrNotReadable, simcard.ErrConditions, simcard.ErrNotFound, simcard.ErrRefused, simcard.ErrMemory, simcard.ErrCardFailure}
	tests := []struct {
		sw    uint16
		ins   byte
		match error // nil: none
		tries int   // -1: no tries (not a 63Cx, or not answering VERIFY, CHANGE or RESET)
	}{
		{0x63C2, simcard.InsVerify, simcard.ErrWrongPIN, 2},
		{0x63C0, simcard.InsChangeReference, simcard.ErrWrongPIN, 0},
		{0x63C1, simcard.InsResetRetryCounter, simcard.ErrWrongPUK, 1},
		{0x63CF, simcard.InsVerify, simcard.ErrWrongPIN, 15},
		{0x6983, simcard.InsVerify, simcard.ErrPINBlocked, -1},
		{0x6983, simcard.InsResetRetryCounter, simcard.ErrPUKBlocked, -1},
		{0x6982, simcard.InsSignRecord, simcard.ErrPINRequired, -1},
		{0x6982, simcard.InsGetData, simcard.ErrNotReadable, -1},
		{0x6985, simcard.InsSignRecord, simcard.ErrConditions, -1},
		{0x6A82, simcard.InsSelect, simcard.ErrNotFound, -1},
		{0x6A88, simcard.InsGetData, simcard.ErrNotFound, -1},
		{0x6A80, simcard.InsSignRecord, simcard.ErrRefused, -1},
		{0x6581, simcard.InsVerify, simcard.ErrMemory, -1},
		{0x6F00, simcard.InsSignRecord, simcard.ErrCardFailure, -1},
		{0x6F00, simcard.InsGenerateKey, simcard.ErrCardFailure, -1},
		{0x6D00, 0xB0, nil, -1},
		// Answering an instruction that presents neither the PIN nor the
		// PUK: no try was counted, nor is any PIN or PUK blocked.
		{0x63C2, simcard.InsSignRecord, nil, -1},
		{0x63C1, simcard.InsGetData, nil, -1},
		{0x63C0, simcard.InsInternalAuth, nil, -1},
		{0x6983, simcard.InsSignRecord, nil, -1},
		{0x6983, simcard.InsInternalAuth, nil, -1},
		{0x6983, simcard.InsSelect, nil, -1},
		{0x6983, simcard.InsChangeReference, simcard.ErrPINBlocked, -1},
		{0x6E00, 0xCA, nil, -1},
		// Answering GET RESPONSE, after the command itself was carried
		// out: no PIN or PUK was presented, nor needed.
		{0x63C2, simcard.InsGetResponse, nil, -1},
		{0x63C0, simcard.InsGetResponse, nil, -1},
		{0x6983, simcard.InsGetResponse, nil, -1},
		{0x6982, simcard.InsGetResponse, nil, -1},
		{0x6985, simcard.InsGetResponse, simcard.ErrConditions, -1},
		{0x6A80, simcard.InsGetResponse, simcard.ErrRefused, -1},
		{0x6A88, simcard.InsGetResponse, simcard.ErrNotFound, -1},
		{0x6581, simcard.InsGetResponse, simcard.ErrMemory, -1},
		{0x6F00, simcard.InsGetResponse, simcard.ErrCardFailure, -1},
	}
	for _, tt := range tests {
		e := &simcard.StatusError{SW: tt.sw, Ins: tt.ins}
		var err error = e
		for _, s := range sentinels {
			assert.Equalf(t, s == tt.match, errors.Is(err, s), "%04X/%02X against %v", tt.sw, tt.ins, s)
		}
		n, ok := e.TriesLeft()
		assert.Equalf(t, tt.tries >= 0, ok, "%04X/%02X: TriesLeft reports tries", tt.sw, tt.ins)
		if ok {
			assert.Equalf(t, tt.tries, n, "%04X/%02X: tries left", tt.sw, tt.ins)
		}
	}
}

// TestNilStatusError: a nil *StatusError, which names no status word,
// matches no sentinel, counts no tries and has a message, without
// panicking, as the nil *Card and *Signer do.
func TestNilStatusError(t *testing.T) {
	var e *simcard.StatusError
	var err error = e
	require.NotPanics(t, func() {
		for _, s := range []error{simcard.ErrWrongPIN, simcard.ErrPINBlocked, simcard.ErrWrongPUK, simcard.ErrPUKBlocked,
			simcard.ErrPINRequired, simcard.ErrNotReadable, simcard.ErrConditions, simcard.ErrNotFound,
			simcard.ErrRefused, simcard.ErrMemory, simcard.ErrCardFailure} {
			assert.False(t, errors.Is(err, s), "%v", s)
		}
		n, ok := e.TriesLeft()
		assert.False(t, ok)
		assert.Zero(t, n)
		assert.Equal(t, "simcard: no status word", err.Error())
	})
}

// script is a Transmitter that checks each command against an expected one
// and answers with a canned response.
type script struct {
	t     *testing.T
	steps [][2]string // command, response (hexadecimal)
	err   error
}

func (s *script) Transmit(cmd []byte) ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	require.NotEmpty(s.t, s.steps, "unexpected command % X", cmd)
	st := s.steps[0]
	s.steps = s.steps[1:]
	assert.Equal(s.t, unhex(s.t, st[0]), cmd)
	return unhex(s.t, st[1]), nil
}

// TestNoTransmitter: a Card without a Transmitter, from New(nil), New of a
// nil pointer or the zero Card, fails every exchange with ErrNoTransmitter
// instead of panicking.
func TestNoTransmitter(t *testing.T) {
	for name, c := range map[string]*simcard.Card{
		"New(nil)":         simcard.New(nil),
		"New(nil pointer)": simcard.New((*script)(nil)),
		"zero":             new(simcard.Card),
	} {
		_, err := c.Select()
		assert.ErrorIs(t, err, simcard.ErrNoTransmitter, name)
		_, err = c.Exchange(simcard.Command{INS: simcard.InsPutData, Data: make([]byte, 300)})
		assert.ErrorIs(t, err, simcard.ErrNoTransmitter, name)
	}
}

func TestExchange(t *testing.T) {
	for name, steps := range map[string][][2]string{
		"6Cxx repeats with the right Le, 61xx fetches the rest": {
			{"00CA010100", "6C03"},
			{"00CA010103", "AABBCC6101"},
			{"00C0000001", "DD9000"},
		},
		"6Cxx to GET RESPONSE repeats it with the right Le": {
			{"00CA010100", "AABB6105"},
			{"00C0000005", "6C02"},
			{"00C0000002", "CCDD9000"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := &script{t: t, steps: steps}
			got, err := simcard.New(s).GetData(simcard.TagICCID)
			require.NoError(t, err)
			assert.Equal(t, unhex(t, "AABBCCDD"), got)
			assert.Empty(t, s.steps)
		})
	}
	t.Run("6Cxx to a command without Le repeats it with that Le", func(t *testing.T) {
		s := &script{t: t, steps: [][2]string{
			{"00440000", "6C02"},
			{"0044000002", "AABB9000"},
		}}
		got, err := simcard.New(s).Exchange(simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsActivate})
		require.NoError(t, err)
		assert.Equal(t, unhex(t, "AABB"), got)
		assert.Empty(t, s.steps)
	})
	t.Run("6Cxx again to the repeated GET RESPONSE", func(t *testing.T) {
		s := &script{t: t, steps: [][2]string{
			{"00CA010100", "AABB6105"},
			{"00C0000005", "6C02"},
			{"00C0000002", "6C02"},
		}}
		_, err := simcard.New(s).GetData(simcard.TagICCID)
		var se *simcard.StatusError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, uint16(0x6C02), se.SW, "repeated once, as the command itself")
		assert.Empty(t, s.steps)
	})
	t.Run("a status word answering GET RESPONSE names GET RESPONSE", func(t *testing.T) {
		s := &script{t: t, steps: [][2]string{
			{"00CA010100", "AABB6102"},
			{"00C0000002", "6985"},
		}}
		_, err := simcard.New(s).GetData(simcard.TagICCID)
		var se *simcard.StatusError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, simcard.StatusError{SW: 0x6985, Ins: simcard.InsGetResponse}, *se)
		assert.ErrorIs(t, err, simcard.ErrConditions)
		assert.Empty(t, s.steps)
	})
	// GET RESPONSE goes on the logical channel of the command it follows
	// (ISO/IEC 7816-4): the channel bits of its CLA, in the first
	// interindustry coding (channels 0 to 3) or the further one (4 to 19),
	// and GlobalPlatform's for a proprietary class, without the secure
	// messaging bits.
	for _, tt := range []struct{ cla, getResponse string }{
		{"01", "01"}, {"03", "03"}, {"0E", "02"}, {"40", "40"}, {"4F", "4F"}, {"65", "45"},
		{"81", "01"}, {"83", "03"}, {"C7", "47"},
	} {
		t.Run("GET RESPONSE on the channel of CLA "+tt.cla, func(t *testing.T) {
			s := &script{t: t, steps: [][2]string{
				{tt.cla + "CA010100", "AABB6105"},
				{tt.getResponse + "C0000005", "6C02"},
				{tt.getResponse + "C0000002", "CCDD9000"},
			}}
			got, err := simcard.New(s).Exchange(simcard.Command{CLA: unhex(t, tt.cla)[0], INS: simcard.InsGetData, P1: 1, P2: 1, Ne: 256})
			require.NoError(t, err)
			assert.Equal(t, unhex(t, "AABBCCDD"), got)
			assert.Empty(t, s.steps)
		})
	}
	t.Run("long data is chained", func(t *testing.T) {
		data := make([]byte, 300)
		s := &script{t: t, steps: [][2]string{
			{"10DA0102FF" + hexN(0, 255), "9000"},
			{"00DA01022D" + hexN(0, 45), "9000"},
		}}
		_, err := simcard.New(s).Exchange(simcard.Command{INS: simcard.InsPutData, P1: 1, P2: 2, Data: data})
		require.NoError(t, err)
	})
	t.Run("6Cxx after a chain repeats the whole chain", func(t *testing.T) {
		s := &script{t: t, steps: [][2]string{
			{"90500200FF" + hexN(0, 255), "9000"},
			{"805002002D" + hexN(0, 45) + "00", "6C03"},
			{"90500200FF" + hexN(0, 255), "9000"},
			{"805002002D" + hexN(0, 45) + "03", "AABBCC9000"},
		}}
		got, err := simcard.New(s).Exchange(simcard.Command{CLA: simcard.ClassProprietary, INS: simcard.InsSignRecord, P1: 2, Data: make([]byte, 300), Ne: 256})
		require.NoError(t, err)
		assert.Equal(t, unhex(t, "AABBCC"), got)
		assert.Empty(t, s.steps)
	})
	t.Run("a refused link stops the chain", func(t *testing.T) {
		s := &script{t: t, steps: [][2]string{{"10DA0102FF" + hexN(0, 255), "6985"}}}
		_, err := simcard.New(s).Exchange(simcard.Command{INS: simcard.InsPutData, P1: 1, P2: 2, Data: make([]byte, 300)})
		assert.ErrorIs(t, err, simcard.ErrConditions)
	})
	t.Run("GET RESPONSE that returns nothing but 61xx", func(t *testing.T) {
		s := &script{t: t, steps: [][2]string{
			{"00CA010100", "AABB6102"},
			{"00C0000002", "6102"},
		}}
		_, err := simcard.New(s).GetData(simcard.TagICCID)
		assert.ErrorIs(t, err, simcard.ErrResponse)
		assert.Empty(t, s.steps)
	})
	t.Run("response without status word", func(t *testing.T) {
		s := &script{t: t, steps: [][2]string{{"00CA010100", "90"}}}
		_, err := simcard.New(s).GetData(simcard.TagICCID)
		assert.ErrorIs(t, err, simcard.ErrResponse)
	})
	t.Run("transport error", func(t *testing.T) {
		boom := errors.New("reader removed")
		_, err := simcard.New(&script{t: t, err: boom}).GetData(simcard.TagICCID)
		assert.ErrorIs(t, err, boom)
	})
	t.Run("extended commands are refused", func(t *testing.T) {
		_, err := simcard.New(&script{t: t}).Exchange(simcard.Command{Extended: true, Ne: 300})
		assert.ErrorIs(t, err, simcard.ErrAPDU)
	})
	t.Run("a command with the chaining bit is refused", func(t *testing.T) {
		// Sent, it would leave a chain open on the card, which would answer
		// the next command 6883 (a VERIFY then clearing the PIN).
		for _, cla := range []byte{simcard.ClassChaining, simcard.ClassProprietary | simcard.ClassChaining} {
			_, err := simcard.New(&script{t: t}).Exchange(simcard.Command{CLA: cla, INS: simcard.InsPutData, P1: 1, P2: 7, Data: []byte{1}})
			assert.ErrorIs(t, err, simcard.ErrAPDU, "CLA %02X", cla)
		}
	})
	t.Run("an Ne beyond a short Le is refused before a chain is sent", func(t *testing.T) {
		for _, ne := range []int{-1, 257} {
			_, err := simcard.New(&script{t: t}).Exchange(simcard.Command{INS: simcard.InsPutData, P1: 1, P2: 2, Data: make([]byte, 300), Ne: ne})
			assert.ErrorIs(t, err, simcard.ErrAPDU, "Ne %d", ne)
		}
	})
	t.Run("malformed answers", func(t *testing.T) {
		for name, st := range map[string][2]string{
			"ICCID with a bad check digit":   {"00CA010100", "38393031343130333231313131383531303732319000"},
			"counter of 4 octets":            {"00CA010400", "000000019000"},
			"counter of 9 octets":            {"00CA010400", "0000000000000000019000"},
			"advert of 30 octets":            {"8052010004000000011F", strings.Repeat("00", 30) + "9000"},
			"tries above the maximum":        {"00CA010500", "04039000"},
			"tries, a maximum of 0":          {"00CA010500", "00009000"},
			"tries, a maximum above 15":      {"00CA010500", "03109000"},
			"FCI with a TLV after 81":        {selectFCI, "6F14 8407F0434153494D01 A509 800101 810107 820100 9000"},
			"FCI with a version of 2 octets": {selectFCI, "6F12 8407F0434153494D01 A507 80020101 810107 9000"},
			"FCI of another version":         {selectFCI, "6F11 8407F0434153494D01 A506 800102 810107 9000"},
			"FCI with a life of 2 octets":    {selectFCI, "6F12 8407F0434153494D01 A507 800101 81020107 9000"},
			"FCI of an unknown life":         {selectFCI, "6F11 8407F0434153494D01 A506 800101 810105 9000"},
		} {
			t.Run(name, func(t *testing.T) {
				c := simcard.New(&script{t: t, steps: [][2]string{st}})
				var err error
				switch st[0] {
				case selectFCI:
					_, err = c.Select()
				case "00CA010100":
					_, err = c.ICCID()
				case "00CA010400":
					_, err = c.Counter()
				case "8052010004000000011F":
					_, err = c.Advert(1, adv.Shopper, 0)
				default:
					_, _, err = c.PINTries()
				}
				assert.ErrorIs(t, err, simcard.ErrResponse)
			})
		}
	})
}

// reusing is a Transmitter that answers every command in one buffer of its
// own, as a reader's driver may.
type reusing struct {
	t   simcard.Transmitter
	buf [258]byte
}

func (r *reusing) Transmit(cmd []byte) ([]byte, error) {
	b, err := r.t.Transmit(cmd)
	if err != nil {
		return nil, err
	}
	return r.buf[:copy(r.buf[:], b)], nil
}

// TestAnswersOwnedByCaller: what a Card returns is the caller's, even
// through a Transmitter that answers every command in the same buffer: a
// later exchange changes none of it.
func TestAnswersOwnedByCaller(t *testing.T) {
	v := newCard(t)
	c := simcard.New(&reusing{t: v.Applet})
	_, err := c.Select()
	require.NoError(t, err)
	iccid, err := c.GetData(simcard.TagICCID)
	require.NoError(t, err)
	tries, err := c.GetData(simcard.TagPINStatus)
	require.NoError(t, err)
	_, err = c.GetData(simcard.TagPublicKey)
	require.NoError(t, err)
	assert.Equal(t, v.Enrolment.ICCID, string(iccid))
	assert.Equal(t, []byte{simcard.DefaultTries, simcard.DefaultTries}, tries)
}

// selectFCI is Card.Select's command: SELECT by DF name, answer the FCI.
const selectFCI = "00A4040007F0434153494D0100"

func hexN(b byte, n int) string {
	out := make([]byte, 0, 2*n)
	for range n {
		out = append(out, "0123456789ABCDEF"[b>>4], "0123456789ABCDEF"[b&15])
	}
	return string(out)
}

// TestAdvertRefusedBeforeSending: Advert of a role other than Shopper or
// Seller, or with flags this version does not define, which the card
// answers 6A86, fails with adv.ErrRole or adv.ErrFlags before anything is
// sent (the script takes no command).
func TestAdvertRefusedBeforeSending(t *testing.T) {
	c := simcard.New(&script{t: t})
	for _, role := range []adv.Role{0, 3, 0xFF} {
		b, err := c.Advert(1, role, 0)
		assert.ErrorIs(t, err, adv.ErrRole, "%d", role)
		assert.Nil(t, b)
	}
	for _, flags := range []adv.Flags{0x04, 0x80, 0xFF} {
		b, err := c.Advert(1, adv.Seller, flags)
		assert.ErrorIs(t, err, adv.ErrFlags, "%#x", flags)
		assert.Nil(t, b)
	}
	b, err := simcard.New(nil).Advert(1, 0, 0xFF)
	assert.ErrorIs(t, err, simcard.ErrNoTransmitter, "checked first")
	assert.Nil(t, b)
}

func TestCardMethods(t *testing.T) {
	v := newCard(t)
	c := v.Card
	id, err := c.ICCID()
	require.NoError(t, err)
	assert.Equal(t, v.Enrolment.ICCID, id)
	chain, err := c.Chain()
	require.NoError(t, err)
	assert.Equal(t, v.Enrolment.Chain, chain)
	require.Len(t, chain, 2)
	pub, err := c.PublicKey()
	require.NoError(t, err)
	assert.True(t, pub.Equal(v.Enrolment.PublicKey))

	// The chain read back verifies under the root.
	vf, err := pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{caRoot.DER()}, Revocation: pki.RevocationBestEffort})
	require.NoError(t, err)
	vc, err := vf.VerifyCard(chain)
	require.NoError(t, err)
	assert.Equal(t, id, vc.CardID)

	ok, err := c.PINVerified()
	require.NoError(t, err)
	assert.False(t, ok)
	require.ErrorIs(t, c.VerifyPIN("12"), simcard.ErrFormat)
	require.NoError(t, c.VerifyPIN(simcardtest.PIN))
	ok, err = c.PINVerified()
	require.NoError(t, err)
	assert.True(t, ok)

	require.NoError(t, c.ChangePIN(simcardtest.PIN, "2468"))
	require.ErrorIs(t, c.VerifyPIN(simcardtest.PIN), simcard.ErrWrongPIN)
	require.NoError(t, c.VerifyPIN("2468"))
	require.ErrorIs(t, c.ChangePIN("2468", "12"), simcard.ErrFormat)
	require.ErrorIs(t, c.Unblock("1234", ""), simcard.ErrFormat)
	require.ErrorIs(t, simcard.New(&script{t: t}).Unblock(simcardtest.PUK, "12"), simcard.ErrFormat, "a new PIN of 2 digits, refused before anything is sent")
	require.NoError(t, c.Unblock(simcardtest.PUK, ""))
	require.NoError(t, c.VerifyPIN("2468"), "P1 01 keeps the PIN")

	for range 3 {
		require.ErrorIs(t, c.VerifyPIN("0000"), simcard.ErrWrongPIN)
	}
	require.ErrorIs(t, c.VerifyPIN("2468"), simcard.ErrPINBlocked)
	_, err = c.PINVerified()
	require.ErrorIs(t, err, simcard.ErrPINBlocked)
	require.NoError(t, c.Unblock(simcardtest.PUK, "13579"))
	require.NoError(t, c.VerifyPIN("13579"))
}

func TestSigner(t *testing.T) {
	v := newCard(t)
	s, err := v.Card.Signer()
	require.NoError(t, err)
	assert.True(t, v.Enrolment.PublicKey.Equal(s.Public()))
	assert.Equal(t, v.Enrolment.ICCID, s.ICCID())

	digest := sha256.Sum256([]byte("anything"))
	for name, opts := range map[string]crypto.SignerOpts{"SHA-256": crypto.SHA256, "none": crypto.Hash(0)} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Sign(rand.Reader, digest[:], opts)
			assert.ErrorIs(t, err, simcard.ErrRawDigest)
		})
	}
	// record.Sign cannot use the card's key from outside the card.
	_, err = record.Sign(rand.Reader, s, &record.RefundRequest{
		CardHeader: record.CardHeader{CardID: v.Enrolment.ICCID, Counter: 99},
		RefundID:   make16(4), RequestID: make16(1), Amount: 1, Currency: "EUR",
	})
	assert.ErrorIs(t, err, simcard.ErrRawDigest)

	challenge := digest[:]
	sig, err := s.Sign(nil, challenge, simcard.ChallengeOpts{})
	require.NoError(t, err)
	assert.True(t, simcard.VerifyChallenge(v.Enrolment.PublicKey, v.Enrolment.ICCID, challenge, sig))
	sig2, err := s.Sign(nil, challenge, &simcard.ChallengeOpts{})
	require.NoError(t, err)
	assert.True(t, simcard.VerifyChallenge(v.Enrolment.PublicKey, v.Enrolment.ICCID, challenge, sig2))

	// Tampered inputs do not verify.
	other, err := simcardtest.RandomICCID(nil)
	require.NoError(t, err)
	bad := append([]byte(nil), sig...)
	bad[len(bad)-1] ^= 1
	assert.False(t, simcard.VerifyChallenge(v.Enrolment.PublicKey, v.Enrolment.ICCID, challenge, bad))
	assert.False(t, simcard.VerifyChallenge(v.Enrolment.PublicKey, other, challenge, sig))
	assert.False(t, simcard.VerifyChallenge(v.Enrolment.PublicKey, v.Enrolment.ICCID, challenge[1:], sig))
	// The challenge is never signed raw.
	assert.False(t, simcard.VerifyChallenge(v.Enrolment.PublicKey, "", nil, sig))
	// A key that is nil or has no point verifies nothing, and does not panic.
	assert.False(t, simcard.VerifyChallenge(nil, v.Enrolment.ICCID, challenge, sig))
	assert.False(t, simcard.VerifyChallenge(&ecdsa.PublicKey{Curve: elliptic.P256()}, v.Enrolment.ICCID, challenge, sig))
}

// TestVerifyChallengeP256Only: a card signs with ECDSA P-256 alone
// (PROTOCOL.md §2.7), so a signature of the challenge message by a key on
// another curve verifies nothing, and a key with coordinates but no curve
// verifies nothing either, without panicking.
func TestVerifyChallengeP256Only(t *testing.T) {
	iccid := "89014103211118510720"
	challenge := bytes.Repeat([]byte{0xC1}, 16)
	msg, err := simcard.ChallengeMessage(iccid, challenge)
	require.NoError(t, err)
	digest := sha256.Sum256(msg)
	for _, curve := range []elliptic.Curve{elliptic.P224(), elliptic.P384(), elliptic.P521()} {
		key, err := ecdsa.GenerateKey(curve, rand.Reader)
		require.NoError(t, err)
		sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		require.NoError(t, err)
		require.True(t, ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig), "the signature itself is good")
		assert.False(t, simcard.VerifyChallenge(&key.PublicKey, iccid, challenge, sig), curve.Params().Name)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	require.NoError(t, err)
	require.True(t, simcard.VerifyChallenge(&key.PublicKey, iccid, challenge, sig))
	//lint:ignore SA1019 a key built from its coordinates alone, as a caller may build one
	noCurve := &ecdsa.PublicKey{X: key.X, Y: key.Y}
	assert.NotPanics(t, func() {
		assert.False(t, simcard.VerifyChallenge(noCurve, iccid, challenge, sig))
	})
}

// TestChallengeICCIDLength: the ICCID's length is one octet of the signed
// message, so an ICCID of 257 octets would be written as 1 and its message
// would be that of its first octet with a longer challenge. ChallengeMessage
// refuses every ICCID that is not valid, and such an ICCID verifies nothing.
func TestChallengeICCIDLength(t *testing.T) {
	msg, err := simcard.ChallengeMessage("89014103211118510720", []byte{1, 2})
	require.NoError(t, err)
	assert.Equal(t, append([]byte("CASIM-INTERNAL-AUTHENTICATE\x00\x1489014103211118510720"), 1, 2), msg)
	for _, iccid := range []string{"", "8", "89014103211118510721", "8" + string(bytes.Repeat([]byte{'9'}, 255)),
		"8" + string(bytes.Repeat([]byte{'9'}, 256))} {
		msg, err := simcard.ChallengeMessage(iccid, []byte{1, 2})
		assert.ErrorIs(t, err, pki.ErrCardID, "ICCID of %d octets", len(iccid))
		assert.Nil(t, msg)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	long := "8" + string(bytes.Repeat([]byte{'9'}, 256))
	challenge := bytes.Repeat([]byte{0xC1}, 16)
	forged := sha256.Sum256(append([]byte("CASIM-INTERNAL-AUTHENTICATE\x00\x01"), append([]byte(long), challenge...)...))
	sig, err := ecdsa.SignASN1(rand.Reader, key, forged[:])
	require.NoError(t, err)
	assert.False(t, simcard.VerifyChallenge(&key.PublicKey, long, challenge, sig))
}

func make16(b byte) []byte {
	out := make([]byte, 16)
	for i := range out {
		out[i] = b
	}
	return out
}

func TestPersonalise(t *testing.T) {
	v := newCard(t)
	_, err := v.Card.Personalise(issuer(t), simcard.Personalisation{ICCID: v.Enrolment.ICCID, PIN: "1234", PUK: "12345678"})
	assert.ErrorIs(t, err, simcard.ErrConditions, "an operational card cannot be personalised again")
	_, err = v.Card.GetData(simcard.TagAdvSecret)
	assert.ErrorIs(t, err, simcard.ErrNotReadable, "no PIN makes the secret readable again")
	assert.NotErrorIs(t, err, simcard.ErrPINRequired)

	a, err := applet.New(new(applet.Memory), applet.Options{})
	require.NoError(t, err)
	blank := simcard.New(a)
	for name, tt := range map[string]struct {
		p    simcard.Personalisation
		want error
	}{
		"bad ICCID": {simcard.Personalisation{ICCID: "89014103211118510721", PIN: "1234", PUK: "12345678"}, pki.ErrCardID},
		"bad PIN":   {simcard.Personalisation{ICCID: "89014103211118510720", PIN: "12", PUK: "12345678"}, simcard.ErrFormat},
		"bad PUK":   {simcard.Personalisation{ICCID: "89014103211118510720", PIN: "1234", PUK: "1234"}, simcard.ErrFormat},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := blank.Personalise(issuer(t), tt.p)
			assert.ErrorIs(t, err, tt.want)
		})
	}
	// A nil *pki.CA and the zero CA issue nothing (pki.CA): neither has
	// the card write its ICCID or generate a key.
	for name, none := range map[string]*pki.CA{"nil": nil, "zero": new(pki.CA)} {
		_, err = blank.Personalise(none, simcard.Personalisation{ICCID: "89014103211118510720", PIN: "1234", PUK: "12345678"})
		assert.ErrorIs(t, err, pki.ErrInvalid, "no issuer: %s CA", name)
		life, err := blank.Select()
		require.NoError(t, err)
		assert.Equal(t, simcard.LifePersonalisation, life, "nothing was written: %s CA", name)
		_, err = blank.ICCID()
		assert.ErrorIs(t, err, simcard.ErrNotFound, "no ICCID written: %s CA", name)
		_, err = blank.PublicKey()
		assert.ErrorIs(t, err, simcard.ErrNotFound, "no key generated: %s CA", name)
	}

	enr, err := blank.Personalise(issuer(t), simcard.Personalisation{ICCID: "89014103211118510720", PIN: "1234", PUK: "12345678"})
	require.NoError(t, err)
	assert.Len(t, enr.AdvertisingSecret, 16)
	life, err := blank.Select()
	require.NoError(t, err)
	assert.Equal(t, simcard.LifeOperational, life)
}

// TestPersonaliseAfterAnotherCA: a card left in personalisation with the
// certificate and the chain of one issuing CA is personalised by another
// (PROTOCOL.md §2.2): the new key's certificate drops the old chain, and
// the card ends with the new CA's chain, or none when a root issued the
// certificate, and signs records that verify under the new root.
func TestPersonaliseAfterAnotherCA(t *testing.T) {
	const iccid = "89014103211118510720"
	newRoot, newCA, err := simcardtest.NewCA()
	require.NoError(t, err)
	for name, by := range map[string]*pki.CA{"card CA": newCA, "root": newRoot} {
		t.Run(name, func(t *testing.T) {
			a, err := applet.New(new(applet.Memory), applet.Options{})
			require.NoError(t, err)
			c := simcard.New(a)
			_, err = c.Select()
			require.NoError(t, err)
			put := func(tag uint16, v []byte) {
				t.Helper()
				_, err := c.Exchange(simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsPutData, P1: byte(tag >> 8), P2: byte(tag), Data: v})
				require.NoError(t, err)
			}
			put(simcard.TagICCID, []byte(iccid))
			tmpl, err := c.Exchange(simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsGenerateKey, P1: simcard.GenerateKeyP1, Ne: 256})
			require.NoError(t, err)
			pub, err := simcard.ParsePublicKeyTemplate(tmpl)
			require.NoError(t, err)
			oldCert, err := issuer(t).IssueCard(pub, iccid, pki.IssueOptions{})
			require.NoError(t, err)
			put(simcard.TagCertificate, oldCert)
			put(simcard.TagChain, bytes.Join(issuer(t).Chain(), nil))

			enr, err := c.Personalise(by, simcard.Personalisation{ICCID: iccid, PIN: "1234", PUK: "12345678"})
			require.NoError(t, err)
			chain, err := c.Chain()
			require.NoError(t, err)
			assert.Equal(t, enr.Chain, chain)
			assert.Len(t, chain, 1+len(by.Chain()))
			vf, err := pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{newRoot.DER()}, Revocation: pki.RevocationBestEffort})
			require.NoError(t, err)
			vc, err := vf.VerifyCard(chain)
			require.NoError(t, err)
			assert.True(t, vc.PublicKey.Equal(enr.PublicKey))
			msg, err := c.SignAuthProof(&record.AuthProof{Nonce: make([]byte, 32), Role: record.RoleShopper, EID: make16(1), PeerEID: make16(2)})
			require.NoError(t, err)
			var ap record.AuthProof
			require.NoError(t, record.Verify(msg, vc.PublicKey, &ap))
			assert.Equal(t, record.CardHeader{CardID: iccid, Counter: 1}, ap.CardHeader)
		})
	}
}

func TestPadPIN(t *testing.T) {
	assert.Equal(t, unhex(t, "31323334FFFFFFFFFFFFFFFF"), simcard.PadPIN("1234"))
	for _, pin := range []string{"1234", "123456", "123456789012"} {
		got, ok := simcard.UnpadPIN(simcard.PadPIN(pin))
		assert.True(t, ok, pin)
		assert.Equal(t, pin, string(got), "UnpadPIN reverses PadPIN")
	}
	// What is not a PIN is not padded: a PIN of 13 digits was cut to its
	// first 12, another PIN, and one of 3 digits, a letter or an FF padded
	// into what UnpadPIN refuses.
	for _, pin := range []string{"1234567890123", "123", "12a4", "12\xFF4", ""} {
		assert.Nil(t, simcard.PadPIN(pin), "%q", pin)
	}
	for name, tt := range map[string]struct {
		in  string
		pin string
		ok  bool
	}{
		"4 digits":         {"31323334FFFFFFFFFFFFFFFF", "1234", true},
		"12 digits":        {"313233343536373839303132", "123456789012", true},
		"3 digits":         {"313233FFFFFFFFFFFFFFFFFF", "", false},
		"FF in the middle": {"3132FF3334FFFFFFFFFFFFFF", "", false},
		"letter":           {"3132333AFFFFFFFFFFFFFFFF", "", false},
		"11 octets":        {"31323334FFFFFFFFFFFFFF", "", false},
		"13 octets":        {"31323334FFFFFFFFFFFFFFFFFF", "", false},
		"digit after FF":   {"31323334FF35FFFFFFFFFFFF", "", false},
	} {
		t.Run(name, func(t *testing.T) {
			pin, ok := simcard.UnpadPIN(unhex(t, tt.in))
			assert.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, tt.pin, string(pin))
			}
		})
	}
}

// TestValidPINAndPUK checks both formats on the two forms they come in:
// the strings of the phone and the command data of the card.
func TestValidPINAndPUK(t *testing.T) {
	for s, want := range map[string]bool{
		"1234": true, "123456789012": true, "0000": true,
		"": false, "123": false, "1234567890123": false, "12a4": false, "12 4": false,
		"12/4": false, "12:4": false, "1234\xff": false, "\xff\xff\xff\xff": false,
	} {
		assert.Equal(t, want, simcard.ValidPIN(s), "PIN %q", s)
		assert.Equal(t, want, simcard.ValidPIN([]byte(s)), "PIN %q as bytes", s)
	}
	for s, want := range map[string]bool{
		"12345678": true, "00000000": true,
		"": false, "1234567": false, "123456789": false, "1234567a": false, "1234567\x00": false,
	} {
		assert.Equal(t, want, simcard.ValidPUK(s), "PUK %q", s)
		assert.Equal(t, want, simcard.ValidPUK([]byte(s)), "PUK %q as bytes", s)
	}
}

// TestAppendPublicKeyTemplateWithoutPoint: a key that is nil or has no
// point appends nothing, where it panicked.
func TestAppendPublicKeyTemplateWithoutPoint(t *testing.T) {
	prefix := []byte{1, 2}
	assert.Equal(t, prefix, simcard.AppendPublicKeyTemplate(prefix, nil))
	assert.Equal(t, prefix, simcard.AppendPublicKeyTemplate(prefix, &ecdsa.PublicKey{Curve: elliptic.P256()}))
}

// TestAppendPublicKeyTemplateP256Only: the template is GENERATE KEY's answer
// for a P-256 key, 7F49 43 | 86 41 04 || X || Y, which ParsePublicKeyTemplate
// reads back; a key on another curve, whose point has another length
// (P-521's, of 133 octets, one that a one-octet BER length cannot even
// carry), appends nothing.
func TestAppendPublicKeyTemplateP256Only(t *testing.T) {
	prefix := []byte{1, 2}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	b := simcard.AppendPublicKeyTemplate(prefix, &key.PublicKey)
	require.Len(t, b, len(prefix)+5+65)
	assert.Equal(t, []byte{0x7F, 0x49, 0x43, 0x86, 0x41, 0x04}, b[len(prefix):len(prefix)+6])
	pub, err := simcard.ParsePublicKeyTemplate(b[len(prefix):])
	require.NoError(t, err)
	assert.True(t, key.PublicKey.Equal(pub))
	for i, v := range map[int]byte{0: 0x7E, 1: 0x48, 2: 0x42, 3: 0x85, 4: 0x40} {
		bad := bytes.Clone(b[len(prefix):])
		bad[i] = v
		_, err := simcard.ParsePublicKeyTemplate(bad)
		assert.ErrorIs(t, err, simcard.ErrResponse, "octet %d of the template %02X", i, v)
		assert.EqualError(t, err, simcard.ErrResponse.Error()+": public key template of 70 octets, not 7F49 43 86 41 and a point of 65 octets", "octet %d", i)
	}
	_, err = simcard.ParsePublicKeyTemplate(b[len(prefix) : len(b)-1])
	assert.EqualError(t, err, simcard.ErrResponse.Error()+": public key template of 69 octets, not 7F49 43 86 41 and a point of 65 octets")
	offCurve := bytes.Clone(b[len(prefix):])
	offCurve[len(offCurve)-1] ^= 1
	_, err = simcard.ParsePublicKeyTemplate(offCurve)
	assert.ErrorIs(t, err, simcard.ErrResponse)
	assert.ErrorContains(t, err, ": public key: ", "the point's own error")
	for _, curve := range []elliptic.Curve{elliptic.P224(), elliptic.P384(), elliptic.P521()} {
		key, err := ecdsa.GenerateKey(curve, rand.Reader)
		require.NoError(t, err)
		assert.Equal(t, prefix, simcard.AppendPublicKeyTemplate(prefix, &key.PublicKey), curve.Params().Name)
	}
}

// FuzzParsePublicKeyTemplate: the answer of GENERATE KEY is parsed without
// panicking, and what is accepted is re-encoded identically.
func FuzzParsePublicKeyTemplate(f *testing.F) {
	v := newCard(f)
	f.Add(simcard.AppendPublicKeyTemplate(nil, v.Enrolment.PublicKey))
	f.Add([]byte{0x7F, 0x49, 0x43, 0x86, 0x41, 0x04})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		pub, err := simcard.ParsePublicKeyTemplate(in)
		if err != nil {
			require.ErrorIs(t, err, simcard.ErrResponse)
			return
		}
		require.Equal(t, in, simcard.AppendPublicKeyTemplate(nil, pub))
	})
}

// FuzzUnpadPIN: the current PIN of CHANGE REFERENCE DATA is read without
// panicking, and what is accepted is a valid PIN that PadPIN turns back
// into the same 12 octets.
func FuzzUnpadPIN(f *testing.F) {
	f.Add(simcard.PadPIN("1234"))
	f.Add([]byte("123456789012"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		pin, ok := simcard.UnpadPIN(in)
		if !ok {
			require.Nil(t, pin)
			return
		}
		require.True(t, simcard.ValidPIN(pin), "%q", pin)
		require.Equal(t, in, simcard.PadPIN(string(pin)))
	})
}

// FuzzChallengeMessage: a message is made only for a valid ICCID, and reads
// back into exactly its ICCID and challenge, so that no two pairs share one.
func FuzzChallengeMessage(f *testing.F) {
	f.Add("89014103211118510720", []byte("challenge"))
	f.Add("8", []byte{})
	f.Fuzz(func(t *testing.T, iccid string, challenge []byte) {
		msg, err := simcard.ChallengeMessage(iccid, challenge)
		if err != nil {
			require.ErrorIs(t, err, pki.ErrCardID)
			require.Error(t, pki.ValidICCID(iccid))
			return
		}
		const label = "CASIM-INTERNAL-AUTHENTICATE\x00"
		require.True(t, bytes.HasPrefix(msg, []byte(label)))
		rest := msg[len(label):]
		require.NotEmpty(t, rest)
		n := int(rest[0])
		require.GreaterOrEqual(t, len(rest), 1+n)
		require.Equal(t, iccid, string(rest[1:1+n]))
		require.Equal(t, challenge, append([]byte{}, rest[1+n:]...))
	})
}

// longAnswer is a Transmitter whose answer comes in parts of 256 octets
// behind 61 00, parts in all, then last more octets with 90 00: the part
// before those announces them (61 last, 61 00 for 256).
type longAnswer struct {
	parts, last, sent int
}

func (l *longAnswer) Transmit([]byte) ([]byte, error) {
	l.sent++
	if l.sent < l.parts {
		return append(make([]byte, 256), 0x61, 0x00), nil
	}
	if l.sent == l.parts {
		return append(make([]byte, 256), 0x61, byte(l.last)), nil
	}
	return append(make([]byte, l.last), 0x90, 0x00), nil
}

// TestExchangeLongAnswer: Exchange collects up to 65536 octets through GET
// RESPONSE, and refuses (ErrResponse) an answer longer than that, however
// its last part arrives.
func TestExchangeLongAnswer(t *testing.T) {
	for _, tt := range []struct {
		name        string
		parts, last int
		n           int // octets returned, or -1 for ErrResponse
	}{
		{"65536 in full parts", 255, 256, 65536},
		{"65536 and one in the last part", 256, 1, -1},
		{"more parts than fit", 300, 0, -1},
		{"short", 1, 10, 266},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := simcard.New(&longAnswer{parts: tt.parts, last: tt.last})
			b, err := c.Exchange(simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsGetData, P1: 1, P2: 2, Ne: 256})
			if tt.n < 0 {
				assert.ErrorIs(t, err, simcard.ErrResponse)
				assert.Nil(t, b)
				return
			}
			require.NoError(t, err)
			assert.Len(t, b, tt.n)
		})
	}
}

// answers is a Transmitter that answers each command with the next of a
// list of canned responses, round and round.
type answers struct {
	list [][]byte
	sent int // commands received
}

// Bounds of the answers of one input. Past maxAnswers commands, every one
// is answered 6F00, an error that ends each method of Card within a few
// commands: answers that announce 256 octets more (61 00) again and again
// would otherwise have each method collect 65536 octets through 256 GET
// RESPONSEs, during which, with the fuzzer's instrumentation and on a
// loaded machine, the worker does not answer the fuzzer (Card refuses a
// second 61 01 at once). More than maxAfter commands past maxAnswers is
// Card sending without end: Transmit then fails, which the target reports.
const (
	maxAnswers = 1024 // 256 GET RESPONSEs of 256 octets reach Card's 65536
	maxAfter   = 256
)

// newAnswers splits in into responses, each a length octet and that many
// octets (the last one cut short if in ends first), answered in turn and
// again from the first when the last has been.
func newAnswers(in []byte) *answers {
	a := &answers{}
	for len(in) > 0 {
		n := min(int(in[0]), len(in)-1)
		a.list = append(a.list, in[1:1+n])
		in = in[1+n:]
	}
	return a
}

// errEndless: Card keeps sending commands answered with an error.
var errEndless = errors.New("the card answers 6F00 and Card keeps sending commands")

func (a *answers) Transmit([]byte) ([]byte, error) {
	a.sent++
	switch {
	case a.sent > maxAnswers+maxAfter:
		return nil, errEndless
	case a.sent > maxAnswers:
		return []byte{0x6F, 0x00}, nil
	case len(a.list) == 0:
		return nil, nil
	}
	return bytes.Clone(a.list[(a.sent-1)%len(a.list)]), nil
}

// rfc6979 signs with crypto/ecdsa's deterministic signatures (RFC 6979),
// whatever random source it is handed: the same digest, the same octets.
type rfc6979 struct{ *ecdsa.PrivateKey }

func (s rfc6979) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.PrivateKey.Sign(nil, digest, opts)
}

// constReader reads as an endless run of 5A octets.
type constReader struct{}

func (constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0x5A
	}
	return len(p), nil
}

// fixedIssuer returns a card-issuing CA under a root whose certificates
// for a key are the same octets every time: a fixed clock, serial numbers
// from constReader and signatures by RFC 6979.
func fixedIssuer(t testing.TB) *pki.CA {
	t.Helper()
	opts := func(crl string) pki.CAOptions {
		return pki.CAOptions{CRLURL: crl, Rand: constReader{},
			Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }}
	}
	rk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ik, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	root, err := pki.NewRoot(rfc6979{rk}, opts("https://pki.invalid/root.crl"))
	require.NoError(t, err)
	ca, err := root.NewIntermediate(rfc6979{ik}, opts("https://pki.invalid/card.crl"))
	require.NoError(t, err)
	return ca
}

// FuzzCardAnswers has the phone's Card read whatever a card might answer,
// through each of its methods that talk to the card (those that read, those
// that present the PIN or the PUK, sign or authenticate, and Personalise):
// no method panics, and each fails only with a status error or ErrResponse,
// and Personalise with ErrNotStored too.
// testdata/fuzz/FuzzCardAnswers/personalised_card holds the answers of a
// personalised card.
//
// Each input runs the same code every time, and fast, so that the fuzzer
// tells new coverage from noise: the answers give out after maxAnswers
// commands, and Personalise's certificate is issued by fixedIssuer, made
// before fuzzing begins, whose certificates do not vary. Random serial
// numbers and signatures (70 to 72 octets) had an input run different
// code from one run to the next, which the fuzzer took for new coverage
// and minimised, at 0 execs/sec, for up to a minute.
func FuzzCardAnswers(f *testing.F) {
	f.Add([]byte{2, 0x61, 0x00})
	f.Add([]byte{2, 0x6C, 0x05, 3, 1, 0x90, 0x00})
	ca := fixedIssuer(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		c := simcard.New(newAnswers(in))
		check := func(err error) {
			t.Helper()
			var se *simcard.StatusError
			if err != nil && !errors.As(err, &se) && !errors.Is(err, simcard.ErrResponse) {
				t.Fatalf("unexpected error %v", err)
			}
		}
		_, err := c.Select()
		check(err)
		_, err = c.ICCID()
		check(err)
		_, err = c.Chain()
		check(err)
		_, err = c.PublicKey()
		check(err)
		_, err = c.Counter()
		check(err)
		_, _, err = c.PINTries()
		check(err)
		_, err = c.PINVerified()
		check(err)
		_, err = c.Advert(7, 1, 0)
		check(err)
		_, err = c.Signer()
		check(err)
		_, _, err = c.PUKTries()
		check(err)
		_, err = c.Certificate()
		check(err)
		check(c.VerifyPIN(simcardtest.PIN))
		check(c.ChangePIN(simcardtest.PIN, "2468"))
		check(c.Unblock(simcardtest.PUK, ""))
		_, err = c.Authenticate(make([]byte, simcard.MinChallenge))
		check(err)
		if s, err := c.Signer(); err == nil {
			_, err = s.Sign(nil, make([]byte, simcard.MaxChallenge), simcard.ChallengeOpts{})
			check(err)
		}
		_, err = c.SignAuthProof(&record.AuthProof{Nonce: make([]byte, 32), Role: record.RoleShopper, EID: make16(5), PeerEID: make16(6)})
		check(err)
		_, err = c.Personalise(ca, simcard.Personalisation{ICCID: "89014103211118510720", PIN: simcardtest.PIN, PUK: simcardtest.PUK})
		if !errors.Is(err, simcard.ErrNotStored) {
			check(err)
		}
	})
}

// TestNilCard: every exported method of a card without a Transmitter (a nil
// *Card, the zero Card, New(nil)) fails with ErrNoTransmitter, whatever its
// arguments, valid or not, and never panics.
func TestNilCard(t *testing.T) {
	pers := simcard.Personalisation{ICCID: "89014103211118510720", PIN: "1234", PUK: "12345678"}
	type call func(c *simcard.Card) error
	valid := map[string]call{
		"Exchange": func(c *simcard.Card) error {
			_, err := c.Exchange(simcard.Command{INS: simcard.InsGetData})
			return err
		},
		"Select":      func(c *simcard.Card) error { _, err := c.Select(); return err },
		"GetData":     func(c *simcard.Card) error { _, err := c.GetData(simcard.TagICCID); return err },
		"ICCID":       func(c *simcard.Card) error { _, err := c.ICCID(); return err },
		"Certificate": func(c *simcard.Card) error { _, err := c.Certificate(); return err },
		"Chain":       func(c *simcard.Card) error { _, err := c.Chain(); return err },
		"PublicKey":   func(c *simcard.Card) error { _, err := c.PublicKey(); return err },
		"Counter":     func(c *simcard.Card) error { _, err := c.Counter(); return err },
		"PINTries":    func(c *simcard.Card) error { _, _, err := c.PINTries(); return err },
		"PUKTries":    func(c *simcard.Card) error { _, _, err := c.PUKTries(); return err },
		"VerifyPIN":   func(c *simcard.Card) error { return c.VerifyPIN(simcardtest.PIN) },
		"PINVerified": func(c *simcard.Card) error { _, err := c.PINVerified(); return err },
		"ChangePIN":   func(c *simcard.Card) error { return c.ChangePIN(simcardtest.PIN, "2468") },
		"Unblock":     func(c *simcard.Card) error { return c.Unblock(simcardtest.PUK, "") },
		"Advert":      func(c *simcard.Card) error { _, err := c.Advert(1, adv.Shopper, 0); return err },
		"SignAuthProof": func(c *simcard.Card) error {
			_, err := c.SignAuthProof(&record.AuthProof{Nonce: make([]byte, 32), Role: record.RoleShopper, EID: make16(5), PeerEID: make16(6)})
			return err
		},
		"SignPaymentRequest": func(c *simcard.Card) error {
			_, err := c.SignPaymentRequest(&record.PaymentRequest{RequestID: make16(1), SessionID: make16(2), MerchantID: "grocer-1", PayerCardID: "89014103211118510720", Amount: 1, Currency: "EUR"})
			return err
		},
		"SignConsent": func(c *simcard.Card) error {
			_, err := c.SignConsent(&record.Consent{RequestID: make16(1), RequestHash: make([]byte, 32), Nonce: make([]byte, 32), Amount: 1, Currency: "EUR", MerchantID: "grocer-1"})
			return err
		},
		"SignRefundRequest": func(c *simcard.Card) error {
			_, err := c.SignRefundRequest(&record.RefundRequest{RefundID: make16(4), RequestID: make16(1), Amount: 1, Currency: "EUR"})
			return err
		},
		"Authenticate": func(c *simcard.Card) error { _, err := c.Authenticate(make([]byte, 16)); return err },
		"Signer":       func(c *simcard.Card) error { _, err := c.Signer(); return err },
		"Personalise":  func(c *simcard.Card) error { _, err := c.Personalise(issuer(t), pers); return err },
	}
	// Arguments a card with a Transmitter refuses before sending anything;
	// the methods missing here take no argument that can be refused.
	invalid := map[string]call{
		"Exchange": func(c *simcard.Card) error {
			_, err := c.Exchange(simcard.Command{INS: simcard.InsGetData, Extended: true, Ne: 70000})
			return err
		},
		"VerifyPIN": func(c *simcard.Card) error { return c.VerifyPIN("12") },
		"ChangePIN": func(c *simcard.Card) error { return c.ChangePIN("12", "2468") },
		"Unblock":   func(c *simcard.Card) error { return c.Unblock("1234", "") },
		"SignAuthProof": func(c *simcard.Card) error {
			_, err := c.SignAuthProof(&record.AuthProof{})
			return err
		},
		"SignPaymentRequest": func(c *simcard.Card) error {
			_, err := c.SignPaymentRequest(&record.PaymentRequest{})
			return err
		},
		"SignConsent": func(c *simcard.Card) error {
			_, err := c.SignConsent(nil)
			return err
		},
		"SignRefundRequest": func(c *simcard.Card) error {
			_, err := c.SignRefundRequest(&record.RefundRequest{})
			return err
		},
		"Authenticate": func(c *simcard.Card) error { _, err := c.Authenticate(make([]byte, 256)); return err },
		"Personalise": func(c *simcard.Card) error {
			_, err := c.Personalise(nil, simcard.Personalisation{ICCID: "1", PIN: "x", PUK: "y"})
			return err
		},
	}
	// With a Transmitter, the invalid arguments are refused with their own
	// errors: the rows above do test arguments the card checks.
	live := simcard.New(&script{t: t})
	for name, call := range invalid {
		err := call(live)
		require.Error(t, err, name)
		require.NotErrorIs(t, err, simcard.ErrNoTransmitter, name)
	}
	typ := reflect.TypeFor[*simcard.Card]()
	require.Len(t, valid, typ.NumMethod(), "a row for every exported method")
	cards := map[string]*simcard.Card{"nil": nil, "zero": new(simcard.Card), "New(nil)": simcard.New(nil)}
	for i := range typ.NumMethod() {
		name := typ.Method(i).Name
		for card, c := range cards {
			t.Run(name+"/"+card, func(t *testing.T) {
				ok, bad := valid[name], invalid[name]
				require.NotNil(t, ok, "no row for %s", name)
				for _, call := range []call{ok, bad} {
					if call == nil {
						continue
					}
					var err error
					require.NotPanics(t, func() { err = call(c) })
					assert.ErrorIs(t, err, simcard.ErrNoTransmitter)
				}
			})
		}
	}
}

// TestNilSigner: a nil *Signer has no card: it names no key and no ICCID,
// and signing a challenge fails with ErrNoTransmitter instead of panicking
// (a raw digest is refused first, as for any Signer).
func TestNilSigner(t *testing.T) {
	var s *simcard.Signer
	assert.Nil(t, s.Public())
	assert.Empty(t, s.ICCID())
	_, err := s.Sign(rand.Reader, make([]byte, 16), simcard.ChallengeOpts{})
	assert.ErrorIs(t, err, simcard.ErrNoTransmitter)
	_, err = s.Sign(rand.Reader, make([]byte, 32), crypto.SHA256)
	assert.ErrorIs(t, err, simcard.ErrRawDigest)
}

// TestSignerOtherCard: a Signer holds the public key and the ICCID it read
// from the card; a card that answers INTERNAL AUTHENTICATE with a signature
// that does not verify with them (another card put in the reader since, or
// a faulty card's answer) is ErrResponse, never a signature that Public does
// not check.
func TestSignerOtherCard(t *testing.T) {
	a, b := newCard(t), newCard(t)
	var to simcard.Transmitter = a.Applet
	c := simcard.New(transmitFunc(func(cmd []byte) ([]byte, error) { return to.Transmit(cmd) }))
	s, err := c.Signer()
	require.NoError(t, err)
	challenge := bytes.Repeat([]byte{7}, simcard.MinChallenge)
	sig, err := s.Sign(nil, challenge, simcard.ChallengeOpts{})
	require.NoError(t, err)
	assert.True(t, simcard.VerifyChallenge(a.Enrolment.PublicKey, a.Enrolment.ICCID, challenge, sig))

	to = b.Applet
	sig, err = s.Sign(nil, challenge, simcard.ChallengeOpts{})
	assert.ErrorIs(t, err, simcard.ErrResponse, "another card")
	assert.Nil(t, sig)

	to = transmitFunc(func(cmd []byte) ([]byte, error) {
		r, err := a.Applet.Transmit(cmd)
		if err == nil && cmd[1] == simcard.InsInternalAuth {
			r[len(r)-3] ^= 1 // the last octet of the signature
		}
		return r, err
	})
	sig, err = s.Sign(nil, challenge, simcard.ChallengeOpts{})
	assert.ErrorIs(t, err, simcard.ErrResponse, "a signature that does not verify")
	assert.Nil(t, sig)
}

// TestSignConsentVerificationCleared: a verified PIN lets the card sign one
// consent unless something clears the verification first (PROTOCOL.md
// §2.5): besides a consent, a reset and SELECT, a VERIFY or CHANGE
// REFERENCE DATA whose PIN is wrong, and any RESET RETRY COUNTER of the
// right format, its PUK right or wrong. Reading data objects, an advert,
// a challenge signed or a successful ChangePIN leave it.
func TestSignConsentVerificationCleared(t *testing.T) {
	consent := &record.Consent{RequestID: make16(1), RequestHash: make([]byte, 32), Nonce: make([]byte, 32),
		Amount: 1, Currency: "EUR", MerchantID: "grocer-1"}
	for name, tc := range map[string]struct {
		between func(c *simcard.Card) error
		want    error // the error of between
		cleared bool
	}{
		"wrong PIN":                  {func(c *simcard.Card) error { return c.VerifyPIN("000000") }, simcard.ErrWrongPIN, true},
		"ChangePIN with a wrong PIN": {func(c *simcard.Card) error { return c.ChangePIN("000000", "2468") }, simcard.ErrWrongPIN, true},
		"Unblock":                    {func(c *simcard.Card) error { return c.Unblock(simcardtest.PUK, "") }, nil, true},
		"Unblock with a wrong PUK":   {func(c *simcard.Card) error { return c.Unblock("00000000", "") }, simcard.ErrWrongPUK, true},
		"SELECT":                     {func(c *simcard.Card) error { _, err := c.Select(); return err }, nil, true},
		"ChangePIN":                  {func(c *simcard.Card) error { return c.ChangePIN(simcardtest.PIN, "2468") }, nil, false},
		"PINTries":                   {func(c *simcard.Card) error { _, _, err := c.PINTries(); return err }, nil, false},
		"Chain":                      {func(c *simcard.Card) error { _, err := c.Chain(); return err }, nil, false},
		"Advert":                     {func(c *simcard.Card) error { _, err := c.Advert(1, adv.Shopper, 0); return err }, nil, false},
		"Authenticate": {func(c *simcard.Card) error {
			_, err := c.Authenticate(make([]byte, simcard.MinChallenge))
			return err
		}, nil, false},
	} {
		t.Run(name, func(t *testing.T) {
			c := newCard(t).Card
			require.NoError(t, c.VerifyPIN(simcardtest.PIN))
			if err := tc.between(c); tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
			_, err := c.SignConsent(consent)
			if tc.cleared {
				assert.ErrorIs(t, err, simcard.ErrPINRequired)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}
