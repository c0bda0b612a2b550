package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Version is the release version, set at build time with
// -ldflags "-X github.com/swarmdns/swarmdns/cmd/swarmdns/cli.Version=v1.2.3".
var Version = "dev"

// buildInfo is what `swarmdns version --json` prints.
type buildInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// currentBuild describes this binary.
func currentBuild() buildInfo {
	b := buildInfo{Version: Version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				b.Revision = s.Value
			}
		}
	}
	return b
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parseNoArgs(fs, "version [--json]", args, stderr); !ok {
		return code
	}
	b := currentBuild()
	if *asJSON {
		return printJSON(stdout, stderr, "version", b)
	}
	fmt.Fprintf(stdout, "swarmdns %s (%s, %s)\n", b.Version, b.Go, b.Platform)
	return exitOK
}
