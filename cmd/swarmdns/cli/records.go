package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/swarmdns/swarmdns/admin"
)

// at returns s[i], or "" past its end.
func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

func runRecords(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, d := newDebugFlags("records", "records [--node N] [--name NAME] [--container ID] [flags]", debugGetenv)
	var f admin.RecordFilter
	fs.StringVar(&f.Node, "node", "", "only the records owned by this `node`")
	fs.StringVar(&f.Name, "name", "", "only the containers answering to this `name` or a name under it (\"web\" matches web.<zone>; a trailing dot anchors it)")
	fs.StringVar(&f.Container, "container", "", "only the container whose ID starts with this `prefix`")
	wide := fs.Bool("wide", false, "one line per container, its names and addresses comma-separated (default: one name and one address a line)")
	pos, code, ok := parseDebugArgs(fs, d, args, debugGetenv, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return debugUsageError(stderr, fs, "unexpected argument %q (filter with --node, --name or --container)", pos[0])
	}
	c, err := d.client()
	if err != nil {
		return debugUsageError(stderr, fs, "%v", err)
	}
	resp, err := c.Records(ctx, f)
	if err != nil {
		return reportAPIError(stderr, "records", err)
	}
	if d.json {
		return printJSON(stdout, stderr, "records", resp)
	}
	t := newTable(stdout, "NODE", "CONTAINER", "NAMES", "ADDRESSES", "HEALTH", "VERSION")
	for _, r := range resp.Records {
		names := append([]string(nil), r.Names...)
		for _, a := range r.Aliases {
			names = append(names, a.Name+" (CNAME "+a.Target+")")
		}
		addrs := make([]string, 0, len(r.Addrs))
		for _, a := range r.Addrs {
			if a.Network != "" {
				addrs = append(addrs, a.IP+" ("+a.Network+")")
			} else {
				addrs = append(addrs, a.IP)
			}
		}
		health := r.Health
		if !r.Serving {
			health += " (not served)"
		}
		if *wide {
			t.row(r.Node, shortID(r.ContainerID), strings.Join(names, ", "), strings.Join(addrs, ", "), health, strconv.FormatUint(r.Version, 10))
			continue
		}
		// One name and one address a line: a Swarm task's names are many
		// and long, and a row of them all is wider than any terminal.
		for i := range max(len(names), len(addrs), 1) {
			if i == 0 {
				t.row(r.Node, shortID(r.ContainerID), at(names, 0), at(addrs, 0), health, strconv.FormatUint(r.Version, 10))
				continue
			}
			t.cont("", "", at(names, i), at(addrs, i), "", "")
		}
	}
	if code := flushTable(t, stderr, "records"); code != exitOK {
		return code
	}
	if len(resp.Records) == 0 {
		fmt.Fprintln(stderr, "no matching records")
	}
	return exitOK
}
