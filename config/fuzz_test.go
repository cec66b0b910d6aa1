package config

import (
	"errors"
	"testing"
)

// FuzzParse: no input may panic Parse or make it return something
// inconsistent: either a Config that validates, or an *Error whose problems
// all say something.
func FuzzParse(f *testing.F) {
	// Small seeds only: the fuzzer minimizes every input that finds new
	// coverage, which for a multi-KiB file takes longer than a whole
	// fuzzing pass. The shipped files are covered by TestShippedConfigsAreValid.
	for _, s := range []string{
		minimal,
		minimal + "routes: [{name: a, paths: [\"/x/{id}\"], auth: none}]\n",
		minimal + "auth: {jwt: [{name: s, issuer: x, audiences: [a], algorithms: [HS256], secret: ${S:-0123456789abcdef0123456789abcdef}}]}\n",
		minimal + "tenancy: {roles: {viewer: [read]}, org_header: X-Org}\nshadow: {readiness: {min_match_rate: 0.5}}\n",
		minimal + "x-a: &a {timeout: 1s}\nupstreams: {legacy: {<<: *a, url: \"http://h\"}, new: {url: \"https://n/p\"}}\n",
		minimal + "store: {driver: postgres, database_url: \"postgres://u@h/d\"}\nflags: {provider: file, file: f.json}\n",
		"a: &a [*a]\n",
		"server: &s { <<: *s }\n",
		"<<: [*x]\n",
		"upstreams: {legacy: {url: ${A:-http://x}}}\n",
		"server: {listen: \"${\"}\n",
		"---\n---\n",
		"? [a, b]\n: c\n",
		"tenancy: {roles: {owner: ~, admin: [~]}}\n",
		"shadow: {max_body_bytes: 99999999999999999999GiB}\n",
		"\t",
		"!!binary AAAA",
		"x: !!int 1.5\n",
	} {
		f.Add([]byte(s))
	}
	getenv := func(k string) string {
		if k == "A" {
			return "http://127.0.0.1:1"
		}
		return ""
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, getenv)
		if err == nil {
			if cfg == nil {
				t.Fatal("nil config without error")
			}
			if verr := Validate(cfg); verr != nil {
				t.Fatalf("Parse accepted a config that Validate rejects: %v", verr)
			}
			_ = Warnings(cfg)
			return
		}
		if cfg != nil {
			t.Fatal("config returned with an error")
		}
		var cerr *Error
		if !errors.As(err, &cerr) {
			t.Fatalf("error is %T, want *config.Error: %v", err, err)
		}
		if len(cerr.Problems) == 0 || len(cerr.Problems) > maxProblems+1 {
			t.Fatalf("%d problems", len(cerr.Problems))
		}
		for _, p := range cerr.Problems {
			if p.Message == "" {
				t.Fatalf("empty problem message at %q", p.Path)
			}
		}
	})
}
