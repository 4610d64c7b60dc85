package vpcd_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/casimpay/casimpay/simcard/vpcd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestATRTCKOfAnEarlierProtocol: an ATR whose first TD offers T=1 and
// whose second offers T=0 has TCK, as one that offers T=1 anywhere does.
func TestATRTCKOfAnEarlierProtocol(t *testing.T) {
	atr := []byte{0x3B, 0x80, 0x81, 0x00}
	conn := &streamConn{r: bytes.NewReader([]byte{0, 1, vpcd.GetATR})}
	assert.ErrorIs(t, vpcd.Serve(context.Background(), conn, newCard(t), atr), vpcd.ErrATR, "no TCK")
	assert.Empty(t, conn.w.Bytes())

	atr = append(atr, 0x80^0x81) // TCK: T0 XOR TD1 XOR TD2 (00)
	conn = &streamConn{r: bytes.NewReader([]byte{0, 1, vpcd.GetATR})}
	require.NoError(t, vpcd.Serve(context.Background(), conn, newCard(t), atr))
	assert.Equal(t, append([]byte{0, byte(len(atr))}, atr...), conn.w.Bytes())
}

// TestServeControls: an empty frame is ErrFrame; power off, power on and
// reset are answered with nothing, then the ATR is sent when asked for.
func TestServeControls(t *testing.T) {
	conn := &streamConn{r: bytes.NewReader([]byte{0, 0})}
	assert.ErrorIs(t, vpcd.Serve(context.Background(), conn, newCard(t), nil), vpcd.ErrFrame)
	assert.Empty(t, conn.w.Bytes())

	for _, c := range []byte{vpcd.PowerOff, vpcd.PowerOn, vpcd.Reset} {
		conn := &streamConn{r: bytes.NewReader([]byte{0, 1, c, 0, 1, vpcd.GetATR})}
		require.NoError(t, vpcd.Serve(context.Background(), conn, newCard(t), nil), "control %02X", c)
		assert.Equal(t, append([]byte{0, byte(len(vpcd.DefaultATR))}, vpcd.DefaultATR...), conn.w.Bytes(), "control %02X", c)
	}
}
