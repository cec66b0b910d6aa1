package config

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxDecodeSteps bounds the work of one decode. Aliases let a small file
// describe a huge tree ("billion laughs"); every node visited, through an
// alias or not, costs one step.
const maxDecodeSteps = 100_000

// decoder walks a yaml.Node tree into a Go value by reflection, using the
// `yaml` struct tags. It does by hand what yaml.v3's decoder does so that it
// can report every unknown key and type error with its YAML path and keep
// going, and so that ${ENV} references are expanded per value with the path
// known. It supports anchors, aliases and merge keys (<<).
type decoder struct {
	getenv func(string) string
	probs  *problems
	// lines maps each decoded path to its line, to locate the problems
	// that validation later reports by path.
	lines map[string]pos
	// unsetEnv maps a path to the variables that were unset there and
	// expanded to "" (allowEmptyEnv keys), so that a validation problem
	// about the empty value can name them.
	unsetEnv map[string][]string
	// badPaths are the paths with decode problems; validation problems at
	// or under them are dropped as consequences, not causes.
	badPaths map[string]bool
	steps    int
	// mergeDepth bounds nested merge keys (<< inside a merged mapping),
	// which an anchor can make cyclic.
	mergeDepth int
	// exhausted is set once maxDecodeSteps is reached; decoding stops.
	exhausted bool
}

func newDecoder(getenv func(string) string, probs *problems) *decoder {
	return &decoder{
		getenv:   getenv,
		probs:    probs,
		lines:    map[string]pos{},
		unsetEnv: map[string][]string{},
		badPaths: map[string]bool{},
	}
}

func (d *decoder) fail(path string, n *yaml.Node, format string, args ...any) {
	d.badPaths[path] = true
	d.probs.add(path, at(n), format, args...)
}

// step counts one node visit and reports whether decoding may continue.
func (d *decoder) step(path string, n *yaml.Node) bool {
	if d.exhausted {
		return false
	}
	d.steps++
	if d.steps > maxDecodeSteps {
		d.exhausted = true
		d.fail(path, n, "document too complex: more than %d nodes after expanding aliases", maxDecodeSteps)
		return false
	}
	return true
}

// at is the position of n.
func at(n *yaml.Node) pos {
	if n == nil {
		return pos{}
	}
	return pos{n.Line, n.Column}
}

// resolve follows aliases to the node they name.
func (d *decoder) resolve(path string, n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		if !d.step(path, n) {
			return nil
		}
		n = n.Alias
	}
	return n
}

// isNull reports whether n is an explicit or implicit YAML null ("key:",
// "key: ~", "key: null"), which leaves the default in place.
func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0)
}

// describe names what a node is, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return strconv.Quote(v)
	}
	return "an unsupported node"
}

func childPath(parent, key string) string {
	if strings.ContainsAny(key, ".[]\"' \t") || key == "" {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// decode stores node n at path into v, which must be settable.
func (d *decoder) decode(path string, n *yaml.Node, v reflect.Value) {
	if !d.step(path, n) {
		return
	}
	n = d.resolve(path, n)
	if n == nil || isNull(n) {
		return
	}
	if _, seen := d.lines[path]; !seen {
		d.lines[path] = at(n)
	}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		d.decodeUnmarshaler(path, n, v.Addr().Interface().(yaml.Unmarshaler))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		elem := reflect.New(v.Type().Elem())
		if !v.IsNil() {
			elem.Elem().Set(v.Elem())
		}
		d.decode(path, n, elem.Elem())
		if !d.badPaths[path] {
			v.Set(elem)
		}
	case reflect.Struct:
		d.decodeStruct(path, n, v)
	case reflect.Slice:
		d.decodeSlice(path, n, v)
	case reflect.Map:
		d.decodeMap(path, n, v)
	case reflect.String:
		if s, ok := d.scalar(path, n, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		s, ok := d.scalar(path, n, "true or false")
		if !ok {
			return
		}
		switch {
		case strings.EqualFold(s, "true"):
			v.SetBool(true)
		case strings.EqualFold(s, "false"):
			v.SetBool(false)
		default:
			d.fail(path, n, "expected true or false, got %s", strconv.Quote(s))
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		s, ok := d.scalar(path, n, "an integer")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(s), "_", ""), 0, 64)
		if err != nil || v.OverflowInt(i) {
			d.fail(path, n, "expected an integer, got %s", strconv.Quote(s))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		s, ok := d.scalar(path, n, "a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(path, n, "expected a finite number, got %s", strconv.Quote(s))
			return
		}
		v.SetFloat(f)
	default:
		// Only reachable if a field of an unsupported kind is added to
		// Config; the table tests decode every field.
		d.fail(path, n, "cannot decode into %s", v.Type())
	}
}

// scalar returns the env-expanded text of a scalar node, or reports that a
// scalar (described by want) was expected.
func (d *decoder) scalar(path string, n *yaml.Node, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(path, n, "expected %s, got %s", want, describe(n))
		return "", false
	}
	out, unset, bad := expandEnv(n.Value, d.getenv, allowEmptyEnv(path))
	for _, msg := range bad {
		d.fail(path, n, "%s", msg)
	}
	if len(bad) > 0 {
		return "", false
	}
	if len(unset) > 0 {
		d.unsetEnv[path] = append(d.unsetEnv[path], unset...)
	}
	return out, true
}

// decodeUnmarshaler hands a scalar with its references expanded to a type's
// own UnmarshalYAML (Duration, Size).
func (d *decoder) decodeUnmarshaler(path string, n *yaml.Node, u yaml.Unmarshaler) {
	if n.Kind == yaml.ScalarNode {
		s, ok := d.scalar(path, n, "a scalar")
		if !ok {
			return
		}
		cp := *n
		cp.Value = s
		n = &cp
	}
	if err := u.UnmarshalYAML(n); err != nil {
		d.fail(path, n, "%s", err.Error())
	}
}

// pair is one key and value of a mapping, merge keys already applied.
type pair struct {
	key, value *yaml.Node
}

// pairs lists the entries of mapping n: its own keys first, then those
// brought in by merge keys (<<) that it does not set itself. Duplicate and
// non-scalar keys are reported.
func (d *decoder) pairs(path string, n *yaml.Node) []pair {
	var own, merged []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeSources(path, val)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.probs.add(path, at(k), "keys must be plain strings, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.probs.add(childPath(path, k.Value), at(k), "duplicate key (first defined at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		own = append(own, pair{k, val})
	}
	for _, p := range merged {
		if _, dup := seen[p.key.Value]; dup {
			continue
		}
		seen[p.key.Value] = p.key.Line
		own = append(own, p)
	}
	return own
}

// mergeSources returns the entries a merge key brings in: a mapping or a
// list of mappings, usually aliases. Per the YAML merge spec, earlier
// mappings in the list win.
func (d *decoder) mergeSources(path string, v *yaml.Node) []pair {
	d.mergeDepth++
	defer func() { d.mergeDepth-- }()
	if d.mergeDepth > 16 {
		d.fail(path, v, "merge keys (<<) nested more than 16 deep")
		return nil
	}
	v = d.resolve(path, v)
	if v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		if !d.step(path, v) {
			return nil
		}
		return d.pairs(path, v)
	case yaml.SequenceNode:
		var out []pair
		for _, item := range v.Content {
			item = d.resolve(path, item)
			if item == nil {
				return out
			}
			if item.Kind != yaml.MappingNode {
				d.probs.add(path, at(item), "a merge key (<<) takes a mapping or a list of mappings, got %s", describe(item))
				continue
			}
			out = append(out, d.mergeSources(path, item)...)
		}
		return out
	}
	d.probs.add(path, at(v), "a merge key (<<) takes a mapping or a list of mappings, got %s", describe(v))
	return nil
}

// decodeStruct decodes a mapping into a struct by `yaml` tags, reporting
// unknown keys with a suggestion.
func (d *decoder) decodeStruct(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(path, n, "expected a mapping, got %s", describe(n))
		return
	}
	fields := structFields(v.Type())
	for _, p := range d.pairs(path, n) {
		key := p.key.Value
		cp := childPath(path, key)
		idx, ok := fields[key]
		if !ok && path == "" && strings.HasPrefix(key, "x-") {
			// Top-level x- keys are extensions that hold anchors for
			// the rest of the file, as in Compose files.
			continue
		}
		if !ok {
			d.fail(cp, p.key, "unknown key%s", suggest(key, v.Type()))
			continue
		}
		d.lines[cp] = at(p.key)
		d.decode(cp, p.value, v.Field(idx))
	}
}

// structFields maps yaml names to field indexes.
func structFields(t reflect.Type) map[string]int {
	out := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = i
	}
	return out
}

// decodeSlice decodes a sequence, replacing any default list.
func (d *decoder) decodeSlice(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.fail(path, n, "expected a list, got %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ip := indexPath(path, i)
		d.lines[ip] = at(item)
		d.decode(ip, item, out.Index(i))
		if d.exhausted {
			return
		}
	}
	v.Set(out)
}

// decodeMap decodes a mapping with string keys; keys present replace those
// of a default map, others are kept.
func (d *decoder) decodeMap(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(path, n, "expected a mapping, got %s", describe(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		d.fail(path, n, "cannot decode into %s", v.Type())
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for _, p := range d.pairs(path, n) {
		cp := childPath(path, p.key.Value)
		d.lines[cp] = at(p.key)
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(cp, p.value, elem)
		if d.exhausted {
			return
		}
		v.SetMapIndex(reflect.ValueOf(p.key.Value).Convert(v.Type().Key()), elem)
	}
}

// suggest proposes the key that was probably meant: a sibling within two
// edits (or differing only in case or - versus _), or a key of a nested
// section when the key was written one level too high.
func suggest(key string, t reflect.Type) string {
	fields := structFields(t)
	best, bestDist := "", 3
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	for name := range fields {
		if norm(name) == norm(key) {
			return fmt.Sprintf(" (did you mean %q?)", name)
		}
		if dist := editDistance(name, key); dist < bestDist || (dist == bestDist && name < best) {
			best, bestDist = name, dist
		}
	}
	if best != "" && bestDist <= 2 && len(key) > bestDist {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	var nested []string
	for name, idx := range fields {
		ft := t.Field(idx).Type
		if ft.Kind() == reflect.Struct {
			if _, ok := structFields(ft)[key]; ok {
				nested = append(nested, name+"."+key)
			}
		}
	}
	if len(nested) == 1 {
		return fmt.Sprintf(" (did you mean %q?)", nested[0])
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	return "; expected one of " + strings.Join(names, ", ")
}

// editDistance is the Levenshtein distance, for short keys only.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
