package config

import (
	"fmt"
	"strings"
)

// Environment references in scalar values:
//
//	${NAME}           the value of NAME; unset or empty is a problem, except
//	                  at the keys of allowEmptyEnv, where it expands to ""
//	${NAME:-default}  the value of NAME, or default when NAME is unset or empty
//	$${               a literal "${"
//
// Expansion happens per scalar value after YAML parsing, never in keys and
// never recursively: the value of a variable is used as is, so a variable
// cannot inject YAML structure or further references. A "$" not followed
// by "{" is literal ($HOME is not expanded). The getenv function cannot tell
// unset from empty, so both count as unset, as with the shell's ${NAME:?}.

// allowEmptyEnv lists the keys whose empty value is meaningful, so that an
// unset variable there expands to "" instead of being a problem: the
// example configuration writes database_url: ${STRANGLER_DATABASE_URL} even
// for the memory store, and an unset bootstrap token disables token access.
// Validation still requires these keys where they are needed (database_url
// for postgres, file for the file flag provider) and then names the unset
// variable.
func allowEmptyEnv(path string) bool {
	switch path {
	case "store.database_url", "store.seed_file", "admin.bootstrap_token", "auth.issuer.signing_key_file", "flags.file":
		return true
	}
	return false
}

// expandEnv expands the references in s. It returns the expanded value, the
// names of variables that were unset and expanded to "" (only when
// allowEmpty), and one message per bad reference.
func expandEnv(s string, getenv func(string) string, allowEmpty bool) (out string, unset, bad []string) {
	if !strings.Contains(s, "${") {
		return s, nil, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		j += i
		if j > 0 && s[j-1] == '$' {
			// "$${" is an escaped literal "${": the first "$" was already
			// written, so write "{" and move on.
			b.WriteString(s[i:j])
			b.WriteString("{")
			i = j + 2
			continue
		}
		b.WriteString(s[i:j])
		end := strings.IndexByte(s[j+2:], '}')
		if end < 0 {
			bad = append(bad, fmt.Sprintf("unterminated %q: expected ${NAME} or ${NAME:-default}", s[j:]))
			return s, unset, bad
		}
		ref := s[j+2 : j+2+end]
		i = j + 2 + end + 1
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validEnvName(name) {
			bad = append(bad, fmt.Sprintf("invalid environment reference ${%s}: a name is letters, digits and _, not starting with a digit", ref))
			continue
		}
		v := getenv(name)
		switch {
		case v != "":
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		case allowEmpty:
			unset = append(unset, name)
		default:
			bad = append(bad, fmt.Sprintf("environment variable %s is not set (write ${%s:-} to allow an empty value)", name, name))
		}
	}
	return b.String(), unset, bad
}

// validEnvName reports whether name is a portable environment variable name.
func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
