package shadow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/shadow"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/name, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update && strings.HasSuffix(t.Name(), "/postgres") {
		return // the memory store's run writes the file; the stores agree
	}
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run: go test ./shadow -run %s -update", t.Name())
	assert.Equal(t, string(want), string(got), "differs from %s; if the change is intended, run: go test ./shadow -run %s -update", path, t.Name())
}

func render(t *testing.T, f func(*bytes.Buffer) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, f(&buf))
	return buf.Bytes()
}

func jsonDoc(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(v))
	return buf.Bytes()
}

func fxReport(t *testing.T, s shadow.Store, f shadow.ReportFilter) shadow.PromotionReport {
	t.Helper()
	rep, err := fxReporter(t, s).Report(context.Background(), f)
	require.NoError(t, err)
	rep.LabelOrgs(fxSlugs)
	return rep
}

// Every format of the same report, from both stores: the stores must
// produce the same document.
func TestReportFormatsGolden(t *testing.T) {
	stores(t, func(t *testing.T, s shadow.Store) {
		seedFixture(t, s)
		rep := fxReport(t, s, shadow.ReportFilter{})
		golden(t, "report.json", jsonDoc(t, rep))
		golden(t, "report.txt", render(t, func(b *bytes.Buffer) error { return shadow.WriteReportTable(b, rep) }))
		golden(t, "report.md", render(t, func(b *bytes.Buffer) error { return shadow.WriteReportMarkdown(b, rep) }))
		// The JSON document decodes into the same report (the CLI's path).
		var back shadow.PromotionReport
		require.NoError(t, json.Unmarshal(jsonDoc(t, rep), &back))
		assert.Equal(t, jsonDoc(t, rep), jsonDoc(t, back))
	})
}

func TestReportFormatsFilteredGolden(t *testing.T) {
	s := shadow.NewMemoryStore(shadow.MemoryStoreOptions{})
	seedFixture(t, s)
	rep := fxReport(t, s, shadow.ReportFilter{OrgID: fxGlobex, Route: "qa", Since: fxNow.Add(-48 * time.Hour), Until: fxNow})
	golden(t, "report_globex_qa.txt", render(t, func(b *bytes.Buffer) error { return shadow.WriteReportTable(b, rep) }))
	golden(t, "report_globex_qa.md", render(t, func(b *bytes.Buffer) error { return shadow.WriteReportMarkdown(b, rep) }))

	empty := fxReport(t, s, shadow.ReportFilter{Route: "nothing-here", Since: fxNow.Add(-24 * time.Hour)})
	golden(t, "report_empty.txt", render(t, func(b *bytes.Buffer) error { return shadow.WriteReportTable(b, empty) }))
	golden(t, "report_empty.md", render(t, func(b *bytes.Buffer) error { return shadow.WriteReportMarkdown(b, empty) }))
	golden(t, "report_empty.json", jsonDoc(t, empty))
}

func TestRolloutFormatsGolden(t *testing.T) {
	s := shadow.NewMemoryStore(shadow.MemoryStoreOptions{})
	seedFixture(t, s)
	rep, err := fxReporter(t, s).Rollout(context.Background(), "qa", []shadow.OrgMode{
		{OrgID: fxGlobex, Mode: "shadow"}, {OrgID: fxAcme, Mode: "canary"}, {OrgID: fxInitech, Mode: "shadow"},
	}, shadow.ReportFilter{})
	require.NoError(t, err)
	rep.LabelOrgs(fxSlugs)
	golden(t, "rollout.txt", render(t, func(b *bytes.Buffer) error { return shadow.WriteReportTable(b, rep) }))
	golden(t, "rollout.md", render(t, func(b *bytes.Buffer) error { return shadow.WriteReportMarkdown(b, rep) }))
}

func TestClassFormatsGolden(t *testing.T) {
	stores(t, func(t *testing.T, s shadow.Store) {
		seedFixture(t, s)
		ctx := context.Background()
		d, err := s.Class(ctx, fxClassY)
		require.NoError(t, err)
		v := shadow.ClassView{ClassDetail: d, OrgSlugs: fxSlugs}
		golden(t, "class_y.txt", render(t, func(b *bytes.Buffer) error { return shadow.WriteClassText(b, v, shadow.ClassTextOptions{}) }))

		d, err = s.Class(ctx, fxClassX)
		require.NoError(t, err)
		golden(t, "class_x.txt", render(t, func(b *bytes.Buffer) error {
			return shadow.WriteClassText(b, shadow.ClassView{ClassDetail: d}, shadow.ClassTextOptions{})
		}))

		cs, err := s.Classes(ctx, shadow.ClassFilter{})
		require.NoError(t, err)
		golden(t, "classes.txt", render(t, func(b *bytes.Buffer) error {
			return shadow.WriteClassListTable(b, shadow.ClassList{Until: fxNow, Classes: cs})
		}))
	})
}

// Text that comes from data cannot break the Markdown table, inject
// markup, or drive a terminal.
func TestFormatsEscapeHostileText(t *testing.T) {
	s := shadow.NewMemoryStore(shadow.MemoryStoreOptions{})
	route := "qa|<b>x</b>"
	pattern := []shadow.PathKind{{Path: "$[\"a|b`c\"]", Kind: shadow.KindChanged}, {Path: "header:X-\x1b[31mRed", Kind: shadow.KindAdded}}
	fp := shadow.Fingerprint(route, pattern)
	require.NoError(t, s.Record(context.Background(), shadow.Batch{
		Rollups: []shadow.Rollup{{OrgID: "org|*bold*", Route: route, Hour: fxH0, Counts: shadow.Counts{Match: 5, Diff: 1}}},
		Classes: []shadow.ClassDelta{{Fingerprint: fp, Route: route, Pattern: pattern, Count: 1, FirstSeen: fxH0, LastSeen: fxH0,
			Hours: []shadow.ClassHour{{OrgID: "org|*bold*", Hour: fxH0, Count: 1}}}},
	}))
	_, err := s.Ack(context.Background(), fp, shadow.Ack{Note: "line one\nline | two <script>", By: "[mallory](http://x)", At: fxNow})
	require.NoError(t, err)
	rep := fxReport(t, s, shadow.ReportFilter{TopClasses: 3})
	md := render(t, func(b *bytes.Buffer) error { return shadow.WriteReportMarkdown(b, rep) })
	golden(t, "report_hostile.md", md)
	// Every row of a table has as many cell separators as its header.
	cells := func(line string) int { return strings.Count(line, "|") - strings.Count(line, `\|`) }
	header, tables := -1, 0
	for _, line := range strings.Split(string(md), "\n") {
		switch {
		case !strings.HasPrefix(line, "|"):
			header = -1
		case header < 0:
			header = cells(line)
			tables++
		default:
			assert.Equal(t, header, cells(line), line)
		}
	}
	assert.Equal(t, 2, tables)
	assert.NotContains(t, string(md), "<script>")
	assert.NotContains(t, string(md), "\x1b")
	txt := render(t, func(b *bytes.Buffer) error { return shadow.WriteReportTable(b, rep) })
	assert.NotContains(t, string(txt), "\x1b")
}
