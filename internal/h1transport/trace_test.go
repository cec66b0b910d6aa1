package h1transport_test

import (
	"net/http"
	"net/http/httptrace"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// The fast path reports the request written and the answer's first byte
// to a client trace, once each, in that order, as http.Transport does.
func TestTraceWroteRequestAndFirstByte(t *testing.T) {
	up := newUpstream(t, keepAlive(okAnswer("x"), nil))
	std := &http.Transport{}
	t.Cleanup(std.CloseIdleConnections)
	for name, rt := range map[string]http.RoundTripper{
		"fast": newTransport(t, h1transport.Options{}, nil, nil),
		"std":  std,
	} {
		t.Run(name, func(t *testing.T) {
			var events []string
			req := newRequest(t, http.MethodGet, up.url())
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
				WroteRequest:         func(httptrace.WroteRequestInfo) { events = append(events, "wrote") },
				GotFirstResponseByte: func() { events = append(events, "first byte") },
			}))
			_, body := roundTrip(t, rt, req)
			assert.Equal(t, "x", body)
			assert.Equal(t, []string{"wrote", "first byte"}, events)
		})
	}
}
