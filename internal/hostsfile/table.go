// Package hostsfile reads a hosts file (/etc/hosts format) into an
// immutable table of static names and addresses, and keeps it current: a
// File polls the file's modification time and size from its Run and swaps
// in a new table when they change. It answers no queries; the DNS server
// builds its answers from the Table.
package hostsfile

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/swarmdns/swarmdns/internal/dnsname"
)

// Table is a parsed hosts file. It is immutable once built.
type Table struct {
	byName map[string][]netip.Addr // canonical name -> addresses, in file order
	byAddr map[netip.Addr][]string // address -> canonical names, the first of each line first
}

// Parse reads a hosts file. Lines that do not parse (a bad address, a
// name that is not a domain name) are skipped and reported in bad, so one
// typo does not lose the rest of the file.
func Parse(data []byte) (t *Table, bad []string) {
	t = &Table{byName: make(map[string][]netip.Addr), byAddr: make(map[netip.Addr][]string)}
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
			name := dnsname.CanonicalName(f)
			if _, ok := mdns.IsDomainName(name); !ok || strings.ContainsAny(f, `\"`) {
				bad = append(bad, fmt.Sprintf("line %d: name %q", line, f))
				continue
			}
			if !slices.Contains(t.byName[name], ip) {
				t.byName[name] = append(t.byName[name], ip)
			}
			if !slices.Contains(t.byAddr[ip], name) {
				t.byAddr[ip] = append(t.byAddr[ip], name)
			}
		}
	}
	return t, bad
}

// Addrs returns the addresses of a canonical name (lower case, trailing
// dot), in file order, and whether the table holds the name. The slice is
// the table's: not to be changed. A nil table holds nothing.
func (t *Table) Addrs(name string) ([]netip.Addr, bool) {
	if t == nil {
		return nil, false
	}
	addrs, ok := t.byName[name]
	return addrs, ok
}

// Names returns the canonical names of ip, the first name of its first
// line first. The slice is the table's: not to be changed.
func (t *Table) Names(ip netip.Addr) []string {
	if t == nil {
		return nil
	}
	return t.byAddr[ip]
}

// Len is how many names the table holds.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.byName)
}
