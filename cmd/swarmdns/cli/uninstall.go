package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"

	"github.com/swarmdns/swarmdns/internal/nodeaddr"
)

// defaultNodeAddress is the node-local DNS address of the deploy files.
const defaultNodeAddress = "169.254.53.53"

// runUninstall is `swarmdns uninstall`: it removes the node-local address
// that serve keeps across restarts (and the swarmdns0 interface), for an
// uninstall. Containers asking that address then get no answer from the
// node: remove their dns: entries first.
func runUninstall(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("uninstall", flag.ContinueOnError)
	addr := fs.String("node-address", defaultNodeAddress, "the node-local DNS `address` to remove")
	if code, ok := parseNoArgs(fs, "uninstall [--node-address ADDR]", args, stderr); !ok {
		return code
	}
	a, err := netip.ParseAddr(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "swarmdns uninstall: --node-address %q is not an IP address\n", *addr)
		return exitUsage
	}
	m, err := nodeaddr.New()
	if err != nil {
		fmt.Fprintf(stderr, "swarmdns uninstall: %v\n", err)
		return exitError
	}
	defer m.Close()
	removed, err := m.Remove(a)
	if err != nil {
		fmt.Fprintf(stderr, "swarmdns uninstall: %v (it needs CAP_NET_ADMIN in the host's network namespace)\n", err)
		return exitError
	}
	if removed == "" {
		fmt.Fprintf(stdout, "nothing to remove: %s is on no interface\n", a)
		return exitOK
	}
	fmt.Fprintf(stdout, "removed %s\n", removed)
	return exitOK
}
