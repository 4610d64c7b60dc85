package simcard_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// interceptor is a Transmitter in front of an applet through which a test
// acts in the card's place: hook sees every command first and returns the
// response to give instead of the applet's, or nil to pass the command on.
type interceptor struct {
	a    *applet.Applet
	hook func(cmd []byte) []byte
}

func (i *interceptor) Transmit(cmd []byte) ([]byte, error) {
	if i.hook != nil {
		if r := i.hook(cmd); r != nil {
			return r, nil
		}
	}
	return i.a.Transmit(cmd)
}

// isPut reports whether cmd is a PUT DATA of tag, a link of a chain
// included.
func isPut(cmd []byte, tag uint16) bool {
	c, err := simcard.ParseCommand(cmd)
	return err == nil && c.INS == simcard.InsPutData && uint16(c.P1)<<8|uint16(c.P2) == tag
}

// acknowledge returns a hook that answers 9000 to every PUT DATA of tag
// without passing it on: the card acknowledges what it does not store.
func acknowledge(tag uint16) func([]byte) []byte {
	return func(cmd []byte) []byte {
		if isPut(cmd, tag) {
			return []byte{0x90, 0x00}
		}
		return nil
	}
}

const persICCID = "89014103211118510720"

// assertNotActivated checks that the card behind a is still in
// personalisation: Personalise did not send ACTIVATE.
func assertNotActivated(t *testing.T, a *applet.Applet) {
	t.Helper()
	life, err := simcard.New(a).Select()
	require.NoError(t, err)
	assert.Equal(t, simcard.LifePersonalisation, life, "not activated")
}

// TestPersonaliseReadsBack: before ACTIVATE, Personalise reads back the
// certificate and the chain (GET DATA 0102 and 0107, PROTOCOL.md §2.2) and
// fails with ErrNotStored, without activating, when the card does not hold
// exactly what it put: a chain or a certificate the card acknowledged but
// did not keep, or a chain dropped by the certificate of another CA put in
// between (PROTOCOL.md §2.4). Personalised again without the fault, the
// card is personalised afresh and activated.
func TestPersonaliseReadsBack(t *testing.T) {
	_, otherCA, err := simcardtest.NewCA()
	require.NoError(t, err)
	pers := simcard.Personalisation{ICCID: persICCID, PIN: simcardtest.PIN, PUK: simcardtest.PUK}
	tests := []struct {
		name string
		// hook returns the hook of the interceptor in front of a.
		hook func(t *testing.T, a *applet.Applet) func([]byte) []byte
	}{
		{"chain acknowledged, not stored", func(*testing.T, *applet.Applet) func([]byte) []byte {
			return acknowledge(simcard.TagChain)
		}},
		{"certificate acknowledged, not stored", func(*testing.T, *applet.Applet) func([]byte) []byte {
			return acknowledge(simcard.TagCertificate)
		}},
		{"chain dropped by the certificate of another CA", func(t *testing.T, a *applet.Applet) func([]byte) []byte {
			done := false
			return func(cmd []byte) []byte {
				if done || !isPut(cmd, simcard.TagPIN) {
					return nil
				}
				done = true
				// Between the chain and the PIN, the certificate of
				// another CA drops the chain, and the certificate put
				// before comes back without it.
				side := simcard.New(a)
				cert, err := side.Certificate()
				require.NoError(t, err)
				putCertificate(t, side, otherCertificate(t, side, otherCA))
				putCertificate(t, side, cert)
				_, err = side.GetData(simcard.TagChain)
				require.ErrorIs(t, err, simcard.ErrNotFound, "the chain is dropped")
				return nil
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := applet.New(new(applet.Memory), applet.Options{})
			require.NoError(t, err)
			i := &interceptor{a: a, hook: tt.hook(t, a)}
			c := simcard.New(i)
			enr, err := c.Personalise(issuer(t), pers)
			require.ErrorIs(t, err, simcard.ErrNotStored)
			assert.Nil(t, enr)
			assertNotActivated(t, a)

			i.hook = nil
			enr, err = c.Personalise(issuer(t), pers)
			require.NoError(t, err)
			chain, err := c.Chain()
			require.NoError(t, err)
			assert.Equal(t, enr.Chain, chain)
			life, err := c.Select()
			require.NoError(t, err)
			assert.Equal(t, simcard.LifeOperational, life)
		})
	}
}

// TestPersonaliseLeftoverChain: a card left in personalisation by an
// earlier attempt with a chain that still issues the new certificate (a
// certificate of the root's name and key that another CA issued, a
// cross-certificate, put as the chain; the root itself the card refuses,
// PROTOCOL.md §2.4) is personalised by that root, which puts no chain:
// Personalise deletes the chain (PUT DATA 0107 without data), and the card
// presents its certificate alone, which verifies under the root. A card
// that acknowledges the deletion without deleting is ErrNotStored and is
// not activated.
func TestPersonaliseLeftoverChain(t *testing.T) {
	root, _, err := simcardtest.NewCA()
	require.NoError(t, err)
	require.Empty(t, root.Chain(), "a root puts no chain")
	cross, err := simcardtest.CrossCertificate(root)
	require.NoError(t, err)
	pers := simcard.Personalisation{ICCID: persICCID, PIN: simcardtest.PIN, PUK: simcardtest.PUK}
	// leftover returns a card in personalisation holding the
	// cross-certificate as its chain, behind an interceptor.
	leftover := func(t *testing.T) (*applet.Applet, *interceptor) {
		a, err := applet.New(new(applet.Memory), applet.Options{})
		require.NoError(t, err)
		c := simcard.New(a)
		_, err = c.Select()
		require.NoError(t, err)
		put := simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsPutData, P1: 0x01, P2: 0x07, Data: root.DER()}
		_, err = c.Exchange(put)
		var se *simcard.StatusError
		require.ErrorAs(t, err, &se, "the root is no chain")
		require.Equal(t, uint16(simcard.SWWrongData), se.SW)
		put.Data = cross
		_, err = c.Exchange(put)
		require.NoError(t, err)
		return a, &interceptor{a: a}
	}

	t.Run("deleted", func(t *testing.T) {
		_, i := leftover(t)
		var deletions int
		i.hook = func(cmd []byte) []byte {
			if isPut(cmd, simcard.TagChain) {
				deletions++
				assert.Equal(t, []byte{0x00, 0xDA, 0x01, 0x07}, cmd, "PUT DATA 0107 without data")
			}
			return nil
		}
		c := simcard.New(i)
		enr, err := c.Personalise(root, pers)
		require.NoError(t, err)
		assert.Equal(t, 1, deletions)
		_, err = c.GetData(simcard.TagChain)
		require.ErrorIs(t, err, simcard.ErrNotFound, "the leftover chain is gone")
		chain, err := c.Chain()
		require.NoError(t, err)
		require.Len(t, chain, 1)
		assert.Equal(t, enr.Chain, chain)
		life, err := c.Select()
		require.NoError(t, err)
		assert.Equal(t, simcard.LifeOperational, life)
		vf, err := pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{root.DER()}, Revocation: pki.RevocationBestEffort})
		require.NoError(t, err)
		vc, err := vf.VerifyCard(chain)
		require.NoError(t, err)
		assert.Equal(t, persICCID, vc.CardID)
	})

	t.Run("deletion acknowledged, not done", func(t *testing.T) {
		a, i := leftover(t)
		i.hook = acknowledge(simcard.TagChain)
		enr, err := simcard.New(i).Personalise(root, pers)
		require.ErrorIs(t, err, simcard.ErrNotStored)
		assert.Nil(t, enr)
		assertNotActivated(t, a)
	})
}

// TestPersonaliseRefusesIssuerFirst: an issuer that cannot certify the
// card (its certificate expired, options out of range, a CRL URL that
// makes the card's certificate longer than pki.MaxCertificateSize) is
// refused with the error IssueCard gives, before any command is sent to
// the card: the card writes no ICCID and generates no key.
func TestPersonaliseRefusesIssuerFirst(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	expiring, err := pki.NewRoot(key, pki.CAOptions{CRLURL: "http://pki.example/root.crl", Now: clock, Validity: time.Hour})
	require.NoError(t, err)
	root, err := pki.NewRoot(key, pki.CAOptions{CRLURL: "http://pki.example/root.crl"})
	require.NoError(t, err)
	// Its own certificate, which does not carry its CRL URL, is within the
	// limit; a card's, which does, is not.
	longURL, err := root.NewIntermediate(key, pki.CAOptions{
		CRLURL: "http://pki.example/" + strings.Repeat("a", pki.MaxCertificateSize-200),
	})
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		ca    *pki.CA
		issue pki.IssueOptions
		later time.Duration
		want  error
	}{
		"CA expired":                {expiring, pki.IssueOptions{}, 2 * time.Hour, pki.ErrExpired},
		"negative validity":         {issuer(t), pki.IssueOptions{Validity: -time.Hour}, 0, pki.ErrInvalid},
		"validity under a second":   {issuer(t), pki.IssueOptions{Validity: time.Millisecond}, 0, pki.ErrInvalid},
		"starts after the CA":       {issuer(t), pki.IssueOptions{NotBefore: issuer(t).Certificate().NotAfter.Add(time.Hour)}, 0, pki.ErrExpired},
		"card certificate too long": {longURL, pki.IssueOptions{}, 0, pki.ErrInvalid},
	} {
		t.Run(name, func(t *testing.T) {
			now.Add(int64(tc.later))
			defer now.Add(-int64(tc.later))
			a, err := applet.New(new(applet.Memory), applet.Options{})
			require.NoError(t, err)
			rec := newRecorder(a, nil)
			p := simcard.Personalisation{ICCID: persICCID, PIN: "1234", PUK: "12345678", Issue: tc.issue}
			enr, err := simcard.New(rec).Personalise(tc.ca, p)
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, enr)
			_, want := tc.ca.IssueCard(&key.PublicKey, persICCID, tc.issue)
			var got, wantErr *pki.Error
			require.ErrorAs(t, err, &got)
			require.ErrorAs(t, want, &wantErr)
			assert.Equal(t, wantErr, got, "the error of IssueCard")
			assert.Empty(t, rec.commands(), "commands sent to the card")
			assertNotActivated(t, a)
			c := simcard.New(a)
			_, err = c.ICCID()
			assert.ErrorIs(t, err, simcard.ErrNotFound, "no ICCID written")
			_, err = c.PublicKey()
			assert.ErrorIs(t, err, simcard.ErrNotFound, "no key generated")
		})
	}
}

// TestPersonaliseActivateAnswerLost: ACTIVATE whose answer is lost or
// cannot be read may have been carried out, after which the card never
// reveals its advertising secret again. Personalise selects the applet
// again to learn what the card did: a card found operational is
// personalised, and Personalise returns its Enrolment with the secret it
// read; one found in personalisation is not, and a second Personalise
// personalises it afresh. When that SELECT fails too, Personalise returns
// the Enrolment with the error, the only record of the secret of a card
// that may be operational.
func TestPersonaliseActivateAnswerLost(t *testing.T) {
	pers := simcard.Personalisation{ICCID: persICCID, PIN: simcardtest.PIN, PUK: simcardtest.PUK}
	for name, tc := range map[string]struct {
		reached    bool   // ACTIVATE reaches the card
		answer     []byte // its answer instead of the card's; nil: lost (errLink)
		selectLost bool   // the SELECT after it is lost too
		want       error  // Personalise's error
		enrolment  bool   // Personalise returns the Enrolment
		life       byte
	}{
		"answer lost":                        {reached: true, enrolment: true, life: simcard.LifeOperational},
		"answer unreadable":                  {reached: true, answer: []byte{0x90}, enrolment: true, life: simcard.LifeOperational},
		"answer with data":                   {reached: true, answer: []byte{0x01, 0x90, 0x00}, enrolment: true, life: simcard.LifeOperational},
		"command lost":                       {want: errLink, life: simcard.LifePersonalisation},
		"answer lost, SELECT lost":           {reached: true, selectLost: true, want: errLink, enrolment: true, life: simcard.LifeOperational},
		"command lost, SELECT lost":          {selectLost: true, want: errLink, enrolment: true, life: simcard.LifePersonalisation},
		"answer 6581, card not activated":    {answer: []byte{0x65, 0x81}, want: simcard.ErrMemory, life: simcard.LifePersonalisation},
		"answer 6581, card activated anyway": {reached: true, answer: []byte{0x65, 0x81}, enrolment: true, life: simcard.LifeOperational},
		"answer 6985, SELECT lost":           {answer: []byte{0x69, 0x85}, selectLost: true, want: simcard.ErrConditions, life: simcard.LifePersonalisation},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := applet.New(new(applet.Memory), applet.Options{})
			require.NoError(t, err)
			var secret []byte
			activated := false
			tr := transmitFunc(func(cmd []byte) ([]byte, error) {
				switch {
				case cmd[1] == simcard.InsActivate:
					activated = true
					if tc.reached {
						_, _ = a.Transmit(cmd)
					}
					if tc.answer != nil {
						return tc.answer, nil
					}
					return nil, errLink
				case activated && tc.selectLost:
					return nil, errLink
				}
				r, err := a.Transmit(cmd)
				if isGet(cmd, simcard.TagAdvSecret) {
					secret = bytes.Clone(r[:len(r)-2])
				}
				return r, err
			})
			enr, err := simcard.New(tr).Personalise(issuer(t), pers)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
			if tc.enrolment {
				require.NotNil(t, enr)
				require.Len(t, secret, adv.SecretSize)
				assert.Equal(t, secret, enr.AdvertisingSecret)
				assert.Equal(t, persICCID, enr.ICCID)
			} else {
				assert.Nil(t, enr)
			}
			c := simcard.New(a)
			life, err := c.Select()
			require.NoError(t, err)
			require.Equal(t, tc.life, life)
			if life == simcard.LifePersonalisation {
				enr, err := c.Personalise(issuer(t), pers)
				require.NoError(t, err, "personalised afresh")
				require.NotNil(t, enr)
			}
		})
	}
}

// isGet reports whether cmd is a GET DATA of tag.
func isGet(cmd []byte, tag uint16) bool {
	c, err := simcard.ParseCommand(cmd)
	return err == nil && c.INS == simcard.InsGetData && uint16(c.P1)<<8|uint16(c.P2) == tag
}

// transmitFunc is a Transmitter made of a function.
type transmitFunc func([]byte) ([]byte, error)

func (f transmitFunc) Transmit(b []byte) ([]byte, error) { return f(b) }

// tornStorage is a Storage whose n-th Store (counted from 1) fails: having
// replaced the state all the same when torn is set, or leaving it as it
// was.
type tornStorage struct {
	m     applet.Memory
	n     int
	fail  int
	torn  bool
	fails int // the Stores that failed
}

func (s *tornStorage) Load() ([]byte, error) { return s.m.Load() }

func (s *tornStorage) Store(b []byte) error {
	s.n++
	if s.n != s.fail {
		return s.m.Store(b)
	}
	s.fails++
	if s.torn {
		_ = s.m.Store(b)
	}
	return errors.New("power cut")
}

// TestPersonaliseTornStorage: a card whose storage fails at any one of the
// stores of Personalise, leaving the state it found or the new one, ends,
// after a power cycle, either operational, Personalise having returned the
// Enrolment that matches it (its advertising secret, chain, PIN and PUK),
// or in personalisation, Personalise having failed with ErrMemory, and
// another Personalise then personalises it.
func TestPersonaliseTornStorage(t *testing.T) {
	pers := simcard.Personalisation{ICCID: persICCID, PIN: simcardtest.PIN, PUK: simcardtest.PUK}
	count := &tornStorage{}
	a, err := applet.New(count, applet.Options{})
	require.NoError(t, err)
	_, err = simcard.New(a).Personalise(issuer(t), pers)
	require.NoError(t, err)
	require.Greater(t, count.n, 7, "a Store for each PUT DATA, GENERATE KEY and ACTIVATE")
	for k := 2; k <= count.n; k++ { // the first Store creates the card
		for _, torn := range []bool{false, true} {
			t.Run(fmt.Sprintf("store %d, torn %v", k, torn), func(t *testing.T) {
				s := &tornStorage{fail: k, torn: torn}
				a, err := applet.New(s, applet.Options{})
				require.NoError(t, err)
				enr, perr := simcard.New(a).Personalise(issuer(t), pers)
				require.Equal(t, 1, s.fails)
				a, err = applet.New(s, applet.Options{}) // power cycle
				require.NoError(t, err)
				c := simcard.New(a)
				life, err := c.Select()
				require.NoError(t, err)
				if life == simcard.LifePersonalisation {
					require.ErrorIs(t, perr, simcard.ErrMemory)
					assert.Nil(t, enr)
					enr, err = c.Personalise(issuer(t), pers)
					require.NoError(t, err)
				} else {
					require.NoError(t, perr)
				}
				b, err := c.Advert(5, adv.Shopper, 0)
				require.NoError(t, err)
				p, err := adv.Parse(b)
				require.NoError(t, err)
				eid, err := adv.DeriveEID(enr.AdvertisingSecret, 5)
				require.NoError(t, err)
				assert.Equal(t, eid, p.EID, "the card's secret")
				chain, err := c.Chain()
				require.NoError(t, err)
				assert.Equal(t, enr.Chain, chain)
				pub, err := c.PublicKey()
				require.NoError(t, err)
				assert.True(t, enr.PublicKey.Equal(pub))
				require.NoError(t, c.VerifyPIN(simcardtest.PIN))
				require.NoError(t, c.Unblock(simcardtest.PUK, ""))
			})
		}
	}
}

// TestPersonaliseActivateLostCardReplaced: when ACTIVATE gets no answer and
// the reader then holds another card, one personalised before, the SELECT
// after it finds that card operational. It is not the card Personalise
// personalised, which may still be in personalisation: Personalise
// returns the Enrolment with ErrResponse joined to ACTIVATE's error, as
// for a card whose state it cannot tell, not the Enrolment without error.
// So it does when the card answered ACTIVATE itself with a status word:
// that spares the Enrolment only when the SELECT after it fails. And so
// it does, with that error, when the operational card's key cannot be read.
func TestPersonaliseActivateLostCardReplaced(t *testing.T) {
	pers := simcard.Personalisation{ICCID: persICCID, PIN: simcardtest.PIN, PUK: simcardtest.PUK}
	for name, tc := range map[string]struct {
		reached bool   // ACTIVATE reaches the card
		answer  []byte // its answer instead of the card's; nil: lost (errLink)
		want    error  // ACTIVATE's error
		keyLost bool   // GET DATA of the public key answered 6A82 after it
	}{
		"command lost":                  {want: errLink},
		"answer lost":                   {reached: true, want: errLink},
		"answered 6985":                 {answer: []byte{0x69, 0x85}, want: &simcard.StatusError{SW: simcard.SWConditions, Ins: simcard.InsActivate}},
		"answered 6985, key unreadable": {answer: []byte{0x69, 0x85}, want: &simcard.StatusError{SW: simcard.SWConditions, Ins: simcard.InsActivate}, keyLost: true},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := applet.New(new(applet.Memory), applet.Options{})
			require.NoError(t, err)
			other, err := simcardtest.NewCard(issuer(t), simcardtest.Options{})
			require.NoError(t, err)
			replaced := false
			tr := transmitFunc(func(cmd []byte) ([]byte, error) {
				switch {
				case replaced && tc.keyLost && isGet(cmd, simcard.TagPublicKey):
					return []byte{0x6A, 0x82}, nil
				case replaced:
					return other.Applet.Transmit(cmd)
				case cmd[1] == simcard.InsActivate:
					replaced = true
					if tc.reached {
						_, _ = a.Transmit(cmd)
					}
					if tc.answer != nil {
						return tc.answer, nil
					}
					return nil, errLink
				}
				return a.Transmit(cmd)
			})
			enr, err := simcard.New(tr).Personalise(issuer(t), pers)
			if se, ok := tc.want.(*simcard.StatusError); ok {
				var got *simcard.StatusError
				require.ErrorAs(t, err, &got)
				assert.Equal(t, *se, *got)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
			if tc.keyLost {
				require.ErrorIs(t, err, simcard.ErrNotFound)
				require.NotErrorIs(t, err, simcard.ErrResponse)
			} else {
				require.ErrorIs(t, err, simcard.ErrResponse)
			}
			require.NotNil(t, enr)
			assert.Equal(t, persICCID, enr.ICCID)
			assert.False(t, enr.PublicKey.Equal(other.Enrolment.PublicKey))
		})
	}
}

// otherCertificate returns a certificate that ca issues for the key of
// the card side.
func otherCertificate(t *testing.T, side *simcard.Card, ca *pki.CA) []byte {
	t.Helper()
	pub, err := side.PublicKey()
	require.NoError(t, err)
	cert, err := ca.IssueCard(pub, persICCID, pki.IssueOptions{})
	require.NoError(t, err)
	return cert
}

// putCertificate puts cert on the card side (PUT DATA 0102).
func putCertificate(t *testing.T, side *simcard.Card, cert []byte) {
	t.Helper()
	_, err := side.Exchange(simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsPutData, P1: 0x01, P2: 0x02, Data: cert})
	require.NoError(t, err)
}
