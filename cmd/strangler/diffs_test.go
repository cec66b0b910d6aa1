package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/shadow"
)

var diffsPattern = []shadow.PathKind{{Path: "$.answer", Kind: shadow.KindChanged}}

type diffsModes struct{}

func (diffsModes) OrgsInModes(context.Context, string) ([]shadow.OrgMode, error) {
	return []shadow.OrgMode{{OrgID: cliAcmeID, OrgSlug: "acme", Mode: "shadow"}}, nil
}

// diffsServer is the shadow admin API over a memory store holding one
// hour of acme's qa traffic with one diff class, behind a stand-in for the
// admin listener's token check.
func diffsServer(t *testing.T) (*httptest.Server, shadow.Store, string, *[]shadow.AckEvent) {
	t.Helper()
	store := shadow.NewMemoryStore(shadow.MemoryStoreOptions{})
	hour := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	fp := shadow.Fingerprint("qa", diffsPattern)
	var lat shadow.Histogram
	lat.Observe(20 * time.Millisecond)
	require.NoError(t, store.Record(context.Background(), shadow.Batch{
		Rollups: []shadow.Rollup{{OrgID: cliAcmeID, Route: "qa", Hour: hour, Counts: shadow.Counts{Match: 4000, Diff: 3}, LegacyLatency: lat, NewLatency: lat}},
		Classes: []shadow.ClassDelta{{Fingerprint: fp, Route: "qa", Pattern: diffsPattern, Count: 3, FirstSeen: hour, LastSeen: hour.Add(time.Minute),
			Hours: []shadow.ClassHour{{OrgID: cliAcmeID, Hour: hour, Count: 3}}}},
		Exemplars: []shadow.Exemplar{{Fingerprint: fp, At: hour, OrgID: cliAcmeID, Route: "qa", Serving: shadow.BackendLegacy,
			Request:   shadow.ExemplarRequest{Method: "POST", Path: "/api/qa", Body: shadow.Body{Text: `{"question":"why?"}`, Length: 19}},
			Primary:   shadow.ExemplarAnswer{Status: 200, Body: shadow.Body{Text: `{"answer":"because","id":7}`, Length: 27}},
			Candidate: shadow.ExemplarAnswer{Status: 200, Body: shadow.Body{Text: `{"answer":"Because.","id":7}`, Length: 28}},
			Differences: []shadow.Difference{{Path: "$.answer", Kind: shadow.KindChanged,
				Primary: json.RawMessage(`"because"`), Candidate: json.RawMessage(`"Because."`)}}}},
	}))
	var events []shadow.AckEvent
	h, err := shadow.NewAdminHandler(shadow.AdminOptions{
		Store: store,
		Actor: func(ctx context.Context) string { s, _ := ctx.Value(cliActorKey{}).(string); return s },
		Modes: diffsModes{},
		Audit: func(_ context.Context, e shadow.AckEvent) error { events = append(events, e); return nil },
	})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+adminToken {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"unauthenticated","message":"admin token required","request_id":"r1"}}`))
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), cliActorKey{}, "cli-test")))
	}))
	t.Cleanup(srv.Close)
	return srv, store, fp, &events
}

// runDiffs runs the diffs commands in process, as run does.
func runDiffs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	root := &cobra.Command{Use: "strangler", SilenceUsage: true, SilenceErrors: true}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &exitCode{code: 2, err: fmt.Errorf("%s: %w", cmdName(cmd), err)}
	})
	root.AddCommand(newDiffsCmd())
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0, stdout.String(), stderr.String()
	}
	var ec *exitCode
	switch {
	case errors.As(err, &ec):
		return ec.code, stdout.String(), err.Error()
	case isCobraUsageError(err):
		return 2, stdout.String(), err.Error()
	}
	return 1, stdout.String(), err.Error()
}

func TestDiffsReportCLI(t *testing.T) {
	srv, _, fp, _ := diffsServer(t)
	t.Setenv(envAdminURL, srv.URL)
	t.Setenv(envAdminToken, adminToken)

	code, out, errOut := runDiffs(t, "diffs", "report")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Ready when: at least 1,000 comparisons, match rate at least 99.90%")
	assert.Regexp(t, cliAcmeID+`\s+qa\s+NOT READY\s+4,003\s+99.93%\s+0.00%\s+0`, out)
	assert.Contains(t, out, "1 open diff class: "+fp+" (3); fix or acknowledge them")

	code, out, errOut = runDiffs(t, "diffs", "report", "--org", cliAcmeID, "--route", "qa", "--since", "7d", "--format", "json")
	require.Equal(t, 0, code, errOut)
	var rep shadow.PromotionReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Entries, 1)
	assert.Equal(t, int64(4003), rep.Entries[0].Comparisons)
	assert.Equal(t, shadow.VerdictNotReady, rep.Entries[0].Verdict)

	code, out, errOut = runDiffs(t, "diffs", "report", "--format", "markdown", "--top", "0")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "| Org | Route | Verdict |")
	assert.Contains(t, out, "**NOT READY**")
	assert.Contains(t, out, "#### Why not ready")
	assert.Contains(t, out, "#### Top diff classes")

	// The period bounds what is reported.
	code, out, errOut = runDiffs(t, "diffs", "report", "--until", "3h")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "No comparisons recorded in this period.")
	code, out, errOut = runDiffs(t, "diffs", "report", "--since", "all", "--route", "other")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Shadow report of everything retained")
	assert.Contains(t, out, "No comparisons recorded for route other")

	code, out, errOut = runDiffs(t, "diffs", "rollout", "--route", "qa")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `acme\s+qa\s+shadow\s+NOT READY`, out)

	code, out, errOut = runDiffs(t, "diffs", "classes", "--status", "open")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, fp+`\s+qa\s+open\s+3\s+1`, out)
	code, out, errOut = runDiffs(t, "diffs", "classes", "--status", "acknowledged", "--format", "json")
	require.Equal(t, 0, code, errOut)
	var l shadow.ClassList
	require.NoError(t, json.Unmarshal([]byte(out), &l))
	assert.Empty(t, l.Classes)
}

func TestDiffsShowAndAckCLI(t *testing.T) {
	srv, _, fp, events := diffsServer(t)
	t.Setenv(envAdminURL, srv.URL)
	t.Setenv(envAdminToken, adminToken)

	code, out, errOut := runDiffs(t, "diffs", "show", strings.ToUpper(fp))
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "diff class "+fp+"  route qa  OPEN")
	assert.Contains(t, out, "POST /api/qa")
	assert.Contains(t, out, `> {"question":"why?"}`)
	assert.Regexp(t, `!\s+"answer": "because"\s+\|\s+"answer": "Because\."`, out)
	assert.Regexp(t, `\n\s+"id": 7\s+\|\s+"id": 7\n`, out, "equal members are not marked")
	assert.Regexp(t, `!\s+\$\.answer\s+changed\s+"because"\s+"Because\."`, out)

	code, out, errOut = runDiffs(t, "diffs", "show", fp, "--format", "json")
	require.Equal(t, 0, code, errOut)
	var v shadow.ClassView
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	assert.Len(t, v.Exemplars, 1)

	code, out, errOut = runDiffs(t, "diffs", "ack", fp, "--note", "punctuation  is  fine")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `^class `+fp+` \(route qa\) acknowledged by cli-test at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ: punctuation is fine\n$`, out)
	require.Len(t, *events, 1)
	assert.Equal(t, "cli-test", (*events)[0].Actor)

	// Acknowledged: READY, and the class stays listed.
	code, out, errOut = runDiffs(t, "diffs", "report")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, cliAcmeID+`\s+qa\s+READY`, out)
	assert.Contains(t, out, "acknowledged by cli-test: punctuation is fine")

	code, out, errOut = runDiffs(t, "diffs", "reopen", fp, "--note", "changed my mind")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "is open again")
	require.Len(t, *events, 2)

	code, _, errOut = runDiffs(t, "diffs", "show", "0123456789abcdef")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no diff class 0123456789abcdef")
}

func TestDiffsUsageErrorsCLI(t *testing.T) {
	srv, _, fp, events := diffsServer(t)
	t.Setenv(envAdminURL, srv.URL)
	t.Setenv(envAdminToken, adminToken)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"diffs"}, "diffs: missing subcommand"},
		{[]string{"diffs", "bogus"}, `diffs: unknown command "bogus"`},
		{[]string{"diffs", "report", "--since", "yesterday"}, `diffs report: --since must be a duration such as 24h or 7d`},
		{[]string{"diffs", "report", "--since", "-2h"}, `diffs report: --since must be a positive duration`},
		{[]string{"diffs", "report", "--until", "soon"}, `diffs report: --until`},
		{[]string{"diffs", "report", "--since", "1h", "--until", "2h"}, `diffs report: --since must be before --until`},
		{[]string{"diffs", "report", "--format", "html"}, `diffs report: --format must be table, json, markdown, got "html"`},
		{[]string{"diffs", "report", "--top", "101"}, `diffs report: --top must be from 0 to 100`},
		{[]string{"diffs", "report", "--org", "a b"}, `diffs report: query parameter "org" must not contain spaces`},
		{[]string{"diffs", "report", "extra"}, `diffs report: unexpected argument "extra"`},
		{[]string{"diffs", "report", "--bogus"}, `unknown flag: --bogus`},
		{[]string{"diffs", "rollout"}, `diffs rollout: --route is required`},
		{[]string{"diffs", "classes", "--status", "closed"}, `diffs classes: --status must be open or acknowledged`},
		{[]string{"diffs", "classes", "--limit", "0"}, `diffs classes: --limit must be from 1 to 1000`},
		{[]string{"diffs", "show"}, `diffs show: missing FINGERPRINT`},
		{[]string{"diffs", "show", "nothex"}, `diffs show: "nothex" is not a diff class fingerprint`},
		{[]string{"diffs", "show", fp, "--exemplar", "0"}, `diffs show: --exemplar must be 1 or more`},
		{[]string{"diffs", "show", fp, "--exemplar", "2"}, `diffs show: --exemplar 2: the class has 1 exemplar(s)`},
		{[]string{"diffs", "show", fp, "--format", "yaml"}, `diffs show: --format must be text, json`},
		{[]string{"diffs", "ack", fp}, `diffs ack: --note is required`},
		{[]string{"diffs", "ack", fp, "--note", "  "}, `diffs ack: --note is required`},
		{[]string{"diffs", "ack", "--note", "x"}, `diffs ack: missing FINGERPRINT`},
		{[]string{"diffs", "ack", "xyz", "--note", "x"}, `diffs ack: "xyz" is not a diff class fingerprint`},
		{[]string{"diffs", "reopen", fp}, `diffs reopen: --note is required`},
	}
	for _, tc := range tests {
		code, out, errOut := runDiffs(t, tc.args...)
		assert.Equal(t, 2, code, "%q: %s", tc.args, errOut)
		assert.Contains(t, errOut, tc.want, "%q", tc.args)
		assert.Empty(t, out, "%q", tc.args)
	}
	assert.Empty(t, *events)

	// Credentials and reachability.
	t.Setenv(envAdminToken, "wrong")
	code, _, errOut := runDiffs(t, "diffs", "report")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "the admin API refused the credentials: set --token or STRANGLER_ADMIN_TOKEN")
	code, _, errOut = runDiffs(t, "diffs", "report", "--token", adminToken)
	assert.Equal(t, 0, code, errOut)
	code, _, errOut = runDiffs(t, "diffs", "report", "--admin-url", "http://127.0.0.1:1", "--token", adminToken)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "cannot reach the admin API at http://127.0.0.1:1")
}
