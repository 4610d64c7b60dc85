package demo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/casimpay/casimpay/internal/ctxsleep"
	"github.com/casimpay/casimpay/internal/tempfile"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// PIN is the PIN of every demo card.
const PIN = simcardtest.PIN

// Card is a personalised virtual CA-SIM whose state lives in a file of the
// data folder (OpenCard) or in memory (NewMemoryCard): the applet behind
// its APDU boundary and the phone's driver.
type Card struct {
	*simcard.Card
	Name  string // the file name, without extension
	ICCID string

	close func() error // releases the card file; nil in memory
}

// ErrCardInUse is the error of OpenCard and LockCard for a card file
// that another process, or another OpenCard or LockCard of this one,
// holds.
var ErrCardInUse = errors.New("demo: card in use")

// The folders of a data folder that the programs write once it is set
// up (checkWritable): the cards' state files (CardPath) and the adverts
// of the air between processes (Air).
const (
	cardsFolder = "cards"
	airFolder   = "air"
)

// CardPath returns the state file of the card name in a data folder.
func CardPath(dir, name string) string { return filepath.Join(dir, cardsFolder, name+".card") }

// OpenCard powers up the card name of a data folder (one that a cloud
// personalised and enrolled) and selects its applet. Only one Card may use
// a card file at a time, so that the card's signature counter never falls
// behind the one the cloud saw: OpenCard holds the file as LockCard does
// until Close (or the end of the process), and a card file that another
// process, or another OpenCard or LockCard of this one, holds is
// ErrCardInUse at once (another process is seen where flock(2) is: see
// LockCard). A card whose folder (cards/) cannot be written is refused
// before it is locked, with one line that names the folder and gives the
// system's reason, as LoadAuthority refuses it (such as "the folder
// DIR/cards of the data folder cannot be written: permission denied",
// matching fs.ErrPermission), and a card file that cannot be written otherwise
// with an error naming it, rather than failing the first command that
// stores the card's state with the status word 6581 (simcard.ErrMemory).
// A card missing from the folder is an error that matches
// fs.ErrNotExist.
func OpenCard(dir, name string) (_ *Card, err error) {
	path := CardPath(dir, name)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("demo: card %s: %w", name, err)
	}
	if err := checkFolder(dir, filepath.Dir(path)); err != nil {
		return nil, err
	}
	unlock, err := lockWritable(path)
	if err != nil {
		return nil, fmt.Errorf("demo: card %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			unlock()
		}
	}()
	f := &applet.File{Path: path}
	// The card stores its state after every command that changes it:
	// storing back the state it has tells now whether the file can be
	// written.
	state, err := f.Load()
	if err != nil {
		return nil, fmt.Errorf("demo: card %s: %w", name, err)
	}
	if err := f.Store(state); err != nil {
		return nil, fmt.Errorf("demo: card %s: %s cannot be written: %w", name, path, err)
	}
	a, err := applet.New(f, applet.Options{})
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
	return &Card{Card: c, Name: name, ICCID: id, close: sync.OnceValue(unlock)}, nil
}

// LockCard holds the card state file path (an applet.File's Path, which
// two processes must not share), until the returned function is called or
// the process ends, for the program that uses it: OpenCard does, and so
// does any other program that keeps a card's state in a file. It creates
// path's ".lock" file beside it, which stays in place while the card's
// state file is replaced at every store and after the lock is released,
// and locks it: flock(2) where the system has it (Linux, macOS and the
// BSDs), so that another process's hold is seen; elsewhere only this
// process's holds are. A path that another process, or another LockCard
// of this one, holds is an error matching ErrCardInUse, naming path, at
// once. A path whose folder cannot be written, where the card's state is
// replaced at every store, is refused first, with one line that names
// the folder and path and gives the system's reason, which the error
// wraps, such as "the folder DIR of the card state file PATH cannot be
// written: permission denied" (matching fs.ErrPermission), rather than
// failing the first command that stores the card's state with the status
// word 6581 (simcard.ErrMemory); another error creating the lock file is
// that path cannot be written.
func LockCard(path string) (unlock func() error, err error) {
	dir := filepath.Dir(path)
	if err := writeIn(dir); err != nil {
		return nil, cannotWrite("the folder "+dir+" of the card state file "+path, err)
	}
	return lockWritable(path)
}

// lockWritable is LockCard of path, whose folder was found writable.
func lockWritable(path string) (unlock func() error, err error) {
	lf, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s cannot be written: %w", path, err)
	}
	unlock, err = lockOpen(lf, nil)
	if errors.Is(err, ErrCardInUse) {
		return nil, fmt.Errorf("%s is held by another process, or already by this one: %w", path, err)
	}
	return unlock, err
}

// lockOpen locks the open lock file lf (lockFile) and returns the function
// that releases it and closes lf. While another holds it, lockOpen calls
// wait and tries again, until wait fails, whose error it returns; with
// wait nil, a file held is ErrCardInUse at once. On an error, lf is
// closed.
func lockOpen(lf *os.File, wait func() error) (unlock func() error, err error) {
	release, err := lockFile(lf)
	for errors.Is(err, ErrCardInUse) && wait != nil {
		if err = wait(); err == nil {
			release, err = lockFile(lf)
		}
	}
	if err != nil {
		lf.Close()
		return nil, err
	}
	return func() error {
		release()
		return lf.Close()
	}, nil
}

// SetupLockFile is the file of a data folder that LoadAuthority and
// Market.Setup lock (holdSetup) while they read, or make, what the folder
// holds: the demo CA, the cards and their enrolment. Holding it, they
// first remove the half-made CA and cards that a program killed while it
// held the lock left in the folder (removeLeftovers), only what their
// setup writes, by name and kind, and a folder only when it holds the
// mark that the setup writes first into it: a CA's or card's folder at
// once where the lock reaches other processes (flock(2): see LockCard),
// and elsewhere once it has not changed for ten minutes, as another
// process's setup may be making a younger one; a card's ICCID file not
// yet renamed into place once it has not changed for ten minutes.
const SetupLockFile = "setup.lock"

// setupPause is how long holdSetup pauses before it tries the lock again.
const setupPause = 50 * time.Millisecond

// holdSetup locks the data folder dir (its SetupLockFile, with lockFile:
// flock(2) where the system has it, so that another process's hold is
// seen), waiting while another holds it, so that two programs started at
// once on a new folder do not both make a CA, or a card, and mix their
// files; it returns the function that releases the lock. When ctx ends
// first, it fails with ctx's cause. Holding the lock, it removes what a
// program killed while it held it left behind (removeLeftovers).
func holdSetup(ctx context.Context, dir string) (unlock func() error, err error) {
	path := filepath.Join(dir, SetupLockFile)
	lf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		what := "the data folder " + dir
		if _, serr := os.Lstat(path); serr == nil { // the lock file's own
			err = fmt.Errorf("its file %s: %w", SetupLockFile, errors.Unwrap(err))
		}
		return nil, fmt.Errorf("demo: %w", cannotWrite(what, err))
	}
	unlock, err = lockOpen(lf, func() error { return ctxsleep.Sleep(ctx, setupPause) })
	if err != nil {
		return nil, fmt.Errorf("demo: waiting for %s: %w", path, err)
	}
	removeLeftovers(dir, lockAcrossProcesses, time.Now())
	return unlock, nil
}

// removeLeftovers removes from the data folder dir what a program killed
// while it held the setup lock left behind: a hierarchy's folder
// .pki.newDIGITS (newAuthority), a card's folder .NAME.newDIGITS and an
// ICCID file's temporary file .NAME.iccid.tmpDIGITS of cards/
// (ensureCard). A folder it removes only when it holds the mark that the
// setup writes first into each folder it makes (setupMark) and nothing
// but what the setup writes into it, regular files all: the mark, the
// hierarchy's files, or the card's state file NAME.card, and their
// temporary files (tempfile.Create). One without the mark, such as a
// user's folder holding only NAME.card (vcard -state given a path in a
// folder of that name), or one that holds anything else, such as that
// state file's lock file, is another program's and stays; so does the
// empty folder of a setup killed before it wrote the mark. The folders
// only a holder of the lock makes: with acrossProcesses (the lock reaches
// other processes: lockAcrossProcesses), no setup but a killed one can
// have made them, and it removes them all. Without, another process's
// setup may be making them at this moment, and it removes only those last
// modified more than tempfile.Stale (ten minutes) before now: a setup
// writes its folder's files one after another and then renames the folder,
// or the card file in it, into place, so one whose folder has not changed
// for that long is stuck or dead (one merely slower fails at that rename:
// its CA or card is not put in place, though a card's ICCID file is, and
// the next setup makes them again). The ICCID temporary files it removes
// only once they are as old, in either case: a temporary file is named
// after its file alone, and a program that does not take the lock writes
// ones of the same pattern for a state file named NAME.iccid in cards/
// (vcard -state), whose store would fail if its file were removed. A card
// state file's .NAME.card.tmp…, which a program writes while it uses its
// card and without the lock, is left alone: the card's applet.File removes
// its own once they are stale. What cannot be removed stays, as it did.
func removeLeftovers(dir string, acrossProcesses bool, now time.Time) {
	stale := now.Add(-tempfile.Stale)
	cards := filepath.Join(dir, cardsFolder)
	for _, g := range []struct {
		dir     string
		pattern *regexp.Regexp // of the names that the setup gives them
		// files returns, for a folder, the files that the setup writes
		// into it, from the submatches of pattern; nil for a file.
		files  func(match []string) []string
		anyAge bool // only a setup that holds the lock makes them
	}{
		{dir, authorityNew, func([]string) []string { return authorityFiles }, acrossProcesses},
		{cards, cardNew, func(m []string) []string { return []string{filepath.Base(CardPath("", m[1]))} }, acrossProcesses},
		{cards, iccidTemp, nil, false},
	} {
		entries, _ := os.ReadDir(g.dir) // what cannot be read stays
		for _, e := range entries {
			m := g.pattern.FindStringSubmatch(e.Name())
			path := filepath.Join(g.dir, e.Name())
			switch {
			case m == nil:
				continue
			case g.files == nil && !e.Type().IsRegular():
				continue
			case g.files != nil && (!e.IsDir() || !setupFolder(path, g.files(m))):
				continue
			}
			if fi, err := e.Info(); err == nil && (g.anyAge || fi.ModTime().Before(stale)) {
				os.RemoveAll(path)
			}
		}
	}
}

// makeSetupFolder makes a new folder in dir, named by pattern as
// os.MkdirTemp names it, and writes the setup's mark into it first
// (setupMark), so that removeLeftovers takes it for a setup's if the
// setup is killed before it renames the folder or its file into place.
// It returns the folder's path; a folder whose mark could not be written
// is removed.
func makeSetupFolder(dir, pattern string) (string, error) {
	tmp, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, setupMark), nil, 0o600); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("demo: %w", err)
	}
	return tmp, nil
}

// setupMark is the file that a setup writes first into each folder it
// makes (newAuthority, ensureCard), empty, so that removeLeftovers takes
// for a setup's only a folder that holds it.
const setupMark = ".casimpay-setup"

// The names of what a setup makes in a data folder and, killed, leaves
// there (removeLeftovers): os.MkdirTemp and tempfile.Create end them in
// digits.
var (
	authorityNew = regexp.MustCompile(`^\.pki\.new[0-9]+$`)       // newAuthority's folder
	cardNew      = regexp.MustCompile(`^\.(.+)\.new[0-9]+$`)      // ensureCard's folder of the card $1
	iccidTemp    = regexp.MustCompile(`^\..+\.iccid\.tmp[0-9]+$`) // ensureCard's ICCID file's temporary file
)

// setupFolder reports whether the folder path is one that a setup made: it
// holds the setup's mark (setupMark), a regular file, and nothing but
// regular files: the mark, the files named in files and their temporary
// files (tempfile.IsTemp).
func setupFolder(path string, files []string) bool {
	entries, err := os.ReadDir(path)
	if err != nil {
		return false
	}
	marked := false
	for _, e := range entries {
		if !e.Type().IsRegular() {
			return false
		}
		switch {
		case e.Name() == setupMark:
			marked = true
		case !slices.ContainsFunc(files, func(f string) bool { return e.Name() == f || tempfile.IsTemp(f, e.Name()) }):
			return false
		}
	}
	return marked
}

// Close releases the card file for another OpenCard; the Card must not be
// used after. Closing again, or a card in memory, does nothing and returns
// nil.
func (c *Card) Close() error {
	if c.close == nil {
		return nil
	}
	return c.close()
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
// personalising it and enrolling it on the cloud under display when it does
// not exist yet; the caller holds the folder's setup lock (holdSetup). The
// card file appears only once the enrolment has succeeded: the advertising
// secret can be read only before activation, so a card that missed its
// enrolment is thrown away. The card is personalised in a folder of its own
// beside the card files, named at random, and its file renamed into place
// after its ICCID's file, the cards folder synced after each (and the data
// folder once the cards folder is there, mkdirDurable), so that a crash
// after ensureCard returns loses neither. When that sync fails, it returns
// the error with the card file in place (a crash may undo it), which the
// next call finds.
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
	if err := mkdirDurable(filepath.Dir(path)); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	tmp, err := makeSetupFolder(filepath.Dir(path), "."+name+".new*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	state := filepath.Join(tmp, filepath.Base(path))
	v, err := simcardtest.NewCard(c.Authority.Issuer, simcardtest.Options{Storage: &applet.File{Path: state}})
	if err != nil {
		return "", fmt.Errorf("demo: personalise %s: %w", name, err)
	}
	e := v.Enrolment
	if _, err := c.Platform.EnrollCard(ctx, e.Chain, e.AdvertisingSecret, display); err != nil {
		return "", fmt.Errorf("demo: enrol %s: %w", name, err)
	}
	if err := writeFile(idPath, []byte(e.ICCID+"\n"), 0o600, true); err != nil {
		return "", err
	}
	if err := renameDurable(state, path); err != nil {
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
