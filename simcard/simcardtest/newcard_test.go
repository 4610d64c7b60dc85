package simcardtest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errLink = errors.New("link lost")

// transmitFunc is a Transmitter made of a function.
type transmitFunc func([]byte) ([]byte, error)

func (f transmitFunc) Transmit(b []byte) ([]byte, error) { return f(b) }

// TestNewCardKeepsEnrolmentOfCardMaybeActivated: when ACTIVATE's answer
// and the SELECT after it are lost, Personalise returns the Enrolment
// with its error, the card perhaps activated and never to reveal its
// advertising secret again: NewCard returns the Virtual holding that
// Enrolment together with the error.
func TestNewCardKeepsEnrolmentOfCardMaybeActivated(t *testing.T) {
	_, issuer, err := NewCA()
	require.NoError(t, err)
	var secret []byte
	link := func(a *applet.Applet) simcard.Transmitter {
		activated := false
		return transmitFunc(func(cmd []byte) ([]byte, error) {
			if activated {
				return nil, errLink
			}
			r, err := a.Transmit(cmd)
			if c, perr := simcard.ParseCommand(cmd); perr == nil && c.INS == simcard.InsGetData && uint16(c.P1)<<8|uint16(c.P2) == simcard.TagAdvSecret {
				secret = bytes.Clone(r[:len(r)-2])
			}
			activated = cmd[1] == simcard.InsActivate
			if activated {
				return nil, errLink
			}
			return r, err
		})
	}
	iccid, err := pki.CompleteICCID("894400000000000000")
	require.NoError(t, err)
	store := new(applet.Memory)
	v, err := newCard(issuer, Options{Storage: store, ICCID: iccid}, link)
	require.ErrorIs(t, err, errLink)
	require.NotNil(t, v)
	require.NotNil(t, v.Enrolment)
	require.Len(t, secret, adv.SecretSize)
	assert.Equal(t, secret, v.Enrolment.AdvertisingSecret)
	assert.Equal(t, iccid, v.Enrolment.ICCID)
	assert.Same(t, store, v.Storage)
	require.NotNil(t, v.Applet)
	life, err := simcard.New(v.Applet).Select()
	require.NoError(t, err)
	assert.Equal(t, simcard.LifeOperational, life, "the card was activated")
}
