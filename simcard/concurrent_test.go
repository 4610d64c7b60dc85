package simcard_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a Transmitter in front of a card that logs the commands it
// passes on, in the order the card receives them, each after a pause. The
// first command equal to watch closes seen.
type recorder struct {
	t     simcard.Transmitter
	watch []byte
	seen  chan struct{}
	pause time.Duration

	once sync.Once // closes seen
	mu   sync.Mutex
	log  [][]byte
}

func newRecorder(t simcard.Transmitter, watch []byte) *recorder {
	return &recorder{t: t, watch: watch, seen: make(chan struct{})}
}

func (r *recorder) Transmit(cmd []byte) ([]byte, error) {
	time.Sleep(r.pause)
	r.mu.Lock()
	r.log = append(r.log, bytes.Clone(cmd))
	r.mu.Unlock()
	if bytes.Equal(cmd, r.watch) {
		r.once.Do(func() { close(r.seen) })
	}
	return r.t.Transmit(cmd)
}

func (r *recorder) commands() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

// assertContiguous checks that no command equal to other comes between the
// first and the last of the others in log (those of the method under test).
func assertContiguous(t *testing.T, log [][]byte, other []byte) {
	t.Helper()
	first, last := -1, -1
	for i, cmd := range log {
		if !bytes.Equal(cmd, other) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	require.GreaterOrEqual(t, first, 0, "the method sent nothing")
	for i := first; i <= last; i++ {
		assert.NotEqualf(t, other, log[i], "command %d of %d, % X, sent between the method's commands %d and %d", i, len(log), log[i], first, last)
	}
}

// lifeCycle is GET DATA 0108: the command of the method that runs beside
// the one under test, which sends none.
var lifeCycle = []byte{simcard.ClassISO, simcard.InsGetData, 0x01, 0x08, 0x00}

// hookSigner is a CA key that runs hook before it signs.
type hookSigner struct {
	*ecdsa.PrivateKey
	hook func()
}

func (s *hookSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if s.hook != nil {
		s.hook()
	}
	return s.PrivateKey.Sign(r, digest, opts)
}

// TestPersonaliseHoldsCard: the commands of Personalise reach the card
// without another goroutine's between them, even while the issuer signs the
// certificate between GENERATE KEY and PUT DATA 0102. A GET DATA 0108 sent
// from another goroutine while the issuer signs waits for Personalise to
// end, and finds the card operational.
func TestPersonaliseHoldsCard(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	signer := &hookSigner{PrivateKey: key}
	root, err := pki.NewRoot(signer, pki.CAOptions{CRLURL: "https://pki.invalid/root.crl"})
	require.NoError(t, err)
	a, err := applet.New(new(applet.Memory), applet.Options{})
	require.NoError(t, err)
	rec := newRecorder(a, lifeCycle)
	c := simcard.New(rec)

	var wg sync.WaitGroup
	var life []byte
	var lifeErr error
	signer.hook = func() {
		wg.Go(func() { life, lifeErr = c.GetData(simcard.TagLifeCycle) })
		// A Personalise that let go of the card while the issuer signs
		// would let the GET DATA through now; one that holds it makes the
		// GET DATA wait, and this wait end at its timeout.
		select {
		case <-rec.seen:
		case <-time.After(200 * time.Millisecond):
		}
	}
	enr, err := c.Personalise(root, simcard.Personalisation{ICCID: persICCID, PIN: "1234", PUK: "12345678"})
	require.NoError(t, err)
	wg.Wait()
	require.NoError(t, lifeErr)
	assert.Equal(t, []byte{simcard.LifeOperational}, life, "GET DATA 0108 ran after ACTIVATE")
	assert.Equal(t, persICCID, enr.ICCID)

	log := rec.commands()
	assertContiguous(t, log, lifeCycle)
	assert.Equal(t, lifeCycle, log[len(log)-1])
	assert.Equal(t, []byte{simcard.ClassISO, simcard.InsActivate, 0, 0}, log[len(log)-2], "ACTIVATE ends Personalise")
}

// TestMethodsHoldCard: the two GET DATA of Chain and of Signer reach the
// card one after the other while three goroutines send GET DATA 0108 as
// fast as the card answers. The card takes 2 ms a command, so every
// goroutine waits for it over a millisecond and sync.Mutex hands it to them
// in turn (its starvation mode): a method that let go of the card between
// two commands would see another's command come between them.
func TestMethodsHoldCard(t *testing.T) {
	for name, call := range map[string]func(t *testing.T, c *simcard.Card, want *simcard.Enrolment){
		"Chain": func(t *testing.T, c *simcard.Card, want *simcard.Enrolment) {
			chain, err := c.Chain()
			require.NoError(t, err)
			assert.Equal(t, want.Chain, chain)
		},
		"Signer": func(t *testing.T, c *simcard.Card, want *simcard.Enrolment) {
			s, err := c.Signer()
			require.NoError(t, err)
			assert.True(t, want.PublicKey.Equal(s.Public()))
			assert.Equal(t, want.ICCID, s.ICCID())
		},
	} {
		t.Run(name, func(t *testing.T) {
			v := newCard(t)
			rec := newRecorder(v.Applet, lifeCycle)
			rec.pause = 2 * time.Millisecond // every wait for the card long enough for the mutex to queue
			c := simcard.New(rec)
			ctx, cancel := context.WithCancel(t.Context())
			var wg sync.WaitGroup
			t.Cleanup(func() { cancel(); wg.Wait() })
			for range 3 {
				wg.Go(func() {
					for ctx.Err() == nil {
						_, err := c.GetData(simcard.TagLifeCycle)
						assert.NoError(t, err)
					}
				})
			}
			<-rec.seen
			for range 10 {
				before := len(rec.commands())
				call(t, c, v.Enrolment)
				assertContiguous(t, rec.commands()[before:], lifeCycle)
			}
		})
	}
}
