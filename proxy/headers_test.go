package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIsTenantHeaderTable(t *testing.T) {
	cases := map[string]bool{
		"X-Tenant-Org-Id":    true,
		"x-tenant-org-id":    true,
		"X-TENANT-ROLE":      true,
		"X_Tenant_User_Id":   true,
		"x_tenant-assertion": true,
		"X-Tenant-":          true,
		"X-tEnAnT-anything":  true,
		"X-Tenant":           false,
		"X-Tenantish":        false,
		"X-Tenants-Org":      false,
		"Tenant-Org-Id":      false,
		"XX-Tenant-Org":      false,
		"":                   false,
		"X-Tenant\x00-":      false,
	}
	for k, want := range cases {
		assert.Equal(t, want, isTenantHeader(k), "%q", k)
	}
}

func TestStripTenantHeadersEveryVariant(t *testing.T) {
	h := http.Header{
		"X-Tenant-Org-Id":   {"a", "b"},
		"x-tenant-org-id":   {"c"}, // non-canonical keys can be set directly
		"X_tenant_role":     {"owner"},
		"X-Tenant-Role":     {"owner", "admin"},
		"Authorization":     {"Bearer t"},
		"X-Tenantish":       {"kept"},
		"X-Organization-Id": {"acme"},
	}
	stripTenantHeaders(h)
	assert.Equal(t, []string{"Authorization", "X-Organization-Id", "X-Tenantish"}, sortedKeys(h))
}

func TestRequestIDValidation(t *testing.T) {
	valid := []string{"a", "abc-123", "4bf92f3577b34da6a3ce929d0e0e4736", "Root=1-67891233-abcdef012345678912345678",
		"550e8400-e29b-41d4-a716-446655440000", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "a+b/c=", "user@host:1", strings.Repeat("x", maxRequestIDLen)}
	invalid := []string{"", " ", "a b", "a\tb", "a\nb", "a\r\nX-Injected: 1", `a"b`, "a'b", "a,b", "a;b", "a<b>", "a\\b",
		"ид", "\x00", "\x7f", strings.Repeat("x", maxRequestIDLen+1), "%0A", "{}", "a|b"}
	for _, s := range valid {
		assert.True(t, validRequestID(s), "%q", s)
	}
	for _, s := range invalid {
		assert.False(t, validRequestID(s), "%q", s)
	}
}

func TestGeneratedRequestIDs(t *testing.T) {
	g, err := newIDGenerator()
	require.NoError(t, err)
	other, err := newIDGenerator()
	require.NoError(t, err)
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := g.next()
		require.True(t, validRequestID(id), "%q", id)
		require.False(t, seen[id], "duplicate %q", id)
		seen[id] = true
	}
	assert.False(t, seen[other.next()], "another process (generator) does not collide")
	keep := http.Header{"X-Request-Id": {"keep-me"}}
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = g.requestID(keep) }))
}

func TestForwardedHeadersTable(t *testing.T) {
	cases := []struct {
		name          string
		in            http.Header
		remote        string
		wantFor       string
		wantProto     string
		wantHost      string
		wantForwarded []string
	}{
		{"none", http.Header{}, "10.1.2.3:5555", "10.1.2.3", "http", "pub.example", nil},
		{"chain", http.Header{"X-Forwarded-For": {"1.1.1.1", "2.2.2.2, 3.3.3.3"}}, "10.1.2.3:5555", "1.1.1.1, 2.2.2.2, 3.3.3.3, 10.1.2.3", "http", "pub.example", nil},
		{"kept proto host", http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"www.example"}}, "[::1]:80", "::1", "https", "www.example", nil},
		{"forwarded kept", http.Header{"Forwarded": {"for=1.1.1.1"}}, "10.0.0.1:1", "10.0.0.1", "http", "pub.example", []string{"for=1.1.1.1"}},
		{"no peer address", http.Header{"X-Forwarded-For": {"1.1.1.1"}}, "@unix", "", "http", "pub.example", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := http.NewRequest("GET", "http://pub.example/x", nil)
			in.Header = tc.in
			in.RemoteAddr = tc.remote
			out := in.Clone(in.Context())
			out.Header = http.Header{}
			setForwardedHeaders(&httputil.ProxyRequest{In: in, Out: out}, nil)
			assert.Equal(t, tc.wantFor, out.Header.Get("X-Forwarded-For"))
			assert.Equal(t, tc.wantProto, out.Header.Get("X-Forwarded-Proto"))
			assert.Equal(t, tc.wantHost, out.Header.Get("X-Forwarded-Host"))
			assert.Equal(t, tc.wantForwarded, out.Header["Forwarded"])
		})
	}
}

func TestForwardedForMatchesSetXForwarded(t *testing.T) {
	for _, tc := range []struct {
		remote string
		prior  []string
	}{
		{"10.0.0.1:1", nil},
		{"10.0.0.1:1", []string{"1.1.1.1"}},
		{"[2001:db8::1]:443", []string{"1.1.1.1, 2.2.2.2", "3.3.3.3"}},
		{"garbage", []string{"1.1.1.1"}},
	} {
		in, _ := http.NewRequest("GET", "http://pub.example/x", nil)
		in.RemoteAddr = tc.remote
		if tc.prior != nil {
			in.Header["X-Forwarded-For"] = tc.prior
		}
		ours := &httputil.ProxyRequest{In: in, Out: in.Clone(in.Context())}
		ours.Out.Header = http.Header{}
		setForwardedHeaders(ours, nil)

		std := &httputil.ProxyRequest{In: in, Out: in.Clone(in.Context())}
		std.Out.Header = http.Header{}
		if tc.prior != nil {
			std.Out.Header["X-Forwarded-For"] = tc.prior
		}
		std.SetXForwarded()
		assert.Equal(t, std.Out.Header, ours.Out.Header, "remote %s, prior %v", tc.remote, tc.prior)
	}
}

func TestErrorJSONEscaping(t *testing.T) {
	for _, msg := range []string{`plain`, `quo"te`, `back\slash`, "new\nline", "\x00\x1f\x7f", "<script>&", "Zoë ✓", "\xff\xfe", "\u2028\u2029"} {
		b := appendErrorJSON(nil, "code", msg, "id")
		var e errorBody
		require.NoError(t, json.Unmarshal(b, &e), "%q → %s", msg, b)
		if utf8.ValidString(msg) {
			assert.Equal(t, msg, e.Error.Message)
		}
		assert.NotContains(t, string(b), "<")
	}
}

// FuzzRequestID feeds arbitrary X-Request-ID header values: the id chosen is
// always valid, and a valid inbound one is kept unchanged.
func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"abc", "", "a b", "a\r\nb", strings.Repeat("z", 200), "ид", `"`, "Root=1-2-3"} {
		f.Add(s, "")
		f.Add(s, "second")
	}
	g, err := newIDGenerator()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v1, v2 string) {
		h := http.Header{"X-Request-Id": {v1}}
		if v2 != "" {
			h.Add("X-Request-Id", v2)
		}
		id := g.requestID(h)
		if !validRequestID(id) {
			t.Fatalf("chose invalid id %q", id)
		}
		if v2 == "" && validRequestID(v1) && id != v1 {
			t.Fatalf("valid id %q replaced by %q", v1, id)
		}
		if v2 != "" && id == v1 {
			t.Fatalf("kept %q although two values were sent", v1)
		}
		b := appendErrorJSON(nil, CodeNotFound, v1, id)
		if !json.Valid(b) {
			t.Fatalf("invalid JSON %s", b)
		}
	})
}

// FuzzHeaderHygiene feeds arbitrary header names and values through the
// Rewrite step: no X-Tenant-* variant survives, other headers do, and the
// tenant headers the proxy sets are exactly the resolved ones.
func FuzzHeaderHygiene(f *testing.F) {
	for _, s := range []string{"X-Tenant-Org-ID", "x-tenant-role", "X_TENANT_USER_ID", "X-Tenantish", "Authorization", "x-tenant-", "X-Tenant"} {
		f.Add(s, "value", "org-1")
	}
	f.Fuzz(func(t *testing.T, name, value, org string) {
		if name == "" {
			return
		}
		in, _ := http.NewRequest("GET", "http://h/x", nil)
		in.RemoteAddr = "10.0.0.1:1"
		in.Header[name] = []string{value}
		in.Header[http.CanonicalHeaderKey(name)] = append(in.Header[http.CanonicalHeaderKey(name)], value)
		out := in.Clone(in.Context())
		st := &requestState{Context: in.Context(), id: "rid"}
		if org != "" {
			st.tenant = &TenantContext{OrgID: org}
		}
		in = in.WithContext(st)
		b := &backend{scheme: "http", host: "upstream"}
		b.rewrite(&httputil.ProxyRequest{In: in, Out: out})
		for k, vs := range out.Header {
			if isTenantHeader(k) && !(k == headerTenantOrgID && org != "" && len(vs) == 1 && vs[0] == org) {
				t.Fatalf("tenant header %q=%q reached the upstream", k, vs)
			}
		}
		if !isTenantHeader(name) && name != "X-Request-Id" && !strings.EqualFold(name, "x-request-id") &&
			!strings.HasPrefix(http.CanonicalHeaderKey(name), "X-Forwarded-") && http.CanonicalHeaderKey(name) != "Forwarded" {
			if len(out.Header[name]) == 0 {
				t.Fatalf("end-to-end header %q was dropped", name)
			}
		}
		if got := out.Header.Get("X-Request-Id"); got != "rid" {
			t.Fatalf("request id %q", got)
		}
	})
}

// FuzzRewriteTarget checks that the upstream request line carries the
// inbound path and query byte for byte, whatever they hold.
func FuzzRewriteTarget(f *testing.F) {
	for _, s := range []string{"/a%2Fb?x=1;y", "/{x}/caf\xc3\xa9?q=%zz", "/a//b", "//lead", "/?", "/p?a=1&a=2", "*"} {
		f.Add(s, "")
		f.Add(s, "/base")
	}
	f.Fuzz(func(t *testing.T, target, base string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\x00#") || strings.ContainsAny(base, "?#% ") {
			return // not a request line net/http would accept, or not a base path
		}
		for i := 0; i < len(target); i++ {
			if target[i] < 0x21 || target[i] == 0x7f {
				return
			}
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return // net/http answers 400 itself
		}
		base = strings.TrimSuffix(base, "/")
		if base != "" && !strings.HasPrefix(base, "/") {
			return
		}
		in := &http.Request{Method: "GET", URL: u, RequestURI: target, Header: http.Header{}, Host: "h", RemoteAddr: "10.0.0.1:1"}
		out := in.Clone(context.Background())
		st := &requestState{Context: context.Background(), rawPath: rawRequestPath(target, u.EscapedPath())}
		in = in.WithContext(st)
		b := &backend{scheme: "http", host: "upstream", basePath: base}
		b.rewrite(&httputil.ProxyRequest{In: in, Out: out})
		want := base + target
		if strings.HasPrefix(want, "//") {
			// Documented limit: falls back to RawPath, exact when valid.
			return
		}
		if got := out.URL.RequestURI(); got != want {
			t.Fatalf("request line target %q, want %q", got, want)
		}
	})
}
