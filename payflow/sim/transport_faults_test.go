package sim

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// counting is a platform that counts the challenges and session reads it
// runs.
type counting struct {
	payflow.API
	challenges, sessions int
}

func (c *counting) Challenge(ctx context.Context, req *payflow.ChallengeRequest) (*payflow.ChallengeResponse, error) {
	c.challenges++
	return c.API.Challenge(ctx, req)
}

func (c *counting) Session(ctx context.Context, token string, id payflow.ID) (*payflow.SessionView, error) {
	c.sessions++
	return c.API.Session(ctx, token, id)
}

// TestTransportFaults sends POST challenges and GET session reads through
// the phones' transport with one fault kind injected, until it was
// injected 20 times, to a handler of the platform that counts what it
// runs: a lost request never runs and the phone gets no reply; a lost
// reply runs, and the phone gets no reply; a duplicate runs twice, and the
// phone gets the reply; a POST without the fault runs once and the phone
// gets its reply, as does every GET, which meets no fault.
func TestTransportFaults(t *testing.T) {
	for _, f := range []Fault{LostRequest, LostReply, Duplicate} {
		t.Run(f.String(), func(t *testing.T) {
			w := only(t, 5, f)
			s := w.shoppers[0]
			ok, err := w.login(s, record.RoleShopper)
			require.NoError(t, err)
			require.True(t, ok)
			body, err := cbor.Marshal(map[int]string{1: s.id})
			require.NoError(t, err)
			plat := &counting{API: w.plat}
			w.handler, err = payflow.NewHandler(plat, payflow.HandlerOptions{Now: w.clock, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			t.Cleanup(func() { w.handler.Close() })
			send := func(method, path string, body io.Reader) (*http.Response, error) {
				r, err := http.NewRequest(method, "http://platform.invalid"+path, body)
				require.NoError(t, err)
				r.Header.Set("Content-Type", payflow.ContentType)
				r.Header.Set("Authorization", "Bearer "+s.token)
				return transport{w}.RoundTrip(r)
			}
			for i := 0; w.stats.Faults[f] < 20 && i < 2000; i++ {
				before, ran := w.stats.Faults[f], plat.challenges
				resp, err := send(http.MethodPost, "/v1/challenges", bytes.NewReader(body))
				runs := plat.challenges - ran
				switch {
				case w.stats.Faults[f] == before:
					assert.Equal(t, 1, runs)
				case f == LostRequest:
					assert.Zero(t, runs)
				case f == LostReply:
					assert.Equal(t, 1, runs)
				default:
					assert.Equal(t, 2, runs)
				}
				if w.stats.Faults[f] > before && f != Duplicate {
					assert.ErrorIs(t, err, errNetwork)
					assert.Nil(t, resp)
				} else {
					require.NoError(t, err)
					got, err := io.ReadAll(resp.Body)
					require.NoError(t, err)
					assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", got)
				}

				before, ran = w.stats.Faults[f], plat.sessions
				resp, err = send(http.MethodGet, "/v1/sessions/"+payflow.ID{1}.String(), nil)
				require.NoError(t, err)
				assert.Equal(t, http.StatusNotFound, resp.StatusCode)
				assert.Equal(t, 1, plat.sessions-ran)
				assert.Equal(t, before, w.stats.Faults[f])
			}
			want := [numFaults]int{}
			want[f] = 20
			assert.Equal(t, want, w.stats.Faults)
		})
	}
}
