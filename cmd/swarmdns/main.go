// Command swarmdns is a Docker-aware DNS sidecar for Docker Swarm: `swarmdns
// serve` runs a node; the other subcommands inspect a running one.
package main

import (
	"context"
	"os"

	"github.com/swarmdns/swarmdns/cmd/swarmdns/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
