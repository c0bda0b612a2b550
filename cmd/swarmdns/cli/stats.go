package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/swarmdns/swarmdns/admin"
)

func runStats(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, d := newDebugFlags("stats", "stats [flags]", debugGetenv)
	c, code, ok := clientNoArgs(fs, d, args, stderr)
	if !ok {
		return code
	}
	st, err := c.Stats(ctx)
	if err != nil {
		return reportAPIError(stderr, "stats", err)
	}
	if d.json {
		return printJSON(stdout, stderr, "stats", st)
	}

	now := time.Now()
	t := newTable(stdout)
	t.row("node", st.Node)
	t.row("records", strconv.Itoa(st.Records))
	t.row("members", joinCounts(st.Members))
	t.blank()
	t.row("DNS")
	dn := st.DNS
	t.row("  queries", fmtUint(dn.Queries))
	t.row("  by type", joinCounts(dn.ByType))
	t.row("  by rcode", joinCounts(dn.ByRcode))
	cache := fmtUint(dn.CacheHits) + " hits, " + fmtUint(dn.CacheMisses) + " misses"
	if total := dn.CacheHits + dn.CacheMisses; total > 0 {
		cache += fmt.Sprintf(" (%.1f%% hits)", 100*float64(dn.CacheHits)/float64(total))
	}
	t.row("  cache", cache)
	t.row("  forward errors", fmtUint(dn.ForwardErrors))
	if len(dn.Overload) > 0 {
		t.row("  refused (overload)", joinCounts(dn.Overload))
	}
	t.row("  request latency", latencyLine(dn.Requests))
	t.row("  forward latency", latencyLine(dn.Forward))
	t.blank()
	t.row("WATCHER")
	t.row("  reconnects", fmtUint(st.Watcher.Reconnects))
	last := "never"
	if !st.Watcher.LastSync.IsZero() {
		last = st.Watcher.LastSync.Local().Format(time.RFC3339) + " (" + fmtAgo(st.Watcher.LastSync, now) + ")"
	}
	t.row("  last sync", last)
	t.blank()
	t.row("GOSSIP")
	if len(st.Gossip) == 0 {
		t.row("  (no gossip metrics)")
	}
	for _, s := range st.Gossip {
		if s.Value == 0 {
			continue // the series present from the start say nothing yet
		}
		name := strings.TrimPrefix(s.Name, admin.MetricGossipPrefix)
		if len(s.Labels) > 0 {
			keys := make([]string, 0, len(s.Labels))
			for k := range s.Labels {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = k + "=" + s.Labels[k]
			}
			name += "{" + strings.Join(parts, ",") + "}"
		}
		t.row("  "+name, strconv.FormatFloat(s.Value, 'f', -1, 64))
	}
	return flushTable(t, stderr, "stats")
}

func fmtUint(n uint64) string { return strconv.FormatUint(n, 10) }

// joinCounts renders counts by key, largest first: "A=7 AAAA=1".
func joinCounts[N int | uint64](m map[string]N) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			if m[a] > m[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// latencyLine summarises a latency histogram on one line.
func latencyLine(l *admin.Latency) string {
	if l == nil {
		return "(not measured)"
	}
	if l.Count == 0 {
		return "no observations"
	}
	return fmt.Sprintf("%d observed, mean %s, p50 %s, p90 %s, p99 %s", l.Count,
		fmtSeconds(l.MeanSeconds), fmtSeconds(l.P50Seconds), fmtSeconds(l.P90Seconds), fmtSeconds(l.P99Seconds))
}
