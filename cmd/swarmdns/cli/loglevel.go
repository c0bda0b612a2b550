package cli

import (
	"context"
	"fmt"
	"io"
)

// runLogLevel is `swarmdns log-level [LEVEL]`: it prints the node's log
// level, or sets it (PUT /v1/log-level) until the node stops or is told
// otherwise.
func runLogLevel(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, d := newDebugFlags("log-level", "log-level [LEVEL] [flags]   (LEVEL: trace, debug, info, warn or error)", debugGetenv)
	pos, code, ok := parseDebugArgs(fs, d, args, debugGetenv, stderr)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		return debugUsageError(stderr, fs, "unexpected argument %q", pos[1])
	}
	if len(pos) == 1 {
		if _, err := parseLevel(pos[0]); err != nil {
			return debugUsageError(stderr, fs, "%v", err)
		}
	}
	c, err := d.client()
	if err != nil {
		return debugUsageError(stderr, fs, "%v", err)
	}
	var level string
	if len(pos) == 1 {
		level, err = c.SetLogLevel(ctx, pos[0])
	} else {
		level, err = c.LogLevel(ctx)
	}
	if err != nil {
		return reportAPIError(stderr, "log-level", err)
	}
	if d.json {
		return printJSON(stdout, stderr, "log-level", struct {
			Level string `json:"level"`
		}{level})
	}
	fmt.Fprintln(stdout, level)
	return exitOK
}
