package applet

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Storage is the card's non-volatile memory: one opaque blob holding the
// whole persistent state (keys, ICCID, certificate, PIN and PUK reference
// data and tries, signature counter). The applet writes it after every change
// and acknowledges a command only once Store has returned nil, so a "power
// cut" (a failing Store, or a new Applet on the same Storage) never loses
// what was acknowledged. When Store fails, the applet answers 6581 and
// stores again the state it held before that Store, since a Store that
// fails may have replaced the state all the same (File's does when it
// cannot open or sync its directory); should that second Store fail before
// replacing the state, the storage may hold the state the card answered
// 6581 for.
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
// and then the directory is synced, so that after a crash the file holds the
// old state or the new one. The file is created with mode 0600. Store fails
// after the rename when the directory cannot be opened or synced: the file
// then holds the new state, which a crash may undo.
//
// A File is safe for concurrent use by one process; two processes must not
// share a Path. A nil *File is no storage: Load and Store return
// ErrNoStorage.
type File struct {
	// Path is the state file. Its directory must exist.
	Path string

	mu sync.Mutex
}

var _ Storage = (*File)(nil)

// Load implements Storage: it returns nil and no error when Path does not
// exist.
func (f *File) Load() ([]byte, error) {
	if f == nil {
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

// Store implements Storage.
func (f *File) Store(state []byte) (err error) {
	if f == nil {
		return ErrNoStorage
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	dir, base := filepath.Split(f.Path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
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
	if err = os.Rename(tmp.Name(), f.Path); err != nil {
		return fmt.Errorf("applet: store state: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("applet: store state: sync directory: %w", err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("applet: store state: sync directory: %w", err)
	}
	return nil
}
