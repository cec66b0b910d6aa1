package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxConfigBytes bounds the size of a configuration file; real ones are a
// few KiB.
const maxConfigBytes = 1 << 20

// Load reads the configuration file at path, expands ${ENV} references from
// the process environment and validates it, including that the files it
// names (seed_file, flags.file, signing_key_file) exist — relative paths
// are relative to the working directory. Problems with the content are
// returned as an *Error listing each with its YAML path and line; an
// unreadable file is a plain wrapped error.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return parse(data, os.Getenv, true)
}

// Parse decodes and validates a configuration. getenv resolves ${ENV}
// references (nil: every variable is unset); an empty value counts as
// unset. It never touches the file system. Every problem found — YAML
// syntax, unknown keys, wrong types, unset variables, invalid values — is
// returned in one *Error, each with its YAML path and line.
func Parse(data []byte, getenv func(string) string) (*Config, error) {
	return parse(data, getenv, false)
}

func parse(data []byte, getenv func(string) string, checkFiles bool) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var ps problems
	if len(data) > maxConfigBytes {
		ps.add("", pos{}, "configuration is larger than %d bytes", maxConfigBytes)
		return nil, ps.err()
	}
	root, err := parseYAML(data)
	if err != nil {
		var p Problem
		if errors.As(err, &p) {
			ps.list = append(ps.list, p)
		} else {
			ps.add("", pos{}, "%s", err)
		}
		return nil, ps.err()
	}

	cfg := Default()
	d := newDecoder(getenv, &ps)
	if root != nil {
		d.decode("", root, reflect.ValueOf(cfg).Elem())
	}
	if d.exhausted {
		return nil, ps.err()
	}
	ApplyDefaults(cfg)

	var vps problems
	validate(cfg, &vps)
	if checkFiles {
		checkReferencedFiles(cfg, &vps)
	}
	for _, p := range vps.list {
		if d.causedBy(p.Path) {
			continue
		}
		if vars := d.unsetEnv[p.Path]; len(vars) > 0 {
			p.Message += fmt.Sprintf(" (environment variable %s is not set)", strings.Join(vars, ", "))
		}
		ps.add(p.Path, d.posOf(p.Path), "%s", p.Message)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// yamlLineRE finds the line in yaml.v3's syntax errors ("yaml: line 3: ...").
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses exactly one YAML document and returns its root node
// (nil for an empty document). Syntax errors come back as a Problem.
func parseYAML(data []byte) (root *yaml.Node, err error) {
	defer func() {
		// yaml.v3 has panicked on malformed input before (CVE-2022-28948);
		// a configuration file must never crash the process.
		if r := recover(); r != nil {
			root, err = nil, Problem{Message: fmt.Sprintf("YAML could not be parsed: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxProblem(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, Problem{Line: extra.Line, Column: extra.Column, Message: "only one YAML document is allowed (found a second \"---\")"}
	case !errors.Is(err, io.EOF):
		return nil, syntaxProblem(err)
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return doc.Content[0], nil
	}
	return nil, nil
}

func syntaxProblem(err error) Problem {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{Line: line, Message: "YAML syntax: " + m[2]}
	}
	return Problem{Message: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

// Error lets a single Problem travel as an error.
func (p Problem) Error() string { return p.String() }

// causedBy reports whether a validation problem at path is a consequence
// of a decode problem at or above it (a value that failed to decode is left
// at its default, which validation may then dislike).
func (d *decoder) causedBy(path string) bool {
	for p := path; p != ""; p = parentPath(p) {
		if d.badPaths[p] {
			return true
		}
	}
	return d.badPaths[""] // the document itself was not a mapping
}

// posOf returns the position of path, or of its closest ancestor present
// in the file (a missing key is reported at the mapping that lacks it).
func (d *decoder) posOf(path string) pos {
	for p := path; p != ""; p = parentPath(p) {
		if at, ok := d.lines[p]; ok {
			return at
		}
	}
	return pos{}
}

// parentPath strips the last step of a YAML path: "routes[2].auth" →
// "routes[2]" → "routes" → "".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

// checkReferencedFiles reports files named by the configuration that
// cannot be opened. Only Load does this: Parse never touches the disk.
func checkReferencedFiles(c *Config, ps *problems) {
	check := func(path, name string) {
		st, err := os.Stat(name)
		switch {
		case err != nil:
			ps.add(path, pos{}, "cannot read %s: %v", name, errors.Unwrap(err))
		case st.IsDir():
			ps.add(path, pos{}, "%s is a directory, not a file", name)
		}
	}
	if c.Store.Driver == "memory" && c.Store.SeedFile != "" {
		check("store.seed_file", c.Store.SeedFile)
	}
	if c.Flags.Provider == "file" && c.Flags.File != "" {
		check("flags.file", c.Flags.File)
	}
	if c.Auth.Issuer.Enabled && c.Auth.Issuer.SigningKeyFile != "" {
		check("auth.issuer.signing_key_file", c.Auth.Issuer.SigningKeyFile)
	}
}
