package shadow_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/shadow"
)

var allParams = []string{shadow.ParamOrg, shadow.ParamRoute, shadow.ParamSince, shadow.ParamUntil, shadow.ParamStatus, shadow.ParamLimit, shadow.ParamTop}

func TestParseTimeBound(t *testing.T) {
	ok := []struct {
		in   string
		want time.Time
	}{
		{"24h", fxNow.Add(-24 * time.Hour)},
		{"90m", fxNow.Add(-90 * time.Minute)},
		{"1h30m", fxNow.Add(-90 * time.Minute)},
		{"1.5h", fxNow.Add(-90 * time.Minute)},
		{"7d", fxNow.Add(-7 * 24 * time.Hour)},
		{"1d", fxNow.Add(-24 * time.Hour)},
		{"3650d", fxNow.Add(-3650 * 24 * time.Hour)},
		{"2026-03-09T10:00:00Z", time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)},
		{"2026-03-09T12:00:00+02:00", time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)},
		{"2026-03-09T10:00:00.5Z", time.Date(2026, 3, 9, 10, 0, 0, 5e8, time.UTC)},
		{"2026-03-09", time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range ok {
		t.Run(tc.in, func(t *testing.T) {
			got, err := shadow.ParseTimeBound(tc.in, fxNow)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, time.UTC, got.Location())
		})
	}
	hostile := []string{
		"", "0", "0s", "-24h", "-1d", "0d", "3651d", "99999d", "1d12h", "d", "7D", "24", "1e3h",
		"9223372036854775807ns1h", "1000000h", "yesterday", "now", "2026-13-01", "2026-02-30",
		"1999-12-31", "1999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-03-09 10:00:00",
		"2026-03-09T10:00:00", " 24h", "24h ", "24h\x00", "２４h", strings.Repeat("9", 300) + "h",
		"%32%34h", "24h;drop table", "\u202e24h",
	}
	for _, in := range hostile {
		t.Run("hostile "+in, func(t *testing.T) {
			_, err := shadow.ParseTimeBound(in, fxNow)
			require.Error(t, err)
			assert.True(t, utf8.ValidString(err.Error()))
			assert.LessOrEqual(t, len(err.Error()), 200, "errors quote a bounded part of the input")
		})
	}
}

func TestParseQuery(t *testing.T) {
	q, err := shadow.ParseQuery(url.Values{}, allParams, fxNow)
	require.NoError(t, err)
	assert.Equal(t, shadow.Query{Top: -1}, q, "nothing given: no filter, top unset")

	v, _ := url.ParseQuery("org=acme&route=qa&since=48h&until=2026-03-10T00:00:00Z&status=open&limit=10&top=0")
	q, err = shadow.ParseQuery(v, allParams, fxNow)
	require.NoError(t, err)
	assert.Equal(t, shadow.Query{Org: "acme", Route: "qa", Since: fxNow.Add(-48 * time.Hour),
		Until: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), Status: shadow.StatusOpen, Limit: 10, Top: 0}, q)

	hostile := []struct{ query, param string }{
		{"since=abc", "since"},
		{"until=abc", "until"},
		{"since=1h&until=2h", "since"},
		{"since=2h&since=3h", "since"},
		{"org=&route=qa", "org"},
		{"org=a%09b", "org"},
		{"org=%ff%fe", "org"},
		{"org=a%e2%80%aeb", "org"},
		{"route=" + strings.Repeat("r", 129), "route"},
		{"route=" + strings.Repeat("r", 300), "route"},
		{"status=OPEN", "status"},
		{"status=", "status"},
		{"limit=%2B5", "limit"},
		{"limit=0x10", "limit"},
		{"limit=99999999999999999999", "limit"},
		{"top=", "top"},
		{"a=1&org=acme", "a"},
		{"=1", ""},
	}
	for _, tc := range hostile {
		t.Run(tc.query, func(t *testing.T) {
			v, err := url.ParseQuery(tc.query)
			require.NoError(t, err)
			_, err = shadow.ParseQuery(v, allParams, fxNow)
			var qe *shadow.QueryError
			require.True(t, errors.As(err, &qe), "%v", err)
			assert.Equal(t, tc.param, qe.Param)
			assert.Contains(t, err.Error(), `"`+tc.param+`"`)
		})
	}

	// Parameters an endpoint does not take are refused by name.
	_, err = shadow.ParseQuery(url.Values{"limit": {"5"}}, []string{shadow.ParamOrg}, fxNow)
	assert.ErrorContains(t, err, `"limit" is not known here; known: org`)
	_, err = shadow.ParseQuery(url.Values{"x": {"5"}}, nil, fxNow)
	assert.ErrorContains(t, err, "takes no query parameters")
}

func TestValidFingerprint(t *testing.T) {
	assert.True(t, shadow.ValidFingerprint(shadow.Fingerprint("qa", nil)))
	for _, bad := range []string{"", "0123456789ABCDEF", "0123456789abcde", "0123456789abcdefa", "0123456789abcdeg", "../../etc/passwd"} {
		assert.False(t, shadow.ValidFingerprint(bad), bad)
	}
}

// FuzzParseQuery: any query string parses or fails with a *QueryError
// naming a parameter; what parses respects every bound.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "since=24h", "since=7d&until=1h", "org=acme&route=qa&status=open&limit=10&top=3",
		"since=2026-03-09T10:00:00Z", "since=2026-03-09", "limit=%2B1", "org=%00", "since=1h&since=2h", "top=-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := shadow.ParseQuery(v, allParams, fxNow)
		if err != nil {
			var qe *shadow.QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("error %v is not a QueryError", err)
			}
			if !utf8.ValidString(err.Error()) && utf8.ValidString(raw) {
				t.Fatalf("error %q is not UTF-8", err)
			}
			return
		}
		if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
			t.Fatalf("since %v not before until %v", q.Since, q.Until)
		}
		if q.Limit < 0 || q.Limit > shadow.MaxClassLimit || q.Top < -1 || q.Top > shadow.MaxTopClasses {
			t.Fatalf("out of bounds: %+v", q)
		}
		for _, s := range []string{q.Org, q.Route} {
			if len(s) > 128 || strings.ContainsAny(s, " \t\r\n\x00") || !utf8.ValidString(s) {
				t.Fatalf("bad name %q", s)
			}
		}
		for _, ts := range []time.Time{q.Since, q.Until} {
			if !ts.IsZero() && (ts.Year() < 1990 || ts.Year() > 9999) {
				t.Fatalf("time out of range: %v", ts)
			}
		}
		switch q.Status {
		case "", shadow.StatusOpen, shadow.StatusAcknowledged:
		default:
			t.Fatalf("status %q", q.Status)
		}
	})
}
