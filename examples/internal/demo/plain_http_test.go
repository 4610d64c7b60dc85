package demo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/payflow"
)

// TestPhoneFlagsPlainHTTP: a phone program refuses a plain http -url whose
// host is not loopback with ErrUsage, wrapping the client's refusal
// (payflow.ErrInvalid) and naming -plain-http, which allows it; a loopback
// or https URL needs no flag, and -plain-http allows nothing else that
// the client refuses.
func TestPhoneFlagsPlainHTTP(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args    []string
		refused bool
		hint    bool // the refusal names -plain-http
	}{
		{[]string{"-url", "http://192.0.2.1:8080"}, true, true},
		{[]string{"-url", "http://cloud.example"}, true, true},
		{[]string{"-url", "http://192.0.2.1:8080", "-plain-http"}, false, false},
		{[]string{"-url", "http://cloud.example", "-plain-http"}, false, false},
		{[]string{"-url", "http://127.0.0.1:8080"}, false, false},
		{[]string{"-url", "http://[::1]:8080"}, false, false},
		{[]string{"-url", "http://localhost:8080"}, false, false},
		{[]string{"-url", "https://cloud.example"}, false, false},
		{[]string{"-url", "ftp://cloud.example", "-plain-http"}, true, false},
		{[]string{"-url", "ftp://cloud.example"}, true, false},
		{[]string{"-url", "http://cloud.example:0", "-plain-http"}, true, false},
	} {
		flags, err := parsePhoneFlags("seller", "Alice", append([]string{"-data", dir}, tt.args...))
		if !tt.refused {
			if err != nil {
				t.Errorf("%q: %v", tt.args, err)
			}
			continue
		}
		if !errors.Is(err, ErrUsage) || !errors.Is(err, payflow.ErrInvalid) || flags != nil {
			t.Errorf("%q: %v (flags %v), want ErrUsage and payflow.ErrInvalid", tt.args, err, flags)
			continue
		}
		if got := strings.HasSuffix(err.Error(), " (-plain-http allows it)"); got != tt.hint {
			t.Errorf("%q: %v names -plain-http: %v, want %v", tt.args, err, got, tt.hint)
		}
	}
}

// TestNewClientPlainHTTP: the phones' client of a cloud URL, that of
// cloud.url too, which parsePhoneFlags does not check, refuses a plain
// http URL whose host is not loopback without -plain-http, with an error
// matching payflow.ErrInvalid that names the flag, and takes it with it.
func TestNewClientPlainHTTP(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, URLFile), []byte("http://192.0.2.1:8080\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, plain := range []bool{false, true} {
		args := []string{"-data", dir}
		if plain {
			args = append(args, "-plain-http")
		}
		flags, err := parsePhoneFlags("shopper", "Corner Grocer", args)
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewClient(flags.url, flags.plainHTTP)
		switch {
		case plain && (err != nil || c == nil):
			t.Errorf("-plain-http: %v", err)
		case !plain && (!errors.Is(err, payflow.ErrInvalid) || c != nil):
			t.Errorf("without -plain-http: %v, want payflow.ErrInvalid", err)
		case !plain && !strings.HasSuffix(err.Error(), "ClientOptions.AllowPlainHTTP where the path to the platform is trusted (-plain-http allows it)"):
			t.Errorf("without -plain-http: %v does not name the flag", err)
		}
	}
}
