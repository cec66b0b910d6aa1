//go:build linux

package shadow

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// readLoad reads the machine's CPU counters from /proc/stat and the
// process's CPU time from getrusage. The machine counters are those of the
// host (or VM): in a container limited by a CPU quota, throttling is not
// seen as saturation.
func readLoad() (Load, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Load{}, fmt.Errorf("read /proc/stat: %w", err)
	}
	idle, total, err := parseProcStat(data)
	if err != nil {
		return Load{}, err
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Load{}, fmt.Errorf("getrusage: %w", err)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return Load{MachineIdle: idle, MachineTotal: total, ProcessCPU: cpu}, nil
}

// defaultLoadReader is the reader the engine uses when Options leave it nil.
func defaultLoadReader() LoadReader { return readLoad }
