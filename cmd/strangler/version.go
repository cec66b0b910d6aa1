package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at link time by `make build`:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc123" ./cmd/strangler
//
// These are the only package-level variables of the command: the linker
// can set nothing else. Empty values fall back to the build information
// the Go toolchain embeds (module version, vcs.revision).
var (
	version string
	commit  string
)

// buildVersion is what `strangler version` reports.
type buildVersion struct {
	Version  string
	Commit   string
	Modified bool
	Go       string
	Platform string
}

// readVersion combines the link-time values with the embedded build
// information.
func readVersion() buildVersion {
	v := buildVersion{
		Version:  version,
		Commit:   commit,
		Go:       runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	return v
}

func versionLine(v buildVersion) string {
	c := v.Commit
	if v.Modified {
		c += "-dirty"
	}
	return fmt.Sprintf("strangler %s (commit %s, %s %s)", v.Version, c, v.Go, v.Platform)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Long: `Print the version, the commit it was built from and the Go version.

The version and commit come from -ldflags "-X main.version=... -X
main.commit=..." (make build sets both from git), else from the build
information the Go toolchain embeds.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := readVersion()
			c := v.Commit
			if v.Modified {
				c += " (modified)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "version: %s\ncommit:  %s\ngo:      %s %s\n", v.Version, c, v.Go, v.Platform)
			return nil
		},
	}
}
