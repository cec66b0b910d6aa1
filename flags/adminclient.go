package flags

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// AdminClient calls the flag endpoints of the admin API; the CLI uses it.
type AdminClient struct {
	// BaseURL is the admin listener, e.g. http://127.0.0.1:9090.
	BaseURL string
	// Token is sent as "Authorization: Bearer <token>" when not empty.
	Token string
	// HTTP is the client; nil uses one with a 30 s timeout.
	HTTP *http.Client
}

// APIError is an error answer of the admin API.
type APIError struct {
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s (%d %s)", e.Message, e.Status, e.Code)
	if e.RequestID != "" {
		msg += ", request id " + e.RequestID
	}
	return msg
}

// ListFlags is GET /admin/api/flags.
func (c *AdminClient) ListFlags(ctx context.Context) (FlagList, error) {
	var out FlagList
	return out, c.do(ctx, http.MethodGet, "flags", nil, nil, &out)
}

// GetFlag is GET /admin/api/flags/{key}.
func (c *AdminClient) GetFlag(ctx context.Context, key string) (FlagView, error) {
	var out FlagView
	return out, c.do(ctx, http.MethodGet, "flags/"+url.PathEscape(key), nil, nil, &out)
}

// SetRule is PUT /admin/api/flags/{key}.
func (c *AdminClient) SetRule(ctx context.Context, key string, req RuleRequest) (RuleChange, error) {
	var out RuleChange
	return out, c.do(ctx, http.MethodPut, "flags/"+url.PathEscape(key), nil, req, &out)
}

// DeleteRule is DELETE /admin/api/flags/{key}.
func (c *AdminClient) DeleteRule(ctx context.Context, key, reason string) (RuleChange, error) {
	var out RuleChange
	return out, c.do(ctx, http.MethodDelete, "flags/"+url.PathEscape(key), nil, ReasonRequest{Reason: reason}, &out)
}

// SetOverride is PUT /admin/api/flags/{key}/orgs/{org}.
func (c *AdminClient) SetOverride(ctx context.Context, key, org string, mode Mode, reason string) (OverrideChange, error) {
	var out OverrideChange
	return out, c.do(ctx, http.MethodPut, "flags/"+url.PathEscape(key)+"/orgs/"+url.PathEscape(org), nil,
		OverrideRequest{Variant: mode.String(), Reason: reason}, &out)
}

// UnsetOverride is DELETE /admin/api/flags/{key}/orgs/{org}.
func (c *AdminClient) UnsetOverride(ctx context.Context, key, org, reason string) (OverrideChange, error) {
	var out OverrideChange
	return out, c.do(ctx, http.MethodDelete, "flags/"+url.PathEscape(key)+"/orgs/"+url.PathEscape(org), nil,
		ReasonRequest{Reason: reason}, &out)
}

// History is GET /admin/api/flags/{key}/history.
func (c *AdminClient) History(ctx context.Context, key, org string, limit int, before int64) (HistoryPage, error) {
	q := url.Values{}
	if org != "" {
		q.Set("org", org)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if before > 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	var out HistoryPage
	return out, c.do(ctx, http.MethodGet, "flags/"+url.PathEscape(key)+"/history", q, nil, &out)
}

// KillSwitch is GET /admin/api/kill-switch.
func (c *AdminClient) KillSwitch(ctx context.Context) (KillSwitch, error) {
	var out KillSwitch
	return out, c.do(ctx, http.MethodGet, "kill-switch", nil, nil, &out)
}

// SetKillSwitch is PUT /admin/api/kill-switch.
func (c *AdminClient) SetKillSwitch(ctx context.Context, enabled bool, reason string) (KillSwitchChange, error) {
	var out KillSwitchChange
	return out, c.do(ctx, http.MethodPut, "kill-switch", nil, KillSwitchRequest{Enabled: &enabled, Reason: reason}, &out)
}

// maxAnswerBytes bounds what the client reads from the server.
const maxAnswerBytes = 16 << 20

func (c *AdminClient) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	base, err := url.Parse(strings.TrimRight(c.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("admin URL %q: want http(s)://host:port", c.BaseURL)
	}
	u := base.String() + AdminPathPrefix + path
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
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the admin API at %s: %w", base.String(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("read answer of %s %s: %w", method, u, err)
	}
	if resp.StatusCode >= 300 {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
			return &APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, RequestID: eb.Error.RequestID}
		}
		return &APIError{Status: resp.StatusCode, Code: "http_error", Message: strings.TrimSpace(truncate(string(data), 200))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer of %s %s: %w", method, u, err)
		}
	}
	return nil
}

// IsUnauthorized reports whether err is the admin API refusing the token.
func IsUnauthorized(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden)
}
