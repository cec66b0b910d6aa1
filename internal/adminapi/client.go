package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultMaxAnswerBytes bounds what a client reads of one answer.
const DefaultMaxAnswerBytes = 16 << 20

// Client sends requests to the admin listener.
type Client struct {
	// BaseURL is the admin listener, e.g. http://127.0.0.1:9090.
	BaseURL string
	// Token is sent as "Authorization: Bearer <token>" when not empty.
	Token string
	// HTTP is the client; nil uses one with a 30 s timeout.
	HTTP *http.Client
	// MaxAnswerBytes bounds the answer read; 0 is DefaultMaxAnswerBytes.
	MaxAnswerBytes int64
}

// Error is an error answer of the admin API.
type Error struct {
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s (%d %s)", e.Message, e.Status, e.Code)
	if e.RequestID != "" {
		msg += ", request id " + e.RequestID
	}
	return msg
}

// IsUnauthorized reports whether err is the admin API refusing the token.
func IsUnauthorized(err error) bool {
	var ae *Error
	return errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden)
}

// errorDocument is the error answer of SPEC §5.
type errorDocument struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

// Do sends method path?q with body encoded as JSON (nil: no body) and
// decodes a 2xx answer into out (nil: ignored). path is absolute, e.g.
// "/admin/api/flags". A non-2xx answer is an *Error.
func (c Client) Do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	base, err := url.Parse(strings.TrimRight(c.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("admin URL %q: want http(s)://host:port", c.BaseURL)
	}
	u := base.String() + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	limit := c.MaxAnswerBytes
	if limit <= 0 {
		limit = DefaultMaxAnswerBytes
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the admin API at %s: %w", base.String(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return fmt.Errorf("read answer of %s %s: %w", method, u, err)
	}
	if resp.StatusCode >= 300 {
		var doc errorDocument
		if json.Unmarshal(data, &doc) == nil && doc.Error.Code != "" {
			return &Error{Status: resp.StatusCode, Code: doc.Error.Code, Message: doc.Error.Message, RequestID: doc.Error.RequestID}
		}
		return &Error{Status: resp.StatusCode, Code: "http_error", Message: strings.TrimSpace(truncate(string(data), 200))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer of %s %s: %w", method, u, err)
		}
	}
	return nil
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}
