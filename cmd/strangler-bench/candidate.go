package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The shadow candidate (upstreams.new) runs in a process of its own, the
// harness binary started again with envCandidate set: its CPU is then
// measured apart from the harness's and the proxy's (/proc/<pid>/stat), so
// the serving path's cost can be reported without it. It answers exactly
// like the upstream, so every comparison is a match and the engine's work
// per request is the smallest a real route would cost.
const (
	envCandidate      = "STRANGLER_BENCH_CANDIDATE"
	envCandidateSizes = "STRANGLER_BENCH_CANDIDATE_SIZES"
)

// candidateMain serves as the candidate when this process was started as
// one: it prints its URL on stdout and serves until stdin closes (the
// harness exited) or a signal. ok is false in a normal harness process.
func candidateMain() (code int, ok bool) {
	if os.Getenv(envCandidate) != "1" {
		return 0, false
	}
	var sizes []int
	for s := range strings.SplitSeq(os.Getenv(envCandidateSizes), ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "candidate: bad sizes:", err)
			return 2, true
		}
		sizes = append(sizes, n)
	}
	up, err := startUpstream(sizes)
	if err != nil {
		fmt.Fprintln(os.Stderr, "candidate:", err)
		return 1, true
	}
	fmt.Println(up.url)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stdinClosed := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdinClosed) }()
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	}
	if err := up.close(); err != nil {
		fmt.Fprintln(os.Stderr, "candidate:", err)
		return 1, true
	}
	return 0, true
}

// candidateProcess is a running candidate.
type candidateProcess struct {
	url   string
	pid   int
	close func()
}

// cpu is the CPU time the candidate has used.
func (c *candidateProcess) cpu() (time.Duration, bool) { return processCPU(c.pid) }

// startCandidate starts the candidate: this binary again, with
// GOMAXPROCS=1 so it cannot take both cores, and niceness nice (0: none)
// so that, when set, the serving path wins the CPU over it.
func startCandidate(ctx context.Context, sizes []int, nice int) (*candidateProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("candidate: %w", err)
	}
	list := make([]string, len(sizes))
	for i, n := range sizes {
		list[i] = strconv.Itoa(n)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), envCandidate+"=1", envCandidateSizes+"="+strings.Join(list, ","), "GOMAXPROCS=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("candidate: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("candidate: %w", err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start candidate: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = stdin.Close()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	if nice != 0 {
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, cmd.Process.Pid, nice); err != nil {
			stop()
			return nil, fmt.Errorf("candidate: nice %d: %w", nice, err)
		}
	}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	select {
	case l := <-line:
		if !strings.HasPrefix(l, "http://127.0.0.1:") {
			stop()
			return nil, fmt.Errorf("candidate did not start (said %q)", l)
		}
		return &candidateProcess{url: l, pid: cmd.Process.Pid, close: stop}, nil
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		stop()
		return nil, errors.New("candidate did not start within 30s")
	}
}
