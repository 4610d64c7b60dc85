package pki

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/pki/record"
)

// editedPayload returns msg, a signed record of r's type, with its payload
// changed by edit and its signature kept: msg decoded into r, r changed by
// edit and encoded again in the place of its payload, which must keep its
// length, so that the message still decodes.
func editedPayload(t *testing.T, msg []byte, r record.Record, edit func()) []byte {
	t.Helper()
	require.NoError(t, record.Open(msg, r))
	before, err := record.Marshal(r)
	require.NoError(t, err)
	edit()
	after, err := record.Marshal(r)
	require.NoError(t, err)
	require.Len(t, after, len(before), "an edit that keeps the payload's length")
	require.NotEqual(t, before, after)
	require.Equal(t, 1, bytes.Count(msg, before))
	edited := bytes.Replace(msg, before, after, 1)
	require.NoError(t, record.Open(edited, r), "the edited message decodes")
	return edited
}

// tamperings returns msg tampered with in its signed part (the payload
// changed by each of edits, the signature kept) and in its signature
// (the last octet of r, and of s, flipped: a low-S signature still).
func tamperings(t *testing.T, msg []byte, edits map[string]func() []byte) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte, len(edits)+2)
	for name, edit := range edits {
		out["payload: "+name] = edit()
	}
	for name, i := range map[string]int{"signature: r": len(msg) - 33, "signature: s": len(msg) - 1} {
		b := bytes.Clone(msg)
		b[i] ^= 0x01
		out[name] = b
	}
	return out
}

// TestTamperedRecordRefused: a card record whose signed payload was
// changed after it was signed (its counter, its nonce), or whose
// signature was, is refused by VerifiedCard.VerifyRecord and by
// Challenger.Verify with record.ErrSignature itself (not its error of a
// signature's length or of a high s), and Challenger.Verify spends
// neither the nonce nor the counter on it: the record as signed is
// accepted afterwards.
func TestTamperedRecordRefused(t *testing.T) {
	ctx := context.Background()
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	c := newChallenger(t, h, clk, ChallengerOptions{})
	v := newVerifier(t, h, clk, VerifierOptions{})
	addCRLs(t, h, v)
	vc, err := v.VerifyCard(h.chain())
	require.NoError(t, err)

	nonce, err := c.NewNonce(ctx)
	require.NoError(t, err)
	msg := proof(t, h, testICCID, 5, nonce)
	var p record.AuthProof
	tampered := tamperings(t, msg, map[string]func() []byte{
		"counter": func() []byte { return editedPayload(t, msg, &p, func() { p.Counter = 6 }) },
		"nonce":   func() []byte { return editedPayload(t, msg, &p, func() { p.Nonce[0] ^= 0x01 }) },
	})
	for name, bad := range tampered {
		err := vc.VerifyRecord(bad, new(record.AuthProof))
		require.ErrorIs(t, err, record.ErrSignature, "VerifyRecord: %s", name)
		assert.Equal(t, record.ErrSignature, errors.Unwrap(err), "VerifyRecord: %s", name)

		_, err = c.Verify(ctx, h.chain(), bad, new(record.AuthProof))
		require.ErrorIs(t, err, record.ErrSignature, "Challenger.Verify: %s", name)
		assert.Equal(t, record.ErrSignature, errors.Unwrap(err), "Challenger.Verify: %s", name)
	}

	require.NoError(t, vc.VerifyRecord(msg, new(record.AuthProof)))
	got, err := c.Verify(ctx, h.chain(), msg, &p)
	require.NoError(t, err, "the record as signed, its nonce and counter unspent")
	assert.Equal(t, testICCID, got.CardID)
	assert.Equal(t, uint64(5), p.Counter)
	assert.Equal(t, nonce, p.Nonce)
}

// TestTamperedReceiptRefused: a receipt whose signed payload was changed
// after it was signed (its amount, a transfer ID), or whose signature was,
// is refused with record.ErrSignature itself by VerifiedPlatform's
// VerifyReceipt and VerifySignedReceipt and by Verifier.VerifyReceipt,
// whether it carries the platform's chain or is checked with the chain of
// now; the receipt as signed is accepted by each.
func TestTamperedReceiptRefused(t *testing.T) {
	h := newHierarchy(t)
	clk := newClock(t0.Add(time.Hour))
	v := newVerifier(t, h, clk, VerifierOptions{})
	addCRLs(t, h, v)
	key, chain := issuePlatform(t, h, 0)
	vp, err := v.VerifyPlatform(chain)
	require.NoError(t, err)

	plain, err := record.Sign(rand.Reader, key, sampleReceipt())
	require.NoError(t, err)
	for carried, msg := range map[bool][]byte{
		false: plain,
		true:  signReceipt(t, key, sampleReceipt(), chain),
	} {
		var rc record.Receipt
		tampered := tamperings(t, msg, map[string]func() []byte{
			"amount":      func() []byte { return editedPayload(t, msg, &rc, func() { rc.Amount++ }) },
			"transfer ID": func() []byte { return editedPayload(t, msg, &rc, func() { rc.TransferIDs[0][0] ^= 0x01 }) },
		})
		for name, bad := range tampered {
			err := vp.VerifyReceipt(bad, new(record.Receipt))
			require.ErrorIs(t, err, record.ErrSignature, "chain carried %v: VerifyReceipt: %s", carried, name)
			assert.Equal(t, record.ErrSignature, errors.Unwrap(err), "chain carried %v: VerifyReceipt: %s", carried, name)

			sr, err := record.DecodeReceipt(bad)
			require.NoError(t, err, "chain carried %v: %s decodes", carried, name)
			err = vp.VerifySignedReceipt(sr, new(record.Receipt))
			require.ErrorIs(t, err, record.ErrSignature, "chain carried %v: VerifySignedReceipt: %s", carried, name)
			assert.Equal(t, record.ErrSignature, errors.Unwrap(err), "chain carried %v: VerifySignedReceipt: %s", carried, name)

			_, err = v.VerifyReceipt(bad, chain, new(record.Receipt))
			require.ErrorIs(t, err, record.ErrSignature, "chain carried %v: Verifier.VerifyReceipt: %s", carried, name)
			assert.Equal(t, record.ErrSignature, errors.Unwrap(err), "chain carried %v: Verifier.VerifyReceipt: %s", carried, name)
		}

		require.NoError(t, vp.VerifyReceipt(msg, &rc), "chain carried %v", carried)
		assert.Equal(t, sampleReceipt(), &rc, "chain carried %v", carried)
		_, err = v.VerifyReceipt(msg, chain, &rc)
		require.NoError(t, err, "chain carried %v", carried)
	}
}
