package applet

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/casimpay/casimpay/internal/dirsync"
	"github.com/casimpay/casimpay/internal/tempfile"
)

// Storage is the card's non-volatile memory: one opaque blob holding the
// whole persistent state (keys, ICCID, certificate, PIN and PUK reference
// data and tries, signature counter). The applet writes it after every change
// and acknowledges a command only once Store has returned nil, so a "power
// cut" (a failing Store, or a new Applet on the same Storage) never loses
// what was acknowledged. When Store fails, the applet answers 6581 and
// stores again the state it held before that Store, since a Store that
// fails may have replaced the state all the same; should that second Store
// fail before replacing the state, the storage may hold the state the card
// answered 6581 for. A Store that fails should therefore leave the state it
// found, as File's does unless it cannot put the previous file back.
//
// The blob holds the card's secrets: an implementation must keep it where
// only the card's owner can read it.
type Storage interface {
	// Load returns the stored state, or nil and no error when nothing has
	// been stored yet (a blank card).
	Load() ([]byte, error)
	// Store replaces the stored state atomically: after a crash, Load
	// returns either the previous state or this one, never a mixture. It
	// returns only when the new state is durable, and must not keep state
	// after it returns: the applet reuses the buffer.
	Store(state []byte) error
}

// Memory is a Storage in memory, for tests and benchmarks: its "power cycle"
// is a new Applet on the same Memory. The zero Memory is empty and ready to
// use; it is safe for concurrent use. A nil *Memory is no storage: Load and
// Store return ErrNoStorage.
type Memory struct {
	mu    sync.Mutex
	state []byte
}

var _ Storage = (*Memory)(nil)

// Load implements Storage.
func (m *Memory) Load() ([]byte, error) {
	if m == nil {
		return nil, ErrNoStorage
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == nil {
		return nil, nil
	}
	return append([]byte{}, m.state...), nil
}

// Store implements Storage.
func (m *Memory) Store(state []byte) error {
	if m == nil {
		return ErrNoStorage
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Load hands out copies, so the buffer is reused; never nil, since an
	// empty state is not a blank card.
	if m.state == nil {
		m.state = make([]byte, 0, len(state))
	}
	m.state = append(m.state[:0], state...)
	return nil
}

// File is a Storage in one file, written atomically: the new state goes to a
// temporary file in the same directory, which is synced, renamed over Path,
// and then the directory is synced (dirsync.Sync: on Windows, whose NTFS
// journals a directory's entries itself, nothing), so that after a crash
// the file holds the old state or the new one. The file is created with
// mode 0600. Before the rename, Store links the previous file to a second
// name beside Path (".NAME.prev"), which it removes once the directory is
// synced: when the directory cannot be synced after the rename, Store fails
// and renames that file back over Path (or removes Path, when nothing was
// stored before), so that the file holds the previous state, which a crash
// may undo, and not the one the Store failed for. Only when that rename fails
// too, or on a file system without hard links, which keeps no previous file,
// does a Store that fails leave the new state in the file. A second name left
// by a crash is removed by the next Store, and the first Store of a File that
// succeeds removes the temporary files (".NAME.tmp" and digits) older than
// ten minutes, which a crash before their rename left behind: a Store takes
// milliseconds, so no Store under way, of this process or another, still
// writes them. Later Stores of the File do not look for them again (a
// directory listing per Store), so a temporary file left after that first
// Store is removed by the first Store of a later File of Path.
//
// A File is safe for concurrent use by one process; two processes must not
// share a Path. A nil *File, or one without a Path, is no storage: Load
// and Store return ErrNoStorage.
type File struct {
	// Path is the state file. Its directory must exist. Required.
	Path string

	mu sync.Mutex
	// swept tells that a Store has removed the stale temporary files.
	swept bool
	// fault, when not nil, makes the step of Store it names fail with the
	// error it returns: the package's tests make Store fail so.
	fault func(step string) error
}

// failAt returns the error that f.fault gives for step, if any.
func (f *File) failAt(step string) error {
	if f.fault == nil {
		return nil
	}
	return f.fault(step)
}

var _ Storage = (*File)(nil)

// Load implements Storage: it returns nil and no error when Path does not
// exist.
func (f *File) Load() ([]byte, error) {
	if f == nil || f.Path == "" {
		return nil, ErrNoStorage
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("applet: load state: %w", err)
	}
	return b, nil
}

// Store implements Storage. A Store that fails leaves the state file as it
// found it (or absent, as it found it), unless it fails to put the previous
// file back after the rename (see File).
func (f *File) Store(state []byte) (err error) {
	if f == nil || f.Path == "" {
		return ErrNoStorage
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	dir, base := filepath.Split(f.Path)
	if dir == "" {
		dir = "."
	}
	if err := f.failAt("create"); err != nil {
		return fmt.Errorf("applet: store state: %w", err)
	}
	tmp, err := tempfile.Create(f.Path)
	if err != nil {
		return fmt.Errorf("applet: store state: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(state); err != nil {
		return fmt.Errorf("applet: store state: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("applet: store state: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("applet: store state: %w", err)
	}
	// Opened before the rename, so that a directory that cannot be opened
	// fails the Store before anything is replaced.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("applet: store state: open directory: %w", err)
	}
	defer d.Close()
	prev := filepath.Join(dir, "."+base+".prev")
	restore, err := f.keepPrevious(prev)
	if err != nil {
		return fmt.Errorf("applet: store state: keep the previous state: %w", err)
	}
	if err = os.Rename(tmp.Name(), f.Path); err != nil {
		os.Remove(prev)
		return fmt.Errorf("applet: store state: %w", err)
	}
	if err = f.failAt("sync directory"); err == nil {
		err = dirsync.Sync(d)
	}
	if err != nil {
		// The new state replaced the old one but is not durable: put the
		// previous file back, by a rename, which writes no data.
		if restore == nil {
			return fmt.Errorf("applet: store state: sync directory: %w (no previous state kept to put back)", err)
		}
		if rErr := restore(); rErr != nil {
			return fmt.Errorf("applet: store state: sync directory: %w (previous state not put back: %v)", err, rErr)
		}
		_ = dirsync.Sync(d) // its failure is that of the Store already returned
		return fmt.Errorf("applet: store state: sync directory: %w (previous state put back)", err)
	}
	os.Remove(prev) // a file left so is removed by the next Store
	if !f.swept {
		tempfile.RemoveStale(f.Path, time.Now().Add(-tempfile.Stale))
		f.swept = true
	}
	return nil
}

// keepPrevious links the state file to prev, before the rename replaces it,
// and returns what puts it back: the rename of prev over Path, or the
// removal of Path when no state was stored. A file system without hard
// links keeps nothing: restore is then nil.
func (f *File) keepPrevious(prev string) (restore func() error, err error) {
	if err := os.Remove(prev); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := f.failAt("link"); err != nil {
		return nil, nil
	}
	switch err := os.Link(f.Path, prev); {
	case err == nil:
		return func() error { return os.Rename(prev, f.Path) }, nil
	case errors.Is(err, fs.ErrNotExist):
		return func() error { return os.Remove(f.Path) }, nil
	}
	return nil, nil
}
