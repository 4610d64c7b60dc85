package simcard_test

import (
	"errors"
	"testing"

	"github.com/casimpay/casimpay/simcard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// endless61 is a card that answers every command with 256 octets and
// 61 00, more to come, until it has answered limit commands; past that it
// fails. With empty set, it answers its first command with 61 00 alone.
type endless61 struct {
	sent, limit int
	empty       bool
}

var errWornOut = errors.New("card answered its last command")

func (e *endless61) Transmit([]byte) ([]byte, error) {
	e.sent++
	if e.sent > e.limit {
		return nil, errWornOut
	}
	if e.empty && e.sent == 1 {
		return []byte{0x61, 0x00}, nil
	}
	return append(make([]byte, 256), 0x61, 0x00), nil
}

// TestGetResponseEndless: a card that announces 256 octets more (61 00)
// after every answer is refused with ErrResponse once Exchange holds
// 65536 octets and is told that more are to come, with no GET RESPONSE
// for them: after the command and 255 GET RESPONSEs when the command's
// answer carries 256 octets, after 256 when it carries none.
func TestGetResponseEndless(t *testing.T) {
	for _, tt := range []struct {
		empty bool
		sent  int
	}{
		{false, 256},
		{true, 257},
	} {
		e := &endless61{limit: 1000, empty: tt.empty}
		got, err := simcard.New(e).Exchange(simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsGetData, P1: 1, P2: 1, Ne: 256})
		require.ErrorIs(t, err, simcard.ErrResponse)
		assert.EqualError(t, err, "simcard: malformed response: response longer than 65536 octets")
		assert.NotErrorIs(t, err, errWornOut)
		assert.Nil(t, got)
		assert.Equal(t, tt.sent, e.sent, "commands sent, the command's answer empty: %v", tt.empty)
	}
}

// endless6C is a card that answers its command with 61 00 and no data,
// each GET RESPONSE for 256 octets with 6C 01 (one octet left) and each
// for one octet with that octet and 61 00, more to come.
type endless6C struct{ sent int }

func (e *endless6C) Transmit(apdu []byte) ([]byte, error) {
	e.sent++
	switch {
	case e.sent == 1:
		return []byte{0x61, 0x00}, nil
	case apdu[len(apdu)-1] == 0:
		return []byte{0x6C, 0x01}, nil
	}
	return []byte{0xAA, 0x61, 0x00}, nil
}

// TestGetResponseEndless6C: a 6Cxx answering a GET RESPONSE after 6100
// counts the octets left, so that a card answering 6C01 to every GET
// RESPONSE for 256 octets and 6100 after the one it then sends is
// refused (ErrResponse) after the command and two GET RESPONSEs, rather
// than asked for 65536 octets one at a time (131073 commands).
func TestGetResponseEndless6C(t *testing.T) {
	e := &endless6C{}
	got, err := simcard.New(e).Exchange(simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsGetData, P1: 1, P2: 1, Ne: 256})
	require.ErrorIs(t, err, simcard.ErrResponse)
	assert.EqualError(t, err, "simcard: malformed response: instruction C0 answered 6100 where 0 octets were left of those a 61xx or 6Cxx counted")
	assert.Nil(t, got)
	assert.Equal(t, 3, e.sent)
}

// TestCommandCase1Extended: a command without data or Ne has one encoding,
// its header, whether or not it is marked Extended.
func TestCommandCase1Extended(t *testing.T) {
	for _, ext := range []bool{false, true} {
		b, err := simcard.Command{CLA: 0x80, INS: 0x52, P1: 1, P2: 2, Extended: ext}.MarshalBinary()
		require.NoError(t, err)
		assert.Equal(t, []byte{0x80, 0x52, 0x01, 0x02}, b, "extended %v", ext)
	}
}

// commandLog is a card that answers every command 9000 and keeps them.
type commandLog struct{ got [][]byte }

func (r *commandLog) Transmit(apdu []byte) ([]byte, error) {
	r.got = append(r.got, append([]byte(nil), apdu...))
	return []byte{0x90, 0x00}, nil
}

// TestExchangeChainsPast255: Exchange sends up to 255 octets of data in
// one command, and more as a chain of 255-octet links (CLA bit 10) and a
// last command with the rest.
func TestExchangeChainsPast255(t *testing.T) {
	for _, tt := range []struct {
		n     int
		links []int // data octets of each command sent; the last unchained
	}{
		{254, []int{254}},
		{255, []int{255}},
		{256, []int{255, 1}},
		{510, []int{255, 255}},
		{511, []int{255, 255, 1}},
	} {
		r := &commandLog{}
		data := make([]byte, tt.n)
		_, err := simcard.New(r).Exchange(simcard.Command{CLA: simcard.ClassProprietary, INS: simcard.InsSignRecord, P1: 1, Data: data})
		require.NoError(t, err, "%d octets", tt.n)
		require.Len(t, r.got, len(tt.links), "%d octets", tt.n)
		for i, apdu := range r.got {
			last := i == len(r.got)-1
			assert.Equal(t, !last, apdu[0]&simcard.ClassChaining != 0, "%d octets, command %d: CLA %02X", tt.n, i, apdu[0])
			assert.Equal(t, []byte{simcard.InsSignRecord, 1, 0}, apdu[1:4], "%d octets, command %d", tt.n, i)
			assert.Equal(t, 5+tt.links[i], len(apdu), "%d octets, command %d", tt.n, i)
			assert.Equal(t, byte(tt.links[i]), apdu[4], "%d octets, command %d: Lc", tt.n, i)
		}
	}
}

// tail6C is a card that answers its command with one octet and 61 00,
// 255 GET RESPONSEs for 256 octets with them and 61 00, the last 61 FF,
// and then each GET RESPONSE for more than one octet with 6C 01 (one
// octet left, which the 61xx before denies) and each for one octet with
// that octet and a 61xx counting those still left, 9000 after the last.
type tail6C struct{ sent, octets int }

func (e *tail6C) Transmit(apdu []byte) ([]byte, error) {
	e.sent++
	le := int(apdu[len(apdu)-1])
	if le == 0 {
		le = 256
	}
	sw := func() []byte {
		switch left := 65536 - e.octets; {
		case left == 0:
			return []byte{0x90, 0x00}
		case left > 255:
			return []byte{0x61, 0x00}
		default:
			return []byte{0x61, byte(left)}
		}
	}
	switch {
	case e.sent == 1:
		e.octets++
		return append([]byte{0xAA}, sw()...), nil
	case le == 256 || le == 1:
		e.octets += le
		return append(make([]byte, le), sw()...), nil
	}
	return []byte{0x6C, 0x01}, nil
}

// TestGetResponseCountedTail6C: the octets that a 61xx counts (xx not
// 00) may come one at a time, each through a GET RESPONSE answered 6C01
// and the same sent again with Le 01 (PROTOCOL.md §2.1): an answer of
// 65536 octets then takes the command, 255 GET RESPONSEs of 256 octets
// and 509 more for the last 255 octets, and Exchange takes it whole.
func TestGetResponseCountedTail6C(t *testing.T) {
	e := &tail6C{}
	got, err := simcard.New(e).Exchange(simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsGetData, P1: 1, P2: 1, Ne: 256})
	require.NoError(t, err)
	assert.Len(t, got, 65536)
	assert.Equal(t, 1+255+509, e.sent)
}
