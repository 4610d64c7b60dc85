package simcard_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestPersonaliseFindsAnotherCertificateStored: a card that holds, when
// Personalise reads it back, a certificate of another CA for its key in
// place of the one put fails with ErrNotStored, saying that the stored one
// differs, and is not activated.
func TestPersonaliseFindsAnotherCertificateStored(t *testing.T) {
	_, otherCA, err := simcardtest.NewCA()
	require.NoError(t, err)
	a, err := applet.New(new(applet.Memory), applet.Options{})
	require.NoError(t, err)
	done := false
	i := &interceptor{a: a, hook: func(cmd []byte) []byte {
		if done || !isPut(cmd, simcard.TagPIN) {
			return nil
		}
		done = true
		side := simcard.New(a)
		putCertificate(t, side, otherCertificate(t, side, otherCA))
		return nil
	}}
	enr, err := simcard.New(i).Personalise(issuer(t), simcard.Personalisation{ICCID: persICCID, PIN: simcardtest.PIN, PUK: simcardtest.PUK})
	require.ErrorIs(t, err, simcard.ErrNotStored)
	assert.EqualError(t, err, "simcard: card does not hold the certificate and chain put: certificate stored (GET DATA 0102) differs from the one put")
	assert.Nil(t, enr)
	assertNotActivated(t, a)
}

// TestPersonaliseStopsAtAFailedStep: Personalise returns the error of a
// GENERATE KEY that fails or answers a point off the curve, or of a GET
// DATA of the advertising secret that fails, and leaves the card not
// activated.
func TestPersonaliseStopsAtAFailedStep(t *testing.T) {
	tests := []struct {
		name   string
		answer func(cmd []byte) []byte
		want   error
	}{
		{"generate_key_fails", func(cmd []byte) []byte {
			if cmd[1] == simcard.InsGenerateKey {
				return []byte{0x6F, 0x00}
			}
			return nil
		}, simcard.ErrCardFailure},
		{"point_off_the_curve", func(cmd []byte) []byte {
			if cmd[1] == simcard.InsGenerateKey {
				tmpl := append([]byte{0x7F, 0x49, 0x43, 0x86, 0x41, 0x04}, make([]byte, 64)...)
				return append(tmpl, 0x90, 0x00)
			}
			return nil
		}, simcard.ErrResponse},
		{"adv_secret_fails", func(cmd []byte) []byte {
			if isGet(cmd, simcard.TagAdvSecret) {
				return []byte{0x6F, 0x00}
			}
			return nil
		}, simcard.ErrCardFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := applet.New(new(applet.Memory), applet.Options{})
			require.NoError(t, err)
			enr, err := simcard.New(&interceptor{a: a, hook: tt.answer}).Personalise(issuer(t),
				simcard.Personalisation{ICCID: persICCID, PIN: simcardtest.PIN, PUK: simcardtest.PUK})
			assert.ErrorIs(t, err, tt.want)
			assert.Nil(t, enr)
			assertNotActivated(t, a)
		})
	}
}
