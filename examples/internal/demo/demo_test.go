package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/examples/internal/outwait"
	"github.com/casimpay/casimpay/internal/tempfile"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/queue"
	"github.com/casimpay/casimpay/simcard/applet"
)

func TestRadio(t *testing.T) {
	t.Run("the seed repeats", func(t *testing.T) {
		a, b := NewRadio(9, 0.3), NewRadio(9, 0.3)
		for range 50 {
			ra, oka := a.Hear(2)
			rb, okb := b.Hear(2)
			require.Equal(t, oka, okb)
			require.Equal(t, ra, rb)
		}
	})
	t.Run("no loss", func(t *testing.T) {
		r := NewRadio(1, 0)
		for range 100 {
			rssi, ok := r.Hear(1)
			require.True(t, ok)
			assert.True(t, rssi >= queue.MinRSSI && rssi <= -20, "rssi %d", rssi)
		}
	})
	t.Run("loss", func(t *testing.T) {
		r := NewRadio(1, 0.5)
		lost := 0
		for range 1000 {
			if _, ok := r.Hear(1); !ok {
				lost++
			}
		}
		assert.InDelta(t, 500, lost, 100)
	})
	t.Run("farther is weaker", func(t *testing.T) {
		r := NewRadio(1, 0)
		mean := func(d float64) float64 {
			sum := 0
			for range 200 {
				rssi, _ := r.Hear(d)
				sum += rssi
			}
			return float64(sum) / 200
		}
		near, far := mean(0.5), mean(8)
		assert.InDelta(t, -59+22*0.30103, near, 1.5) // -59 - 22·log10(0.5)
		assert.InDelta(t, -59-22*0.90309, far, 1.5)  // -59 - 22·log10(8)
	})
}

func TestParseAir(t *testing.T) {
	advert, err := adv.Packet{Role: adv.Seller, EID: adv.EID{1, 2, 3}}.MarshalBinary()
	require.NoError(t, err)
	x, y, got, err := parseAir(fmt.Appendf(nil, "0.5 -3 %x\n", advert))
	require.NoError(t, err)
	assert.Equal(t, 0.5, x)
	assert.Equal(t, -3.0, y)
	assert.Equal(t, advert, got)

	for name, in := range map[string]string{
		"empty":      "",
		"two fields": "1 2",
		"bad x":      fmt.Sprintf("x 2 %x", advert),
		"nan":        fmt.Sprintf("NaN 2 %x", advert),
		"inf":        fmt.Sprintf("1 +Inf %x", advert),
		"bad hex":    "1 2 zz",
		"not ours":   "1 2 0201060303aafe",
		"four":       fmt.Sprintf("1 2 %x 4", advert),
	} {
		t.Run(name, func(t *testing.T) {
			_, _, _, err := parseAir([]byte(in))
			assert.ErrorIs(t, err, errAir)
		})
	}
}

func FuzzParseAir(f *testing.F) {
	advert, err := adv.Packet{Role: adv.Shopper, EID: adv.EID{9}}.MarshalBinary()
	require.NoError(f, err)
	f.Add(fmt.Appendf(nil, "0.8 0 %x\n", advert))
	f.Add([]byte("1 2 0201060303aafe"))
	f.Add([]byte("NaN NaN 00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, y, got, err := parseAir(b)
		if err != nil {
			return
		}
		if _, err := adv.Parse(got); err != nil {
			t.Fatalf("accepted an advert adv.Parse refuses: %v", err)
		}
		p := &Party{X: x, Y: y}
		if d := p.Distance(&Party{}); d < 0.1 || d != d {
			t.Fatalf("distance %v", d)
		}
	})
}

func TestAuthorityPersists(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadAuthority(context.Background(), dir)
	require.NoError(t, err)
	assert.NoFileExists(t, filepath.Join(dir, "pki", setupMark), "the setup's mark stays out of the hierarchy's folder")
	b, err := LoadAuthority(context.Background(), dir)
	require.NoError(t, err)
	assert.Equal(t, a.Root.DER(), b.Root.DER())
	assert.Equal(t, a.Issuer.DER(), b.Issuer.DER())
	assert.Equal(t, a.PlatformChain, b.PlatformChain)
	assert.True(t, a.PlatformKey.Equal(b.PlatformKey))
	root, err := LoadRoot(dir)
	require.NoError(t, err)
	assert.Equal(t, a.Root.DER(), root)
	info, err := os.Stat(filepath.Join(dir, "pki", issuerKey))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "keys are private")

	// A verifier over the reloaded hierarchy accepts the platform chain.
	v, err := ReceiptVerifier(root)
	require.NoError(t, err)
	vp, err := v.VerifyPlatform(b.PlatformChain)
	require.NoError(t, err)
	assert.Equal(t, PlatformName, vp.Name)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "pki", rootCert), []byte("junk"), 0o644))
	_, err = LoadAuthority(context.Background(), dir)
	assert.Error(t, err)
}

// TestAuthorityMadeOnce: LoadAuthority calls at once on a new folder
// make one hierarchy, which they all return; a hierarchy made while
// another was renamed into place first (by a process that the setup lock
// does not keep out) gives way to it; a pki folder without its platform
// certificate is replaced; and no temporary folder or file is left
// behind.
func TestAuthorityMadeOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var as [4]*Authority
	var errs [4]error
	var wg sync.WaitGroup
	for i := range as {
		wg.Go(func() { as[i], errs[i] = LoadAuthority(ctx, dir) })
	}
	wg.Wait()
	for i := range as {
		require.NoError(t, errs[i])
		assert.Equal(t, as[0].Root.DER(), as[i].Root.DER())
		assert.Equal(t, as[0].PlatformChain, as[i].PlatformChain)
	}

	pdir := filepath.Join(dir, "pki")
	lost, err := newAuthority(dir, pdir)
	require.NoError(t, err)
	assert.Equal(t, as[0].Root.DER(), lost.Root.DER(), "the hierarchy in place")
	assert.True(t, as[0].PlatformKey.Equal(lost.PlatformKey))
	files, err := os.ReadDir(pdir)
	require.NoError(t, err)
	assert.Len(t, files, 6)
	root, err := LoadRoot(dir)
	require.NoError(t, err)
	assert.Equal(t, as[0].Root.DER(), root)

	require.NoError(t, os.Remove(filepath.Join(pdir, platformCert)))
	a, err := LoadAuthority(ctx, dir)
	require.NoError(t, err)
	assert.NotEqual(t, as[0].Root.DER(), a.Root.DER(), "a new hierarchy")
	b, err := LoadAuthority(ctx, dir)
	require.NoError(t, err)
	assert.Equal(t, a.Root.DER(), b.Root.DER())
	assert.Equal(t, a.PlatformChain, b.PlatformChain)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"pki", SetupLockFile}, names)
}

// TestAuthoritySyncsFolder: a new hierarchy's folder, renamed into place
// (over a pki folder without its platform certificate, too), is there
// when the data folder is synced, before newAuthority returns, so that a
// crash after it does not lose the hierarchy that cards are then issued
// under; a failed sync is reported.
func TestAuthoritySyncsFolder(t *testing.T) {
	dir := t.TempDir()
	pdir := filepath.Join(dir, "pki")
	fail := false
	var synced []bool // whether each sync of dir found the hierarchy
	watchSyncs(t, func(d string) error {
		if d != dir {
			return nil
		}
		_, err := os.Stat(filepath.Join(pdir, platformCert))
		synced = append(synced, err == nil)
		if fail {
			return errSync
		}
		return nil
	})
	_, err := newAuthority(dir, pdir)
	require.NoError(t, err)
	assert.Equal(t, []bool{true}, synced)

	require.NoError(t, os.Remove(filepath.Join(pdir, platformCert)))
	synced = nil
	_, err = newAuthority(dir, pdir)
	require.NoError(t, err)
	assert.Equal(t, []bool{true}, synced, "replaced")

	require.NoError(t, os.RemoveAll(pdir))
	synced, fail = nil, true
	_, err = newAuthority(dir, pdir)
	assert.ErrorIs(t, err, errSync)
	assert.Equal(t, []bool{true}, synced)
}

// TestSetupWaitsForLock: a Setup, or a LoadAuthority, of a data folder
// whose setup lock another holds waits for it, and fails with ctx's error
// when ctx ends first, having made nothing.
func TestSetupWaitsForLock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c, err := OpenCloud(ctx, CloudOptions{Dir: dir})
	require.NoError(t, err)
	defer c.Close()
	unlock, err := holdSetup(ctx, dir)
	require.NoError(t, err)
	ended, cancel := context.WithCancel(ctx)
	cancel()
	m := Grocery
	_, err = m.Setup(ended, c, dir)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = LoadAuthority(ended, dir)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = os.Stat(filepath.Join(dir, "cards"))
	assert.ErrorIs(t, err, fs.ErrNotExist, "no card made")
	require.NoError(t, unlock())
	_, err = m.Setup(ctx, c, dir)
	assert.NoError(t, err)
}

func TestMarketSetupOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c, err := OpenCloud(ctx, CloudOptions{Dir: dir})
	require.NoError(t, err)
	m := Grocery
	ids, err := m.Setup(ctx, c, dir)
	require.NoError(t, err)
	require.Len(t, ids, len(m.Parties))
	again, err := m.Setup(ctx, c, dir)
	require.NoError(t, err)
	assert.Equal(t, ids, again, "the same cards")
	b, err := c.Platform.Balance(ctx, ids["alice"], "EUR")
	require.NoError(t, err)
	assert.Equal(t, payflow.Balance{Posted: 5000}, b, "funded once")
	require.NoError(t, c.Close())

	// The cards power up from their files, with the ICCIDs enrolled.
	card, err := OpenCard(dir, "alice")
	require.NoError(t, err)
	assert.Equal(t, ids["alice"], card.ICCID)
	_, err = OpenCard(dir, "nobody")
	assert.ErrorIs(t, err, os.ErrNotExist)

	// A data folder whose database lost the cards is refused.
	require.NoError(t, os.Remove(filepath.Join(dir, DatabaseFile)))
	for _, f := range []string{"-wal", "-shm"} {
		os.Remove(filepath.Join(dir, DatabaseFile+f))
	}
	c, err = OpenCloud(ctx, CloudOptions{Dir: dir})
	require.NoError(t, err)
	defer c.Close()
	_, err = m.Setup(ctx, c, dir)
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	assert.EqualError(t, err, "demo: card alice ("+ids["alice"]+") is not enrolled in this database: payflow: not found", "the first card named")
}

// TestSetupOfCardsEnrolledElsewhere: a cloud opened on a data folder
// before another program's Setup enrolled its cards (two programs started
// at once on a new folder) names them once its own Setup has found them,
// however soon after its start: Setup loads the cards that the database
// holds into the platform's EID resolver. The cloud's clock stands still,
// so that the platform's own reload of the cards for an unknown EID,
// which it makes at most once a second, never comes; so does the phones'
// (WallClock), at the same time, so that their service queues keep the
// adverts heard then however long the setups and logins took (a peer not
// heard for queue.DefaultTTL is left out).
func TestSetupOfCardsEnrolledElsewhere(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	stopWallClock(t)
	at := WallClock()
	opts := CloudOptions{Dir: dir, Platform: payflow.PlatformOptions{Now: func() time.Time { return at }}}
	first, err := OpenCloud(ctx, opts)
	require.NoError(t, err)
	defer first.Close()
	c, err := OpenCloud(ctx, opts)
	require.NoError(t, err)
	defer c.Close()
	m := Grocery
	ids, err := m.Setup(ctx, first, dir)
	require.NoError(t, err)
	again, err := m.Setup(ctx, c, dir)
	require.NoError(t, err)
	require.Equal(t, ids, again)

	var out bytes.Buffer
	pr := NewPrinter(&out)
	root := c.Authority.Root.DER()
	var phones []*Phone
	for _, name := range []string{"alice", "till"} {
		card, err := OpenCard(dir, name)
		require.NoError(t, err)
		defer card.Close()
		ph, err := NewPhone(m.Party(name), card, c.Platform, pr.Screen(name), root)
		require.NoError(t, err)
		require.NoError(t, ph.Login(ctx))
		phones = append(phones, ph)
	}
	alice, till := phones[0], phones[1]
	require.NoError(t, NewRadio(1, 0).Broadcast([]*Station{alice.Station, till.Station}, []*Listener{alice.Scanner, till.Scanner}, at))
	sellers, err := alice.ServiceQueue(ctx)
	require.NoError(t, err)
	if assert.Len(t, sellers, 1, out.String()) {
		assert.Equal(t, "Corner Grocer", sellers[0].Name)
		assert.Equal(t, "corner-grocer", sellers[0].MerchantID)
	}
	shoppers, err := till.ServiceQueue(ctx)
	require.NoError(t, err)
	if assert.Len(t, shoppers, 1, out.String()) {
		assert.Equal(t, "Alice", shoppers[0].Name)
	}
}

func TestOpenCloudFails(t *testing.T) {
	// A database that cannot be opened: the folder is a file.
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, DatabaseFile), 0o700))
	_, err := OpenCloud(context.Background(), CloudOptions{Dir: dir})
	var serr *sqlite.Error
	if assert.ErrorAs(t, err, &serr) {
		assert.Equal(t, sqlite3.SQLITE_CANTOPEN, serr.Code(), "%v", err)
	}
	_, err = OpenCloud(context.Background(), CloudOptions{})
	assert.ErrorIs(t, err, ErrNoDataDir)
}

// TestRadioRounds: rounds of adverts fill the listeners' queues, and stop
// with ctx's error, nothing heard, once ctx has ended (an interrupt).
func TestRadioRounds(t *testing.T) {
	ctx := context.Background()
	c, err := OpenCloud(ctx, CloudOptions{Dir: t.TempDir()})
	require.NoError(t, err)
	defer c.Close()
	m := Grocery
	cards, err := m.SetupInMemory(ctx, c)
	require.NoError(t, err)
	var stations []*Station
	for _, name := range []string{"alice", "till"} {
		stations = append(stations, &Station{Party: m.Party(name), Card: cards[name]})
	}
	listener := func() *Listener {
		q, err := queue.New(adv.Shopper, queue.Options{})
		require.NoError(t, err)
		return &Listener{Party: m.Party("alice"), Queue: q}
	}

	heard := listener()
	require.NoError(t, NewRadio(1, 0).Rounds(ctx, 3, stations, []*Listener{heard}))
	assert.Len(t, heard.Queue.Snapshot(), 1, "the till")

	ended, cancel := context.WithCancel(ctx)
	cancel()
	deaf := listener()
	assert.ErrorIs(t, NewRadio(1, 0).Rounds(ended, 3, stations, []*Listener{deaf}), context.Canceled)
	assert.Empty(t, deaf.Queue.Snapshot())
}

func TestAirBetweenPhones(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c, err := OpenCloud(ctx, CloudOptions{Dir: dir})
	require.NoError(t, err)
	defer c.Close()
	m := Grocery
	_, err = m.Setup(ctx, c, dir)
	require.NoError(t, err)
	var stations []*Station
	for _, name := range []string{"till", "coffee-cart", "bob"} {
		card, err := OpenCard(dir, name)
		require.NoError(t, err)
		stations = append(stations, &Station{Party: m.Party(name), Card: card})
	}
	air := Air{Dir: dir}
	now := time.Now()
	require.NoError(t, air.Send(stations, now))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "air", "junk.adv"), []byte("noise"), 0o600))

	q, err := queue.New(adv.Shopper, queue.Options{Now: func() time.Time { return now }}) // keeps what it heard
	require.NoError(t, err)
	l := &Listener{Party: m.Party("alice"), Queue: q}
	require.NoError(t, air.Receive(NewRadio(1, 0), l, nil, now))
	assert.Len(t, q.Snapshot(), 2, "the two sellers; the shopper's own role and the noise are left out")

	// Adverts fade once their phone stops writing them.
	q2, err := queue.New(adv.Shopper, queue.Options{})
	require.NoError(t, err)
	l2 := &Listener{Party: m.Party("alice"), Queue: q2}
	require.NoError(t, air.Receive(NewRadio(1, 0), l2, nil, now.Add(AirTTL+time.Second)))
	assert.Empty(t, q2.Snapshot())
}

func TestMoney(t *testing.T) {
	tests := []struct {
		amount uint64
		unit   string
		want   string
	}{
		{1127, "EUR", "EUR 11.27"},
		{5, "JPY", "JPY 5"},
		{1, "ARENA-1231-A12", "1 ARENA-1231-A12"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Money(tt.amount, tt.unit))
	}
	assert.Equal(t, "0.45", Amount(45, "EUR"))
	assert.Equal(t, "3", Amount(3, "ARENA-1231-A12"), "an asset's units")
}

func TestScreen(t *testing.T) {
	var out bytes.Buffer
	p := NewPrinter(&out)
	p.Screen("seller").Printf("one\n  two  \n")
	p.Screen("cloud").Printf("three")
	assert.Equal(t, "[seller]  one\n[seller]    two\n[cloud]   three\n", out.String())
}

// TestScreensAtOnce: screens of one Printer printing at once write each
// Printf's lines together, none cut into another's.
func TestScreensAtOnce(t *testing.T) {
	var out bytes.Buffer
	p := NewPrinter(&out)
	var wg sync.WaitGroup
	for _, label := range []string{"shopper", "seller"} {
		wg.Go(func() {
			for range 100 {
				p.Screen(label).Printf("one\ntwo")
			}
		})
	}
	wg.Wait()
	lines := strings.SplitAfter(out.String(), "\n")
	require.Len(t, lines, 401, "400 lines and what follows the last")
	for i := 0; i < 400; i += 2 {
		label := lines[i][:10]
		assert.Equal(t, []string{label + "one\n", label + "two\n"}, lines[i:i+2])
	}
}

// TestWriteFile: a file is replaced whole, with the permissions asked for,
// also by writers at once, and no temporary file is left behind.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "platform.pem")
	require.NoError(t, os.WriteFile(name, []byte("old"), 0o600))
	for _, durable := range []bool{false, true} {
		require.NoError(t, writeFile(name, []byte(fmt.Sprint("new ", durable)), 0o644, durable))
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint("new ", durable), string(b))
		fi, err := os.Stat(name)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
	}
	// Writers at once of one name each write a file of their own: all
	// succeed, and the last rename's file is in place, whole.
	var wg sync.WaitGroup
	var errs [8]error
	for i := range errs {
		wg.Go(func() { errs[i] = writeFile(name, []byte(fmt.Sprint("writer ", i)), 0o644, true) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	assert.Regexp(t, `^writer [0-7]$`, string(b))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1)
	assert.ErrorIs(t, writeFile(filepath.Join(dir, "no", "such", "dir"), nil, 0o600, true), fs.ErrNotExist)
}

// TestWriteFileRemovesStaleTemporaries: a temporary file of the same name
// that a writer killed before its rename left behind is removed by the next
// write once it is older than tempfile.Stale; a younger one, which a writer
// in another process may be filling, stays (internal/tempfile tests which
// files count as the name's).
func TestWriteFileRemovesStaleTemporaries(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "cloud.url")
	stale := filepath.Join(dir, ".cloud.url.tmp123")
	young := filepath.Join(dir, ".cloud.url.tmp456")
	for _, f := range []string{stale, young} {
		require.NoError(t, os.WriteFile(f, []byte("part"), 0o600))
	}
	old := time.Now().Add(-tempfile.Stale - time.Minute)
	require.NoError(t, os.Chtimes(stale, old, old))
	require.NoError(t, writeFile(name, []byte("url\n"), 0o600, false))
	assert.NoFileExists(t, stale)
	assert.FileExists(t, young)
	assert.FileExists(t, name)
}

// setUpFolder returns a data folder that a cloud set up with the grocery
// market, the cloud closed.
func setUpFolder(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	c, err := OpenCloud(ctx, CloudOptions{Dir: dir})
	require.NoError(t, err)
	_, err = Grocery.Setup(ctx, c, dir)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	return dir
}

// setUpCloud returns the cloud of a data folder that it set up with the
// grocery market, closed when the test ends, and the ICCIDs of the cards
// by name.
func setUpCloud(t *testing.T) (*Cloud, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	c := openCloud(t, dir)
	ids, err := Grocery.Setup(context.Background(), c, dir)
	require.NoError(t, err)
	return c, ids
}

// openCloud returns the cloud of the data folder dir, closed when the
// test ends.
func openCloud(t *testing.T, dir string) *Cloud {
	t.Helper()
	c, err := OpenCloud(context.Background(), CloudOptions{Dir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestPhoneLoginBoundedByWait: against a cloud that accepts connections
// and never answers, the phone programs give up on the login once -wait
// has passed, with ErrNoAnswer, rather than after the client's retries:
// the test has the login's wait pass as the cloud receives the login,
// and the client gives up on that first attempt only after its attempt
// timeout (payflow.DefaultAttemptTimeout): the run is ended at its second
// attempt, which a login bounded by -wait never sends.
func TestPhoneLoginBoundedByWait(t *testing.T) {
	dir := setUpFolder(t)
	for name, run := range map[string]func(context.Context, []string, io.Writer) error{"seller": RunSeller, "shopper": RunShopper} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := outwait.Context(t)
			defer cancel()
			retried := outwait.NewDeadline(ctx)
			waits := &outwait.Waits{}
			waits.Use(t, &WithWait)
			var attempts atomic.Int64
			silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if attempts.Add(1) > 1 {
					retried.Pass()
				} else {
					assert.True(t, waits.Pass(0), "the login's wait was made")
				}
				io.Copy(io.Discard, r.Body) // so that the call's end ends r's context
				<-r.Context().Done()        // never answered
			}))
			defer silent.Close()
			var out bytes.Buffer
			err := run(retried, []string{"-data", dir, "-url", silent.URL, "-wait", "1h"}, &out)
			silent.CloseClientConnections()
			require.ErrorIs(t, err, ErrNoAnswer)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.EqualError(t, err, "demo: the cloud did not answer in time: logging in to "+silent.URL+" within -wait 1h0m0s: context deadline exceeded")
			assert.EqualValues(t, 1, attempts.Load(), "the login was sent once")
			assert.NoError(t, retried.Err(), "the program ended before the client sent the login again")
			assert.Equal(t, 1, waits.Len(), "the login's wait alone")
		})
	}
}

// TestPhoneLoginRefusedUntilWait: a cloud that refuses connections (it
// is not up yet, or restarting) is asked again until -wait has passed:
// the phone programs give up with ErrNoAnswer rather than once the
// client's few attempts (payflow.DefaultMaxAttempts) ended. The test has
// the login's wait pass as the first connection of the login asked again
// is refused, the one after the client's attempts, and the program then
// makes no other. The run is in a synctest bubble, in which the client's
// pauses between its attempts, and the program's before it asks again,
// take no time.
func TestPhoneLoginRefusedUntilWait(t *testing.T) {
	dir := setUpFolder(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	for name, run := range map[string]func(context.Context, []string, io.Writer) error{"seller": RunSeller, "shopper": RunShopper} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				waits := &outwait.Waits{}
				waits.Use(t, &WithWait)
				var dials atomic.Int64
				var dialer net.Dialer
				old := httpClient
				httpClient = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := dialer.DialContext(ctx, network, addr)
					if dials.Add(1) == payflow.DefaultMaxAttempts+1 {
						assert.ErrorIs(t, err, syscall.ECONNREFUSED)
						assert.True(t, waits.Pass(0), "the login's wait was made")
					}
					return c, err
				}}}
				t.Cleanup(func() { httpClient = old })
				var out bytes.Buffer
				err := run(context.Background(), []string{"-data", dir, "-url", url, "-wait", "1s"}, &out)
				require.ErrorIs(t, err, ErrNoAnswer)
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				assert.EqualError(t, err, "demo: the cloud did not answer in time: logging in to "+url+" within -wait 1s: context deadline exceeded")
				assert.EqualValues(t, payflow.DefaultMaxAttempts+1, dials.Load(), "the connections refused")
				assert.Equal(t, fmt.Sprintf("%-10sCloud at %s\n", "["+name+"]", url), out.String())
				assert.Equal(t, 1, waits.Len(), "the login's wait alone")
			})
		})
	}
}

// TestPhoneNoCloudHint: the phone programs tell to start the cloud first
// only when the data folder has no card or no root certificate; an
// unreadable one is reported as it is.
func TestPhoneNoCloudHint(t *testing.T) {
	ctx := context.Background()
	dir := setUpFolder(t)
	const hint = " (start the cloud with this data folder first)"
	run := func(t *testing.T, dir string) error {
		t.Helper()
		var out bytes.Buffer
		err := RunSeller(ctx, []string{"-data", dir, "-url", "http://127.0.0.1:1", "-wait", "200ms"}, &out)
		assert.Empty(t, out.String(), "refused before the phone starts")
		return err
	}

	t.Run("no card", func(t *testing.T) {
		empty := t.TempDir()
		err := run(t, empty)
		require.ErrorIs(t, err, fs.ErrNotExist)
		assert.EqualError(t, err, "demo: card till: stat "+CardPath(empty, "till")+": no such file or directory"+hint)
	})
	t.Run("garbage card", func(t *testing.T) {
		garbage := t.TempDir()
		require.NoError(t, os.Mkdir(filepath.Join(garbage, "cards"), 0o700))
		require.NoError(t, os.WriteFile(CardPath(garbage, "till"), []byte("garbage"), 0o600))
		err := run(t, garbage)
		require.ErrorIs(t, err, applet.ErrState)
		assert.EqualError(t, err, "demo: card till: applet: unreadable card state: bad layout")
	})
	t.Run("no root", func(t *testing.T) {
		require.NoError(t, os.Rename(RootPath(dir), RootPath(dir)+".saved"))
		defer func() { require.NoError(t, os.Rename(RootPath(dir)+".saved", RootPath(dir))) }()
		err := run(t, dir)
		require.ErrorIs(t, err, fs.ErrNotExist)
		assert.EqualError(t, err, "demo: open "+RootPath(dir)+": no such file or directory"+hint)
	})
	t.Run("malformed root", func(t *testing.T) {
		saved, err := os.ReadFile(RootPath(dir))
		require.NoError(t, err)
		defer func() { require.NoError(t, os.WriteFile(RootPath(dir), saved, 0o644)) }()
		require.NoError(t, os.WriteFile(RootPath(dir), []byte("junk"), 0o644))
		err = run(t, dir)
		assert.EqualError(t, err, "demo: "+RootPath(dir)+": want one certificate: pki: invalid argument: no PEM certificate found")
		assert.ErrorIs(t, err, pki.ErrInvalid, "the cause kept")
	})
}

// TestPhoneRefusedURL: a -url that payflow.NewClient refuses is a usage
// error (exit status 2), reported before the program opens its card.
func TestPhoneRefusedURL(t *testing.T) {
	dir := setUpFolder(t)
	for name, run := range map[string]func(context.Context, []string, io.Writer) error{"seller": RunSeller, "shopper": RunShopper} {
		for _, u := range []string{"ftp://127.0.0.1:1", "127.0.0.1:8080", "http://[::1"} {
			t.Run(name+" "+u, func(t *testing.T) {
				var out bytes.Buffer
				err := run(context.Background(), []string{"-data", dir, "-url", u, "-wait", "200ms"}, &out)
				require.ErrorIs(t, err, ErrUsage)
				assert.ErrorIs(t, err, payflow.ErrInvalid)
				assert.Empty(t, out.String(), "refused before the card opens")
			})
		}
	}
}

// TestPhoneRefusedPick: a -pick that no phone's name can be (the rule of
// record.CheckName, which the cloud enforces at enrolment) is a usage
// error (exit status 2), reported before the program opens its card or
// logs in, rather than after -wait, as a name not found.
func TestPhoneRefusedPick(t *testing.T) {
	dir := setUpFolder(t)
	for name, run := range map[string]func(context.Context, []string, io.Writer) error{"seller": RunSeller, "shopper": RunShopper} {
		for pick, why := range map[string]string{
			"":       fmt.Sprintf("must be 1 to %d bytes", record.MaxText),
			"Alice ": "must not start or end with white space",
			"A\tB":   "must not contain control characters",
		} {
			t.Run(fmt.Sprintf("%s %q", name, pick), func(t *testing.T) {
				var out bytes.Buffer
				err := run(context.Background(), []string{"-data", dir, "-url", "http://127.0.0.1:1", "-wait", "200ms", "-pick", pick}, &out)
				require.ErrorIs(t, err, ErrUsage)
				assert.ErrorIs(t, err, record.ErrMalformed)
				assert.EqualError(t, err, fmt.Sprintf("demo: invalid usage: -pick %q is no phone's name: record: name %s", pick, why))
				assert.Empty(t, out.String(), "refused before the card opens")
			})
		}
	}
}

// TestPhoneRefusedData: an empty -data is a usage error (exit status 2),
// as it is for the cloud program, reported before the program reads
// anything, rather than the files of the working folder taken for a data
// folder's.
func TestPhoneRefusedData(t *testing.T) {
	for name, run := range map[string]func(context.Context, []string, io.Writer) error{"seller": RunSeller, "shopper": RunShopper} {
		for _, args := range [][]string{{"-data", ""}, {"-data", "", "-url", "http://127.0.0.1:1"}} {
			t.Run(fmt.Sprint(name, " ", args), func(t *testing.T) {
				var out bytes.Buffer
				err := run(context.Background(), append(args, "-wait", "200ms"), &out)
				require.ErrorIs(t, err, ErrUsage)
				assert.EqualError(t, err, "demo: invalid usage: -data needs a folder")
				assert.Empty(t, out.String(), "refused before the card opens")
			})
		}
	}
}

// TestCheckData: a -data that names a file, or a path through a file (by
// one folder or more), is a usage error that says it is not a folder; a
// folder, a path not made yet and no -data at all (a program's temporary
// folder) are taken.
func TestCheckData(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	for _, bad := range []string{file, filepath.Join(file, "data"), filepath.Join(file, "a", "data")} {
		err := CheckData(bad)
		require.ErrorIs(t, err, ErrUsage)
		assert.EqualError(t, err, "demo: invalid usage: -data "+bad+" is not a folder")
	}
	for _, good := range []string{dir, filepath.Join(dir, "new", "data"), ""} {
		assert.NoError(t, CheckData(good), "%q", good)
	}
}

// watchSyncs replaces syncDir for the test with one that calls sync, if
// not nil, with the path of the folder, returns its error, and otherwise
// syncs the folder.
func watchSyncs(t *testing.T, sync func(dir string) error) {
	t.Helper()
	saved := syncDir
	t.Cleanup(func() { syncDir = saved })
	syncDir = func(d *os.File) error {
		if err := sync(d.Name()); err != nil {
			return err
		}
		return saved(d)
	}
}

// errSync is the error of a folder's sync in tests.
var errSync = errors.New("sync failed")

// TestWriteFileSyncsFolder: a durable write syncs the file's folder once
// the new file is in place, so that a crash after it returns does not
// bring back the old file, and reports a failed sync; a write that is not
// durable syncs no folder.
func TestWriteFileSyncsFolder(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "root.pem")
	var synced []string
	fail := false
	watchSyncs(t, func(d string) error {
		b, _ := os.ReadFile(name)
		synced = append(synced, d+": "+string(b))
		if fail {
			return errSync
		}
		return nil
	})
	require.NoError(t, writeFile(name, []byte("volatile"), 0o644, false))
	assert.Empty(t, synced)
	require.NoError(t, writeFile(name, []byte("durable"), 0o644, true))
	assert.Equal(t, []string{dir + ": durable"}, synced)
	require.NoError(t, WriteDurable(name, []byte("again"), 0o644))
	assert.Equal(t, []string{dir + ": durable", dir + ": again"}, synced)

	fail = true
	assert.ErrorIs(t, WriteDurable(name, []byte("unsynced"), 0o644), errSync)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left")
}

// TestMkdirDurable: mkdirDurable makes a folder and the folders above it
// that are missing, and syncs the folder that holds each one it makes
// once that one is there, so that a crash after it returns does not lose
// them; when the folder exists it syncs the one that holds it all the
// same (a setup killed between making the folder and that sync left it
// unsynced), and it reports a failed sync.
func TestMkdirDurable(t *testing.T) {
	base := t.TempDir()
	a := filepath.Join(base, "a")
	b := filepath.Join(a, "b")
	var synced []string // each folder synced, and whether the one made in it was there
	fail := false
	watchSyncs(t, func(d string) error {
		var made string
		switch d {
		case base:
			made = a
		case a:
			made = b
		}
		_, err := os.Stat(made)
		synced = append(synced, fmt.Sprintf("%s: %t", d, made != "" && err == nil))
		if fail {
			return errSync
		}
		return nil
	})
	require.NoError(t, mkdirDurable(b))
	assert.Equal(t, []string{base + ": true", a + ": true"}, synced)
	synced = nil
	require.NoError(t, mkdirDurable(b))
	assert.Equal(t, []string{a + ": true"}, synced, "the folder exists")
	fail = true
	assert.ErrorIs(t, mkdirDurable(b), errSync, "the folder exists")
	fail = false

	fail = true
	c := filepath.Join(b, "c")
	assert.ErrorIs(t, mkdirDurable(c), errSync)
	assert.DirExists(t, c)
}

// TestSetupSyncsNewFolders: the data folder and the cards folder that a
// setup makes are in the folders that hold them when those are synced,
// before the setup returns, so that a crash after it loses neither, nor
// the hierarchy and the card files synced into them.
func TestSetupSyncsNewFolders(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	cards := filepath.Dir(CardPath(dir, ""))
	var synced []string // the folders synced once the folder made in them was there
	watchSyncs(t, func(d string) error {
		for _, made := range []string{dir, cards} {
			if _, err := os.Stat(made); err == nil && filepath.Dir(made) == d {
				synced = append(synced, made)
			}
		}
		return nil
	})
	c := openCloud(t, dir)
	assert.Contains(t, synced, dir, "the data folder")
	synced = nil
	_, err := ensureCard(ctx, c, dir, "alice", "Alice")
	require.NoError(t, err)
	assert.Contains(t, synced, cards)
}

// TestSyncFolder: syncing a folder on the system it runs on succeeds, and
// so does a durable write into it, on Windows too, whose FlushFileBuffers
// refuses a folder's handle.
func TestSyncFolder(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, syncFolder(dir))
	require.NoError(t, WriteDurable(filepath.Join(dir, "root.pem"), []byte("durable"), 0o644))
	require.NoError(t, mkdirDurable(filepath.Join(dir, "a", "b")))
}

// folderState is what a folder holds, by path: each entry's mode, size
// and modification time.
func folderState(t *testing.T, dir string) map[string]string {
	t.Helper()
	state := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		state[path] = fi.Mode().String() + " " + fi.ModTime().Format(time.RFC3339Nano)
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			state[path] += " " + string(b)
		}
		return nil
	}))
	return state
}

// TestOpenCloudAuthorityMissing: a data folder that holds the state of
// an earlier setup (its cards, or its database) but not the demo CA that
// issued its cards (pki/ removed, or left without its platform
// certificate) is refused by OpenCloud with ErrAuthorityMissing, whose
// message says what is missing and what to do, and the folder is left as
// it was: no new CA, under which the cards' logins would fail with an
// unknown authority, nor anything else.
func TestOpenCloudAuthorityMissing(t *testing.T) {
	for _, tt := range []struct {
		name   string
		remove []string // what is removed of a folder set up
		holds  string   // what the error names as held
	}{
		{"pki removed", []string{"pki"}, filepath.Join("cards", "alice.card")},
		{"pki incomplete", []string{filepath.Join("pki", platformCert)}, filepath.Join("cards", "alice.card")},
		{"pki and cards removed", []string{"pki", "cards"}, DatabaseFile},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := setUpFolder(t)
			for _, name := range tt.remove {
				require.NoError(t, os.RemoveAll(filepath.Join(dir, name)))
			}
			before := folderState(t, dir)
			_, err := OpenCloud(context.Background(), CloudOptions{Dir: dir})
			require.ErrorIs(t, err, ErrAuthorityMissing)
			assert.Equal(t, "demo: the data folder's certificate authority is missing: "+dir+" holds the state of an earlier setup ("+
				filepath.Join(dir, tt.holds)+") but not the demo CA that issued its cards ("+filepath.Join(dir, "pki", platformCert)+
				"); a new CA would not know them and their logins would fail: restore "+filepath.Join(dir, "pki")+
				", or remove the whole folder "+dir+" to start anew", err.Error())
			assert.Equal(t, before, folderState(t, dir), "nothing changed")
		})
	}
}
