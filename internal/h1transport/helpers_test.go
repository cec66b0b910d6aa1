package h1transport_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// guard bounds every wait of these tests: long enough never to fail a
// correct run on a loaded machine, short enough to fail instead of hanging.
const guard = 10 * time.Second

// upstream is a raw TCP server that writes exact bytes: serve runs for each
// accepted connection (n counts from 1). Cleanup closes the listener and
// every connection and waits for the serve goroutines.
type upstream struct {
	ln       net.Listener
	accepted atomic.Int32
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func newUpstream(tb testing.TB, serve func(n int, c net.Conn)) *upstream {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	u := &upstream{ln: ln}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(u.accepted.Add(1))
			u.mu.Lock()
			u.conns = append(u.conns, c)
			u.mu.Unlock()
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				defer c.Close()
				serve(n, c)
			}()
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		u.mu.Lock()
		for _, c := range u.conns {
			_ = c.Close()
		}
		u.mu.Unlock()
		u.wg.Wait()
	})
	return u
}

func (u *upstream) url() string { return "http://" + u.ln.Addr().String() + "/" }

// keepAlive serves requests on one connection until the client closes it,
// answering each with answer(req); it then sends the connection's number on
// closed (if not nil).
func keepAlive(answer func(req *http.Request) string, closed chan<- int) func(int, net.Conn) {
	return func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				if closed != nil {
					closed <- n
				}
				return
			}
			if _, err := io.WriteString(c, answer(req)); err != nil {
				return
			}
		}
	}
}

// ok is a complete 200 answer with a declared length.
func ok(body string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// okFor is ok(body) as the answer to req: without the body for HEAD.
func okFor(req *http.Request, body string) string {
	if req.Method == http.MethodHead {
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(body))
	}
	return ok(body)
}

// okAnswer answers every request with ok(body).
func okAnswer(body string) func(*http.Request) string {
	return func(*http.Request) string { return ok(body) }
}

// dialCounter counts the connections a transport dials.
type dialCounter struct {
	n atomic.Int32
	d net.Dialer
}

func (d *dialCounter) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.n.Add(1)
	return d.d.DialContext(ctx, network, addr)
}

func (d *dialCounter) count() int { return int(d.n.Load()) }

// newTransport returns a Transport whose fast path dials through fast (when
// not nil) and whose wrapped http.Transport dials through std (when not
// nil); its idle connections are closed at the end of the test.
func newTransport(tb testing.TB, opts h1transport.Options, fast, std *dialCounter) *h1transport.Transport {
	tb.Helper()
	st := &http.Transport{DisableCompression: true}
	if std != nil {
		st.DialContext = std.DialContext
	}
	if fast != nil {
		opts.DialContext = fast.DialContext
	}
	tr := h1transport.New(st, opts)
	tb.Cleanup(tr.CloseIdleConnections)
	return tr
}

// newRequest returns a body-less request bounded by the guard.
func newRequest(tb testing.TB, method, url string) *http.Request {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	tb.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	require.NoError(tb, err)
	return req
}

// roundTrip sends req and reads the whole answer.
func roundTrip(tb testing.TB, rt http.RoundTripper, req *http.Request) (*http.Response, string) {
	tb.Helper()
	res, err := rt.RoundTrip(req)
	require.NoError(tb, err)
	b, err := io.ReadAll(res.Body)
	require.NoError(tb, err)
	require.NoError(tb, res.Body.Close())
	return res, string(b)
}

// get sends a GET of url and returns the answer's body.
func get(tb testing.TB, rt http.RoundTripper, url string) string {
	tb.Helper()
	_, body := roundTrip(tb, rt, newRequest(tb, http.MethodGet, url))
	return body
}

// recv waits for a value on ch, failing after the guard.
func recv[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(guard):
		tb.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// noValue asserts nothing is on ch now.
func noValue[T any](tb testing.TB, ch <-chan T, what string) {
	tb.Helper()
	select {
	case v := <-ch:
		tb.Fatalf("unexpected %s: %v", what, v)
	default:
	}
}

// roundTripAsync runs RoundTrip in a goroutine (closing any body) and
// delivers its error, for tests that cancel or time it out meanwhile.
func roundTripAsync(rt http.RoundTripper, req *http.Request) <-chan error {
	errc := make(chan error, 1)
	go func() {
		res, err := rt.RoundTrip(req)
		if res != nil {
			_ = res.Body.Close()
		}
		errc <- err
	}()
	return errc
}
