//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package h1transport

// peeker is empty: this platform has no peek.
type peeker struct{}

// alive cannot peek on this platform: a stale connection is found by the
// exchange itself, and a replayable request is retried on a new one.
func (c *conn) alive() bool { return c.br.Buffered() == 0 }
