package tenancy

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDecodeHostileBodies: every parser refuses hostile bodies with a 400
// naming the member at fault (or none when the body as a whole is bad).
func TestDecodeHostileBodies(t *testing.T) {
	long := strings.Repeat("a", 300)
	cases := []struct {
		name  string
		parse func([]byte) *apiError
		body  string
		field string // "" with ok=false: a whole-body error
		ok    bool
	}{
		// The shape of the body.
		{"empty", signupErr, ``, "", false},
		{"whitespace", signupErr, " \n\t ", "", false},
		{"null", signupErr, `null`, "", false},
		{"array", signupErr, `[{"email":"a@b.co","password":"12345678"}]`, "", false},
		{"string", signupErr, `"email"`, "", false},
		{"number", signupErr, `42`, "", false},
		{"truncated", signupErr, `{"email":"a@b.co"`, "", false},
		{"trailing object", signupErr, `{"email":"a@b.co","password":"12345678"}{}`, "", false},
		{"trailing garbage", signupErr, `{"email":"a@b.co","password":"12345678"} x`, "", false},
		{"trailing whitespace ok", signupErr, "{\"email\":\"a@b.co\",\"password\":\"12345678\"}\n", "", true},
		{"invalid utf-8", signupErr, "{\"email\":\"a@b.co\",\"password\":\"1234567\xff\"}", "", false},
		{"comment", signupErr, `{"email":"a@b.co", /* x */ "password":"12345678"}`, "", false},
		{"single quotes", signupErr, `{'email':'a@b.co'}`, "", false},
		{"bom", signupErr, "\ufeff{\"email\":\"a@b.co\",\"password\":\"12345678\"}", "", false},
		// Members.
		{"unknown field", signupErr, `{"email":"a@b.co","password":"12345678","admin":true}`, "admin", false},
		{"case-variant field", signupErr, `{"EMAIL":"a@b.co","password":"12345678"}`, "EMAIL", false},
		{"duplicate field", signupErr, `{"email":"a@b.co","email":"c@d.co","password":"12345678"}`, "email", false},
		{"field with quote", signupErr, `{"e\"mail":"a@b.co"}`, `"e\"mail"`, false},
		{"field with control", signupErr, `{"e\u0000mail":"a@b.co"}`, `"e\x00mail"`, false},
		{"wrong type", signupErr, `{"email":42,"password":"12345678"}`, "email", false},
		{"wrong type object", signupErr, `{"email":"a@b.co","password":{"x":1}}`, "password", false},
		{"null member", signupErr, `{"email":null,"password":"12345678"}`, "email", false},
		{"missing email", signupErr, `{"password":"12345678"}`, "email", false},
		{"deep nesting", signupErr, `{"email":"a@b.co","password":"12345678","org_name":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`, "org_name", false},
		// Emails.
		{"email no at", signupErr, `{"email":"ab.co","password":"12345678"}`, "email", false},
		{"email two ats", signupErr, `{"email":"a@b@c.co","password":"12345678"}`, "email", false},
		{"email display name", signupErr, `{"email":"Al <a@b.co>","password":"12345678"}`, "email", false},
		{"email no dot", signupErr, `{"email":"a@localhost","password":"12345678"}`, "email", false},
		{"email space", signupErr, `{"email":"a b@c.co","password":"12345678"}`, "email", false},
		{"email newline", signupErr, `{"email":"a@b.co\nBcc: x@y.co","password":"12345678"}`, "email", false},
		{"email unicode", signupErr, `{"email":"ä@b.co","password":"12345678"}`, "email", false},
		{"email dots", signupErr, `{"email":"a..b@c.co","password":"12345678"}`, "email", false},
		{"email label dash", signupErr, `{"email":"a@-b.co","password":"12345678"}`, "email", false},
		{"email long", signupErr, `{"email":"` + long + `@b.co","password":"12345678"}`, "email", false},
		{"email ok", signupErr, `{"email":"first.last+tag@sub.example.co.uk","password":"12345678"}`, "", true},
		// Passwords.
		{"password short", signupErr, `{"email":"a@b.co","password":"1234567"}`, "password", false},
		{"password long", signupErr, `{"email":"a@b.co","password":"` + long + `"}`, "password", false},
		{"password 8 bytes", signupErr, `{"email":"a@b.co","password":"12345678"}`, "", true},
		{"password 256 bytes", signupErr, `{"email":"a@b.co","password":"` + strings.Repeat("p", 256) + `"}`, "", true},
		{"password multibyte counts bytes", signupErr, `{"email":"a@b.co","password":"ééé"}`, "password", false},
		// Slugs and names.
		{"slug without name", signupErr, `{"email":"a@b.co","password":"12345678","org_slug":"acme"}`, "org_name", false},
		{"slug upper", signupErr, `{"email":"a@b.co","password":"12345678","org_name":"A","org_slug":"Acme"}`, "org_slug", false},
		{"slug short", signupErr, `{"email":"a@b.co","password":"12345678","org_name":"A","org_slug":"ab"}`, "org_slug", false},
		{"slug long", signupErr, `{"email":"a@b.co","password":"12345678","org_name":"A","org_slug":"` + strings.Repeat("a", 64) + `"}`, "org_slug", false},
		{"slug underscore", signupErr, `{"email":"a@b.co","password":"12345678","org_name":"A","org_slug":"ac_me"}`, "org_slug", false},
		{"slug leading dash", signupErr, `{"email":"a@b.co","password":"12345678","org_name":"A","org_slug":"-acme"}`, "org_slug", false},
		{"slug uuid", signupErr, `{"email":"a@b.co","password":"12345678","org_name":"A","org_slug":"0b7f6a3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"}`, "org_slug", false},
		{"slug path", signupErr, `{"email":"a@b.co","password":"12345678","org_name":"A","org_slug":"../x"}`, "org_slug", false},
		{"name blank", signupErr, `{"email":"a@b.co","password":"12345678","org_name":"   "}`, "org_name", false},
		{"name control", signupErr, `{"email":"a@b.co","password":"12345678","org_name":"A\u0007B"}`, "org_name", false},
		{"name long", signupErr, `{"email":"a@b.co","password":"12345678","org_name":"` + long + `"}`, "org_name", false},
		// Login.
		{"login ok", loginErr, `{"email":"a@b.co","password":"x"}`, "", true},
		{"login empty password", loginErr, `{"email":"a@b.co","password":""}`, "password", false},
		{"login long password", loginErr, `{"email":"a@b.co","password":"` + long + `"}`, "password", false},
		{"login org field", loginErr, `{"email":"a@b.co","password":"x","org_name":"y"}`, "org_name", false},
		// Refresh.
		{"refresh missing", refreshErr, `{}`, "refresh_token", false},
		{"refresh number", refreshErr, `{"refresh_token":1}`, "refresh_token", false},
		{"refresh ok", refreshErr, `{"refresh_token":"x"}`, "", true},
		// Orgs, patches, projects.
		{"org ok", orgErr, `{"name":"Acme"}`, "", true},
		{"org bad slug", orgErr, `{"name":"Acme","slug":"a--b_"}`, "slug", false},
		{"patch empty", patchErr, `{}`, "", false},
		{"patch null", patchErr, `{"name":null}`, "", false},
		{"patch slug", patchErr, `{"slug":"UPPER"}`, "slug", false},
		{"patch ok", patchErr, `{"slug":"new-slug"}`, "", true},
		{"project no slug", projectErr, `{"name":"Web"}`, "slug", false},
		{"project no name", projectErr, `{"slug":"web"}`, "name", false},
		// Members.
		{"member role", memberErr, `{"email":"a@b.co","role":"root"}`, "role", false},
		{"member role case", memberErr, `{"email":"a@b.co","role":"Admin"}`, "role", false},
		{"member no role", memberErr, `{"email":"a@b.co"}`, "role", false},
		{"member ok", memberErr, `{"email":"a@b.co","role":"viewer"}`, "", true},
		{"member patch extra", memberPatchErr, `{"role":"viewer","email":"a@b.co"}`, "email", false},
		// API keys.
		{"key scopes type", keyErr, `{"name":"k","role":"member","scopes":"read"}`, "scopes", false},
		{"key scope empty", keyErr, `{"name":"k","role":"member","scopes":[""]}`, "scopes[0]", false},
		{"key scopes many", keyErr, `{"name":"k","role":"member","scopes":[` + strings.TrimSuffix(strings.Repeat(`"a",`, 33), ",") + `]}`, "scopes", false},
		{"key project bad", keyErr, `{"name":"k","role":"member","project":"not a slug"}`, "project", false},
		{"key expiry bad", keyErr, `{"name":"k","role":"member","expires_at":"2030-13-01T00:00:00Z"}`, "expires_at", false},
		{"key ok", keyErr, `{"name":"k","role":"member","scopes":["read"],"project":"web","expires_at":"2030-01-01T00:00:00Z"}`, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := c.parse([]byte(c.body))
			if c.ok {
				require.Nil(t, e, "%v", e)
				return
			}
			require.NotNil(t, e)
			assert.Equal(t, http.StatusBadRequest, e.status)
			assert.Equal(t, codeBadRequest, e.code)
			assert.Equal(t, c.field, e.field, "message: %s", e.message)
			if c.field != "" {
				assert.True(t, strings.HasPrefix(e.message, c.field+": "), "the message names the field: %s", e.message)
			}
		})
	}
}

func signupErr(b []byte) *apiError      { _, e := parseSignup(b); return e }
func loginErr(b []byte) *apiError       { _, e := parseLogin(b); return e }
func refreshErr(b []byte) *apiError     { _, e := parseRefresh(b); return e }
func orgErr(b []byte) *apiError         { _, e := parseOrgCreate(b); return e }
func patchErr(b []byte) *apiError       { _, e := parsePatch(b); return e }
func projectErr(b []byte) *apiError     { _, e := parseProjectCreate(b); return e }
func memberErr(b []byte) *apiError      { _, e := parseMemberAdd(b); return e }
func memberPatchErr(b []byte) *apiError { _, e := parseMemberPatch(b); return e }
func keyErr(b []byte) *apiError         { _, e := parseKeyCreate(b); return e }

// TestHostileRequestsOverHTTP: size limit, content type and errors in the
// SPEC §5 shape, through the handlers.
func TestHostileRequestsOverHTTP(t *testing.T) {
	f := newIDFixture(t, NewMemoryStore())
	tk, _ := f.signup(t, "big@example.test", "big-password", "bigco")

	huge := `{"email":"a@b.co","password":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`
	r := f.call(t, http.MethodPost, "/auth/signup", "", huge, "X-Request-Id", "req-413")
	require.Equal(t, http.StatusRequestEntityTooLarge, r.status)
	code, _ := r.errCode(t)
	assert.Equal(t, codePayloadTooLarge, code)
	var e errorJSON
	require.NoError(t, json.Unmarshal(r.body, &e))
	assert.Equal(t, "req-413", e.Error.RequestID, "errors carry the request id")
	assert.Equal(t, "req-413", r.header.Get("X-Request-Id"))

	// A body without Content-Length (chunked) is cut at the limit too.
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/orgs/bigco/projects", &endlessReader{})
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tk.Access)
	res, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)

	r = f.call(t, http.MethodPost, "/auth/login", "", "email=a@b.co&password=x", "Content-Type", "application/x-www-form-urlencoded")
	assert.Equal(t, http.StatusBadRequest, r.status, "form posts are refused")
	r = f.call(t, http.MethodPost, "/auth/login", "", `{"email":"a@b.co","password":"x"}`, "Content-Type", "application/vnd.api+json; charset=utf-8")
	assert.Equal(t, http.StatusUnauthorized, r.status, "+json types are JSON")

	r = f.call(t, http.MethodPost, "/orgs/bigco/members", tk.Access, `{"email":"a@b.co","role":"member","Role":"owner"}`)
	require.Equal(t, http.StatusBadRequest, r.status)
	code, field := r.errCode(t)
	assert.Equal(t, "bad_request", code)
	assert.Equal(t, "Role", field)

	// Path references that are neither IDs nor slugs are simply not found.
	for _, p := range []string{"/orgs/%00", "/orgs/a%20b", "/orgs/" + strings.Repeat("a", 100), "/orgs/bigco/projects/%2e%2e", "/orgs/bigco/api-keys/not-an-id", "/orgs/bigco/members/not-an-id"} {
		r = f.call(t, http.MethodGet, p, tk.Access, nil)
		if strings.Contains(p, "api-keys") || strings.Contains(p, "members/") {
			r = f.call(t, http.MethodDelete, p, tk.Access, nil)
		}
		assert.Equal(t, http.StatusNotFound, r.status, "%s: %s", p, r.body)
	}
}

type endlessReader struct{}

func (endlessReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestCheckersAndHelpers(t *testing.T) {
	for in, want := range map[string]string{
		"Acme Inc":              "acme-inc",
		"  --Hello,   World!! ": "hello-world",
		"Ünïcödé Org":           "n-c-d-org",
		"":                      "",
		"---":                   "",
	} {
		assert.Equal(t, want, slugify(in), "%q", in)
	}
	long := slugify(strings.Repeat("ab ", 30))
	assert.LessOrEqual(t, len(long), 40)
	assert.True(t, strings.HasPrefix(long, "ab-ab-"))
	assert.NoError(t, nilIfOK(checkSlug("slug", trimSlug(long, 50))))
	assert.Equal(t, "203.0.113.7", rateKeyIP("203.0.113.7"))
	assert.Equal(t, "2001:db8:1:2::/64", rateKeyIP("2001:db8:1:2:aaaa:bbbb:cccc:dddd"))
	assert.Equal(t, rateKeyIP("2001:db8:1:2::1"), rateKeyIP("2001:db8:1:2::2"), "one /64 is one client")
	assert.Equal(t, "?", rateKeyIP(""))
	r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	r.RemoteAddr = "[::ffff:192.0.2.1]:1234"
	assert.Equal(t, "192.0.2.1", clientIPFromRemote(r))
	r.RemoteAddr = "[fe80::1%eth0]:1"
	assert.Equal(t, "fe80::1", clientIPFromRemote(r))
	r.RemoteAddr = "pipe"
	assert.Equal(t, "", clientIPFromRemote(r))
}

// nilIfOK turns a nil *apiError into a nil error.
func nilIfOK(e *apiError) error {
	if e == nil {
		return nil
	}
	return e
}
