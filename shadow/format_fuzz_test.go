package shadow_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/7cycles-ai/strangler/shadow"
)

// FuzzWriteClassText renders an exemplar built from arbitrary bodies,
// paths and header values: it never fails, and never lets a control
// character from the data reach the terminal.
func FuzzWriteClassText(f *testing.F) {
	ex := fxExemplar()
	f.Add(ex.Primary.Body.Text, ex.Candidate.Body.Text, "$.items[0].title", "changed", "application/json", false)
	f.Add(`{"a":[1,2,{"b":null}]}`, `{"a":[1,{"b":true}],"c":"\u001b[2J"}`, "$.a[1]", "type", "x\x1by", false)
	f.Add("line 1\nline\t2\r\n", "line 1\nline 3", "body", "changed", "", false)
	f.Add("AAEC", "AAED", "body", "changed", "", true)
	f.Add(`[[[[[[[[[[]]]]]]]]]]`, `{}`, "$", "type", "", false)
	f.Fuzz(func(t *testing.T, primary, candidate, path, kind, header string, b64 bool) {
		e := ex
		e.Primary.Body = shadow.Body{Text: primary, Length: len(primary), Base64: b64}
		e.Candidate.Body = shadow.Body{Text: candidate, Length: len(candidate)}
		e.Primary.Header = http.Header{"X-A": {header}}
		e.Candidate.Header = http.Header{header: {"v"}}
		e.Differences = []shadow.Difference{{Path: path, Kind: shadow.Kind(kind)}, {Path: "header:" + header, Kind: shadow.KindChanged}}
		v := shadow.ClassView{ClassDetail: shadow.ClassDetail{
			Class:     shadow.Class{Fingerprint: fxClassY, Route: path, Pattern: []shadow.PathKind{{Path: path, Kind: shadow.Kind(kind)}}, AckNote: header, Status: shadow.StatusAcknowledged},
			Exemplars: []shadow.Exemplar{e},
		}}
		var buf bytes.Buffer
		if err := shadow.WriteClassText(&buf, v, shadow.ClassTextOptions{MaxRows: 50, Width: 20}); err != nil {
			t.Fatal(err)
		}
		for _, r := range buf.String() {
			if r != '\n' && (unicode.IsControl(r) || r == 0x2028 || r == 0x2029) {
				t.Fatalf("control character %U in output:\n%s", r, buf.String())
			}
		}
	})
}

// FuzzAdminHandler sends arbitrary paths and queries to the handler: it
// answers with a status below 500 and a JSON document, whatever it gets.
func FuzzAdminHandler(f *testing.F) {
	s := shadow.NewMemoryStore(shadow.MemoryStoreOptions{})
	seedFixture(f, s)
	h, err := shadow.NewAdminHandler(shadow.AdminOptions{Store: s, Actor: func(context.Context) string { return "fuzz" },
		Now: func() time.Time { return fxNow }, Modes: fixedModes{{OrgID: fxAcme, Mode: "canary"}}})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"report?since=24h", "classes?status=open&limit=3", "classes/" + fxClassY, "rollout?route=qa&top=2",
		"report?org=%zz", "classes/" + fxClassX + "/ack", "report?until=2026-03-10&since=2026-03-11"} {
		f.Add("GET", s, "")
		f.Add("POST", s, `{"note":"x"}`)
	}
	f.Fuzz(func(t *testing.T, method, target, body string) {
		if method != "GET" && method != "POST" {
			method = "GET"
		}
		req := httptest.NewRequest(method, "/", strings.NewReader(body))
		req.URL.Path, req.URL.RawPath, req.URL.RawQuery = "", "", ""
		path, query, _ := strings.Cut(target, "?")
		req.URL.RawPath = shadow.AdminPathPrefix + path
		req.URL.Path = req.URL.RawPath
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("content type %q", ct)
		}
	})
}
