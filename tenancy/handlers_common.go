package tenancy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"
)

// Shared plumbing of the built-in issuer (/auth/*) and the tenant API
// (/orgs/...): strict JSON bodies, field validation, and errors in the JSON
// shape of SPEC §5:
//
//	{"error":{"code":"bad_request","message":"email: not a valid address","field":"email","request_id":"..."}}
//
// "field" names the offending body field when there is one.

// DefaultMaxBodyBytes bounds the request bodies of the identity and tenant
// endpoints: they are small JSON objects, so anything bigger is refused
// (413) before it is parsed.
const DefaultMaxBodyBytes = 64 << 10

// Error codes of the handlers beyond the proxy's (SPEC §5): conflict for
// uniqueness and last-owner violations, too_many_requests for rate limits.
const (
	codeUnauthenticated = "unauthenticated"
	codeForbidden       = "forbidden"
	codeNotFound        = "not_found"
	codeBadRequest      = "bad_request"
	codePayloadTooLarge = "payload_too_large"
	codeConflict        = "conflict"
	codeTooManyRequests = "too_many_requests"
	codeInternal        = "internal"
)

// requestIDHeader carries the request id the proxy assigned (it sets it on
// requests to its own endpoints).
const requestIDHeader = "X-Request-Id"

// apiError is an answer of the handlers that is not a success.
type apiError struct {
	status  int
	code    string
	message string
	// field is the body field at fault, or "".
	field string
	// retryAfter, when positive, becomes Retry-After (whole seconds, up).
	retryAfter time.Duration
	// cause is logged, never sent.
	cause error
}

func (e *apiError) Error() string {
	s := e.code + ": " + e.message
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func badRequest(field, format string, args ...any) *apiError {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	return &apiError{status: http.StatusBadRequest, code: codeBadRequest, message: msg, field: field}
}

func errUnauthenticated(msg string) *apiError {
	return &apiError{status: http.StatusUnauthorized, code: codeUnauthenticated, message: msg}
}

func errForbidden(msg string) *apiError {
	return &apiError{status: http.StatusForbidden, code: codeForbidden, message: msg}
}

func errNotFound(msg string) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeNotFound, message: msg}
}

func errConflict(field, msg string) *apiError {
	return &apiError{status: http.StatusConflict, code: codeConflict, message: msg, field: field}
}

func errInternal(cause error) *apiError {
	return &apiError{status: http.StatusInternalServerError, code: codeInternal, message: "internal error", cause: cause}
}

func errTooMany(retryAfter time.Duration) *apiError {
	return &apiError{status: http.StatusTooManyRequests, code: codeTooManyRequests,
		message: "too many attempts; retry later", retryAfter: retryAfter}
}

// errorJSON is the body of an error answer.
type errorJSON struct {
	Error errorFields `json:"error"`
}

type errorFields struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id"`
}

// writeAPIError answers r with e (and logs causes of server errors).
func writeAPIError(w http.ResponseWriter, r *http.Request, log *zap.Logger, e *apiError) {
	rid := r.Header.Get(requestIDHeader)
	if e.status >= 500 && log != nil {
		log.Error("identity handler failed", zap.String("request_id", rid),
			zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(e))
	}
	h := w.Header()
	if e.retryAfter > 0 {
		secs := int64((e.retryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	}
	if e.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="strangler"`)
	}
	if rid != "" {
		h.Set(requestIDHeader, rid)
	}
	writeJSON(w, e.status, errorJSON{Error: errorFields{Code: e.code, Message: e.message, Field: e.field, RequestID: rid}})
}

// writeJSON answers with v as JSON. Every answer of these endpoints is
// no-store: they carry tokens, secrets and per-user data (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"internal error","request_id":""}}`)
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// decodeBody reads the request body (readBody: size limit, JSON content
// type) and parses it with parse; on either failure it answers the error
// itself and reports false. Every identity and tenant API handler that
// takes a body goes through it.
func decodeBody[T any](h *Handlers, w http.ResponseWriter, r *http.Request, parse func([]byte) (T, *apiError)) (T, bool) {
	body, e := readBody(w, r, h.maxBody)
	if e == nil {
		var v T
		if v, e = parse(body); e == nil {
			return v, true
		}
	}
	h.fail(w, r, e)
	var zero T
	return zero, false
}

// readBody reads r's body up to limit bytes: a larger one is 413
// payload_too_large; a Content-Type other than JSON is 400.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, badRequest("", "Content-Type must be application/json")
		}
	}
	if r.ContentLength > limit {
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: codePayloadTooLarge,
			message: fmt.Sprintf("request body larger than %d bytes", limit)}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: codePayloadTooLarge,
				message: fmt.Sprintf("request body larger than %d bytes", limit)}
		}
		return nil, badRequest("", "could not read the request body")
	}
	return body, nil
}

// decodeStrict parses body, which must be one JSON object, into a T:
//
//   - valid UTF-8 (encoding/json would silently replace bad bytes);
//   - only the members T declares, spelled exactly (encoding/json would
//     match "EMAIL" to email), each at most once (it would keep the last
//     of two, which another parser might not);
//   - nothing after the object;
//   - every value of the member's type.
//
// Every refusal is a 400 naming the member at fault. T is a struct whose
// fields all carry json tags.
func decodeStrict[T any](body []byte) (T, *apiError) {
	var out T
	if len(bytes.TrimSpace(body)) == 0 {
		return out, badRequest("", "a JSON object body is required")
	}
	if !utf8.Valid(body) {
		return out, badRequest("", "the body is not valid UTF-8")
	}
	allowed := jsonFields(reflect.TypeOf(out))
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return out, badRequest("", "the body must be a JSON object")
	}
	seen := make(map[string]bool, len(allowed))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return out, badRequest("", "malformed JSON")
		}
		key, _ := tok.(string)
		if _, ok := allowed[key]; !ok {
			return out, badRequest(printableField(key), "unknown field")
		}
		if seen[key] {
			return out, badRequest(key, "given more than once")
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return out, badRequest(key, "malformed JSON value")
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return out, badRequest("", "malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return out, badRequest("", "unexpected data after the JSON object")
	}
	if err := json.Unmarshal(body, &out); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return out, badRequest(te.Field, "must be a JSON %s", jsonKind(te.Type))
		}
		return out, badRequest("", "malformed JSON")
	}
	return out, nil
}

// jsonFields returns the member names a struct type declares.
func jsonFields(t reflect.Type) map[string]struct{} {
	out := make(map[string]struct{}, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = struct{}{}
		}
	}
	return out
}

// jsonKind names the JSON type a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "number"
}

// printableField quotes a hostile member name for a message: at most 64
// characters, control characters escaped.
func printableField(s string) string {
	if len(s) > 64 {
		s = s[:64]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	ok := true
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '"' || r == '\\' {
			ok = false
			break
		}
	}
	if ok && s != "" {
		return s
	}
	return strconv.Quote(s)
}

// ---- field rules ----

// Password length bounds in bytes: at least 8 (OWASP, NIST SP 800-63B); at
// most 256, so a login cannot make argon2id hash megabytes.
const (
	minPasswordLen = 8
	maxPasswordLen = 256
)

// checkPassword validates a new password.
func checkPassword(field, p string) *apiError {
	switch {
	case p == "":
		return badRequest(field, "is required")
	case len(p) < minPasswordLen:
		return badRequest(field, "must be at least %d bytes", minPasswordLen)
	case len(p) > maxPasswordLen:
		return badRequest(field, "must be at most %d bytes", maxPasswordLen)
	}
	return nil
}

// normalizeEmail returns the stored form of an email address (trimmed,
// lower-cased) after checking its form: local@domain, at most 254 bytes,
// a local part of 1–64 printable ASCII characters other than the specials
// of RFC 5322 (no quoted forms, no comments, no display name), a domain of
// at least two dot-separated labels of [a-z0-9-] (IDNs in punycode).
func normalizeEmail(field, s string) (string, *apiError) {
	e := strings.ToLower(strings.TrimSpace(s))
	if e == "" {
		return "", badRequest(field, "is required")
	}
	if len(e) > 254 {
		return "", badRequest(field, "must be at most 254 characters")
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || len(local) > 64 || domain == "" || strings.IndexByte(domain, '@') >= 0 {
		return "", badRequest(field, "not a valid email address")
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),:;<>[\]`, c) >= 0 {
			return "", badRequest(field, "not a valid email address")
		}
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return "", badRequest(field, "not a valid email address")
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "", badRequest(field, "not a valid email address")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", badRequest(field, "not a valid email address")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", badRequest(field, "not a valid email address")
			}
		}
	}
	return e, nil
}

// checkSlug validates a slug given by a client: 3–63 characters of
// [a-z0-9-], starting and ending with a letter or digit, and not shaped
// like a UUID (a reference must be unambiguously an ID or a slug).
// Stricter than the store (which also takes '_' and shorter slugs, for
// seeds and bootstrap).
func checkSlug(field, s string) *apiError {
	if len(s) < 3 || len(s) > 63 {
		return badRequest(field, "must be 3 to 63 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return badRequest(field, "must be lowercase letters, digits and '-'")
		}
	}
	if s[0] == '-' || s[len(s)-1] == '-' {
		return badRequest(field, "must start and end with a letter or digit")
	}
	if _, isID := canonicalID(s); isID {
		return badRequest(field, "must not be shaped like a UUID")
	}
	return nil
}

// normalizeName trims a display name (org, project, API key) and checks it:
// 1–200 characters, no control characters.
func normalizeName(field, s string) (string, *apiError) {
	n := strings.TrimSpace(s)
	if n == "" {
		return "", badRequest(field, "is required")
	}
	if utf8.RuneCountInString(n) > 200 {
		return "", badRequest(field, "must be at most 200 characters")
	}
	for _, r := range n {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "", badRequest(field, "must not contain control characters")
		}
	}
	return n, nil
}

// checkRole parses a role.
func checkRole(field, s string) (Role, *apiError) {
	if s == "" {
		return "", badRequest(field, "is required")
	}
	r := Role(s)
	if !r.Valid() {
		return "", badRequest(field, "must be one of owner, admin, member, viewer")
	}
	return r, nil
}

// slugify derives a slug candidate from a display name: lower-case ASCII
// letters and digits, runs of anything else as one '-', at most 40
// characters. It may return less than 3 characters (the caller pads).
func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

// ---- request facts ----

// clientIPFromRemote is the default client address: the peer of the
// connection. Behind a load balancer, configure HandlersOptions.ClientIP to
// read the balancer's header instead.
func clientIPFromRemote(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	return a.WithZone("").Unmap().String()
}

// rateKeyIP is the rate-limit key of an address: IPv4 as is, IPv6 by its
// /64 (one subscriber usually holds a whole /64, so per-address limits
// would not limit anyone).
func rateKeyIP(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "?"
	}
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
