// Package record defines the signed records of the CA-SIM payment protocol and
// their envelope: a COSE_Sign1 message (RFC 9052, tag 18) signed with ES256
// over a payload of deterministic CBOR (RFC 8949 §4.2.1) with integer map
// keys.
//
// Four records are built and signed by a card, never by the phone it sits in:
//
//   - AuthProof: the card's answer to a platform challenge (nonce, both EIDs).
//   - PaymentRequest: the seller's request (items or amount, currency, parties).
//   - Consent: the shopper's approval, bound to the request hash, amount,
//     currency and payee (dynamic linking), signed only after PIN verification.
//   - RefundRequest: the seller's request to return part of a captured payment.
//
// Each of them starts with a CardHeader (the card's ICCID and its monotonic
// signature counter) that the card fills in itself. The platform signs one
// record, the Receipt, which both phones verify offline; it carries the
// platform's certificate chain in its protected header (x5chain, RFC 9360:
// SignReceipt, ReceiptChain, DecodeReceipt), so that a receipt verifies
// with the certificate of the key that signed it.
//
// The record type is carried in the protected COSE header as the content type
// (label 3), so a signature over one type can never be read as another.
// Signatures are in their low-S form (LowS): with the envelope and payload in
// their one encoding, a holder of a message cannot make another byte string
// of it that verifies. The package imports nothing else of casimpay but
// four small internal packages (cborhead, which writes CBOR heads; ascii;
// nilptr; ecdsakey): cards, verifiers and the platform all build and check
// records with it.
//
// Decoding is strict: duplicate map keys, unknown fields, indefinite lengths,
// tags inside payloads, non-deterministic encodings and oversized input are
// refused with an error matching ErrMalformed. Nothing decoded by Open may be
// trusted before Verify succeeds.
//
//	msg, err := record.Sign(rand.Reader, cardKey, &record.AuthProof{...})
//	var proof record.AuthProof
//	err = record.Verify(msg, cardPub, &proof)
package record
