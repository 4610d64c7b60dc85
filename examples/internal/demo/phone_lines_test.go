package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestPhoneLogsIn: a phone logged in shows whose card it is, a till
// knows its merchant, and a phone that heard nobody shows an empty
// service queue, in the plural.
func TestPhoneLogsIn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := newPhones(ctx, t, nil, nil)
	require.NoError(t, w.alice.Login(ctx))
	require.NoError(t, w.till.Login(ctx))
	assert.Equal(t, "", w.alice.MerchantID)
	assert.Equal(t, "corner-grocer", w.till.MerchantID)
	sellers, err := w.alice.ServiceQueue(ctx)
	require.NoError(t, err)
	assert.Empty(t, sellers)
	assert.Equal(t, "[shopper] Alice logged in with card "+w.cards["alice"].ICCID+" (the card signed the cloud's challenge)\n"+
		"[seller]  Corner Grocer till 1 logged in with card "+w.cards["till"].ICCID+" (the card signed the cloud's challenge)\n"+
		"[shopper] Service queue: 0 sellers nearby, nearest first\n", w.out.String())
}

// TestApproveWithPUK: on a card whose PIN is blocked, the shopper's phone
// given the PUK presents it, the PIN it approves with becoming the
// card's PIN, and approves with all its tries, each key shown masked.
func TestApproveWithPUK(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, v := blockedCardRequest(ctx, t, false)
	w.alice.PUK = simcardtest.PUK
	_, err := w.alice.Approve(ctx, v, PIN)
	require.NoError(t, err)
	assert.Equal(t, "[shopper] The card's PIN is blocked: the PUK unblocks it\n"+
		"[shopper] Enter PUK (3 of 3 tries left): ********\n"+
		"[shopper] PIN unblocked by the PUK; the card's PIN is now the new one\n"+
		"[shopper] Enter PIN (3 of 3 tries left): ******\n",
		strings.Join(strings.SplitAfter(w.out.String(), "\n")[:4], ""))
}

// TestUnblockPINNotBlocked: the PUK sets a new PIN on a card whose PIN is
// not blocked, too, and says so.
func TestUnblockPINNotBlocked(t *testing.T) {
	_, issuer, err := simcardtest.NewCA()
	require.NoError(t, err)
	v, err := simcardtest.NewCard(issuer, simcardtest.Options{})
	require.NoError(t, err)
	var out bytes.Buffer
	screen := NewPrinter(&out).Screen("vcard")
	require.NoError(t, UnblockPIN(v.Card, simcardtest.PUK, "654321", screen.Printf))
	assert.Equal(t, "[vcard]   Enter PUK (3 of 3 tries left): ********\n"+
		"[vcard]   PIN not blocked, set all the same with the PUK; the card's PIN is now the new one\n", out.String())
	require.NoError(t, v.Card.VerifyPIN("654321"))
}

// TestShowAgainSettling: a call sent again after the cloud answered that
// it still settles an approval of it says so.
func TestShowAgainSettling(t *testing.T) {
	var out bytes.Buffer
	p := &Phone{Screen: NewPrinter(&out).Screen("seller")}
	p.showAgain("payment request", payflow.ErrConflict)
	assert.Equal(t, "[seller]  The cloud is still settling an approval of the payment request: sending it again\n", out.String())
}

// TestSaleWithTickets: assets that go with a payment are shown on the
// till's basket, on the shopper's payment screen and on the receipt.
func TestSaleWithTickets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := newPairedPhones(ctx, t, nil, nil)
	const ticket = "ARENA-1231-A12"
	require.NoError(t, w.cloud.Platform.RegisterAsset(ctx, ticket, 1001))
	require.NoError(t, w.cloud.Platform.Issue(ctx, payflow.ID{9}, "corner-grocer", ticket, 5))
	require.NoError(t, w.cloud.Platform.OpenAccount(ctx, w.cards["alice"].ICCID, ticket))
	w.out.Reset()
	_, err := w.till.Charge(ctx, "Alice", []Item{{"milk", 1}}, []record.Leg{{Asset: ticket, Amount: 2}})
	require.NoError(t, err)
	v, err := w.alice.AwaitRequest(ctx)
	require.NoError(t, err)
	_, err = w.alice.Approve(ctx, v, PIN)
	require.NoError(t, err)
	lines := strings.SplitAfter(w.out.String(), "\n")
	for _, line := range []string{
		"[seller]     2 × " + ticket + "         (delivered with the payment)\n",
		"[shopper]    2 × " + ticket + "         you receive it with the payment\n",
		"[shopper]   2 × " + ticket + " delivered\n",
	} {
		assert.Contains(t, lines, line)
	}
}

// TestAwaitSettledDeclined: a till whose request the shopper declined
// says that it ended so, with no receipt.
func TestAwaitSettledDeclined(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := newPairedPhones(ctx, t, nil, nil)
	asked, err := w.till.Charge(ctx, "Alice", GroceryBasket, nil)
	require.NoError(t, err)
	_, err = w.alice.AwaitRequest(ctx)
	require.NoError(t, err)
	_, err = w.alice.Shopper.Decline(ctx)
	require.NoError(t, err)
	w.out.Reset()
	v, rc, err := w.till.AwaitSettled(ctx)
	require.NoError(t, err)
	assert.Nil(t, rc)
	assert.Equal(t, payflow.StateDeclined, v.State)
	assert.Equal(t, "[seller]  Request "+Short(asked.ID)+" ended "+payflow.StateDeclined+"\n", w.out.String())
}
