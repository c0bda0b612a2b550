package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// zone is the zone every e2e node serves (the default).
const zone = "swarm.internal."

// query asks server (host:port) one question over net ("udp" or "tcp").
func query(server, network, name string, qtype uint16) (*mdns.Msg, error) {
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), qtype)
	c := &mdns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		return nil, fmt.Errorf("%s %s @%s over %s: %w", name, mdns.TypeToString[qtype], server, network, err)
	}
	return r, nil
}

// addrsOf returns the sorted A and AAAA addresses of an answer.
func addrsOf(r *mdns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *mdns.A:
			out = append(out, rr.A.String())
		case *mdns.AAAA:
			out = append(out, rr.AAAA.String())
		}
	}
	slices.Sort(out)
	return out
}

// expectAddrs returns a condition for await: name resolves at server to
// exactly want (sorted), or, with want empty, to NXDOMAIN.
func expectAddrs(server, name string, want ...string) func() error {
	slices.Sort(want)
	return func() error {
		r, err := query(server, "udp", name, mdns.TypeA)
		if err != nil {
			return err
		}
		if len(want) == 0 {
			if r.Rcode != mdns.RcodeNameError {
				return fmt.Errorf("%s @%s: got %s %v; want NXDOMAIN", name, server, mdns.RcodeToString[r.Rcode], addrsOf(r))
			}
			return nil
		}
		if r.Rcode != mdns.RcodeSuccess {
			return fmt.Errorf("%s @%s: got %s; want %v", name, server, mdns.RcodeToString[r.Rcode], want)
		}
		if got := addrsOf(r); !slices.Equal(got, want) {
			return fmt.Errorf("%s @%s: got %v; want %v", name, server, got, want)
		}
		return nil
	}
}

// fqdn puts a relative name in the e2e zone.
func fqdn(name string) string { return strings.TrimSuffix(name, ".") + "." + zone }

// soaOf returns the SOA in an answer's authority section, or nil.
func soaOf(t *testing.T, r *mdns.Msg) *mdns.SOA {
	t.Helper()
	for _, rr := range r.Ns {
		if soa, ok := rr.(*mdns.SOA); ok {
			return soa
		}
	}
	return nil
}
