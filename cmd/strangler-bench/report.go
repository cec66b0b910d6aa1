package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// The targets on the 2-core reference machine, for 1 KiB answers.
const (
	targetAddedP50   = 150 * time.Microsecond
	targetAddedP99   = time.Millisecond
	targetThroughput = 0.60
	// targetCredential bounds what a cached credential adds per request.
	targetCredential = 20 * time.Microsecond
	// targetShadowCost bounds the throughput shadow mode costs, the
	// candidate's own CPU excluded.
	targetShadowCost = 0.10
	targetSize       = 1 << 10
)

// runResult is one run: every scenario at one size and concurrency.
type runResult struct {
	runSpec
	results []result
	shadow  shadowCounts
}

func (r runResult) get(name string) (result, bool) {
	for _, res := range r.results {
		if res.name == name {
			return res, true
		}
	}
	return result{}, false
}

type report struct {
	opts    options
	machine string
	// loadStart and loadEnd are /proc/loadavg around the runs: the
	// machine may be shared, and a busy one explains noisy numbers.
	loadStart, loadEnd string
	started            time.Time
	runs               []runResult
}

// find returns the run of size at concurrency (1: the latency run; 0: the
// load run, whatever its concurrency).
func (rep *report) find(size, concurrency int) (runResult, bool) {
	for _, r := range rep.runs {
		if r.rate == 0 && r.size == size && (r.concurrency == concurrency || concurrency == 0 && r.concurrency == rep.opts.concurrency) {
			return r, true
		}
	}
	return runResult{}, false
}

// findRate returns the fixed-rate run of size.
func (rep *report) findRate(size int) (runResult, bool) {
	for _, r := range rep.runs {
		if r.rate > 0 && r.size == size {
			return r, true
		}
	}
	return runResult{}, false
}

// check is one target, measured.
type check struct {
	what  string
	value string
	limit string
	ok    bool
	// note says how the value was measured.
	note string
}

// checks evaluates every target the measured scenarios allow.
func (rep *report) checks() []check {
	var out []check
	load, hasLoad := rep.find(targetSize, 0)
	lat, hasLat := rep.find(targetSize, 1)
	if rep.opts.concurrency == 1 {
		hasLoad = false
	}
	if hasLat {
		d, okD := lat.get(scenarioDirect)
		l, okL := lat.get(scenarioLegacy)
		if okD && okL {
			out = append(out,
				check{"legacy added p50, 1 client", signed(l.p50 - d.p50), "≤ " + formatDur(targetAddedP50), l.p50-d.p50 <= targetAddedP50, "the latency one request pays"},
				check{"legacy added p99, 1 client", signed(l.p99 - d.p99), "≤ " + formatDur(targetAddedP99), l.p99-d.p99 <= targetAddedP99, ""})
		}
	}
	if hasLoad {
		d, okD := load.get(scenarioDirect)
		l, okL := load.get(scenarioLegacy)
		if okD && okL {
			c := fmt.Sprintf("%d clients", load.concurrency)
			out = append(out,
				check{"legacy throughput, " + c, fmt.Sprintf("%.1f%%", 100*l.rps()/d.rps()), fmt.Sprintf("≥ %.0f%%", 100*targetThroughput), l.rps()/d.rps() >= targetThroughput,
					fmt.Sprintf("serving CPU/request %s direct, %s legacy", formatDur(d.servingCPU()), formatDur(l.servingCPU()))},
				check{"legacy added p50, " + c, signed(l.p50 - d.p50), "≤ " + formatDur(targetAddedP50), l.p50-d.p50 <= targetAddedP50, "saturated: latency ≈ clients ÷ throughput"},
				check{"legacy added p99, " + c, signed(l.p99 - d.p99), "≤ " + formatDur(targetAddedP99), l.p99-d.p99 <= targetAddedP99, ""})
		}
	}
	if rate, ok := rep.findRate(targetSize); ok {
		d, okD := rate.get(scenarioDirect)
		l, okL := rate.get(scenarioLegacy)
		if okD && okL {
			at := fmt.Sprintf("%d req/s", rate.rate)
			out = append(out,
				check{"legacy added p50, " + at, signed(l.p50 - d.p50), "≤ " + formatDur(targetAddedP50), l.p50-d.p50 <= targetAddedP50, "under load, not saturated"},
				check{"legacy added p99, " + at, signed(l.p99 - d.p99), "≤ " + formatDur(targetAddedP99), l.p99-d.p99 <= targetAddedP99, ""})
		}
	}
	for _, cred := range []string{scenarioAuth, scenarioJWT} {
		if hasLoad {
			l, okL := load.get(scenarioLegacy)
			a, okA := load.get(cred)
			if okL && okA && l.cpu.hasProxy {
				added := a.perRequest(a.cpu.proxy) - l.perRequest(l.cpu.proxy)
				out = append(out, check{cred + " added proxy CPU/request, " + fmt.Sprintf("%d clients", load.concurrency), signed(added), "≤ " + formatDur(targetCredential), added <= targetCredential,
					"cached credential, route check and permission, vs the anonymous route"})
			}
		}
		if hasLat {
			l, okL := lat.get(scenarioLegacy)
			a, okA := lat.get(cred)
			if okL && okA {
				out = append(out, check{cred + " added p50, 1 client", signed(a.p50 - l.p50), "≤ " + formatDur(targetCredential), a.p50-l.p50 <= targetCredential, ""})
			}
		}
	}
	if hasLoad {
		a, okA := load.get(scenarioAuth)
		s, okS := load.get(scenarioShadow)
		if okA && okS {
			cost := 1 - float64(a.servingCPU())/float64(s.servingCPU())
			out = append(out, check{"shadow throughput cost vs auth (legacy mode, same route and key), candidate excluded", fmt.Sprintf("%.1f%%", 100*cost), fmt.Sprintf("≤ %.0f%%", 100*targetShadowCost), cost <= targetShadowCost,
				fmt.Sprintf("1 − serving CPU/request auth %s ÷ shadow %s; measured throughput ratio %.1f%% with the candidate (%s CPU/request) on the same cores",
					formatDur(a.servingCPU()), formatDur(s.servingCPU()), 100*s.rps()/a.rps(), formatDur(s.perRequest(s.cpu.candidate)))})
		}
	}
	return out
}

// targetsMet reports whether every measured target is met.
func (rep *report) targetsMet() bool {
	for _, c := range rep.checks() {
		if !c.ok {
			return false
		}
	}
	return true
}

func (rep *report) write(w io.Writer) {
	o := rep.opts
	where := "strangler serve, a separate process"
	if o.proxy == proxyInProcess {
		where = "internal/app in the harness process"
	}
	log := "access log on (info, to a file)"
	if !o.accessLog {
		log = "access log off"
	}
	fmt.Fprintf(w, "strangler-bench %s\n", rep.started.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "machine:   %s\n", rep.machine)
	if rep.loadStart != "" {
		fmt.Fprintf(w, "load:      %s before, %s after (1, 5, 15 min averages)\n", rep.loadStart, rep.loadEnd)
	}
	fmt.Fprintf(w, "proxy:     %s, %s, memory store seeded by store.seed_file", where, log)
	if len(o.proxyEnv) > 0 {
		fmt.Fprintf(w, ", env %s", strings.Join(o.proxyEnv, " "))
	}
	fmt.Fprintf(w, "\nupstream:  in the harness process; shadow candidate: a separate process (GOMAXPROCS 1, nice %d); shadow sample_rate %g, cpu_budget %g\n", o.candidateNice, o.shadow.sampleRate, o.shadow.cpuBudget)
	warm := o.warmup.String()
	if o.requests == 0 && slices.Contains(o.scenarios, scenarioShadow) && shadowWarmup > o.warmup {
		warm += fmt.Sprintf(" (shadow: %s, and %s before each of its slices, for its CPU guard to settle)", shadowWarmup, shadowLeadIn)
	}
	fmt.Fprintf(w, "scenarios: %s; every slice rotates over them after %s warm-up each; 127.0.0.1 only\n", strings.Join(o.scenarios, ", "), warm)
	fmt.Fprintf(w, "CPU/req:   harness = clients + upstream (+ proxy when in process); proxy and candidate = their processes; serving = harness + proxy;\n           after each shadow slice the queue is drained before CPU is read, so the comparisons it queued are charged to it\n")

	for _, r := range rep.runs {
		span := fmt.Sprintf("%s per scenario", r.duration)
		if r.requests > 0 {
			span = fmt.Sprintf("%d requests per scenario", r.requests)
		}
		if r.rate > 0 {
			fmt.Fprintf(w, "\n%s, %d req/s offered over %d connections, %s in %d slices\n", formatSize(r.size), r.rate, r.concurrency, span, o.rounds)
		} else {
			fmt.Fprintf(w, "\n%s, %d client(s), %s in %d slices\n", formatSize(r.size), r.concurrency, span, o.rounds)
		}
		d, hasDirect := r.get(scenarioDirect)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "scenario\trequests\terrors\treq/s\tp50\tp99\tMiB/s\tharness CPU/req\tproxy CPU/req\tcandidate CPU/req\tserving CPU/req\tvs direct: req/s\tp50\tp99\t")
		for _, res := range r.results {
			proxyCPU, candCPU := "-", "-"
			if res.cpu.hasProxy {
				proxyCPU = formatDur(res.perRequest(res.cpu.proxy))
			}
			if res.cpu.hasCandidate && res.name == scenarioShadow {
				candCPU = formatDur(res.perRequest(res.cpu.candidate))
			}
			vs := "\t\t"
			if hasDirect && res.name != scenarioDirect {
				vs = fmt.Sprintf("%.1f%%\t%s\t%s", 100*res.rps()/d.rps(), signed(res.p50-d.p50), signed(res.p99-d.p99))
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%.1f\t%s\t%s\t%s\t%s\t%s\t\n", res.name, res.requests, res.errors,
				res.rps(), formatDur(res.p50), formatDur(res.p99), res.bytesPerSec()/(1<<20),
				formatDur(res.perRequest(res.cpu.harness)), proxyCPU, candCPU, formatDur(res.servingCPU()), vs)
		}
		tw.Flush()
		for _, res := range r.results {
			if res.errors > 0 {
				fmt.Fprintf(w, "  %s first error: %s\n", res.name, res.firstErr)
			}
		}
		if _, ok := r.get(scenarioShadow); ok {
			fmt.Fprintf(w, "  shadow comparisons during the run (admin /metrics): %s\n", r.shadow)
		}
		if a, ok := r.get(scenarioAuth); ok {
			if s, ok := r.get(scenarioShadow); ok {
				fmt.Fprintf(w, "  shadow vs auth: throughput %.1f%%, serving CPU/req %s (%+.1f%%)\n", 100*s.rps()/a.rps(),
					signed(s.servingCPU()-a.servingCPU()), 100*(float64(s.servingCPU())/float64(a.servingCPU())-1))
			}
			if l, ok := r.get(scenarioLegacy); ok {
				fmt.Fprintf(w, "  auth vs legacy: throughput %.1f%%, p50 %s, serving CPU/req %s", 100*a.rps()/l.rps(), signed(a.p50-l.p50), signed(a.servingCPU()-l.servingCPU()))
				if a.cpu.hasProxy {
					fmt.Fprintf(w, ", proxy CPU/req %s", signed(a.perRequest(a.cpu.proxy)-l.perRequest(l.cpu.proxy)))
				}
				fmt.Fprintln(w)
			}
		}
		if l, ok := r.get(scenarioLegacy); ok {
			if s, ok := r.get(scenarioShadow); ok {
				fmt.Fprintf(w, "  shadow vs legacy: throughput %.1f%%, serving CPU/req %s (%+.1f%%)\n", 100*s.rps()/l.rps(),
					signed(s.servingCPU()-l.servingCPU()), 100*(float64(s.servingCPU())/float64(l.servingCPU())-1))
			}
		}
	}

	cs := rep.checks()
	if len(cs) == 0 {
		return
	}
	fmt.Fprintf(w, "\ntargets (1KiB):\n")
	for _, c := range cs {
		fmt.Fprintf(w, "  %s %s: %s %s", verdict(c.ok), c.what, c.value, c.limit)
		if c.note != "" {
			fmt.Fprintf(w, "  (%s)", c.note)
		}
		fmt.Fprintln(w)
	}
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", float64(a)/float64(b))
}

func signed(d time.Duration) string {
	if d >= 0 {
		return "+" + formatDur(d)
	}
	return "-" + formatDur(-d)
}

// formatDur prints µs below 1ms (one decimal below 10µs), ms with two
// decimals above.
func formatDur(d time.Duration) string {
	switch {
	case d < 10*time.Microsecond:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
}

func formatSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// describeMachine names what the numbers were measured on.
func describeMachine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return fmt.Sprintf("%d CPUs (%s), %s/%s, %s, GOMAXPROCS %d", runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH, runtime.Version(), runtime.GOMAXPROCS(0))
}

// loadAverage is the first three fields of /proc/loadavg, or "".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
