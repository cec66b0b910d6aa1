package shadow

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// parseProcStat reads the aggregate "cpu" line of /proc/stat: idle is idle
// + iowait, total the sum of user, nice, system, idle, iowait, irq,
// softirq and steal (guest time is already inside user and nice).
func parseProcStat(data []byte) (idle, total uint64, err error) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := bytes.Fields(line)
	if len(fields) < 5 || string(fields[0]) != "cpu" {
		return 0, 0, errors.New("/proc/stat: no aggregate cpu line")
	}
	var v [8]uint64
	for i := 1; i < len(fields) && i <= len(v); i++ {
		n, err := strconv.ParseUint(string(fields[i]), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: field %d: %w", i, err)
		}
		v[i-1] = n
	}
	for _, n := range v {
		if total+n < total {
			return 0, 0, errors.New("/proc/stat: counters overflow")
		}
		total += n
	}
	return v[3] + v[4], total, nil
}
