package dns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The bounds of the settings Config.Validate checks; the zero value of each
// setting means its default.
const (
	MinTTL     = time.Second    // TTL and NegativeTTL
	MaxTTL     = 24 * time.Hour // TTL and NegativeTTL
	MinUDPSize = 512            // MaxUDPSize: RFC 1035's limit, which every client takes
	MaxUDPSize = 4096           // MaxUDPSize: larger replies fragment (DNS flag day 2020 advises 1232)
)

// ConfigError is a Config setting that New refuses. Field is the Config
// field's name ("TTL", "MaxUDPSize", "Upstreams"), so that a caller can say
// which of its own settings it came from.
type ConfigError struct {
	Field  string
	Value  string // the setting as given
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("dns: %s %s: %s", e.Field, e.Value, e.Reason)
}

// Validate checks the settings that have a rule of their own, one rule
// each, and returns every *ConfigError found (errors.Join), or nil. New
// calls it; a caller may call it first to report its own names for them.
func (c *Config) Validate() error {
	var errs []error
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"TTL", c.TTL}, {"NegativeTTL", c.NegativeTTL}} {
		if d.v != 0 && (d.v < MinTTL || d.v > MaxTTL) {
			errs = append(errs, &ConfigError{Field: d.field, Value: d.v.String(), Reason: fmt.Sprintf("out of range (%v to %v)", MinTTL, MaxTTL)})
		}
	}
	if c.MaxUDPSize != 0 && (c.MaxUDPSize < MinUDPSize || c.MaxUDPSize > MaxUDPSize) {
		errs = append(errs, &ConfigError{Field: "MaxUDPSize", Value: strconv.Itoa(c.MaxUDPSize), Reason: fmt.Sprintf("out of range (%d to %d)", MinUDPSize, MaxUDPSize)})
	}
	for _, u := range c.Upstreams {
		if _, err := normalizeUpstream(u); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// normalizeUpstream checks an upstream address, an IP address with an
// optional port, and adds the default port. A host name is refused: the
// system resolver that would look it up may be this server.
func normalizeUpstream(u string) (string, error) {
	bad := &ConfigError{Field: "Upstreams", Value: strconv.Quote(u), Reason: "not an IP address with an optional port"}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(u, "["), "]")); err == nil {
		return netip.AddrPortFrom(ip, 53).String(), nil
	}
	host, port, err := net.SplitHostPort(u)
	if err != nil {
		return "", bad
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return "", bad
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		bad.Reason = "bad port"
		return "", bad
	}
	return netip.AddrPortFrom(ip, uint16(p)).String(), nil
}
