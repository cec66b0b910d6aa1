package h1transport_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// An answer that ends its connection (Connection: close, HTTP/1.0 without
// keep-alive, a body delimited by the close) is read to its end and its
// connection is not reused.
func TestAnswerThatEndsTheConnection(t *testing.T) {
	cases := []struct {
		name   string
		answer string
		// closes: the upstream closes after answering (the close ends the
		// body); otherwise it waits for the client to close.
		closes bool
	}{
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello", false},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", false},
		{"close-delimited body", "HTTP/1.1 200 OK\r\n\r\nhello", true},
		{"http/1.0 close-delimited", "HTTP/1.0 200 OK\r\n\r\nhello", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			closed := make(chan int, 4)
			up := newUpstream(t, func(n int, c net.Conn) {
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				if _, err := io.WriteString(c, tc.answer); err != nil {
					return
				}
				if !tc.closes {
					_, err := http.ReadRequest(br) // must be the client's close
					assert.Error(t, err, "a request on a connection that was to end")
				}
				closed <- n
			})
			var dials dialCounter
			tr := newTransport(t, h1transport.Options{}, &dials, nil)

			for i := 1; i <= 2; i++ {
				assert.Equal(t, "hello", get(t, tr, up.url()))
				assert.Equal(t, i, recv(t, closed, "connection to end"))
			}
			assert.Equal(t, 2, dials.count())
		})
	}
}

// Closing a body before its end closes the connection at once, without
// reading the rest (an endless stream must not block Close), and the next
// request dials a new one.
func TestCloseBodyBeforeEnd(t *testing.T) {
	cases := []struct{ name, head string }{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n"},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"close-delimited", "HTTP/1.1 200 OK\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ended := make(chan int, 4)
			chunk := []byte("0123456789abcdef")
			if tc.name == "chunked" {
				chunk = []byte("10\r\n0123456789abcdef\r\n")
			}
			up := newUpstream(t, func(n int, c net.Conn) {
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				if _, err := io.WriteString(c, tc.head); err != nil {
					return
				}
				for { // forever, until the client goes away
					if _, err := c.Write(chunk); err != nil {
						ended <- n
						return
					}
				}
			})
			var dials dialCounter
			tr := newTransport(t, h1transport.Options{}, &dials, nil)

			for i := 1; i <= 2; i++ {
				res, err := tr.RoundTrip(newRequest(t, http.MethodGet, up.url()))
				if !assert.NoError(t, err) {
					return
				}
				buf := make([]byte, 10)
				_, err = io.ReadFull(res.Body, buf)
				assert.NoError(t, err)
				assert.Equal(t, "0123456789", string(buf))
				closeDone := make(chan error, 1)
				go func() { closeDone <- res.Body.Close() }()
				assert.NoError(t, recv(t, closeDone, "Body.Close"))
				assert.Equal(t, i, recv(t, ended, "upstream to see the connection closed"))
				_, err = res.Body.Read(buf)
				assert.ErrorIs(t, err, http.ErrBodyReadAfterClose)
			}
			assert.Equal(t, 2, dials.count())
		})
	}
}
