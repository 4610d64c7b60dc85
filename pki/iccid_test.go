package pki

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidICCID(t *testing.T) {
	tests := []struct {
		name  string
		iccid string
		ok    bool
	}{
		{"20 digits", "89014103211118510720", true},
		{"19 digits", "8944500102198304826", true},
		{"wrong check digit", "89014103211118510721", false},
		{"too short", "891410321111851072", false},
		{"too long", "890141032111185107208", false},
		{"not 89", "99014103211118510729", false},
		{"letter", "8901410321111851072A", false},
		{"empty", "", false},
		{"space", "8901410321111851072 ", false},
		{"unicode digit", "890141032111185107٢", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidICCID(tt.iccid)
			if tt.ok {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, ErrCardID)
			var pe *Error
			assert.ErrorAs(t, err, &pe)
		})
	}
}

func TestCompleteICCID(t *testing.T) {
	got, err := CompleteICCID("8901410321111851072")
	require.NoError(t, err)
	assert.Equal(t, "89014103211118510720", got)
	got, err = CompleteICCID("894450010219830482")
	require.NoError(t, err)
	assert.Equal(t, "8944500102198304826", got)
	_, err = CompleteICCID("123")
	assert.ErrorIs(t, err, ErrCardID)
	_, err = CompleteICCID("990141032111185107")
	assert.ErrorIs(t, err, ErrCardID)
	// A body of 18 or 19 digits only: one digit shorter or longer is
	// refused for its length, before its check digit is computed.
	for _, body := range []string{"89014103211118510", "89014103211118510720"} {
		_, err = CompleteICCID(body)
		assert.Equal(t, &Error{Err: ErrCardID, Cert: -1, Reason: "ICCID body must have 18 or 19 digits"}, err, body)
	}
}

func TestCardURI(t *testing.T) {
	uri, err := CardURI("89014103211118510720")
	require.NoError(t, err)
	assert.Equal(t, "urn:casim:card:89014103211118510720", uri)
	_, err = CardURI("89014103211118510721")
	assert.ErrorIs(t, err, ErrCardID)

	tests := []struct {
		uri  string
		want string
	}{
		{"urn:casim:card:89014103211118510720", "89014103211118510720"},
		{"URN:casim:card:89014103211118510720", ""},
		{"urn:casim:card:89014103211118510721", ""},
		{"urn:casim:card:", ""},
		{"urn:casim:platform:89014103211118510720", ""},
		{"urn:casim:card:89014103211118510720/x", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			got, err := ParseCardURI(tt.uri)
			if tt.want == "" {
				assert.ErrorIs(t, err, ErrCardID)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
