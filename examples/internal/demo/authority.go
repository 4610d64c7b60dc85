package demo

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/casimpay/casimpay/pki"
)

// PlatformName is the common name of the demo platform's receipt
// certificate.
const PlatformName = "casimpay demo platform"

// Authority is the demo certificate hierarchy: a root CA, the card-issuing
// CA under it, and the platform's receipt key certified by the card CA. It
// is kept as PEM files in the folder pki/ of the data folder, so that a
// later run, or another process, uses the same hierarchy.
type Authority struct {
	Root, Issuer *pki.CA
	// PlatformKey signs receipts; PlatformChain is its certificate chain,
	// platform certificate first, root excluded.
	PlatformKey   *ecdsa.PrivateKey
	PlatformChain [][]byte
}

// pem file names under pki/.
const (
	rootCert     = "root.pem"
	rootKey      = "root.key.pem"
	issuerCert   = "issuer.pem"
	issuerKey    = "issuer.key.pem"
	platformCert = "platform.pem"
	platformKey  = "platform.key.pem"
)

// authorityFiles are the files that newAuthority writes.
var authorityFiles = []string{rootCert, rootKey, issuerCert, issuerKey, platformCert, platformKey}

// ErrAuthorityMissing is the error of LoadAuthority, and OpenCloud, for a
// data folder that holds the state of an earlier setup (a card's state
// file, or the SQLite database) but not the complete demo CA that issued
// its cards (pki/, removed say).
var ErrAuthorityMissing = errors.New("demo: the data folder's certificate authority is missing")

// RootPath returns the path of the root certificate (PEM) in a data
// folder: what a phone trusts to verify receipts.
func RootPath(dir string) string { return filepath.Join(dir, "pki", rootCert) }

// LoadAuthority reads the hierarchy from dir/pki, or creates it there when
// the folder holds none, creating dir if needed (and syncing the folder
// that holds it, mkdirDurable). A dir that holds no complete hierarchy
// (pki/ removed, say) but the state of an earlier setup under one (a
// card's state file in cards/, or the SQLite database, DatabaseFile),
// whose cards a new hierarchy would not know, is refused with
// ErrAuthorityMissing, which says to restore pki/ or remove the whole
// folder, and nothing is made or changed. A dir that cannot be made (its
// parent cannot be written) or written, or whose folders that the
// programs write (cards/, air/) cannot be, is refused with one line that
// names it and gives the system's reason, which the error wraps (such as
// "permission denied", which matches fs.ErrPermission), before anything
// is made in it (checkWritable). It holds the data folder's setup lock
// meanwhile (SetupLockFile), waiting until ctx ends while another program,
// or a Market.Setup or LoadAuthority of this one, holds it. A new hierarchy
// is written whole into a folder of dir named at random, which is then
// renamed to pki: a program that reads dir/pki finds all of one hierarchy's
// files or none, and one that made another hierarchy at once, where the
// lock does not reach another process (see LockCard), loses the rename and
// takes the hierarchy found in pki (when there was no pki before them: two
// such programs that both replace an incomplete one may remove each
// other's).
func LoadAuthority(ctx context.Context, dir string) (_ *Authority, err error) {
	if err := mkdirDurable(dir); err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok && pe.Op == "mkdir" && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("demo: the data folder %s cannot be made: %w", dir, cannotWrite("the folder "+filepath.Dir(pe.Path), err))
		}
		return nil, fmt.Errorf("demo: %w", err)
	}
	unlock, err := holdSetup(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, unlock()) }()
	pdir := filepath.Join(dir, "pki")
	mark := filepath.Join(pdir, platformCert)
	_, serr := os.Stat(mark)
	missing := errors.Is(serr, fs.ErrNotExist)
	if held := earlierSetup(dir); missing && held != "" {
		return nil, fmt.Errorf("%w: %s holds the state of an earlier setup (%s) but not the demo CA that issued its cards (%s); "+
			"a new CA would not know them and their logins would fail: restore %s, or remove the whole folder %s to start anew",
			ErrAuthorityMissing, dir, held, mark, pdir, dir)
	}
	if err := checkWritable(dir); err != nil {
		return nil, err
	}
	if missing {
		return newAuthority(dir, pdir)
	}
	return loadAuthority(pdir)
}

// checkWritable makes sure that the data folder dir, and the folders in
// it that the programs write once it is set up (cards/, the card state
// files', and air/, the adverts') where they exist, can be written, each
// once (checkFolder). One that cannot be written is an error that names
// it and says why (cannotWrite).
func checkWritable(dir string) error {
	if err := checkFolder(dir, dir); err != nil {
		return err
	}
	for _, name := range []string{cardsFolder, airFolder} {
		if path := folderOf(dir, name); path != dir { // dir, checked, makes one missing
			if err := checkFolder(dir, path); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkFolderOf makes sure that the folder name of the data folder dir
// (cards, air) can be written, or, while it is missing, dir, in which a
// write makes it (folderOf, checkFolder). One that cannot be written is
// an error that names it and says why (cannotWrite).
func checkFolderOf(dir, name string) error {
	return checkFolder(dir, folderOf(dir, name))
}

// folderOf returns the folder name of the data folder dir (cards, air),
// or, while it is missing, dir, in which a write makes it.
func folderOf(dir, name string) string {
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		return dir
	}
	return path
}

// checkFolder makes sure that path, the data folder dir or a folder in
// it, can be written (writeIn). One that cannot be written is an error
// that names it ("the data folder DIR", "the folder PATH of the data
// folder") and says why (cannotWrite).
func checkFolder(dir, path string) error {
	if err := writeIn(path); err != nil {
		what := "the data folder " + dir
		if path != dir {
			what = "the folder " + path + " of the data folder"
		}
		return fmt.Errorf("demo: %w", cannotWrite(what, err))
	}
	return nil
}

// writeIn makes a file in the folder path, which it removes, and returns
// the error of the step that failed, or nil.
func writeIn(path string) error {
	f, err := os.CreateTemp(path, ".casimpay-write*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// cannotWrite returns the error that what (the data folder, a folder or a
// file in it) cannot be written, with err, the error of the write that
// failed: "WHAT cannot be written: REASON", wrapping the reason that the
// system gave (err's fs.PathError's Err, such as "permission denied" or
// "read-only file system"; otherwise err).
func cannotWrite(what string, err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		err = pe.Err
	}
	return fmt.Errorf("%s cannot be written: %w", what, err)
}

// earlierSetup returns the path of a file of the data folder dir that an
// earlier setup left, under a demo CA: the first card state file of
// cards/, or else the SQLite database (DatabaseFile); "" when it holds
// neither.
func earlierSetup(dir string) string {
	cards := filepath.Join(dir, cardsFolder)
	entries, _ := os.ReadDir(cards) // a folder that cannot be read holds none
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".card") && !strings.HasPrefix(e.Name(), ".") {
			return filepath.Join(cards, e.Name())
		}
	}
	db := filepath.Join(dir, DatabaseFile)
	if fi, err := os.Stat(db); err == nil && fi.Mode().IsRegular() {
		return db
	}
	return ""
}

// loadAuthority reads the hierarchy of the folder pdir.
func loadAuthority(pdir string) (*Authority, error) {
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(pdir, name))
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		return b, nil
	}
	// readPair reads a certificate file and the file of its key.
	readPair := func(certName, keyName string) ([][]byte, crypto.Signer, error) {
		cb, err := read(certName)
		if err != nil {
			return nil, nil, err
		}
		kb, err := read(keyName)
		if err != nil {
			return nil, nil, err
		}
		certs, err := pki.ParseCertificatesPEM(cb)
		if err != nil {
			return nil, nil, fmt.Errorf("demo: %s: %w", certName, err)
		}
		key, err := pki.ParsePrivateKeyPEM(kb)
		if err != nil {
			return nil, nil, fmt.Errorf("demo: %s: %w", keyName, err)
		}
		return certs, key, nil
	}
	loadCA := func(certName, keyName, crl string) (*pki.CA, error) {
		certs, key, err := readPair(certName, keyName)
		if err != nil {
			return nil, err
		}
		if len(certs) != 1 {
			return nil, fmt.Errorf("demo: %s: want one certificate, not %d", certName, len(certs))
		}
		return pki.LoadCA(key, certs[0], nil, pki.CAOptions{CRLURL: crl})
	}
	root, err := loadCA(rootCert, rootKey, rootCRL)
	if err != nil {
		return nil, err
	}
	issuer, err := loadCA(issuerCert, issuerKey, issuerCRL)
	if err != nil {
		return nil, err
	}
	chain, signer, err := readPair(platformCert, platformKey)
	if err != nil {
		return nil, err
	}
	key, ok := signer.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("demo: %s is not an ECDSA key", platformKey)
	}
	return &Authority{Root: root, Issuer: issuer, PlatformKey: key, PlatformChain: chain}, nil
}

const (
	rootCRL   = "https://pki.invalid/root.crl"
	issuerCRL = "https://pki.invalid/card.crl"
)

// newAuthority makes a hierarchy, writes it into a new folder of the data
// folder dir and renames that folder to pdir. When pdir holds another
// hierarchy by then, made at once by a program that the setup lock did
// not keep out, it returns that one. A pdir without a platform
// certificate, which a program that wrote the files one by one into pdir
// may have left when it was stopped, and under which no card was issued,
// is replaced. The folder that holds pdir is synced after the rename, so
// that a crash after newAuthority returns does not lose the hierarchy;
// when that sync fails, it returns the error with pdir in place, which a
// crash may undo.
func newAuthority(dir, pdir string) (*Authority, error) {
	gen := func() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }
	rk, err := gen()
	if err != nil {
		return nil, err
	}
	ik, err := gen()
	if err != nil {
		return nil, err
	}
	pk, err := gen()
	if err != nil {
		return nil, err
	}
	root, err := pki.NewRoot(rk, pki.CAOptions{CRLURL: rootCRL})
	if err != nil {
		return nil, err
	}
	issuer, err := root.NewIntermediate(ik, pki.CAOptions{CRLURL: issuerCRL})
	if err != nil {
		return nil, err
	}
	cert, err := issuer.IssuePlatform(pk.Public(), PlatformName, pki.IssueOptions{})
	if err != nil {
		return nil, err
	}
	a := &Authority{Root: root, Issuer: issuer, PlatformKey: pk, PlatformChain: append([][]byte{cert}, issuer.Chain()...)}
	files := []struct {
		name string
		key  *ecdsa.PrivateKey
		der  [][]byte
	}{
		{rootKey, rk, nil}, {rootCert, nil, [][]byte{root.DER()}},
		{issuerKey, ik, nil}, {issuerCert, nil, [][]byte{issuer.DER()}},
		// The platform certificate marks a complete folder (LoadAuthority).
		{platformKey, pk, nil}, {platformCert, nil, a.PlatformChain},
	}
	tmp, err := makeSetupFolder(dir, ".pki.new*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for _, f := range files {
		var b []byte
		mode := os.FileMode(0o644)
		if f.key != nil {
			if b, err = pki.PrivateKeyPEM(f.key); err != nil {
				return nil, err
			}
			mode = 0o600
		}
		for _, der := range f.der {
			b = append(b, pki.CertificatePEM(der)...)
		}
		if err := writeFile(filepath.Join(tmp, f.name), b, mode, true); err != nil {
			return nil, err
		}
	}
	// The mark goes before the folder becomes pdir, which it would
	// otherwise clutter (a setup killed in between leaves a folder that
	// removeLeftovers keeps, as it is no longer marked as a setup's).
	if err := os.Remove(filepath.Join(tmp, setupMark)); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	err = os.Rename(tmp, pdir)
	if err != nil {
		if _, serr := os.Stat(filepath.Join(pdir, platformCert)); serr == nil {
			return loadAuthority(pdir)
		}
		if err = os.RemoveAll(pdir); err == nil {
			err = os.Rename(tmp, pdir)
		}
	}
	if err == nil {
		err = syncFolder(filepath.Dir(pdir))
	}
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return a, nil
}

// CardVerifier returns the cloud's verifier of card chains, with fresh
// CRLs of both CAs valid for a day; call RefreshCRLs to renew them.
func (a *Authority) CardVerifier(now func() time.Time) (*pki.Verifier, error) {
	v, err := pki.NewVerifier(pki.VerifierOptions{
		Roots: [][]byte{a.Root.DER()}, Intermediates: [][]byte{a.Issuer.DER()}, Now: now,
	})
	if err != nil {
		return nil, err
	}
	return v, a.RefreshCRLs(v, now)
}

// RefreshCRLs issues new CRLs of both CAs, valid for a day, into v.
func (a *Authority) RefreshCRLs(v *pki.Verifier, now func() time.Time) error {
	if now == nil {
		now = time.Now
	}
	for _, ca := range []*pki.CA{a.Root, a.Issuer} {
		crl, err := ca.CRL(now().Add(24 * time.Hour))
		if err != nil {
			return err
		}
		if err := v.AddCRL(crl); err != nil {
			return err
		}
	}
	return nil
}

// ReceiptVerifier returns a phone's verifier of the platform's receipt
// chain: trust in the root certificate rootDER, revocation best effort
// (a phone may be offline).
func ReceiptVerifier(rootDER []byte) (*pki.Verifier, error) {
	return pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{rootDER}, Revocation: pki.RevocationBestEffort})
}

// LoadRoot reads the root certificate of a data folder, for phones in
// other processes.
func LoadRoot(dir string) ([]byte, error) {
	b, err := os.ReadFile(RootPath(dir))
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	certs, err := pki.ParseCertificatesPEM(b)
	if err != nil {
		return nil, fmt.Errorf("demo: %s: want one certificate: %w", RootPath(dir), err)
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("demo: %s: want one certificate, found %d", RootPath(dir), len(certs))
	}
	return certs[0], nil
}
