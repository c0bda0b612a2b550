package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// node is one swarmdns process under test.
type node struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited

	mu    sync.Mutex
	logs  bytes.Buffer
	lines []map[string]any // every JSON log line so far
	seen  *sync.Cond       // broadcast on each new line and on exit
}

// nodeOptions tells startNode how to run a node.
type nodeOptions struct {
	// Args are serve's flags; log flags and the listen addresses default to
	// loopback port 0 when not given.
	Args []string
	// Wrap, when set, turns the command line into the one to run (e.g. to
	// run it inside a network namespace).
	Wrap func(argv []string) []string
	// Env is added to the process's environment.
	Env []string
}

// startNode starts `swarmdns serve` and waits until its DNS server listens.
// The process is killed at the end of the test; its log is printed when the
// test fails.
func startNode(t *testing.T, name string, opt nodeOptions) *node {
	t.Helper()
	args := append([]string{"serve", "--node-name", name, "--log-format", "json", "--log-level", "debug"}, defaults(opt.Args)...)
	argv := append([]string{swarmdnsBin}, args...)
	if opt.Wrap != nil {
		argv = opt.Wrap(argv)
	}
	n := &node{t: t, name: name, done: make(chan struct{})}
	n.seen = sync.NewCond(&n.mu)
	n.cmd = exec.Command(argv[0], argv[1:]...)
	n.cmd.Env = append(os.Environ(), opt.Env...)
	out, err := n.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	n.cmd.Stderr = n.cmd.Stdout
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go n.read(out)
	t.Cleanup(func() {
		n.kill()
		if t.Failed() {
			t.Logf("log of node %s:\n%s", name, n.Logs())
		}
	})
	if _, err := n.waitLog(30*time.Second, func(l map[string]any) bool { return l["message"] == "dns server listening" }); err != nil {
		t.Fatalf("node %s: %v", name, err)
	}
	return n
}

// defaults adds loopback port-0 listen flags that args does not set.
func defaults(args []string) []string {
	has := func(flag string) bool {
		for _, a := range args {
			if a == flag || strings.HasPrefix(a, flag+"=") {
				return true
			}
		}
		return false
	}
	for _, d := range [][2]string{
		{"--dns-listen", "127.0.0.1:0"},
		{"--gossip-listen", "127.0.0.1:0"},
		{"--admin-listen", "127.0.0.1:0"},
		{"--upstream", "127.0.0.1:9"},
	} {
		if !has(d[0]) {
			args = append(args, d[0], d[1])
		}
	}
	return args
}

func (n *node) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var m map[string]any
		_ = json.Unmarshal(line, &m)
		n.mu.Lock()
		n.logs.Write(line)
		n.logs.WriteByte('\n')
		if m != nil {
			n.lines = append(n.lines, m)
		}
		n.seen.Broadcast()
		n.mu.Unlock()
	}
	_ = n.cmd.Wait()
	n.mu.Lock()
	close(n.done)
	n.seen.Broadcast()
	n.mu.Unlock()
}

// Logs returns everything the process wrote so far.
func (n *node) Logs() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.logs.String()
}

// logLines returns the JSON log lines so far.
func (n *node) logLines() []map[string]any {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.lines)
}

// waitLog waits for a log line that match accepts and returns it.
func (n *node) waitLog(timeout time.Duration, match func(map[string]any) bool) (map[string]any, error) {
	return n.waitLogFrom(0, timeout, match)
}

// mark returns the number of log lines so far, for waitLogFrom.
func (n *node) mark() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.lines)
}

// waitLogFrom is waitLog over the lines after the first from.
func (n *node) waitLogFrom(from int, timeout time.Duration, match func(map[string]any) bool) (map[string]any, error) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		n.mu.Lock()
		n.seen.Broadcast()
		n.mu.Unlock()
	})
	defer timer.Stop()
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := from; ; {
		for ; i < len(n.lines); i++ {
			if match(n.lines[i]) {
				return n.lines[i], nil
			}
		}
		select {
		case <-n.done:
			return nil, fmt.Errorf("process exited (%v) before the expected log line", n.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no matching log line within %v", timeout)
		}
		n.seen.Wait()
	}
}

// addr returns the address a component logged it listens on.
func (n *node) addr(message, field string) string {
	n.t.Helper()
	l, err := n.waitLog(10*time.Second, func(l map[string]any) bool { return l["message"] == message })
	if err != nil {
		n.t.Fatalf("node %s: %q: %v", n.name, message, err)
	}
	s, _ := l[field].(string)
	if s == "" {
		n.t.Fatalf("node %s: log line %q has no %q: %v", n.name, message, field, l)
	}
	return s
}

// DNS returns the node's DNS address (UDP and TCP share it).
func (n *node) DNS() string { return n.addr("dns server listening", "udp") }

// Admin returns the node's admin API address.
func (n *node) Admin() string { return n.addr("admin API listening", "addr") }

// Gossip returns the node's gossip address.
func (n *node) Gossip() string { return n.addr("gossip listening", "addr") }

// signal sends sig to the process.
func (n *node) signal(sig syscall.Signal) {
	if n.cmd.Process != nil {
		_ = n.cmd.Process.Signal(sig)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (n *node) stop(timeout time.Duration) error {
	n.signal(syscall.SIGTERM)
	select {
	case <-n.done:
		if !n.cmd.ProcessState.Success() {
			return fmt.Errorf("node %s exited with %v", n.name, n.cmd.ProcessState)
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("node %s did not exit within %v of SIGTERM", n.name, timeout)
	}
}

// kill sends SIGKILL (as kill -9) and waits for the process to go.
func (n *node) kill() {
	n.signal(syscall.SIGKILL)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
	}
}

// runCLI runs a swarmdns debug subcommand and returns its output and exit code.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, swarmdnsBin, args...).CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running swarmdns %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}
