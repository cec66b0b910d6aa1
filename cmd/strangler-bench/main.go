// Command strangler-bench is the load harness behind `make bench`: it
// measures what the proxy adds to a request by driving the same upstream
// directly and through the proxy, in the same run, with the same client.
//
// It starts an upstream HTTP server in this process (answers of 1 KiB and
// 1 MiB with Content-Length, keep-alive), then the proxy in front of it —
// by default the real `strangler serve` binary as a separate process (see
// proxyMode for why) — and for each response size drives the upstream
// directly and through the proxy for a fixed duration (or request count)
// each, with a fixed number of concurrent keep-alive clients. The runs are
// cut into slices that alternate (direct, proxy, proxy, direct, ...) so
// that load from elsewhere on a shared machine falls on both alike. It prints
// requests/s, p50, p99 and bytes/s of each, the proxy/direct ratios and
// the latency the proxy adds, and checks the targets for 1 KiB answers.
//
// All traffic goes to 127.0.0.1 and every run is bounded in time and count.
//
//	go run ./cmd/strangler-bench                       # 64 clients, 10s per run
//	go run ./cmd/strangler-bench -concurrency 16 -duration 5s -proxy inprocess
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

// options are the flags.
type options struct {
	concurrency int
	duration    time.Duration
	requests    int
	warmup      time.Duration
	rounds      int
	sizes       []int
	proxy       proxyMode
	binary      string
	accessLog   bool
	strict      bool
	cpuProfile  string
}

// Bounds that keep the harness a measurement, not a load generator gone
// wild on a shared machine.
const (
	maxConcurrency = 1024
	maxDuration    = 5 * time.Minute
	maxRequests    = 10_000_000
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "strangler-bench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "strangler-bench:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "strangler-bench:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	report, err := bench(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "strangler-bench:", err)
		return 1
	}
	report.write(stdout)
	if o.strict && !report.targetsMet() {
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{proxy: proxyProcess}
	fs := flag.NewFlagSet("strangler-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.concurrency, "concurrency", 64, "concurrent keep-alive clients")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each run (direct or proxy, per size)")
	fs.IntVar(&o.requests, "requests", 0, "requests per run instead of -duration (0: use -duration)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up of each target before its runs")
	fs.IntVar(&o.rounds, "rounds", 5, "slices each run is cut into, direct and proxy alternating (A B, B A, ...)")
	sizes := fs.String("sizes", "1KiB,1MiB", "response sizes, comma-separated (B, KiB, MiB)")
	mode := fs.String("proxy", string(proxyProcess), "where the proxy runs: process (the strangler binary) or inprocess")
	fs.StringVar(&o.binary, "strangler", "", "prebuilt strangler binary for -proxy process (default: go build)")
	fs.BoolVar(&o.accessLog, "access-log", true, "proxy writes its access log (info level, discarded) as in production")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 when a target is missed")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the harness process (with -proxy inprocess it includes the proxy)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: strangler-bench [flags]\n\nDrives an upstream directly and through the proxy (127.0.0.1 only) and\nreports requests/s, p50, p99 and the overhead of the proxy.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.concurrency < 1 || o.concurrency > maxConcurrency:
		return o, fmt.Errorf("-concurrency must be 1..%d, got %d", maxConcurrency, o.concurrency)
	case o.requests < 0 || o.requests > maxRequests:
		return o, fmt.Errorf("-requests must be 0..%d, got %d", maxRequests, o.requests)
	case o.requests == 0 && (o.duration <= 0 || o.duration > maxDuration):
		return o, fmt.Errorf("-duration must be above 0 and at most %s, got %s", maxDuration, o.duration)
	case o.rounds < 1 || o.rounds > 100:
		return o, fmt.Errorf("-rounds must be 1..100, got %d", o.rounds)
	case o.requests > 0 && o.requests < o.rounds:
		return o, fmt.Errorf("-requests must be at least -rounds (%d), got %d", o.rounds, o.requests)
	case o.warmup < 0 || o.warmup > maxDuration:
		return o, fmt.Errorf("-warmup must be 0..%s, got %s", maxDuration, o.warmup)
	}
	o.proxy = proxyMode(*mode)
	if o.proxy != proxyProcess && o.proxy != proxyInProcess {
		return o, fmt.Errorf("-proxy must be process or inprocess, got %q", *mode)
	}
	for s := range strings.SplitSeq(*sizes, ",") {
		n, err := parseSize(strings.TrimSpace(s))
		if err != nil {
			return o, fmt.Errorf("-sizes: %w", err)
		}
		o.sizes = append(o.sizes, n)
	}
	return o, nil
}

// parseSize reads "1KiB", "1MiB", "512B" or "2048".
func parseSize(s string) (int, error) {
	mult := 1
	num := s
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	var n int
	if _, err := fmt.Sscanf(num, "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != num || n*mult > 64<<20 {
		return 0, fmt.Errorf("invalid size %q: bytes, KiB or MiB, at most 64MiB", s)
	}
	return n * mult, nil
}

// bench runs every measurement and returns the report.
func bench(ctx context.Context, o options, progress io.Writer) (*report, error) {
	up, err := startUpstream(o.sizes)
	if err != nil {
		return nil, err
	}
	defer up.close()

	px, err := startProxy(ctx, o, up.url, progress)
	if err != nil {
		return nil, err
	}
	defer px.close()

	rep := &report{
		opts:      o,
		machine:   describeMachine(),
		loadStart: loadAverage(),
		proxyURL:  px.url,
		started:   time.Now(),
	}
	for _, size := range o.sizes {
		fmt.Fprintf(progress, "running %s: direct and proxy, %s\n", formatSize(size), o.describeRun())
		direct := newTarget("direct", up.url, o.concurrency, nil)
		proxied := newTarget("proxy", px.url, o.concurrency, px.cpu)
		d, p, err := compare(ctx, direct, proxied, up.path(size), size, o)
		direct.close()
		proxied.close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", formatSize(size), err)
		}
		rep.rows = append(rep.rows, row{size: size, direct: d, proxy: p})
	}
	rep.loadEnd = loadAverage()
	return rep, nil
}

func (o options) describeRun() string {
	if o.requests > 0 {
		return fmt.Sprintf("%d requests each in %d alternating slices, %d clients", o.requests, o.rounds, o.concurrency)
	}
	return fmt.Sprintf("%s each in %d alternating slices, %d clients", o.duration, o.rounds, o.concurrency)
}
