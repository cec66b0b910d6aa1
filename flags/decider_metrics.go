package flags

import (
	"sync/atomic"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Fallback codes beyond the OpenFeature error codes.
const (
	// codeInvalidVariant: the flag resolved to something that is not a mode.
	codeInvalidVariant openfeature.ErrorCode = "INVALID_VARIANT"
	// codeOther: any error code this package does not know.
	codeOther openfeature.ErrorCode = "OTHER"
)

// fallbackCodes is the closed label set of the fallback counter.
var fallbackCodes = [...]openfeature.ErrorCode{
	openfeature.ProviderNotReadyCode,
	openfeature.ProviderFatalCode,
	openfeature.FlagNotFoundCode,
	openfeature.ParseErrorCode,
	openfeature.TypeMismatchCode,
	openfeature.TargetingKeyMissingCode,
	openfeature.InvalidContextCode,
	openfeature.GeneralCode,
	codeInvalidVariant,
	codeOther,
}

// Which flag a fallback came from.
const (
	flagKindRoute = iota
	flagKindKillSwitch
	flagKinds
)

var flagKindNames = [flagKinds]string{"route", "kill_switch"}

// deciderMetrics are the Decider's counters, resolved once so the hot
// path only does atomic adds. Labels are bounded: mode, flag kind, code —
// never organization or user (SPEC §11).
type deciderMetrics struct {
	decisions [modeCount]prometheus.Counter
	killed    prometheus.Counter
	fallbacks [flagKinds]map[openfeature.ErrorCode]prometheus.Counter

	decisionsVec *prometheus.CounterVec
	fallbackVec  *prometheus.CounterVec
}

func newDeciderMetrics() *deciderMetrics {
	m := &deciderMetrics{
		decisionsVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_flag_decisions_total",
			Help: "Mode decisions by resulting mode (fallbacks and kill switch included).",
		}, []string{"mode"}),
		fallbackVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_flag_fallbacks_total",
			Help: "Decisions that fell back to legacy because a flag could not be evaluated, by flag kind and error code.",
		}, []string{"flag", "code"}),
	}
	m.killed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "strangler_flag_kill_switch_decisions_total",
		Help: "Decisions sent to legacy because the kill switch strangler-enabled is off.",
	})
	for i := range modeCount {
		m.decisions[i] = m.decisionsVec.WithLabelValues(modeNames[i])
	}
	for k := range flagKinds {
		m.fallbacks[k] = make(map[openfeature.ErrorCode]prometheus.Counter, len(fallbackCodes))
		for _, c := range fallbackCodes {
			m.fallbacks[k][c] = m.fallbackVec.WithLabelValues(flagKindNames[k], string(c))
		}
	}
	return m
}

// unregister removes the metrics from reg.
func (m *deciderMetrics) unregister(reg prometheus.Registerer) {
	for _, c := range []prometheus.Collector{m.decisionsVec, m.fallbackVec, m.killed} {
		reg.Unregister(c)
	}
}

// register adds the metrics to reg, all or none.
func (m *deciderMetrics) register(reg prometheus.Registerer) error {
	done := make([]prometheus.Collector, 0, 3)
	for _, c := range []prometheus.Collector{m.decisionsVec, m.fallbackVec, m.killed} {
		if err := reg.Register(c); err != nil {
			for _, r := range done {
				reg.Unregister(r)
			}
			return err
		}
		done = append(done, c)
	}
	return nil
}

func (m *deciderMetrics) fallback(kind int, code openfeature.ErrorCode) {
	c, ok := m.fallbacks[kind][code]
	if !ok {
		c = m.fallbacks[kind][codeOther]
	}
	c.Inc()
}

// logLimiter lets one log line per (flag kind, code) through per interval,
// so a provider outage does not turn every request into a log line; the
// counter has the exact numbers.
type logLimiter struct {
	interval time.Duration
	now      func() time.Time
	last     [flagKinds][len(fallbackCodes)]atomic.Int64
	dropped  [flagKinds][len(fallbackCodes)]atomic.Int64
}

// allow reports whether to log now and how many lines were suppressed
// since the last one.
func (l *logLimiter) allow(kind int, code openfeature.ErrorCode) (bool, int64) {
	i := len(fallbackCodes) - 1
	for j, c := range fallbackCodes {
		if c == code {
			i = j
			break
		}
	}
	now := l.now().UnixNano()
	last := l.last[kind][i].Load()
	if last != 0 && now-last < int64(l.interval) {
		l.dropped[kind][i].Add(1)
		return false, 0
	}
	if !l.last[kind][i].CompareAndSwap(last, now) {
		l.dropped[kind][i].Add(1)
		return false, 0
	}
	return true, l.dropped[kind][i].Swap(0)
}

// logFallback logs a fallback through the limiter.
func (d *Decider) logFallback(kind int, code openfeature.ErrorCode, in Request, flag, msg string) {
	ok, suppressed := d.limiter.allow(kind, code)
	if !ok {
		return
	}
	d.log.Warn("flag evaluation failed: serving legacy",
		zap.String("flag", flag), zap.String("code", string(code)), zap.String("error", msg),
		zap.String("route", in.Route), zap.String("org_id", in.OrgID),
		zap.Int64("suppressed_since_last", suppressed))
}
