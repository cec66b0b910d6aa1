package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/internal/app"
)

// proxyMode says where the proxy under test runs.
//
// process (the default) runs the real `strangler serve` binary: what is
// deployed, with its own garbage collector and scheduler, so the load the
// harness itself generates (allocation, GC) is not charged to the proxy,
// its CPU is measured on its own, and the configuration path (YAML, seed
// file, defaults, validation) is the real one. inprocess builds the same
// application (internal/app, as serve does) in this process: quicker to
// start and handy for profiling (-cpuprofile of one process), at the price
// of sharing a runtime with the clients and the upstream.
type proxyMode string

const (
	proxyProcess   proxyMode = "process"
	proxyInProcess proxyMode = "inprocess"
)

// runningProxy is a proxy under test.
type runningProxy struct {
	url, adminURL string
	close         func()
	// cpu returns the CPU time the proxy process has used; nil when the
	// proxy runs in the harness process.
	cpu func() (time.Duration, bool)
}

// Route prefixes of the scenarios (benchConfig).
const (
	prefixAnonymous = "/anon"
	prefixAuthed    = "/authd"
)

// Seeded identities (benchSeed). The password is a fixture of a memory
// store that lives as long as the run.
const (
	benchEmail    = "bench@bench.test"
	benchPassword = "bench-password-of-a-throwaway-store"
	orgLegacy     = "bench"
	orgShadowed   = "shadowed"
)

// benchConfig is the proxy configuration of the runs: the memory store
// seeded from seedFile, the built-in issuer (login and API key creation
// for the auth scenarios), the harness's upstream as legacy and the
// candidate as new, and three routes:
//
//   - anon (/anon): auth none, the plain passthrough (scenario legacy);
//   - authd (/authd): auth required, permission read (scenarios auth, jwt,
//     shadow; the org "shadowed" is pinned to shadow by the seed's flags),
//     shadow.sample_rate from -shadow-sample-rate;
//   - default (/): what else arrives.
//
// shadow.cpu_budget comes from -shadow-cpu-budget.
//
// listen and adminListen are the listener addresses.
func benchConfig(upstreamURL, candidateURL, seedFile, listen, adminListen string, accessLog bool, sh shadowKnobs) string {
	level := "warn"
	if accessLog {
		level = "info"
	}
	return fmt.Sprintf(`server: { listen: %q, admin_listen: %q, shutdown_grace: 5s }
log: { level: %s, format: json }
store: { driver: memory, seed_file: %q }
upstreams:
  legacy: { url: %q }
  new: { url: %q }
auth:
  issuer: { enabled: true, access_ttl: 1h }
routes:
  - { name: anon, paths: [%q], auth: none }
  - { name: authd, paths: [%q], auth: required, permission: read, shadow: { sample_rate: %g } }
  - { name: default, paths: ["/"], auth: optional }
shadow: { cpu_budget: %g }
`, listen, adminListen, level, seedFile, upstreamURL, candidateURL, prefixAnonymous, prefixAuthed, sh.sampleRate, sh.cpuBudget)
}

// benchSeed is the store.seed_file of the runs: two orgs, one owner of
// both, and the flags section pinning org "shadowed" to shadow on route
// authd (org "bench" stays legacy, the default).
func benchSeed() string {
	return fmt.Sprintf(`orgs:
  - { slug: %[1]s, name: Bench }
  - { slug: %[2]s, name: Shadowed }
users:
  - email: %[3]s
    password: %[4]q
    memberships: [{ org: %[1]s, role: owner }, { org: %[2]s, role: owner }]
flags:
  overrides: [{ flag: route.authd, org: %[2]s, variant: shadow, reason: bench }]
`, orgLegacy, orgShadowed, benchEmail, benchPassword)
}

// freePort returns a loopback address nobody listens on right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// waitListening polls addr until it accepts connections.
func waitListening(ctx context.Context, addr string, exited <-chan struct{}) error {
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New("strangler serve exited before listening")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// writeFiles writes the configuration and the seed into dir and returns
// the configuration's path.
func writeFiles(dir, upstreamURL, candidateURL, listen, adminListen string, accessLog bool, sh shadowKnobs) (string, error) {
	seed := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seed, []byte(benchSeed()), 0o600); err != nil {
		return "", err
	}
	cfg := filepath.Join(dir, "bench.yaml")
	return cfg, os.WriteFile(cfg, []byte(benchConfig(upstreamURL, candidateURL, seed, listen, adminListen, accessLog, sh)), 0o600)
}

func startProxy(ctx context.Context, o options, upstreamURL, candidateURL string, progress io.Writer) (*runningProxy, error) {
	dir, err := os.MkdirTemp("", "strangler-bench-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	var px *runningProxy
	if o.proxy == proxyInProcess {
		px, err = startInProcess(ctx, dir, upstreamURL, candidateURL, o.accessLog, o.shadow)
	} else {
		px, err = startProcess(ctx, dir, o, upstreamURL, candidateURL, progress)
	}
	if err != nil {
		cleanup()
		return nil, err
	}
	stop := px.close
	px.close = func() { stop(); cleanup() }
	return px, nil
}

func startInProcess(ctx context.Context, dir, upstreamURL, candidateURL string, accessLog bool, sh shadowKnobs) (*runningProxy, error) {
	cfgPath, err := writeFiles(dir, upstreamURL, candidateURL, "127.0.0.1:0", "127.0.0.1:0", accessLog, sh)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	level := zapcore.WarnLevel
	if accessLog {
		level = zapcore.InfoLevel
	}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), level))
	a, err := app.New(ctx, app.Options{Config: cfg, Logger: log})
	if err != nil {
		return nil, err
	}
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.Close(context.Background())
		return nil, err
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = pub.Close()
		a.Close(context.Background())
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx, pub, adm) }()
	return &runningProxy{
		url:      "http://" + pub.Addr().String(),
		adminURL: "http://" + adm.Addr().String(),
		close: func() {
			cancel()
			<-done
		},
	}, nil
}

func startProcess(ctx context.Context, dir string, o options, upstreamURL, candidateURL string, progress io.Writer) (*runningProxy, error) {
	bin := o.binary
	if bin == "" {
		bin = filepath.Join(dir, "strangler")
		fmt.Fprintln(progress, "building strangler for the proxy process")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/7cycles-ai/strangler/cmd/strangler")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build strangler: %w\n%s", err, out)
		}
	}
	listen, err := freePort()
	if err != nil {
		return nil, err
	}
	adminListen, err := freePort()
	if err != nil {
		return nil, err
	}
	cfgPath, err := writeFiles(dir, upstreamURL, candidateURL, listen, adminListen, o.accessLog, o.shadow)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(), o.proxyEnv...)
	// The log (the access log among it) goes to a file, as a deployed
	// proxy's log goes to a file or a collector: reading it through a pipe
	// would wake the harness once per request and charge that CPU to the
	// harness side of every proxied scenario. Its first lines explain an
	// early exit.
	logPath := filepath.Join(dir, "proxy.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("proxy log: %w", err)
	}
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start strangler serve: %w", err)
	}
	_ = logFile.Close() // the child has its own descriptor
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	head := func() string { return logHead(logPath, 20) }
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, addr := range []string{listen, adminListen} {
		if err := waitListening(waitCtx, addr, exited); err != nil {
			stop()
			return nil, fmt.Errorf("%w: %s", err, head())
		}
	}
	pid := cmd.Process.Pid
	return &runningProxy{
		url: "http://" + listen, adminURL: "http://" + adminListen, close: stop,
		cpu: func() (time.Duration, bool) { return processCPU(pid) },
	}, nil
}

// logHead returns the first n lines of the log at path, joined.
func logHead(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for len(lines) < n && sc.Scan() {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	return strings.Join(lines, " | ")
}
