package h1transport_test

import (
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

const earlyHints = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"

// Informational answers before the final one reach the client trace's
// Got1xxResponse (httputil.ReverseProxy relays them from there).
func TestEarlyHintsReachTrace(t *testing.T) {
	up := newUpstream(t, keepAlive(func(*http.Request) string {
		return earlyHints + "HTTP/1.1 100 Continue\r\n\r\n" + ok("final")
	}, nil))
	var dials dialCounter
	tr := newTransport(t, h1transport.Options{}, &dials, nil)

	for i := 0; i < 2; i++ {
		var codes []int
		var links []string
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			codes = append(codes, code)
			links = append(links, h.Get("Link"))
			return nil
		}}
		req := newRequest(t, http.MethodGet, up.url())
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		res, body := roundTrip(t, tr, req)
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "final", body)
		assert.Equal(t, []int{103, 100}, codes)
		assert.Equal(t, []string{"</style.css>; rel=preload", ""}, links)
	}
	assert.Equal(t, 1, dials.count(), "the connection was not reused after 1xx answers")
}

// Five informational answers are taken; a sixth fails the exchange, as
// does a 101 to a request that asked for no upgrade.
func TestInformationalLimits(t *testing.T) {
	cases := []struct {
		name    string
		answer  string
		wantErr string
	}{
		{"five 1xx", strings.Repeat(earlyHints, 5) + ok("final"), ""},
		{"six 1xx", strings.Repeat(earlyHints, 6) + ok("final"), "too many 1xx"},
		{"unexpected 101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: example\r\nConnection: Upgrade\r\n\r\n", "101 Switching Protocols"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, keepAlive(func(*http.Request) string { return tc.answer }, nil))
			tr := newTransport(t, h1transport.Options{}, nil, nil)
			res, err := tr.RoundTrip(newRequest(t, http.MethodGet, up.url()))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Nil(t, res)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			defer res.Body.Close()
			assert.Equal(t, http.StatusOK, res.StatusCode)
		})
	}
}

// An error from Got1xxResponse fails the exchange with that error.
func TestGot1xxResponseErrorFails(t *testing.T) {
	up := newUpstream(t, keepAlive(func(*http.Request) string { return earlyHints + ok("final") }, nil))
	tr := newTransport(t, h1transport.Options{}, nil, nil)
	refuse := assert.AnError
	req := newRequest(t, http.MethodGet, up.url())
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(int, textproto.MIMEHeader) error { return refuse },
	}))
	res, err := tr.RoundTrip(req)
	assert.Nil(t, res)
	assert.ErrorIs(t, err, refuse)
}
