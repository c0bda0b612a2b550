// Package e2e holds swarmdns's end-to-end tests: the real binary, run as
// processes against the machine's real Docker Engine, queried over the wire.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// swarmdnsBin is the binary under test, built once by TestMain.
var swarmdnsBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "swarmdns-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	swarmdnsBin = filepath.Join(dir, "swarmdns")
	build := exec.Command("go", "build", "-race", "-o", swarmdnsBin, "../cmd/swarmdns")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building swarmdns:", err)
		return 1
	}
	return m.Run()
}
