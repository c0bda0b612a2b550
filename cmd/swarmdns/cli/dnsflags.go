package cli

import (
	"errors"
	"fmt"

	"github.com/swarmdns/swarmdns/dns"
)

// dnsFlags names the flag each dns.Config field with a rule of its own
// (dns.Config.Validate) comes from.
var dnsFlags = map[string]string{
	"TTL":        "--ttl",
	"MaxUDPSize": "--max-udp-size",
	"Upstreams":  "--upstream",
}

// dnsConfigToCheck is the part of the DNS server's config that the flags
// set and dns.Config.Validate checks.
func (c *serveConfig) dnsConfigToCheck() dns.Config {
	return dns.Config{TTL: c.ttl, MaxUDPSize: c.maxUDPSize, Upstreams: c.upstreams}
}

// dnsFlagErrors returns dns's verdict on cfg, one error per bad setting,
// each naming the flag it came from ("--ttl 25h: out of range (1s to
// 24h)"): dns holds the rules, the command line only their names.
func dnsFlagErrors(cfg dns.Config) []error {
	err := cfg.Validate()
	if err == nil {
		return nil
	}
	var errs []error
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *dns.ConfigError
		if errors.As(e, &ce) {
			if flag, ok := dnsFlags[ce.Field]; ok {
				e = fmt.Errorf("%s %s: %s", flag, ce.Value, ce.Reason)
			}
		}
		errs = append(errs, e)
	}
	return errs
}
