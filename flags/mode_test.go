package flags

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMode(t *testing.T) {
	for _, c := range []struct {
		in        string
		want      Mode
		servesNew bool
		shadows   bool
	}{
		{"legacy", ModeLegacy, false, false},
		{"shadow", ModeShadow, false, true},
		{"canary", ModeCanary, true, true},
		{"new", ModeNew, true, false},
	} {
		m, err := ParseMode(c.in)
		require.NoError(t, err)
		assert.Equal(t, c.want, m)
		assert.Equal(t, c.in, m.String())
		assert.Equal(t, c.servesNew, m.ServesNew(), c.in)
		assert.Equal(t, c.shadows, m.Shadows(), c.in)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		assert.Equal(t, `"`+c.in+`"`, string(b))
	}
	for _, bad := range []string{"", "Legacy", "LEGACY", " legacy", "legacy ", "old", "0", "null", "shadow\x00", strings.Repeat("x", 10000)} {
		m, err := ParseMode(bad)
		assert.ErrorIs(t, err, ErrInvalidMode, "%q", bad)
		assert.Equal(t, ModeLegacy, m, "a failed parse is the safe mode")
		assert.Less(t, len(err.Error()), 200, "untrusted input is truncated in messages")
		var into Mode
		assert.Error(t, json.Unmarshal([]byte(`"`+strings.ReplaceAll(bad, "\x00", `\u0000`)+`"`), &into))
	}
	var zero Mode
	assert.Equal(t, ModeLegacy, zero, "the zero value is legacy")
	assert.False(t, Mode(4).Valid())
	assert.Equal(t, "invalid(4)", Mode(4).String())
	_, err := json.Marshal(Mode(7))
	assert.Error(t, err)
}
