package applet

import (
	"crypto/ecdsa"
	"errors"
	"io"
	"math/big"

	"github.com/casimpay/casimpay/internal/cborhead"
	"github.com/casimpay/casimpay/pki/record"
)

// The card writes the COSE_Sign1 envelope of PROTOCOL.md §3 itself, as a
// card's firmware would, instead of through a general COSE library: the
// envelope is fixed (ES256, one content type per record type), so it is a
// few appends, and the card's signing time stays close to the bare ECDSA
// signature. Every test checks its output with record.Verify.
//
//	protected     = A2 01 26 03 <tstr content type>      {1: -7, 3: ct}
//	Sig_structure = 84 6A "Signature1" <bstr protected> 40 <bstr payload>
//	message       = D2 84 <bstr protected> A0 <bstr payload> 58 40 <r || s>, s ≤ n/2

var errEnvelope = errors.New("applet: record too large for its envelope")

// envelope returns the protected header of a record of type t, or
// errEnvelope when the card does not sign that type or the message of
// payload would be longer than record.MaxMessage. SIGN RECORD asks it before
// it uses a counter, and signs with the header it returns.
func envelope(t record.Type, payload []byte) ([]byte, error) {
	prot := record.ProtectedHeader(t)
	if prot == nil || t == record.TypeReceipt { // a card signs no receipt
		return nil, errEnvelope
	}
	if record.MessageSize(t, payload) > record.MaxMessage {
		return nil, errEnvelope
	}
	return prot, nil
}

// signEnvelope signs payload, the deterministic encoding of a record with
// its card header, under prot, the protected header that envelope returned
// for them, with sign (ecdsa.Sign), and returns the tagged COSE_Sign1
// message.
func signEnvelope(sign func(io.Reader, *ecdsa.PrivateKey, []byte) (r, s *big.Int, err error),
	rand io.Reader, key *ecdsa.PrivateKey, prot, payload []byte) ([]byte, error) {
	digest := record.SigStructureDigest(prot, payload)
	r, s, err := sign(rand, key, digest[:])
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 0, 8+len(prot)+len(payload)+66)
	msg = append(msg, 0xD2, 0x84)
	msg = cborhead.Append(msg, cborhead.Bytes, len(prot))
	msg = append(msg, prot...)
	msg = append(msg, 0xA0)
	msg = cborhead.Append(msg, cborhead.Bytes, len(payload))
	msg = append(msg, payload...)
	msg = append(msg, 0x58, 0x40)
	var rs [64]byte
	r.FillBytes(rs[:32])
	s.FillBytes(rs[32:])
	record.LowS(rs[:]) // the one form of the signature that record.Verify accepts
	return append(msg, rs[:]...), nil
}
