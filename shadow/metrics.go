package shadow

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric labels are bounded: route (the configured route names, plus
// "unknown"), outcome, reason and backend come from closed sets. Org and
// user never appear (SPEC §11).
type metrics struct {
	comparisons     *prometheus.CounterVec // route, outcome
	reasons         *prometheus.CounterVec // route, outcome, reason
	shadowDuration  *prometheus.HistogramVec
	noiseLearned    *prometheus.CounterVec // route
	noiseSuppressed *prometheus.CounterVec // route
	probeErrors     *prometheus.CounterVec // route
	recorderDropped prometheus.Counter
	recorderFlushes *prometheus.CounterVec // result
	recorderBatch   prometheus.Histogram
	retentionRuns   *prometheus.CounterVec // result
	shed            *prometheus.CounterVec // route
}

// routeMetrics are one route's counters, resolved once so the serving path
// (Submit) does no label lookups.
type routeMetrics struct {
	outcome map[Outcome]prometheus.Counter
	reason  map[Outcome]map[Reason]prometheus.Counter
}

// dropReasons and errorReasons are the closed sets of reasons.
var (
	dropReasons  = [...]Reason{ReasonQueueFull, ReasonMemory, ReasonTooLarge, ReasonIncomplete, ReasonUpgrade, ReasonFallback, ReasonShutdown, ReasonNotServed, ReasonNoBackend, ReasonInvalid, ReasonKillSwitch}
	errorReasons = [...]Reason{ReasonConnect, ReasonTimeout, ReasonReset, ReasonStatus5xx, ReasonTooLarge, ReasonTransport}
)

func newMetrics(reg prometheus.Registerer, queueDepth, queuedBytes, admission func() float64) (*metrics, error) {
	m := &metrics{
		comparisons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strangler", Subsystem: "shadow", Name: "comparisons_total",
			Help: "Sampled exchanges by route and outcome (match, diff, candidate_error, dropped).",
		}, []string{"route", "outcome"}),
		reasons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strangler", Subsystem: "shadow", Name: "outcome_reasons_total",
			Help: "Dropped comparisons and candidate errors by route, outcome and reason.",
		}, []string{"route", "outcome", "reason"}),
		shadowDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "strangler", Subsystem: "shadow", Name: "request_duration_seconds",
			Help:    "Latency of shadow copies (and noise probes) to the end of the answer, by route and backend.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"route", "backend"}),
		noiseLearned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strangler", Subsystem: "shadow", Name: "noise_paths_learned_total",
			Help: "Paths learned as noise by the noise probe, by route.",
		}, []string{"route"}),
		noiseSuppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strangler", Subsystem: "shadow", Name: "noise_suppressed_total",
			Help: "Differences not counted because their path was learned as noise, by route.",
		}, []string{"route"}),
		probeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strangler", Subsystem: "shadow", Name: "noise_probe_errors_total",
			Help: "Noise probes that failed (the comparison still ran), by route.",
		}, []string{"route"}),
		recorderDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "strangler", Subsystem: "shadow", Name: "recorder_dropped_total",
			Help: "Results lost before reaching the store (recorder buffer full, or the store failed a batch).",
		}),
		recorderFlushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strangler", Subsystem: "shadow", Name: "recorder_flushes_total",
			Help: "Batches written to the store, by result (ok, error).",
		}, []string{"result"}),
		recorderBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "strangler", Subsystem: "shadow", Name: "recorder_batch_results",
			Help:    "Results per batch written to the store.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		retentionRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strangler", Subsystem: "shadow", Name: "retention_runs_total",
			Help: "Retention deletions, by result (ok, error).",
		}, []string{"result"}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strangler", Subsystem: "shadow", Name: "shed_total",
			Help: "Sampled requests not shadowed because the machine was saturated and shadow work was over shadow.cpu_budget, by route.",
		}, []string{"route"}),
	}
	collectors := []prometheus.Collector{
		m.comparisons, m.reasons, m.shadowDuration, m.noiseLearned, m.noiseSuppressed, m.probeErrors,
		m.recorderDropped, m.recorderFlushes, m.recorderBatch, m.retentionRuns, m.shed,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "strangler", Subsystem: "shadow", Name: "admission_factor",
			Help: "Share of sampled requests the CPU guard lets through (1: no shedding).",
		}, admission),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "strangler", Subsystem: "shadow", Name: "queue_depth",
			Help: "Comparisons waiting for a worker.",
		}, queueDepth),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "strangler", Subsystem: "shadow", Name: "queued_bytes",
			Help: "Bytes of bodies held by queued and running comparisons (bounded by the byte budget).",
		}, queuedBytes),
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, errors.New("register shadow metrics: already registered (one Engine per registry)")
			}
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) forRoute(route string) *routeMetrics {
	rm := &routeMetrics{
		outcome: make(map[Outcome]prometheus.Counter, len(Outcomes)),
		reason:  make(map[Outcome]map[Reason]prometheus.Counter, 2),
	}
	for _, o := range Outcomes {
		rm.outcome[o] = m.comparisons.WithLabelValues(route, string(o))
	}
	rm.reason[OutcomeDropped] = make(map[Reason]prometheus.Counter, len(dropReasons))
	for _, r := range dropReasons {
		rm.reason[OutcomeDropped][r] = m.reasons.WithLabelValues(route, string(OutcomeDropped), string(r))
	}
	rm.reason[OutcomeCandidateError] = make(map[Reason]prometheus.Counter, len(errorReasons))
	for _, r := range errorReasons {
		rm.reason[OutcomeCandidateError][r] = m.reasons.WithLabelValues(route, string(OutcomeCandidateError), string(r))
	}
	return rm
}

// count records one outcome.
func (rm *routeMetrics) count(o Outcome, r Reason) {
	rm.outcome[o].Inc()
	if r != "" {
		if c, ok := rm.reason[o][r]; ok {
			c.Inc()
		}
	}
}
