package tenancy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Fixture of the identity and tenant API tests: a store, an AuthStack and
// the Handlers over it, served by a real HTTP server, with a clock the test
// moves.

type idFixture struct {
	store  Store
	clock  *testClock
	signer *Signer
	stack  *AuthStack
	h      *Handlers
	srv    *httptest.Server
}

// idOption adjusts the handlers' options.
type idOption func(*HandlersOptions)

// withLimits sets the rate limits (the fixture disables them otherwise).
func withLimits(l RateLimitOptions) idOption {
	return func(o *HandlersOptions) { o.RateLimits = l }
}

// noLimits disables every rate limit.
func noLimits() RateLimitOptions {
	off := RateLimit{Burst: -1}
	return RateLimitOptions{LoginPerIP: off, LoginPerAccount: off, RefreshPerIP: off, RefreshPerAccount: off}
}

// testIPHeader lets a test choose the client address of a request.
const testIPHeader = "X-Test-Client-Ip"

func newIDFixture(t testing.TB, s Store, opts ...idOption) *idFixture {
	t.Helper()
	f := &idFixture{store: s, clock: &testClock{t: time.Now()}}
	key, err := GenerateSigningKey()
	require.NoError(t, err)
	f.signer, err = NewSignerWithKeys(SignerOptions{Issuer: "https://strangler.local", Now: f.clock.Now}, key)
	require.NoError(t, err)
	// As in production: the stack and the handlers share one revocation
	// checker, so logout ends built-in tokens on every route.
	rev := NewSessionRevocations(s, SessionRevocationOptions{Now: f.clock.Now})
	t.Cleanup(rev.Close)
	f.stack = newTestStack(t, s, f.signer, f.clock, func(o *AuthStackOptions) { o.Sessions = rev })
	o := HandlersOptions{
		Sessions:   rev,
		Config:     authTestConfig(),
		Store:      s,
		Auth:       f.stack,
		Signer:     f.signer,
		ServeJWKS:  true,
		RateLimits: noLimits(),
		Now:        f.clock.Now,
		ClientIP: func(r *http.Request) string {
			if ip := r.Header.Get(testIPHeader); ip != "" {
				return ip
			}
			return clientIPFromRemote(r)
		},
	}
	for _, fn := range opts {
		fn(&o)
	}
	f.h, err = NewHandlers(o)
	require.NoError(t, err)
	t.Cleanup(f.h.Close)
	mux := http.NewServeMux()
	f.h.Register(mux.Handle)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	// The revocation checker's subscription is live once it got ChangeAll.
	require.Eventually(t, f.h.Sessions().live.Load, 10*time.Second, 5*time.Millisecond)
	return f
}

// resp is an answer of the handlers.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a map.
func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// errCode returns the error code and field of an error answer.
func (r resp) errCode(t testing.TB) (code, field string) {
	t.Helper()
	var e errorJSON
	require.NoError(t, json.Unmarshal(r.body, &e), "body: %s", r.body)
	return e.Error.Code, e.Error.Field
}

// call sends a request: body is a string (sent raw) or a value (JSON);
// hdr are name/value pairs; token, when set, is the bearer credential.
func (f *idFixture) call(t testing.TB, method, path, token string, body any, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = strings.NewReader(string(b))
	default:
		data, err := json.Marshal(b)
		require.NoError(t, err)
		rd = strings.NewReader(string(data))
	}
	req, err := http.NewRequestWithContext(context.Background(), method, f.srv.URL+path, rd)
	require.NoError(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return resp{status: res.StatusCode, header: res.Header, body: data}
}

// tokens are what signup, login and refresh return.
type tokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
	Expires int64  `json:"expires_in"`
	Type    string `json:"token_type"`
}

func (r resp) tokens(t testing.TB) tokens {
	t.Helper()
	var tk tokens
	require.NoError(t, json.Unmarshal(r.body, &tk), "body: %s", r.body)
	require.NotEmpty(t, tk.Access, "body: %s", r.body)
	require.NotEmpty(t, tk.Refresh)
	require.Equal(t, "Bearer", tk.Type)
	return tk
}

// signup creates a user (and an org when orgSlug is set) and returns its
// tokens and user ID.
func (f *idFixture) signup(t testing.TB, email, password, orgSlug string) (tokens, string) {
	t.Helper()
	body := map[string]any{"email": email, "password": password}
	if orgSlug != "" {
		body["org_name"] = strings.ToUpper(orgSlug[:1]) + orgSlug[1:] + " Inc"
		body["org_slug"] = orgSlug
	}
	r := f.call(t, http.MethodPost, "/auth/signup", "", body)
	require.Equal(t, http.StatusCreated, r.status, "signup %s: %s", email, r.body)
	var out struct {
		User User `json:"user"`
	}
	require.NoError(t, json.Unmarshal(r.body, &out))
	return r.tokens(t), out.User.ID
}

// login returns the tokens of a password login.
func (f *idFixture) login(t testing.TB, email, password string) tokens {
	t.Helper()
	r := f.call(t, http.MethodPost, "/auth/login", "", map[string]any{"email": email, "password": password})
	require.Equal(t, http.StatusOK, r.status, "login %s: %s", email, r.body)
	return r.tokens(t)
}

// audit returns the org's audit entries, oldest first.
func (f *idFixture) audit(t testing.TB, orgID string) []AuditEntry {
	t.Helper()
	page, err := f.store.ListAuditEntries(context.Background(), AuditFilter{OrgID: orgID, Limit: 500})
	require.NoError(t, err)
	out := page.Entries
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// platformAudit returns every audit entry, oldest first.
func (f *idFixture) platformAudit(t testing.TB) []AuditEntry {
	t.Helper()
	page, err := f.store.ListPlatformAuditEntries(context.Background(), AuditFilter{Limit: 500})
	require.NoError(t, err)
	out := page.Entries
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// actions lists the actions of entries.
func actions(es []AuditEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Action
	}
	return out
}
