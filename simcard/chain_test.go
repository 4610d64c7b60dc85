package simcard_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errLink = errors.New("link lost")

// flaky is a Transmitter in front of a card whose exchanges fail with
// errLink for the commands that fail names (counted from 1): a command
// named true reaches the card and only its answer is lost, one named false
// is lost on its way. It logs the commands.
type flaky struct {
	t    simcard.Transmitter
	fail map[int]bool
	log  [][]byte
}

func (f *flaky) Transmit(cmd []byte) ([]byte, error) {
	f.log = append(f.log, bytes.Clone(cmd))
	reached, ok := f.fail[len(f.log)]
	if !ok {
		return f.t.Transmit(cmd)
	}
	if reached {
		_, _ = f.t.Transmit(cmd)
	}
	return nil, errLink
}

// failNext has the k-th command from now fail (see flaky).
func (f *flaky) failNext(k int, reached bool) { f.fail[len(f.log)+k] = reached }

// TestChainLeftByFailedExchange: an exchange that fails in the middle of a
// command chain may leave the chain on the card, which would answer the
// next command 6883 whatever it is (a VERIFY then clearing the PIN
// verification), or take it as the chain's next link. The next exchange
// first ends that chain with a GET RESPONSE, whose answer counts for
// nothing, so that a chain broken at any link, on its way to the card or
// on the answer's, leaves the next methods working, the PIN verified.
func TestChainLeftByFailedExchange(t *testing.T) {
	getResponse := []byte{0x00, simcard.InsGetResponse, 0x00, 0x00, 0x00}
	for _, link := range []int{1, 2, 3} {
		for _, reached := range []bool{false, true} {
			t.Run(fmt.Sprintf("link %d, reached %v", link, reached), func(t *testing.T) {
				v := newCard(t)
				f := &flaky{t: v.Applet, fail: map[int]bool{}}
				c := simcard.New(f)
				r := &record.PaymentRequest{RequestID: make16(1), SessionID: make16(2), PayerCardID: v.Enrolment.ICCID,
					MerchantID: "grocer-1", Currency: "EUR", Amount: 1}
				for i := range 8 {
					r.Items = append(r.Items, record.Item{SKU: strings.Repeat("s", record.MaxText-1) + string(rune('a'+i)), Quantity: 1})
				}
				payload, err := record.Marshal(r)
				require.NoError(t, err)
				require.Equal(t, 3, (len(payload)+254)/255, "a chain of three links")
				require.NoError(t, c.VerifyPIN(simcardtest.PIN))

				f.failNext(link, reached)
				_, err = c.SignPaymentRequest(r)
				require.ErrorIs(t, err, errLink)
				sent := len(f.log)
				msg, err := c.SignPaymentRequest(r)
				require.NoError(t, err, "the same record signed again")
				assert.Equal(t, getResponse, f.log[sent], "the chain ended first")
				var got record.PaymentRequest
				require.NoError(t, record.Verify(msg, v.Enrolment.PublicKey, &got))
				assert.Equal(t, r.Items, got.Items)

				f.failNext(link, reached)
				_, err = c.SignPaymentRequest(r)
				require.ErrorIs(t, err, errLink)
				ok, err := c.PINVerified()
				require.NoError(t, err)
				assert.True(t, ok, "the PIN is still verified")
				f.failNext(link, reached)
				_, err = c.SignPaymentRequest(r)
				require.ErrorIs(t, err, errLink)
				require.NoError(t, c.VerifyPIN(simcardtest.PIN))
			})
		}
	}
	t.Run("the end of the chain fails too", func(t *testing.T) {
		v := newCard(t)
		f := &flaky{t: v.Applet, fail: map[int]bool{}}
		c := simcard.New(f)
		data := make([]byte, 300)
		put := simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsPutData, P1: 0x01, P2: 0x07, Data: data}
		f.failNext(2, false)
		_, err := c.Exchange(put)
		require.ErrorIs(t, err, errLink)
		f.failNext(1, true)
		require.ErrorIs(t, c.VerifyPIN(simcardtest.PIN), errLink, "the GET RESPONSE failed: nothing else sent")
		assert.Equal(t, getResponse, f.log[len(f.log)-1])
		sent := len(f.log)
		require.NoError(t, c.VerifyPIN(simcardtest.PIN), "the chain is ended first, again")
		assert.Equal(t, getResponse, f.log[sent])
		sent = len(f.log)
		require.NoError(t, c.VerifyPIN(simcardtest.PIN))
		assert.Equal(t, simcard.InsVerify, f.log[sent][1], "and only once")
	})
}

// TestChainLeftOnItsChannel: the GET RESPONSE that ends a chain left by a
// failed exchange (a link lost, or taken and answered with a status word
// that aborts no command or with data) goes on the logical channel of that
// chain, where the card holds it, whatever the channel of the command that
// follows.
func TestChainLeftOnItsChannel(t *testing.T) {
	for _, tt := range []struct{ cla, link, end string }{
		{"02", "12", "02"}, {"4A", "5A", "4A"}, {"81", "91", "01"},
	} {
		t.Run("CLA "+tt.cla, func(t *testing.T) {
			s := &script{t: t, steps: [][2]string{
				{tt.link + "DA0107FF" + hexN(0, 255), "9000"},
				{tt.end + "C0000000", "6883"},
				{"00CA010100", "AABB9000"},
			}}
			f := &flaky{t: s, fail: map[int]bool{2: false}}
			c := simcard.New(f)
			_, err := c.Exchange(simcard.Command{CLA: unhex(t, tt.cla)[0], INS: simcard.InsPutData, P1: 0x01, P2: 0x07, Data: make([]byte, 300)})
			require.ErrorIs(t, err, errLink)
			got, err := c.GetData(simcard.TagICCID)
			require.NoError(t, err)
			assert.Equal(t, unhex(t, "AABB"), got)
			assert.Empty(t, s.steps)
		})
		// A link taken, and answered with a status word that aborts no
		// command or with data, leaves the chain on the same channel.
		for _, answer := range []string{"6283", "AA9000"} {
			t.Run("CLA "+tt.cla+", link answered "+answer, func(t *testing.T) {
				s := &script{t: t, steps: [][2]string{
					{tt.link + "DA0107FF" + hexN(0, 255), answer},
					{tt.end + "C0000000", "6883"},
					{"00CA010100", "AABB9000"},
				}}
				c := simcard.New(s)
				_, err := c.Exchange(simcard.Command{CLA: unhex(t, tt.cla)[0], INS: simcard.InsPutData, P1: 0x01, P2: 0x07, Data: make([]byte, 300)})
				require.ErrorIs(t, err, simcard.ErrResponse)
				got, err := c.GetData(simcard.TagICCID)
				require.NoError(t, err)
				assert.Equal(t, unhex(t, "AABB"), got)
				assert.Empty(t, s.steps)
			})
		}
	}
}

// TestChainLinkNotDone: a link of a command chain answered with a status
// word that aborts no command (61xx, a warning 62xx or 63xx, which ISO/IEC
// 7816-4 does not allow answering a link that is not the last, 9xxx other
// than 9000, or one outside ISO's classes) may leave the chain open on the
// card. The exchange fails with ErrResponse and a *StatusError naming the
// status word and the chain's instruction, and the next one first ends the
// chain with a GET RESPONSE on its channel, whose answer counts for
// nothing. A link answered with an error (SW1 64 to 6F) ends the chain on
// the card: the next exchange sends no GET RESPONSE first.
func TestChainLinkNotDone(t *testing.T) {
	for _, tt := range []struct {
		sw   string
		open bool
	}{
		{"6283", true}, {"6310", true}, {"63C1", true}, {"6105", true}, {"6100", true},
		{"9001", true}, {"6000", true}, {"7000", true},
		{"6400", false}, {"6581", false}, {"6700", false}, {"6883", false}, {"6985", false},
		{"6A80", false}, {"6C05", false}, {"6F00", false},
	} {
		t.Run(tt.sw, func(t *testing.T) {
			steps := [][2]string{{"90500200FF" + hexN(0, 255), tt.sw}}
			if tt.open {
				steps = append(steps, [2]string{"00C0000000", "6883"})
			}
			steps = append(steps, [2]string{"00CA010100", "AABB9000"})
			s := &script{t: t, steps: steps}
			c := simcard.New(s)
			_, err := c.Exchange(simcard.Command{CLA: simcard.ClassProprietary, INS: simcard.InsSignRecord, P1: 2, Data: make([]byte, 300), Ne: 256})
			var se *simcard.StatusError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, simcard.StatusError{SW: uint16(unhex(t, tt.sw)[0])<<8 | uint16(unhex(t, tt.sw)[1]), Ins: simcard.InsSignRecord}, *se)
			assert.Equal(t, tt.open, errors.Is(err, simcard.ErrResponse), "ErrResponse")
			assert.NotErrorIs(t, err, simcard.ErrWrongPIN)
			got, err := c.GetData(simcard.TagICCID)
			require.NoError(t, err)
			assert.Equal(t, unhex(t, "AABB"), got)
			assert.Empty(t, s.steps)
		})
	}
	t.Run("on the applet, the PIN still verified", func(t *testing.T) {
		// The applet answers the link 9000 and holds the chain; a card
		// that answers 6283 instead holds it too.
		v := newCard(t)
		warn := true
		i := &interceptor{a: v.Applet, hook: func(cmd []byte) []byte {
			if warn && cmd[0] == simcard.ClassProprietary|simcard.ClassChaining {
				warn = false
				_, _ = v.Applet.Transmit(cmd)
				return []byte{0x62, 0x83}
			}
			return nil
		}}
		c := simcard.New(i)
		require.NoError(t, c.VerifyPIN(simcardtest.PIN))
		_, err := c.Exchange(simcard.Command{CLA: simcard.ClassProprietary, INS: simcard.InsSignRecord, P1: 2, Data: make([]byte, 300), Ne: 256})
		require.ErrorIs(t, err, simcard.ErrResponse)
		ok, err := c.PINVerified()
		require.NoError(t, err)
		assert.True(t, ok, "the chain ended by GET RESPONSE, not by the VERIFY")
	})
}

// TestChainLinkAnsweredWithData: a link of a command chain other than the
// last is sent without Le, so the card answers it with no data (ISO/IEC
// 7816-4). A link answered 9000 with data is refused with ErrResponse, as
// any answer with more octets than its command's Le is, none of it used;
// the card took the link, so the next exchange first ends the chain with a
// GET RESPONSE on its channel, whose answer counts for nothing.
func TestChainLinkAnsweredWithData(t *testing.T) {
	s := &script{t: t, steps: [][2]string{
		{"90500200FF" + hexN(0, 255), "AA9000"},
		{"00C0000000", "6883"},
		{"00CA010100", "AABB9000"},
	}}
	c := simcard.New(s)
	_, err := c.Exchange(simcard.Command{CLA: simcard.ClassProprietary, INS: simcard.InsSignRecord, P1: 2, Data: make([]byte, 300), Ne: 256})
	require.ErrorIs(t, err, simcard.ErrResponse)
	var se *simcard.StatusError
	assert.False(t, errors.As(err, &se), "no status word but 9000 answered: %v", err)
	got, err := c.GetData(simcard.TagICCID)
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "AABB"), got)
	assert.Empty(t, s.steps)
}
