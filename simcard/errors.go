package simcard

import (
	"errors"
	"fmt"
)

// Sentinel errors. A *StatusError matches the one its status word and
// instruction mean with errors.Is.
var (
	// ErrWrongPIN: VERIFY or CHANGE REFERENCE DATA with a wrong PIN (63Cx);
	// StatusError.TriesLeft says how many tries remain.
	ErrWrongPIN = errors.New("simcard: wrong PIN")
	// ErrPINBlocked: the PIN has no try left (6983 answering VERIFY or
	// CHANGE REFERENCE DATA); only the PUK (Unblock) restores it.
	ErrPINBlocked = errors.New("simcard: PIN blocked")
	// ErrWrongPUK: RESET RETRY COUNTER with a wrong PUK (63Cx).
	ErrWrongPUK = errors.New("simcard: wrong PUK")
	// ErrPUKBlocked: the PUK has no try left (6983 answering RESET RETRY
	// COUNTER): nothing can unblock the PIN any more. The PIN still works
	// while it has tries; once it is blocked too, the card can no longer
	// sign consents.
	ErrPUKBlocked = errors.New("simcard: PUK blocked")
	// ErrPINRequired: the instruction needs a verified PIN (6982 to any
	// instruction but GET DATA and GET RESPONSE).
	ErrPINRequired = errors.New("simcard: PIN not verified")
	// ErrNotReadable: the data object is no longer revealed (6982 to GET
	// DATA): the advertising secret after activation. No PIN changes that.
	ErrNotReadable = errors.New("simcard: data object not readable")
	// ErrConditions: the card's state does not allow the instruction (6985):
	// not selected, not personalised, already personalised, personalisation
	// incomplete, signature counter exhausted, or nothing to answer.
	ErrConditions = errors.New("simcard: conditions of use not satisfied")
	// ErrNotFound: the applet or the data object does not exist (6A82, 6A88).
	ErrNotFound = errors.New("simcard: not found")
	// ErrRefused: the card refused the command data (6A80): a record that
	// does not decode, carries a card header or would be signed into a
	// message over 8192 octets; a PIN or PUK of the wrong format; an invalid
	// ICCID, certificate or chain; a challenge of the wrong length. Card
	// refuses with it, before sending anything, a challenge of the wrong
	// length and a record too large to sign (Authenticate, SignAuthProof).
	ErrRefused = errors.New("simcard: command data refused")
	// ErrMemory: the card could not store its state (6581); the command had
	// no effect beyond what was already stored.
	ErrMemory = errors.New("simcard: memory failure")
	// ErrCardFailure: the card could not complete the instruction and gives
	// no precise diagnosis (6F00): its key generation or signing failed.
	// What it stored before the failure stays stored: a failed SIGN RECORD
	// has used up its counter, which no later record reuses.
	ErrCardFailure = errors.New("simcard: card failure")
	// ErrResponse: the card answered something this package cannot read.
	ErrResponse = errors.New("simcard: malformed response")
)

// StatusError is a status word other than 9000 (and 61xx, which Card
// follows with GET RESPONSE), with the instruction that received it.
type StatusError struct {
	// SW is SW1 SW2.
	SW uint16
	// Ins is the instruction of the command that received SW: the one sent,
	// or InsGetResponse when the card answered it with 61xx and then a GET
	// RESPONSE with SW. The command sent has then been carried out (a SIGN
	// RECORD has used its counter); only the rest of its answer is lost,
	// and SW is then about no PIN or PUK (see Is and TriesLeft).
	Ins byte
}

// Error implements error. A nil *StatusError names no status word.
func (e *StatusError) Error() string {
	if e == nil {
		return "simcard: no status word"
	}
	return fmt.Sprintf("simcard: instruction %02X: status word %04X", e.Ins, e.SW)
}

// TriesLeft returns the tries left that a 63Cx status word reports, and
// whether SW is one answering an instruction that presents the PIN or the
// PUK (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER). A 63Cx
// answering any other instruction, GET RESPONSE included, counts no tries
// of the PIN or PUK: TriesLeft reports false for it, as for a nil
// *StatusError.
func (e *StatusError) TriesLeft() (int, bool) {
	if e == nil || e.SW&0xFFF0 != SWWrongPINBase || !hasTries(e.Ins) {
		return 0, false
	}
	return int(e.SW & 0x0F), true
}

// hasTries reports whether ins presents the PIN or the PUK, whose tries a
// 63Cx answering it counts.
func hasTries(ins byte) bool {
	return ins == InsVerify || ins == InsChangeReference || ins == InsResetRetryCounter
}

// Is matches the sentinel errors of this package by status word and
// instruction. ErrWrongPIN and ErrPINBlocked match only a status word
// answering VERIFY or CHANGE REFERENCE DATA, ErrWrongPUK and ErrPUKBlocked
// one answering RESET RETRY COUNTER: the instructions that present the PIN
// or the PUK. A status word answering GET RESPONSE (Ins InsGetResponse)
// matches none of the PIN and PUK sentinels (those four and
// ErrPINRequired): the command it follows was carried out, and GET
// RESPONSE presents no PIN or PUK and needs none. A nil *StatusError
// matches none.
func (e *StatusError) Is(target error) bool {
	if e == nil {
		return false
	}
	puk := e.Ins == InsResetRetryCounter
	pin := !puk && hasTries(e.Ins)
	switch target {
	case ErrWrongPIN:
		return pin && e.SW&0xFFF0 == SWWrongPINBase
	case ErrWrongPUK:
		return puk && e.SW&0xFFF0 == SWWrongPINBase
	case ErrPINBlocked:
		return pin && e.SW == SWBlocked
	case ErrPUKBlocked:
		return puk && e.SW == SWBlocked
	case ErrPINRequired:
		return e.SW == SWSecurityStatus && e.Ins != InsGetData && e.Ins != InsGetResponse
	case ErrNotReadable:
		return e.SW == SWSecurityStatus && e.Ins == InsGetData
	case ErrConditions:
		return e.SW == SWConditions
	case ErrNotFound:
		return e.SW == SWFileNotFound || e.SW == SWDataNotFound
	case ErrRefused:
		return e.SW == SWWrongData
	case ErrMemory:
		return e.SW == SWMemoryFailure
	case ErrCardFailure:
		return e.SW == SWNoDiagnosis
	}
	return false
}
