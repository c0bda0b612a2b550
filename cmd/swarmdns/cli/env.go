package cli

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// envName is the environment variable that sets a flag: SWARMDNS_ + the
// flag's name in upper snake case (dns-listen → SWARMDNS_DNS_LISTEN).
func envName(flagName string) string {
	return "SWARMDNS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// setUsage makes fs's help list every flag with its env var and default.
func setUsage(fs *flag.FlagSet, synopsis string) {
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: swarmdns %s\n\nFlags:\n", synopsis)
		printFlags(w, fs)
	}
}

func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, help := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s %s\n      %s\n      env %s", f.Name, name, help, envName(f.Name))
		if f.DefValue != "" {
			fmt.Fprintf(w, ", default %q", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// listFlag is a flag that takes a comma-separated list and may be repeated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

// prefixFlag is a flag that takes a comma-separated list of CIDR prefixes
// (a bare address is a /32 or /128), or "none" for an empty, non-nil list.
type prefixFlag struct {
	prefixes []netip.Prefix
	set      bool
}

func (p *prefixFlag) String() string {
	if p == nil || !p.set {
		return ""
	}
	if len(p.prefixes) == 0 {
		return "none"
	}
	parts := make([]string, len(p.prefixes))
	for i, pr := range p.prefixes {
		parts[i] = pr.String()
	}
	return strings.Join(parts, ",")
}

func (p *prefixFlag) Set(v string) error {
	p.set = true
	if p.prefixes == nil {
		p.prefixes = []netip.Prefix{}
	}
	if strings.TrimSpace(v) == "none" {
		return nil
	}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !strings.Contains(item, "/") {
			a, err := netip.ParseAddr(item)
			if err != nil {
				return fmt.Errorf("%q is neither a CIDR prefix nor an address", item)
			}
			p.prefixes = append(p.prefixes, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		pr, err := netip.ParsePrefix(item)
		if err != nil {
			return fmt.Errorf("%q is not a CIDR prefix", item)
		}
		p.prefixes = append(p.prefixes, pr.Masked())
	}
	return nil
}

// value returns the prefixes, nil when the flag was never set (the
// component's default then applies).
func (p *prefixFlag) value() []netip.Prefix {
	if !p.set {
		return nil
	}
	return p.prefixes
}
