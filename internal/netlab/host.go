package netlab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// Host is one lab host: a network namespace with lo and eth0.
type Host struct {
	lab   *Lab
	index int
	ns    string
}

// Index returns the host's number in the lab, from 1.
func (h *Host) Index() int { return h.index }

// Name returns the host's network namespace name, e.g. for
// `ip netns exec NAME …` when debugging.
func (h *Host) Name() string { return h.ns }

// Addr returns the host's current address (see Lab.MoveAddr).
func (h *Host) Addr() netip.Addr {
	h.lab.mu.Lock()
	defer h.lab.mu.Unlock()
	return h.lab.addrs[h.index]
}

// Wrap returns the command line that runs argv inside the host's namespace.
// `ip netns exec` execs the program in place (it does not fork), so the
// process started from the returned line is the program itself and signals
// reach it.
func (h *Host) Wrap(argv []string) []string {
	return append([]string{"ip", "netns", "exec", h.ns}, argv...)
}

// Command returns a command that runs name with args inside the host's
// namespace. The *exec.Cmd's process is the program itself (see Wrap), so
// ctx's cancellation and Process.Signal reach it.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	argv := h.Wrap(append([]string{name}, args...))
	return exec.CommandContext(ctx, argv[0], argv[1:]...)
}

// Start starts bin with args inside the host's namespace; see StartCmd.
func (h *Host) Start(t testing.TB, bin string, args ...string) *Proc {
	t.Helper()
	return h.StartCmd(t, h.Command(context.Background(), bin, args...))
}

// StartCmd starts cmd, made by h.Command (set its Env or Dir first), with its
// standard output and error going to one log file. The process is killed
// when t ends, and its log is printed with t.Log if t failed. The lab also
// kills it when it is torn down.
func (h *Host) StartCmd(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	prefix := h.Wrap(nil)
	if len(cmd.Args) <= len(prefix) || !slices.Equal(cmd.Args[:len(prefix)], prefix) {
		t.Fatalf("netlab: StartCmd: %v was not made by host %d's Command", cmd.Args, h.index)
	}
	if cmd.Stdout != nil || cmd.Stderr != nil {
		t.Fatalf("netlab: StartCmd: the command's output must be unset; Proc.Logs returns it")
	}
	argv := cmd.Args[len(prefix):]
	f, err := os.CreateTemp(t.TempDir(), fmt.Sprintf("h%d-%s-*.log", h.index, filepath.Base(argv[0])))
	if err != nil {
		t.Fatalf("netlab: %v", err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Start()
	f.Close() // the child has its own copy
	if err != nil {
		t.Fatalf("netlab: starting %v on host %d: %v", argv, h.index, err)
	}
	p := &Proc{t: t, host: h, cmd: cmd, log: f.Name(), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	h.lab.mu.Lock()
	h.lab.procs = append(h.lab.procs, p)
	h.lab.mu.Unlock()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			logs := p.Logs()
			if len(logs) > maxLogged {
				logs = fmt.Sprintf("(%d bytes before this cut)\n%s", len(logs)-maxLogged, logs[len(logs)-maxLogged:])
			}
			t.Logf("netlab: host %d: %v (pid %d, %v); its output:\n%s", h.index, argv, p.PID(), p.err, logs)
		}
	})
	return p
}

// maxLogged is how much of a process's output a failed test prints: the end.
const maxLogged = 64 << 10

// StopTimeout is how long Stop waits after SIGTERM before it sends SIGKILL.
const StopTimeout = 10 * time.Second

// killTimeout bounds the wait after SIGKILL; only a process stuck in the
// kernel survives that long.
const killTimeout = 10 * time.Second

// Proc is a process started in a lab host.
type Proc struct {
	t    testing.TB
	host *Host
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // cmd.Wait's result; read after done
}

// PID returns the process's id: the program's own, not a wrapper's.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Logs returns what the process has written to stdout and stderr so far.
func (p *Proc) Logs() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return fmt.Sprintf("(reading the log: %v)", err)
	}
	return string(b)
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns how it ended, as
// exec.Cmd.Wait does (nil for exit status 0). It does not time out; select
// on Done with a deadline to bound the wait.
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// Signal sends sig to the process, e.g. SIGSTOP to freeze it and SIGCONT to
// thaw it. Signalling a process that has exited returns os.ErrProcessDone.
func (p *Proc) Signal(sig os.Signal) error {
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
	}
	return p.cmd.Process.Signal(sig)
}

// Kill kills the process with SIGKILL, as kill -9 does, and waits until it
// is gone. Killing a process that has exited does nothing.
func (p *Proc) Kill() {
	p.t.Helper()
	if err := p.kill(); err != nil {
		p.t.Errorf("netlab: %v", err)
	}
}

// kill is Kill that returns its error.
func (p *Proc) kill() error {
	if err := p.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing pid %d: %w", p.PID(), err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(killTimeout):
		return fmt.Errorf("pid %d still running %v after SIGKILL", p.PID(), killTimeout)
	}
}

// Stop sends SIGTERM and waits up to StopTimeout for the process to exit,
// then returns how it ended (nil for exit status 0; a process without a
// SIGTERM handler ends with "signal: terminated"). If it is still running
// then, Stop kills it and returns an error that says so.
func (p *Proc) Stop() error {
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("netlab: stopping pid %d: %w", p.PID(), err)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(StopTimeout):
	}
	if err := p.kill(); err != nil {
		return fmt.Errorf("netlab: %w", err)
	}
	return fmt.Errorf("netlab: pid %d did not exit within %v of SIGTERM; killed it", p.PID(), StopTimeout)
}
