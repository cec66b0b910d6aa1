// Package config holds the configuration of strangler: the structs in
// config.go are the documentation of every key of the YAML file (SPEC §4).
//
// Loading is one pass over the YAML node tree (decode.go) that expands
// ${ENV} references (env.go), rejects unknown keys and reports type errors,
// each with its YAML path and line, collected rather than first-only.
// Defaults are set in one place (defaults.go); validation (validate.go)
// reports every remaining problem with its YAML path; Warnings
// (warnings.go) lists advice that does not stop the proxy from starting.
//
//	cfg, err := config.Load("configs/strangler.yaml")
//	var cerr *config.Error
//	if errors.As(err, &cerr) {
//		for _, p := range cerr.Problems {
//			fmt.Println(p) // routes[2].auth: must be one of required, optional, none (line 14)
//		}
//	}
//
// This package is a leaf: every other package may read its types, and it
// imports none of them. It holds no package-level mutable state.
package config
