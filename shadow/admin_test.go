package shadow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/shadow"
)

type actorKey struct{}

// fxOrgs is an OrgDirectory over the fixture's organizations.
type fxOrgs struct{}

func (fxOrgs) ResolveOrg(_ context.Context, s string) (string, string, error) {
	for id, slug := range fxSlugs {
		if s == id || s == slug {
			return id, slug, nil
		}
	}
	return "", "", fmt.Errorf("%q: %w", s, shadow.ErrOrgNotFound)
}

func (fxOrgs) OrgSlugs(_ context.Context, ids []string) (map[string]string, error) {
	m := make(map[string]string)
	for _, id := range ids {
		if s, ok := fxSlugs[id]; ok {
			m[id] = s
		}
	}
	return m, nil
}

// auditLog records AckEvents; fail makes the sink fail.
type auditLog struct {
	mu     sync.Mutex
	events []shadow.AckEvent
	fail   bool
}

func (a *auditLog) record(_ context.Context, e shadow.AckEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail {
		return errors.New("audit log unavailable")
	}
	a.events = append(a.events, e)
	return nil
}

func (a *auditLog) all() []shadow.AckEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]shadow.AckEvent(nil), a.events...)
}

// adminServer is the shadow admin API on a real HTTP server, behind a
// stand-in for the admin listener's authentication: the X-Test-Actor
// header becomes the actor.
func adminServer(t *testing.T, s shadow.Store, modes shadow.ModeLister) (*httptest.Server, *auditLog) {
	t.Helper()
	audit := &auditLog{}
	h, err := shadow.NewAdminHandler(shadow.AdminOptions{
		Store: s,
		Actor: func(ctx context.Context) string { a, _ := ctx.Value(actorKey{}).(string); return a },
		Modes: modes,
		Orgs:  fxOrgs{},
		Audit: audit.record,
		Now:   func() time.Time { return fxNow },
	})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, r.Header.Get("X-Test-Actor"))))
	}))
	t.Cleanup(srv.Close)
	return srv, audit
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func call(t *testing.T, srv *httptest.Server, method, path, body string, headers ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{resp.StatusCode, resp.Header, data}
}

func decode[T any](t *testing.T, a answer) T {
	t.Helper()
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	var v T
	require.NoError(t, json.Unmarshal(a.body, &v), string(a.body))
	return v
}

func apiErr(t *testing.T, a answer, status int, code string) shadow.ErrorDetail {
	t.Helper()
	require.Equal(t, status, a.status, string(a.body))
	assert.Equal(t, "application/json", a.header.Get("Content-Type"))
	var eb shadow.ErrorBody
	require.NoError(t, json.Unmarshal(a.body, &eb), string(a.body))
	assert.Equal(t, code, eb.Error.Code)
	assert.NotEmpty(t, eb.Error.RequestID)
	return eb.Error
}

func TestAdminReport(t *testing.T) {
	stores(t, func(t *testing.T, s shadow.Store) {
		seedFixture(t, s)
		srv, _ := adminServer(t, s, nil)

		rep := decode[shadow.PromotionReport](t, call(t, srv, "GET", "/admin/api/shadow/report", ""))
		assert.Len(t, rep.Entries, 5)
		assert.Equal(t, 2, rep.Ready)
		assert.Equal(t, "acme", byKey(rep)[entryKey{fxAcme, "qa"}].OrgSlug, "labelled through the directory")
		assert.Empty(t, byKey(rep)[entryKey{"", "qa"}].OrgSlug)

		// The org filter takes a slug or an id.
		for _, org := range []string{"acme", fxAcme} {
			rep = decode[shadow.PromotionReport](t, call(t, srv, "GET", "/admin/api/shadow/report?org="+org, ""))
			assert.Equal(t, []entryKey{{fxAcme, "qa"}, {fxAcme, "search"}}, keys(rep))
			assert.Equal(t, fxAcme, rep.OrgID)
			assert.Equal(t, "acme", rep.OrgSlug)
		}
		// An unknown org is taken verbatim (results outlive organizations).
		rep = decode[shadow.PromotionReport](t, call(t, srv, "GET", "/admin/api/shadow/report?org=gone-org", ""))
		assert.Empty(t, rep.Entries)
		assert.Equal(t, "gone-org", rep.OrgID)

		rep = decode[shadow.PromotionReport](t, call(t, srv, "GET", "/admin/api/shadow/report?route=search", ""))
		assert.Equal(t, []entryKey{{fxAcme, "search"}, {fxInitech, "search"}}, keys(rep))

		rep = decode[shadow.PromotionReport](t, call(t, srv, "GET", "/admin/api/shadow/report?since=24h", ""))
		assert.Len(t, rep.Entries, 4)
		assert.Equal(t, time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC), rep.Since)
		rep2 := decode[shadow.PromotionReport](t, call(t, srv, "GET", "/admin/api/shadow/report?since=1d", ""))
		assert.Equal(t, keys(rep), keys(rep2))
		rep2 = decode[shadow.PromotionReport](t, call(t, srv, "GET", "/admin/api/shadow/report?since=2026-03-09T12:30:00Z", ""))
		assert.Equal(t, keys(rep), keys(rep2))

		rep = decode[shadow.PromotionReport](t, call(t, srv, "GET", "/admin/api/shadow/report?until=2026-03-10T11:00:00Z", ""))
		assert.Equal(t, []entryKey{{fxGlobex, "qa"}, {fxInitech, "search"}}, keys(rep))
		rep = decode[shadow.PromotionReport](t, call(t, srv, "GET", "/admin/api/shadow/report?since=2026-03-09&until=2026-03-10", ""))
		assert.Equal(t, []entryKey{{fxGlobex, "qa"}, {fxInitech, "search"}}, keys(rep))
		assert.Equal(t, time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), rep.Until)

		rep = decode[shadow.PromotionReport](t, call(t, srv, "GET", "/admin/api/shadow/report?org=globex&top=1", ""))
		assert.Len(t, rep.Entries[0].TopClasses, 1)
		rep = decode[shadow.PromotionReport](t, call(t, srv, "GET", "/admin/api/shadow/report?org=globex&top=0", ""))
		assert.Empty(t, rep.Entries[0].TopClasses)
		assert.Equal(t, 1, rep.Entries[0].OpenClasses)
	})
}

func TestAdminQueryValidation(t *testing.T) {
	srv, _ := adminServer(t, shadow.NewMemoryStore(shadow.MemoryStoreOptions{}), nil)
	tests := []struct{ path, param string }{
		{"/admin/api/shadow/report?since=yesterday", "since"},
		{"/admin/api/shadow/report?since=-1h", "since"},
		{"/admin/api/shadow/report?since=0s", "since"},
		{"/admin/api/shadow/report?since=", "since"},
		{"/admin/api/shadow/report?since=99999d", "since"},
		{"/admin/api/shadow/report?since=1000000h", "since"},
		{"/admin/api/shadow/report?since=1h&until=2h", "since"},
		{"/admin/api/shadow/report?since=2026-03-10T00:00:00Z&until=2026-03-10T00:00:00Z", "since"},
		{"/admin/api/shadow/report?until=tomorrow", "until"},
		{"/admin/api/shadow/report?until=1900-01-01", "until"},
		{"/admin/api/shadow/report?org=", "org"},
		{"/admin/api/shadow/report?org=a%20b", "org"},
		{"/admin/api/shadow/report?org=a%00b", "org"},
		{"/admin/api/shadow/report?org=" + strings.Repeat("x", 129), "org"},
		{"/admin/api/shadow/report?route=a&route=b", "route"},
		{"/admin/api/shadow/report?top=101", "top"},
		{"/admin/api/shadow/report?top=-1", "top"},
		{"/admin/api/shadow/report?top=1.5", "top"},
		{"/admin/api/shadow/report?limit=5", "limit"},
		{"/admin/api/shadow/report?Since=24h", "Since"},
		{"/admin/api/shadow/report?foo=1", "foo"},
		{"/admin/api/shadow/classes?status=closed", "status"},
		{"/admin/api/shadow/classes?limit=0", "limit"},
		{"/admin/api/shadow/classes?limit=1001", "limit"},
		{"/admin/api/shadow/classes?top=3", "top"},
		{"/admin/api/shadow/rollout?route=qa&org=acme", "org"},
		{"/admin/api/shadow/rollout", "route"},
		{"/admin/api/shadow/classes/0123456789abcdef?since=1h", "since"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			e := apiErr(t, call(t, srv, "GET", tc.path, ""), http.StatusBadRequest, "bad_request")
			assert.Contains(t, e.Message, fmt.Sprintf("%q", tc.param))
		})
	}
	e := apiErr(t, call(t, srv, "GET", "/admin/api/shadow/report?since=%zz", ""), http.StatusBadRequest, "bad_request")
	assert.Contains(t, e.Message, "malformed query")
}

func TestAdminClasses(t *testing.T) {
	stores(t, func(t *testing.T, s shadow.Store) {
		seedFixture(t, s)
		srv, _ := adminServer(t, s, nil)
		fps := func(l shadow.ClassList) []string {
			out := []string{}
			for _, c := range l.Classes {
				out = append(out, c.Fingerprint)
			}
			return out
		}
		l := decode[shadow.ClassList](t, call(t, srv, "GET", "/admin/api/shadow/classes", ""))
		assert.Equal(t, []string{fxClassY, fxClassX}, fps(l), "by count, descending")
		assert.Equal(t, int64(5), l.Classes[0].Count)
		assert.Equal(t, map[string]string{fxAcme: "acme", fxGlobex: "globex"}, l.OrgSlugs)
		assert.Equal(t, fxNow, l.Until)

		l = decode[shadow.ClassList](t, call(t, srv, "GET", "/admin/api/shadow/classes?status=open", ""))
		assert.Equal(t, []string{fxClassY}, fps(l))
		l = decode[shadow.ClassList](t, call(t, srv, "GET", "/admin/api/shadow/classes?status=acknowledged", ""))
		assert.Equal(t, []string{fxClassX}, fps(l))
		assert.Equal(t, "alice@ops.test", l.Classes[0].AckBy)
		l = decode[shadow.ClassList](t, call(t, srv, "GET", "/admin/api/shadow/classes?org=acme", ""))
		assert.Equal(t, []string{fxClassX}, fps(l))
		assert.Equal(t, int64(1), l.Classes[0].Count, "the org's count")
		l = decode[shadow.ClassList](t, call(t, srv, "GET", "/admin/api/shadow/classes?since=24h", ""))
		assert.Equal(t, []string{fxClassX}, fps(l))
		assert.Equal(t, time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC), l.Since)
		l = decode[shadow.ClassList](t, call(t, srv, "GET", "/admin/api/shadow/classes?until=2026-03-10T00:00:00Z", ""))
		assert.Equal(t, []string{fxClassY}, fps(l))
		l = decode[shadow.ClassList](t, call(t, srv, "GET", "/admin/api/shadow/classes?route=search", ""))
		assert.Empty(t, fps(l))
		assert.NotNil(t, l.Classes)
		l = decode[shadow.ClassList](t, call(t, srv, "GET", "/admin/api/shadow/classes?limit=1", ""))
		assert.Equal(t, []string{fxClassY}, fps(l))
	})
}

func TestAdminClassDetail(t *testing.T) {
	stores(t, func(t *testing.T, s shadow.Store) {
		seedFixture(t, s)
		srv, _ := adminServer(t, s, nil)
		v := decode[shadow.ClassView](t, call(t, srv, "GET", "/admin/api/shadow/classes/"+fxClassY, ""))
		assert.Equal(t, fxClassY, v.Fingerprint)
		assert.Equal(t, "qa", v.Route)
		assert.Equal(t, fxPatternY, v.Pattern)
		assert.Equal(t, shadow.StatusOpen, v.Status)
		assert.Equal(t, []shadow.OrgCount{{OrgID: fxGlobex, Count: 5}}, v.Orgs)
		assert.Equal(t, map[string]string{fxGlobex: "globex"}, v.OrgSlugs)
		assert.Equal(t, fxH1.Add(12*time.Minute), v.FirstSeen)
		assert.Equal(t, fxH1.Add(40*time.Minute), v.LastSeen)
		require.Len(t, v.Exemplars, 1)
		ex := v.Exemplars[0]
		assert.Equal(t, "/api/qa/search", ex.Request.Path)
		require.Len(t, ex.Differences, 4)
		assert.Equal(t, "$.items[0].title", ex.Differences[1].Path)
		assert.JSONEq(t, `"Strangler fig"`, string(ex.Differences[1].Primary))
		assert.JSONEq(t, `"Strangler Fig"`, string(ex.Differences[1].Candidate))
		require.Len(t, v.Noise, 1)
		assert.Equal(t, "$.request_id", v.Noise[0].Path)

		// Upper case is accepted; malformed and unknown fingerprints are not.
		v = decode[shadow.ClassView](t, call(t, srv, "GET", "/admin/api/shadow/classes/"+strings.ToUpper(fxClassX), ""))
		assert.Equal(t, shadow.StatusAcknowledged, v.Status)
		assert.NotNil(t, v.Exemplars)
		apiErr(t, call(t, srv, "GET", "/admin/api/shadow/classes/0123456789abcdef", ""), http.StatusNotFound, "not_found")
		for _, bad := range []string{"xyz", "0123456789abcdef0", "0123456789abcde%20", "%2e%2e"} {
			e := apiErr(t, call(t, srv, "GET", "/admin/api/shadow/classes/"+bad, ""), http.StatusBadRequest, "bad_request")
			assert.Contains(t, e.Message, "fingerprint")
		}
	})
}

func TestAdminAck(t *testing.T) {
	stores(t, func(t *testing.T, s shadow.Store) {
		seedFixture(t, s)
		srv, audit := adminServer(t, s, nil)
		ackPath := "/admin/api/shadow/classes/" + fxClassY + "/ack"
		as := []string{"X-Test-Actor", "bob@ops.test", "Content-Type", "application/json"}

		// Refusals: nobody to hold to account, no note, bad bodies.
		apiErr(t, call(t, srv, "POST", ackPath, `{"note":"fine"}`), http.StatusUnauthorized, "unauthenticated")
		e := apiErr(t, call(t, srv, "POST", ackPath, `{"note":"   "}`, as...), http.StatusBadRequest, "bad_request")
		assert.Contains(t, e.Message, `"note" is required`)
		apiErr(t, call(t, srv, "POST", ackPath, ``, as...), http.StatusBadRequest, "bad_request")
		e = apiErr(t, call(t, srv, "POST", ackPath, `{"note":"x","by":"someone else"}`, as...), http.StatusBadRequest, "bad_request")
		assert.Contains(t, e.Message, `"by"`)
		apiErr(t, call(t, srv, "POST", ackPath, `{"note":1}`, as...), http.StatusBadRequest, "bad_request")
		apiErr(t, call(t, srv, "POST", ackPath, `{"note":"a"} {"note":"b"}`, as...), http.StatusBadRequest, "bad_request")
		apiErr(t, call(t, srv, "POST", ackPath, `{"note":"`+strings.Repeat("n", 2001)+`"}`, as...), http.StatusBadRequest, "bad_request")
		apiErr(t, call(t, srv, "POST", ackPath, `{"note":"a\u001b[31m"}`, as...), http.StatusBadRequest, "bad_request")
		apiErr(t, call(t, srv, "POST", ackPath, `{"note":"`+strings.Repeat("n", 20000)+`"}`, as...), http.StatusRequestEntityTooLarge, "payload_too_large")
		apiErr(t, call(t, srv, "POST", ackPath, `note=x`, "X-Test-Actor", "bob", "Content-Type", "application/x-www-form-urlencoded"),
			http.StatusUnsupportedMediaType, "bad_request")
		apiErr(t, call(t, srv, "POST", "/admin/api/shadow/classes/0123456789abcdef/ack", `{"note":"x"}`, as...), http.StatusNotFound, "not_found")
		assert.Empty(t, audit.all(), "nothing was changed")

		// Acknowledged: kept in the class record, returned, audited.
		c := decode[shadow.Class](t, call(t, srv, "POST", ackPath, `{"note":"  titles are capitalised on purpose  "}`, as...))
		assert.Equal(t, shadow.StatusAcknowledged, c.Status)
		assert.Equal(t, "bob@ops.test", c.AckBy)
		assert.Equal(t, "titles are capitalised on purpose", c.AckNote)
		assert.Equal(t, fxNow, c.AckAt)
		assert.Equal(t, []shadow.AckEvent{{Action: shadow.AuditActionAck, Fingerprint: fxClassY, Route: "qa", Actor: "bob@ops.test",
			Note: "titles are capitalised on purpose", At: fxNow, Before: shadow.StatusOpen, After: shadow.StatusAcknowledged,
			OrgIDs: []string{fxGlobex}}}, audit.all())
		v := decode[shadow.ClassView](t, call(t, srv, "GET", "/admin/api/shadow/classes/"+fxClassY, ""))
		assert.Equal(t, "bob@ops.test", v.AckBy)

		// Visible in the report, no longer blocking.
		rep := decode[shadow.PromotionReport](t, call(t, srv, "GET", "/admin/api/shadow/report?org=globex", ""))
		g := rep.Entries[0]
		assert.NotContains(t, codes(g.Reasons), shadow.CodeOpenClasses)
		assert.Equal(t, 0, g.OpenClasses)
		assert.Equal(t, 2, g.AcknowledgedClasses)
		require.Len(t, g.TopClasses, 2)
		assert.Equal(t, fxClassY, g.TopClasses[0].Fingerprint)
		assert.Equal(t, shadow.StatusAcknowledged, g.TopClasses[0].Status)

		// Reopened: blocks again, audited; a note is required too.
		reopen := "/admin/api/shadow/classes/" + fxClassY + "/reopen"
		apiErr(t, call(t, srv, "POST", reopen, `{}`, as...), http.StatusBadRequest, "bad_request")
		c = decode[shadow.Class](t, call(t, srv, "POST", reopen, `{"note":"regressed in v2"}`, as...))
		assert.Equal(t, shadow.StatusOpen, c.Status)
		assert.Empty(t, c.AckBy)
		events := audit.all()
		require.Len(t, events, 2)
		assert.Equal(t, shadow.AuditActionReopen, events[1].Action)
		assert.Equal(t, shadow.StatusAcknowledged, events[1].Before)
		assert.Equal(t, "regressed in v2", events[1].Note)
		rep = decode[shadow.PromotionReport](t, call(t, srv, "GET", "/admin/api/shadow/report?org=globex", ""))
		assert.Contains(t, codes(rep.Entries[0].Reasons), shadow.CodeOpenClasses)

		// A failing audit sink fails the request loudly; the change stays.
		audit.mu.Lock()
		audit.fail = true
		audit.mu.Unlock()
		apiErr(t, call(t, srv, "POST", ackPath, `{"note":"again"}`, as...), http.StatusInternalServerError, "internal_error")
		v = decode[shadow.ClassView](t, call(t, srv, "GET", "/admin/api/shadow/classes/"+fxClassY, ""))
		assert.Equal(t, shadow.StatusAcknowledged, v.Status)
	})
}

func TestAdminRollout(t *testing.T) {
	stores(t, func(t *testing.T, s shadow.Store) {
		seedFixture(t, s)
		srv, _ := adminServer(t, s, nil)
		apiErr(t, call(t, srv, "GET", "/admin/api/shadow/rollout?route=qa", ""), http.StatusNotImplemented, "not_implemented")

		srv, _ = adminServer(t, s, fixedModes{{OrgID: fxGlobex, Mode: "shadow"}, {OrgID: fxAcme, Mode: "canary"}})
		rep := decode[shadow.PromotionReport](t, call(t, srv, "GET", "/admin/api/shadow/rollout?route=qa", ""))
		assert.Equal(t, []entryKey{{fxAcme, "qa"}, {fxGlobex, "qa"}}, keys(rep))
		assert.Equal(t, "canary", rep.Entries[0].Mode)
		assert.Equal(t, "acme", rep.Entries[0].OrgSlug)
		assert.Equal(t, shadow.VerdictReady, rep.Entries[0].Verdict)
		assert.Equal(t, shadow.VerdictNotReady, rep.Entries[1].Verdict)
		rep = decode[shadow.PromotionReport](t, call(t, srv, "GET", "/admin/api/shadow/rollout?route=qa&since=24h&top=0", ""))
		assert.Equal(t, int64(212), rep.Entries[1].Comparisons)
		assert.Empty(t, rep.Entries[1].TopClasses)
	})
}

type failingModes struct{}

func (failingModes) OrgsInModes(context.Context, string) ([]shadow.OrgMode, error) {
	return nil, errors.New("flag store down")
}

func TestAdminMethodsPathsAndErrors(t *testing.T) {
	srv, _ := adminServer(t, shadow.NewMemoryStore(shadow.MemoryStoreOptions{}), failingModes{})
	a := call(t, srv, "POST", "/admin/api/shadow/report", "")
	apiErr(t, a, http.StatusMethodNotAllowed, "method_not_allowed")
	assert.Equal(t, "GET", a.header.Get("Allow"))
	a = call(t, srv, "GET", "/admin/api/shadow/classes/0123456789abcdef/ack", "")
	apiErr(t, a, http.StatusMethodNotAllowed, "method_not_allowed")
	assert.Equal(t, "POST", a.header.Get("Allow"))
	apiErr(t, call(t, srv, "DELETE", "/admin/api/shadow/classes/0123456789abcdef", ""), http.StatusMethodNotAllowed, "method_not_allowed")
	for _, p := range []string{"/admin/api/shadow/", "/admin/api/shadow/reports", "/admin/api/shadow/classes/", "/admin/api/shadow/report/x",
		"/admin/api/shadow/classes/0123456789abcdef/ack/x", "/admin/api/shadow/classes/0123456789abcdef/nope", "/admin/api/flags"} {
		apiErr(t, call(t, srv, "GET", p, ""), http.StatusNotFound, "not_found")
	}
	// The request id is echoed in error bodies.
	e := apiErr(t, call(t, srv, "GET", "/admin/api/shadow/nope", "", "X-Request-ID", "req-42"), http.StatusNotFound, "not_found")
	assert.Equal(t, "req-42", e.RequestID)
	// A failing dependency is a 500 that says nothing of the internals.
	e = apiErr(t, call(t, srv, "GET", "/admin/api/shadow/rollout?route=qa", ""), http.StatusInternalServerError, "internal_error")
	assert.NotContains(t, e.Message, "flag store down")

	_, err := shadow.NewAdminHandler(shadow.AdminOptions{Actor: func(context.Context) string { return "" }})
	require.Error(t, err)
	_, err = shadow.NewAdminHandler(shadow.AdminOptions{Store: shadow.NewMemoryStore(shadow.MemoryStoreOptions{})})
	require.Error(t, err)
}

func TestAdminClient(t *testing.T) {
	s := shadow.NewMemoryStore(shadow.MemoryStoreOptions{})
	seedFixture(t, s)
	h, err := shadow.NewAdminHandler(shadow.AdminOptions{Store: s, Now: func() time.Time { return fxNow },
		Actor: func(context.Context) string { return "client-test" }, Modes: fixedModes{{OrgID: fxAcme, Mode: "shadow"}}})
	require.NoError(t, err)
	const token = "t0ken"
	var seen []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"unauthenticated","message":"admin token required","request_id":"r1"}}`))
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	c := &shadow.AdminClient{BaseURL: srv.URL + "/", Token: token}

	top := 1
	rep, err := c.Report(ctx, shadow.ReportParams{Org: fxGlobex, Since: "48h", Top: &top, Status: "ignored", Limit: 9})
	require.NoError(t, err)
	assert.Len(t, rep.Entries, 1)
	assert.Len(t, rep.Entries[0].TopClasses, 1)
	rep, err = c.Rollout(ctx, shadow.ReportParams{Route: "qa", Org: "ignored"})
	require.NoError(t, err)
	assert.Len(t, rep.Entries, 1)
	l, err := c.Classes(ctx, shadow.ReportParams{Status: "open", Limit: 5, Top: &top})
	require.NoError(t, err)
	assert.Len(t, l.Classes, 1)
	v, err := c.Class(ctx, fxClassY)
	require.NoError(t, err)
	assert.Len(t, v.Exemplars, 1)
	cl, err := c.Ack(ctx, fxClassY, "ok")
	require.NoError(t, err)
	assert.Equal(t, "client-test", cl.AckBy)
	cl, err = c.Reopen(ctx, fxClassY, "not ok")
	require.NoError(t, err)
	assert.Equal(t, shadow.StatusOpen, cl.Status)
	mu.Lock()
	assert.Equal(t, []string{
		"GET /admin/api/shadow/report?org=" + fxGlobex + "&since=48h&top=1",
		"GET /admin/api/shadow/rollout?route=qa",
		"GET /admin/api/shadow/classes?limit=5&status=open",
		"GET /admin/api/shadow/classes/" + fxClassY,
		"POST /admin/api/shadow/classes/" + fxClassY + "/ack",
		"POST /admin/api/shadow/classes/" + fxClassY + "/reopen",
	}, seen)
	mu.Unlock()

	_, err = c.Report(ctx, shadow.ReportParams{Since: "soon"})
	var ae *shadow.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusBadRequest, ae.Status)
	assert.Contains(t, ae.Error(), `"since"`)
	assert.False(t, shadow.IsUnauthorized(err))

	_, err = (&shadow.AdminClient{BaseURL: srv.URL}).Report(ctx, shadow.ReportParams{})
	assert.True(t, shadow.IsUnauthorized(err))
	assert.Contains(t, err.Error(), "request id r1")
	_, err = (&shadow.AdminClient{BaseURL: "ftp://x"}).Report(ctx, shadow.ReportParams{})
	assert.ErrorContains(t, err, "want http(s)://host:port")
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, err = (&shadow.AdminClient{BaseURL: closed.URL}).Report(ctx, shadow.ReportParams{})
	assert.ErrorContains(t, err, "cannot reach the admin API")
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.Copy(w, bytes.NewReader([]byte("bad gateway\n")))
	}))
	t.Cleanup(plain.Close)
	_, err = (&shadow.AdminClient{BaseURL: plain.URL}).Report(ctx, shadow.ReportParams{})
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "bad gateway", ae.Message)
}
