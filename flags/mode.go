package flags

import (
	"errors"
	"fmt"
)

// Mode is the routing mode of one (organization, route group) pair, SPEC §8.
// The zero value is ModeLegacy, so an uninitialised Mode is the safe one.
type Mode uint8

const (
	// ModeLegacy serves from the legacy backend only.
	ModeLegacy Mode = iota
	// ModeShadow serves from legacy and sends a copy to the new backend.
	ModeShadow
	// ModeCanary serves from the new backend and sends a copy to legacy;
	// idempotent requests that fail on the new backend are retried on legacy.
	ModeCanary
	// ModeNew serves from the new backend only, with the same fallback as
	// ModeCanary.
	ModeNew
)

// modeCount bounds the valid values; metric label arrays are sized by it.
const modeCount = 4

// modeNames are the wire names, also the variant names of the route flags.
var modeNames = [modeCount]string{"legacy", "shadow", "canary", "new"}

// ErrInvalidMode reports a mode name that is not one of the four.
var ErrInvalidMode = errors.New("invalid mode")

// ParseMode parses a mode name (exact, lower case).
func ParseMode(s string) (Mode, error) {
	switch s {
	case "legacy":
		return ModeLegacy, nil
	case "shadow":
		return ModeShadow, nil
	case "canary":
		return ModeCanary, nil
	case "new":
		return ModeNew, nil
	}
	return ModeLegacy, fmt.Errorf("%w %q: want legacy, shadow, canary or new", ErrInvalidMode, truncate(s, 64))
}

// String returns the wire name; an out-of-range value prints as
// "invalid(N)".
func (m Mode) String() string {
	if m.Valid() {
		return modeNames[m]
	}
	return fmt.Sprintf("invalid(%d)", uint8(m))
}

// Valid reports whether m is one of the four modes.
func (m Mode) Valid() bool { return m < modeCount }

// ServesNew reports whether the new backend serves the client.
func (m Mode) ServesNew() bool { return m == ModeCanary || m == ModeNew }

// Shadows reports whether a copy of the request goes to the other backend.
func (m Mode) Shadows() bool { return m == ModeShadow || m == ModeCanary }

// MarshalText implements encoding.TextMarshaler.
func (m Mode) MarshalText() ([]byte, error) {
	if !m.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrInvalidMode, uint8(m))
	}
	return []byte(modeNames[m]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// modeFromVariant maps a flag variant to a mode without allocating; ok is
// false for anything that is not one of the four names.
func modeFromVariant(s string) (Mode, bool) {
	switch s {
	case "legacy":
		return ModeLegacy, true
	case "shadow":
		return ModeShadow, true
	case "canary":
		return ModeCanary, true
	case "new":
		return ModeNew, true
	}
	return ModeLegacy, false
}

// truncate shortens untrusted text quoted in error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
