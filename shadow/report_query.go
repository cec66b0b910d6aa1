package shadow

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Query holds the query parameters of the shadow admin endpoints, parsed
// strictly: an unknown, repeated or malformed parameter is an error that
// names it (a *QueryError), so a typo never silently widens a report.
type Query struct {
	// Org is an organization id or slug, as given.
	Org string
	// Route is a route group name.
	Route string
	// Since and Until bound the period (zero: unbounded). Each is given as
	// a duration before now ("24h", "90m", "7d") or an instant (RFC 3339,
	// or a date "2026-03-10" meaning its UTC midnight).
	Since time.Time
	Until time.Time
	// Status filters classes: open or acknowledged.
	Status ClassStatus
	// Limit bounds a class listing (1..MaxClassLimit).
	Limit int
	// Top is the number of classes per org × route in a report
	// (0..MaxTopClasses); -1 when not given.
	Top int
}

// QueryError is a bad query parameter.
type QueryError struct {
	Param   string
	Message string
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("query parameter %q %s", e.Param, e.Message)
}

// Query parameter names.
const (
	ParamOrg    = "org"
	ParamRoute  = "route"
	ParamSince  = "since"
	ParamUntil  = "until"
	ParamStatus = "status"
	ParamLimit  = "limit"
	ParamTop    = "top"
)

// Limits of query parameters.
const (
	// MaxClassLimit bounds a class listing.
	MaxClassLimit = 1000
	// maxNameLen bounds org and route parameters (as the store's columns).
	maxNameLen = 128
	// maxLookback bounds a relative time: ten years.
	maxLookback = 10 * 365 * 24 * time.Hour
	// maxParamLen bounds any raw parameter value.
	maxParamLen = 256
)

var daysRe = regexp.MustCompile(`^([0-9]{1,4})d$`)

// ParseTimeBound parses a since/until value relative to now: a positive Go
// duration ("24h", "90m"), a number of days ("7d"), an RFC 3339 instant or
// a date ("2026-03-10", UTC midnight). Durations mean "that long before
// now".
func ParseTimeBound(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("is empty: give a duration such as 24h or 7d, or an RFC 3339 time")
	}
	if len(s) > maxParamLen {
		return time.Time{}, fmt.Errorf("is too long")
	}
	if m := daysRe.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		if n < 1 || time.Duration(n)*24*time.Hour > maxLookback {
			return time.Time{}, fmt.Errorf("must be from 1d to 3650d, got %q", s)
		}
		return now.Add(-time.Duration(n) * 24 * time.Hour).UTC(), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 || d > maxLookback {
			return time.Time{}, fmt.Errorf("must be a positive duration of at most 10 years, got %q", s)
		}
		return now.Add(-d).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		if t.Year() < 2000 || t.Year() > 9999 {
			return time.Time{}, fmt.Errorf("is out of range: %q", s)
		}
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if t.Year() < 2000 {
			return time.Time{}, fmt.Errorf("is out of range: %q", s)
		}
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("must be a duration such as 24h or 7d, an RFC 3339 time or a date (YYYY-MM-DD), got %q", truncateText(s, 64))
}

// ParseQuery parses v, accepting only the parameters in allowed, relative
// to now. since must be before until.
func ParseQuery(v url.Values, allowed []string, now time.Time) (Query, error) {
	q := Query{Top: -1}
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names) // report the first bad parameter deterministically
	for _, name := range names {
		vals := v[name]
		if !slices.Contains(allowed, name) {
			msg := "is not known here; known: " + strings.Join(allowed, ", ")
			if len(allowed) == 0 {
				msg = "is not known here: this endpoint takes no query parameters"
			}
			return Query{}, &QueryError{Param: truncateText(name, 64), Message: msg}
		}
		if len(vals) != 1 {
			return Query{}, &QueryError{Param: name, Message: "is given more than once"}
		}
		val := vals[0]
		if len(val) > maxParamLen {
			return Query{}, &QueryError{Param: name, Message: fmt.Sprintf("is longer than %d bytes", maxParamLen)}
		}
		var err error
		switch name {
		case ParamOrg, ParamRoute:
			err = checkName(val)
			if name == ParamOrg {
				q.Org = val
			} else {
				q.Route = val
			}
		case ParamSince:
			q.Since, err = ParseTimeBound(val, now)
		case ParamUntil:
			q.Until, err = ParseTimeBound(val, now)
		case ParamStatus:
			switch ClassStatus(val) {
			case StatusOpen, StatusAcknowledged:
				q.Status = ClassStatus(val)
			default:
				err = fmt.Errorf("must be open or acknowledged, got %q", truncateText(val, 64))
			}
		case ParamLimit:
			q.Limit, err = boundedInt(val, 1, MaxClassLimit)
		case ParamTop:
			q.Top, err = boundedInt(val, 0, MaxTopClasses)
		default:
			err = fmt.Errorf("is not supported")
		}
		if err != nil {
			return Query{}, &QueryError{Param: name, Message: err.Error()}
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return Query{}, &QueryError{Param: ParamSince, Message: fmt.Sprintf("must be before until (%s is not before %s)",
			q.Since.Format(time.RFC3339), q.Until.Format(time.RFC3339))}
	}
	return q, nil
}

// checkName accepts an org or route parameter: 1..128 bytes of printable
// UTF-8 without spaces.
func checkName(s string) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	if len(s) > maxNameLen {
		return fmt.Errorf("is longer than %d bytes", maxNameLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("is not valid UTF-8")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
		return fmt.Errorf("must not contain spaces or control characters")
	}
	return nil
}

func boundedInt(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("must be a whole number from %d to %d, got %q", lo, hi, truncateText(s, 32))
	}
	return n, nil
}

// truncateText shortens s to at most n bytes on a rune boundary, with an
// ellipsis.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// ValidFingerprint reports whether s is a fingerprint as Fingerprint makes
// them: 16 lowercase hex digits.
func ValidFingerprint(s string) bool {
	if len(s) != FingerprintLen {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
