package proxy

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
)

// headerRequestID is the canonical form of X-Request-ID.
const headerRequestID = "X-Request-Id"

// maxRequestIDLen bounds an inbound request id: long enough for a UUID, a
// ULID, a W3C trace id or an AWS trace header value, short enough that a
// client cannot make every log line and error body large.
const maxRequestIDLen = 128

// requestIDChars marks the bytes allowed in an inbound request id. The set
// covers UUIDs, ULIDs, base64/base64url and "Root=1-..."-style ids, and
// excludes everything that could split a log line, break out of JSON or a
// header (spaces, quotes, control bytes, commas, non-ASCII).
var requestIDChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for _, c := range "-_.:+/=@" {
		t[c] = true
	}
	return t
}()

// validRequestID reports whether an inbound request id may be kept.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !requestIDChars[s[i]] {
			return false
		}
	}
	return true
}

// idGenerator makes request ids that are unique without a random-number
// syscall per request: a 64-bit random prefix drawn once per process (so
// replicas and restarts do not collide) and an atomic counter.
type idGenerator struct {
	prefix string
	n      atomic.Uint64
}

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

func newIDGenerator() (*idGenerator, error) {
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("seed request ids: %w", err)
	}
	return &idGenerator{prefix: idEncoding.EncodeToString(seed[:])}, nil
}

// next returns a new id such as "4k1v0s7q2m3hc-1f".
func (g *idGenerator) next() string {
	var buf [40]byte
	b := append(buf[:0], g.prefix...)
	b = append(b, '-')
	b = strconv.AppendUint(b, g.n.Add(1), 32)
	return string(b)
}

// requestID returns the inbound X-Request-ID when it is a single valid
// value, else a new id. Several values are ambiguous, so they are replaced.
func (g *idGenerator) requestID(h http.Header) string {
	if v := h[headerRequestID]; len(v) == 1 && validRequestID(v[0]) {
		return v[0]
	}
	return g.next()
}
