package shadow

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/7cycles-ai/strangler/config"
)

// FuzzCompareAnswers feeds arbitrary bodies with arbitrary Content-Encoding
// headers (both come from backends) through the whole comparison: it never
// fails except on the decoded-size cap, never decodes past the cap, and
// comparing an answer with itself is a match.
func FuzzCompareAnswers(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "gzip", []byte(`{"a":2}`), "", 200, 201)
	f.Add(gz(f, `{"a":[1,2]}`), "gzip", br(f, `{"a":[2,1]}`), "br", 200, 200)
	f.Add(zl(f, "hello"), "deflate", rawDeflate(f, "hello"), "deflate", 404, 404)
	f.Add([]byte("\x1f\x8b\x08\x00"), "gzip, br", []byte{}, "identity", 0, 599)
	rules := MustCompileRules(config.RouteShadow{IgnorePaths: []string{"$..id"}, UnorderedArrays: []string{"$.a"}})
	red := NewRedactor(nil, []string{"password"})
	f.Fuzz(func(t *testing.T, a []byte, encA string, b []byte, encB string, sa, sb int) {
		pa := Answer{Status: sa, Header: http.Header{"Content-Encoding": {encA}}, Body: a}
		pb := Answer{Status: sb, Header: http.Header{"Content-Encoding": {encB}}, Body: b}
		const limit = 1 << 16
		rep, err := rules.Compare(pa, pb, CompareOptions{DecodedLimit: limit, Redact: red})
		if err != nil {
			if !strings.Contains(err.Error(), ErrDecodedTooLarge.Error()) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(rep.primaryBody) > limit || len(rep.candidateBody) > limit {
			t.Fatalf("decoded past the cap: %d, %d", len(rep.primaryBody), len(rep.candidateBody))
		}
		for _, d := range rep.Differences {
			if d.Primary != nil && !json.Valid(d.Primary) || d.Candidate != nil && !json.Valid(d.Candidate) {
				t.Fatalf("invalid value in %+v", d)
			}
		}
		self, err := rules.Compare(pa, pa, CompareOptions{DecodedLimit: limit})
		if err == nil && !self.Match() {
			t.Fatalf("an answer differs from itself: %+v", self.Differences)
		}
	})
}

// FuzzRedact: whatever the body or query, redaction does not fail, keeps
// JSON valid, and no value of a redacted field survives in a JSON body.
func FuzzRedact(f *testing.F) {
	f.Add([]byte(`{"password":"hunter2","a":[{"api_key":"k"}]}`), "password=x&q=1", "application/json")
	f.Add([]byte("password=x&user=y"), "%zz&password", "application/x-www-form-urlencoded")
	f.Add([]byte{0xff, 0x00}, "", "application/octet-stream")
	r := NewRedactor([]string{"X-Secret"}, []string{"password", "api_key"})
	f.Fuzz(func(t *testing.T, body []byte, query, contentType string) {
		_ = r.Query(query)
		out := r.Body(body, contentType, 1<<10)
		if out.Length != len(body) {
			t.Fatalf("length %d, want %d", out.Length, len(body))
		}
		v, ok := decodeJSON(body)
		if !ok || out.Truncated {
			return
		}
		if !json.Valid([]byte(out.Text)) {
			t.Fatalf("redacted JSON is not JSON: %q", out.Text)
		}
		var walk func(any)
		walk = func(x any) {
			switch y := x.(type) {
			case map[string]any:
				for k, e := range y {
					if r.field(k) && e != Redacted {
						t.Fatalf("field %q kept %v", k, e)
					}
					walk(e)
				}
			case []any:
				for _, e := range y {
					walk(e)
				}
			}
		}
		back, ok := decodeJSON([]byte(out.Text))
		if !ok {
			t.Fatalf("redacted JSON does not decode: %q", out.Text)
		}
		walk(back)
		_ = v
	})
}
