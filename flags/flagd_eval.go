package flags

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/diegoholiveira/jsonlogic/v3"
	"github.com/open-feature/go-sdk/openfeature"
)

// flagdResult is the outcome of evaluating one flagd flag.
type flagdResult struct {
	// value is Variants[variant]; useDefault means "the caller's default"
	// (disabled flag, or a null default variant).
	value      any
	useDefault bool
	variant    string
	reason     openfeature.Reason
	code       openfeature.ErrorCode
	msg        string
}

// evaluate runs the flagd semantics: a DISABLED flag returns the caller's
// default with reason DISABLED; without targeting, the default variant
// with reason STATIC; with targeting, the variant it names (TARGETING_MATCH)
// or, when it yields null, the default variant (DEFAULT). A null default
// variant means the caller's default with reason DEFAULT. A targeting
// result that is not a variant of the flag is an error.
func (f *FlagdFlag) evaluate(flat openfeature.FlattenedContext, now time.Time) flagdResult {
	if f.State == FlagdDisabled {
		return flagdResult{useDefault: true, reason: openfeature.DisabledReason}
	}
	if f.Targeting == nil {
		return f.defaultResult(openfeature.StaticReason)
	}
	data := evaluationData(flat, f.Key, now)
	out, err := applyJSONLogic(f.Targeting, data)
	if err != nil {
		return flagdResult{reason: openfeature.ErrorReason, code: openfeature.GeneralCode,
			msg: fmt.Sprintf("targeting of %q failed: %v", truncate(f.Key, 64), err)}
	}
	var variant string
	switch v := out.(type) {
	case nil:
		return f.defaultResult(openfeature.DefaultReason)
	case string:
		variant = v
	case bool:
		variant = fmt.Sprint(v)
	default:
		return flagdResult{reason: openfeature.ErrorReason, code: openfeature.GeneralCode,
			msg: fmt.Sprintf("targeting of %q returned a %T, not a variant name", truncate(f.Key, 64), out)}
	}
	value, ok := f.Variants[variant]
	if !ok {
		return flagdResult{reason: openfeature.ErrorReason, code: openfeature.GeneralCode,
			msg: fmt.Sprintf("targeting of %q returned %q, which is not a variant", truncate(f.Key, 64), truncate(variant, 64))}
	}
	return flagdResult{value: value, variant: variant, reason: openfeature.TargetingMatchReason}
}

func (f *FlagdFlag) defaultResult(reason openfeature.Reason) flagdResult {
	if f.DefaultVariant == nil {
		return flagdResult{useDefault: true, reason: openfeature.DefaultReason}
	}
	return flagdResult{value: f.Variants[*f.DefaultVariant], variant: *f.DefaultVariant, reason: reason}
}

// applyJSONLogic evaluates a rule, turning any panic of the library (it
// asserts types freely) into an error.
func applyJSONLogic(rule, data any) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("json logic: %v", r)
		}
	}()
	return jsonlogic.ApplyInterface(rule, data)
}

// evaluationData is the JSON Logic data: the flattened context with values
// normalised to JSON types (the library knows float64, not int64), plus
// flagd's properties $flagd.flagKey and $flagd.timestamp.
func evaluationData(flat openfeature.FlattenedContext, flagKey string, now time.Time) map[string]any {
	data := make(map[string]any, len(flat)+1)
	for k, v := range flat {
		data[k] = jsonValue(v, 0)
	}
	data[flagdKey] = map[string]any{"flagKey": flagKey, "timestamp": float64(now.Unix())}
	return data
}

// jsonValue converts a context value to the types encoding/json decodes
// into: nil, bool, float64, string, []any, map[string]any.
func jsonValue(v any, depth int) any {
	if depth > 16 {
		return nil
	}
	switch x := v.(type) {
	case nil, bool, string, float64:
		return x
	case int:
		return float64(x)
	case int8:
		return float64(x)
	case int16:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case uint:
		return float64(x)
	case uint8:
		return float64(x)
	case uint16:
		return float64(x)
	case uint32:
		return float64(x)
	case uint64:
		return float64(x)
	case float32:
		return float64(x)
	case time.Time:
		return float64(x.Unix())
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e, depth+1)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e, depth+1)
		}
		return out
	}
	// Anything else: through JSON, as flagd does.
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return nil
	}
	return out
}

// typedValue converts a variant value to the requested type; integers
// arrive from JSON as whole float64 values.
func typedValue[T any](v any) (T, bool) {
	var zero T
	if _, isInt := any(zero).(int64); isInt {
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return zero, false
		}
		return any(int64(f)).(T), true
	}
	t, ok := v.(T)
	return t, ok
}
