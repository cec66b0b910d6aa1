package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/tenancy"
)

// FuzzAuthTenantHeaders drives the whole pipeline (in process, real
// upstream) with arbitrary org and project header values and an arbitrary
// extra header, as an authenticated owner of acme. Whatever arrives:
//
//   - the answer is 200, 400 (bad_request, org_required), 401 or 403 —
//     never a 5xx;
//   - a forwarded request carries acme (the only org the caller may use),
//     exactly one value per X-Tenant-* header, none of them the client's,
//     and a project of acme or none.
func FuzzAuthTenantHeaders(f *testing.F) {
	env := newAuthEnv(f, authEnvOptions{store: tenancy.NewMemoryStore()})
	sd := env.seed
	tok := env.userToken(f, sd.alice)
	h := env.proxy.Server.Handler()
	for _, s := range [][4]string{
		{"acme", "web", "X-Tenant-Org-Id", "evil"},
		{"ACME", "", "x_tenant_role", "owner"},
		{"beta", "web", "X-Other", "v"},
		{sd.acme.ID, sd.web.ID, "X-TENANT-ASSERTION", "e30"},
		{"", "", "X-Organization-Id", "beta"},
		{" acme ", "we b", "X-Tenant-", ""},
		{strings.Repeat("a", 80), "\x00", "Authorization", "Bearer x"},
		{"acme,beta", "-web", "X-Project-Id", "mobile"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, org, project, name, value string) {
		if !validFieldValue(org) || !validFieldValue(project) || !validFieldValue(value) || !validFieldName(name) {
			t.Skip("not expressible on the wire")
		}
		req := httptest.NewRequest(http.MethodGet, "http://app.test/api/posts", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if org != "" {
			req.Header.Set(authOrgHeader, org)
		}
		if project != "" {
			req.Header.Set("X-Project-Id", project)
		}
		req.Header[name] = append(req.Header[name], value)
		before := env.upstream.count()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
			require.Equal(t, before, env.upstream.count(), "refused requests are not forwarded")
			return
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		got := env.upstream.last(t)
		want := map[string]string{
			"X-Tenant-Org-Id":   sd.acme.ID,
			"X-Tenant-Org-Slug": "acme",
			"X-Tenant-User-Id":  sd.alice.ID,
			"X-Tenant-Role":     "owner",
		}
		if len(got.Header.Values("X-Tenant-Project-Id")) > 0 {
			want["X-Tenant-Project-Id"] = sd.web.ID
		}
		for k, vs := range got.Header {
			if !isTenantHeader(k) || k == "X-Tenant-Assertion" {
				continue
			}
			require.Contains(t, want, k, "unexpected tenant header")
			require.Equal(t, []string{want[k]}, vs, k)
		}
		for k, v := range want {
			require.Equal(t, v, got.Header.Get(k), k)
		}
		asserted, err := env.verifier.Verify(context.Background(), got.Header.Get("X-Tenant-Assertion"))
		require.NoError(t, err)
		require.Equal(t, sd.acme.ID, asserted.OrgID)
		require.Equal(t, want["X-Tenant-Project-Id"], asserted.ProjectID)
	})
}

// validFieldValue: what net/http lets a client send as a header value.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// validFieldName: an RFC 9110 token.
func validFieldName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
