package flags

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "flagd", name))
	require.NoError(t, err)
	return b
}

func TestParseFlagdInvalidFiles(t *testing.T) {
	cases := map[string]string{
		"not_json.json":             "unexpected EOF",
		"empty.json":                "EOF",
		"trailing_data.json":        "data after the top-level object",
		"top_not_object.json":       "$: must be an object",
		"missing_flags.json":        "$.flags: required",
		"wrong_types.json":          "$.flags: must be an object",
		"unknown_top_key.json":      `unknown key "flagz"`,
		"unknown_flag_key.json":     `$.flags.route.qa: unknown key "defaultVarient"`,
		"bad_state.json":            "state: must be ENABLED or DISABLED",
		"state_not_string.json":     "state: must be a string",
		"no_variants.json":          "variants: required",
		"empty_variants.json":       "at least one variant",
		"mixed_variant_types.json":  "is a boolean, the other variants are string",
		"null_variant_value.json":   "must be a boolean, string, number or object",
		"default_not_variant.json":  `"shadow" is not a variant`,
		"default_wrong_type.json":   "defaultVariant: must be a variant name or null",
		"unknown_operator.json":     `unknown operator "sem_ver"`,
		"exec_operator.json":        `unknown operator "system"`,
		"multi_key_rule.json":       "exactly one operator, has 2 keys",
		"targeting_not_object.json": "targeting: must be an object",
		"ref_cycle.json":            "$ref cycle",
		"ref_self.json":             `$ref cycle through evaluator "me"`,
		"ref_unknown.json":          `unknown evaluator "nowhere"`,
		"ref_not_string.json":       "$ref: must be an evaluator name",
		"huge_number.json":          "cannot unmarshal number 1e400",
		"huge_weight.json":          "weight must be a whole number",
		"weights_overflow.json":     "weights sum above 2147483647",
		"fractional_weight.json":    "weight must be a whole number",
		"negative_weight.json":      "weight must be a whole number",
		"metadata_nested.json":      "metadata.owner: must be a string, number or boolean",
		"metadata_not_object.json":  "$.metadata: must be an object",
		"flag_not_object.json":      "$.flags.route.qa: must be an object",
		"empty_flag_key.json":       "flag keys must be 1-256 characters",
		"deep_nesting.json":         "nested deeper than 64",
		"billion_laughs.json":       "nodes",
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "flagd", "invalid"))
	require.NoError(t, err)
	require.Len(t, entries, len(cases), "every invalid fixture has a case")
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			set, err := ParseFlagd(readFixture(t, filepath.Join("invalid", name)))
			require.ErrorIs(t, err, ErrInvalidFlagFile)
			assert.Nil(t, set)
			assert.Contains(t, err.Error(), want)
		})
	}
}

func TestParseFlagdGeneratedHostileInput(t *testing.T) {
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	cases := map[string]struct {
		data []byte
		want string
	}{
		"json nesting beyond the decoder's limit": {[]byte(`{"flags":{"f":{"state":"ENABLED","variants":{"a":` + deep + `}}}}`), "exceeded max depth"},
		"larger than 4 MiB":                       {append([]byte(`{"flags":{},"$schema":"`), bytes.Repeat([]byte("x"), maxFlagFileBytes)...), "larger than"},
		"too many flags":                          {manyFlags(maxFlagdFlags + 1), "more than 10000 flags"},
		"invalid UTF-8 is replaced, not fatal":    {[]byte("{\"flags\":{\"f\xff\":{\"state\":\"ENABLED\",\"variants\":{\"a\":\"b\"},\"defaultVariant\":\"a\"}}}"), ""},
		"many problems are capped":                {manyBadFlags(50), "more problems not shown"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseFlagd(c.data)
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidFlagFile)
			assert.Contains(t, err.Error(), c.want)
			assert.Less(t, len(err.Error()), 8000, "the message stays readable")
		})
	}
}

func manyFlags(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"flags":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"f`)
		b.WriteString(strconv.Itoa(i))
		b.WriteString(`":{"state":"ENABLED","variants":{"a":"a"},"defaultVariant":"a"}`)
	}
	b.WriteString(`}}`)
	return []byte(b.String())
}

func manyBadFlags(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"flags":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"f` + strconv.Itoa(i) + `":{"state":"NOPE","variants":{"a":"a"}}`)
	}
	b.WriteString(`}}`)
	return []byte(b.String())
}

func TestParseFlagdValid(t *testing.T) {
	set, err := ParseFlagd(readFixture(t, "valid.json"))
	require.NoError(t, err)
	qa := set.Flags["route.qa"]
	require.NotNil(t, qa)
	assert.Equal(t, FlagdEnabled, qa.State)
	require.NotNil(t, qa.DefaultVariant)
	assert.Equal(t, "legacy", *qa.DefaultVariant)
	assert.Equal(t, map[string]any{"flagSetId": "strangler", "version": 4.0, "owner": "qa-team"}, qa.Metadata,
		"flag metadata overlays the set's")
	assert.NotContains(t, string(mustJSON(t, qa.Targeting)), "$ref", "references are expanded")
	assert.Nil(t, set.Flags["route.nulldefault"].DefaultVariant)
	assert.Nil(t, set.Flags["route.emptytargeting"].Targeting, "{} is no targeting")
}

func TestFlagdEvaluation(t *testing.T) {
	set, err := ParseFlagd(readFixture(t, "valid.json"))
	require.NoError(t, err)
	now := time.Unix(1700000000, 0)
	type want struct {
		value   any
		variant string
		reason  openfeature.Reason
		code    openfeature.ErrorCode
		def     bool
	}
	cases := []struct {
		name string
		flag string
		ctx  openfeature.FlattenedContext
		want want
	}{
		{"allow-listed org via $ref and in", "route.qa", ctx("org", "acme"), want{"canary", "canary", openfeature.TargetingMatchReason, "", false}},
		{"ends_with via $ref", "route.qa", ctx("org", "x", "user", "dev@7cycles.ai"), want{"new", "new", openfeature.TargetingMatchReason, "", false}},
		{"starts_with", "route.qa", ctx("org", "x", "project", "beta-web"), want{"shadow", "shadow", openfeature.TargetingMatchReason, "", false}},
		{"== on method", "route.qa", ctx("org", "x", "method", "DELETE"), want{"legacy", "legacy", openfeature.TargetingMatchReason, "", false}},
		{"starts_with with a non-string is false", "route.qa", ctx("org", "x", "project", 42, openfeature.TargetingKey, "org-fixed"), want{nil, "", openfeature.TargetingMatchReason, "", false}},
		{"no targeting: STATIC", "route.static", ctx(), want{"shadow", "shadow", openfeature.StaticReason, "", false}},
		{"{} targeting: STATIC", "route.emptytargeting", ctx(), want{"new", "new", openfeature.StaticReason, "", false}},
		{"null default, targeting match", "route.nulldefault", ctx("org", "acme"), want{"new", "new", openfeature.TargetingMatchReason, "", false}},
		{"null default, targeting null: code default", "route.nulldefault", ctx("org", "x"), want{nil, "", openfeature.DefaultReason, "", true}},
		{"disabled: code default", "route.disabled", ctx(), want{nil, "", openfeature.DisabledReason, "", true}},
		{"targeting names no variant", "route.missing-variant", ctx("org", "acme"), want{nil, "", openfeature.ErrorReason, openfeature.GeneralCode, false}},
		{"library panic is an error", "route.panics", ctx(), want{nil, "", openfeature.ErrorReason, openfeature.GeneralCode, false}},
		{"boolean targeting result names a variant", "boolean-targeting", ctx("org", "acme"), want{"yes", "true", openfeature.TargetingMatchReason, "", false}},
		{"boolean targeting false", "boolean-targeting", ctx("org", "x"), want{"no", "false", openfeature.TargetingMatchReason, "", false}},
		{"null targeting result: default variant", "limit", ctx("org", "x"), want{10.0, "small", openfeature.DefaultReason, "", false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := set.Flags[c.flag].evaluate(c.ctx, now)
			assert.Equal(t, c.want.reason, r.reason)
			assert.Equal(t, c.want.code, r.code, r.msg)
			assert.Equal(t, c.want.def, r.useDefault)
			if c.want.variant != "" {
				assert.Equal(t, c.want.variant, r.variant)
				assert.Equal(t, c.want.value, r.value)
			}
		})
	}
}

func ctx(kv ...any) openfeature.FlattenedContext {
	out := openfeature.FlattenedContext{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// TestFlagdTestbed checks the file provider's evaluator against the
// flagd test bed (open-feature/flagd-testbed, evaluator/gherkin: the
// fractional-v2 vectors, fractional-nested, string operators, targeting
// key, null and missing default variants, $ref). testdata/flagd/testbed.json
// holds the test bed's flag definitions for these scenarios.
func TestFlagdTestbed(t *testing.T) {
	set, err := ParseFlagd(readFixture(t, "testbed.json"))
	require.NoError(t, err)
	user := func(name string) openfeature.FlattenedContext {
		return ctx("user", map[string]any{"name": name})
	}
	tk := func(key string, kv ...any) openfeature.FlattenedContext {
		return ctx(append([]any{openfeature.TargetingKey, key}, kv...)...)
	}
	type vector struct {
		ctx     openfeature.FlattenedContext
		value   any // nil: the caller's default
		reason  openfeature.Reason
		isError bool
	}
	match := func(c openfeature.FlattenedContext, v any) vector {
		return vector{c, v, openfeature.TargetingMatchReason, false}
	}
	cases := map[string][]vector{
		"fractional-flag": {match(user("jack"), "hearts"), match(user("queen"), "spades"), match(user("ten"), "clubs"),
			match(user("nine"), "diamonds"), match(user("3"), "clubs")},
		"fractional-flag-shorthand": {match(tk("jon@company.com"), "heads"), match(tk("jane@company.com"), "tails")},
		"fractional-flag-A-shared-seed": {match(user("seven"), "hearts"), match(user("eight"), "diamonds"),
			match(user("nine"), "clubs"), match(user("two"), "spades")},
		"fractional-flag-B-shared-seed": {match(user("seven"), "ace-of-hearts"), match(user("eight"), "ace-of-diamonds"),
			match(user("nine"), "ace-of-clubs"), match(user("two"), "ace-of-spades")},
		"fractional-hash-edge-flag": {match(tk("ejOoVL"), "lower"), match(tk("bY9fO-"), "lower"), match(tk("SI7p-"), "lower"),
			match(tk("6LvT0"), "upper"), match(tk("ceQdGm"), "upper")},
		"fractional-single-entry-flag":       {match(tk("anyone"), "single")},
		"fractional-as-condition-flag":       {match(tk("some-targeting-key"), "hundreds")},
		"fractional-as-condition-false-flag": {match(tk("some-targeting-key"), "ones")},
		"fractional-nested-if-flag": {match(tk("jon@company.com", "tier", "premium"), "premium"),
			match(tk("jon@company.com", "tier", "basic"), "standard"), match(tk("user1", "tier", "premium"), "standard"),
			match(tk("user1", "tier", "basic"), "standard")},
		"fractional-nested-var-flag": {match(tk("jon@company.com", "color", "red"), "red"),
			match(tk("jon@company.com", "color", "green"), "green"), match(tk("user1", "color", "red"), "blue"),
			{tk("jon@company.com", "color", "yellow"), nil, openfeature.ErrorReason, true},
			{tk("jon@company.com", "color", ""), nil, openfeature.ErrorReason, true}},
		"fractional-nested-weight-flag": {match(tk("jon@company.com", "tier", "premium"), "red"),
			match(tk("jon@company.com", "tier", "basic"), "blue"), match(tk("user1", "tier", "premium"), "red"),
			match(tk("user1", "tier", "basic"), "blue")},
		"starts-ends-flag": {match(ctx("id", "abcdef"), "prefix"), match(ctx("id", "uvwxyz"), "postfix"),
			match(ctx("id", "abcxyz"), "prefix"), match(ctx("id", "lmnopq"), "none")},
		"targeting-key-flag": {match(tk("5c3d8535-f81a-4478-a6d3-afaa4d51199e"), "hit"),
			{tk("f20bd32d-703b-48b6-bc8e-79d53c85134a"), "miss", openfeature.DefaultReason, false}},
		"null-default-flag":      {{ctx(), nil, openfeature.DefaultReason, false}},
		"undefined-default-flag": {{ctx(), nil, openfeature.DefaultReason, false}},
		"no-default-flag-null-targeting-variant": {match(ctx("email", "jobs@orange.com"), "CEO"),
			{ctx("email", "someone@else.com"), nil, openfeature.DefaultReason, false}},
		"some-email-targeted-flag": {match(ctx("email", "ballmer@macrosoft.com"), "hi"), match(ctx("email", "x@y.z"), "bye")},
	}
	for flag, vectors := range cases {
		for i, v := range vectors {
			t.Run(fmt.Sprintf("%s/%d", flag, i), func(t *testing.T) {
				f := set.Flags[flag]
				require.NotNil(t, f)
				r := f.evaluate(v.ctx, time.Now())
				if v.isError {
					assert.Equal(t, openfeature.GeneralCode, r.code)
					return
				}
				require.Empty(t, r.code, r.msg)
				assert.Equal(t, v.reason, r.reason)
				if v.value == nil {
					assert.True(t, r.useDefault, "the caller's default")
				} else {
					assert.Equal(t, v.value, r.value)
				}
			})
		}
	}
	assert.Equal(t, map[string]any{"string": "1.0.2", "integer": 2.0, "boolean": true, "float": 0.1},
		set.Flags["metadata-flag"].Metadata)
}

func TestFractionalOperator(t *testing.T) {
	data := map[string]any{"targetingKey": "org-1", flagdKey: map[string]any{"flagKey": "route.qa"}}
	cases := map[string]struct {
		args any
		want any
	}{
		"not an array":            {"x", nil},
		"empty":                   {[]any{}, nil},
		"only a bucketing value":  {[]any{"bucket"}, nil},
		"distribution not array":  {[]any{"bucket", "a"}, nil},
		"empty distribution":      {[]any{"bucket", []any{}}, nil},
		"weight not a number":     {[]any{"bucket", []any{"a", "1"}}, nil},
		"fractional weight":       {[]any{"bucket", []any{"a", 0.5}}, nil},
		"negative weight is 0":    {[]any{"bucket", []any{"a", -1.0}, []any{"b", 1.0}}, "b"},
		"total zero":              {[]any{"bucket", []any{"a", 0.0}}, nil},
		"overflow":                {[]any{"bucket", []any{"a", 2147483647.0}, []any{"b", 1.0}}, nil},
		"object variant rejected": {[]any{"bucket", []any{map[string]any{}, 1.0}}, nil},
		"single variant":          {[]any{"bucket", []any{"only", 5.0}}, "only"},
		"bool variant":            {[]any{"bucket", []any{true, 5.0}}, true},
		"no targeting key":        {[]any{nil, []any{"a", 1.0}}, nil},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			d := data
			if name == "no targeting key" {
				d = map[string]any{}
			}
			assert.Equal(t, c.want, opFractional(c.args, d))
		})
	}
	// Spread: 10,000 keys over 25/75 land within ±2%.
	in := 0
	for i := range 10000 {
		d := map[string]any{"targetingKey": "org-" + strconv.Itoa(i), flagdKey: map[string]any{"flagKey": "route.qa"}}
		if opFractional([]any{[]any{"shadow", 25.0}, []any{"legacy", 75.0}}, d) == "shadow" {
			in++
		}
	}
	assert.InDelta(t, 2500, in, 200)
}

func TestStringOperators(t *testing.T) {
	assert.Equal(t, true, opStartsWith([]any{"beta-web", "beta-"}, nil))
	assert.Equal(t, false, opStartsWith([]any{"web", "beta-"}, nil))
	assert.Equal(t, false, opStartsWith([]any{42.0, "4"}, nil))
	assert.Equal(t, false, opStartsWith([]any{"a"}, nil))
	assert.Equal(t, false, opStartsWith("a", nil))
	assert.Equal(t, true, opEndsWith([]any{"a@7cycles.ai", "@7cycles.ai"}, nil))
	assert.Equal(t, false, opEndsWith([]any{"a@x.ai", "@7cycles.ai"}, nil))
	assert.Equal(t, false, opEndsWith([]any{nil, "x"}, nil))
}

// TestFlagdConcurrentEvaluation: rules are shared by concurrent
// evaluations and must not be mutated by them (-race).
func TestFlagdConcurrentEvaluation(t *testing.T) {
	set, err := ParseFlagd(readFixture(t, "valid.json"))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				for key, f := range set.Flags {
					r := f.evaluate(ctx("org", []string{"acme", "x", "globex"}[i%3], "user", "u@7cycles.ai",
						openfeature.TargetingKey, "org-"+strconv.Itoa(g*1000+i)), time.Now())
					if key == "route.qa" && i%3 != 1 {
						assert.Equal(t, "canary", r.variant)
					}
				}
			}
		})
	}
	wg.Wait()
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func FuzzParseFlagd(f *testing.F) {
	for _, name := range []string{"valid.json", "testbed.json"} {
		f.Add(readFixture(f, name))
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "flagd", "invalid"))
	require.NoError(f, err)
	for _, e := range entries {
		b := readFixture(f, filepath.Join("invalid", e.Name()))
		if len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := ParseFlagd(data)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidFlagFile)
			require.Nil(t, set)
			return
		}
		// Whatever parses must evaluate without panicking, for any flag.
		for _, fl := range set.Flags {
			for _, ec := range []openfeature.FlattenedContext{ctx(), ctx("org", "acme", openfeature.TargetingKey, "o1", "method", "GET")} {
				r := fl.evaluate(ec, time.Unix(0, 0))
				if r.code == "" && !r.useDefault {
					_, ok := fl.Variants[r.variant]
					require.True(t, ok, "a successful result names a variant")
				}
			}
		}
	})
}
