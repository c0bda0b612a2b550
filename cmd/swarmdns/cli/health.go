package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// runHealth is `swarmdns health`: the image's HEALTHCHECK. It asks the
// node's admin API for /healthz (the process lives), or with --ready for
// /readyz (the first Docker sync is done and, with peers to join, a peer
// joined), and exits 0 when the answer is good, 1 otherwise. It needs no
// shell, so it works in the FROM-scratch image:
//
//	HEALTHCHECK CMD ["/swarmdns", "health"]
//
// The admin address comes from --admin, else from SWARMDNS_ADMIN_LISTEN,
// which a health check run by Docker inherits from the container.
func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, d := newDebugFlags("health", "health [flags]", debugGetenv)
	ready := fs.Bool("ready", false, "check /readyz (synced with Docker, joined the cluster) instead of /healthz (the process lives)")
	c, code, ok := clientNoArgs(fs, d, args, stderr)
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()

	if *ready {
		rd, err := c.Ready(ctx)
		if err != nil {
			return reportAPIError(stderr, "health", err)
		}
		if d.json {
			if code := printJSON(stdout, stderr, "health", rd); code != exitOK || !rd.Ready {
				return exitError
			}
			return exitOK
		}
		if !rd.Ready {
			var why []string
			for _, ch := range rd.Checks {
				if !ch.Ready {
					why = append(why, ch.Name+": "+ch.Error)
				}
			}
			fmt.Fprintf(stdout, "not ready: %s\n", strings.Join(why, "; "))
			return exitError
		}
		fmt.Fprintln(stdout, "ready")
		return exitOK
	}

	err := c.Healthy(ctx)
	if d.json {
		h := healthReply{Healthy: err == nil}
		if err != nil {
			h.Error = err.Error()
		}
		if code := printJSON(stdout, stderr, "health", h); code != exitOK || err != nil {
			return exitError
		}
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "swarmdns health: %v\n", err)
		return exitError
	}
	fmt.Fprintln(stdout, "ok")
	return exitOK
}

// healthReply is what `swarmdns health --json` prints (without --ready).
type healthReply struct {
	Healthy bool   `json:"healthy"`
	Error   string `json:"error,omitempty"`
}
