package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// The targets for 1 KiB answers on the 2-core reference machine.
const (
	targetAddedP50   = 150 * time.Microsecond
	targetAddedP99   = time.Millisecond
	targetThroughput = 0.60
	targetSize       = 1 << 10
)

// row is one response size: the upstream directly and through the proxy.
type row struct {
	size          int
	direct, proxy result
}

func (r row) throughputRatio() float64 { return r.proxy.rps() / r.direct.rps() }
func (r row) addedP50() time.Duration  { return r.proxy.p50 - r.direct.p50 }
func (r row) addedP99() time.Duration  { return r.proxy.p99 - r.direct.p99 }

type report struct {
	opts    options
	machine string
	// loadStart and loadEnd are /proc/loadavg around the runs: the
	// machine may be shared, and a busy one explains noisy numbers.
	loadStart, loadEnd string
	proxyURL           string
	started            time.Time
	rows               []row
	goroutines         int
}

// targetsMet reports whether the 1 KiB row (if measured) meets every target.
func (rep *report) targetsMet() bool {
	for _, r := range rep.rows {
		if r.size == targetSize {
			return r.addedP50() <= targetAddedP50 && r.addedP99() <= targetAddedP99 && r.throughputRatio() >= targetThroughput
		}
	}
	return true
}

func (rep *report) write(w io.Writer) {
	o := rep.opts
	where := "strangler serve, a separate process"
	if o.proxy == proxyInProcess {
		where = "proxy.Server in the harness process"
	}
	log := "access log on (info, discarded)"
	if !o.accessLog {
		log = "access log off"
	}
	run := fmt.Sprintf("%s per target in %d alternating slices after %s warm-up", o.duration, o.rounds, o.warmup)
	if o.requests > 0 {
		run = fmt.Sprintf("%d requests per target in %d alternating slices after %s warm-up", o.requests, o.rounds, o.warmup)
	}
	fmt.Fprintf(w, "strangler-bench %s\n", rep.started.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "machine: %s\n", rep.machine)
	if rep.loadStart != "" {
		fmt.Fprintf(w, "load:    %s before, %s after (1, 5, 15 min averages)\n", rep.loadStart, rep.loadEnd)
	}
	fmt.Fprintf(w, "setup:   upstream in the harness process; proxy: %s, %s;\n", where, log)
	fmt.Fprintf(w, "         %d keep-alive clients, %s; all on 127.0.0.1\n\n", o.concurrency, run)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "size\ttarget\trequests\terrors\treq/s\tp50\tp99\tMiB/s\tharness CPU/req\tproxy CPU/req\t")
	for _, r := range rep.rows {
		for _, t := range []struct {
			name string
			res  result
		}{{"direct", r.direct}, {"proxy", r.proxy}} {
			proxyCPU := "-"
			if t.res.hasProxyCPU {
				proxyCPU = formatDur(t.res.cpuPerRequest(t.res.proxyCPU))
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%s\t%s\t%.1f\t%s\t%s\t\n", formatSize(r.size), t.name, t.res.requests, t.res.errors,
				t.res.rps(), formatDur(t.res.p50), formatDur(t.res.p99), t.res.bytesPerSec()/(1<<20),
				formatDur(t.res.cpuPerRequest(t.res.harnessCPU)), proxyCPU)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range rep.rows {
		fmt.Fprintf(w, "%-5s proxy/direct: throughput %.1f%%, p50 %s (%s), p99 %s (%s)\n", formatSize(r.size),
			100*r.throughputRatio(), ratio(r.proxy.p50, r.direct.p50), signed(r.addedP50()), ratio(r.proxy.p99, r.direct.p99), signed(r.addedP99()))
		for _, res := range []result{r.direct, r.proxy} {
			if res.errors > 0 {
				fmt.Fprintf(w, "      first error: %s\n", res.firstErr)
			}
		}
	}
	for _, r := range rep.rows {
		if r.size != targetSize {
			continue
		}
		fmt.Fprintf(w, "\ntargets (1KiB): added p50 %s ≤ %s %s; added p99 %s ≤ %s %s; throughput %.1f%% ≥ %.0f%% %s\n",
			signed(r.addedP50()), formatDur(targetAddedP50), verdict(r.addedP50() <= targetAddedP50),
			signed(r.addedP99()), formatDur(targetAddedP99), verdict(r.addedP99() <= targetAddedP99),
			100*r.throughputRatio(), 100*targetThroughput, verdict(r.throughputRatio() >= targetThroughput))
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
