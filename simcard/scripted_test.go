package simcard_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reply is what a scripted card answers to one command: octets or an error.
type reply struct {
	b   []byte
	err error
}

// scripted is a card that answers the commands it gets with its replies in
// order, and logs the commands.
type scripted struct {
	replies []reply
	log     [][]byte
}

func (s *scripted) Transmit(cmd []byte) ([]byte, error) {
	s.log = append(s.log, append([]byte(nil), cmd...))
	if len(s.replies) == 0 {
		return []byte{0x6F, 0x00}, nil
	}
	a := s.replies[0]
	s.replies = s.replies[1:]
	return a.b, a.err
}

// TestChainEndAnsweredMalformed: the GET RESPONSE that ends a chain a
// failed exchange left counts for nothing, even answered with no status
// word: the command after it goes on.
func TestChainEndAnsweredMalformed(t *testing.T) {
	s := &scripted{replies: []reply{
		{err: errLink},             // the first link of the chain
		{b: []byte{0x6F}},          // the GET RESPONSE that ends the chain
		{b: []byte{0xAA, 0x90, 0}}, // GET DATA
	}}
	c := simcard.New(s)
	_, err := c.Exchange(simcard.Command{CLA: simcard.ClassProprietary, INS: simcard.InsSignRecord, P1: 1, Data: make([]byte, 300)})
	require.ErrorIs(t, err, errLink)
	got, err := c.Exchange(simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsGetData, P1: 1, P2: 1, Ne: 256})
	require.NoError(t, err)
	assert.Equal(t, []byte{0xAA}, got)
	require.Len(t, s.log, 3)
	assert.Equal(t, simcard.InsGetResponse, s.log[1][1])
	assert.Equal(t, simcard.InsGetData, s.log[2][1])
}

// fci returns the answer to SELECT: the FCI template 6F holding name (84)
// and the proprietary template A5 of version 1 and life-cycle state 07,
// with inFCI after them inside 6F and after it outside, and 9000.
func fci(name, inFCI, after []byte) []byte {
	body := append([]byte{0x84, byte(len(name))}, name...)
	body = append(body, 0xA5, 6, 0x80, 1, simcard.AppletVersion, 0x81, 1, simcard.LifeOperational)
	body = append(body, inFCI...)
	b := append([]byte{0x6F, byte(len(body))}, body...)
	b = append(b, after...)
	return append(b, 0x90, 0x00)
}

// TestSelectFCI: Select takes only the FCI of the casimpay applet, whole:
// any other name or octets after its templates are ErrResponse.
func TestSelectFCI(t *testing.T) {
	other := append([]byte(nil), simcard.AID...)
	other[len(other)-1]++
	for _, tt := range []struct {
		name string
		fci  []byte
		ok   bool
	}{
		{"the applet's", fci(simcard.AID, nil, nil), true},
		{"another name", fci(other, nil, nil), false},
		{"a longer name", fci(append(append([]byte(nil), simcard.AID...), 0), nil, nil), false},
		{"another object in the FCI", fci(simcard.AID, []byte{0x85, 1, 0}, nil), false},
		{"octets after the FCI", fci(simcard.AID, nil, []byte{0x00}), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			life, err := simcard.New(&scripted{replies: []reply{{b: tt.fci}}}).Select()
			if tt.ok {
				require.NoError(t, err)
				assert.Equal(t, simcard.LifeOperational, life)
				return
			}
			assert.ErrorIs(t, err, simcard.ErrResponse)
			assert.Zero(t, life)
		})
	}
}

// TestTriesLeftOf63Cx: TriesLeft reads tries only from 63Cx answering
// VERIFY, CHANGE REFERENCE DATA or RESET RETRY COUNTER.
func TestTriesLeftOf63Cx(t *testing.T) {
	for _, tt := range []struct {
		sw   uint16
		ins  byte
		n    int
		ok   bool
		wpin bool
	}{
		{0x63C2, simcard.InsVerify, 2, true, true},
		{0x63CF, simcard.InsChangeReference, 15, true, true},
		{0x63C0, simcard.InsResetRetryCounter, 0, true, false},
		{0x6381, simcard.InsVerify, 0, false, false},
		{0x63F2, simcard.InsVerify, 0, false, false},
		{0x63C2, simcard.InsGetData, 0, false, false},
	} {
		e := &simcard.StatusError{SW: tt.sw, Ins: tt.ins}
		n, ok := e.TriesLeft()
		assert.Equal(t, tt.n, n, "%04X after %02X", tt.sw, tt.ins)
		assert.Equal(t, tt.ok, ok, "%04X after %02X", tt.sw, tt.ins)
		assert.Equal(t, tt.wpin, errors.Is(e, simcard.ErrWrongPIN), "%04X after %02X", tt.sw, tt.ins)
	}
}

// TestPersonaliseOperationalSendsOnlySelect: Personalise of an operational
// card is ErrConditions after SELECT, the one command it sends.
func TestPersonaliseOperationalSendsOnlySelect(t *testing.T) {
	v := newCard(t)
	f := &flaky{t: v.Applet, fail: map[int]bool{}}
	_, err := simcard.New(f).Personalise(issuer(t), simcard.Personalisation{ICCID: v.Enrolment.ICCID, PIN: "1234", PUK: "12345678"})
	assert.ErrorIs(t, err, simcard.ErrConditions)
	require.Len(t, f.log, 1)
	assert.Equal(t, simcard.InsSelect, f.log[0][1])
}

// TestPersonaliseSecretSize: a card whose advertising secret reads back
// one octet short or long is ErrResponse, and is not activated.
func TestPersonaliseSecretSize(t *testing.T) {
	for _, n := range []int{adv.SecretSize - 1, adv.SecretSize + 1} {
		a, err := applet.New(new(applet.Memory), applet.Options{})
		require.NoError(t, err)
		i := &interceptor{a: a, hook: func(cmd []byte) []byte {
			c, err := simcard.ParseCommand(cmd)
			if err != nil || c.INS != simcard.InsGetData || uint16(c.P1)<<8|uint16(c.P2) != simcard.TagAdvSecret {
				return nil
			}
			return append(bytes.Repeat([]byte{0xA5}, n), 0x90, 0x00)
		}}
		enr, err := simcard.New(i).Personalise(issuer(t), simcard.Personalisation{ICCID: persICCID, PIN: simcardtest.PIN, PUK: simcardtest.PUK})
		assert.ErrorIs(t, err, simcard.ErrResponse, "secret of %d octets", n)
		assert.Nil(t, enr)
		assertNotActivated(t, a)
	}
}
