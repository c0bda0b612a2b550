package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/client"
)

// TestboxTag is the tag of the test image TestboxImage builds.
const TestboxTag = "swarmdns-testbox:test"

// labelTestboxHash holds the hash of the testbox binary inside the image,
// so an image built from the same source is reused across runs.
const labelTestboxHash = "swarmdns.testbox.sha256"

var (
	testboxOnce sync.Once
	testboxErr  error
)

// TestboxImage returns the reference of an image that holds only the static
// testbox program (see package testbox for its commands) as its entrypoint,
// with "sleep" as the default command. It is built at most once per test
// process, and not at all when an image with the same binary already exists.
// It calls Engine, so it skips or fails like Engine without an engine.
func TestboxImage(t testing.TB) string {
	t.Helper()
	cli := Engine(t)
	testboxOnce.Do(func() { testboxErr = buildTestbox(cli) })
	if testboxErr != nil {
		t.Fatalf("testbox image: %v", testboxErr)
	}
	return TestboxTag
}

func buildTestbox(cli *client.Client) error {
	dir, err := os.MkdirTemp("", "testbox")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "testbox")
	if err := goBuild(bin); err != nil {
		return err
	}
	content, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(content)
	hash := hex.EncodeToString(sum[:])

	ctx, cancel := context.WithTimeout(context.Background(), 2*opTimeout)
	defer cancel()
	if img, err := cli.ImageInspect(ctx, TestboxTag); err == nil && img.Config != nil && img.Config.Labels[labelTestboxHash] == hash {
		return nil
	}

	dockerfile := "FROM scratch\nCOPY testbox /testbox\nENTRYPOINT [\"/testbox\"]\nCMD [\"sleep\"]\n"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"testbox", 0o755, content}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	resp, err := cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{
		Tags:        []string{TestboxTag},
		Labels:      map[string]string{labelTestboxHash: hash},
		Remove:      true,
		ForceRemove: true,
	})
	if err != nil {
		return fmt.Errorf("docker build: %w", err)
	}
	defer resp.Body.Close()
	return readBuildStream(resp.Body)
}

// readBuildStream drains a build's JSON message stream and returns the error
// it reports, if any.
func readBuildStream(r io.Reader) error {
	dec := json.NewDecoder(r)
	var log strings.Builder
	for {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("docker build: reading output: %w", err)
		}
		log.WriteString(msg.Stream)
		if msg.Error != "" {
			return fmt.Errorf("docker build: %s\n%s", msg.Error, log.String())
		}
	}
}

// goBuild compiles the testbox program, static, into out.
func goBuild(out string) error {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return errors.New("cannot locate the dockertest source")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		// "go test" puts its own GOROOT in the environment of the tests.
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	cmd := exec.Command(goBin, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, "./testbox")
	cmd.Dir = filepath.Dir(self)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build testbox: %w\n%s", err, b)
	}
	return nil
}
