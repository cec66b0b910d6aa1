package shadow

import (
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/7cycles-ai/strangler/internal/adminapi"
	"github.com/google/uuid"
)

// Error codes of the admin API (SPEC §5, plus those an API needs).
const (
	codeBadRequest       = "bad_request"
	codeNotFound         = "not_found"
	codeUnauthenticated  = "unauthenticated"
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

// decodeBody reads one JSON object into dst, strictly (adminapi.DecodeJSON:
// size limit, unknown fields named, nothing after the object, JSON content
// type).
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, dst any) *apiError {
	if e := adminapi.DecodeJSON(w, r, limit, dst); e != nil {
		return &apiError{status: e.Status, code: e.Code, message: e.Message}
	}
	return nil
}

// writeJSON writes v with status (adminapi.WriteJSON).
func writeJSON(w http.ResponseWriter, status int, v any) { adminapi.WriteJSON(w, status, v) }

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
