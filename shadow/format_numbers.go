package shadow

import (
	"math"
	"strconv"
	"time"
)

// count formats an integer with thousands separators: 1234567 → "1,234,567".
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// counted formats a count with its noun: "1 diff", "1,234 diffs".
func counted(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return count(n) + " " + many
}

// percent formats a rate as a percentage with two decimals, with more
// where two would round a rate that is not 0 or 1 to "0.00%" or "100.00%":
// a report must never show a perfect score that is not one.
func percent(v float64) string { return percentVs(v, v) }

// percentVs formats v like percent, with as many more decimals (up to six)
// as it takes to tell v apart from other: a match rate just below its
// threshold must not print as the threshold itself.
func percentVs(v, other float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	p := v * 100
	var s string
	for prec := 2; prec <= 6; prec++ {
		s = strconv.FormatFloat(p, 'f', prec, 64)
		if v != other && s == strconv.FormatFloat(other*100, 'f', prec, 64) {
			continue
		}
		if v != 0 && v != 1 && (s == strconv.FormatFloat(0, 'f', prec, 64) || s == strconv.FormatFloat(100, 'f', prec, 64)) {
			continue
		}
		break
	}
	return s + "%"
}

// latency formats a latency for people: 850µs, 4.2ms, 12ms, 1.25s.
func latency(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < 10*time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
	case d < time.Second:
		return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
}

// millis converts a latency to milliseconds with microsecond precision, for
// JSON.
func millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
