package tenancy

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// Fuzz targets of the JSON bodies of the identity and tenant endpoints.
// Invariants: no panic; a refusal is a 400 bad_request whose message names
// its field; an accepted body satisfies every rule of its fields, and its
// members are exactly spelled, unique and the only ones.
//
//	go test ./tenancy -run '^$' -fuzz FuzzDecodeSignup -fuzztime 20s

// seedBodies are corpus entries shared by the targets.
var seedBodies = []string{
	`{"email":"a@b.co","password":"12345678"}`,
	`{"email":"a@b.co","password":"12345678","org_name":"Acme","org_slug":"acme"}`,
	`{"email":"a@b.co","email":"c@d.co"}`,
	`{"EMAIL":"a@b.co"}`,
	`{"refresh_token":"` + strings.Repeat("A", 43) + `"}`,
	`{"name":"x","role":"member","scopes":["read"],"project":"web","expires_at":"2030-01-01T00:00:00Z"}`,
	`{"slug":"web","name":"Web"}`,
	`{"name":null,"slug":"x-y"}`,
	`{"role":"owner"}`,
	`{} {}`,
	"{\"email\":\"\xff\"}",
	`[1,2,3]`,
	`{"a":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`,
	``,
}

func addSeeds(f *testing.F) {
	for _, s := range seedBodies {
		f.Add([]byte(s))
	}
}

// checkRefusal asserts the shape of a refusal.
func checkRefusal(t *testing.T, e *apiError) {
	t.Helper()
	if e.status != http.StatusBadRequest || e.code != codeBadRequest || e.message == "" {
		t.Fatalf("refusal of the wrong shape: %+v", e)
	}
	if e.field != "" && !strings.HasPrefix(e.message, e.field+": ") {
		t.Fatalf("message %q does not name field %q", e.message, e.field)
	}
	if !utf8.ValidString(e.message) {
		t.Fatalf("message is not UTF-8: %q", e.message)
	}
}

// checkMembers asserts that an accepted body has only exactly-spelled,
// unique members of T.
func checkMembers[T any](t *testing.T, body []byte) {
	t.Helper()
	var zero T
	allowed := jsonFields(typeOf(zero))
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("accepted a body that is not an object: %q", body)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("accepted malformed JSON %q", body)
		}
		k := tok.(string)
		if _, ok := allowed[k]; !ok || seen[k] {
			t.Fatalf("accepted member %q in %q", k, body)
		}
		seen[k] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("accepted malformed JSON %q", body)
		}
	}
}

func FuzzDecodeSignup(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, e := parseSignup(body)
		if e != nil {
			checkRefusal(t, e)
			return
		}
		checkMembers[signupRequest](t, body)
		if e, bad := normalizeEmail("email", req.Email); bad != nil || e != req.Email {
			t.Fatalf("accepted email %q", req.Email)
		}
		if len(req.Password) < minPasswordLen || len(req.Password) > maxPasswordLen {
			t.Fatalf("accepted password of %d bytes", len(req.Password))
		}
		if req.OrgSlug != "" && (req.OrgName == "" || checkSlug("", req.OrgSlug) != nil) {
			t.Fatalf("accepted org_slug %q with org_name %q", req.OrgSlug, req.OrgName)
		}
		if req.OrgName != "" {
			if n, bad := normalizeName("", req.OrgName); bad != nil || n != req.OrgName {
				t.Fatalf("accepted org_name %q", req.OrgName)
			}
		}
	})
}

func FuzzDecodeLogin(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, e := parseLogin(body)
		if e != nil {
			checkRefusal(t, e)
			return
		}
		checkMembers[loginRequest](t, body)
		if req.Password == "" || len(req.Password) > maxPasswordLen || !strings.Contains(req.Email, "@") {
			t.Fatalf("accepted %+v", req)
		}
	})
}

func FuzzDecodeRefresh(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, e := parseRefresh(body)
		if e != nil {
			checkRefusal(t, e)
			return
		}
		checkMembers[refreshRequest](t, body)
		if req.RefreshToken == "" {
			t.Fatal("accepted an empty refresh token")
		}
		if h, ok := parseRefreshToken(req.RefreshToken); ok && len(h) != 32 {
			t.Fatalf("hash of %d bytes", len(h))
		}
	})
}

func FuzzParseRefreshToken(f *testing.F) {
	tok, _ := newRefreshToken()
	for _, s := range []string{tok, strings.Repeat("A", 43), strings.Repeat("_", 43), strings.Repeat("A", 42) + "B", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := parseRefreshToken(s)
		if !ok {
			return
		}
		if len(s) != refreshTokenLen || len(h) != 32 {
			t.Fatalf("accepted %q", s)
		}
		// One spelling per value: the token re-encodes to itself.
		if _, err := jsonRoundTripToken(s); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzDecodeOrg(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, e := parseOrgCreate(body)
		if e != nil {
			checkRefusal(t, e)
			return
		}
		checkMembers[orgRequest](t, body)
		if req.Name == "" || (req.Slug != "" && checkSlug("", req.Slug) != nil) {
			t.Fatalf("accepted %+v", req)
		}
	})
}

func FuzzDecodePatch(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, e := parsePatch(body)
		if e != nil {
			checkRefusal(t, e)
			return
		}
		checkMembers[patchRequest](t, body)
		if req.Name == nil && req.Slug == nil {
			t.Fatal("accepted an empty patch")
		}
		if req.Slug != nil && checkSlug("", *req.Slug) != nil {
			t.Fatalf("accepted slug %q", *req.Slug)
		}
		if req.Name != nil && *req.Name == "" {
			t.Fatal("accepted an empty name")
		}
	})
}

func FuzzDecodeMember(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		in, e := parseMemberAdd(body)
		if e != nil {
			checkRefusal(t, e)
			return
		}
		checkMembers[memberRequest](t, body)
		if !in.role.Valid() || !strings.Contains(in.email, "@") {
			t.Fatalf("accepted %+v", in)
		}
		role, e := parseMemberPatch(body)
		if e == nil && !role.Valid() {
			t.Fatalf("accepted role %q", role)
		}
	})
}

func FuzzDecodeAPIKey(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		in, e := parseKeyCreate(body)
		if e != nil {
			checkRefusal(t, e)
			return
		}
		checkMembers[keyRequest](t, body)
		if in.name == "" || !in.role.Valid() || len(in.scopes) > maxKeyScopes {
			t.Fatalf("accepted %+v", in)
		}
		seen := map[string]bool{}
		for _, s := range in.scopes {
			if s == "" || seen[s] {
				t.Fatalf("accepted scopes %q", in.scopes)
			}
			seen[s] = true
		}
		if in.project != "" {
			if ref, ok := normRef(in.project); !ok || ref != in.project {
				t.Fatalf("accepted project %q", in.project)
			}
		}
	})
}

func typeOf(v any) reflect.Type { return reflect.TypeOf(v) }

// jsonRoundTripToken decodes a refresh token and encodes it again; an
// accepted token must come back unchanged.
func jsonRoundTripToken(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", err
	}
	if out := base64.RawURLEncoding.EncodeToString(b); out != s {
		return "", fmt.Errorf("token %q re-encodes as %q", s, out)
	}
	return s, nil
}
