package main

import (
	"bufio"
	"context"
	"encoding/json"
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
	"github.com/7cycles-ai/strangler/proxy"
)

// proxyMode says where the proxy under test runs.
//
// process (the default) runs the real `strangler serve` binary: what is
// deployed, with its own garbage collector and scheduler, so the load the
// harness itself generates (allocation, GC) is not charged to the proxy,
// and the configuration path (YAML, defaults, validation) is the real one.
// inprocess builds proxy.Server in this process: quicker to start and
// handy for profiling (-cpuprofile of one process), at the price of
// sharing a runtime with the clients and the upstream.
type proxyMode string

const (
	proxyProcess   proxyMode = "process"
	proxyInProcess proxyMode = "inprocess"
)

// runningProxy is a proxy under test.
type runningProxy struct {
	url   string
	close func()
	// cpu returns the CPU time the proxy process has used; nil when the
	// proxy runs in the harness process.
	cpu func() (time.Duration, bool)
}

func startProxy(ctx context.Context, o options, upstreamURL string, progress io.Writer) (*runningProxy, error) {
	if o.proxy == proxyInProcess {
		return startInProcess(upstreamURL, o.accessLog)
	}
	return startProcess(ctx, o, upstreamURL, progress)
}

// benchConfig is the proxy configuration of the runs: one catch-all route
// to the upstream, defaults otherwise (access log at info when wanted).
// listen is the public address ("127.0.0.1:0": any free port).
func benchConfig(upstreamURL, listen string, accessLog bool) string {
	level := "warn"
	if accessLog {
		level = "info"
	}
	return fmt.Sprintf(`server: { listen: %q, admin_listen: "127.0.0.1:0", shutdown_grace: 5s }
log: { level: %s, format: json }
upstreams:
  legacy: { url: %q }
routes:
  - { name: default, paths: ["/"], auth: optional }
`, listen, level, upstreamURL)
}

// freePort returns a loopback address nobody listens on right now. Only
// for the access-log-off runs, where the proxy does not log where it
// listens.
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

func startInProcess(upstreamURL string, accessLog bool) (*runningProxy, error) {
	cfg, err := config.Parse([]byte(benchConfig(upstreamURL, "127.0.0.1:0", accessLog)), nil)
	if err != nil {
		return nil, err
	}
	level := zapcore.WarnLevel
	if accessLog {
		level = zapcore.InfoLevel
	}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), level))
	srv, err := proxy.New(proxy.Options{Config: cfg, Logger: log})
	if err != nil {
		return nil, err
	}
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, pub, nil) }()
	return &runningProxy{
		url: "http://" + pub.Addr().String(),
		close: func() {
			cancel()
			<-done
		},
	}, nil
}

func startProcess(ctx context.Context, o options, upstreamURL string, progress io.Writer) (*runningProxy, error) {
	dir, err := os.MkdirTemp("", "strangler-bench-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	bin := o.binary
	if bin == "" {
		bin = filepath.Join(dir, "strangler")
		fmt.Fprintln(progress, "building strangler for the proxy process")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/7cycles-ai/strangler/cmd/strangler")
		if out, err := build.CombinedOutput(); err != nil {
			cleanup()
			return nil, fmt.Errorf("go build strangler: %w\n%s", err, out)
		}
	}
	listen := "127.0.0.1:0"
	if !o.accessLog {
		if listen, err = freePort(); err != nil {
			cleanup()
			return nil, err
		}
	}
	cfgPath := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(cfgPath, []byte(benchConfig(upstreamURL, listen, o.accessLog)), 0o600); err != nil {
		cleanup()
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		cleanup()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cleanup()
		return nil, fmt.Errorf("start strangler serve: %w", err)
	}
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
		cleanup()
	}
	pid := cmd.Process.Pid
	running := func(addr string) *runningProxy {
		return &runningProxy{url: "http://" + addr, close: stop, cpu: func() (time.Duration, bool) { return processCPU(pid) }}
	}

	// With the access log on, serve says where it listens; the rest of the
	// log is read and discarded so the pipe never blocks the proxy.
	addr := make(chan string, 1)
	go func() {
		br := bufio.NewReaderSize(stderr, 64<<10)
		var head []string
		for {
			line, err := br.ReadString('\n')
			if a, ok := listeningAddr(line); ok {
				addr <- a
				_, _ = io.Copy(io.Discard, br)
				return
			}
			if len(head) < 20 {
				head = append(head, strings.TrimSpace(line))
			}
			if err != nil {
				addr <- "error: " + strings.Join(head, " | ")
				return
			}
		}
	}()
	if !o.accessLog {
		waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := waitListening(waitCtx, listen, exited); err != nil {
			stop()
			return nil, err
		}
		return running(listen), nil
	}
	select {
	case a := <-addr:
		if strings.HasPrefix(a, "error: ") {
			stop()
			return nil, errors.New("strangler serve exited before listening: " + strings.TrimPrefix(a, "error: "))
		}
		return running(a), nil
	case <-time.After(time.Minute):
		stop()
		return nil, errors.New("strangler serve did not listen within a minute")
	}
}

// listeningAddr reads the public address from serve's "listening" log line.
func listeningAddr(line string) (string, bool) {
	var l struct {
		Msg    string `json:"msg"`
		Public string `json:"public"`
	}
	if json.Unmarshal([]byte(line), &l) != nil || l.Msg != "listening" || l.Public == "" {
		return "", false
	}
	return l.Public, true
}
