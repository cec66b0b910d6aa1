// Command strangler-bench is the load harness behind `make bench`: it
// measures what the proxy adds to a request by driving the same upstream
// directly and through the proxy, in the same run, with the same clients.
//
// It starts an upstream HTTP server in this process (answers of 1 KiB and
// 1 MiB with Content-Length, keep-alive), a shadow candidate (the same
// server in a process of its own, candidate.go), and the proxy in front —
// by default the real `strangler serve` binary as a separate process, with
// the memory store seeded through store.seed_file (see proxyMode and
// benchConfig). Then, for each response size, it drives every scenario
// (scenario.go) with a fixed number of concurrent keep-alive clients (64),
// and again with one client (the latency one request pays without
// queueing):
//
//	direct  client → upstream
//	legacy  through the proxy, anonymous route (auth none), legacy mode
//	auth    auth-required route with a permission, a cached API key
//	jwt     the same route with a cached built-in issuer access token (opt-in)
//	shadow  the same route with a key of an org the seed pins to shadow
//
// The runs are cut into slices that rotate over the scenarios so that load
// from elsewhere on a shared machine falls on all alike. It prints
// requests/s, p50, p99, CPU per request of each process, the ratios to
// direct and between scenarios, and checks the targets.
//
// All traffic goes to 127.0.0.1 and every run is bounded in time and count.
//
//	go run ./cmd/strangler-bench                       # the defaults, about 2 minutes
//	go run ./cmd/strangler-bench -duration 30s -latency-duration 10s
//	go run ./cmd/strangler-bench -proxy inprocess -cpuprofile cpu.out
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
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/7cycles-ai/strangler/config"
)

// options are the flags.
type options struct {
	client          string // clientLean or clientStd
	concurrency     int
	duration        time.Duration
	latencyDuration time.Duration
	rate            int // requests/s of the fixed-rate run; 0: none
	requests        int
	warmup          time.Duration
	rounds          int
	sizes           []int
	scenarios       []string
	proxy           proxyMode
	binary          string
	proxyEnv        []string
	accessLog       bool
	candidateNice   int
	shadow          shadowKnobs
	strict          bool
	cpuProfile      string
}

// Bounds that keep the harness a measurement, not a load generator gone
// wild on a shared machine.
// shadowKnobs are the shadow settings of the proxy's configuration.
type shadowKnobs struct {
	sampleRate float64 // routes[authd].shadow.sample_rate
	cpuBudget  float64 // shadow.cpu_budget
}

// Load clients (-client).
const (
	clientLean = "lean"
	clientStd  = "std"
)

const (
	maxConcurrency = 1024
	maxRate        = 100_000
	// maxRateSize: the fixed-rate run measures latency, not bandwidth.
	maxRateSize = 64 << 10
	maxDuration = 5 * time.Minute
	maxRequests = 10_000_000
)

func main() {
	if code, ok := candidateMain(); ok {
		os.Exit(code)
	}
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

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{proxy: proxyProcess}
	fs := flag.NewFlagSet("strangler-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.client, "client", clientLean, "load client: lean (each worker writes its request and reads the answer on its own connection, as wrk does) or std (net/http's Client)")
	fs.IntVar(&o.concurrency, "concurrency", 64, "concurrent keep-alive clients of the load run")
	fs.DurationVar(&o.duration, "duration", 12*time.Second, "load run: measured time per scenario and size")
	fs.DurationVar(&o.latencyDuration, "latency-duration", 3*time.Second, "one-client latency run: measured time per scenario and size (0: no latency run)")
	fs.IntVar(&o.rate, "rate", 2000, "fixed-rate run: requests/s offered to each scenario over -concurrency connections for -latency-duration, for sizes up to 64KiB (0: no rate run); latency counts from each request's send, queueing included")
	fs.IntVar(&o.requests, "requests", 0, "requests per scenario and size instead of the durations (0: use the durations)")
	fs.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "unmeasured warm-up of each scenario before its slices")
	fs.IntVar(&o.rounds, "rounds", 6, "slices each run is cut into, the scenarios rotating (A B C, B C A, ...)")
	sizes := fs.String("sizes", "1KiB,1MiB", "response sizes, comma-separated (B, KiB, MiB)")
	scenarios := fs.String("scenarios", "direct,legacy,auth,shadow", "scenarios, comma-separated, of: "+strings.Join(allScenarios, ", "))
	mode := fs.String("proxy", string(proxyProcess), "where the proxy runs: process (the strangler binary) or inprocess")
	fs.StringVar(&o.binary, "strangler", "", "prebuilt strangler binary for -proxy process (default: go build)")
	var env stringList
	fs.Var(&env, "proxy-env", "KEY=VALUE added to the proxy process's environment, repeatable (e.g. GOGC=200)")
	fs.BoolVar(&o.accessLog, "access-log", true, "proxy writes its access log (info level, to a file) as in production")
	fs.IntVar(&o.candidateNice, "candidate-nice", 0, "niceness of the shadow candidate process (0..19; 19: the serving path wins the CPU)")
	fs.Float64Var(&o.shadow.sampleRate, "shadow-sample-rate", 1, "shadow.sample_rate of the shadowed route, 0 to 1 (1: every request of the shadow scenario is compared)")
	fs.Float64Var(&o.shadow.cpuBudget, "shadow-cpu-budget", config.DefaultShadowCPUBudget, "shadow.cpu_budget of the proxy, over 0 to 1 (1: the CPU guard never sheds, to measure what unguarded shadowing costs)")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 when a target is missed")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the harness process (with -proxy inprocess it includes the proxy)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: strangler-bench [flags]\n\nDrives an upstream directly and through the proxy in several scenarios\n(127.0.0.1 only) and reports requests/s, p50, p99 and the overhead of the proxy.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.client != clientLean && o.client != clientStd:
		return o, fmt.Errorf("-client must be lean or std, got %q", o.client)
	case o.concurrency < 1 || o.concurrency > maxConcurrency:
		return o, fmt.Errorf("-concurrency must be 1..%d, got %d", maxConcurrency, o.concurrency)
	case o.requests < 0 || o.requests > maxRequests:
		return o, fmt.Errorf("-requests must be 0..%d, got %d", maxRequests, o.requests)
	case o.requests == 0 && (o.duration <= 0 || o.duration > maxDuration):
		return o, fmt.Errorf("-duration must be above 0 and at most %s, got %s", maxDuration, o.duration)
	case o.latencyDuration < 0 || o.latencyDuration > maxDuration:
		return o, fmt.Errorf("-latency-duration must be 0..%s, got %s", maxDuration, o.latencyDuration)
	case o.rate < 0 || o.rate > maxRate:
		return o, fmt.Errorf("-rate must be 0..%d, got %d", maxRate, o.rate)
	case o.rounds < 1 || o.rounds > 100:
		return o, fmt.Errorf("-rounds must be 1..100, got %d", o.rounds)
	case o.requests > 0 && o.requests < o.rounds:
		return o, fmt.Errorf("-requests must be at least -rounds (%d), got %d", o.rounds, o.requests)
	case o.warmup < 0 || o.warmup > maxDuration:
		return o, fmt.Errorf("-warmup must be 0..%s, got %s", maxDuration, o.warmup)
	case !(o.shadow.sampleRate >= 0 && o.shadow.sampleRate <= 1):
		return o, fmt.Errorf("-shadow-sample-rate must be 0..1, got %g", o.shadow.sampleRate)
	case !(o.shadow.cpuBudget > 0 && o.shadow.cpuBudget <= 1):
		return o, fmt.Errorf("-shadow-cpu-budget must be over 0 and at most 1, got %g", o.shadow.cpuBudget)
	case o.candidateNice < 0 || o.candidateNice > 19:
		return o, fmt.Errorf("-candidate-nice must be 0..19, got %d", o.candidateNice)
	}
	o.proxy = proxyMode(*mode)
	if o.proxy != proxyProcess && o.proxy != proxyInProcess {
		return o, fmt.Errorf("-proxy must be process or inprocess, got %q", *mode)
	}
	for _, e := range env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return o, fmt.Errorf("-proxy-env must be KEY=VALUE, got %q", e)
		}
	}
	o.proxyEnv = env
	for s := range strings.SplitSeq(*sizes, ",") {
		n, err := parseSize(strings.TrimSpace(s))
		if err != nil {
			return o, fmt.Errorf("-sizes: %w", err)
		}
		o.sizes = append(o.sizes, n)
	}
	for s := range strings.SplitSeq(*scenarios, ",") {
		s = strings.TrimSpace(s)
		switch {
		case !slices.Contains(allScenarios, s):
			return o, fmt.Errorf("-scenarios: unknown scenario %q (%s)", s, strings.Join(allScenarios, ", "))
		case slices.Contains(o.scenarios, s):
			return o, fmt.Errorf("-scenarios: %q given twice", s)
		}
		o.scenarios = append(o.scenarios, s)
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
	cand, err := startCandidate(ctx, o.sizes, o.candidateNice)
	if err != nil {
		return nil, err
	}
	defer cand.close()

	px, err := startProxy(ctx, o, up.url, cand.url, progress)
	if err != nil {
		return nil, err
	}
	defer px.close()
	creds, err := setupCredentials(ctx, px.url)
	if err != nil {
		return nil, err
	}
	meters := cpuMeters{proxy: px.cpu, candidate: cand.cpu}

	rep := &report{
		opts:      o,
		machine:   describeMachine(),
		loadStart: loadAverage(),
		started:   time.Now(),
	}
	var runs []runSpec
	for _, size := range o.sizes {
		runs = append(runs, runSpec{size: size, concurrency: o.concurrency, duration: o.duration, requests: o.requests})
	}
	if o.latencyDuration > 0 || o.requests > 0 {
		for _, size := range o.sizes {
			runs = append(runs, runSpec{size: size, concurrency: 1, duration: o.latencyDuration, requests: o.requests})
		}
	}
	if o.rate > 0 && (o.latencyDuration > 0 || o.requests > 0) {
		for _, size := range o.sizes {
			if size <= maxRateSize {
				runs = append(runs, runSpec{size: size, concurrency: o.concurrency, rate: o.rate, duration: o.latencyDuration, requests: o.requests})
			}
		}
	}
	for _, rn := range runs {
		fmt.Fprintf(progress, "running %s, %d clients: %s\n", formatSize(rn.size), rn.concurrency, o.describeRun(rn))
		targets := newTargets(o, up.url, px.url, px.adminURL, creds, rn.concurrency)
		sh0 := readShadowCounts(ctx, px.adminURL)
		res, err := compare(ctx, targets, rn, o, meters)
		for _, t := range targets {
			t.close()
		}
		if err != nil {
			return nil, fmt.Errorf("%s, %d clients: %w", formatSize(rn.size), rn.concurrency, err)
		}
		rep.runs = append(rep.runs, runResult{runSpec: rn, results: res, shadow: readShadowCounts(ctx, px.adminURL).sub(sh0)})
	}
	rep.loadEnd = loadAverage()
	return rep, nil
}

func (o options) describeRun(rn runSpec) string {
	what := strings.Join(o.scenarios, ", ")
	if rn.rate > 0 {
		what += fmt.Sprintf(" at %d req/s", rn.rate)
	}
	if rn.requests > 0 {
		return fmt.Sprintf("%s, %d requests each in %d rotating slices", what, rn.requests, o.rounds)
	}
	return fmt.Sprintf("%s, %s each in %d rotating slices", what, rn.duration, o.rounds)
}
