package shadow

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
)

func TestNextFactor(t *testing.T) {
	busy := func(share, cores float64) window { return window{idle: 0.02, share: share, cores: cores} }
	tests := []struct {
		name string
		f    float64
		w    window
		want float64
	}{
		{"idle machine recovers", 0.25, window{idle: 0.5, share: 0.9, cores: 1}, 0.375},
		{"idle machine stays at 1", 1, window{idle: 0.5, share: 0.9, cores: 1}, 1},
		{"negligible work rises", 0.25, busy(0.9, 0.01), 0.3125},
		{"over budget scales down", 1, busy(0.16, 0.3), 0.625},
		{"far over budget at most halves", 1, busy(0.9, 0.5), 0.5},
		{"under budget scales up at most 25%", 0.4, busy(0.02, 0.1), 0.5},
		{"at budget holds", 0.4, busy(0.1, 0.2), 0.4},
		{"floor", 0.011, busy(0.9, 0.5), minAdmit},
		{"no shadow work while saturated holds", 0.2, window{idle: 0.01, share: 0, cores: 0}, 0.2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.InDelta(t, tc.want, nextFactor(tc.f, tc.w, 0.1), 1e-9)
		})
	}
}

// fakeLoad is a LoadReader the test advances: each reading adds the given
// machine idle share and process CPU.
type fakeLoad struct {
	idle, total uint64
	cpu         time.Duration
	err         error
}

func (l *fakeLoad) advance(idleShare float64, cpu time.Duration) {
	l.total += 1000
	l.idle += uint64(idleShare * 1000)
	l.cpu += cpu
}

func (l *fakeLoad) read() (Load, error) {
	return Load{MachineIdle: l.idle, MachineTotal: l.total, ProcessCPU: l.cpu}, l.err
}

func TestCPUGuardShedsWhenSaturatedAndRecovers(t *testing.T) {
	l := &fakeLoad{}
	g := newCPUGuard(0.1, l.read)
	require.True(t, g.enabled())
	at := time.Unix(1000, 0)
	step := 250 * time.Millisecond
	tick := func(idle float64, cpu, work time.Duration) {
		l.advance(idle, cpu)
		g.spent(work)
		at = at.Add(step)
		g.tick(at)
	}
	tick(0, 200*time.Millisecond, 0) // primes
	assert.Equal(t, 1.0, g.admit())

	// Saturated, shadow work 40% of the process's CPU: the factor falls
	// until the work it lets through is within budget.
	for range 20 {
		work := time.Duration(float64(100*time.Millisecond) * g.admit())
		tick(0.01, 250*time.Millisecond, work)
	}
	share := 0.4 * g.admit()
	assert.InDelta(t, 0.1, share, 0.03, "settles near the budget (factor %v)", g.admit())

	// Idle CPU again: back to 1 within a few ticks.
	for range 12 {
		tick(0.6, 100*time.Millisecond, 20*time.Millisecond)
	}
	assert.Equal(t, 1.0, g.admit())
}

func TestCPUGuardOpensWhenLoadCannotBeRead(t *testing.T) {
	l := &fakeLoad{}
	g := newCPUGuard(0.1, l.read)
	at := time.Unix(1000, 0)
	for range 5 {
		l.advance(0, 250*time.Millisecond)
		g.spent(200 * time.Millisecond)
		at = at.Add(250 * time.Millisecond)
		g.tick(at)
	}
	require.Less(t, g.admit(), 1.0)
	l.err = errors.New("unreadable")
	g.tick(at.Add(time.Second))
	assert.Equal(t, 1.0, g.admit())
}

func TestCPUGuardDisabled(t *testing.T) {
	assert.False(t, newCPUGuard(1, (&fakeLoad{}).read).enabled(), "budget 1 never sheds")
	assert.False(t, newCPUGuard(0.1, nil).enabled(), "no reader never sheds")
}

// TestWantsShedsByTheGuardFactor: with the factor at 0.25, a quarter of
// the sampled requests are shadowed and the rest counted as shed; the
// route's sample_rate still applies first.
func TestWantsShedsByTheGuardFactor(t *testing.T) {
	half := 0.5
	var n atomic.Uint64
	e, _, _ := newTestEngine(t, engineConfig{
		routes: []config.Route{{Name: "qa"}, {Name: "half", Shadow: config.RouteShadow{SampleRate: &half}}},
		rand: func() float64 { // 0, 0.01, ... 0.99, 0, ...
			return float64(n.Add(1)%100) / 100
		},
	})
	e.guard.set(0.25)
	wanted := 0
	for range 1000 {
		if e.Wants("qa", "GET") {
			wanted++
		}
	}
	assert.Equal(t, 250, wanted)
	assert.Equal(t, 750.0, counterValue(t, e.metrics.shed.WithLabelValues("qa")))

	wanted = 0
	for range 1000 {
		if e.Wants("half", "GET") {
			wanted++
		}
	}
	assert.Equal(t, 130, wanted, "r < 0.5×0.25 of 0..0.99 → 13 per 100")
	assert.Equal(t, 370.0, counterValue(t, e.metrics.shed.WithLabelValues("half")), "sampled (50 per 100) minus shadowed")

	e.guard.set(1)
	assert.True(t, e.Wants("qa", "GET"))
}

func TestEngineRejectsCPUBudgetOutOfRange(t *testing.T) {
	for _, b := range []float64{-0.1, 1.5} {
		_, err := NewEngine(Options{Store: NewMemoryStore(MemoryStoreOptions{}), Shadow: config.Shadow{CPUBudget: b}})
		assert.ErrorContains(t, err, "cpu_budget", "budget %v", b)
	}
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		idle, total uint64
		err         string
	}{
		{"linux", "cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 50 2 25 400 10 0 1 1 0 0\n", 820, 981, ""},
		{"old kernel, four fields", "cpu 10 0 10 80\n", 80, 100, ""},
		{"empty", "", 0, 0, "no aggregate cpu line"},
		{"per-cpu line first", "cpu0 1 2 3 4 5\n", 0, 0, "no aggregate cpu line"},
		{"too few fields", "cpu 1 2 3\n", 0, 0, "no aggregate cpu line"},
		{"negative", "cpu -1 2 3 4 5\n", 0, 0, "field 1"},
		{"not a number", "cpu 1 2 x 4 5\n", 0, 0, "field 3"},
		{"overflow", "cpu 18446744073709551615 1 0 0 0\n", 0, 0, "overflow"},
		{"too large", "cpu 99999999999999999999 1 0 0 0\n", 0, 0, "field 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			idle, total, err := parseProcStat([]byte(tc.in))
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.idle, idle)
			assert.Equal(t, tc.total, total)
		})
	}
}

func FuzzParseProcStat(f *testing.F) {
	f.Add([]byte("cpu  100 5 50 800 20 1 2 3 0 0\n"))
	f.Add([]byte("cpu 1 2 3 4\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		idle, total, err := parseProcStat(data)
		if err == nil && idle > total {
			t.Fatalf("idle %d > total %d", idle, total)
		}
	})
}

// TestQueuedCopiesShedWhenTheGuardLowers: comparisons queued at factor 1
// are shed by the workers with the odds of the factor when they run, and
// are not recorded as results.
func TestQueuedCopiesShedWhenTheGuardLowers(t *testing.T) {
	legacy := newBackend(t, jsonHandler(`{"ok":true}`))
	newer := newBackend(t, jsonHandler(`{"ok":true}`))
	var n atomic.Uint64
	e, mem, _ := newTestEngine(t, engineConfig{legacy: legacy.URL, newURL: newer.URL,
		rand: func() float64 { return float64(n.Add(1)%10) / 10 }})
	front := servingPath(t, e, mustURL(t, legacy.URL), "qa", "org-1", BackendLegacy)
	for range 20 {
		resp, _ := do(t, front.Client(), "GET", front.URL+"/api/qa", nil)
		require.Equal(t, 200, resp.StatusCode)
	}
	e.guard.set(0.5) // the machine got busy while they waited
	require.NoError(t, e.Start(context.Background()))
	require.Eventually(t, func() bool {
		return counterValue(t, e.metrics.shed.WithLabelValues("qa")) == 10
	}, 10*time.Second, 5*time.Millisecond)
	sum := waitSummary(t, mem, "qa", 10)
	shutdown(t, e)
	assert.Equal(t, int64(10), sum.Comparisons(), "the shed half is not a result")
	assert.Len(t, newer.requests(), 10)
}
