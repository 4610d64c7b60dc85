package simcard

import (
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/internal/nilptr"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Transmitter carries one command APDU to a card and returns its response
// APDU (data and status word), as a PC/SC reader, Android's Open Mobile API
// or an in-process applet does. A Transmitter reports an error only when the
// exchange itself failed; every status word is a response.
type Transmitter interface {
	Transmit(command []byte) ([]byte, error)
}

// ErrNoTransmitter is returned by every method of a Card made without a
// Transmitter, or with one that is a nil pointer, of the zero Card and of a
// nil *Card, before anything else is checked.
var ErrNoTransmitter = errors.New("simcard: no transmitter")

// ErrFormat is returned, before anything is sent, for a PIN or PUK of the
// wrong format: a PIN has 4 to 12 decimal digits, a PUK exactly 8.
var ErrFormat = errors.New("simcard: PIN or PUK of the wrong format")

// Card is the phone's view of a CA-SIM: it turns APDUs into Go methods. It
// sends short APDUs only, chains long command data (ISO/IEC 7816-4 command
// chaining) and collects long answers with GET RESPONSE, so it works through
// any reader. After an exchange that failed in the middle of a chain (the
// Transmitter's error, an answer that cannot be read, or a link answered
// with a status word that is neither 9000 nor an error, or with 9000 and
// data), the next one first sends a GET RESPONSE, whose answer counts for
// nothing, to end the chain the card may still hold, on the chain's logical
// channel.
//
// Methods fail with a *StatusError for a status word other than 9000 (match
// it with errors.Is against ErrWrongPIN, ErrPINBlocked, ErrPINRequired …),
// with ErrResponse for an answer that cannot be read, or with the error of the
// Transmitter. Every method of a nil *Card, of the zero Card and of a Card
// made without a Transmitter fails with ErrNoTransmitter, whatever its
// arguments: that is checked before they are. A Card is safe for concurrent
// use: each method has the card to itself from its first APDU to its last
// (a chain, GET RESPONSE, the GET DATA of Chain and Signer, the whole of
// Personalise), so no other method's APDUs come between them; a method
// called meanwhile waits. What the card keeps between two calls (the
// selection, a verified PIN) is shared by every goroutine using the Card.
// Select must come first after a reset.
type Card struct {
	mu sync.Mutex
	t  Transmitter
	// chainLeft: an exchange failed in the middle of a command chain,
	// which the card may still hold (sendLocked ends it), on the logical
	// channel of CLA chainCLA.
	chainLeft bool
	chainCLA  byte
}

// New returns a Card that talks through t. Without one (t nil, a nil
// pointer such as a nil *applet.Applet, or the zero Card), every exchange
// fails with ErrNoTransmitter.
func New(t Transmitter) *Card {
	if nilptr.Is(t) {
		return &Card{}
	}
	return &Card{t: t}
}

// ready returns ErrNoTransmitter for a card that has none (a nil *Card
// too): every method checks it before its arguments.
func (c *Card) ready() error {
	if c == nil || c.t == nil {
		return ErrNoTransmitter
	}
	return nil
}

// maxResponse bounds what Exchange collects through GET RESPONSE.
const maxResponse = 1 << 16

// Exchange sends cmd, in a chain of short commands when its data exceeds 255
// octets, and returns the response data, following 61xx with GET RESPONSE. A
// 6Cxx (wrong Le) answering the command or a GET RESPONSE has it sent again
// once with the Le the card asked for (the command with its whole chain); a
// second 6Cxx is the answer. Only cmd.Extended false is supported, with Ne
// up to 256, and a CLA without the chaining bit (ClassChaining), which
// Exchange sets on the links it sends: a link sent alone would leave its
// chain open on the card (ErrAPDU otherwise, before anything is sent, a
// chain's first link included). Ne bounds only the card's first answer: the
// octets it announces beyond with 61xx are collected too, so the data
// returned may be longer than Ne. GET RESPONSE goes on the logical channel
// of cmd (getResponseClass). A status word other than 9000 is a
// *StatusError, whose Ins is InsGetResponse when it answered a GET RESPONSE.
// A link of a chain answered with an error (SW1 64 to 6F) ends the exchange
// with its *StatusError, Ins that of cmd; one answered with another status
// word but 9000 (61xx, a warning 62xx or 63xx) ends it with ErrResponse and
// that *StatusError, and one answered with 9000 and data, which a link sent
// without Le has none of, with ErrResponse; the chain, which the card may
// still hold, is then ended by the next exchange (see Card). An answer with
// 9000 or 61xx carries at most the Ne octets its command asked for (00:
// 256), none to a command without Le, and exactly Ne to a GET RESPONSE,
// which asks for the octets that the 61xx before it announced (00: 256), and
// to a command or GET RESPONSE sent again with the Le of a 6Cxx: one with
// more octets, or there fewer (none included), is ErrResponse, none of it
// used, as are answers beyond 65536 octets in all (a 61xx once 65536 are
// held, no GET RESPONSE sent for it). The octets that a 61xx
// counts (xx not 00, fewer than 256) are the last, and so are those that
// a 6Cxx answering a GET RESPONSE after 6100 asks for: a further 61yy that
// does not count those still left (after a 6Cxx that asked for fewer; none
// once they have come, 6100 included) is ErrResponse, no GET RESPONSE sent
// after it, and so is the answer (9000 or 61yy) to a GET RESPONSE sent
// again with the Le of a 6Cxx that asked for more than were left. So an
// answer takes, however the card answers, at most 256 GET RESPONSEs of
// 256 octets and, for its last octets, either a GET RESPONSE answered
// with 6Cxx after 6100 and the same sent again, or, for the octets a 61xx
// counts (fewer than 256), at most two GET RESPONSEs an octet (one that a
// 6Cxx asking for fewer answers, and the same sent again).
func (c *Card) Exchange(cmd Command) ([]byte, error) {
	return hold(c, func() ([]byte, error) { return c.exchangeLocked(cmd) })
}

// hold checks that c has a Transmitter and returns what f returns, f run
// with c.mu held: the APDUs that f exchanges, through exchangeLocked and the
// other …Locked methods, reach the card with no other method's between
// them.
func hold[T any](c *Card, f func() (T, error)) (T, error) {
	if err := c.ready(); err != nil {
		var zero T
		return zero, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return f()
}

func (c *Card) exchangeLocked(cmd Command) ([]byte, error) {
	if cmd.Extended {
		return nil, fmt.Errorf("%w: Card sends short APDUs only", ErrAPDU)
	}
	if cmd.CLA&ClassChaining != 0 {
		return nil, fmt.Errorf("%w: Card chains the data itself (CLA %02X)", ErrAPDU, cmd.CLA)
	}
	// Every link of a chain and its last command have at most 255 octets
	// of data: one that cannot be encoded (an Ne over 256) is refused
	// before any link is sent.
	last := cmd
	last.Data = cmd.Data[:min(len(cmd.Data), 255)]
	if err := last.fits(); err != nil {
		return nil, err
	}
	r, _, err := exactLe(cmd, c.sendLocked, false) // a chain is sent again whole
	if err != nil {
		return nil, err
	}
	out, ins := r.Data, cmd.INS // ins: the instruction the status word r.SW answers
	left := -1                  // the octets that a 61xx (xx not 00) or a 6Cxx counted still to come; -1 before one
	for r.SW>>8 == SWBytesRemaining>>8 && len(out) < maxResponse {
		gr := Command{CLA: getResponseClass(cmd.CLA), INS: InsGetResponse, Ne: shortLe(byte(r.SW))}
		if left >= 0 && gr.Ne != left {
			return nil, fmt.Errorf("%w: instruction %02X answered %04X where %d octets were left of those a 61xx or 6Cxx counted",
				ErrResponse, ins, r.SW, left)
		}
		if byte(r.SW) != 0 {
			left = gr.Ne
		}
		ins = gr.INS
		var again bool
		if r, again, err = exactLe(gr, c.roundTrip, true); err != nil {
			return nil, err
		}
		if left < 0 && again {
			// A 6Cxx after 6100: xx is the exact number of octets left
			// (ISO/IEC 7816-4), all of them this GET RESPONSE's (with
			// 9000 or 61xx, exactly xx: checkLength), so that a card
			// answering 6C01 to each cannot have Exchange ask for 65536
			// octets one at a time.
			left = len(r.Data)
		}
		if left >= 0 && (r.SW == SWSuccess || r.SW>>8 == SWBytesRemaining>>8) {
			if len(r.Data) > left { // after a 6Cxx that asked for more
				return nil, fmt.Errorf("%w: GET RESPONSE answered %d octets and %04X where %d were left of those a 61xx or 6Cxx counted",
					ErrResponse, len(r.Data), r.SW, left)
			}
			left -= len(r.Data)
		}
		out = append(out, r.Data...)
	}
	// An answer of maxResponse octets that a 61xx says goes on is longer
	// than that whatever follows: no GET RESPONSE is sent for it.
	if len(out) > maxResponse || r.SW>>8 == SWBytesRemaining>>8 {
		return nil, fmt.Errorf("%w: response longer than %d octets", ErrResponse, maxResponse)
	}
	if r.SW != SWSuccess {
		return nil, &StatusError{SW: r.SW, Ins: ins}
	}
	return out, nil
}

// exactLe sends cmd with send and, when the card answers 6Cxx (wrong Le,
// xx the exact one, ISO/IEC 7816-4 §5.1.3), sends it once more with that
// Le, and reports whether it did; a second 6Cxx is the answer. The
// answer must fit the Le it answers (see checkLength): at most cmd.Ne
// octets, or exactly when exact is set (a GET RESPONSE) and always after
// 6Cxx; one that does not is ErrResponse, none of its octets used.
func exactLe(cmd Command, send func(Command) (Response, error), exact bool) (Response, bool, error) {
	r, err := send(cmd)
	again := err == nil && r.SW>>8 == 0x6C
	if again {
		cmd.Ne, exact = shortLe(byte(r.SW)), true
		r, err = send(cmd)
	}
	if err == nil {
		err = checkLength(cmd, r, exact)
	}
	if err != nil {
		return Response{}, false, err
	}
	return r, again, nil
}

// checkLength returns ErrResponse when r, answering cmd with 9000 or 61xx,
// carries more octets than cmd.Ne (ISO/IEC 7816-4: the card returns at most
// Ne, none to a command without Le) or, when exact, fewer: the Le of a GET
// RESPONSE is the number of octets the 61xx before it announced (00: 256),
// and that of a command sent again after 6Cxx the xx the card asked for. So
// an answer cut short and ended with 9000 never passes for a whole one, and
// a GET RESPONSE answered with none and 61xx cannot have Exchange ask again
// forever. Another status word's octets are never used.
func checkLength(cmd Command, r Response, exact bool) error {
	if r.SW != SWSuccess && r.SW>>8 != SWBytesRemaining>>8 {
		return nil
	}
	if len(r.Data) > cmd.Ne || (exact && len(r.Data) != cmd.Ne) {
		return fmt.Errorf("%w: instruction %02X answered %d octets and %04X where its Le asked for %d",
			ErrResponse, cmd.INS, len(r.Data), r.SW, cmd.Ne)
	}
	return nil
}

// getResponseClass returns the CLA of a GET RESPONSE on the logical
// channel of a command of class cla (ISO/IEC 7816-4): its channel
// bits, without secure messaging, in the first interindustry coding
// (channels 0 to 3, CLA 00 to 03) or the further one (4 to 19, CLA 40 to
// 4F), as bit 7 of cla codes them; a proprietary class (bit 8) is read as
// GlobalPlatform codes it, with the same bits.
func getResponseClass(cla byte) byte {
	if cla&0x40 == 0 {
		return cla & 0x03
	}
	return 0x40 | cla&0x0F
}

// endChain returns what sendLocked sends to end a chain of class cla that
// a failed exchange may have left on the card: a GET RESPONSE on the
// chain's logical channel, whose header no chain has.
func endChain(cla byte) Command {
	return Command{CLA: getResponseClass(cla), INS: InsGetResponse, Ne: 256}
}

// sendLocked sends cmd, its data in a chain of links of 255 octets when
// longer, and returns the answer to the last link.
//
// When the exchange of a link, the last one included, fails (the
// Transmitter's error, or an answer that does not parse), or a link that is
// not the last is answered with a status word that is neither 9000 nor an
// error (aborted), or with 9000 and data, which a link sent without Le has
// none of (ErrResponse), the card may hold the links it got as a chain still
// open, and would answer the next command on its logical channel 6883
// whatever it is, or take it as the chain's next link. So the next
// sendLocked first sends endChain on that channel, which ends that chain
// (6883) or finds none, whatever it answers; only when that exchange fails
// too does it return its error, sending nothing else, and the one after
// tries again.
func (c *Card) sendLocked(cmd Command) (Response, error) {
	if c.chainLeft {
		if _, err := c.roundTrip(endChain(c.chainCLA)); err != nil && !errors.Is(err, ErrResponse) {
			return Response{}, err
		}
		c.chainLeft = false
	}
	data := cmd.Data
	chained := len(data) > 255
	for len(data) > 255 {
		link := Command{CLA: cmd.CLA | ClassChaining, INS: cmd.INS, P1: cmd.P1, P2: cmd.P2, Data: data[:255]}
		r, err := c.roundTrip(link)
		if err != nil {
			c.chainLeft, c.chainCLA = true, cmd.CLA
			return Response{}, err
		}
		if r.SW == SWSuccess && len(r.Data) > 0 {
			// The card took the link, and answered data it was not
			// asked for: a link goes without Le (checkLength).
			c.chainLeft, c.chainCLA = true, cmd.CLA
			return Response{}, checkLength(link, r, false)
		}
		if r.SW != SWSuccess {
			se := &StatusError{SW: r.SW, Ins: cmd.INS}
			if aborted(r.SW) {
				return Response{}, se
			}
			c.chainLeft, c.chainCLA = true, cmd.CLA
			return Response{}, fmt.Errorf("%w: a link of the chain answered: %w", ErrResponse, se)
		}
		data = data[255:]
	}
	cmd.Data = data
	r, err := c.roundTrip(cmd)
	c.chainLeft, c.chainCLA = chained && err != nil, cmd.CLA
	return r, err
}

// aborted reports whether sw, answering a link of a command chain, is an
// error of ISO/IEC 7816-4 (SW1 64 to 6F: execution and checking errors),
// with which the card refuses the link and drops the chain. Any other
// status word but 9000 (61xx, a warning 62xx or 63xx, which ISO/IEC 7816-4
// does not allow answering a link that is not the last, or one outside
// ISO's classes) tells no such thing: the card may hold the chain still.
func aborted(sw uint16) bool { return sw>>8 >= 0x64 && sw>>8 <= 0x6F }

// roundTrip sends one APDU and returns the card's answer. hold, the only
// way in, has checked that c has a Transmitter.
func (c *Card) roundTrip(cmd Command) (Response, error) {
	b, err := cmd.MarshalBinary()
	if err != nil {
		return Response{}, err
	}
	raw, err := c.t.Transmit(b)
	if err != nil {
		return Response{}, fmt.Errorf("simcard: transmit: %w", err)
	}
	r, err := ParseResponse(raw)
	if err != nil {
		return Response{}, fmt.Errorf("%w: %v", ErrResponse, err)
	}
	r.Data = append([]byte(nil), r.Data...)
	return r, nil
}

// Select selects the CA-SIM applet by its AID and returns its life-cycle
// state (LifePersonalisation or LifeOperational) from the FCI. It clears the
// PIN verification. A card without the applet answers ErrNotFound. An FCI
// other than PROTOCOL.md §2.3's (another applet version, another life-cycle
// state, a data object more or less) is ErrResponse.
func (c *Card) Select() (byte, error) { return hold(c, c.selectLocked) }

func (c *Card) selectLocked() (byte, error) {
	fci, err := c.exchangeLocked(Command{CLA: ClassISO, INS: InsSelect, P1: SelectByName, P2: SelectFCI, Data: AID, Ne: 256})
	if err != nil {
		return 0, err
	}
	// 6F L 84 07 AID A5 06 80 01 ver 81 01 life, and nothing else
	s := cryptobyte.String(fci)
	var fcp, name, prop cryptobyte.String
	var version, life []byte
	if !s.ReadASN1(&fcp, cbasn1.Tag(0x6F)) || !s.Empty() ||
		!fcp.ReadASN1(&name, cbasn1.Tag(0x84)) || string(name) != string(AID) ||
		!fcp.ReadASN1(&prop, cbasn1.Tag(0xA5)) || !fcp.Empty() ||
		!prop.ReadASN1Bytes(&version, cbasn1.Tag(0x80)) || len(version) != 1 || version[0] != AppletVersion ||
		!prop.ReadASN1Bytes(&life, cbasn1.Tag(0x81)) || !prop.Empty() || len(life) != 1 ||
		(life[0] != LifePersonalisation && life[0] != LifeOperational) {
		return 0, fmt.Errorf("%w: FCI % X", ErrResponse, fci)
	}
	return life[0], nil
}

// GetData returns the data object tag (a Tag… constant). A missing object
// is ErrNotFound. The card answers 6A88 for an object it does not hold,
// never 9000 without data: such an answer is ErrResponse.
func (c *Card) GetData(tag uint16) ([]byte, error) {
	return hold(c, func() ([]byte, error) { return c.getDataLocked(tag) })
}

func (c *Card) getDataLocked(tag uint16) ([]byte, error) {
	b, err := c.exchangeLocked(Command{CLA: ClassISO, INS: InsGetData, P1: byte(tag >> 8), P2: byte(tag), Ne: 256})
	if err == nil && len(b) == 0 {
		return nil, fmt.Errorf("%w: data object %04X answered without data", ErrResponse, tag)
	}
	return b, err
}

// getHeldLocked returns the data object tag, or nil when the card answers
// GET DATA itself that it holds none: 6A88 (PROTOCOL.md §2.4). Another
// status word matching ErrNotFound, 6A82 (file or application not found),
// says no such thing and is an error, as is 6A88 answering a GET RESPONSE
// that collects the object's octets after 61xx: the card announced the
// object, of which only a part came.
func (c *Card) getHeldLocked(tag uint16) ([]byte, error) {
	b, err := c.getDataLocked(tag)
	var se *StatusError
	if errors.As(err, &se) && se.Ins == InsGetData && se.SW == SWDataNotFound {
		return nil, nil
	}
	return b, err
}

// ICCID returns the card ID, checked to be a valid ICCID.
func (c *Card) ICCID() (string, error) { return hold(c, c.iccidLocked) }

func (c *Card) iccidLocked() (string, error) {
	b, err := c.getDataLocked(TagICCID)
	if err != nil {
		return "", err
	}
	if pki.ValidICCID(string(b)) != nil {
		return "", fmt.Errorf("%w: ICCID %q", ErrResponse, b)
	}
	return string(b), nil
}

// Certificate returns the card's certificate in DER. An answer without
// data is ErrResponse (see GetData).
func (c *Card) Certificate() ([]byte, error) { return c.GetData(TagCertificate) }

// Chain returns the card's certificate followed by the certificates of its
// issuers (root excluded), nearest first, in DER: what the card presents to
// the cloud. A card that holds no issuer chain (a root certifies it
// directly), as it answers GET DATA with 6A88, presents its certificate
// alone; any other status word answering that GET DATA, 6A82 included
// (which matches ErrNotFound too), is a *StatusError naming it and
// InsGetData, and one answering a GET RESPONSE after the 61xx of either GET
// DATA, 6A88 included, a *StatusError naming it and InsGetResponse. A
// certificate or an issuer chain answered without data (9000 alone), a
// certificate that is not one DER SEQUENCE alone, or an issuer chain that
// does not split into DER SEQUENCEs, is ErrResponse, never a chain without
// them.
func (c *Card) Chain() ([][]byte, error) { return hold(c, c.chainLocked) }

func (c *Card) chainLocked() ([][]byte, error) {
	cert, err := c.getDataLocked(TagCertificate)
	if err != nil {
		return nil, err
	}
	chain, ok := appendDER(nil, cert)
	if !ok || len(chain) != 1 {
		return nil, fmt.Errorf("%w: card certificate", ErrResponse)
	}
	issuers, err := c.getHeldLocked(TagChain)
	if err != nil {
		return nil, err
	}
	if chain, ok = appendDER(chain, issuers); !ok {
		return nil, fmt.Errorf("%w: issuer certificates", ErrResponse)
	}
	return chain, nil
}

// appendDER appends to chain the DER SEQUENCEs that b holds back to back,
// and reports whether b is made of them alone.
func appendDER(chain [][]byte, b []byte) ([][]byte, bool) {
	s := cryptobyte.String(b)
	for !s.Empty() {
		var der cryptobyte.String
		if !s.ReadASN1Element(&der, cbasn1.SEQUENCE) {
			return chain, false
		}
		chain = append(chain, []byte(der))
	}
	return chain, true
}

// PublicKey returns the card's ECDSA P-256 public key.
func (c *Card) PublicKey() (*ecdsa.PublicKey, error) { return hold(c, c.publicKeyLocked) }

func (c *Card) publicKeyLocked() (*ecdsa.PublicKey, error) {
	b, err := c.getDataLocked(TagPublicKey)
	if err != nil {
		return nil, err
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic256, b)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrResponse, err)
	}
	return pub, nil
}

// Counter returns the card's signature counter: the last counter it used,
// that of the last record it signed or of a later SIGN RECORD whose signing
// failed (ErrCardFailure) and which signed nothing; 0 before the first.
func (c *Card) Counter() (uint64, error) {
	b, err := c.GetData(TagCounter)
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: counter of %d octets", ErrResponse, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// PINTries returns the PIN tries left (0 when blocked) and the tries a fresh
// PIN has. An answer with more tries left than allowed, or tries allowed
// outside 1 to MaxTries, is ErrResponse. A card in personalisation that
// holds no PIN yet answers ErrNotFound (6A88).
func (c *Card) PINTries() (left, max int, err error) { return c.tries(TagPINStatus) }

// PUKTries returns the PUK tries left (0 when blocked) and the tries a fresh
// PUK has (see PINTries); ErrNotFound before the PUK is set.
func (c *Card) PUKTries() (left, max int, err error) { return c.tries(TagPUKStatus) }

func (c *Card) tries(tag uint16) (int, int, error) {
	b, err := c.GetData(tag)
	if err != nil {
		return 0, 0, err
	}
	if len(b) != 2 || b[1] == 0 || b[1] > MaxTries || b[0] > b[1] {
		return 0, 0, fmt.Errorf("%w: tries % X", ErrResponse, b)
	}
	return int(b[0]), int(b[1]), nil
}

// VerifyPIN presents the PIN. A wrong PIN is a *StatusError matching
// ErrWrongPIN whose TriesLeft says what remains; a blocked PIN matches
// ErrPINBlocked, even when pin is right.
func (c *Card) VerifyPIN(pin string) error {
	if err := c.ready(); err != nil {
		return err
	}
	if !ValidPIN(pin) {
		return ErrFormat
	}
	_, err := c.Exchange(Command{CLA: ClassISO, INS: InsVerify, P2: RefPIN, Data: []byte(pin)})
	return err
}

// PINVerified reports whether the PIN is verified now (VERIFY without data).
// A blocked PIN matches ErrPINBlocked.
func (c *Card) PINVerified() (bool, error) {
	_, err := c.Exchange(Command{CLA: ClassISO, INS: InsVerify, P2: RefPIN})
	var se *StatusError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &se) && errors.Is(se, ErrWrongPIN):
		return false, nil
	}
	return false, err
}

// ChangePIN replaces the PIN, presenting the current one (with the same
// tries and errors as VerifyPIN). The PIN is verified afterwards.
func (c *Card) ChangePIN(oldPIN, newPIN string) error {
	if err := c.ready(); err != nil {
		return err
	}
	if !ValidPIN(oldPIN) || !ValidPIN(newPIN) {
		return ErrFormat
	}
	data := append(PadPIN(oldPIN), newPIN...)
	_, err := c.Exchange(Command{CLA: ClassISO, INS: InsChangeReference, P2: RefPIN, Data: data})
	return err
}

// Unblock presents the PUK, which restores the PIN tries, and sets newPIN
// as the PIN; an empty newPIN keeps the PIN. A wrong PUK matches ErrWrongPUK,
// a blocked one ErrPUKBlocked. The PIN is not verified afterwards.
func (c *Card) Unblock(puk, newPIN string) error {
	if err := c.ready(); err != nil {
		return err
	}
	if !ValidPUK(puk) || (newPIN != "" && !ValidPIN(newPIN)) {
		return ErrFormat
	}
	p1 := ResetWithNewPIN
	if newPIN == "" {
		p1 = ResetKeepPIN
	}
	_, err := c.Exchange(Command{CLA: ClassISO, INS: InsResetRetryCounter, P1: p1, P2: RefPIN, Data: []byte(puk + newPIN)})
	return err
}

// Advert returns the 31-octet advert the card broadcasts in epoch (see
// adv.Epoch) for role, with flags: its EID for that epoch, computed on the
// card from its advertising secret. A role other than adv.Shopper and
// adv.Seller is an error matching adv.ErrRole, and flags that this version
// does not define (outside adv.DefinedFlags) one matching adv.ErrFlags,
// before anything is sent: the card would answer 6A86.
func (c *Card) Advert(epoch uint32, role adv.Role, flags adv.Flags) ([]byte, error) {
	if err := c.ready(); err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, fmt.Errorf("simcard: advert for %v: %w", role, adv.ErrRole)
	}
	if flags&^adv.DefinedFlags != 0 {
		return nil, fmt.Errorf("simcard: advert with flags %#02x: %w", uint8(flags), adv.ErrFlags)
	}
	b, err := c.Exchange(Command{CLA: ClassProprietary, INS: InsAdvert, P1: byte(role), P2: byte(flags),
		Data: binary.BigEndian.AppendUint32(nil, epoch), Ne: adv.Size})
	if err != nil {
		return nil, err
	}
	if len(b) != adv.Size {
		return nil, fmt.Errorf("%w: advert of %d octets", ErrResponse, len(b))
	}
	return b, nil
}

// SignAuthProof has the card sign an authentication proof built from p,
// whose card header must be empty: the card adds its ICCID and its next
// counter. It returns the COSE_Sign1 message (record.Verify reads it; p is
// not modified, record.Open tells the counter). A nil record is an error
// matching record.ErrType, and a record with invalid fields one matching
// record.ErrMalformed, before anything is sent; so is one whose message,
// even without its card header, would be longer than record.MaxMessage,
// which matches ErrRefused too. One with a card header, or whose card
// header alone takes its message over, is refused by the card
// (ErrRefused).
func (c *Card) SignAuthProof(p *record.AuthProof) ([]byte, error) { return c.signRecord(p) }

// SignPaymentRequest has the card sign a payment request (see SignAuthProof).
func (c *Card) SignPaymentRequest(r *record.PaymentRequest) ([]byte, error) { return c.signRecord(r) }

// SignConsent has the card sign a consent (see SignAuthProof). The PIN must
// have been verified, and the verification not cleared since, or the card
// answers ErrPINRequired: each consent uses it up, and a reset, SELECT, a
// VerifyPIN or ChangePIN with a wrong or blocked PIN and any Unblock sent
// to the card, its PUK right or wrong, clear it (PROTOCOL.md §2.5).
func (c *Card) SignConsent(r *record.Consent) ([]byte, error) { return c.signRecord(r) }

// SignRefundRequest has the card sign a refund request (see SignAuthProof).
func (c *Card) SignRefundRequest(r *record.RefundRequest) ([]byte, error) { return c.signRecord(r) }

// signRecord sends the fields of r, once record.Marshal has checked them
// (a nil r or invalid fields are its error); the card refuses (ErrRefused)
// a record whose card header is set. A record too large to sign without
// its card header is not sent: its payload may also exceed what the card
// takes as command data, which a link of the chain would answer with
// 6700.
func (c *Card) signRecord(r record.CardRecord) ([]byte, error) {
	if err := c.ready(); err != nil {
		return nil, err
	}
	payload, err := record.Marshal(r)
	if err != nil {
		return nil, err
	}
	if err := record.CheckMessageSize(r.Type(), payload); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return c.Exchange(Command{CLA: ClassProprietary, INS: InsSignRecord, P1: byte(r.Type()), Data: payload, Ne: 256})
}

// Authenticate has the card sign challenge (MinChallenge to MaxChallenge
// octets, 8 to 64) inside the domain-separated message
// ChallengeMessage(iccid, challenge), and returns the ASN.1 DER ECDSA
// signature; VerifyChallenge checks it. Nothing the phone sends is ever
// signed as it is. A challenge of another length is ErrRefused, before
// anything is sent: the card would refuse it (6A80), and no short APDU
// carries one over 255 octets (INTERNAL AUTHENTICATE takes no chain).
func (c *Card) Authenticate(challenge []byte) ([]byte, error) {
	if err := c.ready(); err != nil {
		return nil, err
	}
	if len(challenge) < MinChallenge || len(challenge) > MaxChallenge {
		return nil, fmt.Errorf("%w: challenge of %d octets", ErrRefused, len(challenge))
	}
	return c.Exchange(Command{CLA: ClassISO, INS: InsInternalAuth, Data: challenge, Ne: 256})
}
