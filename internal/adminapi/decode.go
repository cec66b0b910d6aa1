package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// BodyError is why a request body was refused: the status and SPEC §5
// code to answer with and a message that says what to fix.
type BodyError struct {
	Status  int
	Code    string
	Message string
}

func (e *BodyError) Error() string { return e.Message }

func badBody(format string, args ...any) *BodyError {
	return &BodyError{Status: http.StatusBadRequest, Code: "bad_request", Message: fmt.Sprintf(format, args...)}
}

// DecodeJSON reads one JSON object into dst, strictly: at most limit
// bytes (413), no unknown fields (the error names the field), nothing after
// the object, and a JSON content type when one is declared (415). The admin
// handlers of every package decode their bodies through it.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any) *BodyError {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &BodyError{Status: http.StatusUnsupportedMediaType, Code: "bad_request", Message: "the body must be application/json"}
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err, limit)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return jsonError(err, limit)
		}
		return badBody("the body must hold one JSON object and nothing after it")
	}
	return nil
}

// jsonError turns a decoding error into a message that says what to fix.
func jsonError(err error, limit int64) *BodyError {
	var (
		syntax    *json.SyntaxError
		typ       *json.UnmarshalTypeError
		tooLarge  *http.MaxBytesError
		unmarshal *json.InvalidUnmarshalError
	)
	switch {
	case errors.Is(err, io.EOF):
		return badBody("the request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badBody("the JSON body ends too early")
	case errors.As(err, &tooLarge):
		return &BodyError{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large",
			Message: fmt.Sprintf("the body is larger than %d bytes", limit)}
	case errors.As(err, &syntax):
		return badBody("invalid JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return badBody("field %q must be a %s, not a JSON %s", typ.Field, jsonTypeName(typ.Type.Kind().String()), typ.Value)
		}
		return badBody("the body must be a JSON object, not a JSON %s", typ.Value)
	case errors.As(err, &unmarshal):
		return &BodyError{Status: http.StatusInternalServerError, Code: "internal", Message: "cannot decode the body"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badBody("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return badBody("invalid JSON body: %v", err)
}

// jsonTypeName names a Go kind the way a JSON client thinks of it.
func jsonTypeName(kind string) string {
	switch kind {
	case "float64", "float32", "int", "int64", "int32", "uint32", "uint64":
		return "number"
	case "slice", "array":
		return "array"
	case "struct", "map":
		return "object"
	case "ptr":
		return "value"
	}
	return kind
}
