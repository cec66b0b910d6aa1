package shadow

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"

	"github.com/google/uuid"
)

// Error codes of the admin API (SPEC §5, plus those an API needs).
const (
	codeBadRequest       = "bad_request"
	codeNotFound         = "not_found"
	codeUnauthenticated  = "unauthenticated"
	codePayloadTooLarge  = "payload_too_large"
	codeMethodNotAllowed = "method_not_allowed"
	codeNotImplemented   = "not_implemented"
	codeInternal         = "internal_error"
)

// apiError is an error with its HTTP status and code.
type apiError struct {
	status  int
	code    string
	message string
	allow   string // the Allow header of a 405
}

func (e *apiError) Error() string { return e.message }

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeBadRequest, message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeNotFound, message: fmt.Sprintf(format, args...)}
}

func methodNotAllowed(allow string) *apiError {
	return &apiError{status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed,
		message: "method not allowed; allowed: " + allow, allow: allow}
}

// errNoActor refuses a change nobody can be held to account for.
var errNoActor = &apiError{status: http.StatusUnauthorized, code: codeUnauthenticated, message: "no authenticated caller"}

// decodeBody reads one JSON object into dst, strictly: at most limit bytes,
// no unknown fields, nothing after the object, and a JSON content type
// when one is declared.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, dst any) *apiError {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &apiError{status: http.StatusUnsupportedMediaType, code: codeBadRequest, message: "the body must be application/json"}
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return bodyError(err, limit)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return bodyError(err, limit)
		}
		return badRequest("the body must hold one JSON object and nothing after it")
	}
	return nil
}

// bodyError turns a decoding error into a message that says what to fix.
func bodyError(err error, limit int64) *apiError {
	var (
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
		tooLarge *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return badRequest("the request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the JSON body ends too early")
	case errors.As(err, &tooLarge):
		return &apiError{status: http.StatusRequestEntityTooLarge, code: codePayloadTooLarge,
			message: fmt.Sprintf("the body is larger than %d bytes", limit)}
	case errors.As(err, &syntax):
		return badRequest("invalid JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return badRequest("field %q must be a string, not a JSON %s", typ.Field, typ.Value)
		}
		return badRequest("the body must be a JSON object, not a JSON %s", typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return badRequest("invalid JSON body: %v", err)
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeError writes the error document of SPEC §5.
func writeError(w http.ResponseWriter, requestID string, e *apiError) {
	if e.allow != "" {
		w.Header().Set("Allow", e.allow)
	}
	writeJSON(w, e.status, ErrorBody{Error: ErrorDetail{Code: e.code, Message: e.message, RequestID: requestID}})
}

// requestIDFromHeader keeps a sane inbound X-Request-ID, else makes one.
func requestIDFromHeader(r *http.Request) string {
	if id := r.Header.Get("X-Request-ID"); id != "" && len(id) <= 128 &&
		!strings.ContainsFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return id
	}
	return uuid.NewString()
}
