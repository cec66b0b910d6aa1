package flags

import (
	"math"
	"strings"

	"github.com/diegoholiveira/jsonlogic/v3"
)

// jsonlogic keeps custom operators in a package-level map that it reads on
// every evaluation without a lock. Registering them here, at package
// initialisation, is the only moment that cannot race with an evaluation.
// The operators are pure functions of their arguments and the evaluation
// data; they hold no state.
func init() {
	jsonlogic.AddOperator("fractional", opFractional)
	jsonlogic.AddOperator("starts_with", opStartsWith)
	jsonlogic.AddOperator("ends_with", opEndsWith)
}

// flagdKey is the key of the properties flagd adds to the evaluation data.
const flagdKey = "$flagd"

// opFractional is flagd's fractional operation: pseudorandom, sticky
// assignment of a variant by weight.
//
//	{"fractional": [<bucketing value>?, [variant, weight?], ...]}
//
// The bucketing value is the first argument when it evaluates to a string;
// otherwise it is $flagd.flagKey + targetingKey (no separator). The bucket
// is murmur3 32-bit (seed 0) of it scaled to the total weight,
// (hash × total) >> 32, and the variant whose cumulative weight range
// contains the bucket wins ("fractional-v2" of the flagd test bed). A
// weight defaults to 1; a variant or weight may itself be a JSON Logic
// expression; a negative computed weight counts as 0. No bucketing value,
// a weight that is not a whole number, a total over 2^31-1 or a total of 0
// yield null, which falls back to the default variant. The assignments
// match the flagd test bed's fractional-v2 vectors (see flagd_test.go);
// flagd has changed its algorithm before (#1909), so equality with other
// versions is not promised.
func opFractional(values, data any) any {
	args, ok := values.([]any)
	if !ok || len(args) == 0 {
		return nil
	}
	bucketBy, ok := args[0].(string)
	if ok {
		args = args[1:]
	} else {
		if args[0] == nil {
			args = args[1:]
		}
		m, _ := data.(map[string]any)
		tk, ok := m["targetingKey"].(string)
		if !ok {
			return nil
		}
		props, _ := m[flagdKey].(map[string]any)
		flagKey, _ := props["flagKey"].(string)
		bucketBy = flagKey + tk
	}
	if len(args) == 0 {
		return nil
	}
	type dist struct {
		variant any
		weight  uint64
	}
	dists := make([]dist, 0, len(args))
	var total uint64
	for _, a := range args {
		d, ok := a.([]any)
		if !ok || len(d) == 0 {
			return nil
		}
		variant := evalNested(d[0], data)
		switch variant.(type) {
		case string, bool, float64, nil:
		default:
			return nil
		}
		w := uint64(1)
		if len(d) >= 2 && d[1] != nil {
			f, ok := evalNested(d[1], data).(float64)
			if !ok || f != math.Trunc(f) || f > math.MaxInt32 {
				return nil
			}
			w = uint64(max(f, 0))
		}
		total += w
		if total > math.MaxInt32 {
			return nil
		}
		dists = append(dists, dist{variant, w})
	}
	if total == 0 {
		return nil
	}
	bucket := (uint64(murmur3Sum32([]byte(bucketBy))) * total) >> 32
	var end uint64
	for _, d := range dists {
		end += d.weight
		if bucket < end {
			return d.variant
		}
	}
	return nil
}

// evalNested evaluates a JSON Logic expression found inside a fractional
// distribution (jsonlogic evaluates only the operator's direct arguments).
func evalNested(v, data any) any {
	if _, ok := v.(map[string]any); !ok {
		return v
	}
	out, err := jsonlogic.ApplyInterface(v, data)
	if err != nil {
		return nil
	}
	return out
}

// opStartsWith is flagd's starts_with: [value, prefix], both strings;
// anything else is false.
func opStartsWith(values, _ any) any {
	s, prefix, ok := twoStrings(values)
	return ok && strings.HasPrefix(s, prefix)
}

// opEndsWith is flagd's ends_with: [value, suffix], both strings;
// anything else is false.
func opEndsWith(values, _ any) any {
	s, suffix, ok := twoStrings(values)
	return ok && strings.HasSuffix(s, suffix)
}

func twoStrings(values any) (string, string, bool) {
	args, ok := values.([]any)
	if !ok || len(args) != 2 {
		return "", "", false
	}
	a, ok1 := args[0].(string)
	b, ok2 := args[1].(string)
	return a, b, ok1 && ok2
}
