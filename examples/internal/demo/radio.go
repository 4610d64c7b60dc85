package demo

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/internal/dirsync"
	"github.com/casimpay/casimpay/internal/tempfile"
	"github.com/casimpay/casimpay/queue"
)

// Radio simulates Bluetooth LE reception: the received signal strength
// falls with the log of the distance (RSSI at 1 m of -59 dBm, path-loss
// exponent 2.2) with Gaussian noise of 3 dB, and a share of the adverts is
// lost. Its randomness is seeded, so a run is repeatable. A Radio is safe
// for concurrent use.
type Radio struct {
	// Loss is the probability that an advert is not received.
	Loss float64

	mu  sync.Mutex
	rng *rand.Rand
}

// NewRadio returns a radio whose noise and losses follow seed.
func NewRadio(seed uint64, loss float64) *Radio {
	return &Radio{Loss: loss, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Hear returns the RSSI, in dBm, of an advert sent from d metres away,
// held between queue.MinRSSI and -20 dBm, or false when it was lost.
func (r *Radio) Hear(d float64) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rng.Float64() < r.Loss {
		return 0, false
	}
	rssi := -59 - 22*math.Log10(max(d, 0.1)) + 3*r.rng.NormFloat64()
	return int(math.Round(min(max(rssi, queue.MinRSSI), -20))), true
}

// Station is a phone's radio: its card builds the advert, its party says
// where it stands. The station of a phone (NewPhone) sends the advert of
// its app, with the flags the app sets; a station made otherwise, as a
// bystander's of the cloud program, sends its card's advert without
// flags.
type Station struct {
	Party *Party
	Card  *Card

	// app is the phone's payflow.Shopper or payflow.Seller, on Card; nil
	// for a station without a phone.
	app advertiser
}

// advertiser is what a station needs of its phone's app: payflow's
// Shopper and Seller have it.
type advertiser interface {
	AdvertAt(now time.Time) ([]byte, error)
}

// Advert returns the 31-octet advert the station's card builds for the
// epoch of now. A phone's carries the flags its app sets at now
// (payflow's AdvertAt): adv.FlagAssets when the party has assets, and
// adv.FlagBusy while the session the phone selected last is paired and
// now is before its expiry, as on the air of a phone that runs payflow.
// A station without a phone sends no flags.
func (s *Station) Advert(now time.Time) ([]byte, error) {
	if s.app != nil {
		return s.app.AdvertAt(now)
	}
	return s.Card.Advert(adv.Epoch(now), s.Party.Role, 0)
}

// Listener is a phone's scanner: its party's position and its service
// queue.
type Listener struct {
	Party *Party
	Queue *queue.Queue
}

// receive hands an advert heard from a party at position from to the
// listener's queue, through adv.Parse as a scanner would; adverts of the
// listener's own role are ignored as the queue refuses them.
func (r *Radio) receive(l *Listener, from *Party, advert []byte, at time.Time) error {
	rssi, ok := r.Hear(l.Party.Distance(from))
	if !ok {
		return nil
	}
	p, err := adv.Parse(advert)
	if err != nil {
		return err
	}
	if err := l.Queue.Observe(p, rssi, at); err != nil && !errors.Is(err, queue.ErrSameRole) {
		return err
	}
	return nil
}

// Broadcast delivers one advert of every station to every listener of
// another station, at time at.
func (r *Radio) Broadcast(stations []*Station, listeners []*Listener, at time.Time) error {
	for _, s := range stations {
		b, err := s.Advert(at)
		if err != nil {
			return fmt.Errorf("demo: advert of %s: %w", s.Party.Name, err)
		}
		for _, l := range listeners {
			if l.Party == s.Party {
				continue
			}
			if err := r.receive(l, s.Party, b, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// Rounds delivers n rounds of adverts (Broadcast), each at the time it is
// sent, and stops with ctx's error once ctx has ended (an interrupt).
func (r *Radio) Rounds(ctx context.Context, n int, stations []*Station, listeners []*Listener) error {
	for range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.Broadcast(stations, listeners, WallClock()); err != nil {
			return err
		}
	}
	return nil
}

// Air is the radio between processes: every station writes its latest
// advert and its position into a file of the folder air/ of the data
// folder, and every listener reads them all. It is how the phones of the
// three-process example hear each other.
type Air struct {
	Dir string // the data folder
}

// folder returns the folder of the adverts, air/ of the data folder.
func (a Air) folder() string { return filepath.Join(a.Dir, airFolder) }

func (a Air) path(s *Station) string {
	return filepath.Join(a.folder(), s.Card.ICCID+".adv")
}

// Send writes the stations' current adverts, at now: each file's
// modification time is now, from which Receive ages it on the same clock
// (WallClock, in the phone programs), whatever the file system's clock.
func (a Air) Send(stations []*Station, now time.Time) error {
	if err := os.MkdirAll(a.folder(), 0o700); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	for _, s := range stations {
		b, err := s.Advert(now)
		if err != nil {
			return fmt.Errorf("demo: advert of %s: %w", s.Party.Name, err)
		}
		line := fmt.Sprintf("%g %g %x\n", s.Party.X, s.Party.Y, b)
		if err := writeFile(a.path(s), []byte(line), 0o600, false); err != nil {
			return err
		}
		if err := os.Chtimes(a.path(s), now, now); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return nil
}

// AirTTL is how long an advert stays in the air after it was sent:
// the advert of a phone that stopped without removing it fades.
const AirTTL = 5 * time.Second

// Receive reads every advert in the air except the listener's own (that of
// the station self) and hands those that get through the radio to the
// listener's queue. A file that does not parse is skipped, as a scanner
// skips noise, and so is one sent longer than AirTTL before now (its
// modification time: Send). The data folder's name is taken as it is,
// also one that holds the characters of a file name pattern ("shop[1]").
// An air not yet made holds no advert.
func (a Air) Receive(r *Radio, l *Listener, self *Station, now time.Time) error {
	entries, err := os.ReadDir(a.folder())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".adv") {
			continue
		}
		f := filepath.Join(a.folder(), e.Name())
		if self != nil && f == a.path(self) {
			continue
		}
		// A phone that stopped without taking its advert back is gone.
		if info, err := os.Stat(f); err != nil || now.Sub(info.ModTime()) > AirTTL {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		x, y, advert, err := parseAir(b)
		if err != nil {
			continue
		}
		if err := r.receive(l, &Party{X: x, Y: y}, advert, now); err != nil {
			return err
		}
	}
	return nil
}

// errAir reports a file of the air that is not a position and an advert.
var errAir = errors.New("demo: not an advert of the air")

// parseAir reads a file of the air: "x y advert-in-hex", one line, whose
// advert is a casimpay advert (adv.Parse).
func parseAir(b []byte) (x, y float64, advert []byte, err error) {
	fields := strings.Fields(string(b))
	if len(fields) != 3 {
		return 0, 0, nil, errAir
	}
	x, err1 := strconv.ParseFloat(fields[0], 64)
	y, err2 := strconv.ParseFloat(fields[1], 64)
	advert, err3 := hex.DecodeString(fields[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, nil, fmt.Errorf("%w: %v", errAir, err)
	}
	if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
		return 0, 0, nil, fmt.Errorf("%w: position is not finite", errAir)
	}
	if _, err := adv.Parse(advert); err != nil {
		return 0, 0, nil, fmt.Errorf("%w: %v", errAir, err)
	}
	return x, y, advert, nil
}

// WriteDurable writes data to name as writeFile does for keys and
// certificates: through a temporary file synced to disk and renamed, and
// the folder synced after the rename, so that a crash or a reader at the
// same moment finds the old file or the whole new one, never an empty or
// partial file, and that once it returns nil a crash no longer brings the
// old file back. When the folder's sync fails, it returns the error with
// the new file in place, which a crash may undo.
func WriteDurable(name string, data []byte, perm os.FileMode) error {
	return writeFile(name, data, perm, true)
}

// writeFile writes data to a new file of name's folder, named at random
// after name (with permissions perm), and renames it to name, so that a
// reader in another process finds the old file or the whole new one,
// never a part of it, and that writers at once of one name do not write
// into each other's file: the last rename wins. With durable, the data is
// on disk before the rename and the rename on disk before it returns
// (renameDurable), for files that a crash must neither leave empty nor
// lose (keys, certificates, a card's ICCID). After the rename it removes
// name's temporary files older than tempfile.Stale (ten minutes), which a
// writer killed between their creation and their rename left behind
// (these writes do not take the setup lock, so removeLeftovers cannot tell
// them from a write under way), as a card's state file (applet.File) does
// with its own; what cannot be removed stays.
func writeFile(name string, data []byte, perm os.FileMode, durable bool) error {
	f, err := tempfile.Create(name)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	tmp := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil && durable {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		rename := os.Rename
		if durable {
			rename = renameDurable
		}
		err = rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("demo: %w", err)
	}
	tempfile.RemoveStale(name, time.Now().Add(-tempfile.Stale))
	return nil
}

// renameDurable renames old to name, as os.Rename does, then syncs name's
// folder (syncFolder), so that once it returns nil a crash no longer loses
// the rename (what old holds is synced before, by its writer). When the
// sync fails, the rename is done but may not survive a crash.
func renameDurable(old, name string) error {
	if err := os.Rename(old, name); err != nil {
		return err
	}
	return syncFolder(filepath.Dir(name))
}

// syncFolder writes the entries of the folder dir to disk: the names
// renamed or removed in it (syncDir; on Windows, where NTFS journals them,
// it only opens the folder).
func syncFolder(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return syncDir(d)
}

// syncDir writes the entries of the open folder d to disk (dirsync.Sync);
// tests replace it.
var syncDir = dirsync.Sync

// mkdirDurable makes the folder dir, with the folders above it that are
// missing, as os.MkdirAll does (permissions 0o700), and syncs the folder
// that holds each one it makes (syncFolder), so that once it returns nil
// a crash loses none of them, nor what is synced into them afterwards.
// When dir exists, it syncs the folder that holds it all the same: a
// setup killed between making dir and that sync left it unsynced, which
// no later setup would mend otherwise (one fsync a setup). The folders
// above dir that it finds are taken as they are. When a sync fails, it
// returns the error with the folders in place.
func mkdirDurable(dir string) error {
	err := os.Mkdir(dir, 0o700)
	parent := filepath.Dir(dir)
	if errors.Is(err, fs.ErrNotExist) && parent != dir {
		if err = mkdirDurable(parent); err == nil {
			err = os.Mkdir(dir, 0o700)
		}
	}
	if errors.Is(err, fs.ErrExist) {
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			// Made before, or by another setup, which may have been
			// killed before its sync.
			err = nil
		}
	}
	if err != nil {
		return err
	}
	return syncFolder(parent)
}
