package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// This file builds the images of real DNS clients (busybox's nslookup and
// glibc's getent) that the interoperability tests run, and gates tests on
// the host tools they need.

// Tool returns the path of the program name found in PATH. When it is
// missing the test is skipped, or failed when the env CI is "true": CI
// installs every tool the tests use (see .ci/run).
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s is not installed: %v", name, err)
	}
	return path
}

// Missing skips t, or fails it when the env CI is "true", for a test
// prerequisite (a tool, root) that CI provides.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and a test prerequisite is missing: "+format, args...)
	}
	t.Skipf("test prerequisite missing (set CI=true to fail instead): "+format, args...)
}

// BusyboxTag is the tag of the image BusyboxImage builds.
const BusyboxTag = "swarmdns-busybox:test"

// labelBusyboxHash holds the hash of the busybox binary inside the image.
const labelBusyboxHash = "swarmdns.busybox.sha256"

// busyboxPaths are where Debian's busybox-static puts the binary.
var busyboxPaths = []string{"/bin/busybox", "/usr/bin/busybox"}

var (
	busyboxOnce sync.Once
	busyboxErr  error
	busyboxMiss error // no static busybox on the machine
)

// BusyboxImage returns the reference of an image made FROM scratch around
// the machine's static busybox (Debian's busybox-static): /bin/busybox, a
// symlink in /bin for each applet (sh, nslookup, wget, sleep, ...), and
// "/bin/sh" as the command. It is built at most once per process, and not
// at all when an image with the same binary exists. Without a static
// busybox the test is skipped (failed with CI=true); it calls Engine.
func BusyboxImage(t testing.TB) string {
	t.Helper()
	cli := Engine(t)
	busyboxOnce.Do(func() { busyboxMiss, busyboxErr = buildBusybox(cli) })
	if busyboxMiss != nil {
		Missing(t, "%v (install busybox-static)", busyboxMiss)
	}
	if busyboxErr != nil {
		t.Fatalf("busybox image: %v", busyboxErr)
	}
	return BusyboxTag
}

// findStaticBusybox returns the path of a statically linked busybox.
func findStaticBusybox() (string, error) {
	var reasons []string
	for _, p := range busyboxPaths {
		f, err := elf.Open(p)
		if err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		dynamic := false
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				dynamic = true
			}
		}
		f.Close()
		if dynamic {
			reasons = append(reasons, p+" is dynamically linked")
			continue
		}
		return p, nil
	}
	return "", fmt.Errorf("no static busybox: %s", strings.Join(reasons, "; "))
}

func buildBusybox(cli *client.Client) (miss, err error) {
	path, err := findStaticBusybox()
	if err != nil {
		return err, nil
	}
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(content)
	hash := hex.EncodeToString(sum[:])
	ctx, cancel := context.WithTimeout(context.Background(), 2*opTimeout)
	defer cancel()
	if img, err := cli.ImageInspect(ctx, BusyboxTag); err == nil && img.Config != nil && img.Config.Labels[labelBusyboxHash] == hash {
		return nil, nil
	}
	list, err := exec.CommandContext(ctx, path, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, dir := range []string{"bin/", "etc/", "tmp/"} {
		mode := int64(0o755)
		if dir == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: mode, ModTime: now}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "bin/busybox", Mode: 0o755, Size: int64(len(content)), ModTime: now}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(content); err != nil {
		return nil, err
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", Mode: 0o777, ModTime: now}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return nil, importImage(ctx, cli, &buf, BusyboxTag, `CMD ["/bin/sh"]`, "LABEL "+labelBusyboxHash+"="+hash)
}

// importImage runs "docker import" of the root file system tarball r as
// tag, with Dockerfile instructions (CMD, LABEL, ENV, ...) as changes.
func importImage(ctx context.Context, cli *client.Client, r io.Reader, tag string, changes ...string) error {
	resp, err := cli.ImageImport(ctx, image.ImportSource{Source: r, SourceName: "-"}, tag, image.ImportOptions{Changes: changes})
	if err != nil {
		return fmt.Errorf("docker import %s: %w", tag, err)
	}
	defer resp.Close()
	if err := readBuildStream(resp); err != nil {
		return fmt.Errorf("docker import %s: %w", tag, err)
	}
	return nil
}

// DebianTag is the tag of the image DebianImage builds.
const DebianTag = "swarmdns-debian:bookworm-minbase"

// DebianMirror is the Debian mirror DebianImage bootstraps from, unless the
// env SWARMDNS_DEBIAN_MIRROR names another.
const DebianMirror = "http://deb.debian.org/debian"

// debianLock serializes the image's build between test processes (the
// packages' tests run in parallel) on one machine.
var debianLock = filepath.Join(os.TempDir(), "swarmdns-debian-image.lock")

var (
	debianOnce sync.Once
	debianErr  error
	debianMiss error
)

// DebianImage returns the reference of a Debian bookworm image (glibc, with
// getent, bash and coreutils; "sleep infinity" as the command), built with
// "debootstrap --variant=minbase" and "docker import" when the tag does not
// exist yet, so it is built once per machine (about a minute, plus the
// download). Without debootstrap, or when not root, the test is skipped
// (failed with CI=true); it calls Engine.
//
// It is slow the first time: with -short (CI runs without it) a test that
// would have to build it is skipped.
func DebianImage(t testing.TB) string {
	t.Helper()
	cli := Engine(t)
	if testing.Short() && !debianExists(cli) {
		t.Skipf("-short: building %s takes a minute or more", DebianTag)
	}
	debianOnce.Do(func() { debianMiss, debianErr = buildDebian(t, cli) })
	if debianMiss != nil {
		Missing(t, "%v", debianMiss)
	}
	if debianErr != nil {
		t.Fatalf("debian image: %v", debianErr)
	}
	return DebianTag
}

// debianExists reports whether the image DebianImage builds exists.
func debianExists(cli *client.Client) bool {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	_, err := cli.ImageInspect(ctx, DebianTag)
	return err == nil
}

func buildDebian(t testing.TB, cli *client.Client) (miss, err error) {
	if debianExists(cli) {
		return nil, nil
	}
	debootstrap, err := exec.LookPath("debootstrap")
	if err != nil {
		return fmt.Errorf("debootstrap is not installed: %w", err), nil
	}
	if os.Geteuid() != 0 {
		return errors.New("debootstrap needs root"), nil
	}
	lock, err := os.OpenFile(debianLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("lock %s: %w", debianLock, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if debianExists(cli) { // another process built it while we waited
		return nil, nil
	}

	dir, err := os.MkdirTemp("", "swarmdns-debian-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, "root")
	mirror := os.Getenv("SWARMDNS_DEBIAN_MIRROR")
	if mirror == "" {
		mirror = DebianMirror
	}
	start := time.Now()
	if err := debianRootfs(debootstrap, root, mirror); err != nil {
		return nil, err
	}
	bootstrapped := time.Since(start)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tarCmd := exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", root, "-c", ".")
	out, err := tarCmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var tarErr bytes.Buffer
	tarCmd.Stderr = &tarErr
	if err := tarCmd.Start(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	importErr := importImage(ctx, cli, out, DebianTag, `CMD ["sleep", "infinity"]`)
	if importErr != nil {
		_ = tarCmd.Process.Kill()
	}
	if err := tarCmd.Wait(); err != nil && importErr == nil {
		return nil, fmt.Errorf("tar: %w: %s", err, tarErr.String())
	}
	if importErr != nil {
		return nil, importErr
	}
	t.Logf("built %s: debootstrap %v, import %v", DebianTag, bootstrapped.Round(time.Second), (time.Since(start) - bootstrapped).Round(time.Second))
	return nil, nil
}

// debianRootfs bootstraps a minimal Debian bookworm into root from mirror.
func debianRootfs(debootstrap, root, mirror string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, debootstrap, "--variant=minbase", "bookworm", root, mirror)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("debootstrap --variant=minbase bookworm %s %s: %w\n%s", root, mirror, err, lastLines(log.String(), 20))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
