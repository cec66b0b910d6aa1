package shadow

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/7cycles-ai/strangler/internal/adminapi"
)

// AdminClient calls the shadow endpoints of the admin API; the CLI uses it.
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

// ReportParams are the query parameters of a report, a rollout overview or
// a class listing, as the server parses them (ParseQuery); empty fields
// are left out.
type ReportParams struct {
	Org   string
	Route string
	// Since and Until: "24h", "7d", RFC 3339 or a date.
	Since string
	Until string
	// Top: classes per org × route (reports); nil leaves the default.
	Top *int
	// Status and Limit filter class listings.
	Status string
	Limit  int
}

func (p ReportParams) values() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set(ParamOrg, p.Org)
	set(ParamRoute, p.Route)
	set(ParamSince, p.Since)
	set(ParamUntil, p.Until)
	set(ParamStatus, p.Status)
	if p.Top != nil {
		q.Set(ParamTop, strconv.Itoa(*p.Top))
	}
	if p.Limit > 0 {
		q.Set(ParamLimit, strconv.Itoa(p.Limit))
	}
	return q
}

// Report is GET /admin/api/shadow/report.
func (c *AdminClient) Report(ctx context.Context, p ReportParams) (PromotionReport, error) {
	p.Status, p.Limit = "", 0
	var out PromotionReport
	return out, c.do(ctx, http.MethodGet, "report", p.values(), nil, &out)
}

// Rollout is GET /admin/api/shadow/rollout (p.Route required).
func (c *AdminClient) Rollout(ctx context.Context, p ReportParams) (PromotionReport, error) {
	p.Org, p.Status, p.Limit = "", "", 0
	var out PromotionReport
	return out, c.do(ctx, http.MethodGet, "rollout", p.values(), nil, &out)
}

// Classes is GET /admin/api/shadow/classes.
func (c *AdminClient) Classes(ctx context.Context, p ReportParams) (ClassList, error) {
	p.Top = nil
	var out ClassList
	return out, c.do(ctx, http.MethodGet, "classes", p.values(), nil, &out)
}

// Class is GET /admin/api/shadow/classes/{fingerprint}.
func (c *AdminClient) Class(ctx context.Context, fingerprint string) (ClassView, error) {
	var out ClassView
	return out, c.do(ctx, http.MethodGet, "classes/"+url.PathEscape(fingerprint), nil, nil, &out)
}

// Ack is POST /admin/api/shadow/classes/{fingerprint}/ack.
func (c *AdminClient) Ack(ctx context.Context, fingerprint, note string) (Class, error) {
	var out Class
	return out, c.do(ctx, http.MethodPost, "classes/"+url.PathEscape(fingerprint)+"/ack", nil, AckRequest{Note: note}, &out)
}

// Reopen is POST /admin/api/shadow/classes/{fingerprint}/reopen.
func (c *AdminClient) Reopen(ctx context.Context, fingerprint, note string) (Class, error) {
	var out Class
	return out, c.do(ctx, http.MethodPost, "classes/"+url.PathEscape(fingerprint)+"/reopen", nil, AckRequest{Note: note}, &out)
}

// maxAnswerBytes bounds what the client reads from the server.
const maxAnswerBytes = 64 << 20

func (c *AdminClient) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	wire := adminapi.Client{BaseURL: c.BaseURL, Token: c.Token, HTTP: c.HTTP, MaxAnswerBytes: maxAnswerBytes}
	return wire.Do(ctx, method, AdminPathPrefix+path, q, body, out)
}

// IsUnauthorized reports whether err is the admin API refusing the token.
func IsUnauthorized(err error) bool { return adminapi.IsUnauthorized(err) }
