package applet

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"sync"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/internal/nilptr"
	"github.com/casimpay/casimpay/simcard"
)

// Options configures New. The zero Options holds the defaults.
type Options struct {
	// Rand is the source of the card's advertising secret and salt; nil
	// means crypto/rand.Reader, and a nil pointer is refused. It is handed
	// to key generation and signing too, but since Go 1.26 crypto/ecdsa
	// ignores it and always uses a secure source (tests make that
	// deterministic with testing/cryptotest.SetGlobalRandom).
	Rand io.Reader
	// PINTries and PUKTries are the tries of a fresh card; zero means
	// simcard.DefaultTries (3). At most simcard.MaxTries (15), the most a
	// 63Cx status word can report. They apply only when the card is
	// created.
	PINTries, PUKTries int
	// TxPower is the calibrated transmit power of the card's radio, in dBm,
	// carried in its advert.
	TxPower int8
	// Codec is the advert codec; the zero Codec uses adv.DefaultUUID.
	Codec adv.Codec
}

// Applet is the CA-SIM applet: a card that speaks only ISO/IEC 7816-4 APDUs
// through Transmit. Its persistent state lives in a Storage; its volatile
// state (selection, PIN verification, pending response, command chain) is
// lost on Reset, as on a real card when power goes.
//
// An Applet is safe for concurrent use; commands are processed one at a
// time, as on the single basic logical channel of a card. A nil *Applet, or
// the zero Applet, is no card: New makes one.
type Applet struct {
	opts  Options
	store Storage

	mu sync.Mutex
	// ops are the card's key generation and signatures: stdECDSA, or ones
	// the package's tests make fail.
	ops    ecdsaOps
	st     state
	key    *ecdsa.PrivateKey
	eidKey *adv.EIDKey
	// scratch is reused to encode the state; Storage.Store does not keep it.
	scratch []byte
	// volatile
	selected bool
	verified bool
	pending  []byte
	chain    *chain
}

// ecdsaOps are the card's key generation and signatures. Since Go 1.26
// crypto/ecdsa reads no random source it is given, so a failing one can no
// longer make them fail: the package's tests replace them instead.
type ecdsaOps struct {
	generateKey func(elliptic.Curve, io.Reader) (*ecdsa.PrivateKey, error)
	sign        func(io.Reader, *ecdsa.PrivateKey, []byte) (r, s *big.Int, err error)
	signASN1    func(io.Reader, *ecdsa.PrivateKey, []byte) ([]byte, error)
}

// stdECDSA is crypto/ecdsa's key generation and signatures.
var stdECDSA = ecdsaOps{generateKey: ecdsa.GenerateKey, sign: ecdsa.Sign, signASN1: ecdsa.SignASN1}

// chain is a command chain being received (CLA bit 0x10).
type chain struct {
	cla, ins, p1, p2 byte
	data             []byte
}

var _ simcard.Transmitter = (*Applet)(nil)

// New returns the card whose state is in store. A blank store makes a new
// card in the personalisation state, with a fresh advertising secret and no
// ICCID, key, certificate, PIN or PUK (see simcard.Card.Personalise); the new
// state is stored before New returns. New returns an error matching ErrState
// when the stored state is unreadable, ErrOptions for tries out of range or
// a nil store (or one holding a nil pointer; the error then matches
// ErrNoStorage too) or a Rand that is a nil pointer, the error of the
// storage when it fails, and, for a blank store, the error of Rand when it
// cannot give the advertising secret or the salt (wrapped), nothing then
// stored.
func New(store Storage, opts Options) (*Applet, error) {
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if nilptr.Is(opts.Rand) {
		return nil, fmt.Errorf("%w: Rand is a nil pointer", ErrOptions)
	}
	if opts.PINTries == 0 {
		opts.PINTries = simcard.DefaultTries
	}
	if opts.PUKTries == 0 {
		opts.PUKTries = simcard.DefaultTries
	}
	if opts.PINTries < 1 || opts.PINTries > simcard.MaxTries || opts.PUKTries < 1 || opts.PUKTries > simcard.MaxTries {
		return nil, fmt.Errorf("%w: tries must be between 1 and 15", ErrOptions)
	}
	if nilptr.Is(store) {
		return nil, fmt.Errorf("%w: %w", ErrOptions, ErrNoStorage)
	}
	a := &Applet{opts: opts, store: store, ops: stdECDSA}
	b, err := store.Load()
	if err != nil {
		return nil, err
	}
	if b == nil {
		st := state{
			Version:   stateVersion,
			Life:      simcard.LifePersonalisation,
			AdvSecret: make([]byte, adv.SecretSize),
			Salt:      make([]byte, saltSize),
			PINTries:  uint8(opts.PINTries),
			PUKTries:  uint8(opts.PUKTries),
			PINMax:    uint8(opts.PINTries),
			PUKMax:    uint8(opts.PUKTries),
		}
		if _, err := io.ReadFull(opts.Rand, st.AdvSecret); err != nil {
			return nil, fmt.Errorf("applet: advertising secret: %w", err)
		}
		if _, err := io.ReadFull(opts.Rand, st.Salt); err != nil {
			return nil, fmt.Errorf("applet: salt: %w", err)
		}
		enc, err := st.marshal()
		if err != nil {
			return nil, err
		}
		if err := store.Store(enc); err != nil {
			return nil, err
		}
		b = enc
	}
	if a.st, a.key, err = parseState(b); err != nil {
		return nil, err
	}
	if a.eidKey, err = adv.NewEIDKey(a.st.AdvSecret); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	return a, nil
}

// Reset drops the volatile state, as a power cycle or a warm reset does:
// the applet is no longer selected, the PIN is no longer verified, and a
// pending response or command chain is discarded. Nothing persistent
// changes. Reset of no card (a nil or zero Applet) does nothing.
func (a *Applet) Reset() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.selected, a.verified, a.pending, a.chain = false, false, nil, nil
}

// Transmit processes one command APDU and returns the response APDU: data,
// if any, followed by the status word. It never panics, whatever the
// command; malformed commands get the status word PROTOCOL.md §2 names for
// them. It returns an error, ErrNoCard, only for no card: a nil Applet, or
// one not made by New.
func (a *Applet) Transmit(command []byte) ([]byte, error) {
	if a == nil || a.store == nil {
		return nil, ErrNoCard
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.transmitLocked(command), nil
}

func sw(code uint16) []byte { return []byte{byte(code >> 8), byte(code)} }

func (a *Applet) transmitLocked(raw []byte) []byte {
	cmd, err := simcard.ParseCommand(raw)
	if len(raw) > 4 && raw[1] == simcard.InsVerify && raw[3] == simcard.RefPIN && (err != nil || len(cmd.Data) > 0) {
		// Any VERIFY of the PIN with data ends the verification, whatever
		// refuses it: its class, chaining, length (one that does not parse
		// included), P1 or format, or the PIN itself; only a match sets it
		// again (PROTOCOL.md §2.5).
		a.verified = false
	}
	if err != nil {
		a.pending, a.chain = nil, nil
		return sw(simcard.SWWrongLength)
	}
	base := cmd.CLA &^ simcard.ClassChaining
	if base != simcard.ClassISO && base != simcard.ClassProprietary {
		a.pending, a.chain = nil, nil
		return sw(simcard.SWClassNotSupported)
	}
	if c := a.chain; c != nil && (c.ins != cmd.INS || c.p1 != cmd.P1 || c.p2 != cmd.P2 || c.cla&^simcard.ClassChaining != base) {
		a.chain = nil // a command chain must go on with the same command
		return sw(simcard.SWLastCommandExpected)
	}
	if cmd.INS == simcard.InsGetResponse {
		// An ISO instruction: another class is 6E00, a chained link 6884,
		// and either discards what was pending.
		switch {
		case base != simcard.ClassISO:
			a.pending = nil
			return sw(simcard.SWClassNotSupported)
		case cmd.CLA&simcard.ClassChaining != 0:
			a.pending = nil
			return sw(simcard.SWChainingUnsupported)
		}
		return a.getResponseLocked(cmd)
	}
	a.pending = nil
	h, ok := handlers[cmd.INS]
	if !ok {
		a.chain = nil
		return sw(simcard.SWInsNotSupported)
	}
	if h.class != base {
		a.chain = nil
		return sw(simcard.SWClassNotSupported)
	}
	// Every instruction but SELECT needs the applet selected, the first
	// link of a chain included (Reset drops a chain with the selection).
	if !a.selected && cmd.INS != simcard.InsSelect {
		return sw(simcard.SWConditions)
	}
	// Command chaining (ISO/IEC 7816-4 §5.3.3).
	if a.chain != nil {
		c := a.chain
		if len(c.data)+len(cmd.Data) > simcard.MaxCommandData {
			a.chain = nil
			return sw(simcard.SWWrongLength)
		}
		c.data = append(c.data, cmd.Data...)
		if cmd.CLA&simcard.ClassChaining != 0 {
			return sw(simcard.SWSuccess)
		}
		a.chain = nil
		cmd.Data = c.data
	} else if cmd.CLA&simcard.ClassChaining != 0 {
		if !h.chaining {
			return sw(simcard.SWChainingUnsupported)
		}
		if len(cmd.Data) > simcard.MaxCommandData {
			return sw(simcard.SWWrongLength)
		}
		a.chain = &chain{cla: cmd.CLA, ins: cmd.INS, p1: cmd.P1, p2: cmd.P2, data: append([]byte(nil), cmd.Data...)}
		return sw(simcard.SWSuccess)
	}
	if len(cmd.Data) > simcard.MaxCommandData {
		return sw(simcard.SWWrongLength)
	}
	data, code := h.fn(a, cmd)
	return a.respondLocked(data, code, cmd.Ne)
}

// respondLocked returns data and code, cut to ne octets; what does not fit
// waits for GET RESPONSE behind 61xx.
func (a *Applet) respondLocked(data []byte, code uint16, ne int) []byte {
	if len(data) == 0 || code != simcard.SWSuccess {
		return sw(code)
	}
	if len(data) <= ne {
		out := make([]byte, 0, len(data)+2)
		out = append(out, data...)
		return append(out, sw(code)...)
	}
	n := min(ne, len(data))
	a.pending = data[n:]
	out := append([]byte(nil), data[:n]...)
	return append(out, sw(remaining(len(a.pending)))...)
}

func remaining(n int) uint16 {
	if n >= 256 {
		return simcard.SWBytesRemaining
	}
	return simcard.SWBytesRemaining | uint16(n)
}

func (a *Applet) getResponseLocked(cmd simcard.Command) []byte {
	a.chain = nil
	if cmd.P1 != 0 || cmd.P2 != 0 {
		a.pending = nil
		return sw(simcard.SWWrongP1P2)
	}
	if len(cmd.Data) != 0 || cmd.Ne == 0 {
		a.pending = nil
		return sw(simcard.SWWrongLength)
	}
	if len(a.pending) == 0 {
		return sw(simcard.SWConditions)
	}
	data := a.pending
	a.pending = nil
	return a.respondLocked(data, simcard.SWSuccess, cmd.Ne)
}

type handler struct {
	class    byte
	chaining bool // accepts command chaining
	fn       func(*Applet, simcard.Command) ([]byte, uint16)
}

var handlers map[byte]handler

func init() {
	handlers = map[byte]handler{
		simcard.InsSelect:            {simcard.ClassISO, false, (*Applet).selectLocked},
		simcard.InsGetData:           {simcard.ClassISO, false, (*Applet).getDataLocked},
		simcard.InsPutData:           {simcard.ClassISO, true, (*Applet).putDataLocked},
		simcard.InsGenerateKey:       {simcard.ClassISO, false, (*Applet).generateKeyLocked},
		simcard.InsActivate:          {simcard.ClassISO, false, (*Applet).activateLocked},
		simcard.InsVerify:            {simcard.ClassISO, false, (*Applet).verifyLocked},
		simcard.InsChangeReference:   {simcard.ClassISO, false, (*Applet).changePINLocked},
		simcard.InsResetRetryCounter: {simcard.ClassISO, false, (*Applet).resetRetryLocked},
		simcard.InsInternalAuth:      {simcard.ClassISO, false, (*Applet).internalAuthLocked},
		simcard.InsSignRecord:        {simcard.ClassProprietary, true, (*Applet).signRecordLocked},
		simcard.InsAdvert:            {simcard.ClassProprietary, false, (*Applet).advertLocked},
	}
}

// persistLocked stores next and makes it the current state only once the
// storage acknowledged it. A Store that fails may have replaced the state
// all the same (File's, when its directory cannot be synced after the
// rename and the previous file cannot be put back): persistLocked then
// stores the current state again, so that the storage holds the state the
// card goes on answering from, as after a power cycle, and not the one it
// answered 6581 for.
func (a *Applet) persistLocked(next state) error {
	b, err := next.appendBinary(a.scratch[:0])
	if err != nil {
		return err
	}
	a.scratch = b
	if err := a.store.Store(b); err != nil {
		if cur, mErr := a.st.appendBinary(a.scratch[:0]); mErr == nil {
			a.scratch = cur
			_ = a.store.Store(cur) // its failure leaves the storage as the first left it
		}
		return err
	}
	a.st = next
	return nil
}

func (a *Applet) selectLocked(cmd simcard.Command) ([]byte, uint16) {
	if cmd.P1 != simcard.SelectByName || (cmd.P2 != simcard.SelectFCI && cmd.P2 != simcard.SelectNoData) {
		return nil, simcard.SWWrongP1P2
	}
	if !bytes.Equal(cmd.Data, simcard.AID) {
		return nil, simcard.SWFileNotFound
	}
	a.selected, a.verified = true, false
	if cmd.P2 == simcard.SelectNoData {
		return nil, simcard.SWSuccess
	}
	return a.fciLocked(), simcard.SWSuccess
}

// fciLocked returns the FCI template:
// 6F L | 84 07 AID | A5 06 | 80 01 version | 81 01 life cycle.
func (a *Applet) fciLocked() []byte {
	prop := []byte{0xA5, 6, 0x80, 1, Version, 0x81, 1, a.st.Life}
	b := []byte{0x6F, byte(2 + len(simcard.AID) + len(prop)), 0x84, byte(len(simcard.AID))}
	b = append(b, simcard.AID...)
	return append(b, prop...)
}

// Version is the applet version reported in the FCI (tag 80 of A5).
const Version = simcard.AppletVersion
