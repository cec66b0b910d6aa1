package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHarnessSmoke runs the whole harness briefly with the proxy in
// process: both targets answer, the report has every line.
func TestHarnessSmoke(t *testing.T) {
	var out, progress bytes.Buffer
	code := run([]string{"-proxy", "inprocess", "-concurrency", "4", "-requests", "200", "-warmup", "0s", "-sizes", "1KiB,64KiB"}, &out, &progress)
	require.Equal(t, 0, code, "stderr: %s", progress.String())
	report := out.String()
	for _, want := range []string{"machine: ", "proxy: proxy.Server in the harness process", "4 keep-alive clients, 200 requests per target in 5 alternating slices",
		"1KiB  direct", "1KiB   proxy", "64KiB  direct", "64KiB   proxy", "1KiB  proxy/direct: throughput", "targets (1KiB): added p50"} {
		assert.Contains(t, report, want)
	}
	assert.NotContains(t, report, "first error")
}

func TestCompareCountsExactlyAndAlternates(t *testing.T) {
	up, err := startUpstream([]int{100})
	require.NoError(t, err)
	defer up.close()
	a := newTarget("a", up.url, 3, nil)
	b := newTarget("b", up.url, 3, nil)
	defer a.close()
	defer b.close()
	ra, rb, err := compare(context.Background(), a, b, up.path(100), 100, options{concurrency: 3, requests: 31, rounds: 4})
	require.NoError(t, err)
	for _, r := range []result{ra, rb} {
		assert.Equal(t, 31, r.requests, "7+7+7+10 over four slices")
		assert.Equal(t, int64(3100), r.bytes)
		assert.Zero(t, r.errors)
		assert.LessOrEqual(t, r.p50, r.p99)
		assert.Positive(t, r.elapsed)
	}

	// A wrong size is an error, not a measurement.
	s, err := measure(context.Background(), a, up.path(100), 99, 1, slice{requests: 3})
	require.NoError(t, err)
	assert.Equal(t, 3, s.errors)
	assert.Empty(t, s.lat)
	assert.Equal(t, "got 100 bytes, want 99", s.firstErr)
	_, _, err = compare(context.Background(), a, b, up.path(100), 99, options{concurrency: 1, requests: 2, rounds: 1})
	require.ErrorContains(t, err, "no request succeeded: got 100 bytes, want 99")
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

func TestListeningAddr(t *testing.T) {
	a, ok := listeningAddr(`{"level":"info","msg":"listening","public":"127.0.0.1:4000","admin":"127.0.0.1:4001"}` + "\n")
	assert.True(t, ok)
	assert.Equal(t, "127.0.0.1:4000", a)
	_, ok = listeningAddr(`{"msg":"proxy serving"}`)
	assert.False(t, ok)
	_, ok = listeningAddr("not json")
	assert.False(t, ok)
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

// TestHarnessProcessMode runs the proxy as the real binary, with and
// without its access log (the two ways the harness learns its address).
func TestHarnessProcessMode(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "strangler")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/7cycles-ai/strangler/cmd/strangler").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, accessLog := range []string{"true", "false"} {
		var report, progress bytes.Buffer
		code := run([]string{"-strangler", bin, "-access-log=" + accessLog, "-concurrency", "2", "-requests", "100", "-warmup", "0s", "-sizes", "1KiB"}, &report, &progress)
		require.Equal(t, 0, code, "access log %s: %s", accessLog, progress.String())
		assert.Contains(t, report.String(), "proxy: strangler serve, a separate process")
		assert.Regexp(t, `1KiB\s+proxy\s+100\s+0\s`, report.String())
		assert.NotContains(t, report.String(), "first error")
	}
}
