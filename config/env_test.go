package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"HOST": "db.internal", "PORT": "5432", "EMPTY": "", "WEIRD": "${HOST}"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name, in   string
		allowEmpty bool
		want       string
		unset, bad int
	}{
		{name: "no reference", in: "plain $HOME value", want: "plain $HOME value"},
		{name: "one", in: "${HOST}", want: "db.internal"},
		{name: "several inline", in: "postgres://${HOST}:${PORT}/x", want: "postgres://db.internal:5432/x"},
		{name: "default used when unset", in: "${NOPE:-fallback}", want: "fallback"},
		{name: "default used when empty", in: "${EMPTY:-fallback}", want: "fallback"},
		{name: "empty default", in: "a${NOPE:-}b", want: "ab"},
		{name: "default with colon and slash", in: "${NOPE:-http://x:1/}", want: "http://x:1/"},
		{name: "value not re-expanded", in: "${WEIRD}", want: "${HOST}"},
		{name: "escaped", in: "$${HOST}", want: "${HOST}"},
		{name: "escaped then real", in: "$${HOST}${PORT}", want: "${HOST}5432"},
		{name: "unset is a problem", in: "${NOPE}", want: "", bad: 1},
		{name: "empty is a problem", in: "${EMPTY}", want: "", bad: 1},
		{name: "unset allowed empty", in: "${NOPE}", allowEmpty: true, want: "", unset: 1},
		{name: "unterminated", in: "x${HOST", bad: 1, want: "x${HOST"},
		{name: "invalid name", in: "${1X}", bad: 1},
		{name: "name with dash", in: "${A-B}", bad: 1},
		{name: "empty name", in: "${}", bad: 1},
		{name: "two bad", in: "${}${NOPE}", bad: 2},
		{name: "dollar alone", in: "cost $5 {x}", want: "cost $5 {x}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, unset, bad := expandEnv(tc.in, getenv, tc.allowEmpty)
			assert.Len(t, bad, tc.bad, "bad: %v", bad)
			assert.Len(t, unset, tc.unset)
			if tc.bad == 0 || tc.want != "" {
				assert.Equal(t, tc.want, got)
			}
		})
	}
}
