package watcher

import (
	"fmt"
	"strings"
	"testing"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
	"github.com/swarmdns/swarmdns/internal/logtest"
)

// TestComposeAndStackOfOneNameReported: a Compose project and a Swarm
// stack of the same name both answer to <service>.<name>; the watcher
// warns once, naming a container of each, and both stay published.
func TestComposeAndStackOfOneNameReported(t *testing.T) {
	t.Parallel()
	var logs logtest.Buffer
	e := newEnv(t, func(c *Config) {
		c.Logger = teeLogger(t, &logs)
	}, nil)
	proj := strings.ReplaceAll(dockertest.Name(t, "demo"), "-", "")
	compose := e.run(dockertest.RunOptions{Name: proj + "_web_1", Labels: map[string]string{labelComposeProject: proj, labelComposeService: "web"}})
	stack := e.run(dockertest.RunOptions{Name: proj + "_web.1.abc", Labels: map[string]string{
		labelSwarmService: proj + "_web", labelStack: proj, labelSwarmSlot: "1"}})
	e.awaitAddrs("web."+proj, append(e.ips(compose.ID), e.ips(stack.ID)...)...)
	fqdn := "web." + proj + "." + zone
	await.Until(t, soon, func() error {
		for _, l := range logs.AtLevel("warn") {
			if l["name"] == fqdn && strings.Contains(l.Message(), "Compose project and a Swarm stack") {
				return nil
			}
		}
		return fmt.Errorf("no collision warning for %s yet", fqdn)
	})
	e.barrier()
	n := 0
	for _, l := range logs.AtLevel("warn") {
		if l["name"] == fqdn {
			n++
		}
	}
	if n != 1 {
		t.Errorf("got %d collision warnings for %s; want one", n, fqdn)
	}
}
