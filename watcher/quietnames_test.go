package watcher

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/internal/await"
	"github.com/swarmdns/swarmdns/internal/dockertest"
	"github.com/swarmdns/swarmdns/internal/logtest"
)

// TestDockerNameFormsLogQuietly: the names Docker itself makes (a Swarm
// task's <service>.<slot>.<task ID>, Compose v1's <project>_<service>_<n>,
// a generated <adjective>_<surname>) are respelt for DNS without a warn
// line at start: a debug line each and one info summary. A label value
// that is wrong (swarmdns.enable=nope) is a warning.
func TestDockerNameFormsLogQuietly(t *testing.T) {
	t.Parallel()
	scope := dockertest.Name(t, "")
	base := strings.ReplaceAll(scope, "-", "")
	svc := base + "_web"
	for _, o := range []dockertest.RunOptions{
		{Name: svc + ".1.k3l4ctq0ju7yq2pm4ne4bzvhv", Labels: map[string]string{
			labelSwarmService: svc, labelStack: base, labelSwarmSlot: "1",
			labelSwarmTaskName: svc + ".1.k3l4ctq0ju7yq2pm4ne4bzvhv",
		}},
		{Name: base + "_api_1", Labels: map[string]string{labelComposeProject: base, labelComposeService: "api"}},
		{Name: base + "_heyrovsky"},
	} {
		if o.Labels == nil {
			o.Labels = map[string]string{}
		}
		o.Labels[scopeLabel] = scope
		dockertest.Run(t, o)
	}
	var logs logtest.Buffer
	e := newEnv(t, func(c *Config) {
		c.WatchLabel = scopeLabel + "=" + scope
		c.Logger = teeLogger(t, &logs)
	}, nil)

	if warns := logs.AtLevel("warn", "error"); len(warns) > 0 {
		t.Errorf("Docker's own name forms logged warnings at start: %v", warns)
	}
	var summaries, renamed int
	for _, l := range logs.Lines() {
		switch {
		case l.Level() == "info" && strings.Contains(l.Message(), "published with '-' instead"):
			summaries++
			if l["containers"] != float64(3) {
				t.Errorf("summary counts %v containers; want 3: %v", l["containers"], l)
			}
		case l.Level() == "debug" && strings.Contains(l.Message(), "is not a valid DNS name; published as"):
			renamed++
		}
	}
	if summaries != 1 || renamed < 3 {
		t.Errorf("got %d summaries and %d debug renames; want 1 and at least 3:\n%s", summaries, renamed, logs.String())
	}

	// After the start: a wrong label value is the operator's to fix.
	bad := e.run(dockertest.RunOptions{Name: dockertest.Name(t, "bad"), Labels: map[string]string{LabelEnable: "nope"}})
	await.Until(t, soon, func() error {
		for _, l := range logs.AtLevel("warn") {
			if strings.Contains(l.Message(), `swarmdns.enable="nope"`) && l["container"] == short(bad.ID) {
				return nil
			}
		}
		return fmt.Errorf("no warning about swarmdns.enable=nope yet")
	})
	if n := len(logs.AtLevel("warn")); n != 1 {
		t.Errorf("got %d warnings; want only the one about the label:\n%s", n, logs.String())
	}
	var after int
	for _, l := range logs.Lines() {
		if strings.Contains(l.Message(), "published with '-' instead") {
			after++
		}
	}
	if after != 1 {
		t.Errorf("got %d summary lines; want exactly one per start", after)
	}
}

// teeLogger logs at debug level to the test's log and into logs.
func teeLogger(t *testing.T, logs *logtest.Buffer) zerolog.Logger {
	return zerolog.New(zerolog.MultiLevelWriter(logs, zerolog.NewTestWriter(t))).Level(zerolog.DebugLevel)
}
