package dockertest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/swarmdns/swarmdns/internal/await"
)

func TestNameIsUniqueAndValid(t *testing.T) {
	n := Name(t, "web")
	if !strings.HasPrefix(n, RunID()+"-") || !strings.HasSuffix(n, "-web") {
		t.Fatalf("got %q; want %s-…-web", n, RunID())
	}
	if strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		t.Fatalf("got %q; want only [a-z0-9-]", n)
	}
}

func TestTestboxSleepIgnoresHUPAndExitsOnTERM(t *testing.T) {
	cli := Engine(t)
	c := Run(t, RunOptions{})
	Docker(t, "kill", "-s", "HUP", c.ID)
	Docker(t, "kill", "-s", "USR1", c.ID)
	await.Until(t, 10*time.Second, func() error {
		logs := Docker(t, "logs", c.ID)
		if !strings.Contains(logs, "user defined signal 1, ignored") {
			return &notYet{"logs " + logs}
		}
		return nil
	})
	ctx := context.Background()
	info, err := cli.ContainerInspect(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !info.State.Running {
		t.Fatalf("after SIGHUP and SIGUSR1: got state %q; want running", info.State.Status)
	}
	Docker(t, "stop", "-t", "10", c.ID)
	info, err = cli.ContainerInspect(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Running || info.State.ExitCode != 0 {
		t.Fatalf("after stop: got running=%v exit=%d; want stopped with 0", info.State.Running, info.State.ExitCode)
	}
}

func TestTestboxExitAfter(t *testing.T) {
	cli := Engine(t)
	c := Run(t, RunOptions{Cmd: []string{"exit-after", "10ms", "3"}})
	await.Until(t, 10*time.Second, func() error {
		info, err := cli.ContainerInspect(context.Background(), c.ID)
		if err != nil {
			return err
		}
		if info.State.Running || info.State.ExitCode != 3 {
			return &notYet{"state " + info.State.Status}
		}
		return nil
	})
}

func TestRunAttachesNetworksAndAliases(t *testing.T) {
	cli := Engine(t)
	n1 := Network(t, NetworkOptions{})
	n2 := Network(t, NetworkOptions{Name: Name(t, "second")})
	c := Run(t, RunOptions{Networks: []string{n1, n2}, Aliases: map[string][]string{n2: {"alias-two"}}, Labels: map[string]string{"x": "y"}})
	info, err := cli.ContainerInspect(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(info.NetworkSettings.Networks); got != 2 {
		t.Fatalf("got %d networks; want 2", got)
	}
	if ep := info.NetworkSettings.Networks[n2]; ep == nil || !contains(ep.Aliases, "alias-two") {
		t.Fatalf("got endpoint %+v on %s; want alias alias-two", ep, n2)
	}
	if info.Config.Labels[LabelRun] != RunID() || info.Config.Labels["x"] != "y" {
		t.Fatalf("got labels %v; want %s=%s and x=y", info.Config.Labels, LabelRun, RunID())
	}
}

func TestSocketProxyCutAndRestore(t *testing.T) {
	p := NewSocketProxy(t, "")
	cli := p.Client(t)
	ping := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := cli.Ping(ctx)
		return err
	}
	if err := ping(); err != nil {
		t.Fatalf("through the proxy: got %v; want a pong", err)
	}
	// A long-lived stream must end when the proxy is cut.
	msgs, errs := cli.Events(context.Background(), events.ListOptions{})
	_ = msgs
	p.Cut()
	select {
	case err := <-errs:
		if err == nil {
			t.Fatal("event stream: got nil error; want one")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("event stream still open 10s after the cut")
	}
	if err := ping(); err == nil {
		t.Fatal("cut proxy: got a pong; want an error")
	}
	p.Restore()
	if err := ping(); err != nil {
		t.Fatalf("restored proxy: got %v; want a pong", err)
	}
}

type notYet struct{ what string }

func (e *notYet) Error() string { return "not yet: " + e.what }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestEngineGate runs TestEngineGateHelper in a child process against an
// engine that does not exist: it must skip, or fail when CI=true.
func TestEngineGate(t *testing.T) {
	host := "unix://" + t.TempDir() + "/none.sock"
	for _, tt := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{"", false, "SKIP: TestEngineGateHelper"},
		{"true", true, "CI=true and no usable Docker engine"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEngineGateHelper$", "-test.v")
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+host, "CI="+tt.ci, "DOCKERTEST_GATE_HELPER=1")
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tt.wantFail || !strings.Contains(string(out), tt.want) {
			t.Errorf("CI=%q: got error %v and output\n%s\nwant failed=%v and %q", tt.ci, err, out, tt.wantFail, tt.want)
		}
	}
}

func TestEngineGateHelper(t *testing.T) {
	if os.Getenv("DOCKERTEST_GATE_HELPER") != "1" {
		t.Skip("run by TestEngineGate")
	}
	Engine(t)
	t.Fatal("Engine returned without an engine")
}
