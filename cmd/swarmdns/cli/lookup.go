package cli

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	mdns "github.com/miekg/dns"
)

func runLookup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, d := newDebugFlags("lookup", "lookup NAME [TYPE] [--client IP] [flags]  or  lookup -x ADDRESS [flags]", debugGetenv)
	client := fs.String("client", "", "answer as this node would answer a client at this `IP` (it picks the address on the network they share)")
	reverse := fs.String("x", "", "reverse lookup: the PTR answer for this `ADDRESS` (as dig -x)")
	pos, code, ok := parseDebugArgs(fs, d, args, debugGetenv, stderr)
	if !ok {
		return code
	}
	if *reverse != "" {
		a, err := netip.ParseAddr(*reverse)
		if err != nil {
			return debugUsageError(stderr, fs, "-x %q is not an IP address", *reverse)
		}
		if len(pos) > 0 {
			return debugUsageError(stderr, fs, "unexpected argument %q (-x takes the address)", pos[0])
		}
		arpa, err := mdns.ReverseAddr(a.Unmap().String())
		if err != nil {
			return debugUsageError(stderr, fs, "-x %q: %v", *reverse, err)
		}
		pos = []string{arpa, "PTR"}
	}
	switch {
	case len(pos) == 0:
		return debugUsageError(stderr, fs, "missing NAME")
	case len(pos) > 2:
		return debugUsageError(stderr, fs, "unexpected argument %q", pos[2])
	}
	if *client != "" {
		if _, err := netip.ParseAddr(*client); err != nil {
			return debugUsageError(stderr, fs, "--client %q is not an IP address", *client)
		}
	}
	qtype := "A"
	if len(pos) == 2 {
		qtype = pos[1]
	}
	c, err := d.client()
	if err != nil {
		return debugUsageError(stderr, fs, "%v", err)
	}
	ex, err := c.Lookup(ctx, pos[0], qtype, *client)
	if err != nil {
		return reportAPIError(stderr, "lookup", err)
	}
	if d.json {
		return printJSON(stdout, stderr, "lookup", ex)
	}

	fmt.Fprintf(stdout, "%s %s", ex.Name, ex.Type)
	if ex.Client != "" {
		fmt.Fprintf(stdout, " for client %s", ex.Client)
	}
	fmt.Fprintf(stdout, ": %s\n%s\n", ex.Rcode, ex.Why)
	if cc := ex.ClientContainer; cc != nil {
		fmt.Fprintf(stdout, "client container %s (%s) on networks %s, addresses %s\n", cc.Name, shortID(cc.ID), strings.Join(cc.Networks, ", "), strings.Join(cc.Addrs, ", "))
	} else if ex.Client != "" {
		fmt.Fprintln(stdout, "no container of this node holds the client address: answered without network scoping")
	}
	if ex.Note != "" {
		fmt.Fprintln(stdout, ex.Note)
	}
	if len(ex.Answer) > 0 {
		fmt.Fprintln(stdout, "\nANSWER")
		t := newTable(stdout)
		for _, rr := range ex.Answer {
			t.tw.Write([]byte(rr + "\n")) // presentation format is tab-separated already
		}
		if code := flushTable(t, stderr, "lookup"); code != exitOK {
			return code
		}
	}
	if len(ex.Authority) > 0 {
		fmt.Fprintln(stdout, "\nAUTHORITY")
		t := newTable(stdout)
		for _, rr := range ex.Authority {
			t.tw.Write([]byte(rr + "\n"))
		}
		if code := flushTable(t, stderr, "lookup"); code != exitOK {
			return code
		}
	}
	if len(ex.Hidden) > 0 {
		fmt.Fprintln(stdout, "\nHIDDEN BY A LABEL")
		t := newTable(stdout, "CONTAINER", "NAME", "LABEL")
		for _, h := range ex.Hidden {
			t.row(shortID(h.ContainerID), h.Name, h.Reason)
		}
		if code := flushTable(t, stderr, "lookup"); code != exitOK {
			return code
		}
	}
	if len(ex.Candidates) == 0 {
		return exitOK
	}
	fmt.Fprintln(stdout, "\nRECORDS IN THE ZONE")
	t := newTable(stdout, "NAME", "ADDRESS", "NETWORK", "NODE", "CONTAINER", "HEALTH", "ANSWERED", "WHY")
	for _, cd := range ex.Candidates {
		answered := "no"
		if cd.Included {
			answered = "yes"
		}
		addr := cd.Address
		if cd.Port != 0 {
			addr = strings.TrimSpace(addr + " port " + strconv.Itoa(int(cd.Port)))
		}
		t.row(cd.Name, addr, cd.Network, cd.Node, shortID(cd.ContainerID), cd.Health, answered, cd.Reason)
	}
	return flushTable(t, stderr, "lookup")
}
