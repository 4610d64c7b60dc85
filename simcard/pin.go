package simcard

import "github.com/casimpay/casimpay/internal/ascii"

// ValidPIN reports whether pin has the PIN format: 4 to 12 ASCII decimal
// digits. The card checks the PIN it receives with it too.
func ValidPIN[T ~string | ~[]byte](pin T) bool {
	return len(pin) >= MinPIN && len(pin) <= MaxPIN && ascii.Digits(pin)
}

// ValidPUK reports whether puk has the PUK format: exactly 8 ASCII decimal
// digits.
func ValidPUK[T ~string | ~[]byte](puk T) bool {
	return len(puk) == PUKLength && ascii.Digits(puk)
}

// PadPIN returns pin padded with FF octets to 12 octets: the form of the
// current PIN in CHANGE REFERENCE DATA, which UnpadPIN reads back. A pin
// that is not a PIN (ValidPIN) returns nil: one over 12 octets would be
// cut to another PIN, and any other would be padded into what UnpadPIN,
// and the card, refuse.
func PadPIN(pin string) []byte {
	if !ValidPIN(pin) {
		return nil
	}
	b := make([]byte, MaxPIN)
	n := copy(b, pin)
	for i := n; i < MaxPIN; i++ {
		b[i] = 0xFF
	}
	return b
}

// UnpadPIN reverses PadPIN: b must be 12 octets, a valid PIN followed by FF
// octets only.
func UnpadPIN(b []byte) ([]byte, bool) {
	if len(b) != MaxPIN {
		return nil, false
	}
	n := 0
	for n < len(b) && b[n] != 0xFF {
		n++
	}
	for _, c := range b[n:] {
		if c != 0xFF {
			return nil, false
		}
	}
	if pin := b[:n]; ValidPIN(pin) {
		return pin, true
	}
	return nil, false
}
