package demo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// PIN is the PIN of every demo card.
const PIN = simcardtest.PIN

// Card is a personalised virtual CA-SIM whose state lives in a file of the
// data folder: the applet behind its APDU boundary and the phone's driver.
type Card struct {
	*simcard.Card
	Name  string // the file name, without extension
	ICCID string
}

// CardPath returns the state file of the card name in a data folder.
func CardPath(dir, name string) string { return filepath.Join(dir, "cards", name+".card") }

// OpenCard powers up the card name of a data folder (one that a cloud
// personalised and enrolled) and selects its applet. Only one process may
// use a card at a time. A card missing from the folder is an error that
// matches fs.ErrNotExist.
func OpenCard(dir, name string) (*Card, error) {
	path := CardPath(dir, name)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("demo: card %s: %w", name, err)
	}
	a, err := applet.New(&applet.File{Path: path}, applet.Options{})
	if err != nil {
		return nil, fmt.Errorf("demo: card %s: %w", name, err)
	}
	c := simcard.New(a)
	life, err := c.Select()
	if err != nil {
		return nil, fmt.Errorf("demo: card %s: %w", name, err)
	}
	if life == simcard.LifePersonalisation {
		return nil, fmt.Errorf("demo: card %s was never personalised", name)
	}
	id, err := c.ICCID()
	if err != nil {
		return nil, fmt.Errorf("demo: card %s: %w", name, err)
	}
	return &Card{Card: c, Name: name, ICCID: id}, nil
}

// NoCloudHint adds to err, when it matches fs.ErrNotExist (a program
// found no card or root certificate in its data folder), what to do. Any
// other error, such as an unreadable card or root certificate, is
// returned as it is.
func NoCloudHint(err error) error {
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return fmt.Errorf("%w (start the cloud with this data folder first)", err)
}

// ensureCard returns the ICCID of the card name of the data folder,
// personalising it and enrolling it on the cloud under display when it
// does not exist yet. The card file appears only once the enrolment has
// succeeded: the advertising secret can be read only before activation,
// so a card that missed its enrolment is thrown away.
func ensureCard(ctx context.Context, c *Cloud, dir, name, display string) (string, error) {
	path := CardPath(dir, name)
	idPath := strings.TrimSuffix(path, ".card") + ".iccid"
	if _, err := os.Stat(path); err == nil {
		b, err := os.ReadFile(idPath)
		if err != nil {
			return "", fmt.Errorf("demo: card %s: %w", name, err)
		}
		id := strings.TrimSpace(string(b))
		if _, err := c.Store.Card(ctx, id); err != nil {
			return "", fmt.Errorf("demo: card %s (%s) is not enrolled in this database: %w", name, id, err)
		}
		return id, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("demo: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	tmp := path + ".new"
	os.Remove(tmp)
	v, err := simcardtest.NewCard(c.Authority.Issuer, simcardtest.Options{Storage: &applet.File{Path: tmp}})
	if err != nil {
		return "", fmt.Errorf("demo: personalise %s: %w", name, err)
	}
	e := v.Enrolment
	if _, err := c.Platform.EnrollCard(ctx, e.Chain, e.AdvertisingSecret, display); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("demo: enrol %s: %w", name, err)
	}
	if err := writeFile(idPath, []byte(e.ICCID+"\n"), 0o600, true); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	return e.ICCID, nil
}

// fundingID returns the ID of the first funding of the wallet of card
// cardID in currency: derived from both, so that a data folder funds each
// wallet once however often it is set up.
func fundingID(cardID, currency string) payflow.ID {
	h := sha256.New()
	h.Write([]byte("casimpay-demo/fund"))
	for _, p := range []string{cardID, currency} {
		h.Write([]byte{byte(len(p))})
		h.Write([]byte(p))
	}
	return payflow.ID(h.Sum(nil)[:16])
}

// NewMemoryCard personalises a virtual card that lives in memory only and
// enrols it on the cloud under display: for load generation, where the
// cards must not be the bottleneck.
func NewMemoryCard(ctx context.Context, c *Cloud, name, display string) (*Card, error) {
	v, err := simcardtest.NewCard(c.Authority.Issuer, simcardtest.Options{})
	if err != nil {
		return nil, fmt.Errorf("demo: personalise %s: %w", name, err)
	}
	e := v.Enrolment
	if _, err := c.Platform.EnrollCard(ctx, e.Chain, e.AdvertisingSecret, display); err != nil {
		return nil, fmt.Errorf("demo: enrol %s: %w", name, err)
	}
	return &Card{Card: v.Card, Name: name, ICCID: e.ICCID}, nil
}
