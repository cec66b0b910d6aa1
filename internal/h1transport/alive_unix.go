//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package h1transport

import (
	"errors"
	"syscall"
)

// alive reports whether an idle connection is still open: a non-blocking
// peek sees the upstream's FIN (or stray bytes) without consuming anything.
func (c *conn) alive() bool {
	if c.br.Buffered() > 0 {
		return false // bytes nobody asked for: out of step
	}
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var (
		buf  [1]byte
		rerr error
	)
	err = raw.Read(func(fd uintptr) bool {
		_, _, rerr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait: one look
	})
	if err != nil {
		return false
	}
	if errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK) {
		return true // open, nothing pending
	}
	return false // EOF, stray bytes or an error
}
