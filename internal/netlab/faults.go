package netlab

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// How faults are made
//
// Every fault that drops packets between lab hosts is a DROP rule in the
// INPUT path of the receiving host (chain inChain, jumped to from INPUT).
// The sender's packet leaves, crosses the bridge and is lost on arrival, as
// on a real network: the sender gets no error. Rules in OUTPUT would make
// sendto and connect fail at once with EPERM, which a real partition never
// does and which would send the code under test down paths it never takes
// in production.
//
// Disconnect is made in the hub instead: the host's bridge port is put in
// the "listening" state, which forwards nothing either way, so the host is
// cut off from the test process too while its own link stays up.
//
// The lab keeps the faults by host index, not by address, and renders the
// whole chain of every host again after each change (MoveAddr included);
// iptables-restore replaces a host's chain atomically.

// inChain is the iptables chain in each host's filter table that holds the
// lab's rules; INPUT jumps to it.
const inChain = "NETLAB-IN"

// faultKind is the kind of one fault.
type faultKind int

const (
	faultPartition  faultKind = iota // a | b
	faultBlock                       // from -> to, one way
	faultLoss                        // host, percent
	faultDisconnect                  // host, at the bridge
)

// fault is one fault the lab holds, by host index (1-based).
type fault struct {
	kind    faultKind
	a, b    []int   // faultPartition
	from    int     // faultBlock
	to      int     // faultBlock
	host    int     // faultLoss, faultDisconnect
	percent float64 // faultLoss
}

func (f fault) String() string {
	switch f.kind {
	case faultPartition:
		return fmt.Sprintf("partition %v | %v", f.a, f.b)
	case faultBlock:
		return fmt.Sprintf("block %d -> %d", f.from, f.to)
	case faultLoss:
		return fmt.Sprintf("drop %g%% of host %d's packets", f.percent, f.host)
	case faultDisconnect:
		return fmt.Sprintf("disconnect host %d", f.host)
	}
	return "unknown fault"
}

// renderRules returns the iptables rules (in iptables-save form, without the
// chain name) that host h needs for faults, given each host's current
// address (addrs[i] is host i's; addrs[0] is unused).
func renderRules(h int, addrs []netip.Addr, faults []fault) []string {
	var rules []string
	dropFrom := func(src int) {
		rules = append(rules, "-s "+netip.PrefixFrom(addrs[src], 32).String()+" -j DROP")
	}
	for _, f := range faults {
		switch f.kind {
		case faultPartition:
			if slices.Contains(f.a, h) {
				for _, src := range f.b {
					dropFrom(src)
				}
			}
			if slices.Contains(f.b, h) {
				for _, src := range f.a {
					dropFrom(src)
				}
			}
		case faultBlock:
			if h == f.to {
				dropFrom(f.from)
			}
		case faultLoss:
			stat := "-m statistic --mode random --probability " + strconv.FormatFloat(f.percent/100, 'f', -1, 64) + " -j DROP"
			if h == f.host {
				// Everything that arrives, except the host's own
				// traffic to itself.
				rules = append(rules, "! -i lo "+stat)
			} else {
				rules = append(rules, "-s "+netip.PrefixFrom(addrs[f.host], 32).String()+" "+stat)
			}
		}
	}
	return rules
}

// renderRestore returns the iptables-restore --noflush input that replaces
// the content of inChain with rules; hook adds the jump from INPUT, which is
// needed once per namespace.
func renderRestore(rules []string, hook bool) []byte {
	var b strings.Builder
	b.WriteString("*filter\n")
	// With --noflush, declaring a user chain creates it or flushes it.
	b.WriteString(":" + inChain + " - [0:0]\n")
	if hook {
		b.WriteString("-I INPUT 1 -j " + inChain + "\n")
	}
	for _, r := range rules {
		b.WriteString("-A " + inChain + " " + r + "\n")
	}
	b.WriteString("COMMIT\n")
	return []byte(b.String())
}

// disconnected reports whether faults cut host h off at the bridge.
func disconnected(h int, faults []fault) bool {
	for _, f := range faults {
		if f.kind == faultDisconnect && f.host == h {
			return true
		}
	}
	return false
}
