package applet

import (
	"crypto/sha256"
	"encoding/binary"
	"math"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard"
)

// newRecord returns an empty card record of the type P1 names.
func newRecord(p1 byte) record.CardRecord {
	switch record.Type(p1) {
	case record.TypeAuthProof:
		return new(record.AuthProof)
	case record.TypePaymentRequest:
		return new(record.PaymentRequest)
	case record.TypeConsent:
		return new(record.Consent)
	case record.TypeRefundRequest:
		return new(record.RefundRequest)
	}
	return nil
}

// signRecordLocked is SIGN RECORD: the phone sends the fields of a card
// record (deterministic CBOR without the card header); the card decodes them
// strictly into the type P1 names, adds its ICCID and its next counter
// (stored first), signs, and returns the COSE_Sign1 message.
func (a *Applet) signRecordLocked(cmd simcard.Command) ([]byte, uint16) {
	r := newRecord(cmd.P1)
	if r == nil || cmd.P2 != 0 {
		return nil, simcard.SWWrongP1P2
	}
	if a.st.Life != simcard.LifeOperational {
		return nil, simcard.SWConditions
	}
	consent := r.Type() == record.TypeConsent
	if consent && !a.verified {
		return nil, simcard.SWSecurityStatus
	}
	if len(cmd.Data) == 0 {
		return nil, simcard.SWWrongLength
	}
	if record.Unmarshal(cmd.Data, r) != nil {
		return nil, simcard.SWWrongData
	}
	if h := r.Header(); h.CardID != "" || h.Counter != 0 {
		return nil, simcard.SWWrongData // the card, not the phone, fills these
	}
	if r.Validate() != nil {
		return nil, simcard.SWWrongData
	}
	if a.st.Counter == math.MaxUint64 {
		return nil, simcard.SWConditions
	}
	next := a.st
	next.Counter++
	// The record with its header, and its envelope, must fit before the
	// counter is used.
	*r.Header() = record.CardHeader{CardID: next.ICCID, Counter: next.Counter}
	p, err := record.Marshal(r)
	if err != nil {
		return nil, simcard.SWWrongData
	}
	prot, err := envelope(r.Type(), p)
	if err != nil {
		return nil, simcard.SWWrongData
	}
	if a.persistLocked(next) != nil {
		return nil, simcard.SWMemoryFailure
	}
	msg, err := signEnvelope(a.ops.sign, a.opts.Rand, a.key, prot, p)
	if err != nil {
		return nil, simcard.SWNoDiagnosis // the counter stays used
	}
	if consent {
		a.verified = false // one PIN verification, one consent
	}
	return msg, simcard.SWSuccess
}

// internalAuthLocked is INTERNAL AUTHENTICATE: the card signs a challenge of
// the phone inside a domain-separated message (simcard.ChallengeMessage), so
// that nothing the phone sends is ever signed as it is.
func (a *Applet) internalAuthLocked(cmd simcard.Command) ([]byte, uint16) {
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return nil, simcard.SWWrongP1P2
	}
	if a.st.Life != simcard.LifeOperational {
		return nil, simcard.SWConditions
	}
	if len(cmd.Data) < simcard.MinChallenge || len(cmd.Data) > simcard.MaxChallenge {
		return nil, simcard.SWWrongData
	}
	msg, err := simcard.ChallengeMessage(a.st.ICCID, cmd.Data)
	if err != nil {
		return nil, simcard.SWNoDiagnosis
	}
	digest := sha256.Sum256(msg)
	sig, err := a.ops.signASN1(a.opts.Rand, a.key, digest[:])
	if err != nil {
		return nil, simcard.SWNoDiagnosis
	}
	return sig, simcard.SWSuccess
}

// advertLocked is GET ADVERT: P1 the role, P2 the flags, data the epoch
// (uint32 big-endian); the answer is the 31-octet advert with the card's EID
// of that epoch.
func (a *Applet) advertLocked(cmd simcard.Command) ([]byte, uint16) {
	p := adv.Packet{Role: adv.Role(cmd.P1), Flags: adv.Flags(cmd.P2), TxPower: a.opts.TxPower}
	if !p.Role.Valid() || p.Flags&^adv.DefinedFlags != 0 {
		return nil, simcard.SWWrongP1P2
	}
	if a.st.Life != simcard.LifeOperational {
		return nil, simcard.SWConditions
	}
	if len(cmd.Data) != simcard.AdvertEpochSize {
		return nil, simcard.SWWrongLength
	}
	p.EID = a.eidKey.EID(binary.BigEndian.Uint32(cmd.Data))
	b, err := a.opts.Codec.AppendBinary(make([]byte, 0, adv.Size), p)
	if err != nil {
		return nil, simcard.SWWrongP1P2
	}
	return b, simcard.SWSuccess
}
