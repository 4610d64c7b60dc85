package applet_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
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

func TestPINLockoutAndUnblock(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	expectAnswers(t, v.Applet, "lockout", []answer{
		{"0020008006313131313131", 0x63C2},
		{"0020008006313131313131", 0x63C1},
		{"0020008006313131313131", 0x63C0},
		{"0020008006313233343536", 0x6983}, // the right PIN, too late
		{"00200080", 0x6983},
		{"00CA010500", 0x9000},
		{apdu("80500300", payload(t, sampleConsent()), "00"), 0x6982},
		{"0024008012313233343536FFFFFFFFFFFF373737373737", 0x6983},
		{"002C00800E3131313131313131393939393939", 0x63C2}, // wrong PUK
		{"002C00800E3132333435363738393939393939", 0x9000}, // PUK, new PIN 999999
		{"00200080", 0x63C3},
		{"0020008006313233343536", 0x63C2}, // the old PIN is gone
		{"0020008006393939393939", 0x9000},
	})
	left, max, err := v.Card.PUKTries()
	require.NoError(t, err)
	assert.Equal(t, []int{3, 3}, []int{left, max})
}

func TestPUKLockout(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	c := v.Card
	for want := 2; want >= 0; want-- {
		err := c.Unblock("00000000", "")
		var se *simcard.StatusError
		require.ErrorAs(t, err, &se)
		require.ErrorIs(t, err, simcard.ErrWrongPUK)
		n, ok := se.TriesLeft()
		require.True(t, ok)
		assert.Equal(t, want, n)
	}
	assert.ErrorIs(t, c.Unblock(simcardtest.PUK, "1111"), simcard.ErrPUKBlocked)
	// The PIN still works, and the card signs consents with it: a blocked
	// PUK only removes the way back.
	require.NoError(t, c.VerifyPIN(simcardtest.PIN))
	msg, err := c.SignConsent(sampleConsent())
	require.NoError(t, err)
	var co record.Consent
	require.NoError(t, record.Verify(msg, v.Enrolment.PublicKey, &co))
	assert.Equal(t, uint64(1), co.Counter)
}

func TestSignRecords(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	c, pub := v.Card, v.Enrolment.PublicKey

	msg, err := c.SignAuthProof(sampleAuthProof())
	require.NoError(t, err)
	var ap record.AuthProof
	require.NoError(t, record.Verify(msg, pub, &ap))
	assert.Equal(t, record.CardHeader{CardID: testICCID, Counter: 1}, ap.CardHeader)
	assert.Equal(t, sampleAuthProof().Nonce, ap.Nonce)

	msg, err = c.SignPaymentRequest(samplePaymentRequest(2))
	require.NoError(t, err)
	var pr record.PaymentRequest
	require.NoError(t, record.Verify(msg, pub, &pr))
	assert.Equal(t, uint64(2), pr.Counter)
	assert.Equal(t, samplePaymentRequest(2).Items, pr.Items)

	_, err = c.SignConsent(sampleConsent())
	require.ErrorIs(t, err, simcard.ErrPINRequired)
	require.NoError(t, c.VerifyPIN(simcardtest.PIN))
	msg, err = c.SignConsent(sampleConsent())
	require.NoError(t, err)
	var co record.Consent
	require.NoError(t, record.Verify(msg, pub, &co))
	assert.Equal(t, uint64(3), co.Counter)
	assert.Equal(t, uint64(1234), co.Amount)

	msg, err = c.SignRefundRequest(sampleRefund())
	require.NoError(t, err)
	var rr record.RefundRequest
	require.NoError(t, record.Verify(msg, pub, &rr))
	assert.Equal(t, uint64(4), rr.Counter)

	n, err := c.Counter()
	require.NoError(t, err)
	assert.Equal(t, uint64(4), n)

	// A tampered message does not verify; neither does another record type.
	bad := bytes.Clone(msg)
	bad[len(bad)-1] ^= 1
	assert.ErrorIs(t, record.Verify(bad, pub, &rr), record.ErrSignature)
	assert.ErrorIs(t, record.Verify(msg, pub, &co), record.ErrType)

	// The phone cannot choose the card ID or the counter.
	withHeader := sampleRefund()
	withHeader.Counter = 100
	_, err = c.SignRefundRequest(withHeader)
	assert.ErrorIs(t, err, simcard.ErrRefused)
	n, err = c.Counter()
	require.NoError(t, err)
	assert.Equal(t, uint64(4), n, "a refused record does not use up a counter")
}

// TestLongRecord sends a payment request of 100 items: over 255 octets, so
// Card chains the command and collects the answer with GET RESPONSE, and an
// extended APDU gets it in one piece.
func TestLongRecord(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	req := samplePaymentRequest(record.MaxItems)
	p := payload(t, req)
	require.Greater(t, len(p), 1000)

	msg, err := v.Card.SignPaymentRequest(req)
	require.NoError(t, err)
	require.Greater(t, len(msg), 1000)
	var got record.PaymentRequest
	require.NoError(t, record.Verify(msg, v.Enrolment.PublicKey, &got))
	assert.Equal(t, req.Items, got.Items)

	ext := "80500200" + "00" + hexFour(len(p)) + hexOf(p) + "0000"
	data, sw := tx(t, v.Applet, ext)
	require.Equal(t, uint16(0x9000), sw)
	require.NoError(t, record.Verify(data, v.Enrolment.PublicKey, &got))
	assert.Equal(t, uint64(2), got.Counter)

	// Extended Le smaller than the answer: the rest waits behind 61xx.
	data, sw = tx(t, v.Applet, "80500200"+"00"+hexFour(len(p))+hexOf(p)+"0100")
	require.Equal(t, uint16(0x6100), sw)
	assert.Len(t, data, 256)
}

// TestRecordTooLargeToSign: a record whose fields fit a command but whose
// signed message, with the card header and the envelope, would exceed
// record.MaxMessage is refused (6A80) before the counter moves, like every
// other refused record.
func TestRecordTooLargeToSign(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	_, sw := tx(t, v.Applet, tooLargeToSign(t))
	assert.Equal(t, uint16(0x6A80), sw)
	n, err := v.Card.Counter()
	require.NoError(t, err)
	assert.Zero(t, n, "a refused record uses no counter")
}

// tooLargeToSign returns SIGN RECORD, in one extended APDU, of a payment
// request whose fields fit a command but whose signed message, with the
// card header and the envelope, would exceed record.MaxMessage.
func tooLargeToSign(t *testing.T) string {
	t.Helper()
	req := samplePaymentRequest(0)
	req.Amount = 0
	for i := range record.MaxLegs {
		req.Legs = append(req.Legs, record.Leg{Asset: fmt.Sprintf("%064d", i), Amount: math.MaxInt64})
	}
	// Items of the longest SKU until the payload alone is just within
	// MaxMessage: the header and envelope take it over.
	for i := 0; ; i++ {
		req.Items = append(req.Items, record.Item{SKU: fmt.Sprintf("%064d", i), Quantity: math.MaxInt64})
		if len(payload(t, req)) > record.MaxMessage-40 {
			break
		}
	}
	p := payload(t, req)
	require.LessOrEqual(t, len(p), record.MaxMessage)
	return "80500200" + "00" + hexFour(len(p)) + hexOf(p) + "0000"
}

// TestCounterExhaustedBeforeSize: with its counter at 2^64-1 the card
// answers 6985 to SIGN RECORD before it weighs the signed message, even for
// a record it would refuse (6A80) for its size.
func TestCounterExhaustedBeforeSize(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	st, err := v.Storage.Load()
	require.NoError(t, err)
	binary.BigEndian.PutUint64(st[offCounter:], math.MaxUint64)
	_, sw := tx(t, selectedOn(t, st), tooLargeToSign(t))
	assert.Equal(t, uint16(0x6985), sw)
}

func TestAdvert(t *testing.T) {
	v := newCard(t, simcardtest.Options{Applet: applet.Options{TxPower: -8}})
	const epoch = 2945376
	for _, role := range []adv.Role{adv.Shopper, adv.Seller} {
		got, err := v.Card.Advert(epoch, role, adv.FlagBusy)
		require.NoError(t, err)
		eid, err := adv.DeriveEID(v.Enrolment.AdvertisingSecret, epoch)
		require.NoError(t, err)
		want, err := adv.Packet{Role: role, EID: eid, TxPower: -8, Flags: adv.FlagBusy}.MarshalBinary()
		require.NoError(t, err)
		assert.Equal(t, want, got)
		p, err := adv.Parse(got)
		require.NoError(t, err)
		assert.Equal(t, role, p.Role)
	}
	next, err := v.Card.Advert(epoch+1, adv.Shopper, 0)
	require.NoError(t, err)
	prev, err := v.Card.Advert(epoch, adv.Shopper, 0)
	require.NoError(t, err)
	assert.NotEqual(t, prev[12:28], next[12:28], "the EID changes with the epoch")
}

func TestAdvertCustomUUID(t *testing.T) {
	v := newCard(t, simcardtest.Options{Applet: applet.Options{Codec: adv.Codec{UUID: 0xFD6F}}})
	got, err := v.Card.Advert(1, adv.Seller, 0)
	require.NoError(t, err)
	p, err := adv.Codec{UUID: 0xFD6F}.Parse(got)
	require.NoError(t, err)
	assert.Equal(t, adv.Seller, p.Role)
	_, err = adv.Parse(got)
	assert.ErrorIs(t, err, adv.ErrForeign)
}

// faultyStorage passes writes to Storage until fail is set, then fails
// every write after the next okWrites ones: a power cut at a chosen point.
// With lands set, a write that fails still replaces the state, as File's
// does when it cannot sync its directory after the rename.
type faultyStorage struct {
	applet.Storage
	armed    bool
	okWrites int
	writes   int
	lands    bool
}

var errPowerCut = errors.New("power cut")

func (f *faultyStorage) Store(b []byte) error {
	if f.armed {
		if f.okWrites == 0 {
			if f.lands {
				_ = f.Storage.Store(b)
			}
			return errPowerCut
		}
		f.okWrites--
	}
	f.writes++
	return f.Storage.Store(b)
}

// TestStoreFailsAfterReplacing: a store that fails after the new state has
// replaced the old one (File whose directory cannot be opened or synced
// after the rename) answers 6581 like any other, and the card, running or
// powered on again, holds the state before the command: the card stores
// that state again. A PIN changed or set by the PUK and answered 6581 is
// not the PIN after a power cycle, nor is a card whose ACTIVATE failed
// operational.
func TestStoreFailsAfterReplacing(t *testing.T) {
	const changePIN = "0024008012313233343536FFFFFFFFFFFF373737373737" // 123456 → 777777
	t.Run("CHANGE REFERENCE DATA", func(t *testing.T) {
		mem := new(applet.Memory)
		fs := &faultyStorage{Storage: mem, lands: true}
		v := newCard(t, simcardtest.Options{Storage: fs})
		fs.armed, fs.okWrites = true, 2 // the decrement and the restore
		_, sw := tx(t, v.Applet, changePIN)
		require.Equal(t, uint16(0x6581), sw)
		fs.armed = false
		c := powerOn(t, mem)
		assert.NoError(t, c.VerifyPIN(simcardtest.PIN), "the PIN after a power cycle")
		assert.NoError(t, v.Card.VerifyPIN(simcardtest.PIN), "the PIN of the running card")
	})
	t.Run("RESET RETRY COUNTER", func(t *testing.T) {
		mem := new(applet.Memory)
		fs := &faultyStorage{Storage: mem, lands: true}
		v := newCard(t, simcardtest.Options{Storage: fs})
		for range simcard.DefaultTries {
			require.ErrorIs(t, v.Card.VerifyPIN("000000"), simcard.ErrWrongPIN)
		}
		fs.armed, fs.okWrites = true, 1 // the decrement of the PUK tries
		_, sw := tx(t, v.Applet, apdu("002C0080", []byte(simcardtest.PUK+"2468"), ""))
		require.Equal(t, uint16(0x6581), sw)
		fs.armed = false
		for name, c := range map[string]*simcard.Card{"after a power cycle": powerOn(t, mem), "running": v.Card} {
			left, _, err := c.PINTries()
			require.NoError(t, err)
			assert.Zero(t, left, "PIN still blocked, %s", name)
			left, _, err = c.PUKTries()
			require.NoError(t, err)
			assert.Equal(t, simcard.DefaultTries-1, left, "one PUK try used, %s", name)
		}
	})
	t.Run("ACTIVATE", func(t *testing.T) {
		count := &faultyStorage{Storage: new(applet.Memory)}
		newCard(t, simcardtest.Options{Storage: count})
		mem := new(applet.Memory)
		fs := &faultyStorage{Storage: mem, lands: true, armed: true, okWrites: count.writes - 1} // ACTIVATE stores last
		_, err := simcardtest.NewCard(testIssuer(t), simcardtest.Options{ICCID: testICCID, Storage: fs})
		require.ErrorIs(t, err, simcard.ErrMemory)
		fs.armed = false
		life, err := powerOn(t, mem).Select()
		require.NoError(t, err)
		assert.Equal(t, simcard.LifePersonalisation, life)
	})
}

// TestFileStoreFailsAfterRename: a File whose directory cannot be synced
// after the rename puts the previous state file back, so that a Store that
// fails leaves the state it found, or no state when there was none, and no
// other file beside it. Without hard links Store still stores.
func TestFileStoreFailsAfterRename(t *testing.T) {
	failSync := func(step string) error {
		if step == "sync directory" {
			return errPowerCut
		}
		return nil
	}
	dir := t.TempDir()
	f := &applet.File{Path: filepath.Join(dir, "card")}
	require.NoError(t, f.Store([]byte("old")))
	applet.BreakFile(f, failSync)
	require.ErrorIs(t, f.Store([]byte("new")), errPowerCut)
	applet.BreakFile(f, nil)
	b, err := f.Load()
	require.NoError(t, err)
	assert.Equal(t, "old", string(b), "the state before the Store that failed")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "card", entries[0].Name())

	// A file system without hard links keeps no previous file: Store
	// works all the same.
	applet.BreakFile(f, func(step string) error {
		if step == "link" {
			return errPowerCut
		}
		return nil
	})
	require.NoError(t, f.Store([]byte("newer")))
	b, err = f.Load()
	require.NoError(t, err)
	assert.Equal(t, "newer", string(b))
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1)

	blank := &applet.File{Path: filepath.Join(t.TempDir(), "card")}
	applet.BreakFile(blank, failSync)
	require.ErrorIs(t, blank.Store([]byte("new")), errPowerCut)
	b, err = blank.Load()
	require.NoError(t, err)
	assert.Nil(t, b, "nothing stored, as before the Store that failed")
}

// TestFileStoreFailsAfterRenameAndAgain: a CHANGE REFERENCE DATA whose new
// PIN cannot be stored (the File's directory cannot be synced after the
// rename) answers 6581, and the old PIN is the PIN after a power cycle,
// even when the store of the state before fails too, before its rename.
func TestFileStoreFailsAfterRenameAndAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card")
	f := &applet.File{Path: path}
	v := newCard(t, simcardtest.Options{Storage: f})
	stores := 0
	applet.BreakFile(f, func(step string) error {
		switch {
		case step == "create":
			stores++
			if stores > 3 {
				return errPowerCut // the state before, stored again
			}
		case step == "sync directory" && stores == 3:
			return errPowerCut // the new PIN, after its rename
		}
		return nil
	})
	_, sw := tx(t, v.Applet, "0024008012313233343536FFFFFFFFFFFF373737373737") // 123456 → 777777
	require.Equalf(t, uint16(0x6581), sw, "status word %04X", sw)
	require.Equal(t, 4, stores, "decrement, restore, new PIN, state before")
	c := powerOn(t, &applet.File{Path: path})
	assert.NoError(t, c.VerifyPIN(simcardtest.PIN), "the old PIN after a power cycle")
}

// TestPINPowerLoss cuts the power after the decrement has been stored and
// before the result is: even the right PIN costs a try, and a card that
// comes back has lost the try, never gained one.
func TestPINPowerLoss(t *testing.T) {
	mem := new(applet.Memory)
	fs := &faultyStorage{Storage: mem}
	v := newCard(t, simcardtest.Options{Storage: fs})

	// The decrement is stored, the restore after the right PIN is not.
	fs.armed, fs.okWrites = true, 1
	_, sw := tx(t, v.Applet, "0020008006313233343536")
	assert.Equal(t, uint16(0x6581), sw)
	_, sw = tx(t, v.Applet, "00200080")
	assert.Equal(t, uint16(0x63C2), sw, "not verified, one try used")

	// Power cycle: a new applet on what was stored.
	a, err := applet.New(mem, applet.Options{})
	require.NoError(t, err)
	tx(t, a, selectAID)
	data, sw := tx(t, a, "00CA010500")
	require.Equal(t, uint16(0x9000), sw)
	assert.Equal(t, []byte{2, 3}, data)

	// The decrement itself fails: the card does not compare at all, whether
	// the power is cut (every store after it fails too) or the store fails
	// once (the stores after it succeed).
	for _, s := range []applet.Storage{&faultyStorage{Storage: mem, armed: true}, &failingStore{Storage: mem, armed: true}} {
		a, err = applet.New(s, applet.Options{})
		require.NoError(t, err)
		tx(t, a, selectAID)
		_, sw = tx(t, a, "0020008006313233343536")
		assert.Equal(t, uint16(0x6581), sw)
		_, sw = tx(t, a, "00200080")
		assert.Equal(t, uint16(0x63C2), sw)
	}

	// A wrong PIN whose decrement is stored stays counted after a cut.
	fs3 := &faultyStorage{Storage: mem, armed: true, okWrites: 1}
	a, err = applet.New(fs3, applet.Options{})
	require.NoError(t, err)
	tx(t, a, selectAID)
	_, sw = tx(t, a, "0020008006313131313131")
	assert.Equal(t, uint16(0x63C1), sw)
	a, err = applet.New(mem, applet.Options{})
	require.NoError(t, err)
	tx(t, a, selectAID)
	data, _ = tx(t, a, "00CA010500")
	assert.Equal(t, []byte{1, 3}, data)
	_, sw = tx(t, a, "0020008006313233343536")
	assert.Equal(t, uint16(0x9000), sw)
	data, _ = tx(t, a, "00CA010500")
	assert.Equal(t, []byte{3, 3}, data)
}

// TestChangePINPowerLoss: a CHANGE REFERENCE DATA whose state cannot be
// stored answers 6581 and leaves the PIN unverified, whichever of its
// stores fails, whether the power is cut (every store after it fails too)
// or the store fails once, and the old PIN stays the PIN.
func TestChangePINPowerLoss(t *testing.T) {
	tests := []struct {
		name     string
		okWrites int    // stores that succeed before the one that fails
		status   uint16 // the status query's answer after it
	}{
		{name: "decrement", okWrites: 0, status: 0x63C3},
		{name: "restore", okWrites: 1, status: 0x63C2},
		{name: "new PIN", okWrites: 2, status: 0x63C3},
	}
	for _, tt := range tests {
		for _, once := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/once=%v", tt.name, once), func(t *testing.T) {
				mem := new(applet.Memory)
				cut := &faultyStorage{Storage: mem}
				fail := &failingStore{Storage: mem, fail: tt.okWrites}
				var store applet.Storage = cut
				if once {
					store = fail
				}
				v := newCard(t, simcardtest.Options{Storage: store})
				_, sw := tx(t, v.Applet, "0020008006313233343536")
				require.Equal(t, uint16(0x9000), sw)
				cut.armed, cut.okWrites, fail.armed = !once, tt.okWrites, once
				_, sw = tx(t, v.Applet, "0024008012313233343536FFFFFFFFFFFF373737373737")
				assert.Equal(t, uint16(0x6581), sw)
				_, sw = tx(t, v.Applet, "00200080")
				assert.Equalf(t, tt.status, sw, "status query: %04X", sw)
				cut.armed, fail.armed = false, false
				_, sw = tx(t, v.Applet, "0020008006313233343536")
				assert.Equal(t, uint16(0x9000), sw, "the old PIN")
			})
		}
	}
}

// failingStore passes writes to Storage but the one numbered fail, from 0,
// once armed: a write that fails once, as a storage that is full for a
// moment, the writes after it taken again.
type failingStore struct {
	applet.Storage
	armed  bool
	fail   int
	writes int
}

func (f *failingStore) Store(b []byte) error {
	if f.armed {
		f.writes++
		if f.writes-1 == f.fail {
			return errPowerCut
		}
	}
	return f.Storage.Store(b)
}

// TestUnblockStoreFails: a RESET RETRY COUNTER one of whose stores fails
// answers 6581, with the right PUK too, and unblocks nothing, though the
// stores after it succeed: a failure of the first store, of the PUK tries
// less one, has the card compare no PUK and use no try (PROTOCOL.md §2.5,
// step 2), and a failure of the restore of the tries leaves that try used.
// The PIN stays blocked and the new PIN is not set, on the running card
// and after a power cycle.
func TestUnblockStoreFails(t *testing.T) {
	tests := []struct {
		name    string
		fail    int // the store that fails
		pukLeft int
	}{
		{name: "decrement", fail: 0, pukLeft: simcard.DefaultTries},
		{name: "restore", fail: 1, pukLeft: simcard.DefaultTries - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := new(applet.Memory)
			fs := &failingStore{Storage: mem, fail: tt.fail}
			v := newCard(t, simcardtest.Options{Storage: fs})
			for range simcard.DefaultTries {
				require.ErrorIs(t, v.Card.VerifyPIN("000000"), simcard.ErrWrongPIN)
			}
			fs.armed = true
			_, sw := tx(t, v.Applet, apdu("002C0080", []byte(simcardtest.PUK+"2468"), ""))
			require.Equal(t, uint16(0x6581), sw)
			for name, c := range map[string]*simcard.Card{"running": v.Card, "after a power cycle": powerOn(t, mem)} {
				left, _, err := c.PUKTries()
				require.NoError(t, err)
				assert.Equal(t, tt.pukLeft, left, "PUK tries left, %s", name)
				left, _, err = c.PINTries()
				require.NoError(t, err)
				assert.Zero(t, left, "PIN tries left, %s", name)
				assert.ErrorIs(t, c.VerifyPIN("2468"), simcard.ErrPINBlocked, "the new PIN, %s", name)
			}
		})
	}
}

// TestCounterPowerLoss: a signature whose counter could not be stored is
// not made, and the counter never repeats after a power cycle.
func TestCounterPowerLoss(t *testing.T) {
	mem := new(applet.Memory)
	fs := &faultyStorage{Storage: mem}
	v := newCard(t, simcardtest.Options{Storage: fs})
	_, err := v.Card.SignAuthProof(sampleAuthProof())
	require.NoError(t, err)
	fs.armed = true
	_, err = v.Card.SignAuthProof(sampleAuthProof())
	require.ErrorIs(t, err, simcard.ErrMemory)

	c := powerOn(t, mem)
	msg, err := c.SignAuthProof(sampleAuthProof())
	require.NoError(t, err)
	var ap record.AuthProof
	require.NoError(t, record.Verify(msg, v.Enrolment.PublicKey, &ap))
	assert.Equal(t, uint64(2), ap.Counter)
}

var errNoEntropy = errors.New("no entropy")

// TestCryptoFailure: key generation and signing that fail answer 6F00, not
// the 6581 of a memory failure. Nothing is stored by a failed key
// generation; a failed SIGN RECORD has already stored its counter, which the
// next signature does not reuse.
func TestCryptoFailure(t *testing.T) {
	t.Run("generate key", func(t *testing.T) {
		a := newBlank(t)
		applet.BreakCrypto(a, errNoEntropy)
		_, sw := tx(t, a, "0047800000")
		assert.Equal(t, uint16(0x6F00), sw)
		_, sw = tx(t, a, "00CA010300")
		assert.Equal(t, uint16(0x6A88), sw, "no key stored")
		applet.BreakCrypto(a, nil)
		_, sw = tx(t, a, "0047800000")
		assert.Equal(t, uint16(0x9000), sw)
	})

	t.Run("operational card", func(t *testing.T) {
		v := newCard(t, simcardtest.Options{})
		applet.BreakCrypto(v.Applet, errNoEntropy)
		_, err := v.Card.Authenticate(fill(32, 0xA5))
		var se *simcard.StatusError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, simcard.StatusError{SW: 0x6F00, Ins: simcard.InsInternalAuth}, *se)
		assert.ErrorIs(t, err, simcard.ErrCardFailure)
		assert.NotErrorIs(t, err, simcard.ErrMemory)

		_, err = v.Card.SignAuthProof(sampleAuthProof())
		require.ErrorAs(t, err, &se)
		assert.Equal(t, simcard.StatusError{SW: 0x6F00, Ins: simcard.InsSignRecord}, *se)
		assert.ErrorIs(t, err, simcard.ErrCardFailure)
		counter, err := v.Card.GetData(simcard.TagCounter)
		require.NoError(t, err)
		assert.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, 1}, counter, "the counter was stored before signing")

		applet.BreakCrypto(v.Applet, nil)
		msg, err := v.Card.SignAuthProof(sampleAuthProof())
		require.NoError(t, err)
		var ap record.AuthProof
		require.NoError(t, record.Verify(msg, v.Enrolment.PublicKey, &ap))
		assert.Equal(t, uint64(2), ap.Counter)
	})
}

// TestFilePowerCycle runs a card on a File, then brings it back from the
// file alone: key, certificate, counter and tries are there; the PIN
// verification is not.
func TestFilePowerCycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.state")
	v := newCard(t, simcardtest.Options{Storage: &applet.File{Path: path}})
	_, err := v.Card.SignAuthProof(sampleAuthProof())
	require.NoError(t, err)
	require.ErrorIs(t, v.Card.VerifyPIN("000000"), simcard.ErrWrongPIN)
	require.NoError(t, v.Card.VerifyPIN(simcardtest.PIN))
	require.ErrorIs(t, v.Card.VerifyPIN("000000"), simcard.ErrWrongPIN)

	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left behind")

	a, err := applet.New(&applet.File{Path: path}, applet.Options{})
	require.NoError(t, err)
	c := simcard.New(a)
	life, err := c.Select()
	require.NoError(t, err)
	assert.Equal(t, simcard.LifeOperational, life)
	left, _, err := c.PINTries()
	require.NoError(t, err)
	assert.Equal(t, 2, left)
	_, err = c.SignConsent(sampleConsent())
	require.ErrorIs(t, err, simcard.ErrPINRequired)
	require.NoError(t, c.VerifyPIN(simcardtest.PIN))
	msg, err := c.SignConsent(sampleConsent())
	require.NoError(t, err)
	var co record.Consent
	require.NoError(t, record.Verify(msg, v.Enrolment.PublicKey, &co))
	assert.Equal(t, uint64(2), co.Counter)
	cert, err := c.Certificate()
	require.NoError(t, err)
	assert.Equal(t, v.Enrolment.Chain[0], cert)
	got, err := c.Advert(7, adv.Seller, 0)
	require.NoError(t, err)
	eid, err := adv.DeriveEID(v.Enrolment.AdvertisingSecret, 7)
	require.NoError(t, err)
	assert.Equal(t, eid[:], got[12:28])
}

func TestFileLoadMissing(t *testing.T) {
	f := &applet.File{Path: filepath.Join(t.TempDir(), "none")}
	b, err := f.Load()
	require.NoError(t, err)
	assert.Nil(t, b)
	require.NoError(t, f.Store([]byte("x")))
	b, err = f.Load()
	require.NoError(t, err)
	assert.Equal(t, []byte("x"), b)
	bad := &applet.File{Path: filepath.Join(t.TempDir(), "missing-dir", "card")}
	assert.ErrorIs(t, bad.Store([]byte("x")), fs.ErrNotExist)
}

// TestMemoryKeepsNoBuffer: the zero Memory is a blank card (nil, no
// error); Store keeps a copy of the state, not the buffer the applet
// reuses, and Load hands out copies; an empty state stored loads as an
// empty state, not as a blank card.
func TestMemoryKeepsNoBuffer(t *testing.T) {
	var m applet.Memory
	b, err := m.Load()
	require.NoError(t, err)
	assert.Nil(t, b)
	buf := []byte{1, 2, 3}
	require.NoError(t, m.Store(buf))
	buf[0] = 9
	b, err = m.Load()
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2, 3}, b)
	b[1] = 9
	b, err = m.Load()
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2, 3}, b)
	require.NoError(t, m.Store([]byte{}))
	b, err = m.Load()
	require.NoError(t, err)
	assert.Equal(t, []byte{}, b)
}

func TestCorruptState(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	good, err := v.Storage.Load()
	require.NoError(t, err)
	with := func(i int, v byte) []byte {
		b := bytes.Clone(good)
		b[i] = v
		return b
	}
	// field returns the offset and length of the k-th length-prefixed
	// field of the stored layout (0: ICCID, 6: PIN hash, 7: PUK hash).
	field := func(k int) (int, int) {
		start, end, ok := fieldSpan(good, k)
		require.True(t, ok)
		return start, end - start
	}
	// shorter drops the last octet of the k-th field.
	shorter := func(k int) []byte {
		off, n := field(k)
		b := bytes.Clone(good[:off+n-1])
		binary.BigEndian.PutUint16(b[off-2:], uint16(n-1))
		return append(b, good[off+n:]...)
	}
	iccid, n := field(0)
	require.Equal(t, testICCID, string(good[iccid:iccid+n]))
	require.NoError(t, pki.ValidICCID(testICCID[:n-1]), "the ICCID less its last digit is valid too")
	tests := map[string][]byte{
		"ICCID check digit":   with(iccid+n-1, '1'),
		"ICCID not digits":    with(iccid+3, 'A'),
		"ICCID not certified": shorter(0), // 19 digits, valid, not the certificate's
		"PIN hash of 31":      shorter(6),
		"PUK hash of 31":      shorter(7),
		"garbage":             []byte("garbage"),
		"empty":               {},
		"truncated":           good[:len(good)-3],
		"trailing octet":      append(bytes.Clone(good), 0),
		"wrong version":       with(0, 2),
		"unknown life":        with(1, 9),
		"tries above max":     with(2, good[3]+1),
		"PUK tries above max": with(4, good[5]+1),
		"no tries allowed":    with(3, 0),
		"PUK tries over 15":   with(5, 16),
	}
	// PUT DATA takes only a certificate of the card's key for its ICCID and
	// a chain of certificates, before activation as after.
	m := new(applet.Memory)
	require.NoError(t, m.Store(personalising(good)))
	_, err = applet.New(m, applet.Options{})
	require.NoError(t, err, "a good state back in personalisation holds together")
	chain, chainLen := field(3)
	require.NotZero(t, chainLen)
	notDER := bytes.Clone(good)
	copy(notDER[chain:chain+chainLen], bytes.Repeat([]byte{0xFF}, chainLen))
	tests["chain not certificates"] = notDER
	tests["personalising, chain not certificates"] = personalising(notDER)
	tests["personalising, ICCID not certified"] = personalising(shorter(0))
	tests["personalising, certificate cut short"] = personalising(shorter(2))
	// An operational card holds a PIN and a PUK (ACTIVATE asks for both).
	tests["operational without a PIN"] = withField(good, 6, nil)
	tests["operational without a PUK"] = withField(good, 7, nil)
	tests["operational without a certificate"] = withField(good, fieldCert, nil)
	tests["advertising secret of 15"] = shorter(4)
	tests["salt of 15"] = shorter(5)
	require.Equal(t, bytes.Join(v.Enrolment.Chain[1:], nil), good[chain:chain+chainLen])
	otherRoot, otherIssuer, err := simcardtest.NewCA()
	require.NoError(t, err)
	issuerCert := v.Enrolment.Chain[1]
	// PUT DATA takes only a chain that links: the certificate issued by its
	// first certificate, each certificate by the next.
	tests["chain of another issuer"] = withField(good, fieldChain, otherIssuer.Certificate().Raw)
	tests["personalising, chain of another issuer"] = personalising(withField(good, fieldChain, otherIssuer.Certificate().Raw))
	tests["chain not linking in itself"] = withField(good, fieldChain, append(bytes.Clone(issuerCert), otherRoot.Certificate().Raw...))
	tests["personalising, chain not linking in itself"] = personalising(withField(good, fieldChain, append(bytes.Clone(issuerCert), otherRoot.Certificate().Raw...)))
	// An ICCID is checked for itself, not only against the certificate:
	// a card being personalised may hold none yet.
	uncertified := personalising(withField(good, fieldCert, nil))
	require.NoError(t, m.Store(uncertified))
	_, err = applet.New(m, applet.Options{})
	require.NoError(t, err, "a card being personalised may hold no certificate yet")
	tests["personalising, no certificate, ICCID check digit"] = withField(uncertified, 0, []byte(testICCID[:n-1]+"1"))
	tests["personalising, no certificate, ICCID not digits"] = withField(uncertified, 0, []byte("89A"+testICCID[3:]))
	// A card being personalised has never signed: its counter is 0.
	require.Zero(t, stateCounter(good))
	tests["personalising, counter 1"] = personalising(with(offCounter+7, 1))
	tests["personalising, counter 2^56"] = personalising(with(offCounter, 1))
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			m := new(applet.Memory)
			require.NoError(t, m.Store(b))
			_, err := applet.New(m, applet.Options{})
			assert.ErrorIs(t, err, applet.ErrState)
		})
	}
}

func TestOptions(t *testing.T) {
	_, err := applet.New(new(applet.Memory), applet.Options{PINTries: 16})
	assert.ErrorIs(t, err, applet.ErrOptions)
	_, err = applet.New(new(applet.Memory), applet.Options{PUKTries: -1})
	assert.ErrorIs(t, err, applet.ErrOptions)
	for _, opts := range []applet.Options{{PINTries: -1}, {PUKTries: 16}} {
		m := new(applet.Memory)
		a, err := applet.New(m, opts)
		assert.ErrorIs(t, err, applet.ErrOptions, "%+v", opts)
		assert.Nil(t, a)
		b, err := m.Load()
		require.NoError(t, err)
		assert.Nil(t, b, "nothing stored for %+v", opts)
	}
	_, err = applet.New(nil, applet.Options{})
	assert.ErrorIs(t, err, applet.ErrOptions, "no storage")
	assert.ErrorIs(t, err, applet.ErrNoStorage)
	_, err = applet.New((*applet.Memory)(nil), applet.Options{})
	assert.ErrorIs(t, err, applet.ErrOptions, "a nil *Memory")
	assert.ErrorIs(t, err, applet.ErrNoStorage)
	_, err = applet.New((*applet.File)(nil), applet.Options{})
	assert.ErrorIs(t, err, applet.ErrOptions, "a nil *File")
	_, err = applet.New(new(applet.Memory), applet.Options{Rand: (*bytes.Reader)(nil)})
	assert.ErrorIs(t, err, applet.ErrOptions, "a nil pointer as Rand")
	v := newCard(t, simcardtest.Options{Applet: applet.Options{PINTries: 5, PUKTries: 10}})
	left, max, err := v.Card.PINTries()
	require.NoError(t, err)
	assert.Equal(t, []int{5, 5}, []int{left, max})
	err = v.Card.VerifyPIN("0000")
	var se *simcard.StatusError
	require.ErrorAs(t, err, &se)
	n, _ := se.TriesLeft()
	assert.Equal(t, 4, n)
	left, max, err = v.Card.PUKTries()
	require.NoError(t, err)
	assert.Equal(t, []int{10, 10}, []int{left, max})
}

// TestResetDropsVolatileState: Reset leaves the applet unselected and
// drops a pending response and a command chain: after it, GET RESPONSE
// finds nothing pending (6985) and SELECT, which the open chain would
// answer 6883, selects the applet.
func TestResetDropsVolatileState(t *testing.T) {
	a, err := applet.New(new(applet.Memory), applet.Options{})
	require.NoError(t, err)
	_, sw := tx(t, a, selectAID)
	require.Equal(t, simcard.SWSuccess, sw)
	_, sw = tx(t, a, "00CA010800") // GET DATA life cycle
	require.Equal(t, simcard.SWSuccess, sw)

	fci, sw := tx(t, a, "00A4040007F0434153494D0101") // Le 01: the FCI waits
	require.Equal(t, []byte{0x6F}, fci)
	require.Equal(t, uint16(0x6112), sw)
	a.Reset()
	_, sw = tx(t, a, "00C0000012")
	assert.Equal(t, simcard.SWConditions, sw, "nothing pending after Reset")
	_, sw = tx(t, a, "00CA010800")
	assert.Equal(t, simcard.SWConditions, sw, "not selected after Reset")

	_, sw = tx(t, a, selectAID)
	require.Equal(t, simcard.SWSuccess, sw)
	_, sw = tx(t, a, "10DA01010A"+hexOf([]byte(testICCID[:10]))) // first link of PUT DATA ICCID
	require.Equal(t, simcard.SWSuccess, sw)
	a.Reset()
	fci, sw = tx(t, a, selectAID)
	assert.Equal(t, simcard.SWSuccess, sw, "no chain left after Reset")
	assert.Len(t, fci, 0x13)
}

// TestNilCard: a nil *Applet, or one not made by New, is no card: Transmit
// answers ErrNoCard and Reset does nothing. A nil *Memory or *File, or a
// File without a Path, is no storage: Load and Store answer ErrNoStorage,
// and New fails with it, making no file.
func TestNilCard(t *testing.T) {
	for name, a := range map[string]*applet.Applet{"nil": nil, "zero": new(applet.Applet)} {
		t.Run(name, func(t *testing.T) {
			r, err := a.Transmit(unhex(t, selectAID))
			assert.ErrorIs(t, err, applet.ErrNoCard)
			assert.Nil(t, r)
			a.Reset()
		})
	}
	t.Chdir(t.TempDir()) // where a File without a Path would write
	for name, s := range map[string]applet.Storage{"memory": (*applet.Memory)(nil), "file": (*applet.File)(nil), "no path": new(applet.File)} {
		t.Run(name, func(t *testing.T) {
			b, err := s.Load()
			assert.ErrorIs(t, err, applet.ErrNoStorage)
			assert.Nil(t, b)
			assert.ErrorIs(t, s.Store([]byte{1}), applet.ErrNoStorage)
			a, err := applet.New(s, applet.Options{})
			assert.ErrorIs(t, err, applet.ErrNoStorage)
			assert.Nil(t, a)
		})
	}
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestInternalAuthenticate(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	challenge := fill(32, 0x5A)
	sig, err := v.Card.Authenticate(challenge)
	require.NoError(t, err)
	assert.True(t, simcard.VerifyChallenge(v.Enrolment.PublicKey, testICCID, challenge, sig))
	assert.False(t, simcard.VerifyChallenge(v.Enrolment.PublicKey, testICCID, fill(32, 0x5B), sig))
	n, err := v.Card.Counter()
	require.NoError(t, err)
	assert.Zero(t, n, "challenges do not use the record counter")
	_, err = v.Card.Authenticate(fill(65, 1))
	assert.ErrorIs(t, err, simcard.ErrRefused)
}

// TestConcurrentSignatures signs from several goroutines through one Card:
// every counter is used exactly once.
func TestConcurrentSignatures(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	const workers, each = 4, 5
	counters := make(chan uint64, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				msg, err := v.Card.SignAuthProof(sampleAuthProof())
				if !assert.NoError(t, err) {
					return
				}
				var ap record.AuthProof
				if assert.NoError(t, record.Verify(msg, v.Enrolment.PublicKey, &ap)) {
					counters <- ap.Counter
				}
			}
		})
	}
	wg.Wait()
	close(counters)
	seen := map[uint64]bool{}
	for c := range counters {
		assert.False(t, seen[c], "counter %d twice", c)
		seen[c] = true
	}
	assert.Len(t, seen, workers*each)
	for i := uint64(1); i <= workers*each; i++ {
		assert.True(t, seen[i], "counter %d missing", i)
	}
}

// TestCounterExhausted: a card whose counter reached 2^64−1 signs no more
// records, since a counter must never repeat.
func TestCounterExhausted(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	st, err := v.Storage.Load()
	require.NoError(t, err)
	binary.BigEndian.PutUint64(st[offCounter:], math.MaxUint64-1)
	mem := new(applet.Memory)
	require.NoError(t, mem.Store(st))
	c := powerOn(t, mem)
	msg, err := c.SignAuthProof(sampleAuthProof())
	require.NoError(t, err)
	var ap record.AuthProof
	require.NoError(t, record.Verify(msg, v.Enrolment.PublicKey, &ap))
	assert.Equal(t, uint64(math.MaxUint64), ap.Counter)
	_, err = c.SignAuthProof(sampleAuthProof())
	assert.ErrorIs(t, err, simcard.ErrConditions)
}

// TestRegenerateKey: a new key during personalisation drops the
// certificate of the old one, so the card cannot be activated with it.
func TestRegenerateKey(t *testing.T) {
	a, cert := certifiedBlank(t)
	c := simcard.New(a)
	got, err := c.Certificate()
	require.NoError(t, err)
	assert.Equal(t, cert, got)
	_, sw := tx(t, a, "0047800000")
	require.Equal(t, uint16(0x9000), sw)
	_, err = c.Certificate()
	assert.ErrorIs(t, err, simcard.ErrNotFound)
	_, sw = tx(t, a, "00DA012006313233343536")
	require.Equal(t, uint16(0x9000), sw)
	_, sw = tx(t, a, "00DA0121083132333435363738")
	require.Equal(t, uint16(0x9000), sw)
	_, sw = tx(t, a, "00440000")
	assert.Equal(t, uint16(0x6985), sw, "no certificate of the current key")
}

// TestFileCrashBeforeRename: a temporary file left by a crash between the
// write and the rename is ignored, and the next Store still succeeds; so is
// a previous state file left by a crash before the directory was synced.
func TestFileCrashBeforeRename(t *testing.T) {
	dir := t.TempDir()
	f := &applet.File{Path: filepath.Join(dir, "card.state")}
	require.NoError(t, f.Store([]byte("old")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".card.state.tmp123"), []byte("half-writ"), 0o600))
	b, err := f.Load()
	require.NoError(t, err)
	assert.Equal(t, []byte("old"), b)
	require.NoError(t, f.Store([]byte("new")))
	b, err = f.Load()
	require.NoError(t, err)
	assert.Equal(t, []byte("new"), b)

	// The previous state file, kept under a second name until the
	// directory is synced, is removed by the next Store when a crash left
	// it.
	prev := filepath.Join(dir, ".card.state.prev")
	require.NoError(t, os.WriteFile(prev, []byte("older"), 0o600))
	require.NoError(t, f.Store([]byte("newer")))
	b, err = f.Load()
	require.NoError(t, err)
	assert.Equal(t, []byte("newer"), b)
	assert.NoFileExists(t, prev)
}

// TestFileRemovesStaleTemporaries: a temporary file of the state file that
// a crash between the write and the rename left behind is removed by the
// first Store of a File once it is older than ten minutes; a younger one
// stays. Later Stores of that File do not look again; the first Store of
// another File of the path does.
func TestFileRemovesStaleTemporaries(t *testing.T) {
	dir := t.TempDir()
	f := &applet.File{Path: filepath.Join(dir, "card.state")}
	stale := filepath.Join(dir, ".card.state.tmp123")
	young := filepath.Join(dir, ".card.state.tmp456")
	require.NoError(t, os.WriteFile(stale, []byte("half-writ"), 0o600))
	require.NoError(t, os.WriteFile(young, []byte("half-writ"), 0o600))
	old := time.Now().Add(-11 * time.Minute)
	require.NoError(t, os.Chtimes(stale, old, old))

	require.NoError(t, f.Store([]byte("new")))
	assert.NoFileExists(t, stale)
	assert.FileExists(t, young, "a Store under way may write it")
	b, err := f.Load()
	require.NoError(t, err)
	assert.Equal(t, []byte("new"), b)

	require.NoError(t, os.Chtimes(young, old, old))
	require.NoError(t, f.Store([]byte("newer")))
	assert.FileExists(t, young, "only the first Store of a File looks")
	g := &applet.File{Path: f.Path}
	require.NoError(t, g.Store([]byte("newest")))
	assert.NoFileExists(t, young)
	b, err = g.Load()
	require.NoError(t, err)
	assert.Equal(t, []byte("newest"), b)
}

// TestFileRemovesOnlyItsTemporaries: the first Store of a File removes, of
// the old files beside it, only its own temporary files (".NAME.tmp" and
// digits), not another file whose name merely begins so: the state file
// of a File at ".NAME.tmp.bak", or the previous state that a File at
// "NAME.tmp" keeps under ".NAME.tmp.prev" while it stores (the link shares
// the state file's time of last change, however old).
func TestFileRemovesOnlyItsTemporaries(t *testing.T) {
	dir := t.TempDir()
	f := &applet.File{Path: filepath.Join(dir, "card.state")}
	stale := filepath.Join(dir, ".card.state.tmp123")
	others := []string{
		filepath.Join(dir, ".card.state.tmp.prev"),
		filepath.Join(dir, ".card.state.tmp.bak"),
		filepath.Join(dir, ".card.state.tmp12x"),
	}
	old := time.Now().Add(-11 * time.Minute)
	for _, name := range append([]string{stale}, others...) {
		require.NoError(t, os.WriteFile(name, []byte("state"), 0o600))
		require.NoError(t, os.Chtimes(name, old, old))
	}

	require.NoError(t, f.Store([]byte("new")))
	assert.NoFileExists(t, stale)
	for _, name := range others {
		b, err := os.ReadFile(name)
		require.NoError(t, err, "%s is not a temporary file of %s", filepath.Base(name), filepath.Base(f.Path))
		assert.Equal(t, []byte("state"), b)
	}
}
