package applet_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/simcard/applet"
)

// unstorable is a blank card's storage that cannot store.
type unstorable struct{}

func (unstorable) Load() ([]byte, error) { return nil, nil }
func (unstorable) Store([]byte) error    { return errPowerCut }

// TestNewBlankCardFails: New of a blank card fails when its Rand runs out
// before the advertising secret (16 octets) or the salt is drawn, or when
// the first state cannot be stored, and stores nothing then.
func TestNewBlankCardFails(t *testing.T) {
	tests := []struct {
		name    string
		rand    io.Reader
		storage applet.Storage
		want    error
		text    string
	}{
		{"secret", bytes.NewReader(make([]byte, 15)), new(applet.Memory), io.ErrUnexpectedEOF, "applet: advertising secret: unexpected EOF"},
		{"salt", bytes.NewReader(make([]byte, 16)), new(applet.Memory), io.EOF, "applet: salt: EOF"},
		{"store", nil, unstorable{}, errPowerCut, "power cut"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := applet.New(tt.storage, applet.Options{Rand: tt.rand})
			assert.ErrorIs(t, err, tt.want)
			assert.EqualError(t, err, tt.text)
			assert.Nil(t, a)
			if m, ok := tt.storage.(*applet.Memory); ok {
				b, err := m.Load()
				assert.NoError(t, err)
				assert.Nil(t, b)
			}
		})
	}
}
