package dockertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/swarmdns/swarmdns/internal/await"
)

func TestBusyboxImageRunsApplets(t *testing.T) {
	img := BusyboxImage(t)
	out := Docker(t, "run", "--rm", "--label", LabelRun+"="+RunID(), img, "sh", "-c", "echo hello from $(basename $(readlink /bin/nslookup))")
	if out != "hello from busybox" {
		t.Fatalf("got %q; want %q", out, "hello from busybox")
	}
}

func TestDebianImageHasGlibcGetent(t *testing.T) {
	img := DebianImage(t)
	out := Docker(t, "run", "--rm", "--label", LabelRun+"="+RunID(), img, "sh", "-c", "cat /etc/debian_version; getent hosts localhost")
	lines := strings.Split(out, "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "12.") || !strings.Contains(out, "localhost") {
		t.Fatalf("got %q; want Debian 12 and a getent line for localhost", out)
	}
}

func TestRunDNSAndBinds(t *testing.T) {
	Engine(t)
	dir := t.TempDir()
	c := Run(t, RunOptions{
		DNS:         []string{"192.0.2.53"},
		DNSSearch:   []string{"example.test"},
		Binds:       []string{dir + ":/flag:ro"},
		Healthcheck: &container.HealthConfig{Test: []string{"CMD", "/testbox", "check-file", "/flag/ok"}, Interval: 100 * time.Millisecond, Retries: 1},
	})
	cfg := Docker(t, "inspect", "-f", "{{.HostConfig.Dns}} {{.HostConfig.DnsSearch}}", c.ID)
	if cfg != "[192.0.2.53] [example.test]" {
		t.Errorf("dns config: got %q; want [192.0.2.53] [example.test]", cfg)
	}
	health := func(want string) func() error {
		return func() error {
			if got := Docker(t, "inspect", "-f", "{{.State.Health.Status}}", c.ID); got != want {
				return &notYet{"health " + got + ", want " + want}
			}
			return nil
		}
	}
	await.Until(t, 10*time.Second, health("unhealthy"))
	if err := os.WriteFile(filepath.Join(dir, "ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	await.Until(t, 10*time.Second, health("healthy"))
}

// TestToolGate runs TestToolGateHelper in a child process asking for a
// tool that does not exist: it must skip, or fail when CI=true.
func TestToolGate(t *testing.T) {
	for _, tt := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{"", false, "SKIP: TestToolGateHelper"},
		{"true", true, "CI=true and a test prerequisite is missing"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestToolGateHelper$", "-test.v")
		cmd.Env = append(os.Environ(), "CI="+tt.ci, "DOCKERTEST_TOOL_HELPER=1")
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tt.wantFail || !strings.Contains(string(out), tt.want) {
			t.Errorf("CI=%q: got error %v and output\n%s\nwant failed=%v and %q", tt.ci, err, out, tt.wantFail, tt.want)
		}
	}
}

func TestToolGateHelper(t *testing.T) {
	if os.Getenv("DOCKERTEST_TOOL_HELPER") != "1" {
		t.Skip("run by TestToolGate")
	}
	Tool(t, "swarmdns-no-such-tool")
	t.Fatal("Tool returned without the tool")
}
