package flags

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/7cycles-ai/strangler/internal/adminapi"
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
type APIError = adminapi.Error

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
	wire := adminapi.Client{BaseURL: c.BaseURL, Token: c.Token, HTTP: c.HTTP, MaxAnswerBytes: maxAnswerBytes}
	return wire.Do(ctx, method, AdminPathPrefix+path, q, body, out)
}

// IsUnauthorized reports whether err is the admin API refusing the token.
func IsUnauthorized(err error) bool { return adminapi.IsUnauthorized(err) }
