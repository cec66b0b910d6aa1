package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary serve as the shadow candidate, as the
// harness binary does (candidate.go re-executes os.Executable).
func TestMain(m *testing.M) {
	if code, ok := candidateMain(); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestHarnessSmoke runs the whole harness briefly with the application in
// process: every scenario answers through its route and credential, the
// shadowed org's requests are compared against the candidate, the report
// has every section and target line.
func TestHarnessSmoke(t *testing.T) {
	var out, progress bytes.Buffer
	code := run([]string{"-proxy", "inprocess", "-concurrency", "4", "-requests", "100", "-warmup", "0s", "-sizes", "1KiB,64KiB",
		"-scenarios", "direct,legacy,auth,jwt,shadow"}, &out, &progress)
	require.Equal(t, 0, code, "stderr: %s", progress.String())
	report := out.String()
	for _, want := range []string{"machine: ", "proxy:     internal/app in the harness process", "scenarios: direct, legacy, auth, jwt, shadow",
		"1KiB, 4 client(s), 100 requests per scenario in 6 slices", "64KiB, 1 client(s)",
		"shadow vs auth: throughput", "auth vs legacy: throughput", "shadow vs legacy: throughput",
		"targets (1KiB):", "legacy throughput, 4 clients", "legacy added p50, 1 client", "jwt added p50, 1 client",
		"shadow throughput cost vs auth"} {
		assert.Contains(t, report, want)
	}
	for _, name := range []string{"direct", "legacy", "auth", "jwt", "shadow"} {
		assert.Regexp(t, `(?m)^\s+`+name+`\s+100\s+0\s`, report, name)
	}
	assert.Regexp(t, `shadow comparisons during the run \(admin /metrics\): match [1-9]`, report)
	assert.NotContains(t, report, "first error")
}

func TestCompareCountsExactlyAndRotates(t *testing.T) {
	up, err := startUpstream([]int{100})
	require.NoError(t, err)
	defer up.close()
	targets := []*target{newTarget("a", up.url, "", nil, 3), newTarget("b", up.url, "/any/prefix", nil, 3), newTarget("c", up.url, "", nil, 3)}
	for _, tg := range targets {
		defer tg.close()
	}
	res, err := compare(context.Background(), targets, runSpec{size: 100, concurrency: 3, requests: 31}, options{rounds: 4}, cpuMeters{})
	require.NoError(t, err)
	require.Len(t, res, 3)
	for i, r := range res {
		assert.Equal(t, targets[i].name, r.name)
		assert.Equal(t, 31, r.requests, "7+7+7+10 over four slices")
		assert.Equal(t, int64(3100), r.bytes)
		assert.Zero(t, r.errors)
		assert.LessOrEqual(t, r.p50, r.p99)
		assert.Positive(t, r.elapsed)
		assert.Positive(t, r.servingCPU())
	}

	// A wrong size is an error, not a measurement.
	s, err := measure(context.Background(), targets[0], runSpec{size: 99, concurrency: 1}, slice{requests: 3}, cpuMeters{})
	require.NoError(t, err)
	assert.Equal(t, 3, s.errors)
	assert.Empty(t, s.lat)
	assert.Equal(t, "status 404", s.firstErr)
	_, err = compare(context.Background(), targets, runSpec{size: 99, concurrency: 1, requests: 2}, options{rounds: 1}, cpuMeters{})
	require.ErrorContains(t, err, "a: no request succeeded: status 404")
}

// TestMeasureRateSendsExactly: a fixed-rate slice sends exactly the
// requests asked, every answer checked.
func TestMeasureRateSendsExactly(t *testing.T) {
	up, err := startUpstream([]int{100})
	require.NoError(t, err)
	defer up.close()
	tg := newTarget("a", up.url, "", nil, 4)
	tg.lean = true
	defer tg.close()
	s, err := measure(context.Background(), tg, runSpec{size: 100, concurrency: 4, rate: 1000}, slice{requests: 50}, cpuMeters{})
	require.NoError(t, err)
	assert.Len(t, s.lat, 50)
	assert.Zero(t, s.errors)
	assert.Equal(t, int64(5000), s.bytes)

	s, err = measure(context.Background(), tg, runSpec{size: 99, concurrency: 2, rate: 1000}, slice{requests: 5}, cpuMeters{})
	require.NoError(t, err)
	assert.Equal(t, 5, s.errors)
	assert.Equal(t, "status 404", s.firstErr)
}

func TestShadowCounts(t *testing.T) {
	before := shadowCounts{"match": 10, "dropped": 2}
	after := shadowCounts{"match": 25, "dropped": 2, "diff": 1}
	d := after.sub(before)
	assert.Equal(t, shadowCounts{"match": 15, "diff": 1}, d)
	assert.Equal(t, "match 15, diff 1", d.String())
	assert.Equal(t, "none", shadowCounts{}.String())

	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# HELP strangler_shadow_queue_depth x\nstrangler_shadow_queue_depth 0\nstrangler_shadow_queue_depth_other 7\n"+
			`strangler_shadow_comparisons_total{outcome="match",route="a"} 3`+"\n"+
			`strangler_shadow_comparisons_total{outcome="match",route="b"} 4`+"\n"+
			`strangler_shadow_comparisons_total{outcome="dropped",route="a"} 1`+"\n"+
			`strangler_shadow_shed_total{route="a"} 5`+"\n")
	}))
	defer metrics.Close()
	depth, ok := readMetric(context.Background(), metrics.URL, "strangler_shadow_queue_depth")
	assert.True(t, ok)
	assert.Zero(t, depth)
	_, ok = readMetric(context.Background(), metrics.URL, "strangler_absent")
	assert.False(t, ok)
	assert.Equal(t, shadowCounts{"match": 7, "dropped": 1, "shed": 5}, readShadowCounts(context.Background(), metrics.URL))
	require.NoError(t, waitShadowIdle(context.Background(), metrics.URL))
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	assert.Equal(t, time.Duration(50), percentile(d, 0.50))
	assert.Equal(t, time.Duration(99), percentile(d, 0.99))
	assert.Equal(t, time.Duration(100), percentile(d, 1))
	assert.Equal(t, time.Duration(7), percentile([]time.Duration{7}, 0.99))
	assert.Zero(t, percentile(nil, 0.5))
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-concurrency", "0"}, "-concurrency must be 1..1024"},
		{[]string{"-duration", "1h"}, "-duration must be above 0 and at most 5m0s"},
		{[]string{"-requests", "-1"}, "-requests must be 0..10000000"},
		{[]string{"-rounds", "0"}, "-rounds must be 1..100"},
		{[]string{"-requests", "3", "-rounds", "5"}, "-requests must be at least -rounds (5), got 3"},
		{[]string{"-proxy", "remote"}, "-proxy must be process or inprocess"},
		{[]string{"-latency-duration", "-1s"}, "-latency-duration must be 0..5m0s"},
		{[]string{"-candidate-nice", "20"}, "-candidate-nice must be 0..19"},
		{[]string{"-shadow-sample-rate", "1.5"}, "-shadow-sample-rate must be 0..1"},
		{[]string{"-shadow-sample-rate", "NaN"}, "-shadow-sample-rate must be 0..1"},
		{[]string{"-proxy-env", "GOGC"}, "-proxy-env must be KEY=VALUE"},
		{[]string{"-scenarios", "direct,bogus"}, `-scenarios: unknown scenario "bogus"`},
		{[]string{"-scenarios", "auth,auth"}, `-scenarios: "auth" given twice`},
		{[]string{"-sizes", "1GiB"}, "-sizes: invalid size"},
		{[]string{"-sizes", "x"}, "-sizes: invalid size"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-bogus"}, "flag provided but not defined"},
	} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run(tc.args, &out, &errOut), "%q", tc.args)
		assert.Contains(t, errOut.String(), tc.want, "%q", tc.args)
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, 0, run([]string{"-h"}, &out, &errOut))
	assert.True(t, strings.HasPrefix(errOut.String(), "usage: strangler-bench"))

	for in, want := range map[string]int{"1KiB": 1024, "1MiB": 1 << 20, "512B": 512, "2048": 2048} {
		got, err := parseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
}

func TestCPUAccounting(t *testing.T) {
	self := selfCPU()
	assert.Positive(t, self)
	own, ok := processCPU(os.Getpid())
	require.True(t, ok, "/proc/self/stat readable")
	// /proc counts in 10ms ticks: within a tick or two of getrusage.
	assert.InDelta(t, float64(self), float64(own), float64(50*time.Millisecond))
	_, ok = processCPU(-1)
	assert.False(t, ok)
}

// TestHarnessProcessMode runs the proxy as the real binary (serve with the
// generated configuration and seed file), with and without its access log.
func TestHarnessProcessMode(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "strangler")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/7cycles-ai/strangler/cmd/strangler").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, accessLog := range []string{"true", "false"} {
		var report, progress bytes.Buffer
		code := run([]string{"-strangler", bin, "-access-log=" + accessLog, "-proxy-env", "GOGC=100", "-concurrency", "2", "-requests", "40",
			"-warmup", "0s", "-sizes", "1KiB"}, &report, &progress)
		require.Equal(t, 0, code, "access log %s: %s", accessLog, progress.String())
		assert.Contains(t, report.String(), "proxy:     strangler serve, a separate process")
		assert.Contains(t, report.String(), "env GOGC=100")
		for _, name := range []string{"legacy", "auth", "shadow"} {
			assert.Regexp(t, `(?m)^\s+`+name+`\s+40\s+0\s`, report.String(), name)
		}
		assert.Contains(t, report.String(), "auth added proxy CPU/request, 2 clients")
		assert.NotContains(t, report.String(), "first error")
	}
}
