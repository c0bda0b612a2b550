package cli

import (
	"context"
	"io"
	"strconv"
	"strings"
	"time"
)

func runMembers(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, d := newDebugFlags("members", "members [flags]", debugGetenv)
	c, code, ok := clientNoArgs(fs, d, args, stderr)
	if !ok {
		return code
	}
	resp, err := c.Members(ctx)
	if err != nil {
		return reportAPIError(stderr, "members", err)
	}
	if d.json {
		return printJSON(stdout, stderr, "members", resp)
	}
	now := time.Now()
	t := newTable(stdout, "NAME", "ADDRESS", "STATE", "SINCE", "RECORDS", "GENERATION", "KEY", "LAST SEEN", "NOTES")
	for _, m := range resp.Members {
		var notes []string
		if m.Local {
			notes = append(notes, "this node")
		}
		if m.Stale {
			notes = append(notes, "stale")
		}
		if !m.LeaseExpires.IsZero() {
			notes = append(notes, "records dropped "+fmtUntil(m.LeaseExpires, now))
		}
		t.row(m.Name, m.Addr, m.State, fmtAgo(m.Since, now), strconv.Itoa(m.Records), strconv.FormatUint(m.Generation, 10), m.Key,
			fmtAgo(m.LastSeen, now), strings.Join(notes, ", "))
	}
	return flushTable(t, stderr, "members")
}
