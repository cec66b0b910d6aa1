package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// leanConn is the keep-alive connection of one client worker with -client
// lean: the worker writes a request made once and reads the answer in its
// own goroutine, as wrk and h2load do. net/http's client hands every
// exchange between three goroutines; the wake-ups those hand-offs cause
// grow with the time a request takes, so with it the harness's own CPU per
// request rises when a proxy makes requests slower, and the comparison
// charges part of the client's cost to the proxy. The answer is still
// parsed by http.ReadResponse and checked (status, length) the same way.
type leanConn struct {
	addr string
	req  []byte
	conn net.Conn
	br   *bufio.Reader
}

// leanRequestTimeout bounds one exchange, as the std client's Timeout does.
const leanRequestTimeout = time.Minute

// newLeanConn prepares the request GET rawURL with header; it dials on
// first use.
func newLeanConn(rawURL string, header http.Header) (*leanConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", rawURL, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: strangler-bench\r\n", u.RequestURI(), u.Host)
	keys := make([]string, 0, len(header))
	for k := range header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range header[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	return &leanConn{addr: u.Host, req: []byte(b.String())}, nil
}

// get sends the request and reads the whole body into buf's scratch space,
// returning the body's size.
func (c *leanConn) get(ctx context.Context, buf []byte) (int64, error) {
	if c.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return 0, err
		}
		c.conn, c.br = conn, bufio.NewReaderSize(conn, 4096)
	}
	n, err := c.exchange(buf)
	if err != nil {
		c.close()
	}
	return n, err
}

func (c *leanConn) exchange(buf []byte) (int64, error) {
	if err := c.conn.SetDeadline(time.Now().Add(leanRequestTimeout)); err != nil {
		return 0, err
	}
	if _, err := c.conn.Write(c.req); err != nil {
		return 0, fmt.Errorf("write request: %w", err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, fmt.Errorf("read response: %w", err)
	}
	n, err := drain(resp.Body, buf)
	if err != nil {
		return n, err
	}
	if resp.Close {
		c.close()
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("status %d", resp.StatusCode)
	}
	return n, nil
}

func (c *leanConn) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn, c.br = nil, nil
	}
}
