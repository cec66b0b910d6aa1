package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// upstream is the HTTP server every run drives: GET .../bytes/N (under any
// route prefix) answers N bytes with Content-Length from a buffer made
// once, so it costs as little as an upstream can and the measurement shows
// the proxy, not the upstream. The shadow candidate is the same server in
// a process of its own (candidate.go).
type upstream struct {
	url    string
	srv    *http.Server
	served chan error
}

func startUpstream(sizes []int) (*upstream, error) {
	bodies := map[string][]byte{}
	for _, n := range sizes {
		bodies[strconv.Itoa(n)] = bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := strings.LastIndex(r.URL.Path, "/bytes/")
		body, ok := []byte(nil), false
		if i >= 0 && r.Method == http.MethodGet {
			body, ok = bodies[r.URL.Path[i+len("/bytes/"):]]
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h["Content-Type"] = []string{"application/octet-stream"}
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		_, _ = w.Write(body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("upstream listener: %w", err)
	}
	u := &upstream{
		url:    "http://" + ln.Addr().String(),
		srv:    &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute},
		served: make(chan error, 1),
	}
	go func() { u.served <- u.srv.Serve(ln) }()
	return u, nil
}

// bytesPath is the path of an answer of size bytes.
func bytesPath(size int) string { return "/bytes/" + strconv.Itoa(size) }

// close stops the upstream; an error other than the closing itself means
// the measurements ran against a failing server.
func (u *upstream) close() error {
	_ = u.srv.Close()
	if err := <-u.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("upstream: %w", err)
	}
	return nil
}
