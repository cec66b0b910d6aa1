package shadow

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Redacted replaces every redacted value.
const Redacted = "[REDACTED]"

// alwaysRedactedHeaders are redacted whatever redact_headers says: they carry
// credentials (X-Tenant-Assertion is a signed token the proxy mints).
var alwaysRedactedHeaders = [...]string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Tenant-Assertion"}

// Redactor removes secrets from what is stored: header values named in
// redact_headers, and JSON fields, form fields and query parameters whose
// name is in redact_fields, at any depth. Field names match ignoring case,
// "_" and "-", so "api_key" also covers "apiKey" and "API-KEY". Bodies that
// are neither JSON nor forms cannot be redacted field by field; they are
// stored as they are, truncated.
type Redactor struct {
	headers map[string]struct{}
	fields  map[string]struct{}
}

// NewRedactor builds a redactor from the shadow configuration.
func NewRedactor(headers, fields []string) *Redactor {
	r := &Redactor{headers: make(map[string]struct{}), fields: make(map[string]struct{})}
	for _, h := range alwaysRedactedHeaders {
		r.headers[h] = struct{}{}
	}
	for _, h := range headers {
		r.headers[http.CanonicalHeaderKey(strings.TrimSpace(h))] = struct{}{}
	}
	for _, f := range fields {
		if k := fieldKey(f); k != "" {
			r.fields[k] = struct{}{}
		}
	}
	return r
}

func fieldKey(name string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(name) {
		if c != '_' && c != '-' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// field reports whether a JSON key, form field or query parameter is secret.
func (r *Redactor) field(name string) bool {
	if r == nil || len(r.fields) == 0 {
		return false
	}
	_, ok := r.fields[fieldKey(name)]
	return ok
}

// header reports whether a header's values are secret.
func (r *Redactor) header(name string) bool {
	if r == nil {
		return false
	}
	_, ok := r.headers[http.CanonicalHeaderKey(name)]
	return ok
}

// Header returns a copy of h with secret values replaced.
func (r *Redactor) Header(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if r.header(k) {
			red := make([]string, len(vs))
			for i := range red {
				red[i] = Redacted
			}
			out[http.CanonicalHeaderKey(k)] = red
			continue
		}
		out[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	return out
}

// Query returns a raw query with secret parameters' values replaced. A query
// that does not parse is kept only up to its first secret-looking name.
func (r *Redactor) Query(raw string) string {
	if raw == "" || r == nil || len(r.fields) == 0 {
		return raw
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		name, _, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if r.field(name) {
			parts[i] = url.QueryEscape(name) + "=" + url.QueryEscape(Redacted)
		}
	}
	return strings.Join(parts, "&")
}

// Value returns a deep copy of a decoded JSON value with secret fields
// replaced.
func (r *Redactor) Value(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if r.field(k) {
				out[k] = Redacted
				continue
			}
			out[k] = r.Value(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.Value(e)
		}
		return out
	default:
		return v
	}
}

// redactValue is Value that tolerates a nil redactor and leaves scalars
// alone without copying.
func (r *Redactor) redactValue(v any) any {
	if r == nil || len(r.fields) == 0 {
		return v
	}
	switch v.(type) {
	case map[string]any, []any:
		return r.Value(v)
	}
	return v
}

// pathSecret reports whether a JSON path goes through a secret field.
func (r *Redactor) pathSecret(segs []segment) bool {
	if r == nil {
		return false
	}
	for _, s := range segs {
		if s.kind == segKey && r.field(s.key) {
			return true
		}
	}
	return false
}

// Body is a body as stored in an exemplar.
type Body struct {
	// Text is the decoded, redacted body; base64 when Base64 is set (the
	// body was not valid UTF-8).
	Text   string `json:"text"`
	Base64 bool   `json:"base64,omitempty"`
	// Length is the decoded body's length before truncation.
	Length int `json:"length"`
	// Truncated: only the first ExemplarBodyLimit bytes are kept.
	Truncated bool `json:"truncated,omitempty"`
}

// Body redacts a decoded body: JSON fields and form fields by name; other
// bodies are kept as they are. At most limit bytes are kept.
func (r *Redactor) Body(body []byte, contentType string, limit int) Body {
	out := Body{Length: len(body)}
	mt, _, _ := mime.ParseMediaType(contentType)
	if v, ok := decodeJSON(body); ok {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r.Value(v)); err == nil {
			body = bytes.TrimRight(buf.Bytes(), "\n")
		}
	} else if mt == "application/x-www-form-urlencoded" && utf8.Valid(body) {
		body = []byte(r.Query(string(body)))
	}
	if len(body) > limit {
		cut := limit
		for cut > 0 && cut < len(body) && !utf8.RuneStart(body[cut]) {
			cut--
		}
		body = body[:cut]
		out.Truncated = true
	}
	if utf8.Valid(body) {
		out.Text = string(body)
	} else {
		out.Text = base64.StdEncoding.EncodeToString(body)
		out.Base64 = true
	}
	return out
}

// ExemplarBodyLimit bounds each body kept in an exemplar.
const ExemplarBodyLimit = 64 << 10

// Exemplar is one redacted example of a diff class: the request and both
// answers, with the differences found.
type Exemplar struct {
	Fingerprint string    `json:"fingerprint"`
	At          time.Time `json:"at"`
	OrgID       string    `json:"org_id"`
	Route       string    `json:"route"`
	// Serving is the backend that answered the client.
	Serving Backend         `json:"serving"`
	Request ExemplarRequest `json:"request"`
	// Primary is the legacy backend's answer, Candidate the new one's.
	Primary     ExemplarAnswer `json:"primary"`
	Candidate   ExemplarAnswer `json:"candidate"`
	Differences []Difference   `json:"differences"`
}

// ExemplarRequest is the redacted request.
type ExemplarRequest struct {
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Query  string      `json:"query,omitempty"`
	Header http.Header `json:"header"`
	Body   Body        `json:"body"`
}

// ExemplarAnswer is one redacted answer.
type ExemplarAnswer struct {
	Status int         `json:"status"`
	Header http.Header `json:"header"`
	Body   Body        `json:"body"`
	// LatencyMS is the full-answer latency.
	LatencyMS float64 `json:"latency_ms"`
}
