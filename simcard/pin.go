package simcard

// ValidPIN reports whether pin has the PIN format: 4 to 12 decimal digits.
func ValidPIN(pin string) bool {
	return len(pin) >= MinPIN && len(pin) <= MaxPIN && allDigits(pin)
}

// ValidPUK reports whether puk has the PUK format: exactly 8 decimal digits.
func ValidPUK(puk string) bool { return len(puk) == PUKLength && allDigits(puk) }

func allDigits[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// PadPIN returns pin padded with FF octets to 12 octets: the form of the
// current PIN in CHANGE REFERENCE DATA.
func PadPIN(pin string) []byte {
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
	pin := b[:n]
	if n < MinPIN || !allDigits(pin) {
		return nil, false
	}
	return pin, true
}
