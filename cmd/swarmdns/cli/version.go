package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"
)

// Version is the release version, set at build time with
// -ldflags "-X github.com/swarmdns/swarmdns/cmd/swarmdns/cli.Version=v1.2.3".
var Version = "dev"

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) int {
	fmt.Fprintf(stdout, "swarmdns %s (%s, %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}
