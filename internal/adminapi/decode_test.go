package adminapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDecodeJSONRefusesHostileBodies(t *testing.T) {
	type body struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	for _, tc := range []struct {
		name, ct, body string
		status         int
		want           string
	}{
		{"ok", "application/json", `{"name":"x","count":1}`, 0, ""},
		{"ok without content type", "", `{"name":"x"}`, 0, ""},
		{"vendor json", "application/vnd.x+json; charset=utf-8", `{"name":"x"}`, 0, ""},
		{"form", "application/x-www-form-urlencoded", `name=x`, 415, "application/json"},
		{"bad media type", ";;", `{}`, 415, "application/json"},
		{"empty", "", ``, 400, "empty"},
		{"truncated", "", `{"name":`, 400, "ends too early"},
		{"syntax", "", `{"name" "x"}`, 400, "invalid JSON at byte"},
		{"unknown field named", "", `{"nmae":"x"}`, 400, `unknown field "nmae"`},
		{"wrong type named", "", `{"count":"1"}`, 400, `field "count" must be a number`},
		{"not an object", "", `[1,2]`, 400, "must be a JSON object"},
		{"trailing data", "", `{"name":"x"} {}`, 400, "nothing after it"},
		{"too large", "", `{"name":"` + strings.Repeat("a", 200) + `"}`, 413, "larger than 64 bytes"},
		{"too large after the object", "", `{}` + strings.Repeat(" ", 100), 413, "larger than 64 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			if tc.ct != "" {
				r.Header.Set("Content-Type", tc.ct)
			}
			var dst body
			err := DecodeJSON(httptest.NewRecorder(), r, 64, &dst)
			if tc.status == 0 {
				assert.Nil(t, err)
				return
			}
			if assert.NotNil(t, err) {
				assert.Equal(t, tc.status, err.Status)
				assert.Contains(t, err.Message, tc.want)
			}
		})
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"x","count":1}`, `{"count":"x"}`, `[`, `{} {}`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var dst struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
		}
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(s))
		if err := DecodeJSON(httptest.NewRecorder(), r, 1024, &dst); err != nil {
			if err.Status < 400 || err.Status > 500 || err.Message == "" || err.Code == "" {
				t.Fatalf("bad refusal %+v for %q", err, s)
			}
		}
	})
}
