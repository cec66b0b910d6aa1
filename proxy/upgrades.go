package proxy

import (
	"net"
	"sync"
)

// upgradedConns tracks connections hijacked for a protocol switch
// (WebSocket). http.Server.Shutdown neither waits for nor closes them, so
// Serve closes them itself at the end of the drain.
type upgradedConns struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// add registers c; after closeAll it closes c at once instead.
func (u *upgradedConns) add(c net.Conn) {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		_ = c.Close()
		return
	}
	if u.conns == nil {
		u.conns = make(map[net.Conn]struct{})
	}
	u.conns[c] = struct{}{}
	u.mu.Unlock()
}

// remove forgets c once its handler has returned.
func (u *upgradedConns) remove(c net.Conn) {
	u.mu.Lock()
	delete(u.conns, c)
	u.mu.Unlock()
}

// closeAll closes every tracked connection and every later one; it
// returns how many were open.
func (u *upgradedConns) closeAll() int {
	u.mu.Lock()
	u.closed = true
	conns := u.conns
	u.conns = nil
	u.mu.Unlock()
	for c := range conns {
		_ = c.Close()
	}
	return len(conns)
}
