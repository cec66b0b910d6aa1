package flags

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
)

// ErrInvalidFlagFile wraps every problem found in a flag-definition file.
var ErrInvalidFlagFile = errors.New("invalid flag file")

// Limits of a flag-definition file. A file is operator input, but a file
// reloaded on change is also a way in for a mistake or an attacker with
// write access to the directory: none of these bounds is reachable by a
// sensible file, and each stops one way of exhausting the process.
const (
	// maxFlagFileBytes bounds what is read.
	maxFlagFileBytes = 4 << 20
	// maxFlagdFlags bounds the number of flags.
	maxFlagdFlags = 10000
	// maxTargetingDepth bounds the nesting of a targeting rule after
	// $ref expansion; evaluation recurses once per level.
	maxTargetingDepth = 64
	// maxTargetingNodes bounds the size of one flag's targeting after $ref
	// expansion, so evaluators referencing evaluators cannot multiply into
	// an exponential tree ("billion laughs").
	maxTargetingNodes = 100000
	// maxProblems bounds the problems reported for one file.
	maxProblems = 20
	// maxNameLen bounds flag keys, variant names and evaluator names.
	maxNameLen = 256
)

// Flag states of a flagd definition.
const (
	FlagdEnabled  = "ENABLED"
	FlagdDisabled = "DISABLED"
)

// FlagSet is a parsed and validated flagd flag-definition document.
type FlagSet struct {
	// Flags by key.
	Flags map[string]*FlagdFlag
}

// FlagdFlag is one flag of a flagd document, its targeting resolved.
type FlagdFlag struct {
	Key   string
	State string
	// Variants maps variant names to values; all values share one kind
	// (boolean, string, number or object).
	Variants map[string]any
	// DefaultVariant is nil when the definition says null: evaluation then
	// returns the caller's default value with reason DEFAULT.
	DefaultVariant *string
	// Targeting is the JSON Logic rule with every {"$ref": name} replaced
	// by its evaluator; nil when absent or {}.
	Targeting any
	// Metadata is the document's metadata overlaid with the flag's own.
	Metadata map[string]any

	kind        variantKind
	fingerprint []byte // canonical JSON of everything above, for diffs
}

type variantKind uint8

const (
	kindBool variantKind = iota + 1
	kindString
	kindNumber
	kindObject
)

func (k variantKind) String() string {
	switch k {
	case kindBool:
		return "boolean"
	case kindString:
		return "string"
	case kindNumber:
		return "number"
	case kindObject:
		return "object"
	}
	return "unknown"
}

// jsonLogicOperators are the operators a targeting rule may use: those of
// diegoholiveira/jsonlogic/v3 and flagd's custom ones. Anything else makes
// the file invalid rather than failing at evaluation time.
var jsonLogicOperators = map[string]bool{
	"==": true, "===": true, "!=": true, "!==": true, ">": true, ">=": true, "<": true, "<=": true,
	"!": true, "!!": true, "or": true, "and": true, "?:": true, "if": true,
	"in": true, "in_sorted": true, "cat": true, "substr": true, "%": true, "abs": true,
	"max": true, "min": true, "+": true, "-": true, "*": true, "/": true, "merge": true,
	"missing": true, "missing_some": true, "some": true, "all": true, "none": true,
	"filter": true, "map": true, "reduce": true, "var": true,
	"fractional": true, "starts_with": true, "ends_with": true,
}

// ParseFlagd parses a flagd flag-definition document: top-level "flags"
// (required), "$evaluators", "metadata" and "$schema"; per flag "state"
// and "variants" (required), "defaultVariant" (a variant name or null),
// "targeting" and "metadata". Unknown keys are errors, so a typo does not
// silently change routing. Every problem is reported with its JSON path.
func ParseFlagd(data []byte) (*FlagSet, error) {
	if len(data) > maxFlagFileBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidFlagFile, maxFlagFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidFlagFile, err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("%w: data after the top-level object", ErrInvalidFlagFile)
	}
	p := &flagdParser{}
	set := p.document(doc)
	if len(p.problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalidFlagFile, strings.Join(p.problems, "; "))
	}
	return set, nil
}

type flagdParser struct {
	problems   []string
	evaluators map[string]any
	resolved   map[string]*resolvedEvaluator
}

// resolvedEvaluator caches an evaluator's expansion and its size, so
// shared references are measured once.
type resolvedEvaluator struct {
	tree     any
	depth    int
	nodes    int
	visiting bool
	failed   bool
}

func (p *flagdParser) addf(format string, args ...any) {
	if len(p.problems) < maxProblems {
		p.problems = append(p.problems, fmt.Sprintf(format, args...))
	} else if len(p.problems) == maxProblems {
		p.problems = append(p.problems, "more problems not shown")
	}
}

func (p *flagdParser) document(doc any) *FlagSet {
	top, ok := doc.(map[string]any)
	if !ok {
		p.addf("$: must be an object")
		return nil
	}
	for _, k := range sortedKeys(top) {
		switch k {
		case "flags", "$evaluators", "metadata", "$schema":
		default:
			p.addf("$: unknown key %q", truncate(k, 64))
		}
	}
	if s, ok := top["$schema"]; ok {
		if _, isString := s.(string); !isString {
			p.addf("$.$schema: must be a string")
		}
	}
	setMeta := p.metadata("$.metadata", top["metadata"])

	p.evaluators = map[string]any{}
	p.resolved = map[string]*resolvedEvaluator{}
	if ev, ok := top["$evaluators"]; ok {
		m, isMap := ev.(map[string]any)
		if !isMap {
			p.addf("$.$evaluators: must be an object")
		} else {
			for _, name := range sortedKeys(m) {
				if name == "" || len(name) > maxNameLen {
					p.addf("$.$evaluators: evaluator names must be 1-%d characters", maxNameLen)
					continue
				}
				p.evaluators[name] = m[name]
			}
			// Check every evaluator, used or not, so a broken one is
			// reported before a flag starts using it.
			for _, name := range sortedKeys(m) {
				if _, ok := p.evaluators[name]; ok {
					p.evaluator(name, "$.$evaluators."+name)
				}
			}
		}
	}

	flagsRaw, ok := top["flags"]
	if !ok {
		p.addf("$.flags: required")
		return nil
	}
	flagsMap, ok := flagsRaw.(map[string]any)
	if !ok {
		p.addf("$.flags: must be an object")
		return nil
	}
	if len(flagsMap) > maxFlagdFlags {
		p.addf("$.flags: more than %d flags", maxFlagdFlags)
		return nil
	}
	set := &FlagSet{Flags: make(map[string]*FlagdFlag, len(flagsMap))}
	for _, key := range sortedKeys(flagsMap) {
		path := "$.flags." + truncate(key, 64)
		if key == "" || len(key) > maxNameLen {
			p.addf("%s: flag keys must be 1-%d characters", path, maxNameLen)
			continue
		}
		if f := p.flag(path, key, flagsMap[key], setMeta); f != nil {
			set.Flags[key] = f
		}
	}
	return set
}

func (p *flagdParser) flag(path, key string, raw any, setMeta map[string]any) *FlagdFlag {
	m, ok := raw.(map[string]any)
	if !ok {
		p.addf("%s: must be an object", path)
		return nil
	}
	before := len(p.problems)
	for _, k := range sortedKeys(m) {
		switch k {
		case "state", "variants", "defaultVariant", "targeting", "metadata":
		default:
			p.addf("%s: unknown key %q", path, truncate(k, 64))
		}
	}
	f := &FlagdFlag{Key: key}

	switch s := m["state"].(type) {
	case string:
		if s != FlagdEnabled && s != FlagdDisabled {
			p.addf("%s.state: must be ENABLED or DISABLED", path)
		}
		f.State = s
	case nil:
		p.addf("%s.state: required", path)
	default:
		p.addf("%s.state: must be a string", path)
	}

	variants, ok := m["variants"].(map[string]any)
	switch {
	case !ok:
		p.addf("%s.variants: required, an object", path)
	case len(variants) == 0:
		p.addf("%s.variants: at least one variant", path)
	default:
		f.Variants = variants
		for _, name := range sortedKeys(variants) {
			k := kindOf(variants[name])
			switch {
			case name == "" || len(name) > maxNameLen:
				p.addf("%s.variants: variant names must be 1-%d characters", path, maxNameLen)
			case k == 0:
				p.addf("%s.variants.%s: must be a boolean, string, number or object", path, truncate(name, 64))
			case f.kind == 0:
				f.kind = k
			case k != f.kind:
				p.addf("%s.variants.%s: is a %s, the other variants are %s", path, truncate(name, 64), k, f.kind)
			}
		}
	}

	if dv, present := m["defaultVariant"]; present && dv != nil {
		s, isString := dv.(string)
		switch {
		case !isString:
			p.addf("%s.defaultVariant: must be a variant name or null", path)
		case f.Variants != nil && !hasKey(f.Variants, s):
			p.addf("%s.defaultVariant: %q is not a variant", path, truncate(s, 64))
		default:
			f.DefaultVariant = &s
		}
	}

	if t, present := m["targeting"]; present && t != nil {
		if tm, isMap := t.(map[string]any); !isMap {
			p.addf("%s.targeting: must be an object", path)
		} else if len(tm) > 0 {
			tree, depth, nodes, ok := p.rule(path+".targeting", tm, 0)
			switch {
			case !ok:
			case depth > maxTargetingDepth:
				p.addf("%s.targeting: nested deeper than %d after $ref expansion", path, maxTargetingDepth)
			case nodes > maxTargetingNodes:
				p.addf("%s.targeting: more than %d nodes after $ref expansion", path, maxTargetingNodes)
			default:
				f.Targeting = tree
			}
		}
	}

	flagMeta := p.metadata(path+".metadata", m["metadata"])
	f.Metadata = make(map[string]any, len(setMeta)+len(flagMeta))
	maps.Copy(f.Metadata, setMeta)
	maps.Copy(f.Metadata, flagMeta)

	if len(p.problems) > before {
		return nil
	}
	f.fingerprint, _ = json.Marshal(struct {
		State          string         `json:"state"`
		Variants       map[string]any `json:"variants"`
		DefaultVariant *string        `json:"defaultVariant"`
		Targeting      any            `json:"targeting"`
		Metadata       map[string]any `json:"metadata"`
	}{f.State, f.Variants, f.DefaultVariant, f.Targeting, f.Metadata})
	return f
}

// metadata validates a metadata object: scalar values only.
func (p *flagdParser) metadata(path string, raw any) map[string]any {
	if raw == nil {
		return nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		p.addf("%s: must be an object", path)
		return nil
	}
	for _, k := range sortedKeys(m) {
		switch m[k].(type) {
		case string, bool, float64:
		default:
			p.addf("%s.%s: must be a string, number or boolean", path, truncate(k, 64))
		}
	}
	return m
}

// rule validates a JSON Logic node and returns it with $refs expanded,
// its depth and its node count.
func (p *flagdParser) rule(path string, node any, depth int) (any, int, int, bool) {
	if depth > maxTargetingDepth {
		p.addf("%s: nested deeper than %d", path, maxTargetingDepth)
		return nil, depth, 0, false
	}
	switch n := node.(type) {
	case map[string]any:
		if len(n) != 1 {
			p.addf("%s: a rule object must have exactly one operator, has %d keys", path, len(n))
			return nil, 0, 0, false
		}
		for op, args := range n {
			if op == "$ref" {
				name, isString := args.(string)
				if !isString {
					p.addf("%s.$ref: must be an evaluator name", path)
					return nil, 0, 0, false
				}
				r := p.evaluator(name, path+".$ref")
				if r == nil {
					return nil, 0, 0, false
				}
				return r.tree, depth + r.depth, r.nodes, true
			}
			if !jsonLogicOperators[op] {
				p.addf("%s: unknown operator %q", path, truncate(op, 64))
				return nil, 0, 0, false
			}
			tree, d, nodes, ok := p.rule(path+"."+op, args, depth+1)
			if !ok {
				return nil, 0, 0, false
			}
			if op == "fractional" {
				p.fractionalWeights(path+".fractional", tree)
			}
			return map[string]any{op: tree}, max(d, depth+1), nodes + 1, true
		}
	case []any:
		out := make([]any, len(n))
		maxDepth, total := depth, 1
		for i, v := range n {
			tree, d, nodes, ok := p.rule(fmt.Sprintf("%s[%d]", path, i), v, depth+1)
			if !ok {
				return nil, 0, 0, false
			}
			out[i] = tree
			maxDepth = max(maxDepth, d)
			total += nodes
			if total > maxTargetingNodes {
				p.addf("%s: more than %d nodes", path, maxTargetingNodes)
				return nil, 0, 0, false
			}
		}
		return out, maxDepth, total, true
	case string, bool, float64, nil:
		return n, depth, 1, true
	}
	p.addf("%s: unexpected value", path)
	return nil, 0, 0, false
}

// evaluator resolves a named evaluator once, detecting unknown names and
// reference cycles.
func (p *flagdParser) evaluator(name, path string) *resolvedEvaluator {
	if r, ok := p.resolved[name]; ok {
		if r.visiting {
			p.addf("%s: $ref cycle through evaluator %q", path, truncate(name, 64))
			return nil
		}
		if r.failed {
			return nil
		}
		return r
	}
	raw, ok := p.evaluators[name]
	if !ok {
		p.addf("%s: unknown evaluator %q", path, truncate(name, 64))
		return nil
	}
	r := &resolvedEvaluator{visiting: true}
	p.resolved[name] = r
	tree, depth, nodes, ok := p.rule("$.$evaluators."+truncate(name, 64), raw, 0)
	r.visiting = false
	if !ok {
		r.failed = true
		return nil
	}
	if depth > maxTargetingDepth || nodes > maxTargetingNodes {
		p.addf("$.$evaluators.%s: too deep or too large after $ref expansion", truncate(name, 64))
		r.failed = true
		return nil
	}
	r.tree, r.depth, r.nodes = tree, depth, nodes
	return r
}

// fractionalWeights checks the literal weights of a fractional rule:
// whole numbers in [0, 2^31-1] whose sum stays in that range. Weights
// computed at evaluation time are checked then.
func (p *flagdParser) fractionalWeights(path string, args any) {
	list, ok := args.([]any)
	if !ok {
		p.addf("%s: must be an array", path)
		return
	}
	var total float64
	for i, a := range list {
		dist, ok := a.([]any)
		if !ok || len(dist) < 2 {
			continue // the bucketing expression, or a weightless variant (weight 1)
		}
		w, ok := dist[1].(float64)
		if !ok {
			continue
		}
		if w < 0 || w != math.Trunc(w) || w > math.MaxInt32 {
			p.addf("%s[%d]: weight must be a whole number in [0, %d]", path, i, math.MaxInt32)
			return
		}
		total += w
	}
	if total > math.MaxInt32 {
		p.addf("%s: weights sum above %d", path, math.MaxInt32)
	}
}

func kindOf(v any) variantKind {
	switch v.(type) {
	case bool:
		return kindBool
	case string:
		return kindString
	case float64:
		return kindNumber
	case map[string]any, []any:
		return kindObject
	}
	return 0
}

func hasKey(m map[string]any, k string) bool { _, ok := m[k]; return ok }

func sortedKeys[V any](m map[string]V) []string {
	keys := slices.Collect(maps.Keys(m))
	sort.Strings(keys)
	return keys
}

// diff returns the keys of flags added, removed or changed from old to s.
func (s *FlagSet) diff(old *FlagSet) []string {
	var changed []string
	for k, f := range s.Flags {
		if old == nil {
			changed = append(changed, k)
			continue
		}
		if o, ok := old.Flags[k]; !ok || !bytes.Equal(o.fingerprint, f.fingerprint) {
			changed = append(changed, k)
		}
	}
	if old != nil {
		for k := range old.Flags {
			if _, ok := s.Flags[k]; !ok {
				changed = append(changed, k)
			}
		}
	}
	sort.Strings(changed)
	return changed
}
