package simcard_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// overOnlyByItsHeader returns a payment request of a card with the ICCID
// given whose message without its card header is within record.MaxMessage
// and with it, the counter next given, over it.
func overOnlyByItsHeader(t *testing.T, iccid string, next uint64) *record.PaymentRequest {
	t.Helper()
	id := bytes.Repeat([]byte{1}, record.IDSize)
	r := &record.PaymentRequest{RequestID: id, SessionID: id, PayerCardID: iccid,
		MerchantID: "grocer-1", Currency: "EUR", Amount: 1}
	for i := range record.MaxLegs {
		r.Legs = append(r.Legs, record.Leg{Asset: fmt.Sprintf("%064d", i), Amount: 1 << 62})
	}
	for i := range record.MaxItems {
		r.Items = append(r.Items, record.Item{SKU: fmt.Sprintf("%064d", i), Quantity: 1 << 62})
	}
	size := func() int {
		p, err := record.Marshal(r)
		require.NoError(t, err)
		return record.MessageSize(record.TypePaymentRequest, p)
	}
	// Shorten the SKU of the last item an octet at a time, and drop the
	// item when its SKU is down to its own digit, until the message fits:
	// it is then within a few octets of MaxMessage.
	for size() > record.MaxMessage {
		last := &r.Items[len(r.Items)-1]
		if len(last.SKU) > 2 {
			last.SKU = last.SKU[1:]
		} else {
			r.Items = r.Items[:len(r.Items)-1]
		}
	}
	withHeader := *r
	withHeader.CardHeader = record.CardHeader{CardID: iccid, Counter: next}
	p, err := record.Marshal(&withHeader)
	require.NoError(t, err)
	require.Greater(t, record.MessageSize(record.TypePaymentRequest, p), record.MaxMessage, "the card header takes it over")
	return r
}

// TestProtocolRecordOverOnlyByItsHeaderIsTheCards pins PROTOCOL.md §2.6:
// the phone sends the record's payload "exactly as `record.Marshal` writes
// it with the card header empty", and a record "that only its card header
// takes over is the card's to refuse (`6A80`)": Card sends it, in a chain,
// and returns the card's 6A80 (ErrRefused, not record.ErrMalformed); the
// card uses no counter.
func TestProtocolRecordOverOnlyByItsHeaderIsTheCards(t *testing.T) {
	v := newCard(t)
	rec := newRecorder(v.Applet, nil)
	c := simcard.New(rec)
	before, err := c.Counter()
	require.NoError(t, err)
	r := overOnlyByItsHeader(t, v.Enrolment.ICCID, before+1)
	payload, err := record.Marshal(r)
	require.NoError(t, err)

	sent := len(rec.commands())
	msg, err := c.SignPaymentRequest(r)
	assert.Nil(t, msg)
	var se *simcard.StatusError
	require.ErrorAs(t, err, &se, "the card's answer")
	assert.Equal(t, simcard.StatusError{SW: simcard.SWWrongData, Ins: simcard.InsSignRecord}, *se)
	assert.ErrorIs(t, err, simcard.ErrRefused)
	assert.NotErrorIs(t, err, record.ErrMalformed, "not refused before it was sent")

	// What was sent: the links of SIGN RECORD, their data the payload.
	var data []byte
	links := rec.commands()[sent:]
	require.NotEmpty(t, links, "the record was sent")
	for i, b := range links {
		cmd, err := simcard.ParseCommand(b)
		require.NoError(t, err)
		require.Equal(t, simcard.InsSignRecord, cmd.INS, "link %d", i)
		assert.Equal(t, byte(record.TypePaymentRequest), cmd.P1, "link %d: P1", i)
		data = append(data, cmd.Data...)
	}
	assert.Equal(t, payload, data, "the payload as record.Marshal writes it, the card header empty")

	after, err := c.Counter()
	require.NoError(t, err)
	assert.Equal(t, before, after, "the card used no counter")
}

// TestProtocolAuthenticateRefusalIsTheCards pins PROTOCOL.md §2.7: a
// challenge of a length outside 8–64 octets is refused "with
// `simcard.ErrRefused`, the error of the card's `6A80` for it": the card
// answers the command, sent as it is, 6A80, which is ErrRefused, as is
// Authenticate's refusal of the same challenge.
func TestProtocolAuthenticateRefusalIsTheCards(t *testing.T) {
	c := newCard(t).Card
	for _, n := range []int{simcard.MinChallenge - 1, simcard.MaxChallenge + 1} {
		challenge := bytes.Repeat([]byte{0xA5}, n)
		_, err := c.Exchange(simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsInternalAuth, Data: challenge, Ne: 256})
		var se *simcard.StatusError
		require.ErrorAs(t, err, &se, "challenge of %d octets", n)
		assert.Equal(t, simcard.StatusError{SW: simcard.SWWrongData, Ins: simcard.InsInternalAuth}, *se, "challenge of %d octets", n)
		assert.ErrorIs(t, err, simcard.ErrRefused, "the card's answer, challenge of %d octets", n)
		_, err = c.Authenticate(challenge)
		assert.ErrorIs(t, err, simcard.ErrRefused, "Authenticate, challenge of %d octets", n)
	}
}
