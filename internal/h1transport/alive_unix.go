//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package h1transport

import (
	"errors"
	"syscall"
)

// peeker is what alive needs, made on a connection's first reuse: the peek
// that precedes every reuse then allocates nothing.
type peeker struct {
	raw syscall.RawConn
	fn  func(fd uintptr) bool
	buf [1]byte
	err error
}

// alive reports whether an idle connection is still open and silent: a
// non-blocking peek sees the upstream's FIN (or stray bytes) without
// consuming anything.
func (c *conn) alive() bool {
	if c.br.Buffered() > 0 {
		return false // bytes nobody asked for: out of step
	}
	pk := &c.peek
	if pk.fn == nil {
		sc, ok := c.nc.(syscall.Conn)
		if !ok {
			return true
		}
		raw, err := sc.SyscallConn()
		if err != nil {
			return false
		}
		pk.raw = raw
		pk.fn = func(fd uintptr) bool {
			_, _, pk.err = syscall.Recvfrom(int(fd), pk.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			return true // never wait: one look
		}
	}
	if err := pk.raw.Read(pk.fn); err != nil {
		return false
	}
	if errors.Is(pk.err, syscall.EAGAIN) || errors.Is(pk.err, syscall.EWOULDBLOCK) {
		return true // open, nothing pending
	}
	return false // EOF, stray bytes or an error
}
