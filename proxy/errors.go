package proxy

import (
	"net/http"
	"strconv"
	"unicode/utf8"
)

// Error codes of the errors the proxy makes itself (SPEC §5). They appear in
// the JSON body {"error":{"code":...}} and as the outcome label of metrics.
const (
	CodeUnauthenticated     = "unauthenticated"
	CodeForbidden           = "forbidden"
	CodeOrgRequired         = "org_required"
	CodeNotFound            = "not_found"
	CodeBadRequest          = "bad_request"
	CodeUpstreamUnavailable = "upstream_unavailable"
	CodeUpstreamTimeout     = "upstream_timeout"
	CodePayloadTooLarge     = "payload_too_large"
	// CodeInternal is not in SPEC §5: it answers a hook that failed for a
	// reason that is not the caller's (a store outage, a panic). Failing
	// closed with 500 is safer than guessing one of the codes above.
	CodeInternal = "internal"
)

// Error is an error the proxy answers itself, as JSON:
//
//	{"error":{"code":"forbidden","message":"...","request_id":"..."}}
//
// Hooks (Authenticator, Authorizer) return an *Error, or wrap one, to choose
// the status and code the client sees; any other error becomes 500
// "internal". Message is sent to the client, so it must not carry secrets;
// Err is the cause, logged and never sent.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is one of the Code* constants (or a hook's own bounded code).
	Code string
	// Message is a short human-readable reason sent to the client.
	Message string
	// Err is the underlying cause, for logs only.
	Err error
}

// Sentinel errors for hooks. errors.Is matches any *Error with the same
// Code, so a hook may return its own message:
//
//	return nil, &proxy.Error{Status: 401, Code: proxy.CodeUnauthenticated, Message: "token expired"}
var (
	ErrUnauthenticated = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: "authentication required"}
	ErrForbidden       = &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "permission denied"}
	ErrOrgRequired     = &Error{Status: http.StatusBadRequest, Code: CodeOrgRequired, Message: "an organization must be selected"}
	ErrNotFound        = &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no route matches the request"}
	ErrBadRequest      = &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: "bad request"}
	ErrPayloadTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Code: CodePayloadTooLarge, Message: "request body too large"}
)

// Error implements error.
func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, proxy.ErrForbidden) holds for every forbidden error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// newError builds an *Error with a cause.
func newError(status int, code, message string, cause error) *Error {
	return &Error{Status: status, Code: code, Message: message, Err: cause}
}

// writeError writes e as the JSON error body. The request id is echoed in
// the body and in X-Request-Id so a client can quote it.
func writeError(w http.ResponseWriter, requestID string, e *Error) {
	h := w.Header()
	// The response is the proxy's own: drop anything a hook or a failed
	// upstream attempt may have staged.
	clear(h)
	body := appendErrorJSON(make([]byte, 0, 160), e.Code, e.Message, requestID)
	h["Content-Type"] = []string{"application/json; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["Cache-Control"] = []string{"no-store"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	if requestID != "" {
		h["X-Request-Id"] = []string{requestID}
	}
	if e.Status == http.StatusUnauthorized {
		// RFC 9110 §15.5.2: a 401 carries at least one challenge.
		h["Www-Authenticate"] = []string{`Bearer realm="strangler"`}
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// appendErrorJSON appends {"error":{"code":..,"message":..,"request_id":..}}.
// It is hand-written so the error path needs no reflection.
func appendErrorJSON(b []byte, code, message, requestID string) []byte {
	b = append(b, `{"error":{"code":`...)
	b = appendJSONString(b, code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, message)
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, requestID)
	b = append(b, "}}\n"...)
	return b
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD, and <, >, &
// escaped so the body is safe to embed in HTML.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
