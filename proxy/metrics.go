package proxy

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics. Every label has a bounded set of values fixed by the
// configuration: route (route names, public endpoint patterns, "none"),
// backend, mode, status class and outcome. Organizations and users are never
// labels: their number is unbounded.
//
// Children are resolved once per label combination and cached in
// per-route arrays of atomic pointers, so recording a request neither
// allocates nor hashes label values.

// outcome is how a request ended; its label values are bounded.
type outcome uint8

const (
	outcomeOK outcome = iota
	outcomeClientClosed
	outcomeUpstreamUnavailable
	outcomeUpstreamTimeout
	outcomeUpstreamAborted
	outcomeNotFound
	outcomeBadRequest
	outcomeUnauthenticated
	outcomeForbidden
	outcomeOrgRequired
	outcomePayloadTooLarge
	outcomeInternal
	outcomeOtherError
	numOutcomes
)

var outcomeNames = [numOutcomes]string{
	"ok", "client_closed", CodeUpstreamUnavailable, CodeUpstreamTimeout,
	"upstream_aborted", CodeNotFound, CodeBadRequest, CodeUnauthenticated,
	CodeForbidden, CodeOrgRequired, CodePayloadTooLarge, CodeInternal, "error",
}

func (o outcome) String() string { return outcomeNames[o] }

// outcomeOf maps an error code to its outcome; codes of hooks outside
// the known set share "error" to keep the label bounded.
func outcomeOf(code string) outcome {
	for i, n := range outcomeNames {
		if n == code {
			return outcome(i)
		}
	}
	return outcomeOtherError
}

// Label value sets.
var (
	backendNames = [...]string{"legacy", "new", "proxy", "none"}
	modeNames    = [...]string{"legacy", "shadow", "canary", "new", "none"}
	classNames   = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}
)

const (
	numBackends = len(backendNames)
	numModes    = len(modeNames)
	numClasses  = len(classNames)
)

func backendIndex(b string) int {
	switch b {
	case "legacy":
		return 0
	case "new":
		return 1
	case "proxy":
		return 2
	}
	return 3
}

func modeIndex(m Mode) int {
	switch m {
	case ModeLegacy:
		return 0
	case ModeShadow:
		return 1
	case ModeCanary:
		return 2
	case ModeNew:
		return 3
	}
	return 4
}

func classIndex(status int) int {
	c := status/100 - 1
	if c < 0 {
		return 0
	}
	if c >= numClasses {
		return numClasses - 1
	}
	return c
}

// metrics are the proxy's collectors.
type metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	respBytes *prometheus.CounterVec
	inflight  prometheus.Gauge
	upgraded  prometheus.Gauge
	fallbacks *prometheus.CounterVec
	skipped   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strangler", Subsystem: "proxy", Name: "requests_total",
			Help: "Requests handled by the public listener, by route, serving backend, mode, status class and outcome.",
		}, []string{"route", "backend", "mode", "class", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "strangler", Subsystem: "proxy", Name: "request_duration_seconds",
			Help: "Time from the request line to the end of the response, by route, serving backend and mode.",
			// From the proxy's own overhead (sub-millisecond) to long
			// agent calls and streams.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "backend", "mode"}),
		respBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strangler", Subsystem: "proxy", Name: "response_bytes_total",
			Help: "Response body bytes written to clients, by route and serving backend.",
		}, []string{"route", "backend"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "strangler", Subsystem: "proxy", Name: "requests_in_flight",
			Help: "Requests being handled by the public listener, upgraded connections included.",
		}),
		upgraded: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "strangler", Subsystem: "proxy", Name: "upgraded_connections",
			Help: "Open connections switched to another protocol (WebSocket).",
		}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strangler", Subsystem: "proxy", Name: "mode_fallbacks_total",
			Help: "Requests served by legacy although the decided mode said otherwise, by route and reason.",
		}, []string{"route", "reason"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strangler", Subsystem: "proxy", Name: "fallbacks_skipped_total",
			Help: "New-backend failures that legacy did not take over (the method may not be retried, or the body could not be replayed), by route and reason.",
		}, []string{"route", "reason"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.respBytes, m.inflight, m.upgraded, m.fallbacks, m.skipped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register proxy metrics: %w", err)
		}
	}
	return m, nil
}

// routeMetrics caches the children of one route label.
type routeMetrics struct {
	label     string
	requests  [numBackends * numModes * numClasses * int(numOutcomes)]atomic.Pointer[counterRef]
	durations [numBackends * numModes]atomic.Pointer[observerRef]
	bytes     [numBackends]atomic.Pointer[counterRef]
}

type counterRef struct{ prometheus.Counter }
type observerRef struct{ prometheus.Observer }

func newRouteMetrics(label string) *routeMetrics { return &routeMetrics{label: label} }

// observe records one finished request.
func (m *metrics) observe(rm *routeMetrics, backend string, mode Mode, status int, o outcome, bytes int64, d time.Duration) {
	b, md, c := backendIndex(backend), modeIndex(mode), classIndex(status)

	i := ((b*numModes+md)*numClasses+c)*int(numOutcomes) + int(o)
	cr := rm.requests[i].Load()
	if cr == nil {
		cr = &counterRef{m.requests.WithLabelValues(rm.label, backendNames[b], modeNames[md], classNames[c], o.String())}
		rm.requests[i].Store(cr)
	}
	cr.Inc()

	j := b*numModes + md
	or := rm.durations[j].Load()
	if or == nil {
		or = &observerRef{m.duration.WithLabelValues(rm.label, backendNames[b], modeNames[md])}
		rm.durations[j].Store(or)
	}
	or.Observe(d.Seconds())

	if bytes > 0 {
		br := rm.bytes[b].Load()
		if br == nil {
			br = &counterRef{m.respBytes.WithLabelValues(rm.label, backendNames[b])}
			rm.bytes[b].Store(br)
		}
		br.Add(float64(bytes))
	}
}

// fallback counts a request served by legacy against the decided mode.
func (m *metrics) fallback(route, reason string) {
	m.fallbacks.WithLabelValues(route, reason).Inc()
}

// fallbackSkipped counts a new-backend failure legacy could not take over.
func (m *metrics) fallbackSkipped(route, reason string) {
	m.skipped.WithLabelValues(route, reason).Inc()
}
