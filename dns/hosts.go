package dns

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/registry"
)

// hostsTable is a parsed hosts file (/etc/hosts format): static names the
// server answers as dnsmasq does, before the zone and the upstreams. It is
// immutable once built; the server swaps in a new one when the file changes.
type hostsTable struct {
	byName map[string][]netip.Addr // canonical name -> addresses, in file order
	byAddr map[netip.Addr][]string // address -> canonical names, the first of each line first
	ttl    uint32
}

// hostsFileState is what the reloader compares to see a change.
type hostsFileState struct {
	mod  time.Time
	size int64
}

// parseHosts reads a hosts file. Lines that do not parse (a bad address, a
// name that is not a domain name) are skipped and reported in bad, so one
// typo does not lose the rest of the file.
func parseHosts(data []byte, ttl uint32) (t *hostsTable, bad []string) {
	t = &hostsTable{byName: make(map[string][]netip.Addr), byAddr: make(map[netip.Addr][]string), ttl: ttl}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		ip, err := netip.ParseAddr(fields[0])
		if err != nil || len(fields) < 2 {
			bad = append(bad, fmt.Sprintf("line %d: %q", line, sc.Text()))
			continue
		}
		ip = ip.WithZone("").Unmap()
		for _, f := range fields[1:] {
			name := registry.CanonicalName(f)
			if _, ok := mdns.IsDomainName(name); !ok || strings.ContainsAny(f, `\"`) {
				bad = append(bad, fmt.Sprintf("line %d: name %q", line, f))
				continue
			}
			if !containsAddrValue(t.byName[name], ip) {
				t.byName[name] = append(t.byName[name], ip)
			}
			if !containsString(t.byAddr[ip], name) {
				t.byAddr[ip] = append(t.byAddr[ip], name)
			}
		}
	}
	return t, bad
}

func containsAddrValue(list []netip.Addr, ip netip.Addr) bool {
	for _, a := range list {
		if a == ip {
			return true
		}
	}
	return false
}

// answer answers req from the table: A and AAAA (ANY gives both) for its
// names, NODATA for their other types (there is no SOA to give), and PTR
// for its addresses. ok is false when the table does not hold the name.
func (t *hostsTable) answer(req *mdns.Msg) (*mdns.Msg, bool) {
	if t == nil {
		return nil, false
	}
	q := req.Question[0]
	lname := registry.CanonicalName(q.Name)
	owner := q.Name
	if len(owner) != len(lname) {
		owner = lname
	}
	var rrs []mdns.RR
	if addrs, ok := t.byName[lname]; ok {
		for _, ip := range addrs {
			for _, qt := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
				if q.Qtype == qt || q.Qtype == mdns.TypeANY {
					if rr := addrRR(owner, qt, ip, t.ttl); rr != nil {
						rrs = append(rrs, rr)
					}
				}
			}
		}
		shuffle(rrs)
	} else if ip, ok := parseReverse(lname); ok && q.Qtype == mdns.TypePTR {
		names := t.byAddr[ip]
		if len(names) == 0 {
			return nil, false
		}
		rrs = []mdns.RR{&mdns.PTR{Hdr: mdns.RR_Header{Name: owner, Rrtype: mdns.TypePTR, Class: mdns.ClassINET, Ttl: t.ttl}, Ptr: names[0]}}
	} else {
		return nil, false
	}
	m := new(mdns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.Answer = rrs
	return m, true
}

// loadHosts reads and parses the hosts file at path.
func loadHosts(path string, ttl uint32) (*hostsTable, hostsFileState, []string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, hostsFileState{}, nil, fmt.Errorf("hosts file: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, hostsFileState{}, nil, fmt.Errorf("hosts file: %w", err)
	}
	t, bad := parseHosts(data, ttl)
	return t, hostsFileState{mod: fi.ModTime(), size: fi.Size()}, bad, nil
}

// watchHosts reloads the hosts file whenever its modification time or size
// changes, until ctx ends. A file that disappears or cannot be read keeps
// the last table.
func (s *Server) watchHosts(ctx context.Context, st hostsFileState) {
	path := s.cfg.HostsFile
	t := time.NewTicker(s.cfg.HostsPoll)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.hostsPolls.Add(1)
		fi, err := os.Stat(path)
		if err == nil && fi.ModTime().Equal(st.mod) && fi.Size() == st.size {
			continue
		}
		table, nst, bad, err := loadHosts(path, s.zone.ttl)
		if err != nil {
			if !failing {
				s.log.Warn().Err(err).Msg("hosts file unreadable: keeping the names read before")
				failing = true
			}
			continue
		}
		failing = false
		st = nst
		s.hosts.Store(table)
		s.logHostsLoaded(table, bad)
	}
}

func (s *Server) logHostsLoaded(t *hostsTable, bad []string) {
	s.log.Info().Str("path", s.cfg.HostsFile).Int("names", len(t.byName)).Msg("hosts file loaded")
	if len(bad) > 0 {
		s.log.Warn().Str("path", s.cfg.HostsFile).Strs("skipped", bad).Msg("hosts file lines skipped")
	}
}
