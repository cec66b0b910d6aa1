package shadow

import (
	"math"
	"sync/atomic"
	"time"
)

// cpuGuard keeps shadow work within a share of the proxy's CPU while the
// machine has no idle CPU left (SPEC §10: the client is never affected by
// the shadow path). On a saturated machine every microsecond a worker
// spends on a copy is taken from serving; with CPU to spare, shadowing
// costs the clients nothing and the guard stays out of the way.
//
// Every tick it compares the shadow work done since the last tick with the
// process's CPU time. When the machine is saturated and the share is over
// the budget, it lowers the admission factor in proportion; below the
// budget, or with idle CPU, it raises it again. Wants multiplies a route's
// sample_rate by the factor: a request the factor turns away is "shed" —
// counted, not recorded as a comparison, so readiness is unaffected.
//
// Shadow work is measured as a worker's wall time on a comparison minus the
// wait for the other backend's first answer byte: an upper bound of the
// worker's CPU (it also holds scheduling delays). It leaves out the tee on
// the serving path, the garbage collection of the copies and the wake-ups
// they cause, which in make bench make it about a quarter of a
// comparison's whole cost: the default budget accounts for that
// (config.DefaultShadowCPUBudget).
type cpuGuard struct {
	budget float64
	read   LoadReader
	factor atomic.Uint64 // math.Float64bits of the admission factor
	work   atomic.Int64  // ns of shadow work since the last tick
	last   Load
	lastAt time.Time
	primed bool
	share  float64 // smoothed shadow share of the process's CPU
}

// Load is a reading of cumulative CPU counters.
type Load struct {
	// MachineIdle and MachineTotal are the machine's idle (idle + iowait)
	// and total CPU time, in any unit (Linux: clock ticks of /proc/stat).
	MachineIdle, MachineTotal uint64
	// ProcessCPU is this process's user + system CPU time.
	ProcessCPU time.Duration
}

// LoadReader reads the CPU counters; an error leaves the guard open.
type LoadReader func() (Load, error)

const (
	// saturatedIdle: below this share of idle machine CPU, shadow work
	// competes with serving.
	saturatedIdle = 0.10
	// minAdmit keeps a trickle of comparisons under sustained saturation,
	// so reports still grow.
	minAdmit = 0.01
	// minShedWork: shadow work below this share of one core is left alone
	// whatever the budget says: a few comparisons a second cannot be what
	// starves serving, and shedding them would only thin the reports.
	minShedWork = 0.05
	// guardTick is how often the guard adjusts.
	guardTick = 250 * time.Millisecond
)

// newCPUGuard returns a guard holding shadow work to budget (a share of
// the process's CPU in (0, 1]); budget 1 or a nil reader never sheds.
func newCPUGuard(budget float64, read LoadReader) *cpuGuard {
	g := &cpuGuard{budget: budget, read: read}
	g.factor.Store(math.Float64bits(1))
	return g
}

// enabled reports whether the guard can ever shed.
func (g *cpuGuard) enabled() bool { return g.read != nil && g.budget < 1 }

// admit is the admission factor in [minAdmit, 1].
func (g *cpuGuard) admit() float64 { return math.Float64frombits(g.factor.Load()) }

// spent adds shadow work.
func (g *cpuGuard) spent(d time.Duration) {
	if d > 0 {
		g.work.Add(int64(d))
	}
}

// tick adjusts the factor from the work and CPU since the last tick. It is
// called from one goroutine.
func (g *cpuGuard) tick(now time.Time) {
	work := time.Duration(g.work.Swap(0))
	l, err := g.read()
	if err != nil {
		g.set(1) // cannot tell: never shed blindly
		g.primed = false
		return
	}
	prev, prevAt, primed := g.last, g.lastAt, g.primed
	g.last, g.lastAt, g.primed = l, now, true
	if !primed || !now.After(prevAt) || l.MachineTotal <= prev.MachineTotal || l.ProcessCPU <= prev.ProcessCPU {
		return
	}
	share := float64(work) / float64(l.ProcessCPU-prev.ProcessCPU)
	switch {
	case work > 0 && g.share == 0:
		g.share = share
	case work > 0:
		// Half of each new window: one 250 ms window is a noisy sample
		// (a GC cycle, a burst), and the factor should not swing with it.
		g.share = (g.share + share) / 2
	}
	w := window{
		idle:  float64(l.MachineIdle-prev.MachineIdle) / float64(l.MachineTotal-prev.MachineTotal),
		share: g.share,
		cores: float64(work) / float64(now.Sub(prevAt)),
	}
	if work <= 0 {
		w.share = 0 // no shadow traffic: nextFactor holds
	}
	g.set(nextFactor(g.admit(), w, g.budget))
}

// window is what one tick observed.
type window struct {
	idle  float64 // share of the machine's CPU left idle
	share float64 // shadow work ÷ the process's CPU time
	cores float64 // shadow work ÷ wall time (cores' worth)
}

// nextFactor is the control law:
//   - idle CPU: rise by half towards 1 (from the floor to 1 in under 3 s;
//     faster would admit a burst on every brief lull);
//   - saturated, no shadow traffic at all: hold (the factor found last is
//     the best guess when traffic returns; recovering to 1 meanwhile would
//     let a burst of shadow work through first);
//   - next to no shadow work: rise by 25 %;
//   - otherwise: scale by budget/share, at most halving and at most
//     +25 % per step, so it settles near the budget without oscillating
//     wildly.
func nextFactor(f float64, w window, budget float64) float64 {
	switch {
	case w.idle >= saturatedIdle:
		f *= 1.5
	case w.share <= 0:
		// No shadow work: hold.
	case w.cores < minShedWork:
		f *= 1.25
	default:
		f *= min(max(budget/w.share, 0.5), 1.25)
	}
	return min(max(f, minAdmit), 1)
}

func (g *cpuGuard) set(f float64) { g.factor.Store(math.Float64bits(f)) }
