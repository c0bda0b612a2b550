// Package dockertest holds the helpers swarmdns's tests use to work with the
// real Docker engine: a connection that skips (or, with CI=true, fails) when
// there is no engine, unique names, the FROM-scratch test image, containers,
// networks and Compose projects removed at cleanup, the docker CLI, and a
// unix-socket proxy between a client and the engine that a test can cut.
//
// Everything a test creates in Docker is named with the process's RunID and
// labelled LabelRun=RunID(), so parallel test processes never collide and a
// crashed run's leftovers can be found with
//
//	docker ps -a --filter label=swarmdns.test.run
package dockertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/client"
)

// LabelRun is the label every container and network made through this
// package carries; its value is RunID().
const LabelRun = "swarmdns.test.run"

// opTimeout bounds each Docker API call the helpers make.
const opTimeout = 30 * time.Second

var (
	runIDOnce sync.Once
	runID     string
)

// RunID is a short random identifier of this test process ("sdt" and 8 hex
// digits), the prefix of every name the helpers create.
func RunID() string {
	runIDOnce.Do(func() {
		var b [4]byte
		_, _ = rand.Read(b[:])
		runID = "sdt" + hex.EncodeToString(b[:])
	})
	return runID
}

var nameUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

// Name returns a name unique to this process and test, usable for
// containers, networks and Compose projects (lower-case letters, digits and
// '-'): RunID, a short form of the test's name, and base.
func Name(t testing.TB, base string) string {
	t.Helper()
	test := strings.Trim(nameUnsafe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(test) > 24 {
		test = strings.TrimRight(test[len(test)-24:], "-")
		test = strings.TrimLeft(test, "-")
	}
	parts := []string{RunID()}
	if test != "" {
		parts = append(parts, test)
	}
	if base != "" {
		parts = append(parts, base)
	}
	return strings.Join(parts, "-")
}

var engine struct {
	once sync.Once
	cli  *client.Client
	err  error
}

// Engine returns the process's client for the engine that DOCKER_HOST names
// (else the default socket), with API version negotiation. The first call
// pings the engine; when it does not answer within a few seconds, every
// test that calls Engine is skipped, or failed when the env CI is "true".
// The client is shared: Close only drops its idle connections, so callers
// may but need not call it.
func Engine(t testing.TB) *client.Client {
	t.Helper()
	engine.once.Do(func() {
		cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			engine.err = fmt.Errorf("docker client: %w", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := cli.Ping(ctx); err != nil {
			engine.err = fmt.Errorf("docker engine at %s: %w", cli.DaemonHost(), err)
			return
		}
		engine.cli = cli
	})
	if engine.err != nil {
		unreachable(t, "%v", engine.err)
	}
	return engine.cli
}

func unreachable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and no usable Docker engine: "+format, args...)
	}
	t.Skipf("no usable Docker engine (set CI=true to fail instead): "+format, args...)
}

// Docker runs the docker CLI with args and returns its standard output,
// trimmed. It fails t with the command's standard error when it fails.
func Docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := DockerCmd(args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}

// DockerCmd runs the docker CLI with args and returns its standard output,
// trimmed, or an error that quotes the command and its standard error.
func DockerCmd(args ...string) (string, error) {
	return command("docker", args...)
}

func command(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*opTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &CmdError{Args: append([]string{name}, args...), Err: err, Stderr: strings.TrimSpace(stderr.String())}
	}
	return strings.TrimSpace(stdout.String()), nil
}

// CmdError is a failed docker or docker-compose command.
type CmdError struct {
	Args   []string
	Err    error
	Stderr string
}

func (e *CmdError) Error() string {
	return strings.Join(e.Args, " ") + ": " + e.Err.Error() + ": " + e.Stderr
}

func (e *CmdError) Unwrap() error { return e.Err }
