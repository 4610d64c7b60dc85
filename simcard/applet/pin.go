package applet

import (
	"crypto/subtle"

	"github.com/casimpay/casimpay/simcard"
)

// PIN and PUK checks follow one order, so that cutting the power at any
// instant never gives a free try:
//
//  1. refuse at once (6983) when no try is left, even for the right value;
//  2. decrement the tries and store them; if the store fails, stop (6581);
//  3. compare in constant time;
//  4. on a match, restore the tries and store them, and only then succeed.

func wrongPIN(tries uint8) uint16 { return simcard.SWWrongPINBase | uint16(tries&0x0F) }

func (a *Applet) verifyLocked(cmd simcard.Command) ([]byte, uint16) {
	if cmd.P1 != 0 || cmd.P2 != simcard.RefPIN {
		return nil, simcard.SWWrongP1P2
	}
	if a.st.Life != simcard.LifeOperational {
		return nil, simcard.SWConditions
	}
	if len(cmd.Data) == 0 { // status query
		switch {
		case a.st.PINTries == 0:
			return nil, simcard.SWBlocked
		case a.verified:
			return nil, simcard.SWSuccess
		default:
			return nil, wrongPIN(a.st.PINTries)
		}
	}
	if !simcard.ValidPIN(cmd.Data) {
		return nil, simcard.SWWrongData
	}
	if code, ok := a.checkPINLocked(cmd.Data); !ok {
		return nil, code
	}
	a.verified = true
	return nil, simcard.SWSuccess
}

// checkPINLocked runs steps 1 to 4 for the PIN. On a match it returns ok and
// the tries are full again (stored); otherwise it returns the status word.
func (a *Applet) checkPINLocked(pin []byte) (uint16, bool) {
	if a.st.PINTries == 0 {
		return simcard.SWBlocked, false
	}
	next := a.st
	next.PINTries--
	if a.persistLocked(next) != nil {
		return simcard.SWMemoryFailure, false
	}
	if subtle.ConstantTimeCompare(secretHash(labelPIN, a.st.Salt, pin), a.st.PINHash) != 1 {
		return wrongPIN(a.st.PINTries), false
	}
	next = a.st
	next.PINTries = a.st.PINMax
	if a.persistLocked(next) != nil {
		return simcard.SWMemoryFailure, false
	}
	return simcard.SWSuccess, true
}

// changePINLocked is CHANGE REFERENCE DATA: the current PIN padded with FF
// to 12 octets, then the new PIN (4 to 12 digits, no padding). Once the
// data has the right format, only success leaves the PIN verified: a wrong
// or blocked current PIN, or a state that cannot be stored (6581), ends the
// verification.
func (a *Applet) changePINLocked(cmd simcard.Command) ([]byte, uint16) {
	if cmd.P1 != 0 || cmd.P2 != simcard.RefPIN {
		return nil, simcard.SWWrongP1P2
	}
	if a.st.Life != simcard.LifeOperational {
		return nil, simcard.SWConditions
	}
	old, ok := simcard.UnpadPIN(cmd.Data[:min(len(cmd.Data), simcard.MaxPIN)])
	if len(cmd.Data) <= simcard.MaxPIN || !ok {
		return nil, simcard.SWWrongData
	}
	newPIN := cmd.Data[simcard.MaxPIN:]
	if !simcard.ValidPIN(newPIN) {
		return nil, simcard.SWWrongData
	}
	a.verified = false
	if code, ok := a.checkPINLocked(old); !ok {
		return nil, code
	}
	next := a.st
	next.PINHash = secretHash(labelPIN, next.Salt, newPIN)
	if a.persistLocked(next) != nil {
		return nil, simcard.SWMemoryFailure
	}
	a.verified = true
	return nil, simcard.SWSuccess
}

// resetRetryLocked is RESET RETRY COUNTER: P1 00 with the PUK (8 digits)
// then a new PIN, or P1 01 with the PUK alone. A correct PUK restores the
// tries of both; the PIN is left unverified.
func (a *Applet) resetRetryLocked(cmd simcard.Command) ([]byte, uint16) {
	if (cmd.P1 != simcard.ResetWithNewPIN && cmd.P1 != simcard.ResetKeepPIN) || cmd.P2 != simcard.RefPIN {
		return nil, simcard.SWWrongP1P2
	}
	if a.st.Life != simcard.LifeOperational {
		return nil, simcard.SWConditions
	}
	var puk, newPIN []byte
	if cmd.P1 == simcard.ResetKeepPIN {
		puk = cmd.Data
	} else if len(cmd.Data) > simcard.PUKLength {
		puk, newPIN = cmd.Data[:simcard.PUKLength], cmd.Data[simcard.PUKLength:]
		if !simcard.ValidPIN(newPIN) {
			return nil, simcard.SWWrongData
		}
	}
	if !simcard.ValidPUK(puk) {
		return nil, simcard.SWWrongData
	}
	a.verified = false
	if a.st.PUKTries == 0 {
		return nil, simcard.SWBlocked
	}
	next := a.st
	next.PUKTries--
	if a.persistLocked(next) != nil {
		return nil, simcard.SWMemoryFailure
	}
	if subtle.ConstantTimeCompare(secretHash(labelPUK, a.st.Salt, puk), a.st.PUKHash) != 1 {
		return nil, wrongPIN(a.st.PUKTries)
	}
	next = a.st
	next.PUKTries = a.st.PUKMax
	next.PINTries = a.st.PINMax
	if newPIN != nil {
		next.PINHash = secretHash(labelPIN, next.Salt, newPIN)
	}
	if a.persistLocked(next) != nil {
		return nil, simcard.SWMemoryFailure
	}
	return nil, simcard.SWSuccess
}
